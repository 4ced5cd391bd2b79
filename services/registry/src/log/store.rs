//! The log's tables: leaves numbered in the transactions that append them,
//! tiles and tree size moved forward by the integrator, checkpoints kept
//! by size. Both engines, one set of statements.

use robotid_domain::history::{Digest, Event};
use robotid_platform::db::value_rows;
use robotid_tlog::{Hash, Tile, TileSet};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::leaf::{self, AccessHead, Salt};
use super::verify::AccessLogBreak;

/// Rows per multi-row INSERT (3 columns each).
const INSERT_CHUNK: usize = 1000;

/// Takes the next `count` leaf indices, in the caller's transaction: the
/// row lock it takes is held to commit, so indices follow commit order and
/// a rolled-back transaction leaves no gap. Returns the first.
async fn take_indices(tx: &mut AnyConnection, count: usize) -> Result<u64, sqlx::Error> {
    let next: i64 = sqlx::query_scalar(
        "UPDATE log_sequence SET next_index = next_index + $1 WHERE id = 1 RETURNING next_index",
    )
    .bind(count as i64)
    .fetch_one(&mut *tx)
    .await?;
    Ok(next as u64 - count as u64)
}

/// Enters `events` as the log's next leaves, in the transaction that
/// stores them: sets each one's `log_index` and gives back the salts of
/// their details commitments, for the event rows.
pub async fn append_events(
    tx: &mut AnyConnection,
    events: &mut [Event],
) -> Result<Vec<Salt>, sqlx::Error> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let first = take_indices(tx, events.len()).await?;
    let mut salts = Vec::with_capacity(events.len());
    let mut rows = Vec::with_capacity(events.len());
    for (event, index) in events.iter_mut().zip(first..) {
        let salt = leaf::new_salt();
        event.log_index = Some(index);
        rows.push((
            index,
            Some(event.robot_id.as_str()),
            leaf::event_entry(event, &salt),
        ));
        salts.push(salt);
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        insert_entries(tx, chunk).await?;
    }
    Ok(salts)
}

async fn insert_entries(
    tx: &mut AnyConnection,
    rows: &[(u64, Option<&str>, Vec<u8>)],
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO log_entries (log_index, robot_id, entry) VALUES {}",
        value_rows(rows.len(), 3)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (index, robot_id, entry) in rows {
        query = query
            .bind(*index as i64)
            .bind(robot_id.map(str::to_owned))
            .bind(entry.clone());
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

/// What [`anchor_access_log`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchoring {
    /// The heads had not moved.
    Unchanged,
    Anchored,
    /// The access log no longer holds what the newest anchor recorded (an
    /// entry deleted or changed, a head rolled back): no anchor is written
    /// over it, so that the newest anchor keeps showing it.
    Diverged(AccessLogBreak),
}

/// Enters the access log's heads as a leaf if they moved since the last
/// anchor, and only if they extend it. One short transaction.
pub async fn anchor_access_log(
    connection: &mut AnyConnection,
    at_micros: i64,
) -> Result<Anchoring, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(&mut *connection).await?;
    // The sequence row first, as every leaf writer takes it: anchors from
    // two instances queue, and the heads read below are not older than the
    // digest compared with.
    let anchored: Option<Vec<u8>> = sqlx::query_scalar(
        "UPDATE log_sequence SET next_index = next_index WHERE id = 1 RETURNING anchored",
    )
    .fetch_one(&mut *tx)
    .await?;
    let heads = access_heads(&mut tx).await?;
    if heads.is_empty() {
        return Ok(Anchoring::Unchanged);
    }
    let digest = leaf::heads_digest(&heads);
    if anchored.as_deref() == Some(&digest[..]) {
        return Ok(Anchoring::Unchanged);
    }
    // Anchors only extend one another: heads that lost what the last one
    // holds are not anchored (that would hide the loss).
    if let Some(lost) = super::verify::access_log_against_anchor(&mut tx).await? {
        return Ok(Anchoring::Diverged(lost));
    }
    let index = take_indices(&mut tx, 1).await?;
    insert_entries(
        &mut tx,
        &[(index, None, leaf::access_anchor_entry(&heads, at_micros))],
    )
    .await?;
    sqlx::query("UPDATE log_sequence SET anchored = $1 WHERE id = 1")
        .bind(digest.to_vec())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Anchoring::Anchored)
}

