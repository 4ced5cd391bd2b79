//! c2sp.org/signed-note: text signed by one or more keys.
//!
//! ```text
//! <text, ending in a newline>
//! <blank line>
//! — <key name> base64(uint32 key ID || signature)
//! …
//! ```
//!
//! The text ends at the last blank line. A signature line names its key by
//! name and a 4-byte ID, `SHA-256(name || 0x0A || type || public key)[:4]`.
//! A verifier key is written `<name>+<hex key ID>+base64(type || public
//! key)`. Two types are spoken here: `0x01`, Ed25519 over the text, for log
//! checkpoints, and `0x04`, the timestamped Ed25519 cosignature of
//! c2sp.org/tlog-cosignature, for witnesses.
//!
//! Verifying a note checks every signature whose name and ID match a trusted
//! key and keeps the others as unknown (they may be cosignatures for someone
//! else, or a rotated key); a failed signature from a trusted key refuses
//! the note, as the spec recommends, and so does a note no trusted key signed.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::cosignature::cosigned_message;
use crate::hash::{decode_base64, encode_base64};

/// The most signature lines a note may carry: the spec asks for at least 16;
/// this is Go's `sumdb/note` limit, room for a log and many witnesses.
pub const MAX_SIGNATURES: usize = 100;

/// The most bytes of a note taken for parsing: a checkpoint with 100
/// Ed25519 signatures is under 16 KiB.
pub const MAX_NOTE_SIZE: usize = 1 << 20;

const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";

/// The signature types this crate signs and verifies (signed-note's
/// registry of identifier bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureType {
    /// `0x01`: Ed25519 over the note text.
    Ed25519,
    /// `0x04`: c2sp.org/tlog-cosignature `cosignature/v1`, timestamped.
    Cosignature,
}

impl SignatureType {
    pub fn id(self) -> u8 {
        match self {
            Self::Ed25519 => 0x01,
            Self::Cosignature => 0x04,
        }
    }

    fn from_id(id: u8) -> Option<Self> {
        match id {
            0x01 => Some(Self::Ed25519),
            0x04 => Some(Self::Cosignature),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    #[error("invalid key name {0:?}: empty, or with a space or a plus")]
    BadKeyName(String),
    #[error("the signature of trusted key {name}+{key_id:08x} does not verify")]
    BadSignature { name: String, key_id: u32 },
    #[error("no trusted key signed the note")]
    Unverified,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a verifier key is name+hex(key ID)+base64(type || public key)")]
    Malformed,
    #[error("invalid key name {0:?}: empty, or with a space or a plus")]
    BadKeyName(String),
    #[error("signature type {0:#04x} is not spoken here")]
    UnsupportedType(u8),
    #[error("not an Ed25519 public key")]
    BadPublicKey,
    #[error("key ID {stated:08x} is not the key's ({computed:08x})")]
    WrongKeyId { stated: u32, computed: u32 },
}

/// One signature line: who signed (name and key ID) and the signature bytes
/// after the key ID, whatever their type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    pub fn new(name: &str, key_id: u32, signature: Vec<u8>) -> Result<Self, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::BadKeyName(name.to_owned()));
        }
        if signature.is_empty() {
            return Err(NoteError::Malformed("empty signature"));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id,
            signature,
        })
    }

    /// Parses `— <name> <base64>`, with or without the final newline.
    pub fn parse_line(line: &str) -> Result<Self, NoteError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let rest = line
            .strip_prefix(SIGNATURE_LINE_PREFIX)
            .ok_or(NoteError::Malformed(
                "a signature line starts with an em dash",
            ))?;
        let (name, encoded) = rest.split_once(' ').ok_or(NoteError::Malformed(
            "a signature line is name and signature",
        ))?;
        let bytes =
            decode_base64(encoded).ok_or(NoteError::Malformed("signature is not base64"))?;
        if bytes.len() < 5 {
            return Err(NoteError::Malformed("signature shorter than its key ID"));
        }
        let key_id = u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes"));
        Self::new(name, key_id, bytes[4..].to_vec())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key ID.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// `— <name> <base64>\n`.
    pub fn to_line(&self) -> String {
        let mut bytes = self.key_id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.signature);
        format!(
            "{SIGNATURE_LINE_PREFIX}{} {}\n",
            self.name,
            encode_base64(&bytes)
        )
    }
}

