//! c2sp.org/tlog-witness `add-checkpoint`: the request, and the witness's
//! decision as a pure function of the request, the logs it trusts and what
//! it stored last for the log.
//!
//! Request body:
//!
//! ```text
//! old <size>
//! <consistency proof hash, base64>      (0 to 63 lines)
//! <blank line>
//! <signed checkpoint>
//! ```
//!
//! Answers, in the order the spec checks them: 404 unknown origin, 403 no
//! valid signature from the origin's keys, 400 old size beyond the
//! checkpoint's (or a body that does not parse), 409 old size other than the
//! stored one (body: the stored size and a newline, `text/x.tlog.size`), 422
//! a consistency proof that does not verify, 200 with one cosignature line
//! per witness key.
//!
//! A checkpoint of the stored size with another root is refused with 422,
//! where the spec's prose says 409: the spec checks the consistency proof
//! first, and from a size to the same size the proof (RFC 9162) verifies
//! only for equal roots, so a conforming witness never reaches the 409 of
//! that sentence. It is also the one refusal that proves a fork.
//!
//! [`Witness::decide`] looks at a snapshot of the stored state; the caller
//! stores [`Cosigned::latest`] only if the state is still
//! [`Cosigned::previous`] (a compare-and-swap on the old size, in the same
//! transaction), persists it, and only then answers. Losing the race means
//! deciding again against the new state, which answers 409. That is the
//! atomic check-and-store the spec requires.

use std::collections::BTreeMap;

use crate::checkpoint::SignedCheckpoint;
use crate::cosignature::Cosigner;
use crate::hash::{Hash, empty_tree_hash, encode_base64, hash_from_base64};
use crate::note::{NoteError, NoteSignature, VerifierKey};
use crate::proof::verify_consistency;
use crate::text::{parse_decimal, split_line};

/// The content type of a 409's body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The content type of a 200's body (signature lines).
pub const COSIGNATURES_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The most consistency proof lines a client may send, as the spec bounds
/// them.
pub const MAX_PROOF_LINES: usize = 63;

/// A tree head as the witness stores it per log: the size and root of the
/// latest checkpoint it cosigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeHead {
    pub size: u64,
    pub root: Hash,
}

/// The body of an `add-checkpoint` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    old_size: u64,
    consistency_proof: Vec<Hash>,
    checkpoint: SignedCheckpoint,
}

impl AddCheckpoint {
    /// A request, as a log sends it to a witness. From `old_size` 0 the
    /// proof is empty.
    pub fn new(old_size: u64, consistency_proof: Vec<Hash>, checkpoint: SignedCheckpoint) -> Self {
        Self {
            old_size,
            consistency_proof,
            checkpoint,
        }
    }

    /// Parses a request body; what does not parse is a 400.
    pub fn parse(body: &[u8]) -> Result<Self, Refusal> {
        let malformed = |why: &str| Refusal::Malformed(why.to_owned());
        let (first, mut rest) = split_line(body).ok_or_else(|| malformed("no old size line"))?;
        let old_size = first
            .strip_prefix("old ")
            .and_then(parse_decimal)
            .ok_or_else(|| malformed("the first line is `old <size>`"))?;
        let mut consistency_proof = Vec::new();
        loop {
            let (line, tail) =
                split_line(rest).ok_or_else(|| malformed("no blank line before the checkpoint"))?;
            rest = tail;
            if line.is_empty() {
                break;
            }
            if consistency_proof.len() == MAX_PROOF_LINES {
                return Err(malformed("more than 63 proof lines"));
            }
            let hash = hash_from_base64(line)
                .ok_or_else(|| malformed("a proof line is one base64 hash"))?;
            consistency_proof.push(hash);
        }
        let checkpoint =
            SignedCheckpoint::parse(rest).map_err(|error| Refusal::Malformed(error.to_string()))?;
        Ok(Self {
            old_size,
            consistency_proof,
            checkpoint,
        })
    }

    pub fn old_size(&self) -> u64 {
        self.old_size
    }

    pub fn consistency_proof(&self) -> &[Hash] {
        &self.consistency_proof
    }

    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// The log the request is about, to look up its stored state.
    pub fn origin(&self) -> &str {
        self.checkpoint.checkpoint().origin()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = format!("old {}\n", self.old_size);
        for hash in &self.consistency_proof {
            body.push_str(&encode_base64(hash));
            body.push('\n');
        }
        body.push('\n');
        let mut bytes = body.into_bytes();
        bytes.extend_from_slice(&self.checkpoint.to_bytes());
        bytes
    }
}

