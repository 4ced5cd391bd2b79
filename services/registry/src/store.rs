//! The registry's storage: robots, their events and recalls, on SQLite or
//! PostgreSQL through one set of portable SQL statements.
//!
//! Every write runs in one transaction that begins with a write (the request
//! claim, then a no-op update of the robot row): in PostgreSQL that takes the
//! robot's row lock, in SQLite the database write lock, so concurrent events
//! on one robot queue up and its history stays one linear chain.
//!
//! Locks are taken in one order: robot rows, an access-log head, and last,
//! just before the commit, the transparency log's sequence row (with the
//! event rows and their leaves), so that no two writes wait on each other in
//! opposite orders and the one lock every write shares is held briefly.

use robotid_domain::access::AccessDraft;
use robotid_domain::code::{CountryCode, ManufacturerCode, ModelCode, RobotId};
use robotid_domain::history::{
    ChainVerdict, ChainVerifier, Digest, Event, EventDetails, EventDraft,
};
use robotid_domain::holder::Holder;
use robotid_domain::lifecycle::{EventKind, Holds, Jurisdiction, Refusal, RobotState, Status};
use robotid_domain::robot::{
    Production, Recall, RecordError, Registration, Robot, StoredCredential,
};
use robotid_domain::standing::Standing;
use robotid_domain::time::Timestamp;
use robotid_platform::authz::{self, Custody};
use robotid_platform::db::{Database, placeholders, value_rows};
use robotid_platform::error::{ApiError, TRANSACTION_CONFLICT};
use robotid_platform::idempotency::{self, Claim, RequestKey};
use robotid_platform::identity::Caller;

use std::collections::HashMap;

use crate::access_log;
use crate::holds::{ReceivedHold, clones};
use crate::log::{self, TransparencyLog};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("robot {0} is not registered")]
    RobotNotFound(RobotId),
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The event is dated before the robot's first event.
    #[error("the event happened before the robot was issued")]
    BeforeIssue { issued_at: Timestamp },
    #[error("robot {0} is already registered with different data")]
    Conflict(RobotId),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<sqlx::Error> for WriteError {
    fn from(error: sqlx::Error) -> Self {
        WriteError::Api(error.into())
    }
}

impl From<RecordError> for WriteError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Refused(refusal) => WriteError::Refused(refusal),
            RecordError::BeforeIssue { issued_at } => WriteError::BeforeIssue { issued_at },
        }
    }
}

/// What `register` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterOutcome {
    pub registered: u64,
    pub already_registered: u64,
}

/// A recall to open.
#[derive(Debug, Clone)]
pub struct RecallDraft {
    pub country: CountryCode,
    pub manufacturer: ManufacturerCode,
    pub model: ModelCode,
    /// Distinct, in the order listed; empty for the whole model.
    pub robot_ids: Vec<RobotId>,
    pub reason: String,
}

/// Which recalls to list.
#[derive(Debug, Clone, Default)]
pub struct RecallFilter {
    pub country: Option<CountryCode>,
    pub manufacturer: Option<ManufacturerCode>,
    pub model: Option<ModelCode>,
}

/// One `RecordEvent` to serve: its request key, the robot, the event and
/// the access log entry that goes with it when it is written; who asks,
/// and the holder it presented, for the rules that depend on the robot
/// (see `authz::require_custody`).
#[derive(Debug, Clone)]
pub struct EventRequest {
    pub key: RequestKey,
    pub robot_id: RobotId,
    pub draft: EventDraft,
    pub access: AccessDraft,
    pub caller: Caller,
    /// The keyed hash of `EventDetails.current_holder`.
    pub presented_holder: Option<Holder>,
}

#[derive(Clone)]
pub struct RegistryStore {
    db: Database,
    /// The transparency log every event enters; `None` in a registry run
    /// without one (`--log-key-file` unset).
    log: Option<TransparencyLog>,
}

// Column lists as macros, so that queries stay `&'static str` literals:
// no formatting per call, and sqlx's injection guard is satisfied.
macro_rules! robot_columns {
    () => {
        "robot_id, manufacturer_name, model_name, produced_at, factory, status, recalled, stolen, \
         jurisdiction, holder_kind, holder, open_recalls, stolen_by, origin_country, issued_at, \
         event_count, head_hash, registered_at, updated_at"
    };
}

macro_rules! event_columns {
    () => {
        "robot_id, sequence, kind, holder_kind, holder, country, recall, note, component, \
         firmware_version, reference, occurred_at, recorded_at, actor, status_after, version, \
         previous_hash, hash, log_index, log_salt"
    };
}

macro_rules! recall_columns {
    () => {
        "id, country_code, manufacturer_code, model_code, robot_ids, listed_robot_count, reason, \
         affected_robot_count, skipped_robot_count, created_at"
    };
}

const SELECT_ROBOT: &str = concat!(
    "SELECT ",
    robot_columns!(),
    " FROM robots WHERE robot_id = $1"
);
const SELECT_ROBOTS: &str = concat!("SELECT ", robot_columns!(), " FROM robots");
const SELECT_EVENTS: &str = concat!("SELECT ", event_columns!(), " FROM events");
const SELECT_EVENTS_AFTER: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE robot_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3"
);
const SELECT_EVENT: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE robot_id = $1 AND sequence = $2"
);

/// Rows per multi-row INSERT: 500 × 21 columns stays under SQLite's 32,766
/// bound parameters.
const INSERT_CHUNK: usize = 500;

/// Robots whose histories one query reads when verifying many: bounds the
/// rows held at once (a robot has tens of events, not thousands).
const VERIFY_CHUNK: usize = 100;

impl RegistryStore {
    pub fn new(db: Database) -> Self {
        Self { db, log: None }
    }

    /// The store, entering every event it writes in `log`.
    pub fn with_log(mut self, log: TransparencyLog) -> Self {
        self.log = Some(log);
        self
    }

    pub fn log(&self) -> Option<&TransparencyLog> {
        self.log.as_ref()
    }

    fn logs(&self) -> bool {
        self.log.is_some()
    }