/// A note: its text and its signature lines, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// An unsigned note, to sign. The text must end in a newline and hold no
    /// control character but newlines.
    pub fn new(text: impl Into<String>) -> Result<Self, NoteError> {
        let text = text.into();
        check_characters(&text)?;
        if !text.ends_with('\n') {
            return Err(NoteError::Malformed("the text ends in a newline"));
        }
        Ok(Self {
            text,
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note, with the spec's strictness.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > MAX_NOTE_SIZE {
            return Err(NoteError::Malformed("too large"));
        }
        let all = std::str::from_utf8(bytes).map_err(|_| NoteError::Malformed("not UTF-8"))?;
        check_characters(all)?;
        let split = all
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let (text, block) = (&all[..split + 1], &all[split + 2..]);
        let block = block
            .strip_suffix('\n')
            .ok_or(NoteError::Malformed("the signatures end in a newline"))?;
        let signatures = block
            .split('\n')
            .map(NoteSignature::parse_line)
            .collect::<Result<Vec<_>, _>>()?;
        if signatures.len() > MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures"));
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The signed text, final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature line, unless the same line is there already.
    pub fn add_signature(&mut self, signature: NoteSignature) {
        if !self.signatures.contains(&signature) {
            self.signatures.push(signature);
        }
    }

    /// The note as it travels: text, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Checks the note against the trusted `keys` (see the module doc).
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<Verified, NoteError> {
        let mut verified: Vec<VerifiedSignature> = Vec::new();
        let mut unknown = Vec::new();
        for signature in &self.signatures {
            let Some(key) = keys.iter().find(|key| key.names(signature)) else {
                unknown.push(signature.clone());
                continue;
            };
            let timestamp =
                key.check(&self.text, signature)
                    .ok_or_else(|| NoteError::BadSignature {
                        name: signature.name.clone(),
                        key_id: signature.key_id,
                    })?;
            if !verified.iter().any(|seen| seen.key == *key) {
                verified.push(VerifiedSignature {
                    key: key.clone(),
                    timestamp,
                });
            }
        }
        if verified.is_empty() {
            return Err(NoteError::Unverified);
        }
        Ok(Verified {
            signatures: verified,
            unknown,
        })
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for signature in &self.signatures {
            f.write_str(&signature.to_line())?;
        }
        Ok(())
    }
}

/// What [`Note::verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// One per trusted key that signed, in the note's order.
    pub signatures: Vec<VerifiedSignature>,
    /// Signatures from keys not trusted here, kept for passing on.
    pub unknown: Vec<NoteSignature>,
}

impl Verified {
    /// Whether `key` is among those whose signature verified.
    pub fn signed_by(&self, key: &VerifierKey) -> bool {
        self.signatures
            .iter()
            .any(|signature| signature.key == *key)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub key: VerifierKey,
    /// The cosignature's time (POSIX seconds), for type `0x04`.
    pub timestamp: Option<u64>,
}

/// A public key trusted to sign notes, with its name and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    signature_type: SignatureType,
    public_key: VerifyingKey,
}

impl VerifierKey {
    pub fn new(
        name: &str,
        signature_type: SignatureType,
        public_key: VerifyingKey,
    ) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::BadKeyName(name.to_owned()));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, signature_type, &public_key),
            signature_type,
            public_key,
        })
    }

    /// Parses `<name>+<hex key ID>+<base64(type || public key)>`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(encoded)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(KeyError::Malformed);
        };
        if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::Malformed);
        }
        let stated = u32::from_str_radix(id, 16).map_err(|_| KeyError::Malformed)?;
        let bytes = decode_base64(encoded).ok_or(KeyError::Malformed)?;
        let (&type_id, key) = bytes.split_first().ok_or(KeyError::Malformed)?;
        let signature_type =
            SignatureType::from_id(type_id).ok_or(KeyError::UnsupportedType(type_id))?;
        let key: &[u8; 32] = key.try_into().map_err(|_| KeyError::BadPublicKey)?;
        let public_key = VerifyingKey::from_bytes(key).map_err(|_| KeyError::BadPublicKey)?;
        let parsed = Self::new(name, signature_type, public_key)?;
        if parsed.key_id != stated {
            return Err(KeyError::WrongKeyId {
                stated,
                computed: parsed.key_id,
            });
        }
        Ok(parsed)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn signature_type(&self) -> SignatureType {
        self.signature_type
    }

    pub fn public_key(&self) -> &VerifyingKey {
        &self.public_key
    }

    /// Whether a signature line claims to be by this key.
    pub fn names(&self, signature: &NoteSignature) -> bool {
        signature.name == self.name && signature.key_id == self.key_id
    }

    /// `Some(timestamp)` when `signature` verifies over `text` (the
    /// timestamp only for cosignatures), `None` when it does not.
    fn check(&self, text: &str, signature: &NoteSignature) -> Option<Option<u64>> {
        match self.signature_type {
            SignatureType::Ed25519 => {
                let signature = Signature::from_slice(&signature.signature).ok()?;
                self.public_key
                    .verify_strict(text.as_bytes(), &signature)
                    .ok()
                    .map(|()| None)
            }
            SignatureType::Cosignature => {
                let bytes: &[u8; 72] = signature.signature.as_slice().try_into().ok()?;
                let timestamp = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
                if timestamp > i64::MAX as u64 {
                    return None;
                }
                let signature = Signature::from_slice(&bytes[8..]).ok()?;
                self.public_key
                    .verify_strict(cosigned_message(text, timestamp).as_bytes(), &signature)
                    .ok()
                    .map(|()| Some(timestamp))
            }
        }
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = vec![self.signature_type.id()];
        bytes.extend_from_slice(self.public_key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            encode_base64(&bytes)
        )
    }
}

