//! The identity code `CC MMMM PPPPPP SSSSSSSSSSSSSSSSS`: 29 characters from
//! `0-9A-Z`, made of a country, a manufacturer, a product model and a serial.
//!
//! People type these codes, so input is taken in any case and with a space or
//! hyphen between segments; everything downstream sees only the canonical
//! form. Serials issued here end in an ISO/IEC 7064 MOD 37,36 check character
//! so that a mistyped code is refused before it reaches storage.
//!
//! The parser runs on every lookup: it is one pass over the bytes and
//! allocates nothing but the result.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// Characters of a robot id, separators excluded.
const CODE_LEN: usize = 29;

/// The check character covers everything before it.
const CHECKED_LEN: usize = CODE_LEN - 1;

/// Where the issued sequence number sits inside the code.
const SEQUENCE: Range<usize> = 12..CHECKED_LEN;

const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Values 10..36 are the letters; the country segment takes nothing else.
const FIRST_LETTER: u8 = 10;

const NOT_IN_ALPHABET: u8 = u8::MAX;

/// Each byte's value in the alphabet (lower case counts as upper case), so
/// that classifying and upper-casing a character is one lookup.
static VALUES: [u8; 256] = {
    let mut table = [NOT_IN_ALPHABET; 256];
    let mut value = 0;
    while value < ALPHABET.len() {
        let upper = ALPHABET[value];
        table[upper as usize] = value as u8;
        table[upper.to_ascii_lowercase() as usize] = value as u8;
        value += 1;
    }
    table
};

fn value_of(byte: u8) -> Option<u8> {
    match VALUES[byte as usize] {
        NOT_IN_ALPHABET => None,
        value => Some(value),
    }
}

fn is_separator(byte: u8) -> bool {
    byte == b' ' || byte == b'-'
}

/// Every constructor stores upper-case alphabet bytes only, so this cannot fail.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("identity codes hold ASCII characters only")
}

/// The four parts of a robot id, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Country,
    Manufacturer,
    Model,
    Serial,
}

impl Segment {
    pub const ALL: [Segment; 4] = [
        Segment::Country,
        Segment::Manufacturer,
        Segment::Model,
        Segment::Serial,
    ];

    /// Zero-based character range of this segment in the canonical code, so
    /// `&id.as_str()[segment.position_range()]` is the segment's text.
    pub fn position_range(self) -> Range<usize> {
        match self {
            Segment::Country => 0..2,
            Segment::Manufacturer => 2..6,
            Segment::Model => 6..12,
            Segment::Serial => 12..CODE_LEN,
        }
    }

    fn containing(index: usize) -> Segment {
        match index {
            0..2 => Segment::Country,
            2..6 => Segment::Manufacturer,
            6..12 => Segment::Model,
            _ => Segment::Serial,
        }
    }

    fn accepts(self, value: u8) -> bool {
        self != Segment::Country || value >= FIRST_LETTER
    }

    fn takes(self) -> &'static str {
        match self {
            Segment::Country => "letters A-Z",
            _ => "digits 0-9 and letters A-Z",
        }
    }

    fn is_followed_by_boundary(filled: usize) -> bool {
        matches!(filled, 2 | 6 | 12)
    }

    /// A manufacturer or model segment, typed between two separators, that
    /// ended before its length: "the manufacturer code has 3 characters",
    /// which says more than "unexpected separator at position 7". The
    /// serial is last, so a separator inside it is just misplaced.
    fn short_before_separator(start: usize, filled: usize) -> Option<CodeError> {
        let segment = Segment::ALL
            .into_iter()
            .find(|segment| segment.position_range().start == start)
            .filter(|segment| matches!(segment, Segment::Manufacturer | Segment::Model))?;
        let expected = segment.position_range().len();
        let found = filled - start;
        (found < expected).then_some(CodeError::SegmentLength {
            segment,
            expected,
            found,
        })
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Country => "country",
            Segment::Manufacturer => "manufacturer",
            Segment::Model => "product model",
            Segment::Serial => "serial",
        })
    }
}

/// Why a text is not a robot id (or not a segment of one). The messages are
/// written for the person who typed the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("no robot id given")]
    Empty,

    #[error("a robot id has 29 characters (without separators), found {found}")]
    Length { found: usize },

    /// `position` is 1-based within the 29 canonical characters, also when a
    /// segment was parsed on its own.
    #[error(
        "invalid character {found:?} at position {position} of the robot id: \
         the {segment} (positions {first}-{last}) takes {takes}",
        first = .segment.position_range().start + 1,
        last = .segment.position_range().end,
        takes = .segment.takes()
    )]
    Character {
        segment: Segment,
        position: usize,
        found: char,
    },

    /// `position` is 1-based within the input after leading whitespace.
    #[error(
        "unexpected separator at position {position} of the input: a single space or \
         hyphen may stand only between segments, as in CC-MMMM-PPPPPP-SSSSSSSSSSSSSSSSS"
    )]
    Separator { position: usize },

    // The message leaves `expected` out on purpose: shown to a person, it
    // would invite "fixing" the check character instead of the typo.
    #[error(
        "the check character (the last one) does not match the other 28: the robot id \
         is mistyped, or it was not issued by this registry"
    )]
    CheckCharacter { expected: char, found: char },

    #[error("a {segment} code has {expected} characters, found {found}")]
    SegmentLength {
        segment: Segment,
        expected: usize,
        found: usize,
    },
}

