//! Checking inclusion and consistency proofs, as RFC 9162 §2.1.3.2 and
//! §2.1.4.2 give the algorithms.
//!
//! Hashes are taken as bytes, as they arrive from a peer: a value of the
//! wrong length is the verifier's to refuse, not the caller's to drop. A
//! hash that must be combined must be 32 bytes; roots are only compared, so
//! two equal sizes with byte-identical roots prove consistency whatever the
//! bytes are (as the transparency-dev test vectors have it).

use crate::hash::{Hash, node_hash};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexBeyondSize { index: u64, size: u64 },
    #[error("old size {old} is beyond new size {new}")]
    OldSizeBeyondNewSize { old: u64, new: u64 },
    #[error("a consistency proof from the empty tree proves nothing")]
    FromEmptyTree,
    #[error("a hash in the proof is {0} bytes, not 32")]
    MalformedHash(usize),
    #[error("the proof has the wrong number of hashes for these sizes")]
    WrongLength,
    #[error("the proof does not lead to the root")]
    RootMismatch,
}

/// Checks that `leaf_hash` is the leaf at `index` of the tree of `size`
/// leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: &[u8],
    proof: &[impl AsRef<[u8]>],
    root: &[u8],
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let leaf = as_hash(leaf_hash)?;
    let computed = root_from_inclusion_proof(index, size, &leaf, proof)?;
    if computed.as_slice() == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// The root that `proof` leads to from `leaf_hash` at `index` in a tree of
/// `size` leaves; the caller compares it with the root it trusts.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[impl AsRef<[u8]>],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let mut fn_ = index;
    let mut sn = size - 1;
    let mut r = *leaf_hash;
    for p in proof {
        let p = as_hash(p.as_ref())?;
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(&p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, &p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    Ok(r)
}

/// Checks that the tree of `new_size` leaves with root `new_root` extends
/// the tree of `old_size` leaves with root `old_root` (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots. An old size of zero is
/// refused: every tree extends the empty one, so such a "proof" would say
/// nothing, and a caller that meant it (a witness seeing a log for the first
/// time) has no proof to check.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &[impl AsRef<[u8]>],
    old_root: &[u8],
    new_root: &[u8],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::OldSizeBeyondNewSize {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 {
        return Err(ProofError::FromEmptyTree);
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let mut path = proof
        .iter()
        .map(|p| as_hash(p.as_ref()))
        .collect::<Result<Vec<Hash>, _>>()?;
    if path.is_empty() {
        return Err(ProofError::WrongLength);
    }
    // When the old tree is a complete subtree its root is the first node of
    // the path, and the proof leaves it out.
    if old_size.is_power_of_two() {
        path.insert(0, as_hash(old_root)?);
    }
    let mut fn_ = old_size - 1;
    let mut sn = new_size - 1;
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr.as_slice() == old_root && sr.as_slice() == new_root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

fn as_hash(bytes: &[u8]) -> Result<Hash, ProofError> {
    bytes
        .try_into()
        .map_err(|_| ProofError::MalformedHash(bytes.len()))
}