/// Why a witness refuses a checkpoint, and how it says so over HTTP.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("unknown log origin")]
    UnknownOrigin,
    #[error("no valid signature from the log's keys")]
    NotSignedByLog,
    #[error("old size {old_size} is beyond the checkpoint's size {size}")]
    OldSizeBeyondCheckpoint { old_size: u64, size: u64 },
    #[error("old size {old_size} is not the latest cosigned size {stored_size}")]
    StaleOldSize { old_size: u64, stored_size: u64 },
    #[error("the consistency proof does not verify")]
    BadConsistencyProof,
    #[error("a checkpoint of the cosigned size with another root")]
    RootMismatch,
}

impl Refusal {
    /// The HTTP status the spec gives this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) | Self::OldSizeBeyondCheckpoint { .. } => 400,
            Self::NotSignedByLog => 403,
            Self::UnknownOrigin => 404,
            Self::StaleOldSize { .. } => 409,
            Self::BadConsistencyProof | Self::RootMismatch => 422,
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            Self::StaleOldSize { .. } => SIZE_CONTENT_TYPE,
            _ => "text/plain; charset=utf-8",
        }
    }

    /// The response body: for a 409 exactly the stored size and a newline,
    /// for the others a line saying why.
    pub fn body(&self) -> String {
        match self {
            Self::StaleOldSize { stored_size, .. } => format!("{stored_size}\n"),
            other => format!("{other}\n"),
        }
    }
}

/// A checkpoint the log validly signed that contradicts what the witness
/// cosigned: the caller keeps it, as the spec allows, for it may prove that
/// the log shows two histories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkEvidence {
    pub kind: ForkKind,
    /// What the witness had cosigned.
    pub cosigned: TreeHead,
    /// The request as sent: its old size, proof and signed checkpoint.
    pub request: AddCheckpoint,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForkKind {
    /// The cosigned size with another root: two trees of one size.
    SameSizeOtherRoot,
    /// A larger tree with no valid proof that it extends the cosigned one.
    NoConsistencyProof,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub refusal: Refusal,
    /// Set when the refused checkpoint carried a valid log signature and
    /// contradicts the cosigned state. Boxed: it holds the whole request,
    /// and is rare.
    pub fork_evidence: Option<Box<ForkEvidence>>,
}

impl From<Refusal> for Refused {
    fn from(refusal: Refusal) -> Self {
        Self {
            refusal,
            fork_evidence: None,
        }
    }
}

/// A checkpoint accepted and cosigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// The state the decision was made against (`None`: never cosigned).
    pub previous: Option<TreeHead>,
    /// The state to store, if the stored one is still `previous`.
    pub latest: TreeHead,
    pub checkpoint: SignedCheckpoint,
    /// One per witness key, in the witness's order.
    pub cosignatures: Vec<NoteSignature>,
}

impl Cosigned {
    /// The 200 response body: the cosignature lines.
    pub fn body(&self) -> String {
        self.cosignatures
            .iter()
            .map(NoteSignature::to_line)
            .collect()
    }
}

/// A witness: its cosigning keys, and for each log it witnesses (by origin)
/// the keys that may sign the log's checkpoints.
#[derive(Debug)]
pub struct Witness {
    cosigners: Vec<Cosigner>,
    logs: BTreeMap<String, Vec<VerifierKey>>,
}

impl Witness {
    pub fn new(cosigner: Cosigner) -> Self {
        Self {
            cosigners: vec![cosigner],
            logs: BTreeMap::new(),
        }
    }

    /// Cosigns with a further key too (during a key rotation, say).
    pub fn add_cosigner(&mut self, cosigner: Cosigner) {
        self.cosigners.push(cosigner);
    }

    /// Witnesses the log `origin`, whose checkpoints `keys` sign.
    pub fn trust_log(&mut self, origin: &str, keys: Vec<VerifierKey>) {
        self.logs.insert(origin.to_owned(), keys);
    }

    pub fn verifier_keys(&self) -> impl Iterator<Item = &VerifierKey> {
        self.cosigners.iter().map(Cosigner::verifier_key)
    }

