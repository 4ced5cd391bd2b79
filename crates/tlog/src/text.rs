//! Lexical pieces the C2SP text formats share.

/// ASCII decimal with no leading zeroes (but `0` itself), as every C2SP
/// format writes numbers.
pub(crate) fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}
