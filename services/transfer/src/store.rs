//! The transfer service's storage: transfers with the decision on each
//! robot, the trust list, and request ids; on SQLite or PostgreSQL through
//! one set of portable SQL statements.
//!
//! Every write runs in one transaction that begins with the request claim,
//! so a retry is answered from what the first call stored, and two
//! concurrent calls with one request id do the work once. The expiry sweep
//! claims nothing: its writes are guarded by the state they start from, so
//! several instances sweeping at once change each transfer once.

use robotid_domain::code::{CountryCode, RobotId};
use robotid_domain::lifecycle::Status;
use robotid_domain::robot::Production;
use robotid_domain::time::Timestamp;
use robotid_domain::transfer::{
    Arrival, Direction, RobotDecision, Transfer, TransferId, TransferState, TrustedKey, TrustedLog,
};
use robotid_platform::db::{Database, value_rows};
use robotid_platform::error::ApiError;
use robotid_platform::idempotency::{self, Claim, RequestKey};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

// Column lists as macros, so that queries stay `&'static str` literals.
macro_rules! transfer_columns {
    () => {
        "id, direction, state, origin_country, destination_country, declarant, customs_office, \
         allow_partial, clearance, created_at, updated_at, requested_by, updated_by, expires_at"
    };
}

macro_rules! robot_columns {
    () => {
        "transfer_id, position, robot_id, refusal, arrival, status, manufacturer_name, model_name, \
         produced_at, factory, credential, credential_key"
    };
}

macro_rules! trusted_columns {
    () => {
        "country_code, key_id, public_key, not_before, not_after, revoked_at, added_by, revoked_by, \
         log_origin, log_key, witness_key, web_url, import_policy, registry_url"
    };
}

const SELECT_TRANSFER: &str = concat!(
    "SELECT seq, ",
    transfer_columns!(),
    " FROM transfers WHERE id = $1"
);
const SELECT_ROBOTS: &str = concat!(
    "SELECT ",
    robot_columns!(),
    " FROM transfer_robots WHERE transfer_id = $1 ORDER BY position"
);
const INSERT_TRANSFER: &str = concat!(
    "INSERT INTO transfers (",
    transfer_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
);
/// Newest first; an empty filter matches all.
const LIST_TRANSFERS: &str = concat!(
    "SELECT seq, ",
    transfer_columns!(),
    " FROM transfers WHERE seq < $1 AND ($2 = '' OR state = $2) \
     AND ($3 = '' OR customs_office = $3) \
     AND ($4 = '' OR origin_country = $4 OR destination_country = $4) \
     ORDER BY seq DESC LIMIT $5"
);
const SELECT_TRUSTED: &str = concat!(
    "SELECT ",
    trusted_columns!(),
    " FROM trusted_registries WHERE country_code = $1 AND key_id = $2"
);
const SELECT_ALL_TRUSTED: &str = concat!(
    "SELECT ",
    trusted_columns!(),
    " FROM trusted_registries ORDER BY country_code, key_id"
);
const LIST_TRUSTED: &str = concat!(
    "SELECT ",
    trusted_columns!(),
    " FROM trusted_registries WHERE country_code > $1 OR (country_code = $1 AND key_id > $2) \
     ORDER BY country_code, key_id LIMIT $3"
);
const INSERT_TRUSTED: &str = concat!(
    "INSERT INTO trusted_registries (",
    trusted_columns!(),
    ", created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
     ON CONFLICT DO NOTHING"
);
/// Cleared exports past their validity, soonest first.
const SELECT_DUE: &str = "SELECT id FROM transfers WHERE direction = 'EXPORT' \
     AND state IN ('CLEARED', 'PARTIALLY_CLEARED') AND expires_at <= $1 \
     ORDER BY expires_at LIMIT $2";

/// Rows per multi-row INSERT: 500 × 10 columns stays far under either
/// engine's limit on bound parameters.
const INSERT_CHUNK: usize = 500;

/// What a state change did.
#[derive(Debug)]
pub enum Transition {
    /// Done now, or by an earlier call with the same request id.
    Done(Transfer),
    /// The transfer was no longer in the state the change started from
    /// (another call changed it meanwhile): it is as given, unchanged.
    Moved(Transfer),
}

