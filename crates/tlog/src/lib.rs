//! The transparency log of a Robot ID registry, as pure functions: no
//! storage, no network, no async.
//!
//! Each registry appends every event to one append-only Merkle tree
//! (RFC 6962, SHA-256), publishes it as c2sp.org/tlog-tiles, signs its
//! tree heads as c2sp.org/tlog-checkpoint signed notes, witnesses its
//! peers' logs (c2sp.org/tlog-witness, tlog-cosignature) and hands out
//! offline proofs (c2sp.org/tlog-proof) that verify against a
//! c2sp.org/tlog-policy. This crate is those formats and rules; the
//! registry brings the database and the HTTP listener.
//!
//! | module | what |
//! |---|---|
//! | [`hash`] | leaf and node hashes (RFC 6962 §2.1) |
//! | [`tile`] | tiles, entry bundle names, `tile/…` paths, [`TileReader`] |
//! | [`tree`] | appending (tiles that change), tree hash, proofs, from tiles |
//! | [`proof`] | inclusion and consistency verification (RFC 9162 §2.1.3.2, §2.1.4.2) |
//! | [`bundle`] | entry bundles: `u16` big-endian length, then the entry |
//! | [`note`] | signed notes, verifier keys, Ed25519 signers |
//! | [`checkpoint`] | checkpoints, plain and signed |
//! | [`cosignature`] | `cosignature/v1` witness cosignatures |
//! | [`witness`] | the `add-checkpoint` request and the witness's decision |
//! | [`policy`] | policy files and their quorum |
//! | [`tlog_proof`] | proof bundles |
//!
//! # Storage
//!
//! The tree is kept as its tiles (see [`tree`]): a registry stores each
//! tile by level and index at the widest width it has reached, and
//! overwrites it as it grows. [`tree::append`] reads the partial tiles of
//! the current size ([`tree::tiles_for_append`]) and returns the tiles that
//! changed and the new root, to be written in the transaction that appends
//! the entries, before a checkpoint of that size is signed. A narrower
//! version of a tile (an old `.p/<W>`) is the first `W` hashes of the wider
//! one, so every partial tile any checkpoint needed stays servable. Reads go
//! through [`TileReader`], one batch per operation; each `tiles_for_*`
//! function names that batch beforehand, for callers whose storage is
//! asynchronous.
//!
//! # Why no crate from crates.io
//!
//! Checked: Cloudflare azul's `tlog_tiles` 0.2.0 and `signed_note` 0.2.0,
//! `ct-merkle` 0.3.0, and `sigsum` 0.3.0.
//!
//! - `tlog_tiles` ports Go's `sumdb/tlog`, whose tile paths carry the
//!   height and call entries `data` (`tile/8/0/…`, `tile/8/data/…`), not
//!   tlog-tiles' `tile/0/…` and `tile/entries/…`; it has no tlog-tiles
//!   entry bundles, and brings `url` (with `idna` and ICU's tables), `serde`,
//!   `serde_json`, a second `base64` (0.21) and a second `thiserror` (1).
//! - `signed_note` depends on `ed25519-dalek` 2 and `rand_core` 0.6, beside
//!   the workspace's `ed25519-dalek` 3: two Ed25519 stacks, and keys that do
//!   not pass from one to the other. It has no cosignature type.
//! - `ct-merkle` keeps the whole tree in memory, with no stored-hash or tile
//!   model, and is built on `digest` 0.11 where the workspace pins `sha2`
//!   0.10; it would serve only proof verification, some sixty lines.
//! - `sigsum` speaks Sigsum's own log and policy formats.
//!
//! None covers cosignatures, the witness, tlog-policy or tlog-proof. The
//! specs are short and exact, the RFC 6962 vectors and the published Go
//! note example pin the results, and what is written here depends only on
//! the workspace's `sha2`, `base64`, `ed25519-dalek` and `thiserror`.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod bundle;
pub mod checkpoint;
pub mod cosignature;
pub mod hash;
pub mod note;
pub mod policy;
pub mod proof;
mod text;
pub mod tile;
pub mod tlog_proof;
pub mod tree;
pub mod witness;

pub use bundle::{EntryBundleError, decode_entry_bundle, encode_entry_bundle};
pub use checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint, origin_from_prefix};
pub use cosignature::Cosigner;
pub use hash::{Hash, empty_tree_hash, leaf_hash, node_hash};
pub use note::{KeyError, Note, NoteError, NoteSignature, NoteSigner, SignatureType, VerifierKey};
pub use policy::{Policy, PolicyError, PolicyVerdict};
pub use proof::{ProofError, verify_consistency, verify_inclusion};
pub use tile::{Tile, TilePath, TileReader, TileSet, parse_tile_path};
pub use tlog_proof::{ProofBundle, ProofBundleError};
pub use tree::{Appended, TreeError};
pub use witness::{
    AddCheckpoint, Cosigned, ForkEvidence, ForkKind, Refusal, Refused, TreeHead, Witness,
};

/// Property tests run the same cases on every machine.
#[cfg(test)]
pub(crate) fn test_config() -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases: 48,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x7106),
        failure_persistence: None,
        ..Default::default()
    }
}
