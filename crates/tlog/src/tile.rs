//! Tiles and entry bundles as c2sp.org/tlog-tiles names and serves them.
//!
//! A tile is 256 consecutive hashes of one "tile level": at level 0 the leaf
//! hashes, at level `l` the roots of full level-`l - 1` tiles (tree level
//! `8 l`). The rightmost tile of a level is partial (1 to 255 hashes) until
//! it fills. Entry bundles are the level-0 tiles' entries themselves.
//!
//! Paths, relative to the log's URL prefix:
//!
//! ```text
//! tile/<L>/<N>[.p/<W>]        hashes, L in 0..=63
//! tile/entries/<N>[.p/<W>]    entries
//! ```
//!
//! `<N>` is written in 3-digit groups, every group but the last prefixed with
//! `x` (1234067 is `x001/x234/067`), so a file system can hold the tree as
//! files with no name that is both a file and a directory. `.p/<W>` marks a
//! partial tile of width W (1..=255). Parsing accepts only the one canonical
//! spelling of each tile, so an HTTP cache never holds one tile twice.

use std::collections::BTreeMap;
use std::fmt;

use crate::hash::HASH_SIZE;
use crate::text::parse_decimal;

/// Hashes in a full tile, and entries in a full bundle.
pub const TILE_WIDTH: u64 = 256;

/// Tree levels a tile spans: a tile is a subtree of height 8.
pub const TILE_HEIGHT: u32 = 8;

/// The highest tile level tlog-tiles allows.
pub const MAX_TILE_LEVEL: u8 = 63;

/// One tile of hashes, as it is in a tree of some size: the level, its index
/// in the level, and how many hashes it holds (256 when full).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    level: u8,
    index: u64,
    width: u16,
}

impl Tile {
    /// `None` past level 63 or for a width outside 1..=256.
    pub fn new(level: u8, index: u64, width: u16) -> Option<Self> {
        (level <= MAX_TILE_LEVEL && (1..=TILE_WIDTH as u16).contains(&width)).then_some(Self {
            level,
            index,
            width,
        })
    }

    /// The tile at `level` and `index` in a tree of `tree_size` leaves, as
    /// wide as that tree makes it; `None` where that tree has no such tile
    /// yet (empty tiles are never served).
    pub fn at_size(level: u8, index: u64, tree_size: u64) -> Option<Self> {
        let hashes = hashes_at_level(level, tree_size);
        let start = index.checked_mul(TILE_WIDTH)?;
        let width = hashes.checked_sub(start)?.min(TILE_WIDTH);
        Self::new(level, index, u16::try_from(width).ok()?)
    }

    pub fn level(&self) -> u8 {
        self.level
    }

    pub fn index(&self) -> u64 {
        self.index
    }

    /// Hashes in the tile.
    pub fn width(&self) -> u16 {
        self.width
    }

    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// Bytes of the tile as served: its hashes end to end.
    pub fn byte_len(&self) -> usize {
        usize::from(self.width) * HASH_SIZE
    }

