//! Writing, listing and verifying the access log.
//!
//! An entry is written in the transaction of the write it covers, or in its
//! own transaction before a full read is answered: if it cannot be written,
//! the call fails (fail closed).

use std::collections::HashMap;

use robotid_domain::access::{AccessDraft, AccessEntry, Batch, SHARDS, verify_shard};
use robotid_domain::history::Digest;
use robotid_domain::time::Timestamp;
use robotid_platform::db::value_rows;
use robotid_platform::error::ApiError;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Row};

macro_rules! entry_columns {
    () => {
        "shard, sequence, at, caller, action, robot_id, outcome, robot_count, robots_digest, \
         previous_hash, hash"
    };
}

/// Rows per multi-row INSERT: 11 columns each (an entry), or 3 (a batch's
/// robot), well under SQLite's 32,766 bound parameters.
const INSERT_CHUNK: usize = 500;

/// Appends `draft` to its shard's chain, inside the caller's transaction.
pub async fn append(
    connection: &mut AnyConnection,
    draft: AccessDraft,
) -> Result<AccessEntry, ApiError> {
    let mut entries = append_all(connection, vec![draft]).await?;
    Ok(entries.remove(0))
}

/// Appends `drafts`, in order, inside the caller's transaction, with three
/// statements however many there are. They all go to the chain of the first
/// one's shard: the shards only spread concurrent writers over several
/// heads, and one head per transaction means two transactions never wait
/// on each other's heads in opposite orders.
pub async fn append_all(
    connection: &mut AnyConnection,
    drafts: Vec<AccessDraft>,
) -> Result<Vec<AccessEntry>, ApiError> {
    let Some(first) = drafts.first() else {
        return Ok(Vec::new());
    };
    let shard = first.shard();
    // Taking the head row first serialises appends to one shard; it moves
    // past every entry of this call at once.
    let (last, previous): (i64, Vec<u8>) = sqlx::query_as(
        "UPDATE access_log_heads SET sequence = sequence + $1 WHERE shard = $2 \
         RETURNING sequence, hash",
    )
    .bind(drafts.len() as i64)
    .bind(i64::from(shard))
    .fetch_one(&mut *connection)
    .await?;
    let mut previous = Digest::from_slice(&previous).unwrap_or(Digest::GENESIS);
    let first_sequence = last as u64 + 1 - drafts.len() as u64;
    let at = Timestamp::now();
    let mut indexed: Vec<(u64, String)> = Vec::new();
    let entries: Vec<AccessEntry> = drafts
        .into_iter()
        .zip(first_sequence..)
        .map(|(draft, sequence)| {
            let (entry, batch) = draft.seal(shard, sequence, previous, at);
            previous = entry.hash;
            indexed.extend(batch.into_iter().map(|robot| (sequence, robot)));
            entry
        })
        .collect();
    for chunk in entries.chunks(INSERT_CHUNK) {
        insert_entries(connection, chunk).await?;
    }
    for chunk in indexed.chunks(INSERT_CHUNK) {
        index_robots(connection, shard, chunk).await?;
    }
    sqlx::query("UPDATE access_log_heads SET hash = $1 WHERE shard = $2")
        .bind(&previous.0[..])
        .bind(i64::from(shard))
        .execute(&mut *connection)
        .await?;
    Ok(entries)
}

async fn insert_entries(
    connection: &mut AnyConnection,
    entries: &[AccessEntry],
) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 11;
    let sql = format!(
        concat!("INSERT INTO access_log (", entry_columns!(), ") VALUES {}"),
        value_rows(entries.len(), COLUMNS)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for entry in entries {
        query = query
            .bind(i64::from(entry.shard))
            .bind(entry.sequence as i64)
            .bind(entry.at.as_micros())
            .bind(&entry.caller)
            .bind(&entry.action)
            .bind(entry.robot_id.as_deref())
            .bind(&entry.outcome)
            .bind(entry.batch.map_or(0, |batch| batch.count as i64))
            .bind(entry.batch.map(|batch| batch.digest.0.to_vec()))
            .bind(&entry.previous_hash.0[..])
            .bind(&entry.hash.0[..]);
    }
    query.execute(&mut *connection).await?;
    Ok(())
}

/// The robots of batch entries, `(sequence, robot)` in one shard.
async fn index_robots(
    connection: &mut AnyConnection,
    shard: u32,
    robots: &[(u64, String)],
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO access_log_robots (shard, sequence, robot_id) VALUES {}",
        value_rows(robots.len(), 3)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (sequence, robot) in robots {
        query = query
            .bind(i64::from(shard))
            .bind(*sequence as i64)
            .bind(robot.as_str());
    }
    query.execute(&mut *connection).await?;
    Ok(())
}