/// A foreign export clearance an import uses up: its issuing country and
/// the origin's transfer name it, with the key that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearanceUse {
    pub issuer_country: CountryCode,
    /// The origin's `transfers/{id}`.
    pub transfer: String,
    pub kid: String,
}

/// What storing a decided transfer did.
#[derive(Debug)]
pub enum Created {
    /// Stored now, or by an earlier call with the same request id.
    Stored(Box<Transfer>),
    /// Not stored: the origin clearance it would use up was used by
    /// another import (which may have committed a moment before).
    ClearanceUsed,
}

/// A state change and who makes it.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub from: TransferState,
    pub to: TransferState,
    /// The authenticated caller (or the service itself), for `updated_by`.
    pub by: &'a str,
    /// A clearance signed again (on departure), replacing the stored one.
    pub clearance: Option<&'a [u8]>,
}

/// The filters of a transfer listing; empty matches all.
#[derive(Debug, Clone, Default)]
pub struct TransferFilter {
    pub state: Option<TransferState>,
    pub customs_office: String,
    pub country: String,
}

#[derive(Clone)]
pub struct TransferStore {
    db: Database,
}

impl TransferStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The result of a request id already done, read without claiming it:
    /// a completed request is answered without asking the registry again,
    /// and a new one leaves nothing behind if it then fails.
    pub async fn done(&self, key: &RequestKey) -> Result<Option<String>, ApiError> {
        let row: Option<(Vec<u8>, Option<String>)> = sqlx::query_as(
            "SELECT fingerprint, result FROM requests \
             WHERE caller = $1 AND method = $2 AND request_id = $3",
        )
        .bind(&key.caller)
        .bind(key.method)
        .bind(&key.request_id)
        .fetch_optional(&self.db.pool)
        .await?;
        match row {
            None => Ok(None),
            Some((fingerprint, result)) if fingerprint == key.fingerprint => Ok(result),
            Some(_) => Err(ApiError::request_id_reused(&key.request_id)),
        }
    }

    /// Stores a decided transfer, using up the origin clearance `uses`
    /// (when given) in the same transaction; a request id done before
    /// answers the transfer it stored.
    pub async fn create(
        &self,
        key: &RequestKey,
        transfer: Transfer,
        uses: Option<&ClearanceUse>,
    ) -> Result<Created, ApiError> {
        let mut tx = self.db.pool.begin().await?;
        let now = Timestamp::now();
        if let Claim::Done(id) = idempotency::claim(&mut tx, key, now.as_micros()).await? {
            return load_transfer(&mut tx, &TransferId::from_stored(id))
                .await?
                .map(|transfer| Created::Stored(Box::new(transfer)))
                .ok_or_else(|| corrupt("request result"));
        }
        if let Some(used) = uses {
            // On PostgreSQL a concurrent insert of the same clearance waits
            // for the first transaction, then inserts nothing.
            let inserted = sqlx::query(
                "INSERT INTO origin_clearances (issuer_country, transfer, key_id, import_id, \
                 used_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(used.issuer_country.as_str())
            .bind(&used.transfer)
            .bind(&used.kid)
            .bind(transfer.id.as_str())
            .bind(now.as_micros())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                // Rolled back on drop: the request id stays free.
                return Ok(Created::ClearanceUsed);
            }
        }
        let (clearance, allow_partial) = (transfer.clearance.as_deref(), transfer.allow_partial);
        sqlx::query(INSERT_TRANSFER)
            .bind(transfer.id.as_str())
            .bind(transfer.direction.as_str())
            .bind(transfer.state.as_str())
            .bind(transfer.origin.as_str())
            .bind(transfer.destination.as_str())
            .bind(&transfer.declarant)
            .bind(&transfer.customs_office)
            .bind(i64::from(allow_partial))
            .bind(clearance)
            .bind(transfer.created_at.as_micros())
            .bind(transfer.updated_at.as_micros())
            .bind(&transfer.requested_by)
            .bind(&transfer.updated_by)
            .bind(transfer.expires_at.map(Timestamp::as_micros))
            .execute(&mut *tx)
            .await?;
        for (index, chunk) in transfer.decisions.chunks(INSERT_CHUNK).enumerate() {
            insert_robots(&mut tx, &transfer.id, index * INSERT_CHUNK, chunk).await?;
        }
        idempotency::complete(&mut tx, key, transfer.id.as_str()).await?;
        tx.commit().await?;
        Ok(Created::Stored(Box::new(transfer)))
    }

    /// The import here that used up an origin clearance, if one did.
    pub async fn clearance_used_by(
        &self,
        issuer_country: &CountryCode,
        transfer: &str,
    ) -> Result<Option<TransferId>, ApiError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT import_id FROM origin_clearances WHERE issuer_country = $1 AND transfer = $2",
        )
        .bind(issuer_country.as_str())
        .bind(transfer)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(id.map(TransferId::from_stored))
    }

    /// Up to `limit` cleared exports whose clearance lapsed by `now`.
    pub async fn due(&self, now: Timestamp, limit: u32) -> Result<Vec<TransferId>, ApiError> {
        let ids: Vec<String> = sqlx::query_scalar(SELECT_DUE)
            .bind(now.as_micros())
            .bind(i64::from(limit))
            .fetch_all(&self.db.pool)
            .await?;
        Ok(ids.into_iter().map(TransferId::from_stored).collect())
    }

    /// Moves a cleared export whose clearance lapsed by `now` to EXPIRED,
    /// unless it moved already; whether this call moved it.
    pub async fn expire(
        &self,
        id: &TransferId,
        now: Timestamp,
        by: &str,
    ) -> Result<bool, ApiError> {
        let moved = sqlx::query(
            "UPDATE transfers SET state = $1, updated_at = $2, updated_by = $3 WHERE id = $4 \
             AND state IN ('CLEARED', 'PARTIALLY_CLEARED') AND expires_at <= $2",
        )
        .bind(TransferState::Expired.as_str())
        .bind(now.as_micros())
        .bind(by)
        .bind(id.as_str())
        .execute(&self.db.pool)
        .await?
        .rows_affected();
        Ok(moved > 0)
    }

    pub async fn transfer(&self, id: &TransferId) -> Result<Option<Transfer>, ApiError> {
        let mut connection = self.db.pool.acquire().await?;
        load_transfer(&mut connection, id).await
    }

    /// Makes `change`, unless another call moved the transfer first.
    pub async fn transition(
        &self,
        key: &RequestKey,
        id: &TransferId,
        change: Change<'_>,
    ) -> Result<Transition, ApiError> {
        let now = Timestamp::now();
        let mut tx = self.db.pool.begin().await?;
        if let Claim::Done(done) = idempotency::claim(&mut tx, key, now.as_micros()).await? {
            let transfer = load_transfer(&mut tx, &TransferId::from_stored(done)).await?;
            return transfer
                .map(Transition::Done)
                .ok_or_else(|| corrupt("request result"));
        }
        let moved = sqlx::query(
            "UPDATE transfers SET state = $1, updated_at = $2, updated_by = $3, \
             clearance = COALESCE($4, clearance) WHERE id = $5 AND state = $6",
        )
        .bind(change.to.as_str())
        .bind(now.as_micros())
        .bind(change.by)
        .bind(change.clearance)
        .bind(id.as_str())
        .bind(change.from.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let stored = load_transfer(&mut tx, id)
            .await?
            .ok_or_else(|| corrupt("transfer vanished"))?;
        if moved == 0 {
            // Rolled back on drop: the request id stays free for a retry.
            return Ok(Transition::Moved(stored));
        }
        idempotency::complete(&mut tx, key, id.as_str()).await?;
        tx.commit().await?;
        Ok(Transition::Done(stored))
    }

    /// Up to `limit` transfers older than `before_seq`, newest first, each
    /// with its position for paging.
    pub async fn list(
        &self,
        filter: &TransferFilter,
        before_seq: i64,
        limit: u32,
    ) -> Result<Vec<(i64, Transfer)>, ApiError> {
        let mut connection = self.db.pool.acquire().await?;
        let rows = sqlx::query(LIST_TRANSFERS)
            .bind(before_seq)
            .bind(filter.state.map(TransferState::as_str).unwrap_or(""))
            .bind(&filter.customs_office)
            .bind(&filter.country)
            .bind(i64::from(limit))
            .fetch_all(&mut *connection)
            .await?;
        let mut transfers = Vec::with_capacity(rows.len());
        for row in &rows {
            let seq: i64 = row.try_get("seq")?;
            let decisions =
                load_decisions(&mut connection, &row.try_get::<String, _>("id")?).await?;
            transfers.push((seq, transfer_from_row(row, decisions)?));
        }
        Ok(transfers)
    }

    /// Adds a key to the trust list; `None` when that key (or its key id)
    /// is listed already.
    pub async fn add_trusted(
        &self,
        key: &RequestKey,
        trusted: TrustedKey,
    ) -> Result<Option<TrustedKey>, ApiError> {
        let now = Timestamp::now();
        let mut tx = self.db.pool.begin().await?;
        if let Claim::Done(_) = idempotency::claim(&mut tx, key, now.as_micros()).await? {
            return load_trusted(&mut tx, &trusted.country, &trusted.kid).await;
        }
        let log = trusted.log.as_ref();
        let inserted = sqlx::query(INSERT_TRUSTED)
            .bind(trusted.country.as_str())
            .bind(&trusted.kid)
            .bind(&trusted.public_key[..])
            .bind(trusted.not_before.as_micros())
            .bind(trusted.not_after.as_micros())
            .bind(trusted.revoked_at.map(Timestamp::as_micros))
            .bind(&trusted.added_by)
            .bind(trusted.revoked_by.as_deref())
            .bind(log.map(|log| log.origin.as_str()).unwrap_or_default())
            .bind(log.map(|log| log.log_key.as_str()).unwrap_or_default())
            .bind(log.map(|log| log.witness_key.as_str()).unwrap_or_default())
            .bind(log.map(|log| log.web_url.as_str()).unwrap_or_default())
            .bind(
                log.map(|log| log.import_policy.as_str())
                    .unwrap_or_default(),
            )
            .bind(log.map(|log| log.registry_url.as_str()).unwrap_or_default())
            .bind(now.as_micros())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            return Ok(None);
        }
        idempotency::complete(&mut tx, key, &trusted.name()).await?;
        tx.commit().await?;
        Ok(Some(trusted))
    }

    /// Revokes a listed key as the regulator `by` (once: a second
    /// revocation keeps the first time and regulator); `None` when no such
    /// key is listed.
    pub async fn revoke_trusted(
        &self,
        key: &RequestKey,
        country: &CountryCode,
        kid: &str,
        by: &str,
    ) -> Result<Option<TrustedKey>, ApiError> {
        let now = Timestamp::now();
        let mut tx = self.db.pool.begin().await?;
        if let Claim::Done(_) = idempotency::claim(&mut tx, key, now.as_micros()).await? {
            return load_trusted(&mut tx, country, kid).await;
        }
        let revoked = sqlx::query(
            "UPDATE trusted_registries SET revoked_at = COALESCE(revoked_at, $1), \
             revoked_by = COALESCE(revoked_by, $2) WHERE country_code = $3 AND key_id = $4",
        )
        .bind(now.as_micros())
        .bind(by)
        .bind(country.as_str())
        .bind(kid)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if revoked == 0 {
            return Ok(None);
        }
        idempotency::complete(
            &mut tx,
            key,
            &robotid_domain::transfer::trusted_key_name(country, kid),
        )
        .await?;
        let trusted = load_trusted(&mut tx, country, kid).await?;
        tx.commit().await?;
        Ok(trusted)
    }

    /// The whole trust list, for verifying a shipment against it.
    pub async fn trusted_keys(&self) -> Result<Vec<TrustedKey>, ApiError> {
        let rows = sqlx::query(SELECT_ALL_TRUSTED)
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(trusted_from_row).collect()
    }

    /// Up to `limit` keys after (`country`, `kid`), in name order.
    pub async fn list_trusted(
        &self,
        after: (&str, &str),
        limit: u32,
    ) -> Result<Vec<TrustedKey>, ApiError> {
        let rows = sqlx::query(LIST_TRUSTED)
            .bind(after.0)
            .bind(after.1)
            .bind(i64::from(limit))
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(trusted_from_row).collect()
    }
}

