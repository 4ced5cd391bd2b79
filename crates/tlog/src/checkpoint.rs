//! c2sp.org/tlog-checkpoint: the signed tree head, as the text of a signed
//! note.
//!
//! ```text
//! <origin>
//! <tree size, decimal, no leading zeroes>
//! <root hash, base64>
//! [<extension line, non-empty>…]
//! ```
//!
//! The origin names the log; tlog-tiles recommends its URL prefix without
//! the scheme and trailing slashes ([`origin_from_prefix`]).

use std::fmt;

use crate::hash::{Hash, hash_from_base64, hash_to_base64};
use crate::note::{Note, NoteError, NoteSignature, NoteSigner, Verified, VerifierKey};
use crate::text::parse_decimal;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// A log's tree head: its origin, size and root, and any extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        check_line(origin, "the origin is one non-empty line")?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Adds an extension line (not recommended by the spec: monitors cannot
    /// audit them).
    pub fn with_extension(mut self, line: &str) -> Result<Self, CheckpointError> {
        check_line(line, "an extension is one non-empty line")?;
        self.extensions.push(line.to_owned());
        Ok(self)
    }

    /// Parses a note text as a checkpoint, with the spec's strictness.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::Malformed("the text ends in a newline"))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::Malformed("origin, size and root"));
        };
        let size = parse_decimal(size).ok_or(CheckpointError::Malformed(
            "the size is decimal with no leading zeroes",
        ))?;
        let root = hash_from_base64(root)
            .ok_or(CheckpointError::Malformed("the root is 32 bytes, base64"))?;
        let mut checkpoint = Self::new(origin, size, root)?;
        for line in lines {
            checkpoint = checkpoint.with_extension(line)?;
        }
        Ok(checkpoint)
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn root(&self) -> &Hash {
        &self.root
    }

    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text: every line, each ending in a newline.
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            hash_to_base64(&self.root)
        )?;
        for line in &self.extensions {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// A checkpoint with its note: the log's signature and any cosignatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: Note,
}

impl SignedCheckpoint {
    /// Parses a signed note whose text is a checkpoint. Nothing is verified.
    pub fn parse(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let note = Note::parse(bytes)?;
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok(Self { checkpoint, note })
    }

    /// The log signs `checkpoint`.
    pub fn sign(checkpoint: Checkpoint, signer: &NoteSigner) -> Self {
        let mut note = Note::new(checkpoint.to_text()).expect("a checkpoint is a valid note text");
        note.add_signature(signer.sign(&note));
        Self { checkpoint, note }
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    pub fn note(&self) -> &Note {
        &self.note
    }

    /// Adds a signature line, such as a witness's cosignature.
    pub fn add_signature(&mut self, signature: NoteSignature) {
        self.note.add_signature(signature);
    }

    /// Checks the signatures against the trusted `keys` (log keys and
    /// witness keys alike), as [`Note::verify`] does.
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<Verified, CheckpointError> {
        Ok(self.note.verify(keys)?)
    }

    /// The signed note as served at `<prefix>/checkpoint`.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.note.to_bytes()
    }
}

impl fmt::Display for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.note.fmt(f)
    }
}

/// The origin tlog-tiles recommends for a log served at `prefix`: the URL
/// without its scheme and trailing slashes (`https://example.com/log/` is
/// `example.com/log`).
pub fn origin_from_prefix(prefix: &str) -> String {
    let without_scheme = prefix.split_once("://").map_or(prefix, |(_, rest)| rest);
    without_scheme.trim_end_matches('/').to_owned()
}

fn check_line(line: &str, what: &'static str) -> Result<(), CheckpointError> {
    if line.is_empty() || line.bytes().any(|b| b < 0x20) {
        return Err(CheckpointError::Malformed(what));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{empty_tree_hash, leaf_hash};
    use crate::note::tests::test_key;

    // The example of c2sp.org/tlog-checkpoint.
    const SPEC_TEXT: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn the_spec_example_parses_and_formats_back() {
        let checkpoint = Checkpoint::parse(SPEC_TEXT).unwrap();
        assert_eq!(checkpoint.origin(), "example.com/behind-the-sofa");
        assert_eq!(checkpoint.size(), 20852163);
        assert_eq!(
            hash_to_base64(checkpoint.root()),
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
        );
        assert_eq!(checkpoint.to_text(), SPEC_TEXT);
        let extended = format!("{SPEC_TEXT}one\ntwo\n");
        let parsed = Checkpoint::parse(&extended).unwrap();
        assert_eq!(parsed.extensions(), ["one", "two"]);
        assert_eq!(parsed.to_text(), extended);
    }

    #[test]
    fn anything_off_the_format_is_refused() {
        let root = hash_to_base64(&empty_tree_hash());
        for bad in [
            String::new(),
            "example.com/log\n0\n".to_owned(),
            format!("example.com/log\n0\n{root}"),
            format!("\n0\n{root}\n"),
            format!("example.com/log\n00\n{root}\n"),
            format!("example.com/log\n01\n{root}\n"),
            format!("example.com/log\n+1\n{root}\n"),
            format!("example.com/log\n-1\n{root}\n"),
            format!("example.com/log\n 1\n{root}\n"),
            format!("example.com/log\n18446744073709551616\n{root}\n"),
            format!("example.com/log\n1\n{}\n", root.trim_end_matches('=')),
            format!(
                "example.com/log\n1\n{}\n",
                hash_to_base64(&[0; 32])[..40].to_owned() + "AA=="
            ),
            format!("example.com/log\n1\n{root}\n\n"),
            format!("example.com/log\n1\n{root}\nextension\n\nmore\n"),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?} parsed");
        }
        assert!(
            Checkpoint::parse(&format!("example.com/log\n18446744073709551615\n{root}\n")).is_ok()
        );
    }

    #[test]
    fn a_signed_checkpoint_travels_as_a_signed_note() {
        let signer = NoteSigner::new("example.com/log", test_key(7)).unwrap();
        let checkpoint = Checkpoint::new("example.com/log", 3, leaf_hash(b"x")).unwrap();
        let signed = SignedCheckpoint::sign(checkpoint.clone(), &signer);
        let parsed = SignedCheckpoint::parse(&signed.to_bytes()).unwrap();
        assert_eq!(parsed, signed);
        assert_eq!(parsed.checkpoint(), &checkpoint);
        assert!(
            parsed
                .verify(&[signer.verifier_key().clone()])
                .unwrap()
                .signed_by(signer.verifier_key())
        );
        let text = String::from_utf8(signed.to_bytes()).unwrap();
        assert!(text.starts_with("example.com/log\n3\n"));
        assert!(
            SignedCheckpoint::parse(b"not\na\ncheckpoint\n\n\xe2\x80\x94 x AAAAAAA=\n").is_err()
        );
    }

    #[test]
    fn the_origin_is_the_prefix_without_scheme_or_trailing_slashes() {
        assert_eq!(
            origin_from_prefix("https://rome.ct.example.com/tevere/"),
            "rome.ct.example.com/tevere"
        );
        assert_eq!(
            origin_from_prefix("http://127.0.0.1:8080/log//"),
            "127.0.0.1:8080/log"
        );
        assert_eq!(origin_from_prefix("example.com/log"), "example.com/log");
    }
}
