//! The clone alarm, `CLONE_SUSPECTED`: a code that shows activity where it
//! cannot be. A peer's hold is the one sign of life from abroad that
//! reaches this registry, so it is checked here against this registry's
//! copy of the robot:
//!
//! - the robot was **recycled** here, and the peer records an event on it;
//! - the robot was **issued here and is at home** (not abroad), yet the
//!   peer holds it: it is domestic in two registries.
//!
//! The hold is refused (`FAILED_PRECONDITION` `CLONE_SUSPECTED`); the alarm
//! is kept (`clone_alarms`, listed to the regulator by `ListCloneAlarms`),
//! logged as an error event and counted (`robotid.registry.clone_suspected`)
//! — here and, when the refusal reaches it, at the peer too, so that both
//! regulators see it.

use std::sync::OnceLock;

use robotid_domain::code::CountryCode;
use robotid_domain::lifecycle::{Jurisdiction, Status};
use robotid_domain::robot::Robot;
use robotid_domain::time::Timestamp;
use sqlx::{AnyConnection, Row};

pub const REASON: &str = "CLONE_SUSPECTED";

/// Why a hold from `peer` shows `robot` where it cannot be; `None` when it
/// may be there.
pub fn suspicion(robot: &Robot, home: &CountryCode, peer: &str) -> Option<String> {
    let state = robot.standing.state;
    if state.status == Status::Recycled {
        return Some(format!(
            "{} was recycled in {home}, yet {peer} records an event on it",
            robot.robot_id
        ));
    }
    let issued_here = robot.origin_country.is_none() && robot.robot_id.country() == *home;
    if issued_here && state.jurisdiction != Jurisdiction::Abroad {
        return Some(format!(
            "{} is at home in {home} (never exported), yet {peer} holds it",
            robot.robot_id
        ));
    }
    None
}

/// One alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneAlarm {
    pub robot_id: String,
    /// The other registry of the two.
    pub peer: String,
    pub hold_id: String,
    /// The country whose registry found it.
    pub raised_by: String,
    pub reason: String,
    pub detected_at: i64,
}

/// Keeps `alarm` (once per hold and peer: a retried hold raises it once),
/// and logs and counts it the first time.
pub async fn raise(connection: &mut AnyConnection, alarm: &CloneAlarm) -> Result<(), sqlx::Error> {
    let new = sqlx::query(
        "INSERT INTO clone_alarms (robot_id, peer, hold_id, raised_by, reason, detected_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(&alarm.robot_id)
    .bind(&alarm.peer)
    .bind(&alarm.hold_id)
    .bind(&alarm.raised_by)
    .bind(&alarm.reason)
    .bind(alarm.detected_at)
    .execute(&mut *connection)
    .await?
    .rows_affected()
        > 0;
    if new {
        counter().add(
            1,
            &[opentelemetry::KeyValue::new(
                "raised_by",
                alarm.raised_by.clone(),
            )],
        );
        tracing::error!(
            alarm = REASON,
            robot = %alarm.robot_id,
            peer = %alarm.peer,
            raised_by = %alarm.raised_by,
            reason = %alarm.reason,
            "a robot's code shows activity where it cannot be"
        );
    }
    Ok(())
}

/// Every alarm, newest first.
pub async fn alarms(connection: &mut AnyConnection) -> Result<Vec<CloneAlarm>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT robot_id, peer, hold_id, raised_by, reason, detected_at FROM clone_alarms \
         ORDER BY detected_at DESC, robot_id",
    )
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(CloneAlarm {
                robot_id: row.try_get("robot_id")?,
                peer: row.try_get("peer")?,
                hold_id: row.try_get("hold_id")?,
                raised_by: row.try_get("raised_by")?,
                reason: row.try_get("reason")?,
                detected_at: row.try_get("detected_at")?,
            })
        })
        .collect()
}

/// An alarm found now.
pub fn found(
    robot_id: &str,
    peer: &str,
    hold_id: &str,
    raised_by: &str,
    reason: String,
) -> CloneAlarm {
    CloneAlarm {
        robot_id: robot_id.to_owned(),
        peer: peer.to_owned(),
        hold_id: hold_id.to_owned(),
        raised_by: raised_by.to_owned(),
        reason,
        detected_at: Timestamp::now().as_micros(),
    }
}

fn counter() -> &'static opentelemetry::metrics::Counter<u64> {
    static COUNTER: OnceLock<opentelemetry::metrics::Counter<u64>> = OnceLock::new();
    COUNTER.get_or_init(|| {
        opentelemetry::global::meter("robotid")
            .u64_counter("robotid.registry.clone_suspected")
            .with_description(
                "Codes active where they cannot be: a peer's event on a robot recycled here, \
                 or a robot at home here held by a peer",
            )
            .build()
    })
}
