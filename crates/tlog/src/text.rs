//! Lexical pieces the C2SP text formats share.

/// ASCII decimal with no leading zeroes (but `0` itself), as every C2SP
/// format writes numbers.
pub(crate) fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// One `\n`-terminated line, as text, and what follows it: the line-based
/// headers of tlog-witness requests and tlog-proof bundles, which precede a
/// signed note.
pub(crate) fn split_line(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&bytes[..end]).ok()?;
    Some((line, &bytes[end + 1..]))
}