/// Parses one segment given on its own: surrounding whitespace is ignored,
/// any case is accepted, separators are not.
fn parse_segment<const N: usize>(segment: Segment, input: &str) -> Result<[u8; N], CodeError> {
    debug_assert_eq!(segment.position_range().len(), N);
    let text = input.trim();
    // Counting characters only when the byte length is off keeps the common
    // path cheap, and a right-length text with a non-ASCII character gets
    // the more helpful character error below.
    if text.len() != N {
        let found = text.chars().count();
        if found != N {
            return Err(CodeError::SegmentLength {
                segment,
                expected: N,
                found,
            });
        }
    }
    let mut canonical = [0; N];
    for (index, found) in text.chars().enumerate() {
        match u8::try_from(found).ok().and_then(value_of) {
            Some(value) if segment.accepts(value) => canonical[index] = ALPHABET[value as usize],
            _ => {
                return Err(CodeError::Character {
                    segment,
                    position: segment.position_range().start + index + 1,
                    found,
                });
            }
        }
    }
    Ok(canonical)
}

macro_rules! segment_code {
    ($(#[$doc:meta])* $name:ident, $segment:expr, $len:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Accepts any case and surrounding whitespace.
            pub fn parse(input: &str) -> Result<Self, CodeError> {
                parse_segment($segment, input).map(Self)
            }

            /// Canonical, upper case.
            pub fn as_str(&self) -> &str {
                ascii(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.as_str()).finish()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = CodeError;

            fn from_str(input: &str) -> Result<Self, CodeError> {
                Self::parse(input)
            }
        }
    };
}

segment_code!(
    /// Country of origin: two letters, in the style of ISO 3166-1 alpha-2.
    CountryCode,
    Segment::Country,
    2
);
segment_code!(
    /// The manufacturing enterprise, assigned by the regulator.
    ManufacturerCode,
    Segment::Manufacturer,
    4
);
segment_code!(
    /// Robot type and specification, assigned by the manufacturer.
    ModelCode,
    Segment::Model,
    6
);
segment_code!(
    /// The individual unit within its model.
    Serial,
    Segment::Serial,
    17
);

/// A robot's identity code, held in canonical form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RobotId([u8; CODE_LEN]);

impl RobotId {
    /// Characters in the canonical form.
    pub const LEN: usize = CODE_LEN;

    /// Accepts any well-formed code, whatever its check character: registries
    /// abroad may number their serials differently.
    ///
    /// Input may be in any case, with a single space or hyphen at any of the
    /// three segment boundaries, and with surrounding whitespace.
    pub fn parse(input: &str) -> Result<RobotId, CodeError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(CodeError::Empty);
        }
        let mut canonical = [0; CODE_LEN];
        let mut filled = 0;
        let mut after_separator = false;
        // Where the characters typed since the last separator began, when
        // that separator stood at a segment boundary: the person is writing
        // the code segment by segment.
        let mut group_start = None;
        for (index, &byte) in text.as_bytes().iter().enumerate() {
            if is_separator(byte) {
                if let Some(start) = group_start
                    && !after_separator
                    && let Some(short) = Segment::short_before_separator(start, filled)
                {
                    return Err(short);
                }
                if after_separator || !Segment::is_followed_by_boundary(filled) {
                    return Err(CodeError::Separator {
                        position: index + 1,
                    });
                }
                after_separator = true;
                group_start = Some(filled);
                continue;
            }
            after_separator = false;
            if filled == CODE_LEN {
                return Err(CodeError::Length {
                    found: count_code_characters(text),
                });
            }
            let in_country = filled < Segment::Country.position_range().end;
            match value_of(byte) {
                Some(value) if !in_country || value >= FIRST_LETTER => {
                    canonical[filled] = ALPHABET[value as usize];
                    filled += 1;
                }
                _ => {
                    return Err(CodeError::Character {
                        segment: Segment::containing(filled),
                        position: filled + 1,
                        // Everything before `index` was ASCII, so it is a
                        // character boundary.
                        found: text[index..]
                            .chars()
                            .next()
                            .unwrap_or(char::REPLACEMENT_CHARACTER),
                    });
                }
            }
        }
        if filled < CODE_LEN {
            return Err(CodeError::Length { found: filled });
        }
        Ok(RobotId(canonical))
    }

    /// How a registry of `home` reads a code it is asked about: any
    /// well-formed code, and one of its own country must carry the check
    /// character, since it was issued here (foreign codes follow their own
    /// registry's serial scheme).
    pub fn parse_at(input: &str, home: &CountryCode) -> Result<RobotId, CodeError> {
        let id = RobotId::parse(input)?;
        if id.country() == *home && !id.has_valid_check_character() {
            return RobotId::parse_issued(input);
        }
        Ok(id)
    }

    /// [`RobotId::parse`], and the code must carry the check character of a
    /// serial issued here.
    pub fn parse_issued(input: &str) -> Result<RobotId, CodeError> {
        let id = RobotId::parse(input)?;
        let expected = id.computed_check_character();
        let found = id.0[CHECKED_LEN];
        if found == expected {
            Ok(id)
        } else {
            Err(CodeError::CheckCharacter {
                expected: expected as char,
                found: found as char,
            })
        }
    }

    /// The code for the `sequence`-th robot of a model: the sequence number in
    /// 16 base-36 digits, then the check character. 36^16 exceeds `u64::MAX`,
    /// so every sequence number has a code.
    pub fn issue(
        country: &CountryCode,
        manufacturer: &ManufacturerCode,
        model: &ModelCode,
        sequence: u64,
    ) -> RobotId {
        let mut canonical = [0; CODE_LEN];
        canonical[Segment::Country.position_range()].copy_from_slice(&country.0);
        canonical[Segment::Manufacturer.position_range()].copy_from_slice(&manufacturer.0);
        canonical[Segment::Model.position_range()].copy_from_slice(&model.0);
        let mut rest = sequence;
        for digit in canonical[SEQUENCE].iter_mut().rev() {
            *digit = ALPHABET[(rest % 36) as usize];
            rest /= 36;
        }
        let mut id = RobotId(canonical);
        id.0[CHECKED_LEN] = id.computed_check_character();
        id
    }

    /// The first code at or after `sequence` whose serial catches every
    /// adjacent transposition, and the sequence number after it.
    ///
    /// MOD 37,36 catches every single substitution but misses about one
    /// adjacent transposition in 630 (two cyclically neighbouring characters
    /// at one running state). Issuance skips the few serials where a swap
    /// touching the serial would still verify; swaps inside the fixed part
    /// are ruled out once, when the manufacturer and model codes are
    /// admitted (see [`prefix_catches_every_adjacent_transposition`]).
    /// Together: every issued code catches every single substitution and
    /// every adjacent transposition. Skipped sequence numbers are never
    /// issued.
    pub fn issue_from(
        country: &CountryCode,
        manufacturer: &ManufacturerCode,
        model: &ModelCode,
        sequence: u64,
    ) -> (RobotId, u64) {
        let mut sequence = sequence;
        loop {
            let id = RobotId::issue(country, manufacturer, model, sequence);
            let Some(swap) = id.first_hidden_swap_from(VARYING_FROM - 1) else {
                let next = sequence.checked_add(1).expect("sequence numbers exhausted");
                return (id, next);
            };
            // Jump to the next value of the digit the hidden swap involves
            // (the check character follows the last digit): every code in
            // between shares the swap, so stepping by one could take
            // billions of steps.
            let digit = (swap + 1).min(CHECKED_LEN - 1);
            let weight = 36_u64.pow((CHECKED_LEN - 1 - digit) as u32);
            sequence = (sequence / weight + 1)
                .checked_mul(weight)
                .expect("sequence numbers exhausted");
        }
    }

    /// The first `i >= first` where swapping positions `i` and `i + 1`
    /// (different characters) still verifies.
    fn first_hidden_swap_from(&self, first: usize) -> Option<usize> {
        (first..CHECKED_LEN).find(|&i| {
            if self.0[i] == self.0[i + 1] {
                return false;
            }
            let mut swapped = self.clone();
            swapped.0.swap(i, i + 1);
            swapped.has_valid_check_character()
        })
    }

    /// Whether swapping any two neighbouring, different characters of this
    /// code (the check character included) breaks its check character.
    pub fn catches_every_adjacent_transposition(&self) -> bool {
        self.first_hidden_swap_from(0).is_none()
    }

    /// Canonical form: 29 capitals, no separators.
    pub fn as_str(&self) -> &str {
        ascii(&self.0)
    }

    /// Display form, `CN-0001-HX0001-0000000000000001P`.
    pub fn display(&self) -> String {
        let mut out = String::with_capacity(CODE_LEN + 3);
        for segment in Segment::ALL {
            if !out.is_empty() {
                out.push('-');
            }
            out.push_str(&self.as_str()[segment.position_range()]);
        }
        out
    }

    pub fn country(&self) -> CountryCode {
        CountryCode(self.segment(Segment::Country))
    }

    pub fn manufacturer(&self) -> ManufacturerCode {
        ManufacturerCode(self.segment(Segment::Manufacturer))
    }

    pub fn model(&self) -> ModelCode {
        ModelCode(self.segment(Segment::Model))
    }

    pub fn serial(&self) -> Serial {
        Serial(self.segment(Segment::Serial))
    }

    /// Whether the last character verifies under MOD 37,36, i.e. whether the
    /// code can be one issued here.
    pub fn has_valid_check_character(&self) -> bool {
        // The standard's verification: run the whole code, check character
        // included, through the system; the last sum must be 1.
        let product = mod37_36(self.checked_values());
        hybrid_sum(product, VALUES[self.0[CHECKED_LEN] as usize]) == 1
    }

    /// The sequence number of a serial issued here. `None` when the check
    /// character does not verify (a foreign serial scheme) or when the
    /// base-36 number does not fit in `u64`.
    pub fn sequence(&self) -> Option<u64> {
        if !self.has_valid_check_character() {
            return None;
        }
        self.0[SEQUENCE].iter().try_fold(0_u64, |number, &digit| {
            number
                .checked_mul(36)?
                .checked_add(u64::from(VALUES[digit as usize]))
        })
    }

    fn segment<const N: usize>(&self, segment: Segment) -> [u8; N] {
        let mut part = [0; N];
        part.copy_from_slice(&self.0[segment.position_range()]);
        part
    }

    fn computed_check_character(&self) -> u8 {
        ALPHABET[check_value(mod37_36(self.checked_values())) as usize]
    }

    fn checked_values(&self) -> impl Iterator<Item = u8> + '_ {
        self.0[..CHECKED_LEN]
            .iter()
            .map(|&byte| VALUES[byte as usize])
    }
}