/// The head of every access-log shard that has an entry, by shard.
async fn access_heads(connection: &mut AnyConnection) -> Result<Vec<AccessHead>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT shard, sequence, hash FROM access_log_heads WHERE sequence > 0 ORDER BY shard",
    )
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            let hash: Vec<u8> = row.try_get("hash")?;
            Ok((
                row.try_get::<i64, _>("shard")? as u32,
                row.try_get::<i64, _>("sequence")? as u64,
                Digest::from_slice(&hash).unwrap_or(Digest::GENESIS),
            ))
        })
        .collect()
}

/// The tree the tiles hold: its size and root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeState {
    pub size: u64,
    pub root: Hash,
}

fn tree_state(size: i64, root: Option<Vec<u8>>) -> Result<TreeState, sqlx::Error> {
    let root = match root {
        None => robotid_tlog::empty_tree_hash(),
        Some(bytes) => Hash::try_from(bytes.as_slice())
            .map_err(|_| sqlx::Error::Decode("log_tree.root is not 32 bytes".into()))?,
    };
    Ok(TreeState {
        size: size as u64,
        root,
    })
}

/// The stored tree, without locking it.
pub async fn tree(connection: &mut AnyConnection) -> Result<TreeState, sqlx::Error> {
    let (size, root): (i64, Option<Vec<u8>>) =
        sqlx::query_as("SELECT size, root FROM log_tree WHERE id = 1")
            .fetch_one(&mut *connection)
            .await?;
    tree_state(size, root)
}

/// Moves the tree over up to `limit` leaves not yet in it, in one
/// transaction that holds the tree row: the tiles and the new size are
/// durable together before anyone signs a checkpoint of that size.
pub async fn integrate(
    connection: &mut AnyConnection,
    limit: usize,
) -> Result<TreeState, IntegrateError> {
    let mut tx = sqlx::Connection::begin(&mut *connection).await?;
    let (size, root): (i64, Option<Vec<u8>>) =
        sqlx::query_as("UPDATE log_tree SET size = size WHERE id = 1 RETURNING size, root")
            .fetch_one(&mut *tx)
            .await?;
    let state = tree_state(size, root)?;
    let rows = sqlx::query(
        "SELECT log_index, entry FROM log_entries WHERE log_index >= $1 \
         ORDER BY log_index LIMIT $2",
    )
    .bind(size)
    .bind(limit as i64)
    .fetch_all(&mut *tx)
    .await?;
    let mut leaf_hashes = Vec::with_capacity(rows.len());
    for (row, expected) in rows.iter().zip(state.size..) {
        let index: i64 = row.try_get("log_index")?;
        if index as u64 != expected {
            // Indices are taken under a lock and committed with their
            // leaves, so a gap is a leaf deleted from the table.
            return Err(IntegrateError::Gap { missing: expected });
        }
        let entry: Vec<u8> = row.try_get("entry")?;
        leaf_hashes.push(robotid_tlog::leaf_hash(&entry));
    }
    if leaf_hashes.is_empty() {
        return Ok(state);
    }
    let held = read_tiles(&mut tx, &robotid_tlog::tree::tiles_for_append(state.size)).await?;
    let appended = robotid_tlog::tree::append(&held, state.size, &leaf_hashes)
        .map_err(|error| IntegrateError::Tiles(error.to_string()))?;
    let sql = format!(
        "INSERT INTO log_tiles (level, tile_index, data) VALUES {} \
         ON CONFLICT (level, tile_index) DO UPDATE SET data = excluded.data",
        value_rows(appended.tiles.len(), 3)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (tile, data) in &appended.tiles {
        query = query
            .bind(i64::from(tile.level()))
            .bind(tile.index() as i64)
            .bind(data.clone());
    }
    query.execute(&mut *tx).await?;
    sqlx::query("UPDATE log_tree SET size = $1, root = $2 WHERE id = 1")
        .bind(appended.tree_size as i64)
        .bind(appended.tree_hash.to_vec())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(TreeState {
        size: appended.tree_size,
        root: appended.tree_hash,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum IntegrateError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("leaf {missing} is missing from log_entries")]
    Gap { missing: u64 },
    #[error("the stored tiles do not extend: {0}")]
    Tiles(String),
}

/// The tiles asked for, each at its widest stored version, in a set the
/// tree functions read. A tile not stored is left out (the tree functions
/// then report it).
pub async fn read_tiles(
    connection: &mut AnyConnection,
    tiles: &[Tile],
) -> Result<TileSet, sqlx::Error> {
    let mut set = TileSet::new();
    for tile in tiles {
        if let Some(data) = tile_data(connection, tile.level(), tile.index()).await?
            && data.len() >= tile.byte_len()
        {
            set.insert(*tile, data[..tile.byte_len()].to_vec());
        }
    }
    Ok(set)
}

/// The widest stored version of a tile.
pub async fn tile_data(
    connection: &mut AnyConnection,
    level: u8,
    index: u64,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT data FROM log_tiles WHERE level = $1 AND tile_index = $2")
        .bind(i64::from(level))
        .bind(index as i64)
        .fetch_optional(&mut *connection)
        .await
}

/// The entries of leaves `start .. end`, in order.
pub async fn entries(
    connection: &mut AnyConnection,
    start: u64,
    end: u64,
) -> Result<Vec<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT entry FROM log_entries WHERE log_index >= $1 AND log_index < $2 \
         ORDER BY log_index",
    )
    .bind(start as i64)
    .bind(end as i64)
    .fetch_all(&mut *connection)
    .await
}

