//! RFC 6962 §2.1 hashing with SHA-256: a leaf is `SHA-256(0x00 || entry)`,
//! an interior node `SHA-256(0x01 || left || right)`. The two prefixes keep a
//! leaf from ever being taken for a node (second-preimage resistance).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// Bytes in a SHA-256 hash, and so in every tree hash.
pub const HASH_SIZE: usize = 32;

/// A Merkle tree hash: a leaf hash, a node hash or a root.
///
/// A plain array, so that it is what `sha2` gives, what tiles hold
/// (tiles are such hashes end to end) and what a `&[u8]` parameter takes.
pub type Hash = [u8; HASH_SIZE];

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// The hash of a log entry as a leaf of the tree.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(entry);
    hasher.finalize().into()
}

/// The hash of an interior node from its two children.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: SHA-256 of nothing (RFC 6962 §2.1).
pub fn empty_tree_hash() -> Hash {
    Sha256::digest([]).into()
}

/// Standard base64 (RFC 4648 §4), as every C2SP text format writes hashes.
pub fn hash_to_base64(hash: &Hash) -> String {
    encode_base64(hash)
}

/// A base64 hash as the C2SP formats write it: canonical standard base64 of
/// exactly 32 bytes, nothing else.
pub fn hash_from_base64(text: &str) -> Option<Hash> {
    decode_base64(text)?.try_into().ok()
}

/// Canonical standard base64: padding required, no stray bits, no
/// whitespace; text that some other encoder would write differently is
/// refused, so one value has one spelling in signed text.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The Merkle tree hash of a complete subtree whose leaves (or lower
/// nodes) are `hashes`, whose count is a power of two.
pub(crate) fn complete_subtree_hash(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    let mut level = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(hash: &Hash) -> String {
        hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    // Known answers from RFC 6962's reference test data (as used by
    // transparency-dev/merkle): the empty tree, the empty leaf, and the
    // tree over the leaf inputs "" and "\x00".
    #[test]
    fn hashes_match_the_rfc_6962_known_answers() {
        assert_eq!(
            hex(&empty_tree_hash()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(
            hex(&node_hash(&leaf_hash(b""), &leaf_hash(&[0]))),
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
        );
    }

    #[test]
    fn base64_hashes_are_canonical_and_exactly_32_bytes() {
        let hash = leaf_hash(b"x");
        assert_eq!(hash_from_base64(&hash_to_base64(&hash)), Some(hash));
        // 31 bytes, 33 bytes, missing padding, a stray trailing bit.
        assert_eq!(hash_from_base64(&encode_base64(&[7; 31])), None);
        assert_eq!(hash_from_base64(&encode_base64(&[7; 33])), None);
        let unpadded = hash_to_base64(&hash).trim_end_matches('=').to_owned();
        assert_eq!(hash_from_base64(&unpadded), None);
        let mut stray = hash_to_base64(&[0; 32]);
        stray.replace_range(42..43, "B");
        assert_eq!(hash_from_base64(&stray), None);
    }
}