    /// Decides on `request` given `stored`, the latest tree head cosigned
    /// for its origin (`None` if never), at time `now` (POSIX seconds).
    pub fn decide(
        &self,
        request: &AddCheckpoint,
        stored: Option<&TreeHead>,
        now: u64,
    ) -> Result<Cosigned, Refused> {
        let signed = &request.checkpoint;
        let checkpoint = signed.checkpoint();
        let keys = self
            .logs
            .get(checkpoint.origin())
            .ok_or(Refusal::UnknownOrigin)?;
        signed.verify(keys).map_err(|_| Refusal::NotSignedByLog)?;
        let old_size = request.old_size;
        if old_size > checkpoint.size() {
            return Err(Refusal::OldSizeBeyondCheckpoint {
                old_size,
                size: checkpoint.size(),
            }
            .into());
        }
        // Never cosigned is the empty tree, which every tree extends.
        let cosigned = stored.copied().unwrap_or(TreeHead {
            size: 0,
            root: empty_tree_hash(),
        });
        if old_size != cosigned.size {
            return Err(Refusal::StaleOldSize {
                old_size,
                stored_size: cosigned.size,
            }
            .into());
        }
        let latest = TreeHead {
            size: checkpoint.size(),
            root: *checkpoint.root(),
        };
        let fork = |kind, refusal| Refused {
            refusal,
            fork_evidence: Some(Box::new(ForkEvidence {
                kind,
                cosigned,
                request: request.clone(),
            })),
        };
        if latest.size == cosigned.size && latest.root != cosigned.root {
            return Err(fork(ForkKind::SameSizeOtherRoot, Refusal::RootMismatch));
        }
        let proof = &request.consistency_proof;
        if old_size == 0 || latest.size == cosigned.size {
            if !proof.is_empty() {
                return Err(Refusal::BadConsistencyProof.into());
            }
        } else if verify_consistency(old_size, latest.size, proof, &cosigned.root, &latest.root)
            .is_err()
        {
            return Err(fork(
                ForkKind::NoConsistencyProof,
                Refusal::BadConsistencyProof,
            ));
        }
        Ok(Cosigned {
            previous: stored.copied(),
            latest,
            checkpoint: signed.clone(),
            cosignatures: self
                .cosigners
                .iter()
                .map(|cosigner| cosigner.cosign(checkpoint, now))
                .collect(),
        })
    }
}

/// The signature lines of a 200 answer, for the log that asked: add them to
/// the checkpoint, then verify it with the witness keys it trusts.
pub fn parse_cosignatures(body: &str) -> Result<Vec<NoteSignature>, NoteError> {
    if !body.ends_with('\n') {
        return Err(NoteError::Malformed("signature lines end in a newline"));
    }
    body.lines().map(NoteSignature::parse_line).collect()
}