impl FromStr for VerifierKey {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, KeyError> {
        Self::parse(text)
    }
}

/// Signs notes with an Ed25519 key (type `0x01`), as a log signs its
/// checkpoints.
pub struct NoteSigner {
    verifier: VerifierKey,
    key: SigningKey,
}

impl NoteSigner {
    pub fn new(name: &str, key: SigningKey) -> Result<Self, KeyError> {
        Ok(Self {
            verifier: VerifierKey::new(name, SignatureType::Ed25519, key.verifying_key())?,
            key,
        })
    }

    /// The key others trust to check this signer's notes.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.verifier
    }

    /// The signature line for `note`'s text.
    pub fn sign(&self, note: &Note) -> NoteSignature {
        let signature = self.key.sign(note.text.as_bytes());
        self.verifier.signature_line(signature.to_bytes().to_vec())
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The private key is never printed.
        f.debug_struct("NoteSigner")
            .field("verifier", &self.verifier.to_string())
            .finish_non_exhaustive()
    }
}

impl VerifierKey {
    /// A signature line under this key's name and ID.
    pub(crate) fn signature_line(&self, signature: Vec<u8>) -> NoteSignature {
        NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature,
        }
    }
}

/// `SHA-256(name || 0x0A || type || public key)[:4]`, big-endian.
fn key_id(name: &str, signature_type: SignatureType, public_key: &VerifyingKey) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', signature_type.id()]);
    hasher.update(public_key.as_bytes());
    let digest = hasher.finalize();
    u32::from_be_bytes(digest[..4].try_into().expect("4 bytes"))
}

/// Non-empty, no Unicode space, no plus.
fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