    /// The URL path below the log's prefix, `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, index_path(self.index, self.width))
    }

    /// For a level-0 tile, the path of the entry bundle that holds its
    /// leaves' entries, `tile/entries/<N>[.p/<W>]`.
    pub fn entry_bundle_path(&self) -> Option<String> {
        (self.level == 0).then(|| format!("tile/entries/{}", index_path(self.index, self.width)))
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// What a `tile/…` path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TilePath {
    /// A tile of hashes.
    Hashes(Tile),
    /// The entry bundle of this level-0 tile: its leaves' entries.
    Entries(Tile),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a tlog-tiles path: {0:?}")]
pub struct TilePathError(String);

/// Parses a path below the log's prefix (`tile/0/x001/234.p/7`,
/// `tile/entries/000`), for an HTTP handler. Only canonical spellings pass.
pub fn parse_tile_path(path: &str) -> Result<TilePath, TilePathError> {
    let refuse = || TilePathError(path.to_owned());
    let rest = path.strip_prefix("tile/").ok_or_else(refuse)?;
    let (kind, rest) = rest.split_once('/').ok_or_else(refuse)?;
    let (index, width) = parse_index_path(rest).ok_or_else(refuse)?;
    if kind == "entries" {
        return Tile::new(0, index, width)
            .map(TilePath::Entries)
            .ok_or_else(refuse);
    }
    let level = parse_decimal(kind)
        .and_then(|level| u8::try_from(level).ok())
        .ok_or_else(refuse)?;
    Tile::new(level, index, width)
        .map(TilePath::Hashes)
        .ok_or_else(refuse)
}

/// How many hashes tile level `level` has in a tree of `tree_size` leaves
/// (full and partial tiles together).
pub(crate) fn hashes_at_level(level: u8, tree_size: u64) -> u64 {
    tree_size
        .checked_shr(TILE_HEIGHT * u32::from(level))
        .unwrap_or(0)
}

/// `<N>[.p/<W>]`.
fn index_path(index: u64, width: u16) -> String {
    let mut groups = vec![format!("{:03}", index % 1000)];
    let mut rest = index / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    let mut path = groups.join("/");
    if u64::from(width) != TILE_WIDTH {
        path.push_str(&format!(".p/{width}"));
    }
    path
}

fn parse_index_path(text: &str) -> Option<(u64, u16)> {
    let mut groups: Vec<&str> = text.split('/').collect();
    let mut width = TILE_WIDTH as u16;
    if let [.., last_group, w] = groups[..]
        && let Some(group) = last_group.strip_suffix(".p")
    {
        width = u16::try_from(parse_decimal(w)?).ok()?;
        if !(1..TILE_WIDTH as u16).contains(&width) {
            return None;
        }
        let len = groups.len();
        groups[len - 2] = group;
        groups.pop();
    }
    let (last, leading) = groups.split_last()?;
    let mut index: u64 = 0;
    for group in leading {
        index = push_group(index, group.strip_prefix('x')?)?;
    }
    index = push_group(index, last)?;
    // A leading `x000` would be a second spelling of a smaller index.
    (index_path(index, width) == text).then_some((index, width))
}

fn push_group(index: u64, group: &str) -> Option<u64> {
    if group.len() != 3 || !group.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    index.checked_mul(1000)?.checked_add(group.parse().ok()?)
}

/// Reads tiles from wherever the caller keeps them.
///
/// For each tile asked, the answer holds at least `tile.width()` hashes of
/// that level and index, end to end. A wider version of a partial tile will
/// do (only its first `width` hashes are read), so a store may keep just the
/// widest version of each tile it has, and overwrite it as the tile grows.
///
/// Every operation of [`crate::tree`] reads all it needs in one call, and
/// says beforehand which tiles that call will ask for, so that a caller with
/// asynchronous storage can fetch them first and hand them over in a
/// [`TileSet`].
pub trait TileReader {
    type Error;

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, Self::Error>;
}

/// Tiles held in memory, by level and index, each the widest seen: a store
/// for tests and tools, and the hand-over from asynchronous storage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TileSet {
    tiles: BTreeMap<(u8, u64), Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tile {0} is not held")]
pub struct MissingTile(pub Tile);

impl TileSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps `data` as the tile's content unless a wider version is held.
    /// `data` must be `tile.byte_len()` bytes.
    pub fn insert(&mut self, tile: Tile, data: Vec<u8>) {
        debug_assert_eq!(data.len(), tile.byte_len());
        let held = self.tiles.entry((tile.level, tile.index)).or_default();
        if data.len() > held.len() {
            *held = data;
        }
    }

    /// The tile's bytes at its width, if a version at least that wide is held.
    pub fn get(&self, tile: &Tile) -> Option<&[u8]> {
        self.tiles
            .get(&(tile.level, tile.index))
            .and_then(|data| data.get(..tile.byte_len()))
    }

    /// Every tile held, at the width held.
    pub fn iter(&self) -> impl Iterator<Item = (Tile, &[u8])> {
        self.tiles.iter().map(|(&(level, index), data)| {
            let width = (data.len() / HASH_SIZE) as u16;
            (
                Tile {
                    level,
                    index,
                    width,
                },
                data.as_slice(),
            )
        })
    }

    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }
}

