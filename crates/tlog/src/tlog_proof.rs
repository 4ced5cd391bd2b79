//! c2sp.org/tlog-proof: an entry's inclusion under a (cosigned) checkpoint,
//! in one text file that verifies offline against a policy.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64>]
//! index <entry index>
//! <inclusion proof hash, base64>      (leaf's sibling first)
//! <blank line>
//! <signed checkpoint, verbatim>
//! ```
//!
//! The extra data is not authenticated by the bundle itself. Robot ID puts
//! the log entry there, so that a verifier holding only the policy can hash
//! it and check its inclusion: the inclusion proof is then what vouches for
//! it.

use std::fmt;

use crate::checkpoint::{CheckpointError, SignedCheckpoint};
use crate::hash::{Hash, decode_base64, encode_base64, hash_from_base64};
use crate::policy::{Policy, PolicyError, PolicyVerdict};
use crate::proof::{ProofError, verify_inclusion};
use crate::text::{parse_decimal, split_line};

/// The first line of every bundle.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// An inclusion proof in a tree of up to 2^64 - 1 leaves has at most 64
/// hashes.
const MAX_PROOF_HASHES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofBundleError {
    #[error("malformed proof bundle: {0}")]
    Malformed(&'static str),
    #[error("the bundle's checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("the bundle's checkpoint does not meet the policy: {0}")]
    Policy(#[from] PolicyError),
    #[error("the inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofBundle {
    extra: Option<Vec<u8>>,
    index: u64,
    inclusion_proof: Vec<Hash>,
    checkpoint: SignedCheckpoint,
}

impl ProofBundle {
    /// The proof that the entry at `index` is in `checkpoint`'s tree; see
    /// [`crate::tree::inclusion_proof`] at the checkpoint's size.
    pub fn new(index: u64, inclusion_proof: Vec<Hash>, checkpoint: SignedCheckpoint) -> Self {
        Self {
            extra: None,
            index,
            inclusion_proof,
            checkpoint,
        }
    }

    /// Carries `extra` (non-empty) in the bundle.
    pub fn with_extra(mut self, extra: Vec<u8>) -> Self {
        self.extra = (!extra.is_empty()).then_some(extra);
        self
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, ProofBundleError> {
        let malformed = ProofBundleError::Malformed;
        let (header, mut rest) = split_line(bytes).ok_or(malformed("no header line"))?;
        if header != PROOF_HEADER {
            return Err(malformed("the first line is c2sp.org/tlog-proof@v1"));
        }
        let (mut line, tail) = split_line(rest).ok_or(malformed("no index line"))?;
        rest = tail;
        let mut extra = None;
        if let Some(encoded) = line.strip_prefix("extra ") {
            let data = decode_base64(encoded)
                .filter(|data| !data.is_empty())
                .ok_or(malformed("extra is non-empty base64"))?;
            extra = Some(data);
            (line, rest) = split_line(rest).ok_or(malformed("no index line"))?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(malformed("the index line is `index <decimal>`"))?;
        let mut inclusion_proof = Vec::new();
        loop {
            let (line, tail) =
                split_line(rest).ok_or(malformed("no blank line before the checkpoint"))?;
            rest = tail;
            if line.is_empty() {
                break;
            }
            if inclusion_proof.len() == MAX_PROOF_HASHES {
                return Err(malformed("more proof hashes than any tree needs"));
            }
            inclusion_proof
                .push(hash_from_base64(line).ok_or(malformed("a proof line is one base64 hash"))?);
        }
        Ok(Self {
            extra,
            index,
            inclusion_proof,
            checkpoint: SignedCheckpoint::parse(rest)?,
        })
    }

    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    pub fn index(&self) -> u64 {
        self.index
    }

    pub fn inclusion_proof(&self) -> &[Hash] {
        &self.inclusion_proof
    }

    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// Checks offline that the checkpoint meets `policy` and that the entry
    /// whose leaf hash is `leaf_hash` is at the bundle's index in its tree.
    pub fn verify(
        &self,
        leaf_hash: &Hash,
        policy: &Policy,
    ) -> Result<PolicyVerdict, ProofBundleError> {
        let verdict = policy.evaluate(&self.checkpoint)?;
        let checkpoint = self.checkpoint.checkpoint();
        verify_inclusion(
            self.index,
            checkpoint.size(),
            leaf_hash,
            &self.inclusion_proof,
            checkpoint.root(),
        )?;
        Ok(verdict)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for ProofBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{PROOF_HEADER}")?;
        if let Some(extra) = &self.extra {
            writeln!(f, "extra {}", encode_base64(extra))?;
        }
        writeln!(f, "index {}", self.index)?;
        for hash in &self.inclusion_proof {
            writeln!(f, "{}", encode_base64(hash))?;
        }
        writeln!(f)?;
        self.checkpoint.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::hash::leaf_hash;
    use crate::policy::tests::{NOW, ORIGIN, log_signer, spec_example_policy, witnesses};
    use crate::tile::TileSet;
    use crate::tree::{append, inclusion_proof};

    fn entries() -> Vec<Vec<u8>> {
        (0..600u32)
            .map(|i| format!("event {i}").into_bytes())
            .collect()
    }

    /// A bundle for entry `index` under a checkpoint cosigned by `names`.
    fn cosigned_bundle(index: u64, names: &[&str]) -> ProofBundle {
        let leaves: Vec<Hash> = entries().iter().map(|e| leaf_hash(e)).collect();
        let mut tiles = TileSet::new();
        let appended = append(&tiles, 0, &leaves).unwrap();
        for (tile, data) in appended.tiles {
            tiles.insert(tile, data);
        }
        let checkpoint = Checkpoint::new(ORIGIN, appended.tree_size, appended.tree_hash).unwrap();
        let mut signed = SignedCheckpoint::sign(checkpoint.clone(), &log_signer());
        for (name, cosigner) in witnesses() {
            if names.contains(&name.as_str()) {
                signed.add_signature(cosigner.cosign(&checkpoint, NOW));
            }
        }
        let proof = inclusion_proof(&tiles, index, appended.tree_size).unwrap();
        ProofBundle::new(index, proof, signed).with_extra(entries()[index as usize].clone())
    }

    #[test]
    fn a_bundle_verifies_offline_against_the_policy() {
        let policy = Policy::parse(spec_example_policy().as_bytes()).unwrap();
        let bundle = cosigned_bundle(517, &["X2", "X3", "Y1"]);
        let text = bundle.to_string();
        assert!(
            text.starts_with("c2sp.org/tlog-proof@v1\nextra ZXZlbnQgNTE3\nindex 517\n"),
            "{text}"
        );
        let parsed = ProofBundle::parse(text.as_bytes()).unwrap();
        assert_eq!(parsed, bundle);
        let leaf = leaf_hash(parsed.extra().unwrap());
        let verdict = parsed.verify(&leaf, &policy).unwrap();
        assert_eq!(verdict.cosigned_by, ["X2", "X3", "Y1"]);
        // Another entry, another index, or too few witnesses: refused.
        assert!(matches!(
            parsed.verify(&leaf_hash(b"event 516"), &policy),
            Err(ProofBundleError::Inclusion(_))
        ));
        let moved = ProofBundle::new(
            516,
            parsed.inclusion_proof().to_vec(),
            parsed.checkpoint().clone(),
        );
        assert!(moved.verify(&leaf, &policy).is_err());
        assert!(matches!(
            cosigned_bundle(517, &["X2", "Y1"]).verify(&leaf, &policy),
            Err(ProofBundleError::Policy(PolicyError::QuorumNotMet { .. }))
        ));
    }

    #[test]
    fn the_spec_layout_without_extra_parses() {
        let without = ProofBundle::new(
            3,
            cosigned_bundle(3, &[]).inclusion_proof().to_vec(),
            cosigned_bundle(3, &[]).checkpoint().clone(),
        );
        let text = without.to_string();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 3\n"));
        assert_eq!(ProofBundle::parse(text.as_bytes()).unwrap(), without);
    }

    #[test]
    fn malformed_bundles_are_refused() {
        let good = cosigned_bundle(5, &[]).to_string();
        for bad in [
            good.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
            good.replacen("index 5", "index 05", 1),
            good.replacen("index 5", "index", 1),
            good.replacen("extra ", "extra  ", 1),
            good.replacen("extra ZXZlbnQgNQ==\n", "extra \n", 1),
            good.replacen(
                "extra ZXZlbnQgNQ==\nindex 5\n",
                "index 5\nextra ZXZlbnQgNQ==\n",
                1,
            ),
            good.replacen("\n\n", "\n", 1),
            good.replacen("index 5\n", "index 5\nAAAA\n", 1),
            good.lines().take(4).collect::<Vec<_>>().join("\n"),
        ] {
            assert!(
                ProofBundle::parse(bad.as_bytes()).is_err(),
                "{bad:?} parsed"
            );
        }
    }
}
