//! The log's Merkle tree, kept as its tiles and never rebuilt.
//!
//! The tiles are the whole state: a tile at level `l` holds the roots of the
//! complete subtrees of height `8 l`, and every subtree of height `8 l + r`
//! (r < 8) is hashed up from `2^r` consecutive hashes of one level-`l` tile.
//! So the hashes that Go's `sumdb/tlog` stores one by one are here read a
//! tile at a time, the tiles that the log serves anyway.
//!
//! Appending leaves at size N reads the rightmost (partial) tile of each
//! level as of size N and gives back every tile that changed, at its new
//! width, with the new tree hash; the caller stores them. Proofs and tree
//! hashes at any size up to the stored one read only the tiles they need,
//! in one [`TileReader::read_tiles`] call whose tiles the matching
//! `tiles_for_*` function lists beforehand.

use std::collections::{BTreeMap, BTreeSet};

use crate::hash::{HASH_SIZE, Hash, complete_subtree_hash, empty_tree_hash, node_hash};
use crate::proof::ProofError;
use crate::tile::{TILE_HEIGHT, TILE_WIDTH, Tile, TileReader, TileSet, hashes_at_level};

#[derive(Debug, thiserror::Error)]
pub enum TreeError<E> {
    #[error(transparent)]
    Range(#[from] ProofError),
    #[error("reading tiles")]
    Storage(#[source] E),
    #[error("storage answered {got} bytes for tile {tile}")]
    ShortTile { tile: Tile, got: usize },
    #[error("storage answered {got} tiles for {asked} asked")]
    WrongTileCount { asked: usize, got: usize },
    #[error("the log cannot grow past 2^64 - 1 entries")]
    Full,
}

/// What [`append`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Every tile whose content changed, at its new width, with its bytes:
    /// store each one over any narrower version of the same level and index.
    pub tiles: Vec<(Tile, Vec<u8>)>,
    pub tree_size: u64,
    pub tree_hash: Hash,
}

/// The tiles [`append`] reads at `old_size`: the partial tile of each level.
pub fn tiles_for_append(old_size: u64) -> Vec<Tile> {
    partial_tiles(old_size)
}

/// Adds `leaf_hashes` to the tree of `old_size` leaves that `reader` holds.
pub fn append<R: TileReader>(
    reader: &R,
    old_size: u64,
    leaf_hashes: &[Hash],
) -> Result<Appended, TreeError<R::Error>> {
    let new_size = u64::try_from(leaf_hashes.len())
        .ok()
        .and_then(|count| old_size.checked_add(count))
        .ok_or(TreeError::Full)?;
    let mut held = read_into_set(reader, &tiles_for_append(old_size))?;
    let mut changed = Vec::new();
    let mut incoming = leaf_hashes.to_vec();
    let mut level = 0u8;
    while !incoming.is_empty() {
        let first_tile = hashes_at_level(level, old_size) / TILE_WIDTH;
        let mut row = Tile::at_size(level, first_tile, old_size)
            .and_then(|partial| held.get(&partial))
            .map(hashes_of)
            .unwrap_or_default();
        row.append(&mut incoming);
        for (offset, chunk) in (0u64..).zip(row.chunks(TILE_WIDTH as usize)) {
            let tile = Tile::new(level, first_tile + offset, chunk.len() as u16)
                .expect("a chunk is 1 to 256 hashes");
            changed.push((tile, chunk.concat()));
            if tile.is_full() {
                incoming.push(complete_subtree_hash(chunk));
            }
        }
        level += 1;
    }
    for (tile, data) in &changed {
        held.insert(*tile, data.clone());
    }
    // The new tree hash needs only the partial tiles at the new size: the
    // ones just written, and above them the ones read, which did not change.
    let tree_hash = tree_hash(&held, new_size)
        .unwrap_or_else(|error| unreachable!("the held tiles answer the tree hash: {error}"));
    Ok(Appended {
        tiles: changed,
        tree_size: new_size,
        tree_hash,
    })
}

/// The tiles [`tree_hash`] reads for a tree of `size` leaves.
pub fn tiles_for_tree_hash(size: u64) -> Vec<Tile> {
    tiles_for_ranges(size, &[(0, size)])
}

/// The root of the tree of the first `size` leaves.
pub fn tree_hash<R: TileReader>(reader: &R, size: u64) -> Result<Hash, TreeError<R::Error>> {
    Ok(hash_ranges(reader, size, &[(0, size)])?[0])
}

/// The tiles [`inclusion_proof`] reads.
pub fn tiles_for_inclusion_proof(index: u64, size: u64) -> Result<Vec<Tile>, ProofError> {
    Ok(tiles_for_ranges(size, &inclusion_ranges(index, size)?))
}

/// The audit path of the leaf at `index` in the tree of `size` leaves
/// (RFC 6962 §2.1.1), from the leaf's sibling up to the root's child.
pub fn inclusion_proof<R: TileReader>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    hash_ranges(reader, size, &inclusion_ranges(index, size)?)
}

