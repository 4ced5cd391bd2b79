//! Who holds a robot. The registry tracks robots, not people: a private
//! holder is kept only as a keyed hash of a reference the seller keeps, so
//! the registry alone cannot tell who it is, and the seller can still prove
//! which sale it was.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The deployment secret that keys private holder hashes. Never printed.
#[derive(Clone)]
pub struct HolderKey(Vec<u8>);

impl HolderKey {
    /// At least 32 bytes: shorter keys make the hash guessable.
    pub fn new(secret: Vec<u8>) -> Result<Self, HolderError> {
        if secret.len() < 32 {
            return Err(HolderError::KeyTooShort {
                found: secret.len(),
            });
        }
        Ok(Self(secret))
    }

    /// HMAC-SHA256 of the reference, hex.
    pub fn digest(&self, private_reference: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(private_reference.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for HolderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HolderKey(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Holder {
    /// An organisation, by its identifier.
    Organization(String),
    /// A private person, by the hex HMAC of the seller's reference.
    Private(String),
}

impl Holder {
    pub const MAX_LEN: usize = 128;

    /// An organisation's identifier: 1 to 128 characters of one line (see
    /// [`crate::text::identifier`]), stored trimmed.
    pub fn organization(id: &str) -> Result<Self, HolderError> {
        let id = id.trim();
        crate::text::identifier(id, Self::MAX_LEN)?;
        Ok(Holder::Organization(id.to_owned()))
    }

    /// A private holder by the seller's reference, 1 to 128 characters of
    /// one line, of which only the keyed hash is kept.
    pub fn private(key: &HolderKey, reference: &str) -> Result<Self, HolderError> {
        crate::text::identifier(reference, Self::MAX_LEN)?;
        Ok(Holder::Private(key.digest(reference)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HolderError {
    #[error("a holder reference: {0}")]
    Text(#[from] crate::text::TextError),
    #[error("the holder key must have at least 32 bytes, found {found}")]
    KeyTooShort { found: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_holder_is_stored_as_a_keyed_hash_only() {
        let key = HolderKey::new(vec![7; 32]).unwrap();
        let Holder::Private(digest) = Holder::private(&key, "CUSTOMER-4711").unwrap() else {
            panic!("private holder expected");
        };
        assert_eq!(digest.len(), 64);
        assert!(!digest.contains("4711"));
        let other_key = HolderKey::new(vec![8; 32]).unwrap();
        assert_ne!(other_key.digest("CUSTOMER-4711"), digest);
        assert_eq!(key.digest("CUSTOMER-4711"), digest);
        assert!(format!("{key:?}").contains("redacted"));
    }
}