    /// Wakes the log's integrator after a commit that appended events.
    fn appended(&self) {
        if let Some(log) = &self.log {
            log.appended();
        }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Writes an access log entry on its own, before a full read is
    /// answered or after a write was refused.
    pub async fn log_access(&self, draft: AccessDraft) -> Result<(), ApiError> {
        access_log::record(&self.db.pool, draft).await
    }

    /// Registers robots with their first event. Robots already registered
    /// with the same data are counted, not written again, so a delivery can
    /// be repeated; one registered with different data fails the batch.
    /// Their first event names `actor`.
    pub async fn register(
        &self,
        key: &RequestKey,
        registrations: Vec<(Registration, Timestamp)>,
        actor: String,
        access: AccessDraft,
    ) -> Result<RegisterOutcome, WriteError> {
        let now = Timestamp::now();
        let mut tx = self.db.pool.begin().await?;
        if let Claim::Done(result) = idempotency::claim(&mut tx, key, now.as_micros()).await? {
            return Ok(parse_register_result(&result));
        }

        let mut outcome = RegisterOutcome {
            registered: 0,
            already_registered: 0,
        };
        let mut events = Vec::with_capacity(registrations.len());
        for chunk in registrations.chunks(INSERT_CHUNK) {
            let created: Vec<(Robot, Event)> = chunk
                .iter()
                .map(|(registration, occurred_at)| {
                    Robot::register(registration.clone(), *occurred_at, actor.clone(), now)
                })
                .collect();
            let inserted = insert_robots(&mut tx, &created).await?;
            insert_credentials(&mut tx, chunk).await?;
            let (new, existing): (Vec<_>, Vec<_>) = created
                .into_iter()
                .partition(|(robot, _)| inserted.contains(&robot.robot_id));
            for (robot, _) in &existing {
                let stored = load_robot(&mut tx, &robot.robot_id)
                    .await?
                    .ok_or_else(|| WriteError::RobotNotFound(robot.robot_id.clone()))?;
                if !same_registration(&stored, robot) {
                    return Err(WriteError::Conflict(robot.robot_id.clone()));
                }
            }
            outcome.registered += new.len() as u64;
            outcome.already_registered += existing.len() as u64;
            events.extend(new.into_iter().map(|(_, event)| event));
        }

        let result = format!("{},{}", outcome.registered, outcome.already_registered);
        idempotency::complete(&mut tx, key, &result).await?;
        access_log::append(&mut tx, access).await?;
        insert_history(&mut tx, &mut events, self.logs()).await?;
        tx.commit().await?;
        self.appended();
        Ok(outcome)
    }

    /// The signed ID credential stored for a robot, if any.
    pub async fn credential(&self, robot_id: &RobotId) -> Result<Option<Vec<u8>>, ApiError> {
        Ok(
            sqlx::query_scalar("SELECT credential FROM robot_credentials WHERE robot_id = $1")
                .bind(robot_id.as_str())
                .fetch_optional(&self.db.pool)
                .await?,
        )
    }

    /// The foreign public keys that verified the credentials of imported
    /// robots, each once, with the country of (one of) the robots it
    /// verified: the country whose registry holds it.
    pub async fn foreign_credential_keys(&self) -> Result<Vec<([u8; 32], String)>, ApiError> {
        let rows = sqlx::query(
            "SELECT public_key, MIN(robot_id) AS robot_id FROM robot_credentials \
             WHERE public_key IS NOT NULL GROUP BY public_key ORDER BY public_key",
        )
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let key: Vec<u8> = row.try_get("public_key")?;
                let robot_id: String = row.try_get("robot_id")?;
                let key = <[u8; 32]>::try_from(key.as_slice())
                    .map_err(|_| corrupt("robot_credentials.public_key"))?;
                Ok((key, robot_id.chars().take(2).collect()))
            })
            .collect()
    }

    pub async fn robot(&self, robot_id: &RobotId) -> Result<Option<Robot>, ApiError> {
        let mut connection = self.db.pool.acquire().await?;
        load_robot(&mut connection, robot_id).await
    }

    /// Several robots in one query, in no particular order.
    pub async fn robots(&self, robot_ids: &[RobotId]) -> Result<Vec<Robot>, ApiError> {
        let mut robots = Vec::with_capacity(robot_ids.len());
        let mut connection = self.db.pool.acquire().await?;
        for chunk in robot_ids.chunks(INSERT_CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(RobotId::as_str).collect();
            for row in fetch_by_robot_ids(&mut connection, SELECT_ROBOTS, "", &ids).await? {
                robots.push(robot_from_row(&row)?);
            }
        }
        Ok(robots)
    }

    /// Serves a group of independent `RecordEvent` requests in one
    /// transaction — ten statements for the whole group instead of ten for
    /// each — with each request's own outcome, as if they had run one after
    /// the other in order: a request refused by the lifecycle (or whose
    /// request id was used for something else) fails alone and the others
    /// commit. The request ids must differ (see `EventWriter`).
    ///
    /// A group that PostgreSQL rolls back to break a deadlock with another
    /// transaction is run again, up to three times.
    pub async fn record_event_group(
        &self,
        requests: Vec<EventRequest>,
    ) -> Vec<Result<Event, WriteError>> {
        const ATTEMPTS: u32 = 3;
        let mut attempt = 1;
        loop {
            match self.try_record_event_group(&requests).await {
                Ok(outcomes) => return outcomes,
                Err(error) if error.reason() == TRANSACTION_CONFLICT && attempt < ATTEMPTS => {
                    attempt += 1;
                }
                Err(error) => {
                    return requests
                        .iter()
                        .map(|_| Err(WriteError::Api(error.clone())))
                        .collect();
                }
            }
        }
    }

    async fn try_record_event_group(
        &self,
        requests: &[EventRequest],
    ) -> Result<Vec<Result<Event, WriteError>>, ApiError> {
        let now = Timestamp::now();
        let mut tx = self.db.pool.begin().await?;
        let keys: Vec<&RequestKey> = requests.iter().map(|r| &r.key).collect();
        let claims = idempotency::claim_all(&mut tx, &keys, now.as_micros()).await?;

        // Retries are answered from the events they made; new requests are
        // applied to their robots, locked and read in one statement.
        let mut outcomes: Vec<Option<Result<Event, WriteError>>> = Vec::new();
        let mut new = Vec::new();
        for (i, (request, claim)) in requests.iter().zip(claims).enumerate() {
            outcomes.push(match claim {
                Ok(Claim::New) => {
                    new.push(i);
                    None
                }
                Ok(Claim::Done(result)) => {
                    let sequence: i64 = result.parse().map_err(|_| corrupt("request result"))?;
                    Some(Ok(load_event(&mut tx, &request.robot_id, sequence).await?))
                }
                Err(error) => Some(Err(error.into())),
            });
        }
        let ids = new.iter().map(|&i| requests[i].robot_id.clone()).collect();
        let mut robots = lock_robots(&mut tx, ids).await?;
        let mut events = Vec::with_capacity(new.len());
        // Which request each event answers.
        let mut answers = Vec::with_capacity(new.len());
        let mut changed = Vec::with_capacity(new.len());
        let mut results = Vec::with_capacity(new.len());
        let mut accesses = Vec::with_capacity(new.len());
        let mut refused = Vec::new();
        for i in new {
            let request = &requests[i];
            let outcome = match robots.get_mut(&request.robot_id) {
                None => Err(WriteError::RobotNotFound(request.robot_id.clone())),
                Some(robot) => record_on(
                    robot,
                    &request.caller,
                    request.draft.clone(),
                    request.presented_holder.as_ref(),
                    now,
                ),
            };
            match &outcome {
                Ok(event) => {
                    events.push(event.clone());
                    answers.push(i);
                    changed.push(&request.robot_id);
                    results.push((&request.key, event.sequence.to_string()));
                    accesses.push(request.access.clone());
                }
                Err(_) => refused.push(&request.key),
            }
            outcomes[i] = Some(outcome);
        }
        changed.sort();
        changed.dedup();
        let changed: Vec<&Robot> = changed
            .into_iter()
            .filter_map(|id| robots.get(id))
            .collect();
        for chunk in changed.chunks(INSERT_CHUNK) {
            update_robots(&mut tx, chunk).await?;
        }
        idempotency::complete_all(&mut tx, &results).await?;
        idempotency::release_all(&mut tx, &refused).await?;
        access_log::append_all(&mut tx, accesses).await?;
        insert_history(&mut tx, &mut events, self.logs()).await?;
        tx.commit().await?;
        // The answers carry where each event is in the log.
        for (event, &i) in events.iter().zip(&answers) {
            outcomes[i] = Some(Ok(event.clone()));
        }
        self.appended();
        Ok(outcomes
            .into_iter()
            .map(|outcome| outcome.expect("every request has an outcome"))
            .collect())
    }

    /// Appends several events by `caller`, in order, all in one
    /// transaction: every one of them or, when one is refused, none. The
    /// error names the place of the event that was refused.
    pub async fn record_events(
        &self,
        key: &RequestKey,
        caller: &Caller,
        drafts: Vec<(RobotId, EventDraft)>,
        access: AccessDraft,
    ) -> Result<Vec<Event>, (Option<usize>, WriteError)> {
        let now = Timestamp::now();
        let mut tx = self.db.pool.begin().await.map_err(unattributed)?;
        if let Claim::Done(result) = idempotency::claim(&mut tx, key, now.as_micros())
            .await
            .map_err(unattributed)?
        {
            // The same fingerprint means the same robots in the same order:
            // the result holds their sequences.
            let mut events = Vec::with_capacity(drafts.len());
            for ((robot_id, _), sequence) in drafts.iter().zip(result.split(',')) {
                let sequence: i64 = sequence
                    .parse()
                    .map_err(|_| unattributed(corrupt("request result")))?;
                events.push(
                    load_event(&mut tx, robot_id, sequence)
                        .await
                        .map_err(unattributed)?,
                );
            }
            return Ok(events);
        }
        let mut events = append_events(&mut tx, caller, drafts, now).await?;
        let sequences: Vec<String> = events.iter().map(|e| e.sequence.to_string()).collect();
        idempotency::complete(&mut tx, key, &sequences.join(","))
            .await
            .map_err(unattributed)?;
        access_log::append(&mut tx, access)
            .await
            .map_err(unattributed)?;
        insert_history(&mut tx, &mut events, self.logs())
            .await
            .map_err(unattributed)?;
        tx.commit().await.map_err(unattributed)?;
        self.appended();
        Ok(events)
    }

    /// Opens a recall and records RECALL_ISSUED on every robot it holds, in
    /// one transaction: the listed robots, or every robot of the model (of
    /// the recall's country). Robots past the end of their life
    /// (decommissioned, recycled) are skipped and counted; a listed robot
    /// that is not registered fails the recall. The access entry names every
    /// robot recalled.
    pub async fn create_recall(
        &self,
        key: &RequestKey,
        draft: RecallDraft,
        mut access: AccessDraft,
    ) -> Result<Recall, WriteError> {
        let actor = access.caller.clone();
        let now = Timestamp::now();
        let mut tx = self.db.pool.begin().await?;
        if let Claim::Done(result) = idempotency::claim(&mut tx, key, now.as_micros()).await? {
            let id: i64 = result.parse().map_err(|_| corrupt("request result"))?;
            return load_recall(&mut tx, id)
                .await?
                .ok_or_else(|| WriteError::Api(corrupt("request result")));
        }

        let listed: Vec<&str> = draft.robot_ids.iter().map(RobotId::as_str).collect();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO recalls (country_code, manufacturer_code, model_code, robot_ids, \
             listed_robot_count, reason, affected_robot_count, skipped_robot_count, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7) RETURNING id",
        )
        .bind(draft.country.as_str())
        .bind(draft.manufacturer.as_str())
        .bind(draft.model.as_str())
        .bind(listed.join(","))
        .bind(listed.len() as i64)
        .bind(&draft.reason)
        .bind(now.as_micros())
        .fetch_one(&mut *tx)
        .await?;
        let name = recall_name(id);

        let targets: Vec<RobotId> = if draft.robot_ids.is_empty() {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT robot_id FROM robots WHERE manufacturer_code = $1 AND model_code = $2 \
                 AND substr(robot_id, 1, 2) = $3 ORDER BY robot_id",
            )
            .bind(draft.manufacturer.as_str())
            .bind(draft.model.as_str())
            .bind(draft.country.as_str())
            .fetch_all(&mut *tx)
            .await?;
            rows.iter()
                .map(|id| RobotId::parse(id).map_err(|_| corrupt("robot_id")))
                .collect::<Result<_, _>>()?
        } else {
            draft.robot_ids.clone()
        };

        let mut robots = lock_robots(&mut tx, targets.clone()).await?;
        let mut events = Vec::with_capacity(targets.len());
        let mut recalled = Vec::with_capacity(targets.len());
        let mut skipped = 0_i64;
        for robot_id in &targets {
            let robot = robots
                .get_mut(robot_id)
                .ok_or_else(|| WriteError::RobotNotFound(robot_id.clone()))?;
            let event = EventDraft {
                kind: EventKind::RecallIssued,
                details: EventDetails {
                    recall: Some(name.clone()),
                    note: Some(draft.reason.clone()),
                    ..EventDetails::default()
                },
                // A recall reaches a robot no earlier than it was issued.
                occurred_at: now.max(robot.issued_at),
                actor: actor.clone(),
            };
            match robot.record(event, now) {
                Ok((next, event)) => {
                    *robot = next;
                    events.push(event);
                    recalled.push(robot_id);
                }
                Err(RecordError::Refused(Refusal::Recycled | Refusal::Decommissioned)) => {
                    skipped += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
        let changed: Vec<&Robot> = recalled.iter().filter_map(|id| robots.get(*id)).collect();
        for chunk in changed.chunks(INSERT_CHUNK) {
            update_robots(&mut tx, chunk).await?;
        }
        sqlx::query(
            "UPDATE recalls SET affected_robot_count = $1, skipped_robot_count = $2 WHERE id = $3",
        )
        .bind(events.len() as i64)
        .bind(skipped)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        idempotency::complete(&mut tx, key, &id.to_string()).await?;
        access.robots = recalled.iter().map(|id| id.as_str().to_owned()).collect();
        access_log::append(&mut tx, access).await?;
        insert_history(&mut tx, &mut events, self.logs()).await?;
        let recall = load_recall(&mut tx, id)
            .await?
            .ok_or_else(|| WriteError::Api(corrupt("recalls")))?;
        tx.commit().await?;
        self.appended();
        Ok(recall)
    }

    /// One stored event and the salt of its leaf's details commitment.
    pub async fn event_with_salt(
        &self,
        robot_id: &RobotId,
        sequence: i64,
    ) -> Result<Option<(Event, Option<log::leaf::Salt>)>, ApiError> {
        let row = sqlx::query(SELECT_EVENT)
            .bind(robot_id.as_str())
            .bind(sequence)
            .fetch_optional(&self.db.pool)
            .await?;
        row.map(|row| Ok((event_from_row(&row)?, log::verify::salt_of(&row))))
            .transpose()
    }

    /// Records a hold that the peer `peer` delivered (checked against its
    /// log by the caller) on this registry's copy of the robot, as the
    /// peer: a recall opens (once per peer recall) a recall of this
    /// registry that names it; lifting a theft report needs the report to
    /// be the peer's own. Idempotent by `key`, like every write.
    pub async fn apply_peer_hold(
        &self,
        key: &RequestKey,
        peer: &Caller,
        home: &CountryCode,
        hold: ReceivedHold,
        access: AccessDraft,
    ) -> Result<Event, WriteError> {
        let now = Timestamp::now();
        let mut tx = self.db.pool.begin().await?;
        if let Claim::Done(result) = idempotency::claim(&mut tx, key, now.as_micros()).await? {
            let sequence: i64 = result.parse().map_err(|_| corrupt("request result"))?;
            return Ok(load_event(&mut tx, &hold.robot_id, sequence).await?);
        }
        let mut robots = lock_robots(&mut tx, vec![hold.robot_id.clone()]).await?;
        let robot = robots
            .get_mut(&hold.robot_id)
            .ok_or_else(|| WriteError::RobotNotFound(hold.robot_id.clone()))?;
        if let Some(reason) = clones::suspicion(robot, home, &peer.organization) {
            // Nothing of the hold is written; the alarm is, on its own.
            drop(tx);
            let alarm = clones::found(
                hold.robot_id.as_str(),
                &peer.organization,
                &hold.hold_id,
                home.as_str(),
                reason.clone(),
            );
            let mut connection = self.db.pool.acquire().await?;
            clones::raise(&mut connection, &alarm).await?;
            return Err(WriteError::Api(
                ApiError::failed_precondition(clones::REASON, reason)
                    .with_metadata("robot_id", hold.robot_id.as_str()),
            ));
        }
        let recall = match (hold.kind, &hold.origin_recall) {
            (EventKind::RecallIssued | EventKind::RecallRemedied, Some(origin)) => {
                Some(local_recall(&mut tx, home, robot, origin, &hold, now).await?)
            }
            (EventKind::RecallIssued | EventKind::RecallRemedied, None) => {
                return Err(WriteError::Api(ApiError::invalid_argument(
                    "origin_recall",
                    "a recall's hold names the recall where it was opened",
                )));
            }
            _ => None,
        };
        if hold.kind == EventKind::Recovered {
            let custody = Custody {
                holder: None,
                stolen_by: robot.standing.stolen_by.as_deref(),
                presented_holder: None,
            };
            if robot.standing.state.holds.stolen
                && authz::require_custody(peer, hold.kind, &custody).is_err()
            {
                return Err(WriteError::Api(
                    ApiError::failed_precondition(
                        "NOT_THE_FLAGGER",
                        format!(
                            "the theft report here is {}'s: only it, or this registry's \
                             regulator, lifts it",
                            robot.standing.stolen_by.as_deref().unwrap_or_default()
                        ),
                    )
                    .with_metadata("robot_id", hold.robot_id.as_str()),
                ));
            }
        }
        let draft = EventDraft {
            kind: hold.kind,
            details: EventDetails {
                recall,
                note: hold.details.note.clone(),
                reference: hold.details.reference.clone(),
                ..EventDetails::default()
            },
            occurred_at: hold.occurred_at.max(robot.issued_at),
            actor: peer.to_string(),
        };
        let (next, event) = robot.record(draft, now)?;
        *robot = next;
        if hold.kind == EventKind::RecallIssued {
            sqlx::query(
                "UPDATE recalls SET affected_robot_count = affected_robot_count + 1 \
                 WHERE origin_name = $1",
            )
            .bind(hold.origin_recall.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        update_robots(&mut tx, &[&*robot]).await?;
        idempotency::complete(&mut tx, key, &event.sequence.to_string()).await?;
        access_log::append(&mut tx, access).await?;
        let mut events = vec![event];
        insert_history(&mut tx, &mut events, self.logs()).await?;
        tx.commit().await?;
        self.appended();
        Ok(events.pop().expect("one event"))
    }

    /// One recall, `recalls/{id}`, with the robots it listed.
    pub async fn recall(&self, id: i64) -> Result<Option<Recall>, ApiError> {
        let mut connection = self.db.pool.acquire().await?;
        load_recall(&mut connection, id).await
    }

    /// Up to `limit` recalls older than `before_id` (newest first) that
    /// `filter` admits, without the robots they listed (a recall may list
    /// 10,000), each with its id for paging.
    pub async fn recalls(
        &self,
        filter: &RecallFilter,
        before_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, Recall)>, ApiError> {
        // Absent filters match everything: `$n = ''` is true for them.
        let rows = sqlx::query(concat!(
            "SELECT ",
            recall_columns!(),
            " FROM recalls WHERE id < $1 AND ($2 = '' OR country_code = $2) \
             AND ($3 = '' OR manufacturer_code = $3) AND ($4 = '' OR model_code = $4) \
             ORDER BY id DESC LIMIT $5"
        ))
        .bind(before_id)
        .bind(filter.country.as_ref().map_or("", |c| c.as_str()))
        .bind(filter.manufacturer.as_ref().map_or("", |m| m.as_str()))
        .bind(filter.model.as_ref().map_or("", |m| m.as_str()))
        .bind(i64::from(limit))
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, recall_from_row(row, false)?)))
            .collect()
    }

    /// The reason and creation time of each named recall (`recalls/{id}`),
    /// in the order named; names of no recall are left out.
    pub async fn recall_notices(
        &self,
        names: &[String],
    ) -> Result<Vec<(String, String, Timestamp)>, ApiError> {
        let ids: Vec<i64> = names.iter().filter_map(|name| recall_id(name)).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, reason, created_at FROM recalls WHERE id IN ({})",
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in &ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.db.pool).await?;
        let mut found: HashMap<i64, (String, Timestamp)> = HashMap::with_capacity(rows.len());
        for row in &rows {
            found.insert(
                row.try_get("id")?,
                (
                    row.try_get("reason")?,
                    Timestamp::from_micros(row.try_get("created_at")?),
                ),
            );
        }
        Ok(names
            .iter()
            .filter_map(|name| {
                let (reason, created_at) = found.get(&recall_id(name)?)?.clone();
                Some((name.clone(), reason, created_at))
            })
            .collect())
    }

    /// Gives recalls of a whole model made before recalls named their
    /// country this registry's (`home`), which they were of.
    pub async fn adopt_unplaced_recalls(&self, home: &CountryCode) -> Result<(), ApiError> {
        sqlx::query("UPDATE recalls SET country_code = $1 WHERE country_code = ''")
            .bind(home.as_str())
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Up to `limit` events after `after_sequence`, oldest first.
    pub async fn events(
        &self,
        robot_id: &RobotId,
        after_sequence: u64,
        limit: u32,
    ) -> Result<Vec<Event>, ApiError> {
        let rows = sqlx::query(SELECT_EVENTS_AFTER)
            .bind(robot_id.as_str())
            .bind(after_sequence as i64)
            .bind(i64::from(limit))
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Walks a robot's stored history, replays it and compares the robot's
    /// record with where it leads; `None` if the robot is unknown.
    pub async fn verify(&self, robot_id: &RobotId) -> Result<Option<ChainVerdict>, ApiError> {
        let mut connection = self.db.pool.acquire().await?;
        let Some(robot) = load_robot(&mut connection, robot_id).await? else {
            return Ok(None);
        };
        let verdict = verify_chain(&mut connection, &robot).await?;
        if self.log.is_none() || !matches!(verdict, ChainVerdict::Intact { .. }) {
            return Ok(Some(verdict));
        }
        // An intact chain may still be a truncated one: compare it with
        // the robot's leaves in the log.
        let history = history_with_salts(&mut connection, robot_id).await?;
        Ok(Some(
            match log::verify::robot_history(&mut connection, robot_id.as_str(), &history).await? {
                None => verdict,
                Some(found) => ChainVerdict::Broken {
                    sequence: found.sequence,
                    kind: found.kind,
                    problem: found.problem,
                },
            },
        ))
    }

    /// The log index of a robot's newest event, for its full view.
    pub async fn head_log_index(&self, robot: &Robot) -> Result<Option<u64>, ApiError> {
        let index: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT log_index FROM events WHERE robot_id = $1 AND sequence = $2",
        )
        .bind(robot.robot_id.as_str())
        .bind(robot.event_count as i64)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(index.flatten().map(|index| index as u64))
    }

    /// Walks the stored history of a robot already read.
    pub async fn verify_read(&self, robot: &Robot) -> Result<ChainVerdict, ApiError> {
        let mut connection = self.db.pool.acquire().await?;
        verify_chain(&mut connection, robot).await
    }

    /// Verdicts for several robots at once, for eligibility checks: the
    /// events of [`VERIFY_CHUNK`] robots in one query, not one query per
    /// robot (a 1,000-robot shipment took 1,000 round trips).
    pub async fn verify_many(&self, robots: &[Robot]) -> Result<Vec<ChainVerdict>, ApiError> {
        let mut connection = self.db.pool.acquire().await?;
        let mut verdicts = Vec::with_capacity(robots.len());
        for chunk in robots.chunks(VERIFY_CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(|robot| robot.robot_id.as_str()).collect();
            let order = " ORDER BY robot_id, sequence";
            let rows = fetch_by_robot_ids(&mut connection, SELECT_EVENTS, order, &ids).await?;
            let mut chains: HashMap<String, ChainVerifier> = HashMap::with_capacity(chunk.len());
            for row in &rows {
                let robot_id: String = row.try_get("robot_id")?;
                push_row(chains.entry(robot_id).or_default(), row);
            }
            for robot in chunk {
                let chain = chains.remove(robot.robot_id.as_str()).unwrap_or_default();
                verdicts.push(chain.finish(robot));
            }
        }
        Ok(verdicts)
    }
}