/// The tiles [`consistency_proof`] reads.
pub fn tiles_for_consistency_proof(old_size: u64, new_size: u64) -> Result<Vec<Tile>, ProofError> {
    Ok(tiles_for_ranges(
        new_size,
        &consistency_ranges(old_size, new_size)?,
    ))
}

/// The proof that the tree of `new_size` leaves extends the tree of
/// `old_size` (RFC 6962 §2.1.2). Empty for equal sizes, and from the empty
/// tree (which is what c2sp.org/tlog-witness sends with `old 0`).
pub fn consistency_proof<R: TileReader>(
    reader: &R,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    hash_ranges(reader, new_size, &consistency_ranges(old_size, new_size)?)
}

/// A complete subtree: `height` levels above the leaves, the `index`-th of
/// that height, over leaves `index << height .. (index + 1) << height`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Node {
    height: u8,
    index: u64,
}

impl Node {
    /// Where this node's hashes are: the first of them at tile level
    /// `height / 8`, and how many (a power of two up to 128) to hash up.
    fn position(&self) -> (u8, u64, usize) {
        let level = self.height / TILE_HEIGHT as u8;
        let rest = u32::from(self.height) % TILE_HEIGHT;
        (level, self.index << rest, 1 << rest)
    }

    /// The tile holding this node's hashes, as wide as a tree of
    /// `tree_size` makes it (the node must lie within that tree).
    fn tile(&self, tree_size: u64) -> Tile {
        let (level, first, _) = self.position();
        Tile::at_size(level, first / TILE_WIDTH, tree_size).expect("the node lies within the tree")
    }

    fn hash(&self, tile_data: &[u8]) -> Hash {
        let (_, first, count) = self.position();
        let offset = (first % TILE_WIDTH) as usize;
        let hashes = hashes_of(&tile_data[offset * HASH_SIZE..(offset + count) * HASH_SIZE]);
        complete_subtree_hash(&hashes)
    }
}

/// The complete subtrees that make up leaves `lo..hi`, largest first. Every
/// range a tree's recursion produces starts at a multiple of a power of two
/// no smaller than its length, so each piece is a node.
fn range_nodes(lo: u64, hi: u64) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut start = lo;
    let count = hi - lo;
    for height in (0..64u8).rev() {
        if count >> height & 1 == 1 {
            nodes.push(Node {
                height,
                index: start >> height,
            });
            start += 1 << height;
        }
    }
    nodes
}

/// MTH(D[lo:hi]) from the hashes of its nodes: RFC 6962 splits at the
/// largest power of two, so the tree is the nodes folded from the right.
fn range_hash(nodes: &[Node], hashes: &BTreeMap<Node, Hash>) -> Hash {
    nodes
        .iter()
        .rev()
        .map(|node| hashes[node])
        .reduce(|right, left| node_hash(&left, &right))
        .unwrap_or_else(empty_tree_hash)
}

/// The largest power of two below `n` (n > 1).
fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// PATH(m, D[n]) of RFC 6962 §2.1.1, as the ranges whose hashes it lists.
fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<(u64, u64)>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    fn path(m: u64, lo: u64, hi: u64, out: &mut Vec<(u64, u64)>) {
        if hi - lo == 1 {
            return;
        }
        let k = split_point(hi - lo);
        if m < lo + k {
            path(m, lo, lo + k, out);
            out.push((lo + k, hi));
        } else {
            path(m, lo + k, hi, out);
            out.push((lo, lo + k));
        }
    }
    let mut ranges = Vec::new();
    path(index, 0, size, &mut ranges);
    Ok(ranges)
}