/// One leaf's entry.
pub async fn entry(
    connection: &mut AnyConnection,
    index: u64,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT entry FROM log_entries WHERE log_index = $1")
        .bind(index as i64)
        .fetch_optional(&mut *connection)
        .await
}

/// A robot's event leaves, `(index, entry)` by index.
pub async fn robot_entries(
    connection: &mut AnyConnection,
    robot_id: &str,
) -> Result<Vec<(u64, Vec<u8>)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT log_index, entry FROM log_entries WHERE robot_id = $1 ORDER BY log_index",
    )
    .bind(robot_id)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<i64, _>("log_index")? as u64,
                row.try_get("entry")?,
            ))
        })
        .collect()
}

/// The newest access-log anchor, `(index, entry)`.
pub async fn latest_anchor(
    connection: &mut AnyConnection,
) -> Result<Option<(u64, Vec<u8>)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT log_index, entry FROM log_entries WHERE robot_id IS NULL \
         ORDER BY log_index DESC LIMIT 1",
    )
    .fetch_optional(&mut *connection)
    .await?;
    row.map(|row| {
        Ok((
            row.try_get::<i64, _>("log_index")? as u64,
            row.try_get("entry")?,
        ))
    })
    .transpose()
}

/// Keeps a signed checkpoint; one of that size already kept stays (both
/// sign the same tree, so they are the same note).
pub async fn keep_checkpoint(
    connection: &mut AnyConnection,
    size: u64,
    note: &[u8],
    at_micros: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO log_checkpoints (size, note, signed_at) VALUES ($1, $2, $3) \
         ON CONFLICT (size) DO NOTHING",
    )
    .bind(size as i64)
    .bind(note.to_vec())
    .bind(at_micros)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// The newest checkpoint: `(size, note)`.
pub async fn latest_checkpoint(
    connection: &mut AnyConnection,
) -> Result<Option<(u64, Vec<u8>)>, sqlx::Error> {
    let row = sqlx::query("SELECT size, note FROM log_checkpoints ORDER BY size DESC LIMIT 1")
        .fetch_optional(&mut *connection)
        .await?;
    row.map(|row| Ok((row.try_get::<i64, _>("size")? as u64, row.try_get("note")?)))
        .transpose()
}

/// How many leaves have been numbered (integrated or not).
pub async fn leaf_count(connection: &mut AnyConnection) -> Result<u64, sqlx::Error> {
    let next: i64 = sqlx::query_scalar("SELECT next_index FROM log_sequence WHERE id = 1")
        .fetch_one(&mut *connection)
        .await?;
    Ok(next as u64)
}

/// The checkpoint kept for `size`, if one was signed.
pub async fn checkpoint_of_size(
    connection: &mut AnyConnection,
    size: u64,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT note FROM log_checkpoints WHERE size = $1")
        .bind(size as i64)
        .fetch_optional(&mut *connection)
        .await
}