fn count_code_characters(text: &str) -> usize {
    text.chars().filter(|&c| c != ' ' && c != '-').count()
}

impl fmt::Debug for RobotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RobotId").field(&self.as_str()).finish()
    }
}

/// The canonical form; [`RobotId::display`] gives the hyphenated one.
impl fmt::Display for RobotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RobotId {
    type Err = CodeError;

    fn from_str(input: &str) -> Result<Self, CodeError> {
        RobotId::parse(input)
    }
}

/// Where the characters of an issued code start to change from one robot to
/// the next: the last 7 sequence digits (36^7 robots per model) and the
/// check character. Before it, a model's codes share their characters, so a
/// swap hidden there would be hidden in every robot: it is ruled out when
/// the model is admitted, not skipped at issuance (skipping could not end).
const VARYING_FROM: usize = CHECKED_LEN - 7;

/// Whether no adjacent transposition inside the fixed start of a code —
/// country and manufacturer, plus the model when given — can go unnoticed.
///
/// Each MOD 37,36 step is a bijection of the running product, so a swap is
/// caught exactly when the product right after the swapped pair differs;
/// what follows cannot undo that. Within the fixed start that product does
/// not depend on the serial, so a code that hides a swap there hides it in
/// every robot of the model: such codes are refused when admitted.
pub fn prefix_catches_every_adjacent_transposition(
    country: &CountryCode,
    manufacturer: &ManufacturerCode,
    model: Option<&ModelCode>,
) -> bool {
    let mut prefix = Vec::with_capacity(VARYING_FROM);
    prefix.extend(country.0);
    prefix.extend(manufacturer.0);
    if let Some(model) = model {
        prefix.extend(model.0);
        // The leading sequence digits stay 0 until a model has made 36^7
        // (78 billion) robots: for issuance they are part of the fixed start.
        prefix.resize(VARYING_FROM, b'0');
    }
    let values: Vec<u8> = prefix.iter().map(|&b| VALUES[b as usize]).collect();
    (0..values.len() - 1).all(|i| {
        if values[i] == values[i + 1] {
            return true;
        }
        let mut swapped = values[..i + 2].to_vec();
        swapped.swap(i, i + 1);
        mod37_36(values[..i + 2].iter().copied()) != mod37_36(swapped.into_iter())
    })
}

