//! c2sp.org/tlog-cosignature, Ed25519 (`cosignature/v1`): a witness's
//! timestamped statement that the checkpoint is the largest consistent one
//! it has seen of that log.
//!
//! The signed message is
//!
//! ```text
//! cosignature/v1
//! time <POSIX seconds>
//! <the checkpoint's note text>
//! ```
//!
//! and the note signature is `key ID || timestamp (u64, big-endian) ||
//! Ed25519 signature`, under a verifier key of type `0x04`. The message does
//! not name the witness, so one key must serve one witness only.

use ed25519_dalek::{Signer as _, SigningKey};

use crate::checkpoint::Checkpoint;
use crate::note::{KeyError, NoteSignature, SignatureType, VerifierKey};

/// The first line of the signed message, for domain separation.
pub const COSIGNATURE_HEADER: &str = "cosignature/v1";

/// What a cosignature signs for the note text `checkpoint_text`.
pub fn cosigned_message(checkpoint_text: &str, timestamp: u64) -> String {
    format!("{COSIGNATURE_HEADER}\ntime {timestamp}\n{checkpoint_text}")
}

/// A witness's cosigning key.
pub struct Cosigner {
    verifier: VerifierKey,
    key: SigningKey,
}

impl Cosigner {
    pub fn new(name: &str, key: SigningKey) -> Result<Self, KeyError> {
        Ok(Self {
            verifier: VerifierKey::new(name, SignatureType::Cosignature, key.verifying_key())?,
            key,
        })
    }

    /// The key (type `0x04`) that clients and policies trust.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.verifier
    }

    /// The cosignature line for `checkpoint` at `timestamp` (POSIX seconds,
    /// at most 2^63 - 1 as the spec bounds it).
    pub fn cosign(&self, checkpoint: &Checkpoint, timestamp: u64) -> NoteSignature {
        let timestamp = timestamp.min(i64::MAX as u64);
        let message = cosigned_message(&checkpoint.to_text(), timestamp);
        let mut signature = timestamp.to_be_bytes().to_vec();
        signature.extend_from_slice(&self.key.sign(message.as_bytes()).to_bytes());
        self.verifier.signature_line(signature)
    }
}

impl std::fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key is never printed.
        f.debug_struct("Cosigner")
            .field("verifier", &self.verifier.to_string())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::SignedCheckpoint;
    use crate::hash::leaf_hash;
    use crate::note::tests::test_key;
    use crate::note::{Note, NoteError, NoteSigner};

    // The example of c2sp.org/tlog-cosignature, byte for byte.
    const SPEC_EXAMPLE: &str = "example.com/behind-the-sofa\n\
        20852163\n\
        CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
        \n\
        — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
        — witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

    #[test]
    fn the_message_is_the_spec_s() {
        let checkpoint = Checkpoint::parse(
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        )
        .unwrap();
        assert_eq!(
            cosigned_message(&checkpoint.to_text(), 1679315147),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn the_spec_example_carries_a_timestamped_cosignature() {
        let signed = SignedCheckpoint::parse(SPEC_EXAMPLE.as_bytes()).unwrap();
        let [log, witness] = signed.note().signatures() else {
            panic!("two signatures")
        };
        assert_eq!(log.signature().len(), 64);
        assert_eq!(witness.name(), "witness.example.com/w1");
        // 8 bytes of time, then the Ed25519 signature.
        assert_eq!(witness.signature().len(), 72);
        assert_eq!(
            u64::from_be_bytes(witness.signature()[..8].try_into().unwrap()),
            1679315147
        );
    }

    #[test]
    fn a_cosignature_verifies_under_its_type_4_key_and_nowhere_else() {
        let log = NoteSigner::new("example.com/log", test_key(1)).unwrap();
        let witness = Cosigner::new("witness.example/w1", test_key(2)).unwrap();
        let checkpoint = Checkpoint::new("example.com/log", 5, leaf_hash(b"root")).unwrap();
        let mut signed = SignedCheckpoint::sign(checkpoint.clone(), &log);
        signed.add_signature(witness.cosign(&checkpoint, 1_700_000_000));
        let keys = [log.verifier_key().clone(), witness.verifier_key().clone()];
        let verified = signed.note().verify(&keys).unwrap();
        assert_eq!(verified.signatures.len(), 2);
        assert_eq!(verified.signatures[1].timestamp, Some(1_700_000_000));
        assert_eq!(
            witness.verifier_key().signature_type(),
            SignatureType::Cosignature
        );
        // base64(0x04 || key) starts with "B", where a type-1 key's starts with "A".
        let vkey = witness.verifier_key().to_string();
        assert!(
            vkey.splitn(3, '+').nth(2).unwrap().starts_with('B'),
            "{vkey}"
        );

        // The same Ed25519 key as a type-1 key has another ID, and a
        // cosignature is no plain signature over the text.
        let plain = VerifierKey::new(
            "witness.example/w1",
            SignatureType::Ed25519,
            *witness.verifier_key().public_key(),
        )
        .unwrap();
        assert_ne!(plain.key_id(), witness.verifier_key().key_id());
        // A cosignature for another time does not verify.
        let mut replayed = Note::new(checkpoint.to_text()).unwrap();
        let line = witness.cosign(&checkpoint, 1_700_000_000);
        let mut bytes = line.signature().to_vec();
        bytes[7] ^= 1;
        replayed.add_signature(NoteSignature::new(line.name(), line.key_id(), bytes).unwrap());
        assert!(matches!(
            replayed.verify(&[witness.verifier_key().clone()]),
            Err(NoteError::BadSignature { .. })
        ));
    }
}
