//! A deployment's Ed25519 keys and where they live.
//!
//! File formats are the standard ones `openssl` reads and writes, so a key
//! can be made, inspected or rotated with common tools:
//! - signing key: PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as
//!   `openssl genpkey -algorithm ed25519` writes it;
//! - public key: SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`),
//!   as `openssl pkey -pubout` writes it, or the raw 32 bytes in hex (how a
//!   trust list or a QR app may carry it).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use sha2::{Digest, Sha256};

/// Why a key could not be loaded, made or stored.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write key file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no Ed25519 {expected}: {problem}")]
    Format {
        path: PathBuf,
        expected: &'static str,
        problem: String,
    },
    #[error("not an Ed25519 public key: {0}")]
    PublicKey(String),
    #[error("the system random source failed: {0}")]
    Random(String),
}

/// Names a key: the first 8 bytes of the SHA-256 of its raw 32-byte public
/// key. Short enough for every credential to carry it, long enough that a
/// trust list of registries never holds two keys with one id by chance.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub(crate) [u8; KeyId::LEN]);

impl KeyId {
    pub const LEN: usize = 8;

    fn of(public: &ed25519_dalek::VerifyingKey) -> Self {
        let digest = Sha256::digest(public.as_bytes());
        let mut id = [0; Self::LEN];
        id.copy_from_slice(&digest[..Self::LEN]);
        Self(id)
    }

    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// 16 lower-case hex digits, as `Display` writes them.
    pub fn parse_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        Self::from_slice(&bytes)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// The key a registry signs its credentials with. Never printed: `Debug`
/// shows only its key id.
#[derive(Clone)]
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    kid: KeyId,
}

impl SigningKey {
    /// A new key from the system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0_u8; ed25519_dalek::SECRET_KEY_LENGTH];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let key = Self::from_seed(&seed);
        seed.fill(0);
        Ok(key)
    }

    /// The key whose RFC 8032 secret is `seed`.
    pub fn from_seed(seed: &[u8; ed25519_dalek::SECRET_KEY_LENGTH]) -> Self {
        Self::from_dalek(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    fn from_dalek(key: ed25519_dalek::SigningKey) -> Self {
        let kid = KeyId::of(&key.verifying_key());
        Self { key, kid }
    }

    /// Reads a PKCS#8 PEM file (a Kubernetes secret in production).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?;
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| {
            KeyError::Format {
                path: path.to_owned(),
                expected: "private key (PKCS#8 PEM, \"BEGIN PRIVATE KEY\")",
                problem: e.to_string(),
            }
        })?;
        Ok(Self::from_dalek(key))
    }

    /// Makes a new key and writes it to `path`, readable by the owner only.
    /// Refuses to overwrite: losing a deployment's key orphans every
    /// credential it signed.
    pub fn create(path: &Path) -> Result<Self, KeyError> {
        let key = Self::generate()?;
        let pem = key.to_pkcs8_pem();
        let write_error = |source| KeyError::Write {
            path: path.to_owned(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(write_error)?;
        file.write_all(pem.as_bytes()).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        Ok(key)
    }

    /// The key at `path`, made there first if there is none: for
    /// development set-ups that must work without configuration.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        if path.exists() {
            Self::load(path)
        } else {
            Self::create(path)
        }
    }

    /// The PKCS#8 PEM text of the key.
    pub fn to_pkcs8_pem(&self) -> String {
        // Encoding a 32-byte key into PKCS#8 has no failure mode.
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("an Ed25519 key encodes as PKCS#8")
            .to_string()
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::from_dalek(self.key.verifying_key())
    }

    pub fn kid(&self) -> KeyId {
        self.kid
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; ed25519_dalek::SIGNATURE_LENGTH] {
        use ed25519_dalek::Signer;
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A public key that verifies credentials, offline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VerifyingKey {
    key: ed25519_dalek::VerifyingKey,
    kid: KeyId,
}

impl VerifyingKey {
    fn from_dalek(key: ed25519_dalek::VerifyingKey) -> Self {
        Self {
            kid: KeyId::of(&key),
            key,
        }
    }

    /// From the raw 32-byte key. Weak (small-order) keys are refused: any
    /// signature would verify under them.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let bytes: &[u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::PublicKey(format!("{} bytes, not 32", bytes.len())))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|e| KeyError::PublicKey(e.to_string()))?;
        if key.is_weak() {
            return Err(KeyError::PublicKey("a weak (small-order) key".into()));
        }
        Ok(Self::from_dalek(key))
    }

    /// From SubjectPublicKeyInfo PEM or 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.starts_with("-----BEGIN") {
            let key = ed25519_dalek::VerifyingKey::from_public_key_pem(text)
                .map_err(|e| KeyError::PublicKey(e.to_string()))?;
            return Self::from_bytes(key.as_bytes());
        }
        let bytes = hex::decode(text).map_err(|_| {
            KeyError::PublicKey("expected PEM (\"BEGIN PUBLIC KEY\") or 64 hex digits".into())
        })?;
        Self::from_bytes(&bytes)
    }

    /// Reads a public key file: PEM or hex, see [`VerifyingKey::parse`].
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|e| KeyError::Format {
            path: path.to_owned(),
            expected: "public key (PEM \"BEGIN PUBLIC KEY\" or 64 hex digits)",
            problem: e.to_string(),
        })
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// SubjectPublicKeyInfo PEM.
    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .expect("an Ed25519 key encodes as SubjectPublicKeyInfo")
    }

    pub fn kid(&self) -> KeyId {
        self.kid
    }

    /// RFC 8032 verification that also refuses non-canonical signatures
    /// and small-order points, so that no second encoding of a signature
    /// verifies.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.key.verify_strict(message, &signature).is_ok()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VerifyingKey({}, kid {})",
            hex::encode(self.to_bytes()),
            self.kid
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_keys_round_trip_through_owner_only_pem_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing-key.pem");
        let made = SigningKey::create(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let loaded = SigningKey::load(&path).unwrap();
        assert_eq!(loaded.verifying_key(), made.verifying_key());
        assert_eq!(loaded.kid(), made.kid());
        // An existing key is never overwritten.
        assert!(SigningKey::create(&path).is_err());
        assert_eq!(SigningKey::load_or_create(&path).unwrap().kid(), made.kid());
    }

    #[test]
    fn public_keys_parse_from_pem_and_hex() {
        let key = SigningKey::from_seed(&[7; 32]).verifying_key();
        assert_eq!(VerifyingKey::parse(&key.to_pem()).unwrap(), key);
        assert_eq!(
            VerifyingKey::parse(&hex::encode(key.to_bytes())).unwrap(),
            key
        );
        assert!(VerifyingKey::parse("not a key").is_err());
        assert!(VerifyingKey::from_bytes(&[0; 31]).is_err());
        // The identity point is of small order: anything would verify.
        let mut identity = [0_u8; 32];
        identity[0] = 1;
        assert!(VerifyingKey::from_bytes(&identity).is_err());
    }

    #[test]
    fn the_key_id_is_the_start_of_the_public_key_hash() {
        let key = SigningKey::from_seed(&[7; 32]);
        let digest = Sha256::digest(key.verifying_key().to_bytes());
        assert_eq!(key.kid().as_bytes()[..], digest[..8]);
        assert_eq!(KeyId::parse_hex(&key.kid().to_string()), Some(key.kid()));
        assert!(!format!("{key:?}").contains(&hex::encode([7_u8; 32])));
    }
}