impl TileReader for TileSet {
    type Error = MissingTile;

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, MissingTile> {
        tiles
            .iter()
            .map(|tile| self.get(tile).map(<[u8]>::to_vec).ok_or(MissingTile(*tile)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths_are_written_as_the_spec_writes_them() {
        assert_eq!(
            Tile::new(0, 1_234_067, 256).unwrap().path(),
            "tile/0/x001/x234/067"
        );
        assert_eq!(Tile::new(2, 0, 1).unwrap().path(), "tile/2/000.p/1");
        assert_eq!(
            Tile::new(1, 1000, 17).unwrap().path(),
            "tile/1/x001/000.p/17"
        );
        assert_eq!(
            Tile::new(0, 5, 112).unwrap().entry_bundle_path().unwrap(),
            "tile/entries/005.p/112"
        );
        assert_eq!(
            parse_tile_path("tile/0/x001/x234/067"),
            Ok(TilePath::Hashes(Tile::new(0, 1_234_067, 256).unwrap()))
        );
        assert_eq!(
            parse_tile_path("tile/entries/x001/000.p/255"),
            Ok(TilePath::Entries(Tile::new(0, 1000, 255).unwrap()))
        );
        assert_eq!(
            parse_tile_path("tile/63/x018/x446/x744/x073/x709/x551/615"),
            Ok(TilePath::Hashes(Tile::new(63, u64::MAX, 256).unwrap()))
        );
    }

    #[test]
    fn only_canonical_paths_parse() {
        for path in [
            "",
            "tile/",
            "tile/0",
            "tile/0/",
            "tile/00/000",
            "tile/01/000",
            "tile/64/000",
            "tile/-1/000",
            "tile/0/00",
            "tile/0/0000",
            "tile/0/x000/067",
            "tile/0/001/067",
            "tile/0/x001/67",
            "tile/0/x1/067",
            "tile/0/067.p/0",
            "tile/0/067.p/256",
            "tile/0/067.p/07",
            "tile/0/067.p/",
            "tile/0/067.p",
            "tile/0/067/",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/data/000",
            "tile/entries/000.p/0",
            "tile/entries/entries/000",
            "/tile/0/000",
            "tile/0/+12",
        ] {
            assert!(parse_tile_path(path).is_err(), "{path:?} parsed");
        }
    }

    #[test]
    fn a_tree_of_70000_has_the_tiles_the_spec_lists() {
        // "273 full level 0 tiles, one partial level 0 tile of width 112,
        // one full level 1 tile, one partial level 1 tile of width 17, and
        // one partial level 2 tile of width 1."
        let size = 70_000;
        assert!(Tile::at_size(0, 272, size).unwrap().is_full());
        assert_eq!(Tile::at_size(0, 273, size).unwrap().width(), 112);
        assert_eq!(Tile::at_size(0, 274, size), None);
        assert!(Tile::at_size(1, 0, size).unwrap().is_full());
        assert_eq!(Tile::at_size(1, 1, size).unwrap().width(), 17);
        assert_eq!(Tile::at_size(2, 0, size).unwrap().width(), 1);
        assert_eq!(Tile::at_size(3, 0, size), None);
        // "a tree of size 256 will be represented by a full level 0 tile and
        // a partial level 1 tile of width 1."
        assert!(Tile::at_size(0, 0, 256).unwrap().is_full());
        assert_eq!(Tile::at_size(1, 0, 256).unwrap().width(), 1);
        assert_eq!(Tile::new(1, 0, 1).unwrap().entry_bundle_path(), None);
    }

    #[test]
    fn a_tile_set_answers_a_narrower_tile_from_a_wider_one() {
        let mut set = TileSet::new();
        let wide = Tile::new(0, 0, 3).unwrap();
        set.insert(wide, (0..96).collect());
        set.insert(Tile::new(0, 0, 2).unwrap(), vec![9; 64]);
        let narrow = Tile::new(0, 0, 2).unwrap();
        assert_eq!(set.get(&narrow), Some(&(0..64).collect::<Vec<u8>>()[..]));
        assert_eq!(set.get(&Tile::new(0, 0, 4).unwrap()), None);
        assert_eq!(
            set.read_tiles(&[Tile::new(1, 0, 1).unwrap()]),
            Err(MissingTile(Tile::new(1, 0, 1).unwrap()))
        );
    }

    proptest! {
        #![proptest_config(crate::test_config())]

        #[test]
        fn paths_round_trip(level in 0u8..=63, index in any::<u64>(), width in 1u16..=256, entries in any::<bool>()) {
            if entries {
                let tile = Tile::new(0, index, width).unwrap();
                prop_assert_eq!(parse_tile_path(&tile.entry_bundle_path().unwrap()), Ok(TilePath::Entries(tile)));
            } else {
                let tile = Tile::new(level, index, width).unwrap();
                prop_assert_eq!(parse_tile_path(&tile.path()), Ok(TilePath::Hashes(tile)));
            }
        }
    }
}
