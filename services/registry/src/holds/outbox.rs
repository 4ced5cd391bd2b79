//! The outbox of holds: one row per hold event and peer, written in the
//! event's own transaction (so a hold acknowledged here is never lost,
//! whatever happens to the peer), read and marked by the relay.

use robotid_domain::history::Event;
use robotid_domain::time::Timestamp;
use robotid_platform::db::placeholders;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{crosses_border, is_from_a_peer};

/// Rows read per relay round.
const ROUND: i64 = 256;

/// Enters a row for each hold among `events` (just inserted, in the
/// caller's transaction) and each peer that keeps a copy of its robot: the
/// robot's origin, for an imported robot; the destination of its last
/// export, for a robot abroad. Holds that came from a peer are not sent
/// back.
pub async fn enqueue(tx: &mut AnyConnection, events: &[Event]) -> Result<(), sqlx::Error> {
    let holds: Vec<&Event> = events
        .iter()
        .filter(|event| crosses_border(event.kind) && !is_from_a_peer(&event.actor))
        .collect();
    if holds.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<&str> = holds.iter().map(|event| event.robot_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut peers_of: std::collections::HashMap<String, Vec<String>> = Default::default();
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT robot_id, origin_country, jurisdiction FROM robots WHERE robot_id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *tx).await? {
            let robot: String = row.try_get("robot_id")?;
            let mut peers = Vec::new();
            if let Some(origin) = row.try_get::<Option<String>, _>("origin_country")? {
                peers.push(origin);
            }
            if row.try_get::<String, _>("jurisdiction")? == "ABROAD" {
                let destination: Option<Option<String>> = sqlx::query_scalar(
                    "SELECT country FROM events WHERE robot_id = $1 AND kind = 'EXPORTED' \
                     ORDER BY sequence DESC LIMIT 1",
                )
                .bind(&robot)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(Some(destination)) = destination {
                    peers.push(destination);
                }
            }
            peers.sort();
            peers.dedup();
            peers_of.insert(robot, peers);
        }
    }
    let now = Timestamp::now().as_micros();
    for event in holds {
        let Some(peers) = peers_of.get(event.robot_id.as_str()) else {
            continue;
        };
        let origin_recall = match &event.details.recall {
            Some(recall) => origin_recall_of(tx, recall).await?,
            None => None,
        };
        for peer in peers {
            sqlx::query(
                "INSERT INTO peer_outbox (country, robot_id, sequence, origin_recall, created_at, \
                 next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(peer)
            .bind(event.robot_id.as_str())
            .bind(event.sequence as i64)
            .bind(origin_recall.clone())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// The name a peer's recall has where it was opened, for a recall this
/// registry opened for a peer's; `None` for this registry's own.
async fn origin_recall_of(
    tx: &mut AnyConnection,
    recall: &str,
) -> Result<Option<String>, sqlx::Error> {
    let Some(id) = crate::store::recall_id(recall) else {
        return Ok(None);
    };
    let origin: Option<Option<String>> =
        sqlx::query_scalar("SELECT origin_name FROM recalls WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(origin.flatten())
}

/// A hold waiting for its peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: i64,
    pub country: String,
    pub robot_id: String,
    pub sequence: i64,
    pub origin_recall: Option<String>,
    pub attempts: i64,
}

/// The oldest holds due for delivery to the active peers with an
/// address, in the order they were recorded, each the oldest of its robot
/// still waiting for that peer (holds of one robot reach a peer in order).
/// Holds for other countries wait, and hold none of these back.
pub async fn due(connection: &mut AnyConnection, now: i64) -> Result<Vec<Pending>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, country, robot_id, sequence, origin_recall, attempts \
         FROM peer_outbox AS hold WHERE delivered_at IS NULL AND next_attempt_at <= $1 \
         AND country IN (SELECT country FROM peers WHERE revoked_at IS NULL AND grpc_url <> '') \
         AND NOT EXISTS (SELECT 1 FROM peer_outbox AS older WHERE older.delivered_at IS NULL \
         AND older.country = hold.country AND older.robot_id = hold.robot_id \
         AND older.id < hold.id) \
         ORDER BY id LIMIT $2",
    )
    .bind(now)
    .bind(ROUND)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Pending {
                id: row.try_get("id")?,
                country: row.try_get("country")?,
                robot_id: row.try_get("robot_id")?,
                sequence: row.try_get("sequence")?,
                origin_recall: row.try_get("origin_recall")?,
                attempts: row.try_get("attempts")?,
            })
        })
        .collect()
}

/// The peer answered: delivered (`OK`) or refused for good.
pub async fn answered(
    connection: &mut AnyConnection,
    id: i64,
    outcome: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE peer_outbox SET delivered_at = $1, outcome = $2 WHERE id = $3")
        .bind(now)
        .bind(outcome)
        .bind(id)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Not delivered this time: asked again at `next_attempt_at`.
pub async fn postpone(
    connection: &mut AnyConnection,
    id: i64,
    attempts: i64,
    next_attempt_at: i64,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE peer_outbox SET attempts = $1, next_attempt_at = $2, outcome = $3 WHERE id = $4",
    )
    .bind(attempts)
    .bind(next_attempt_at)
    .bind(outcome)
    .bind(id)
    .execute(&mut *connection)
    .await?;
    Ok(())
}
