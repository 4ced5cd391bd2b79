//! AIP-158 pagination: `page_size` (0 for the default, negative refused,
//! capped at a maximum) and opaque page tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;

/// Sizes for one `List` method.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    pub default: u32,
    pub max: u32,
}

impl PageLimits {
    pub const STANDARD: PageLimits = PageLimits {
        default: 100,
        max: 1_000,
    };

    pub fn size(self, requested: i32) -> Result<u32, ApiError> {
        match requested {
            0 => Ok(self.default),
            n if n < 0 => Err(ApiError::invalid_argument(
                "page_size",
                "must not be negative",
            )),
            n => Ok((n as u32).min(self.max)),
        }
    }
}

/// Where the next page starts: the last key of the page before, wrapped so
/// that clients treat it as opaque. The `scope` ties a token to the list it
/// came from, so a token of one robot's history is refused for another's.
pub fn encode_token(scope: &str, last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1\n{scope}\n{last_key}"))
}

/// The key a token resumes after; `None` for an empty token (first page).
pub fn decode_token(scope: &str, token: &str) -> Result<Option<String>, ApiError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || ApiError::invalid_argument("page_token", "not a page token of this list");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(3, '\n');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(token_scope), Some(key)) if token_scope == scope => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_follow_aip_158() {
        let limits = PageLimits::STANDARD;
        assert_eq!(limits.size(0).unwrap(), 100);
        assert_eq!(limits.size(5).unwrap(), 5);
        assert_eq!(limits.size(50_000).unwrap(), 1_000);
        assert!(limits.size(-1).is_err());
    }

    #[test]
    fn tokens_round_trip_within_their_scope_only() {
        let token = encode_token("robots/A", "42");
        assert_eq!(
            decode_token("robots/A", &token).unwrap().as_deref(),
            Some("42")
        );
        assert!(decode_token("robots/B", &token).is_err());
        assert!(decode_token("robots/A", "garbage!").is_err());
        assert_eq!(decode_token("robots/A", "").unwrap(), None);
    }
}