async fn insert_robots(
    tx: &mut AnyConnection,
    transfer: &TransferId,
    first_position: usize,
    decisions: &[RobotDecision],
) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 12;
    let sql = format!(
        concat!(
            "INSERT INTO transfer_robots (",
            robot_columns!(),
            ") VALUES {}"
        ),
        value_rows(decisions.len(), COLUMNS)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (offset, decision) in decisions.iter().enumerate() {
        let (arrival, status, manufacturer_name, model_name, production, credential) =
            match &decision.arrival {
                None => (None, None, None, None, None, (None, None)),
                Some(Arrival::Return) => (Some("RETURN"), None, None, None, None, (None, None)),
                Some(Arrival::Register {
                    status,
                    manufacturer_name,
                    model_name,
                    production,
                    credential,
                    credential_key,
                }) => (
                    Some("REGISTER"),
                    Some(status.as_str()),
                    Some(manufacturer_name.clone()),
                    Some(model_name.clone()),
                    Some(production),
                    (Some(credential.clone()), Some(credential_key.clone())),
                ),
            };
        let produced_at = production.and_then(|p| p.produced_at.map(Timestamp::as_micros));
        let factory = production.and_then(|p| p.factory.clone());
        query = query
            .bind(transfer.as_str().to_owned())
            .bind((first_position + offset) as i64)
            .bind(decision.robot_id.as_str().to_owned())
            .bind(decision.refusal.clone())
            .bind(arrival)
            .bind(status)
            .bind(manufacturer_name)
            .bind(model_name)
            .bind(produced_at)
            .bind(factory)
            .bind(credential.0)
            .bind(credential.1);
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

async fn load_transfer(
    connection: &mut AnyConnection,
    id: &TransferId,
) -> Result<Option<Transfer>, ApiError> {
    let Some(row) = sqlx::query(SELECT_TRANSFER)
        .bind(id.as_str())
        .fetch_optional(&mut *connection)
        .await?
    else {
        return Ok(None);
    };
    let decisions = load_decisions(connection, id.as_str()).await?;
    transfer_from_row(&row, decisions).map(Some)
}

async fn load_decisions(
    connection: &mut AnyConnection,
    transfer_id: &str,
) -> Result<Vec<RobotDecision>, ApiError> {
    let rows = sqlx::query(SELECT_ROBOTS)
        .bind(transfer_id)
        .fetch_all(&mut *connection)
        .await?;
    rows.iter().map(decision_from_row).collect()
}

async fn load_trusted(
    connection: &mut AnyConnection,
    country: &CountryCode,
    kid: &str,
) -> Result<Option<TrustedKey>, ApiError> {
    let row = sqlx::query(SELECT_TRUSTED)
        .bind(country.as_str())
        .bind(kid)
        .fetch_optional(&mut *connection)
        .await?;
    row.as_ref().map(trusted_from_row).transpose()
}

fn transfer_from_row(row: &AnyRow, decisions: Vec<RobotDecision>) -> Result<Transfer, ApiError> {
    let country = |column: &'static str| -> Result<CountryCode, ApiError> {
        CountryCode::parse(&row.try_get::<String, _>(column)?).map_err(|_| corrupt(column))
    };
    Ok(Transfer {
        id: TransferId::from_stored(row.try_get("id")?),
        direction: Direction::parse(&row.try_get::<String, _>("direction")?)
            .ok_or_else(|| corrupt("transfers.direction"))?,
        state: TransferState::parse(&row.try_get::<String, _>("state")?)
            .ok_or_else(|| corrupt("transfers.state"))?,
        origin: country("origin_country")?,
        destination: country("destination_country")?,
        declarant: row.try_get("declarant")?,
        customs_office: row.try_get("customs_office")?,
        allow_partial: row.try_get::<i64, _>("allow_partial")? != 0,
        decisions,
        clearance: row.try_get("clearance")?,
        requested_by: row.try_get("requested_by")?,
        expires_at: row
            .try_get::<Option<i64>, _>("expires_at")?
            .map(Timestamp::from_micros),
        created_at: Timestamp::from_micros(row.try_get("created_at")?),
        updated_at: Timestamp::from_micros(row.try_get("updated_at")?),
        updated_by: row.try_get("updated_by")?,
    })
}

fn decision_from_row(row: &AnyRow) -> Result<RobotDecision, ApiError> {
    let robot_id: String = row.try_get("robot_id")?;
    let arrival = match row.try_get::<Option<String>, _>("arrival")?.as_deref() {
        None => None,
        Some("RETURN") => Some(Arrival::Return),
        Some("REGISTER") => Some(Arrival::Register {
            status: row
                .try_get::<Option<String>, _>("status")?
                .as_deref()
                .and_then(Status::parse)
                .ok_or_else(|| corrupt("transfer_robots.status"))?,
            manufacturer_name: row
                .try_get::<Option<String>, _>("manufacturer_name")?
                .ok_or_else(|| corrupt("transfer_robots.manufacturer_name"))?,
            model_name: row
                .try_get::<Option<String>, _>("model_name")?
                .ok_or_else(|| corrupt("transfer_robots.model_name"))?,
            production: Production {
                produced_at: row
                    .try_get::<Option<i64>, _>("produced_at")?
                    .map(Timestamp::from_micros),
                factory: row.try_get("factory")?,
            },
            // Transfers decided before credentials were kept have none.
            credential: row
                .try_get::<Option<Vec<u8>>, _>("credential")?
                .unwrap_or_default(),
            credential_key: row
                .try_get::<Option<Vec<u8>>, _>("credential_key")?
                .unwrap_or_default(),
        }),
        Some(_) => return Err(corrupt("transfer_robots.arrival")),
    };
    Ok(RobotDecision {
        robot_id: RobotId::parse(&robot_id).map_err(|_| corrupt("transfer_robots.robot_id"))?,
        refusal: row.try_get("refusal")?,
        arrival,
    })
}

fn trusted_from_row(row: &AnyRow) -> Result<TrustedKey, ApiError> {
    let public_key: Vec<u8> = row.try_get("public_key")?;
    Ok(TrustedKey {
        country: CountryCode::parse(&row.try_get::<String, _>("country_code")?)
            .map_err(|_| corrupt("trusted_registries.country_code"))?,
        kid: row.try_get("key_id")?,
        public_key: public_key
            .try_into()
            .map_err(|_| corrupt("trusted_registries.public_key"))?,
        not_before: Timestamp::from_micros(row.try_get("not_before")?),
        not_after: Timestamp::from_micros(row.try_get("not_after")?),
        revoked_at: row
            .try_get::<Option<i64>, _>("revoked_at")?
            .map(Timestamp::from_micros),
        added_by: row.try_get("added_by")?,
        revoked_by: row.try_get("revoked_by")?,
        log: trusted_log_from_row(row)?,
    })
}

/// An entry's log, stored as empty texts when it names none.
fn trusted_log_from_row(row: &AnyRow) -> Result<Option<TrustedLog>, ApiError> {
    let origin: String = row.try_get("log_origin")?;
    if origin.is_empty() {
        return Ok(None);
    }
    Ok(Some(TrustedLog {
        origin,
        log_key: row.try_get("log_key")?,
        witness_key: row.try_get("witness_key")?,
        web_url: row.try_get("web_url")?,
        import_policy: row.try_get("import_policy")?,
        registry_url: row.try_get("registry_url")?,
    }))
}

#[derive(Debug, thiserror::Error)]
#[error("stored data does not decode: {0}")]
struct Corrupt(&'static str);

fn corrupt(what: &'static str) -> ApiError {
    ApiError::internal(&Corrupt(what))
}
