//! Which format a request asks for (`Accept`), and the query string.

/// The forms the card comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Json,
    Linkset,
}

impl Format {
    /// Ours, in order of preference on a tie.
    const OFFERED: [(Format, &'static str); 3] = [
        (Format::Html, "text/html"),
        (Format::Json, "application/json"),
        (Format::Linkset, "application/linkset+json"),
    ];
}

/// The best format `accept` allows: the highest q-value, a more specific
/// range winning over `type/*` and `*/*`; HTML without the header (a
/// browser, or a plain `curl`). `None` when nothing offered is acceptable.
pub fn format(accept: Option<&str>) -> Option<Format> {
    let Some(accept) = accept.filter(|value| !value.trim().is_empty()) else {
        return Some(Format::Html);
    };
    let ranges: Vec<(String, f32)> = accept
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let range = parts.next()?.trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!range.is_empty()).then_some((range, q))
        })
        .collect();
    let mut best: Option<(f32, Format)> = None;
    for (format, media) in Format::OFFERED {
        let (kind, _) = media.split_once('/').unwrap_or((media, ""));
        // The most specific range that matches decides this format's q.
        let q = ranges
            .iter()
            .filter_map(|(range, q)| {
                let specificity = if range == media {
                    3
                } else if range.strip_suffix("/*") == Some(kind) {
                    2
                } else if range == "*/*" {
                    1
                } else {
                    return None;
                };
                Some((specificity, *q))
            })
            .max_by_key(|(specificity, _)| *specificity)
            .map(|(_, q)| q)
            .unwrap_or(0.0);
        if q > 0.0 && best.is_none_or(|(best_q, _)| q > best_q) {
            best = Some((q, format));
        }
    }
    best.map(|(_, format)| format)
}

/// A query string's parameters, percent-decoded (`+` is a space, as forms
/// send it).
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(query: Option<&str>) -> Self {
        Self(
            query
                .unwrap_or_default()
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(key), decode(value))
                })
                .collect(),
        )
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let byte = bytes
                    .get(i + 1..i + 3)
                    .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                match byte {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_the_format() {
        assert_eq!(format(None), Some(Format::Html));
        assert_eq!(format(Some("*/*")), Some(Format::Html));
        assert_eq!(format(Some("application/json")), Some(Format::Json));
        assert_eq!(
            format(Some("application/linkset+json")),
            Some(Format::Linkset)
        );
        assert_eq!(
            format(Some(
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
            )),
            Some(Format::Html)
        );
        assert_eq!(
            format(Some("application/json;q=0.9, text/html;q=0.5")),
            Some(Format::Json)
        );
        assert_eq!(format(Some("text/*;q=0.1, */*;q=0.5")), Some(Format::Json));
        assert_eq!(format(Some("image/png")), None);
        assert_eq!(format(Some("text/html;q=0")), None);
    }

    #[test]
    fn queries_decode() {
        let params = QueryParams::parse(Some("code=cn-0001+hx%2D1&lang=de&x"));
        assert_eq!(params.get("code"), Some("cn-0001 hx-1"));
        assert_eq!(params.get("lang"), Some("de"));
        assert_eq!(params.get("x"), Some(""));
        assert_eq!(params.get("y"), None);
        assert_eq!(QueryParams::parse(Some("a=%zz%4")).get("a"), Some("%zz%4"));
    }
}