fn check_characters(text: &str) -> Result<(), NoteError> {
    if text.bytes().any(|b| b < 0x20 && b != b'\n') {
        return Err(NoteError::Malformed(
            "a control character other than newline",
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A key made from a fixed seed, for deterministic tests.
    pub(crate) fn test_key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    // The example of Go's golang.org/x/mod/sumdb/note documentation, the
    // format c2sp.org/signed-note standardised: a published signer key,
    // verifier key and signed note.
    const GO_SIGNER_KEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VERIFIER_KEY: &str =
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n\
                           \n\
                           — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    // The example note of c2sp.org/signed-note, byte for byte.
    const SPEC_NOTE: &str = "Ognuno sta solo sul cuor della terra\n\
                             trafitto da un raggio di sole:\n\
                             \n\
                             ed è subito sera.\n\
                             \n\
                             — quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";

    fn go_signer() -> NoteSigner {
        // PRIVATE+KEY+<name>+<id>+base64(0x01 || 32-byte seed).
        let encoded = GO_SIGNER_KEY.splitn(5, '+').nth(4).unwrap();
        let bytes = decode_base64(encoded).unwrap();
        assert_eq!(bytes[0], 0x01);
        NoteSigner::new(
            "PeterNeumann",
            SigningKey::from_bytes(bytes[1..].try_into().unwrap()),
        )
        .unwrap()
    }

    #[test]
    fn the_published_go_note_verifies_with_its_published_verifier_key() {
        let key = VerifierKey::parse(GO_VERIFIER_KEY).unwrap();
        assert_eq!(key.key_id(), 0xc74f20a3);
        assert_eq!(key.to_string(), GO_VERIFIER_KEY);
        let note = Note::parse(GO_NOTE.as_bytes()).unwrap();
        let verified = note.verify(std::slice::from_ref(&key)).unwrap();
        assert!(verified.signed_by(&key));
        assert_eq!(verified.unknown, []);
        assert_eq!(note.to_string(), GO_NOTE);
    }

    #[test]
    fn signing_the_go_text_with_its_published_key_gives_its_published_note() {
        let signer = go_signer();
        assert_eq!(signer.verifier_key().to_string(), GO_VERIFIER_KEY);
        let mut note = Note::new(
            "If you think cryptography is the answer to your problem,\n\
             then you don't know what your problem is.\n",
        )
        .unwrap();
        note.add_signature(signer.sign(&note));
        assert_eq!(note.to_string(), GO_NOTE);
    }

    #[test]
    fn the_spec_example_parses_with_its_text_ending_at_the_last_blank_line() {
        let note = Note::parse(SPEC_NOTE.as_bytes()).unwrap();
        assert_eq!(
            note.text(),
            "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
        );
        let [signature] = note.signatures() else {
            panic!("one signature")
        };
        assert_eq!(signature.name(), "quasimodo.example/salvatore");
        assert_eq!(signature.key_id(), 0x367ba04b);
        assert_eq!(signature.signature().len(), 64);
        assert_eq!(note.to_string(), SPEC_NOTE);
        // Its signer is unknown here: not trusted, not fatal to parsing,
        // but a note nobody trusted signed is refused.
        let go_key = VerifierKey::parse(GO_VERIFIER_KEY).unwrap();
        assert_eq!(note.verify(&[go_key]), Err(NoteError::Unverified));
    }

    #[test]
    fn unknown_signatures_are_kept_and_a_bad_trusted_one_refuses_the_note() {
        let log = NoteSigner::new("example.com/log", test_key(1)).unwrap();
        let other = NoteSigner::new("other.example/log", test_key(2)).unwrap();
        let mut note = Note::new("hello\n").unwrap();
        note.add_signature(other.sign(&note));
        note.add_signature(log.sign(&note));
        let verified = note.verify(&[log.verifier_key().clone()]).unwrap();
        assert_eq!(verified.unknown, [other.sign(&note)]);
        assert_eq!(verified.signatures.len(), 1);
        let reparsed = Note::parse(&note.to_bytes()).unwrap();
        assert_eq!(reparsed, note);

        // Same name and ID, other bytes: the trusted key's check fails.
        let mut forged = Note::new("hello\n").unwrap();
        let mut bytes = log.sign(&forged).signature().to_vec();
        bytes[0] ^= 1;
        forged.add_signature(
            NoteSignature::new("example.com/log", log.verifier_key().key_id(), bytes).unwrap(),
        );
        assert!(matches!(
            forged.verify(&[log.verifier_key().clone()]),
            Err(NoteError::BadSignature { .. })
        ));
        // The same name with another ID is someone else's key, ignored.
        let mut lookalike = Note::new("hello\n").unwrap();
        lookalike.add_signature(
            NoteSignature::new(
                "example.com/log",
                log.verifier_key().key_id() ^ 1,
                vec![0; 64],
            )
            .unwrap(),
        );
        assert_eq!(
            lookalike.verify(&[log.verifier_key().clone()]),
            Err(NoteError::Unverified)
        );
    }

    #[test]
    fn malformed_notes_are_refused() {
        let log = NoteSigner::new("example.com/log", test_key(1)).unwrap();
        let mut note = Note::new("hello\n").unwrap();
        note.add_signature(log.sign(&note));
        let good = note.to_string();
        for bad in [
            good.replace("\n\n", "\n"),
            good.trim_end().to_owned(),
            good.replace('\u{2014}', "-"),
            good.replace("hello", "he\tllo"),
            good.replace("hello", "he\rllo"),
            good.replace("example.com/log ", "example.com/log  "),
            format!("{good}\n"),
            format!("{good}— example.com/log\n"),
            format!("{good}— example.com/log AAAA\n"),
            format!("{good}— example+com/log AAAAAAAA\n"),
        ] {
            assert!(Note::parse(bad.as_bytes()).is_err(), "{bad:?} parsed");
        }
        assert!(Note::parse(b"hello\n\n\xff\n").is_err());
        assert!(Note::new("no final newline").is_err());
        let too_many: String =
            std::iter::repeat_n(log.sign(&note).to_line(), MAX_SIGNATURES + 1).collect();
        assert!(Note::parse(format!("hello\n\n{too_many}").as_bytes()).is_err());
    }

    #[test]
    fn verifier_keys_are_checked() {
        let key = VerifierKey::parse(GO_VERIFIER_KEY).unwrap();
        let upper = GO_VERIFIER_KEY.replace("c74f20a3", "C74F20A3");
        assert_eq!(VerifierKey::parse(&upper), Ok(key));
        for (bad, error) in [
            (
                "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                "WrongKeyId",
            ),
            (
                "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                "Malformed",
            ),
            ("PeterNeumann+c74f20a3", "Malformed"),
            (
                "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                "BadKeyName",
            ),
            (
                "PeterNeumann+c74f20a3+Alpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                "UnsupportedType",
            ),
            (
                "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",
                "Malformed",
            ),
        ] {
            let got = VerifierKey::parse(bad).unwrap_err();
            assert!(format!("{got:?}").starts_with(error), "{bad}: {got:?}");
        }
    }
}