/// This registry's name for the recall a peer's hold is about: its own
/// recall, for one that started here; else the recall it opened for the
/// peer's (opened now, on the first of its robots to arrive).
async fn local_recall(
    tx: &mut AnyConnection,
    home: &CountryCode,
    robot: &Robot,
    origin: &str,
    hold: &ReceivedHold,
    now: Timestamp,
) -> Result<String, WriteError> {
    let unknown = || {
        WriteError::Api(ApiError::invalid_argument(
            "origin_recall",
            format!("{origin:?} is not a recall of a registry (registries/CC/recalls/ID)"),
        ))
    };
    let (country, recall) = crate::holds::parse_global_recall_name(origin).ok_or_else(unknown)?;
    if country == home.as_str() {
        return Ok(recall.to_owned());
    }
    let known: Option<i64> = sqlx::query_scalar("SELECT id FROM recalls WHERE origin_name = $1")
        .bind(origin)
        .fetch_optional(&mut *tx)
        .await?;
    let id = match known {
        Some(id) => id,
        None if hold.kind == EventKind::RecallRemedied => {
            return Err(WriteError::Refused(Refusal::RecallNotOpen));
        }
        None => {
            let robot_id = &robot.robot_id;
            sqlx::query_scalar(
                "INSERT INTO recalls (country_code, manufacturer_code, model_code, robot_ids, \
                 listed_robot_count, reason, affected_robot_count, skipped_robot_count, \
                 created_at, origin_name) VALUES ($1, $2, $3, '', 0, $4, 0, 0, $5, $6) \
                 RETURNING id",
            )
            .bind(robot_id.country().as_str())
            .bind(robot_id.manufacturer().as_str())
            .bind(robot_id.model().as_str())
            .bind(hold.details.note.clone().unwrap_or_default())
            .bind(now.as_micros())
            .bind(origin)
            .fetch_one(&mut *tx)
            .await?
        }
    };
    Ok(recall_name(id))
}