/// The ISO/IEC 7064 MOD 37,36 check character of `first_28`, the characters
/// before the check character of a robot id. Any case is accepted; other
/// lengths work too, as for any MOD 37,36 data.
///
/// # Panics
///
/// If `first_28` holds a character outside `0-9`, `A-Z`, `a-z`: the check
/// character is only defined over the code alphabet, and callers hold
/// validated segments.
pub fn check_character(first_28: &str) -> char {
    let values = first_28.bytes().map(|byte| {
        value_of(byte)
            .unwrap_or_else(|| panic!("MOD 37,36 covers 0-9 and A-Z only, got {first_28:?}"))
    });
    ALPHABET[check_value(mod37_36(values)) as usize] as char
}

// ISO/IEC 7064 hybrid system MOD M+1,M with M = 36. For a fixed character
// each step is a bijection on the running product (1..=M), and from a given
// product distinct characters lead to distinct products, so every single
// substitution changes the check character. Adjacent transpositions are
// caught nearly all, not all: swapping two characters whose values are
// cyclic neighbours (0/1, 9/A, Z/0, ...) goes unnoticed when the running sums
// are 18 and 19, which is 1 in 630 random swaps. The tests pin down both
// facts over the whole state space.
const M: u8 = 36;

/// `(product + value) mod M`, where the standard writes a zero sum as M.
fn hybrid_sum(product: u8, value: u8) -> u8 {
    match (product + value) % M {
        0 => M,
        sum => sum,
    }
}

fn next_product(product: u8, value: u8) -> u8 {
    hybrid_sum(product, value) * 2 % (M + 1)
}

/// The running product after `values`, starting from M as the standard does.
fn mod37_36(values: impl Iterator<Item = u8>) -> u8 {
    values.fold(M, next_product)
}

