//! Text that callers send and people read later: in logs, on a card, in an
//! access log, in a spreadsheet of a customs office.
//!
//! Two kinds, and one check each:
//! - an **identifier** (an organisation, a customs office, a declarant, a
//!   legal name, a factory, a component, a firmware version, a reference, a
//!   recall's reason): one line of visible text. No control character (C0,
//!   DEL, C1, NUL among them), no line or paragraph separator, no
//!   bidirectional embedding, override or isolate (U+202A–U+202E,
//!   U+2066–U+2069: "Trojan Source", CVE-2021-42574, shows a text other
//!   than the one stored), and no invisible character that makes two
//!   different identifiers look the same (the direction marks U+200E,
//!   U+200F, U+061C; zero-width space U+200B, word joiner U+2060, byte
//!   order mark U+FEFF).
//! - a **note** (free text): the same, but line breaks (`\n`, `\r`) are
//!   allowed, and so are the direction marks, which mixed right-to-left
//!   prose needs.
//!
//! Lengths are counted in characters (Unicode scalar values), as the proto
//! comments state them.

/// What is wrong with a text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("required: 1 to {max} characters, not blank")]
    Blank { max: usize },
    #[error("at most {max} characters, found {found}")]
    TooLong { max: usize, found: usize },
    #[error("character {position} is U+{code_point:04X}, {what}: not allowed in {kind}")]
    Forbidden {
        /// 1-based, in characters.
        position: usize,
        code_point: u32,
        what: &'static str,
        kind: &'static str,
    },
}

/// Which of the two kinds a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Identifier,
    Note,
}

/// Checks an identifier of 1 to `max` characters.
pub fn identifier(value: &str, max: usize) -> Result<(), TextError> {
    if value.trim().is_empty() {
        return Err(TextError::Blank { max });
    }
    check(value, max, Kind::Identifier)
}

/// Checks free text of at most `max` characters (it may be empty).
pub fn note(value: &str, max: usize) -> Result<(), TextError> {
    check(value, max, Kind::Note)
}

fn check(value: &str, max: usize, kind: Kind) -> Result<(), TextError> {
    let mut found = 0;
    for (index, c) in value.chars().enumerate() {
        found += 1;
        if let Some(what) = forbidden(c, kind) {
            return Err(TextError::Forbidden {
                position: index + 1,
                code_point: u32::from(c),
                what,
                kind: match kind {
                    Kind::Identifier => "an identifier",
                    Kind::Note => "a note",
                },
            });
        }
    }
    if found > max {
        return Err(TextError::TooLong { max, found });
    }
    Ok(())
}

/// Why `c` may not stand in a text of `kind`, if it may not.
fn forbidden(c: char, kind: Kind) -> Option<&'static str> {
    match c {
        '\n' | '\r' if kind == Kind::Note => None,
        '\u{0}' => Some("NUL"),
        '\n' | '\r' => Some("a line break"),
        '\u{1}'..='\u{1F}' | '\u{7F}' => Some("a control character"),
        '\u{80}'..='\u{9F}' => Some("a C1 control character"),
        '\u{2028}' | '\u{2029}' => Some("a line or paragraph separator"),
        '\u{202A}'..='\u{202E}' => Some("a bidirectional embedding or override"),
        '\u{2066}'..='\u{2069}' => Some("a bidirectional isolate"),
        '\u{200E}' | '\u{200F}' | '\u{061C}' if kind == Kind::Identifier => {
            Some("an invisible direction mark")
        }
        '\u{200B}' | '\u{2060}' | '\u{FEFF}' if kind == Kind::Identifier => {
            Some("an invisible character")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_one_line_of_visible_text() {
        for good in [
            "Hubei Humanoid Works Co., Ltd.",
            "Hamburg Robotics Import GmbH",
            "湖北人形机器人有限公司",
            "CN-SHA",
            "fw 2.4.1-rc1",
        ] {
            assert_eq!(identifier(good, 200), Ok(()), "{good}");
        }
        for (bad, code_point) in [
            ("Acme\u{0}Ltd", 0x0),
            ("Acme\nLtd", 0xA),
            ("Acme\tLtd", 0x9),
            ("Acme\u{1B}[31mLtd", 0x1B),
            ("Acme\u{7F}", 0x7F),
            ("Acme\u{85}", 0x85),
            ("Acme\u{202E}dtL", 0x202E),
            ("\u{2066}Acme", 0x2066),
            ("Ac\u{200F}me", 0x200F),
            ("Ac\u{200B}me", 0x200B),
            ("Acme\u{2028}", 0x2028),
        ] {
            match identifier(bad, 200) {
                Err(TextError::Forbidden {
                    code_point: found, ..
                }) => {
                    assert_eq!(found, code_point, "{bad:?}")
                }
                other => panic!("{bad:?} was {other:?}"),
            }
        }
        assert_eq!(identifier("  ", 10), Err(TextError::Blank { max: 10 }));
        assert_eq!(identifier("", 10), Err(TextError::Blank { max: 10 }));
        assert_eq!(
            identifier(&"é".repeat(11), 10),
            Err(TextError::TooLong { max: 10, found: 11 })
        );
        assert_eq!(identifier(&"é".repeat(10), 10), Ok(()));
    }

    #[test]
    fn notes_take_line_breaks_and_direction_marks_but_no_other_controls() {
        assert_eq!(note("", 10), Ok(()));
        assert_eq!(note("line one\r\nline two\n", 100), Ok(()));
        assert_eq!(note("שלום\u{200F} 42", 100), Ok(()));
        for bad in [
            "a\u{0}b",
            "a\tb",
            "a\u{1B}b",
            "a\u{9B}b",
            "a\u{202D}b",
            "a\u{2069}b",
        ] {
            assert!(
                matches!(note(bad, 100), Err(TextError::Forbidden { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            note(&"x".repeat(101), 100),
            Err(TextError::TooLong { .. })
        ));
    }

    #[test]
    fn the_position_is_counted_in_characters() {
        let Err(TextError::Forbidden { position, .. }) = identifier("ÄÖ\u{202E}", 10) else {
            panic!("refused");
        };
        assert_eq!(position, 3);
    }
}