/// Appends `draft` by `caller` to `robot` (locked) in memory, if the
/// caller may record it on this robot (its holder, its theft report) and
/// the rules allow it; `robot` becomes the robot after it.
fn record_on(
    robot: &mut Robot,
    caller: &Caller,
    draft: EventDraft,
    presented_holder: Option<&Holder>,
    now: Timestamp,
) -> Result<Event, WriteError> {
    let custody = Custody {
        holder: robot.standing.holder.as_ref(),
        stolen_by: robot.standing.stolen_by.as_deref(),
        presented_holder,
    };
    authz::require_custody(caller, draft.kind, &custody).map_err(|error| {
        WriteError::Api(error.with_metadata("robot_id", robot.robot_id.as_str()))
    })?;
    let (next, event) = robot.record(draft, now)?;
    *robot = next;
    Ok(event)
}

/// Appends `drafts` by `caller` in order inside the caller's transaction,
/// with a few statements for the whole batch instead of four per event:
/// lock every robot, read them, check and seal each event in memory (a
/// robot may appear more than once), write back each robot; the caller
/// inserts the events last (`insert_history`). An error names the place of the event that was refused or whose
/// robot was not found.
async fn append_events(
    tx: &mut AnyConnection,
    caller: &Caller,
    drafts: Vec<(RobotId, EventDraft)>,
    now: Timestamp,
) -> Result<Vec<Event>, (Option<usize>, WriteError)> {
    let ids: Vec<RobotId> = drafts.iter().map(|(id, _)| id.clone()).collect();
    let mut current = lock_robots(tx, ids).await.map_err(unattributed)?;
    let mut events = Vec::with_capacity(drafts.len());
    for (i, (robot_id, draft)) in drafts.into_iter().enumerate() {
        let Some(robot) = current.get_mut(&robot_id) else {
            return Err((Some(i), WriteError::RobotNotFound(robot_id)));
        };
        // A batch carries no holder reference: its events are the border's.
        let event = record_on(robot, caller, draft, None, now).map_err(|error| (Some(i), error))?;
        events.push(event);
    }
    let mut ids: Vec<&RobotId> = current.keys().collect();
    ids.sort();
    let changed: Vec<&Robot> = ids.into_iter().filter_map(|id| current.get(id)).collect();
    for chunk in changed.chunks(INSERT_CHUNK) {
        update_robots(tx, chunk).await.map_err(unattributed)?;
    }
    Ok(events)
}