/// PROOF(m, D[n]) of RFC 6962 §2.1.2, as the ranges whose hashes it lists.
fn consistency_ranges(old_size: u64, new_size: u64) -> Result<Vec<(u64, u64)>, ProofError> {
    if old_size > new_size {
        return Err(ProofError::OldSizeBeyondNewSize {
            old: old_size,
            new: new_size,
        });
    }
    // SUBPROOF(m, D[lo:hi], b), with m counted from the start of the tree.
    fn subproof(m: u64, lo: u64, hi: u64, whole: bool, out: &mut Vec<(u64, u64)>) {
        if m == hi {
            if !whole {
                out.push((lo, hi));
            }
            return;
        }
        let k = split_point(hi - lo);
        if m <= lo + k {
            subproof(m, lo, lo + k, whole, out);
            out.push((lo + k, hi));
        } else {
            subproof(m, lo + k, hi, false, out);
            out.push((lo, lo + k));
        }
    }
    let mut ranges = Vec::new();
    if old_size > 0 {
        subproof(old_size, 0, new_size, true, &mut ranges);
    }
    Ok(ranges)
}

fn tiles_for_ranges(tree_size: u64, ranges: &[(u64, u64)]) -> Vec<Tile> {
    let tiles: BTreeSet<Tile> = ranges
        .iter()
        .flat_map(|&(lo, hi)| range_nodes(lo, hi))
        .map(|node| node.tile(tree_size))
        .collect();
    tiles.into_iter().collect()
}

fn hash_ranges<R: TileReader>(
    reader: &R,
    tree_size: u64,
    ranges: &[(u64, u64)],
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    let tiles = read_into_set(reader, &tiles_for_ranges(tree_size, ranges))?;
    let pieces: Vec<Vec<Node>> = ranges.iter().map(|&(lo, hi)| range_nodes(lo, hi)).collect();
    let hashes: BTreeMap<Node, Hash> = pieces
        .iter()
        .flatten()
        .map(|node| {
            let data = tiles.get(&node.tile(tree_size)).expect("read above");
            (*node, node.hash(data))
        })
        .collect();
    Ok(pieces
        .iter()
        .map(|nodes| range_hash(nodes, &hashes))
        .collect())
}

/// Reads `tiles` in one call and checks the answer's shape, so that a short
/// answer from storage is an error here rather than a panic later.
fn read_into_set<R: TileReader>(
    reader: &R,
    tiles: &[Tile],
) -> Result<TileSet, TreeError<R::Error>> {
    let mut set = TileSet::new();
    if tiles.is_empty() {
        return Ok(set);
    }
    let answers = reader.read_tiles(tiles).map_err(TreeError::Storage)?;
    if answers.len() != tiles.len() {
        return Err(TreeError::WrongTileCount {
            asked: tiles.len(),
            got: answers.len(),
        });
    }
    for (tile, mut data) in tiles.iter().zip(answers) {
        if data.len() < tile.byte_len() {
            return Err(TreeError::ShortTile {
                tile: *tile,
                got: data.len(),
            });
        }
        data.truncate(tile.byte_len());
        set.insert(*tile, data);
    }
    Ok(set)
}

/// The rightmost tile of each level of a tree of `size` leaves, where it is
/// partial: these, and only these, change when the tree grows.
fn partial_tiles(size: u64) -> Vec<Tile> {
    (0..=crate::tile::MAX_TILE_LEVEL)
        .map(|level| hashes_at_level(level, size))
        .take_while(|&count| count > 0)
        .zip(0u8..)
        .filter_map(|(count, level)| {
            let width = (count % TILE_WIDTH) as u16;
            Tile::new(level, count / TILE_WIDTH, width)
        })
        .collect()
}

