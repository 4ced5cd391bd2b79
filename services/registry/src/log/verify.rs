//! The local chains checked against the log: a robot's stored history
//! against its event leaves, the access log against its newest anchor.
//!
//! The per-robot chain and the access log's chains catch an edited entry,
//! but not the newest entries deleted with the head rolled back: what is
//! left is a shorter, intact chain. The log still holds the deleted ones,
//! and its tiles are what the published checkpoints sign, so deleting them
//! there too shows to anyone who audits the log against an earlier
//! checkpoint (`robotid log verify --since`).

use std::collections::{BTreeMap, HashMap};

use robotid_domain::history::{ChainProblem, Event};
use sqlx::{AnyConnection, Row};

use super::leaf::{self, Salt};
use super::store;

/// Where a robot's stored history and its leaves part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryBreak {
    pub sequence: u64,
    pub kind: ChainProblem,
    pub problem: String,
}

/// Compares `events` (a robot's stored history, oldest first, with the
/// salts stored beside them) with the robot's leaves in the log, and those
/// leaves with the log's tree.
pub async fn robot_history(
    connection: &mut AnyConnection,
    robot_id: &str,
    events: &[(Event, Option<Salt>)],
) -> Result<Option<HistoryBreak>, sqlx::Error> {
    let leaves = store::robot_entries(connection, robot_id).await?;
    let mut by_index: BTreeMap<u64, Vec<u8>> = leaves.iter().cloned().collect();
    for (event, salt) in events {
        let Some(index) = event.log_index else {
            continue;
        };
        let mismatch = |problem: String| {
            Some(HistoryBreak {
                sequence: event.sequence,
                kind: ChainProblem::LogMismatch,
                problem,
            })
        };
        let Some(entry) = by_index.remove(&index) else {
            return Ok(mismatch(format!(
                "event {} is not in the log at index {index}",
                event.sequence
            )));
        };
        match salt {
            Some(salt) if leaf::event_entry(event, salt) == entry => {}
            _ => {
                return Ok(mismatch(format!(
                    "event {} differs from the log's leaf {index}",
                    event.sequence
                )));
            }
        }
    }
    // Leaves of this robot that no stored event claims.
    let missing = by_index
        .values()
        .filter_map(|entry| leaf::event_sequence(entry))
        .min();
    if let Some(sequence) = missing {
        return Ok(Some(HistoryBreak {
            sequence,
            kind: ChainProblem::MissingFromHistory,
            problem: format!(
                "the transparency log holds event {sequence}, which the stored history lacks"
            ),
        }));
    }
    if let Some(index) = first_leaf_not_in_tree(connection, &leaves).await? {
        let sequence = events
            .iter()
            .find(|(event, _)| event.log_index == Some(index))
            .map_or(0, |(event, _)| event.sequence);
        return Ok(Some(HistoryBreak {
            sequence,
            kind: ChainProblem::LogMismatch,
            problem: format!("leaf {index} does not hash to the log's tree"),
        }));
    }
    Ok(None)
}

/// Where the access log lost what the log's newest anchor holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogBreak {
    pub shard: u32,
    pub sequence: u64,
    pub problem: String,
}

/// Checks that every head the newest anchor recorded is still in the
/// access log, with the hash it had, and that the anchor is in the tree.
///
/// The newest anchor is enough: an anchor is written only over heads that
/// still hold the one before ([`store::anchor_access_log`]), so a loss,
/// once there, stays before the newest anchor's eyes.
pub async fn access_log(
    connection: &mut AnyConnection,
) -> Result<Option<AccessLogBreak>, sqlx::Error> {
    if let Some(lost) = access_log_against_anchor(connection).await? {
        return Ok(Some(lost));
    }
    let Some((index, entry)) = store::latest_anchor(connection).await? else {
        return Ok(None);
    };
    if first_leaf_not_in_tree(connection, &[(index, entry)]).await? == Some(index) {
        return Ok(Some(AccessLogBreak {
            shard: 0,
            sequence: 0,
            problem: format!("the anchor at leaf {index} does not hash to the log's tree"),
        }));
    }
    Ok(None)
}

/// Whether the access log still holds every head the newest anchor
/// recorded, with the hash it had.
pub async fn access_log_against_anchor(
    connection: &mut AnyConnection,
) -> Result<Option<AccessLogBreak>, sqlx::Error> {
    let Some((index, entry)) = store::latest_anchor(connection).await? else {
        return Ok(None);
    };
    let Some(heads) = leaf::parse_access_anchor(&entry) else {
        return Ok(Some(AccessLogBreak {
            shard: 0,
            sequence: 0,
            problem: format!("the log's leaf {index} is not an access-log anchor"),
        }));
    };
    for (shard, sequence, hash) in heads {
        let stored: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT hash FROM access_log WHERE shard = $1 AND sequence = $2")
                .bind(i64::from(shard))
                .bind(sequence as i64)
                .fetch_optional(&mut *connection)
                .await?;
        let head: i64 =
            sqlx::query_scalar("SELECT sequence FROM access_log_heads WHERE shard = $1")
                .bind(i64::from(shard))
                .fetch_one(&mut *connection)
                .await?;
        let problem = match stored {
            None => Some(format!(
                "entry {sequence} of shard {shard}, anchored in the transparency log at \
                 leaf {index}, is missing"
            )),
            Some(stored) if stored != hash.0 => Some(format!(
                "entry {sequence} of shard {shard} differs from the one anchored at leaf {index}"
            )),
            Some(_) if (head as u64) < sequence => Some(format!(
                "shard {shard}'s head is at {head}, behind entry {sequence} anchored at leaf {index}"
            )),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            return Ok(Some(AccessLogBreak {
                shard,
                sequence,
                problem,
            }));
        }
    }
    Ok(None)
}

/// The first of `leaves` (by index) that the tree holds with another hash.
/// Leaves not integrated yet are not checked.
async fn first_leaf_not_in_tree(
    connection: &mut AnyConnection,
    leaves: &[(u64, Vec<u8>)],
) -> Result<Option<u64>, sqlx::Error> {
    let tree = store::tree(connection).await?;
    let mut tiles: HashMap<u64, Option<Vec<u8>>> = HashMap::new();
    for (index, entry) in leaves {
        if *index >= tree.size {
            continue;
        }
        let tile_index = index / 256;
        if let std::collections::hash_map::Entry::Vacant(vacant) = tiles.entry(tile_index) {
            vacant.insert(store::tile_data(connection, 0, tile_index).await?);
        }
        let offset = (index % 256) as usize * 32;
        let stored = tiles[&tile_index]
            .as_deref()
            .and_then(|data| data.get(offset..offset + 32));
        if stored != Some(&robotid_tlog::leaf_hash(entry)[..]) {
            return Ok(Some(*index));
        }
    }
    Ok(None)
}

/// Reads `log_salt` from an event row.
pub fn salt_of(row: &sqlx::any::AnyRow) -> Option<Salt> {
    let salt: Option<Vec<u8>> = row.try_get("log_salt").ok().flatten();
    salt.and_then(|salt| Salt::try_from(salt.as_slice()).ok())
}