/// Locks and reads robots, in one statement per 500: a write that reads,
/// so the row locks (PostgreSQL) or the write lock (SQLite) are taken as the
/// robots are read and no other event is appended to them in between.
/// Robots that are not registered are missing from the answer.
async fn lock_robots(
    tx: &mut AnyConnection,
    mut ids: Vec<RobotId>,
) -> Result<HashMap<RobotId, Robot>, ApiError> {
    ids.sort();
    ids.dedup();
    let mut robots = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(INSERT_CHUNK) {
        let lock = format!(
            concat!(
                "UPDATE robots SET updated_at = updated_at WHERE robot_id IN ({}) RETURNING ",
                robot_columns!()
            ),
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(lock));
        for id in chunk {
            query = query.bind(id.as_str());
        }
        for row in query.fetch_all(&mut *tx).await? {
            let robot = robot_from_row(&row)?;
            robots.insert(robot.robot_id.clone(), robot);
        }
    }
    Ok(robots)
}

/// Writes back the state of several robots in one statement:
/// `UPDATE … FROM (VALUES …)`, which both engines have (SQLite since 3.33).
async fn update_robots(tx: &mut AnyConnection, robots: &[&Robot]) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 12;
    let rows = value_rows(robots.len(), COLUMNS);
    // VALUES columns are named column1, column2, … in both engines.
    let sql = format!(
        "UPDATE robots SET status = v.column2, recalled = v.column3, stolen = v.column4, \
         jurisdiction = v.column5, holder_kind = v.column6, holder = v.column7, \
         open_recalls = v.column8, stolen_by = v.column9, event_count = v.column10, \
         head_hash = v.column11, updated_at = v.column12 \
         FROM (VALUES {}) AS v WHERE robots.robot_id = v.column1",
        rows
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for robot in robots {
        let standing = &robot.standing;
        let (holder_kind, holder) = holder_columns(standing.holder.as_ref());
        query = query
            .bind(robot.robot_id.as_str())
            .bind(standing.state.status.as_str())
            .bind(i64::from(standing.state.holds.recalls))
            .bind(i64::from(standing.state.holds.stolen))
            .bind(standing.state.jurisdiction.as_str())
            .bind(holder_kind)
            .bind(holder)
            .bind(standing.open_recalls.join(","))
            .bind(standing.stolen_by.as_deref())
            .bind(robot.event_count as i64)
            .bind(&robot.head_hash.0[..])
            .bind(robot.updated_at.as_micros());
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

/// The rows of `select` (`SELECT … FROM table`) whose `robot_id` is one of
/// `ids` (a chunk: one bound parameter each), then `rest` (`ORDER BY …`).
async fn fetch_by_robot_ids(
    connection: &mut AnyConnection,
    select: &str,
    rest: &str,
    ids: &[&str],
) -> Result<Vec<AnyRow>, sqlx::Error> {
    let sql = format!(
        "{select} WHERE robot_id IN ({}){rest}",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(*id);
    }
    query.fetch_all(connection).await
}

/// Feeds one stored event row to `verifier`: a row edited into something
/// unreadable is a break too.
fn push_row(verifier: &mut ChainVerifier, row: &AnyRow) {
    match event_from_row(row) {
        Ok(event) => verifier.push(&event),
        Err(_) => {
            let sequence: i64 = row.try_get("sequence").unwrap_or_default();
            verifier.unreadable(sequence as u64);
        }
    }
}

async fn verify_chain(
    connection: &mut AnyConnection,
    robot: &Robot,
) -> Result<ChainVerdict, ApiError> {
    const CHUNK: i64 = 1_000;
    let mut verifier = ChainVerifier::default();
    let mut after = 0_i64;
    loop {
        let rows = sqlx::query(SELECT_EVENTS_AFTER)
            .bind(robot.robot_id.as_str())
            .bind(after)
            .bind(CHUNK)
            .fetch_all(&mut *connection)
            .await?;
        for row in &rows {
            push_row(&mut verifier, row);
            after = row.try_get("sequence")?;
        }
        if (rows.len() as i64) < CHUNK {
            break;
        }
    }
    Ok(verifier.finish(robot))
}

/// A robot's stored events, oldest first, each with its log salt.
async fn history_with_salts(
    connection: &mut AnyConnection,
    robot_id: &RobotId,
) -> Result<Vec<(Event, Option<log::leaf::Salt>)>, ApiError> {
    let rows = sqlx::query(SELECT_EVENTS_AFTER)
        .bind(robot_id.as_str())
        .bind(0_i64)
        .bind(i64::MAX)
        .fetch_all(&mut *connection)
        .await?;
    rows.iter()
        .map(|row| Ok((event_from_row(row)?, log::verify::salt_of(row))))
        .collect()
}

async fn insert_robots(
    tx: &mut AnyConnection,
    created: &[(Robot, Event)],
) -> Result<Vec<RobotId>, sqlx::Error> {
    const COLUMNS: usize = 21;
    let rows = value_rows(created.len(), COLUMNS);
    let sql = format!(
        concat!(
            "INSERT INTO robots (manufacturer_code, model_code, ",
            robot_columns!(),
            ") VALUES {} ON CONFLICT (robot_id) DO NOTHING RETURNING robot_id"
        ),
        rows
    );
    let mut query = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
    for (robot, _) in created {
        let standing = &robot.standing;
        let (holder_kind, holder) = holder_columns(standing.holder.as_ref());
        query = query
            .bind(robot.robot_id.manufacturer().as_str().to_owned())
            .bind(robot.robot_id.model().as_str().to_owned())
            .bind(robot.robot_id.as_str())
            .bind(robot.manufacturer_name.clone())
            .bind(robot.model_name.clone())
            .bind(robot.production.produced_at.map(Timestamp::as_micros))
            .bind(robot.production.factory.clone())
            .bind(standing.state.status.as_str())
            .bind(i64::from(standing.state.holds.recalls))
            .bind(i64::from(standing.state.holds.stolen))
            .bind(standing.state.jurisdiction.as_str())
            .bind(holder_kind)
            .bind(holder)
            .bind(standing.open_recalls.join(","))
            .bind(standing.stolen_by.clone())
            .bind(robot.origin_country.clone())
            .bind(robot.issued_at.as_micros())
            .bind(robot.event_count as i64)
            .bind(robot.head_hash.0.to_vec())
            .bind(robot.registered_at.as_micros())
            .bind(robot.updated_at.as_micros());
    }
    let inserted = query.fetch_all(&mut *tx).await?;
    Ok(inserted
        .iter()
        .filter_map(|id| RobotId::parse(id).ok())
        .collect())
}

/// Keeps the credentials of a chunk of registrations; a robot's first
/// stored credential stays (a repeated delivery carries the same bytes).
async fn insert_credentials(
    tx: &mut AnyConnection,
    registrations: &[(Registration, Timestamp)],
) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 3;
    let with: Vec<(&RobotId, &StoredCredential)> = registrations
        .iter()
        .filter_map(|(registration, _)| {
            registration
                .credential
                .as_ref()
                .map(|credential| (&registration.robot_id, credential))
        })
        .collect();
    if with.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO robot_credentials (robot_id, credential, public_key) VALUES {} \
         ON CONFLICT (robot_id) DO NOTHING",
        value_rows(with.len(), COLUMNS)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (robot_id, credential) in with {
        query = query
            .bind(robot_id.as_str())
            .bind(credential.credential.clone())
            .bind(credential.public_key.map(|key| key.to_vec()));
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

/// Inserts a write's events (and with `logs` their leaves), as its last
/// statements before the commit: the log's sequence row, taken here, is
/// held until the commit, so every other writer waits on it only for these
/// statements and the commit, not for the whole write.
async fn insert_history(
    tx: &mut AnyConnection,
    events: &mut [Event],
    logs: bool,
) -> Result<(), sqlx::Error> {
    for chunk in events.chunks_mut(INSERT_CHUNK) {
        insert_events(tx, chunk, logs).await?;
    }
    // Holds for the peers that keep these robots leave with the events.
    crate::holds::outbox::enqueue(tx, events).await
}

/// Inserts `events`, and with `logs` enters them in the transparency log
/// first, setting each one's `log_index`.
async fn insert_events(
    tx: &mut AnyConnection,
    events: &mut [Event],
    logs: bool,
) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 20;
    if events.is_empty() {
        return Ok(());
    }
    let salts = if logs {
        log::store::append_events(tx, events).await?
    } else {
        Vec::new()
    };
    let rows = value_rows(events.len(), COLUMNS);
    let sql = format!(
        concat!("INSERT INTO events (", event_columns!(), ") VALUES {}"),
        rows
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (i, event) in events.iter().enumerate() {
        let (holder_kind, holder) = holder_columns(event.details.holder.as_ref());
        let details = &event.details;
        query = query
            .bind(event.robot_id.as_str())
            .bind(event.sequence as i64)
            .bind(event.kind.as_str())
            .bind(holder_kind)
            .bind(holder)
            .bind(details.country.clone())
            .bind(details.recall.clone())
            .bind(details.note.clone())
            .bind(details.component.clone())
            .bind(details.firmware_version.clone())
            .bind(details.reference.clone())
            .bind(event.occurred_at.as_micros())
            .bind(event.recorded_at.as_micros())
            .bind(event.actor.clone())
            .bind(event.status_after.as_str())
            .bind(i64::from(event.version))
            .bind(event.previous_hash.0.to_vec())
            .bind(event.hash.0.to_vec())
            .bind(event.log_index.map(|index| index as i64))
            .bind(salts.get(i).map(|salt| salt.to_vec()));
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

async fn load_robot(
    connection: &mut AnyConnection,
    robot_id: &RobotId,
) -> Result<Option<Robot>, ApiError> {
    let row = sqlx::query(SELECT_ROBOT)
        .bind(robot_id.as_str())
        .fetch_optional(&mut *connection)
        .await?;
    row.as_ref().map(robot_from_row).transpose()
}

async fn load_event(
    connection: &mut AnyConnection,
    robot_id: &RobotId,
    sequence: i64,
) -> Result<Event, ApiError> {
    let row = sqlx::query(SELECT_EVENT)
        .bind(robot_id.as_str())
        .bind(sequence)
        .fetch_one(&mut *connection)
        .await?;
    event_from_row(&row)
}

async fn load_recall(connection: &mut AnyConnection, id: i64) -> Result<Option<Recall>, ApiError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        recall_columns!(),
        " FROM recalls WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *connection)
    .await?;
    row.map(|row| recall_from_row(&row, true)).transpose()
}

/// A recall row, with the robots it listed or (`with_robots` false) only
/// their count.
fn recall_from_row(row: &AnyRow, with_robots: bool) -> Result<Recall, ApiError> {
    let robot_ids: Vec<RobotId> = if with_robots {
        row.try_get::<String, _>("robot_ids")?
            .split(',')
            .filter(|id| !id.is_empty())
            .map(|id| RobotId::parse(id).map_err(|_| corrupt("recalls.robot_ids")))
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    Ok(Recall {
        name: recall_name(row.try_get("id")?),
        country: CountryCode::parse(&row.try_get::<String, _>("country_code")?)
            .map_err(|_| corrupt("recalls.country_code"))?,
        manufacturer: ManufacturerCode::parse(&row.try_get::<String, _>("manufacturer_code")?)
            .map_err(|_| corrupt("recalls.manufacturer_code"))?,
        model: ModelCode::parse(&row.try_get::<String, _>("model_code")?)
            .map_err(|_| corrupt("recalls.model_code"))?,
        robot_ids,
        listed_robot_count: row.try_get::<i64, _>("listed_robot_count")? as u64,
        reason: row.try_get("reason")?,
        affected_robot_count: row.try_get::<i64, _>("affected_robot_count")? as u64,
        skipped_robot_count: row.try_get::<i64, _>("skipped_robot_count")? as u64,
        created_at: Timestamp::from_micros(row.try_get("created_at")?),
    })
}

/// `recalls/{id}`.
pub fn recall_name(id: i64) -> String {
    format!("recalls/{id}")
}

/// The id in a recall's name, if it is one.
pub fn recall_id(name: &str) -> Option<i64> {
    name.strip_prefix("recalls/")?
        .parse()
        .ok()
        .filter(|id| *id > 0)
}

fn robot_from_row(row: &AnyRow) -> Result<Robot, ApiError> {
    let robot_id: String = row.try_get("robot_id")?;
    let status: String = row.try_get("status")?;
    let jurisdiction: String = row.try_get("jurisdiction")?;
    let head: Vec<u8> = row.try_get("head_hash")?;
    Ok(Robot {
        robot_id: RobotId::parse(&robot_id).map_err(|_| corrupt("robots.robot_id"))?,
        manufacturer_name: row.try_get("manufacturer_name")?,
        model_name: row.try_get("model_name")?,
        production: Production {
            produced_at: row
                .try_get::<Option<i64>, _>("produced_at")?
                .map(Timestamp::from_micros),
            factory: row.try_get("factory")?,
        },
        standing: Standing {
            state: RobotState {
                status: Status::parse(&status).ok_or_else(|| corrupt("robots.status"))?,
                holds: Holds {
                    recalls: u32::try_from(row.try_get::<i64, _>("recalled")?)
                        .map_err(|_| corrupt("robots.recalled"))?,
                    stolen: row.try_get::<i64, _>("stolen")? != 0,
                },
                jurisdiction: Jurisdiction::parse(&jurisdiction)
                    .ok_or_else(|| corrupt("robots.jurisdiction"))?,
            },
            open_recalls: row
                .try_get::<String, _>("open_recalls")?
                .split(',')
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect(),
            stolen_by: row.try_get("stolen_by")?,
            holder: holder_from_columns(row.try_get("holder_kind")?, row.try_get("holder")?)?,
        },
        origin_country: row.try_get("origin_country")?,
        issued_at: Timestamp::from_micros(row.try_get("issued_at")?),
        event_count: row.try_get::<i64, _>("event_count")? as u64,
        head_hash: Digest::from_slice(&head).ok_or_else(|| corrupt("robots.head_hash"))?,
        registered_at: Timestamp::from_micros(row.try_get("registered_at")?),
        updated_at: Timestamp::from_micros(row.try_get("updated_at")?),
    })
}

fn event_from_row(row: &AnyRow) -> Result<Event, ApiError> {
    let robot_id: String = row.try_get("robot_id")?;
    let kind: String = row.try_get("kind")?;
    let status_after: String = row.try_get("status_after")?;
    let previous: Vec<u8> = row.try_get("previous_hash")?;
    let hash: Vec<u8> = row.try_get("hash")?;
    Ok(Event {
        robot_id: RobotId::parse(&robot_id).map_err(|_| corrupt("events.robot_id"))?,
        sequence: row.try_get::<i64, _>("sequence")? as u64,
        kind: EventKind::parse(&kind).ok_or_else(|| corrupt("events.kind"))?,
        details: EventDetails {
            holder: holder_from_columns(row.try_get("holder_kind")?, row.try_get("holder")?)?,
            country: row.try_get("country")?,
            recall: row.try_get("recall")?,
            note: row.try_get("note")?,
            component: row.try_get("component")?,
            firmware_version: row.try_get("firmware_version")?,
            reference: row.try_get("reference")?,
        },
        occurred_at: Timestamp::from_micros(row.try_get("occurred_at")?),
        recorded_at: Timestamp::from_micros(row.try_get("recorded_at")?),
        actor: row.try_get("actor")?,
        status_after: Status::parse(&status_after).ok_or_else(|| corrupt("events.status_after"))?,
        version: u8::try_from(row.try_get::<i64, _>("version")?)
            .map_err(|_| corrupt("events.version"))?,
        previous_hash: Digest::from_slice(&previous)
            .ok_or_else(|| corrupt("events.previous_hash"))?,
        hash: Digest::from_slice(&hash).ok_or_else(|| corrupt("events.hash"))?,
        log_index: row
            .try_get::<Option<i64>, _>("log_index")?
            .map(|index| index as u64),
    })
}

fn holder_columns(holder: Option<&Holder>) -> (Option<&'static str>, Option<String>) {
    match holder {
        None => (None, None),
        Some(Holder::Organization(id)) => (Some("organization"), Some(id.clone())),
        Some(Holder::Private(digest)) => (Some("private"), Some(digest.clone())),
    }
}

fn holder_from_columns(
    kind: Option<String>,
    value: Option<String>,
) -> Result<Option<Holder>, ApiError> {
    match (kind.as_deref(), value) {
        (None, None) => Ok(None),
        (Some("organization"), Some(id)) => Ok(Some(Holder::Organization(id))),
        (Some("private"), Some(digest)) => Ok(Some(Holder::Private(digest))),
        _ => Err(corrupt("holder")),
    }
}

/// A batch failure that is about no single event.
fn unattributed(error: impl Into<WriteError>) -> (Option<usize>, WriteError) {
    (None, error.into())
}

fn same_registration(stored: &Robot, new: &Robot) -> bool {
    stored.manufacturer_name == new.manufacturer_name
        && stored.model_name == new.model_name
        && stored.production == new.production
        && stored.origin_country == new.origin_country
}

fn parse_register_result(result: &str) -> RegisterOutcome {
    let (registered, already) = result.split_once(',').unwrap_or(("0", "0"));
    RegisterOutcome {
        registered: registered.parse().unwrap_or(0),
        already_registered: already.parse().unwrap_or(0),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("stored data does not decode: {0}")]
struct Corrupt(&'static str);

fn corrupt(what: &'static str) -> ApiError {
    ApiError::internal(&Corrupt(what))
}