/// Appends `draft` in a transaction of its own.
pub async fn record(pool: &AnyPool, draft: AccessDraft) -> Result<(), ApiError> {
    let mut tx = pool.begin().await?;
    append(&mut tx, draft).await?;
    tx.commit().await?;
    Ok(())
}

/// Up to `limit` entries older than `before_id` (newest first), optionally
/// about one robot (alone, or among a batch's); each with its id for
/// paging.
pub async fn list(
    pool: &AnyPool,
    robot_id: Option<&str>,
    before_id: i64,
    limit: u32,
) -> Result<Vec<(i64, AccessEntry)>, ApiError> {
    let rows = match robot_id {
        // An entry names one robot, or indexes a batch's: never both, so
        // the two halves do not overlap.
        Some(robot_id) => {
            sqlx::query(concat!(
                "SELECT id, ",
                entry_columns!(),
                " FROM access_log WHERE robot_id = $1 AND id < $2 \
                 UNION ALL SELECT a.id, a.shard, a.sequence, a.at, a.caller, a.action, \
                 a.robot_id, a.outcome, a.robot_count, a.robots_digest, a.previous_hash, a.hash \
                 FROM access_log_robots r JOIN access_log a \
                 ON a.shard = r.shard AND a.sequence = r.sequence \
                 WHERE r.robot_id = $1 AND a.id < $2 \
                 ORDER BY id DESC LIMIT $3"
            ))
            .bind(robot_id)
            .bind(before_id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query(concat!(
                "SELECT id, ",
                entry_columns!(),
                " FROM access_log WHERE id < $1 ORDER BY id DESC LIMIT $2"
            ))
            .bind(before_id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        }
    };
    rows.iter()
        .map(|row| Ok((row.try_get("id")?, entry_from_row(row)?)))
        .collect()
}

/// The outcome of walking every chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogVerdict {
    Intact {
        entries: u64,
    },
    Broken {
        shard: u32,
        sequence: u64,
        problem: String,
    },
}

pub async fn verify(pool: &AnyPool) -> Result<LogVerdict, ApiError> {
    let mut total = 0;
    for shard in 0..SHARDS {
        let mut indexed: HashMap<u64, Vec<String>> = HashMap::new();
        let robots: Vec<(i64, String)> =
            sqlx::query_as("SELECT sequence, robot_id FROM access_log_robots WHERE shard = $1")
                .bind(i64::from(shard))
                .fetch_all(pool)
                .await?;
        for (sequence, robot) in robots {
            indexed.entry(sequence as u64).or_default().push(robot);
        }
        let (head_sequence, head_hash): (i64, Vec<u8>) =
            sqlx::query_as("SELECT sequence, hash FROM access_log_heads WHERE shard = $1")
                .bind(i64::from(shard))
                .fetch_one(pool)
                .await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM access_log WHERE shard = $1 ORDER BY sequence"
        ))
        .bind(i64::from(shard))
        .fetch_all(pool)
        .await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            match entry_from_row(row) {
                Ok(entry) => entries.push(entry),
                Err(_) => {
                    return Ok(LogVerdict::Broken {
                        shard,
                        sequence: entries.len() as u64 + 1,
                        problem: "an entry cannot be read back".into(),
                    });
                }
            }
        }
        let head = (
            head_sequence as u64,
            Digest::from_slice(&head_hash).unwrap_or(Digest::GENESIS),
        );
        if let Some((sequence, problem)) = verify_shard(&entries, head, indexed) {
            return Ok(LogVerdict::Broken {
                shard,
                sequence,
                problem,
            });
        }
        total += entries.len() as u64;
    }
    Ok(LogVerdict::Intact { entries: total })
}

fn entry_from_row(row: &AnyRow) -> Result<AccessEntry, ApiError> {
    let previous: Vec<u8> = row.try_get("previous_hash")?;
    let hash: Vec<u8> = row.try_get("hash")?;
    let unreadable = || ApiError::internal(&std::io::Error::other("unreadable access log hash"));
    let batch = match row.try_get::<Option<Vec<u8>>, _>("robots_digest")? {
        None => None,
        Some(digest) => Some(Batch {
            count: row.try_get::<i64, _>("robot_count")? as u64,
            digest: Digest::from_slice(&digest).ok_or_else(unreadable)?,
        }),
    };
    Ok(AccessEntry {
        shard: row.try_get::<i64, _>("shard")? as u32,
        sequence: row.try_get::<i64, _>("sequence")? as u64,
        at: Timestamp::from_micros(row.try_get("at")?),
        caller: row.try_get("caller")?,
        action: row.try_get("action")?,
        robot_id: row.try_get("robot_id")?,
        batch,
        outcome: row.try_get("outcome")?,
        previous_hash: Digest::from_slice(&previous).ok_or_else(unreadable)?,
        hash: Digest::from_slice(&hash).ok_or_else(unreadable)?,
    })
}