fn hashes_of(data: &[u8]) -> Vec<Hash> {
    data.chunks_exact(HASH_SIZE)
        .map(|chunk| chunk.try_into().expect("chunks of 32"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::proof::{verify_consistency, verify_inclusion};
    use proptest::prelude::*;

    /// MTH of RFC 6962 §2.1, straight from its definition.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_tree_hash(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    /// PATH of RFC 6962 §2.1.1, straight from its definition.
    fn reference_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split_point(n as u64) as usize;
        if m < k {
            let mut path = reference_path(m, &leaves[..k]);
            path.push(reference_root(&leaves[k..]));
            path
        } else {
            let mut path = reference_path(m - k, &leaves[k..]);
            path.push(reference_root(&leaves[..k]));
            path
        }
    }

    /// SUBPROOF of RFC 6962 §2.1.2, straight from its definition.
    fn reference_subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if whole {
                Vec::new()
            } else {
                vec![reference_root(leaves)]
            };
        }
        let k = split_point(n as u64) as usize;
        if m <= k {
            let mut proof = reference_subproof(m, &leaves[..k], whole);
            proof.push(reference_root(&leaves[k..]));
            proof
        } else {
            let mut proof = reference_subproof(m - k, &leaves[k..], false);
            proof.push(reference_root(&leaves[..k]));
            proof
        }
    }

    fn leaves(count: usize) -> Vec<Hash> {
        (0..count as u64)
            .map(|i| leaf_hash(&i.to_be_bytes()))
            .collect()
    }

    /// Grows a log in the given batches, storing what each append says.
    fn grow(leaves: &[Hash], batches: &[usize]) -> (TileSet, Vec<Appended>) {
        let mut store = TileSet::new();
        let mut appended = Vec::new();
        let mut size = 0;
        for &batch in batches {
            let end = (size + batch).min(leaves.len());
            let result = append(&store, size as u64, &leaves[size..end]).unwrap();
            for (tile, data) in &result.tiles {
                store.insert(*tile, data.clone());
            }
            size = end;
            appended.push(result);
        }
        (store, appended)
    }

    #[test]
    fn one_append_gives_the_tiles_the_spec_lists_for_70000_entries() {
        let leaves = leaves(70_000);
        let (store, appended) = grow(&leaves, &[70_000]);
        let result = &appended[0];
        assert_eq!(result.tree_hash, reference_root(&leaves));
        assert_eq!(result.tiles.len(), 273 + 1 + 1 + 1 + 1);
        let widths: Vec<(u8, u64, u16)> = store
            .iter()
            .filter(|(tile, _)| !tile.is_full())
            .map(|(tile, _)| (tile.level(), tile.index(), tile.width()))
            .collect();
        assert_eq!(widths, [(0, 273, 112), (1, 1, 17), (2, 0, 1)]);
        // A level-1 hash is the root of the full level-0 tile below it.
        let level1 = store.get(&Tile::new(1, 0, 1).unwrap()).unwrap();
        assert_eq!(level1, reference_root(&leaves[..256]));
    }

    #[test]
    fn appending_reads_only_the_partial_tiles() {
        assert_eq!(tiles_for_append(0), []);
        assert_eq!(
            tiles_for_append(70_000),
            [
                Tile::new(0, 273, 112).unwrap(),
                Tile::new(1, 1, 17).unwrap(),
                Tile::new(2, 0, 1).unwrap()
            ]
        );
        assert_eq!(tiles_for_append(65_536), [Tile::new(2, 0, 1).unwrap()]);
    }

    #[test]
    fn an_empty_append_changes_nothing() {
        let leaves = leaves(300);
        let (store, _) = grow(&leaves, &[300]);
        let result = append(&store, 300, &[]).unwrap();
        assert_eq!(result.tiles, []);
        assert_eq!(result.tree_hash, reference_root(&leaves));
        assert_eq!(tree_hash(&TileSet::new(), 0).unwrap(), empty_tree_hash());
    }

    #[test]
    fn storage_that_answers_short_is_an_error_not_a_panic() {
        struct Short;
        impl TileReader for Short {
            type Error = std::convert::Infallible;
            fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, Self::Error> {
                Ok(tiles.iter().map(|_| vec![0; 31]).collect())
            }
        }
        assert!(matches!(
            tree_hash(&Short, 3),
            Err(TreeError::ShortTile { got: 31, .. })
        ));
        assert!(matches!(
            inclusion_proof(&Short, 3, 3),
            Err(TreeError::Range(ProofError::IndexBeyondSize { .. }))
        ));
    }

    fn batches() -> impl Strategy<Value = Vec<usize>> {
        prop::collection::vec(prop_oneof![1usize..4, 1usize..300, 250usize..700], 1..8)
    }

    proptest! {
        #![proptest_config(crate::test_config())]

        #[test]
        fn tiles_grown_in_batches_equal_a_rebuild_from_scratch(batches in batches()) {
            let total: usize = batches.iter().sum();
            let leaves = leaves(total);
            let (grown, appended) = grow(&leaves, &batches);
            let (rebuilt, _) = grow(&leaves, &[total]);
            prop_assert_eq!(&grown, &rebuilt);
            let mut size = 0;
            for (batch, result) in batches.iter().zip(&appended) {
                size += batch;
                prop_assert_eq!(result.tree_size, size as u64);
                prop_assert_eq!(result.tree_hash, reference_root(&leaves[..size]));
                prop_assert_eq!(tree_hash(&grown, size as u64).unwrap(), reference_root(&leaves[..size]));
                prop_assert_eq!(tiles_for_tree_hash(size as u64), partial_tiles(size as u64));
            }
        }

        #[test]
        fn inclusion_proofs_from_tiles_are_rfc_6962_paths_and_verify(
            size in 1usize..2_000,
            index_seed in any::<u64>(),
        ) {
            let leaves = leaves(size);
            let (store, _) = grow(&leaves, &[size]);
            let index = (index_seed % size as u64) as usize;
            let proof = inclusion_proof(&store, index as u64, size as u64).unwrap();
            prop_assert_eq!(&proof, &reference_path(index, &leaves));
            let root = reference_root(&leaves);
            prop_assert_eq!(verify_inclusion(index as u64, size as u64, &leaves[index], &proof, &root), Ok(()));
            // The same proof says nothing about another leaf or another index.
            let other = leaf_hash(b"not in the log");
            prop_assert!(verify_inclusion(index as u64, size as u64, &other, &proof, &root).is_err());
            if size > 1 {
                let wrong = (index as u64 + 1) % size as u64;
                prop_assert!(verify_inclusion(wrong, size as u64, &leaves[index], &proof, &root).is_err());
            }
        }

        #[test]
        fn consistency_proofs_from_tiles_are_rfc_6962_proofs_and_verify(
            new_size in 1usize..2_000,
            old_seed in any::<u64>(),
        ) {
            let leaves = leaves(new_size);
            let (store, _) = grow(&leaves, &[new_size]);
            let old_size = 1 + (old_seed % new_size as u64) as usize;
            let proof = consistency_proof(&store, old_size as u64, new_size as u64).unwrap();
            prop_assert_eq!(&proof, &reference_subproof(old_size, &leaves, true));
            let old_root = reference_root(&leaves[..old_size]);
            let new_root = reference_root(&leaves);
            prop_assert_eq!(
                verify_consistency(old_size as u64, new_size as u64, &proof, &old_root, &new_root),
                Ok(())
            );
            let forged = leaf_hash(b"another history");
            prop_assert!(verify_consistency(old_size as u64, new_size as u64, &proof, &forged, &new_root).is_err());
            prop_assert!(verify_consistency(old_size as u64, new_size as u64, &proof, &old_root, &forged).is_err());
        }

        #[test]
        fn proofs_at_older_sizes_read_from_the_latest_tiles(
            new_size in 2usize..1_500,
            seeds in any::<(u64, u64)>(),
        ) {
            let leaves = leaves(new_size);
            let (store, _) = grow(&leaves, &[new_size]);
            let size = 1 + (seeds.0 % new_size as u64) as usize;
            let index = (seeds.1 % size as u64) as usize;
            let proof = inclusion_proof(&store, index as u64, size as u64).unwrap();
            prop_assert_eq!(proof, reference_path(index, &leaves[..size]));
            prop_assert_eq!(tree_hash(&store, size as u64).unwrap(), reference_root(&leaves[..size]));
        }
    }
}