/// The character value that brings the final sum to 1.
fn check_value(product: u8) -> u8 {
    (M + 1 - product) % M
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALPHABET_STR: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

    /// Written independently of the code under test, the way the standard
    /// defines verification: the right check character is the one candidate
    /// for which the whole string verifies.
    fn reference_check_character(data: &str) -> char {
        fn verifies(full: &str) -> bool {
            let m = 36;
            let mut p = m;
            let mut s = 0;
            for c in full.chars() {
                let a = ALPHABET_STR.find(c.to_ascii_uppercase()).unwrap();
                s = (p + a) % m;
                if s == 0 {
                    s = m;
                }
                p = (2 * s) % (m + 1);
            }
            s == 1
        }
        let fitting: Vec<char> = ALPHABET_STR
            .chars()
            .filter(|&candidate| verifies(&format!("{data}{candidate}")))
            .collect();
        assert_eq!(fitting.len(), 1, "exactly one check character fits {data}");
        fitting[0]
    }

    fn cn_hx0001() -> (CountryCode, ManufacturerCode, ModelCode) {
        (
            CountryCode::parse("CN").unwrap(),
            ManufacturerCode::parse("0001").unwrap(),
            ModelCode::parse("HX0001").unwrap(),
        )
    }

    fn issued(sequence: u64) -> RobotId {
        let (country, manufacturer, model) = cn_hx0001();
        RobotId::issue(&country, &manufacturer, &model, sequence)
    }

    const FIRST: &str = "CN0001HX00010000000000000001P";

    #[test]
    fn published_mod37_36_vectors() {
        // Examples that accompany implementations of the standard (GRid style).
        assert_eq!(check_character("A12425GABC1234002"), 'M');
        assert_eq!(check_character("B159D8FA01240000"), 'K');
        assert_eq!(check_character("188166C734200000"), '3');
        assert_eq!(check_character("a12425gabc1234002"), 'M');
    }

    #[test]
    fn issued_code_vectors() {
        // Derived with a separate script and cross-checked against the
        // reference implementation below.
        let vectors = [
            (0, "CN0001HX00010000000000000000R"),
            (1, FIRST),
            (35, "CN0001HX0001000000000000000ZT"),
            (36, "CN0001HX00010000000000000010N"),
            (u64::MAX, "CN0001HX00010003W5E11264SGSFO"),
        ];
        for (sequence, code) in vectors {
            let id = issued(sequence);
            assert_eq!(id.as_str(), code);
            assert_eq!(
                check_character(&code[..28]),
                reference_check_character(&code[..28])
            );
            assert_eq!(id.sequence(), Some(sequence));
            assert_eq!(RobotId::parse_issued(code), Ok(id));
        }
    }

    #[test]
    fn check_character_matches_reference_on_edge_data() {
        for data in [
            "0000000000000000000000000000",
            "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "AA000000000000000000000000000",
            "",
            "0",
            "Z",
        ] {
            assert_eq!(check_character(data), reference_check_character(data));
        }
    }

    #[test]
    #[should_panic(expected = "MOD 37,36 covers 0-9 and A-Z only")]
    fn check_character_refuses_foreign_characters() {
        check_character("CN-0001");
    }

    #[test]
    fn verification_agrees_with_computation_for_every_candidate() {
        let id = issued(123_456_789);
        for &candidate in ALPHABET {
            let mut code = id.as_str().as_bytes().to_vec();
            code[28] = candidate;
            let other = RobotId::parse(std::str::from_utf8(&code).unwrap()).unwrap();
            assert_eq!(
                other.has_valid_check_character(),
                candidate == id.as_str().as_bytes()[28]
            );
        }
    }

    /// The check is a function of the running product after the last data
    /// character; verification looks at the last sum. Single substitutions
    /// and adjacent transpositions are caught for strings of any length and
    /// content if (a) from the same product, different characters give
    /// different products and different sums, (b) each step is injective in
    /// the product, and (c) swapping two different adjacent characters
    /// changes the product and the sum. All three are checked over the whole
    /// state space here.
    #[test]
    fn every_single_substitution_is_detected_in_any_state() {
        for product in 1..=M {
            for a in 0..M {
                for b in (0..M).filter(|&b| b != a) {
                    assert_ne!(next_product(product, a), next_product(product, b));
                    assert_ne!(hybrid_sum(product, a), hybrid_sum(product, b));
                }
            }
        }
        for value in 0..M {
            let mut seen = [false; 37];
            for product in 1..=M {
                let next = next_product(product, value);
                assert!((1..=M).contains(&next));
                assert!(!seen[next as usize], "a step is injective in the product");
                seen[next as usize] = true;
            }
        }
    }

    /// Whether the standard's one blind spot covers swapping `a` and `b`
    /// when the running product before them is `product`.
    fn undetectable_swap(product: u8, a: u8, b: u8) -> bool {
        let sums = [hybrid_sum(product, a), hybrid_sum(product, b)];
        sums == [18, 19] || sums == [19, 18]
    }

    #[test]
    fn adjacent_transpositions_are_missed_only_in_the_known_blind_spot() {
        let mut missed = 0;
        for product in 1..=M {
            for a in 0..M {
                for b in (0..M).filter(|&b| b != a) {
                    let ab = next_product(product, a);
                    let ba = next_product(product, b);
                    let blind = undetectable_swap(product, a, b);
                    // Inside the data, and as the last two characters where
                    // the second is the check character.
                    assert_eq!(next_product(ab, b) == next_product(ba, a), blind);
                    assert_eq!(hybrid_sum(ab, b) == hybrid_sum(ba, a), blind);
                    if blind {
                        assert!((a + 1) % M == b || (b + 1) % M == a);
                        missed += 1;
                    }
                }
            }
        }
        // One unordered pair per running product, of 36 × 630.
        assert_eq!(missed, 2 * 36);
    }

    #[test]
    fn a_transposition_in_the_blind_spot_passes() {
        let issued = "SCLE96WTCFKR0001000000000000M";
        let swapped = "SCLE96WTCFKR0010000000000000M";
        assert!(RobotId::parse_issued(issued).is_ok());
        assert!(RobotId::parse_issued(swapped).is_ok());
    }

    #[test]
    fn check_value_completes_the_sum_to_one() {
        for product in 1..=M {
            assert_eq!(hybrid_sum(product, check_value(product)), 1);
        }
    }

    #[test]
    fn parses_canonical_and_displays_hyphenated() {
        let id = RobotId::parse(FIRST).unwrap();
        assert_eq!(id.as_str(), FIRST);
        assert_eq!(id.to_string(), FIRST);
        assert_eq!(id.display(), "CN-0001-HX0001-0000000000000001P");
        assert_eq!(RobotId::parse(&id.display()), Ok(id.clone()));
        assert_eq!(FIRST.parse::<RobotId>(), Ok(id.clone()));
        assert_eq!(format!("{id:?}"), format!("RobotId({FIRST:?})"));
    }

    #[test]
    fn accepts_any_case_and_separators_between_segments() {
        let id = RobotId::parse(FIRST).unwrap();
        for input in [
            "cn0001hx00010000000000000001p",
            "cN0001Hx00010000000000000001P",
            "cn-0001-hx0001-0000000000000001p",
            "CN 0001 HX0001 0000000000000001P",
            "CN-0001 HX00010000000000000001P",
            "CN0001 HX0001-0000000000000001P",
            "  \tCN-0001-HX0001-0000000000000001P \n",
        ] {
            assert_eq!(RobotId::parse(input), Ok(id.clone()), "{input:?}");
            assert_eq!(RobotId::parse_issued(input), Ok(id.clone()), "{input:?}");
        }
    }

    #[test]
    fn parse_does_not_require_a_check_character_but_parse_issued_does() {
        let foreign = "DEAB12XYZ789SERIALNUMBER00001";
        let id = RobotId::parse(foreign).unwrap();
        assert!(!id.has_valid_check_character());
        assert_eq!(id.sequence(), None);
        assert_eq!(
            RobotId::parse_issued(foreign),
            Err(CodeError::CheckCharacter {
                expected: check_character(&foreign[..28]),
                found: '1',
            })
        );
    }

    #[test]
    fn accessors_return_the_segments() {
        let id = RobotId::parse("cn-0001-hx0001-0000000000000001p").unwrap();
        assert_eq!(id.country().as_str(), "CN");
        assert_eq!(id.manufacturer().as_str(), "0001");
        assert_eq!(id.model().as_str(), "HX0001");
        assert_eq!(id.serial().as_str(), "0000000000000001P");
        let (country, manufacturer, model) = cn_hx0001();
        assert_eq!(
            (id.country(), id.manufacturer(), id.model()),
            (country, manufacturer, model)
        );
    }

    #[test]
    fn sequence_that_exceeds_u64_is_none() {
        let data = "DE00ZZABC123ZZZZZZZZZZZZZZZZ";
        let id = RobotId::parse(&format!("{data}H")).unwrap();
        assert_eq!(check_character(data), 'H');
        assert!(id.has_valid_check_character());
        assert_eq!(id.sequence(), None);
    }

    #[test]
    fn empty_input() {
        assert_eq!(RobotId::parse(""), Err(CodeError::Empty));
        assert_eq!(RobotId::parse(" \t\n"), Err(CodeError::Empty));
        assert_eq!(CodeError::Empty.to_string(), "no robot id given");
    }

    #[test]
    fn length_errors_count_characters_without_separators() {
        assert_eq!(
            RobotId::parse("CN-0001-HX0001"),
            Err(CodeError::Length { found: 12 })
        );
        assert_eq!(
            RobotId::parse("CN-0001-HX0001-0000000000000001P7"),
            Err(CodeError::Length { found: 30 })
        );
        // An extra character early shifts everything but is still a length error.
        assert_eq!(
            RobotId::parse("CN00001HX00010000000000000001P"),
            Err(CodeError::Length { found: 30 })
        );
        assert_eq!(
            CodeError::Length { found: 12 }.to_string(),
            "a robot id has 29 characters (without separators), found 12"
        );
    }

    #[test]
    fn character_errors_name_segment_and_position() {
        let cases = [
            ("1N0001HX00010000000000000001P", Segment::Country, 1, '1'),
            (
                "CN00_1HX00010000000000000001P",
                Segment::Manufacturer,
                5,
                '_',
            ),
            ("cn-0001-hx0ä01-0000000000000001p", Segment::Model, 10, 'ä'),
            ("CN0001HX000100000000000000\t1P", Segment::Serial, 27, '\t'),
            ("CN0001HX0001000000000000000.1P", Segment::Serial, 28, '.'),
        ];
        for (input, segment, position, found) in cases {
            assert_eq!(
                RobotId::parse(input),
                Err(CodeError::Character {
                    segment,
                    position,
                    found
                }),
                "{input:?}"
            );
        }
        assert_eq!(
            RobotId::parse("1N0001HX00010000000000000001P")
                .unwrap_err()
                .to_string(),
            "invalid character '1' at position 1 of the robot id: \
             the country (positions 1-2) takes letters A-Z"
        );
        assert_eq!(
            RobotId::parse("CN00_1HX00010000000000000001P")
                .unwrap_err()
                .to_string(),
            "invalid character '_' at position 5 of the robot id: \
             the manufacturer (positions 3-6) takes digits 0-9 and letters A-Z"
        );
    }

    #[test]
    fn separator_errors() {
        let cases = [
            ("CN--0001-HX0001-0000000000000001P", 4),
            ("CN -0001-HX0001-0000000000000001P", 4),
            ("C-N0001HX00010000000000000001P", 2),
            ("CN0-001HX00010000000000000001P", 4),
            ("-CN0001HX00010000000000000001P", 1),
            ("CN0001HX00010000000000000001P-", 30),
            ("CN0001HX0001-00000000-00000001P", 22),
        ];
        for (input, position) in cases {
            assert_eq!(
                RobotId::parse(input),
                Err(CodeError::Separator { position }),
                "{input:?}"
            );
        }
        assert!(
            CodeError::Separator { position: 4 }
                .to_string()
                .starts_with("unexpected separator at position 4 of the input")
        );
    }

    #[test]
    fn a_short_segment_between_separators_is_named() {
        let cases = [
            (
                "CN-001-HX0001-0000000000000001P",
                Segment::Manufacturer,
                4,
                3,
            ),
            ("cn 0001 hx001 0000000000000001p", Segment::Model, 6, 5),
        ];
        for (input, segment, expected, found) in cases {
            assert_eq!(
                RobotId::parse(input),
                Err(CodeError::SegmentLength {
                    segment,
                    expected,
                    found
                }),
                "{input:?}"
            );
        }
        assert_eq!(
            RobotId::parse("CN-001-HX0001-0000000000000001P")
                .unwrap_err()
                .to_string(),
            "a manufacturer code has 4 characters, found 3"
        );
    }

    #[test]
    fn check_character_error() {
        let mistyped = "CN0001HX00010000000000000002P";
        assert_eq!(
            RobotId::parse_issued(mistyped),
            Err(CodeError::CheckCharacter {
                expected: check_character(&mistyped[..28]),
                found: 'P',
            })
        );
        let message = RobotId::parse_issued(mistyped).unwrap_err().to_string();
        assert!(message.contains("mistyped"), "{message}");
        // Syntax errors come first.
        assert_eq!(
            RobotId::parse_issued("CN0001"),
            Err(CodeError::Length { found: 6 })
        );
    }

    #[test]
    fn segment_parsers() {
        assert_eq!(CountryCode::parse(" cn ").unwrap().as_str(), "CN");
        assert_eq!(ManufacturerCode::parse("ab12").unwrap().as_str(), "AB12");
        assert_eq!(ModelCode::parse("hx0001").unwrap().to_string(), "HX0001");
        assert_eq!(
            "0000000000000001p".parse::<Serial>().unwrap().as_str(),
            "0000000000000001P"
        );
        assert_eq!(
            format!("{:?}", CountryCode::parse("de").unwrap()),
            "CountryCode(\"DE\")"
        );
    }

    #[test]
    fn segment_parser_errors() {
        assert_eq!(
            CountryCode::parse("CHN"),
            Err(CodeError::SegmentLength {
                segment: Segment::Country,
                expected: 2,
                found: 3
            })
        );
        assert_eq!(
            ModelCode::parse(""),
            Err(CodeError::SegmentLength {
                segment: Segment::Model,
                expected: 6,
                found: 0
            })
        );
        // Length is counted in characters, not bytes.
        assert_eq!(
            Serial::parse("ÄÄÄÄÄÄÄÄÄ"),
            Err(CodeError::SegmentLength {
                segment: Segment::Serial,
                expected: 17,
                found: 9
            })
        );
        assert_eq!(
            CountryCode::parse("C1"),
            Err(CodeError::Character {
                segment: Segment::Country,
                position: 2,
                found: '1'
            })
        );
        assert_eq!(
            ManufacturerCode::parse("00é1"),
            Err(CodeError::Character {
                segment: Segment::Manufacturer,
                position: 5,
                found: 'é'
            })
        );
        assert_eq!(
            ModelCode::parse("HX-001"),
            Err(CodeError::Character {
                segment: Segment::Model,
                position: 9,
                found: '-'
            })
        );
        assert_eq!(
            ModelCode::parse("HX00012").unwrap_err().to_string(),
            "a product model code has 6 characters, found 7"
        );
    }

    #[test]
    fn issuance_skips_codes_in_the_transposition_blind_spot() {
        // A code the blind spot hides a swap in is never issued: over the
        // first 20,000 sequence numbers of a model some are skipped, none of
        // the issued ones has a swap that verifies.
        let (country, manufacturer, model) = (
            "CN".parse().unwrap(),
            "0001".parse().unwrap(),
            "HX0001".parse().unwrap(),
        );
        assert!(prefix_catches_every_adjacent_transposition(
            &country,
            &manufacturer,
            Some(&model)
        ));
        let mut next = 0;
        let mut skipped = 0;
        while next < 20_000 {
            let (id, after) = RobotId::issue_from(&country, &manufacturer, &model, next);
            skipped += after - next - 1;
            assert!(id.catches_every_adjacent_transposition());
            next = after;
        }
        assert!(
            skipped > 0,
            "the blind spot exists for sequential serials too"
        );
        assert!(skipped < 2_000, "skipping stays rare: {skipped}");
    }

    #[test]
    fn a_prefix_that_hides_a_swap_is_found() {
        // Search the manufacturer codes of one country for those that hide a
        // swap, and confirm each such swap really passes verification.
        let country: CountryCode = "CN".parse().unwrap();
        let mut hiding = 0;
        for n in 0..36_u32 * 36 {
            let code = format!(
                "00{}{}",
                ALPHABET[(n / 36) as usize] as char,
                ALPHABET[(n % 36) as usize] as char
            );
            let manufacturer: ManufacturerCode = code.parse().unwrap();
            if prefix_catches_every_adjacent_transposition(&country, &manufacturer, None) {
                continue;
            }
            hiding += 1;
            let id = RobotId::issue(&country, &manufacturer, &"HX0001".parse().unwrap(), 1);
            assert!(!id.catches_every_adjacent_transposition(), "{id}");
        }
        assert!(hiding > 0);
    }

    #[test]
    fn segments_tile_the_code() {
        let mut next = 0;
        for segment in Segment::ALL {
            let range = segment.position_range();
            assert_eq!(range.start, next);
            for index in range.clone() {
                assert_eq!(Segment::containing(index), segment);
            }
            next = range.end;
        }
        assert_eq!(next, RobotId::LEN);
        let names: Vec<String> = Segment::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            ["country", "manufacturer", "product model", "serial"]
        );
    }

    #[test]
    fn ordering_follows_the_canonical_text() {
        assert!(issued(1) < issued(2));
        assert!(issued(35) < issued(36));
        assert!(
            RobotId::parse(FIRST).unwrap()
                < RobotId::parse("DE0001HX00010000000000000001P").unwrap()
        );
    }

    fn arb_issued() -> impl Strategy<Value = RobotId> {
        let letter = || (0..26_usize).prop_map(|i| ALPHABET[10 + i]);
        let symbol = || (0..36_usize).prop_map(|i| ALPHABET[i]);
        (
            [letter(), letter()],
            prop::array::uniform4(symbol()),
            prop::array::uniform6(symbol()),
            any::<u64>(),
        )
            .prop_map(|(country, manufacturer, model, sequence)| {
                RobotId::issue(
                    &CountryCode(country),
                    &ManufacturerCode(manufacturer),
                    &ModelCode(model),
                    sequence,
                )
            })
    }

    /// The code with `position` replaced, if it is still well formed.
    fn substituted(id: &RobotId, position: usize, with: u8) -> Option<String> {
        let mut bytes = id.as_str().as_bytes().to_vec();
        bytes[position] = with;
        let text = String::from_utf8(bytes).unwrap();
        RobotId::parse(&text).ok().map(|_| text)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn round_trips(id in arb_issued()) {
            prop_assert_eq!(RobotId::parse(id.as_str()), Ok(id.clone()));
            prop_assert_eq!(RobotId::parse(&id.display()), Ok(id.clone()));
            prop_assert_eq!(RobotId::parse(&id.as_str().to_lowercase()), Ok(id.clone()));
            prop_assert_eq!(RobotId::parse(&id.display().to_lowercase().replace('-', " ")), Ok(id.clone()));
            prop_assert_eq!(RobotId::parse_issued(&id.display()), Ok(id.clone()));
            prop_assert!(id.sequence().is_some());
            let rebuilt = RobotId::issue(&id.country(), &id.manufacturer(), &id.model(), id.sequence().unwrap());
            prop_assert_eq!(rebuilt, id);
        }

        #[test]
        fn issue_keeps_the_sequence(sequence in any::<u64>()) {
            prop_assert_eq!(issued(sequence).sequence(), Some(sequence));
        }

        #[test]
        fn check_character_matches_reference(data in prop::collection::vec(0..36_usize, 28)) {
            let data: String = data.into_iter().map(|i| ALPHABET[i] as char).collect();
            prop_assert_eq!(check_character(&data), reference_check_character(&data));
        }

        #[test]
        fn parse_never_panics_and_successes_are_canonical(
            chars in prop::collection::vec(
                prop::sample::select(vec!['a', 'Z', 'q', '0', '7', '-', ' ', '\t', 'é', '!']),
                0..40,
            )
        ) {
            let input: String = chars.into_iter().collect();
            if let Ok(id) = RobotId::parse(&input) {
                prop_assert_eq!(id.as_str().len(), 29);
                prop_assert!(id.as_str().bytes().all(|b| ALPHABET.contains(&b)));
                prop_assert_eq!(RobotId::parse(&id.display()), Ok(id.clone()));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_single_substitution_fails_parse_issued(id in arb_issued()) {
            let original = id.as_str().as_bytes();
            let mut tried = 0;
            for (position, &current) in original.iter().enumerate() {
                for &with in ALPHABET.iter().filter(|&&c| c != current) {
                    if let Some(text) = substituted(&id, position, with) {
                        tried += 1;
                        prop_assert!(
                            matches!(RobotId::parse_issued(&text), Err(CodeError::CheckCharacter { .. })),
                            "{} passed", text
                        );
                    }
                }
            }
            // 2 country positions × 25 letters + 27 positions × 35 characters.
            prop_assert_eq!(tried, 2 * 25 + 27 * 35);
        }

        #[test]
        fn every_adjacent_transposition_of_an_issued_code_fails_parse_issued(
            id in arb_issued(),
            sequence in 0_u64..36_u64.pow(7),
        ) {
            // Start from a random code's model and a nearby sequence number:
            // issuance skips the codes in MOD 37,36's blind spot.
            prop_assume!(prefix_catches_every_adjacent_transposition(
                &id.country(), &id.manufacturer(), Some(&id.model())
            ));
            let start = sequence;
            let (issued, next) = RobotId::issue_from(&id.country(), &id.manufacturer(), &id.model(), start);
            prop_assert!(next > start && issued.sequence() == Some(next - 1));
            let original = issued.as_str().as_bytes();
            for position in 0..RobotId::LEN - 1 {
                if original[position] == original[position + 1] {
                    continue;
                }
                let mut bytes = original.to_vec();
                bytes.swap(position, position + 1);
                let text = String::from_utf8(bytes).unwrap();
                if RobotId::parse(&text).is_ok() {
                    prop_assert!(
                        matches!(RobotId::parse_issued(&text), Err(CodeError::CheckCharacter { .. })),
                        "{} passed", text
                    );
                }
            }
        }

        #[test]
        fn adjacent_transpositions_fail_parse_issued_outside_the_blind_spot(id in arb_issued()) {
            let original = id.as_str().as_bytes();
            for position in 0..RobotId::LEN - 1 {
                let (a, b) = (VALUES[original[position] as usize], VALUES[original[position + 1] as usize]);
                if a == b {
                    continue;
                }
                let mut bytes = original.to_vec();
                bytes.swap(position, position + 1);
                let text = String::from_utf8(bytes).unwrap();
                if RobotId::parse(&text).is_err() {
                    continue;
                }
                let product = mod37_36(original[..position].iter().map(|&c| VALUES[c as usize]));
                let passed = RobotId::parse_issued(&text).is_ok();
                prop_assert_eq!(passed, undetectable_swap(product, a, b), "{}", text);
                if passed {
                    prop_assert!((a + 1) % M == b || (b + 1) % M == a);
                } else {
                    prop_assert!(
                        matches!(RobotId::parse_issued(&text), Err(CodeError::CheckCharacter { .. })),
                        "{} failed otherwise", text
                    );
                }
            }
        }
    }
}