/// The stored size in a 409 answer's `text/x.tlog.size` body.
pub fn parse_size_body(body: &str) -> Option<u64> {
    body.strip_suffix('\n').and_then(parse_decimal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::hash::leaf_hash;
    use crate::note::NoteSigner;
    use crate::note::tests::test_key;
    use crate::tile::TileSet;
    use crate::tree::{append, consistency_proof};

    const ORIGIN: &str = "registry.example/cn/log";
    const NOW: u64 = 1_700_000_000;

    struct Log {
        signer: NoteSigner,
        tiles: TileSet,
        heads: Vec<TreeHead>,
    }

    impl Log {
        /// A log grown to each of `sizes` in turn.
        fn grown(sizes: &[u64]) -> Self {
            let mut log = Self {
                signer: NoteSigner::new(ORIGIN, test_key(1)).unwrap(),
                tiles: TileSet::new(),
                heads: vec![TreeHead {
                    size: 0,
                    root: empty_tree_hash(),
                }],
            };
            for &size in sizes {
                let old = log.heads.last().unwrap().size;
                let leaves: Vec<Hash> = (old..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
                let appended = append(&log.tiles, old, &leaves).unwrap();
                for (tile, data) in appended.tiles {
                    log.tiles.insert(tile, data);
                }
                log.heads.push(TreeHead {
                    size,
                    root: appended.tree_hash,
                });
            }
            log
        }

        fn signed(&self, head: TreeHead) -> SignedCheckpoint {
            SignedCheckpoint::sign(
                Checkpoint::new(ORIGIN, head.size, head.root).unwrap(),
                &self.signer,
            )
        }

        fn head(&self, size: u64) -> TreeHead {
            *self.heads.iter().find(|head| head.size == size).unwrap()
        }

        /// An honest request from `old` to `new`.
        fn request(&self, old: u64, new: u64) -> AddCheckpoint {
            AddCheckpoint::new(
                old,
                consistency_proof(&self.tiles, old, new).unwrap(),
                self.signed(self.head(new)),
            )
        }
    }

    fn witness(log: &Log) -> Witness {
        let mut witness = Witness::new(Cosigner::new("witness.example/de", test_key(9)).unwrap());
        witness.trust_log(ORIGIN, vec![log.signer.verifier_key().clone()]);
        witness
    }

    fn status(result: &Result<Cosigned, Refused>) -> u16 {
        match result {
            Ok(_) => 200,
            Err(refused) => refused.refusal.status(),
        }
    }

    #[test]
    fn the_spec_example_request_parses_and_formats_back() {
        let body = "old 20852014\n\
            PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\
            jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\
            5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n\
            /6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\
            \n\
            example.com/behind-the-sofa\n\
            20852163\n\
            CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
            \n\
            — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
            — example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n";
        let request = AddCheckpoint::parse(body.as_bytes()).unwrap();
        assert_eq!(request.old_size(), 20852014);
        assert_eq!(request.consistency_proof().len(), 4);
        assert_eq!(request.origin(), "example.com/behind-the-sofa");
        assert_eq!(request.checkpoint().note().signatures().len(), 2);
        assert_eq!(request.to_bytes(), body.as_bytes());
    }

    #[test]
    fn malformed_requests_are_400() {
        let log = Log::grown(&[3]);
        let good = String::from_utf8(log.request(0, 3).to_bytes()).unwrap();
        let proof_line = format!("{}\n", encode_base64(&[0; 32]));
        for bad in [
            String::new(),
            good.replacen("old 0", "old 00", 1),
            good.replacen("old 0", "old -1", 1),
            good.replacen("old 0", "Old 0", 1),
            good.replacen("old 0\n\n", "old 0\n", 1),
            good.replacen("old 0\n", &format!("old 0\n{}", "AAAA\n"), 1),
            good.replacen("old 0\n", &format!("old 0\n{}", proof_line.repeat(64)), 1),
            "old 0\n\nnot a checkpoint\n".to_owned(),
        ] {
            let refusal = AddCheckpoint::parse(bad.as_bytes()).unwrap_err();
            assert_eq!(refusal.status(), 400, "{bad:?}");
        }
        let sixty_three = good.replacen("old 0\n", &format!("old 0\n{}", proof_line.repeat(63)), 1);
        assert_eq!(
            AddCheckpoint::parse(sixty_three.as_bytes())
                .unwrap()
                .consistency_proof()
                .len(),
            63
        );
    }

    #[test]
    fn a_first_checkpoint_and_then_each_consistent_one_are_cosigned() {
        let log = Log::grown(&[5, 300, 300, 1000]);
        let witness = witness(&log);
        let first = witness.decide(&log.request(0, 5), None, NOW).unwrap();
        assert_eq!(first.previous, None);
        assert_eq!(first.latest, log.head(5));
        // The answer is cosignature lines the log verifies with the witness key.
        let lines = parse_cosignatures(&first.body()).unwrap();
        let mut cosigned = log.signed(log.head(5));
        for line in lines {
            cosigned.add_signature(line);
        }
        let keys: Vec<VerifierKey> = witness.verifier_keys().cloned().collect();
        let verified = cosigned.verify(&keys).unwrap();
        assert_eq!(verified.signatures[0].timestamp, Some(NOW));

        let second = witness
            .decide(&log.request(5, 300), Some(&first.latest), NOW)
            .unwrap();
        assert_eq!(second.previous, Some(log.head(5)));
        assert_eq!(second.latest, log.head(300));
        // The same checkpoint again: cosigned, nothing to store anew.
        let again = witness
            .decide(&log.request(300, 300), Some(&second.latest), NOW)
            .unwrap();
        assert_eq!(again.previous, Some(again.latest));
        let third = witness
            .decide(&log.request(300, 1000), Some(&again.latest), NOW)
            .unwrap();
        assert_eq!(third.latest, log.head(1000));
    }

    #[test]
    fn every_refusal_of_the_spec_has_its_status() {
        let log = Log::grown(&[5, 8, 20]);
        let witness = witness(&log);
        let stored = log.head(8);

        // 404: a log this witness does not witness.
        let stranger = NoteSigner::new("elsewhere.example/log", test_key(3)).unwrap();
        let foreign = AddCheckpoint::new(
            0,
            vec![],
            SignedCheckpoint::sign(
                Checkpoint::new("elsewhere.example/log", 1, leaf_hash(b"a")).unwrap(),
                &stranger,
            ),
        );
        assert_eq!(status(&witness.decide(&foreign, None, NOW)), 404);

        // 403: the right origin, signed by someone else's key of that name.
        let impostor = NoteSigner::new(ORIGIN, test_key(4)).unwrap();
        let unsigned = AddCheckpoint::new(
            8,
            vec![],
            SignedCheckpoint::sign(Checkpoint::new(ORIGIN, 8, stored.root).unwrap(), &impostor),
        );
        assert_eq!(status(&witness.decide(&unsigned, Some(&stored), NOW)), 403);

        // 400: old size beyond the checkpoint.
        let backwards = AddCheckpoint::new(20, vec![], log.signed(log.head(8)));
        let refused = witness
            .decide(&backwards, Some(&log.head(20)), NOW)
            .unwrap_err();
        assert_eq!(refused.refusal.status(), 400);

        // 409: a stale old size, answering the stored size.
        let stale = witness
            .decide(&log.request(5, 20), Some(&stored), NOW)
            .unwrap_err();
        assert_eq!(stale.refusal.status(), 409);
        assert_eq!(stale.refusal.content_type(), "text/x.tlog.size");
        assert_eq!(stale.refusal.body(), "8\n");
        assert_eq!(parse_size_body(&stale.refusal.body()), Some(8));
        assert_eq!(stale.fork_evidence, None);
        // From nothing stored, any old size but 0 is stale.
        let unseen = witness.decide(&log.request(5, 20), None, NOW).unwrap_err();
        assert_eq!(unseen.refusal.body(), "0\n");

        // 422: a proof that does not verify, with valid log signature: evidence.
        let mut bad_proof = log.request(8, 20);
        bad_proof.consistency_proof[0][0] ^= 1;
        let refused = witness.decide(&bad_proof, Some(&stored), NOW).unwrap_err();
        assert_eq!(refused.refusal.status(), 422);
        let evidence = refused.fork_evidence.unwrap();
        assert_eq!(evidence.kind, ForkKind::NoConsistencyProof);
        assert_eq!(evidence.cosigned, stored);
        assert_eq!(evidence.request, bad_proof);

        // 422: a non-empty proof from old size 0 is no proof, but no fork either.
        let mut from_zero = log.request(0, 5);
        from_zero.consistency_proof.push(leaf_hash(b"x"));
        let refused = witness.decide(&from_zero, None, NOW).unwrap_err();
        assert_eq!(
            (refused.refusal.status(), refused.fork_evidence),
            (422, None)
        );
    }

    #[test]
    fn a_fork_signed_with_the_real_log_key_is_refused_and_kept() {
        // The log shows a second history: the same size with another root,
        // and a larger tree that does not extend the cosigned one.
        let log = Log::grown(&[8, 20]);
        let other = Log::grown(&[3, 8, 20]);
        let witness = witness(&log);
        let stored = log.head(8);

        let forked_root = leaf_hash(b"another root");
        let same_size = AddCheckpoint::new(
            8,
            vec![],
            log.signed(TreeHead {
                size: 8,
                root: forked_root,
            }),
        );
        let refused = witness.decide(&same_size, Some(&stored), NOW).unwrap_err();
        assert_eq!(refused.refusal, Refusal::RootMismatch);
        assert_eq!(refused.refusal.status(), 422);
        assert_eq!(
            refused.fork_evidence.unwrap().kind,
            ForkKind::SameSizeOtherRoot
        );

        // A history whose leaves differ: its honest proof cannot bridge to ours.
        let other_history = AddCheckpoint::new(
            8,
            consistency_proof(&other.tiles, 8, 20).unwrap(),
            log.signed(TreeHead {
                size: 20,
                root: leaf_hash(b"root of another tree"),
            }),
        );
        let refused = witness
            .decide(&other_history, Some(&stored), NOW)
            .unwrap_err();
        assert_eq!(refused.refusal.status(), 422);
        assert_eq!(
            refused.fork_evidence.unwrap().kind,
            ForkKind::NoConsistencyProof
        );

        // A first checkpoint of size 0 must be the empty tree.
        let empty_lie = AddCheckpoint::new(
            0,
            vec![],
            log.signed(TreeHead {
                size: 0,
                root: forked_root,
            }),
        );
        let refused = witness.decide(&empty_lie, None, NOW).unwrap_err();
        assert_eq!(
            refused.fork_evidence.unwrap().kind,
            ForkKind::SameSizeOtherRoot
        );
    }

    #[test]
    fn unknown_cosignatures_on_the_submitted_checkpoint_do_not_matter() {
        let log = Log::grown(&[4]);
        let witness = witness(&log);
        let other_witness = Cosigner::new("witness.example/fr", test_key(5)).unwrap();
        let mut request = log.request(0, 4);
        let checkpoint = request.checkpoint.checkpoint().clone();
        request
            .checkpoint
            .add_signature(other_witness.cosign(&checkpoint, NOW));
        let parsed = AddCheckpoint::parse(&request.to_bytes()).unwrap();
        assert_eq!(status(&witness.decide(&parsed, None, NOW)), 200);
    }
}
