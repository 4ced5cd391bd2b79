//! Issuance's storage: manufacturers, product models, issued robots and the
//! outbox towards the registry, on SQLite or PostgreSQL through one set of
//! portable SQL statements.
//!
//! Every write runs in transactions that begin with a write (the request
//! claim): in SQLite that takes the database write lock at once, so
//! concurrent writers queue instead of failing to upgrade a read lock. An
//! issuance then updates its model's row before reading the counter, which
//! in PostgreSQL takes the row lock: serial ranges of one model are reserved
//! one after the other, each from the counter the previous one committed.
//! Signing and writing the robots happen after that lock is released (see
//! `IssuanceStore::issue`).

use std::sync::Arc;

use robotid_domain::catalog::{Approval, Manufacturer, ProductModel, Specifications, model_name};
use robotid_domain::code::{ManufacturerCode, ModelCode, RobotId};
use robotid_domain::robot::Production;
use robotid_domain::time::Timestamp;
use robotid_platform::db::{Backend, Database, placeholders, value_rows};
use robotid_platform::error::ApiError;
use robotid_platform::idempotency::{self, Claim, RequestKey};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::issuer::{IssuedRobot, Issuer};

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("manufacturer {0} does not exist")]
    ManufacturerNotFound(ManufacturerCode),
    #[error("manufacturer {0} already exists")]
    ManufacturerExists(ManufacturerCode),
    #[error("product model {0} does not exist")]
    ModelNotFound(String),
    #[error("product model {0} already exists")]
    ModelExists(String),
    #[error("product model {0} is not approved")]
    NotApproved(String),
    #[error("product model {0} has no serials left")]
    Exhausted(String),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<sqlx::Error> for WriteError {
    fn from(error: sqlx::Error) -> Self {
        WriteError::Api(error.into())
    }
}

/// A batch to issue.
#[derive(Debug, Clone)]
pub struct IssueDraft {
    pub manufacturer: ManufacturerCode,
    pub model: ModelCode,
    pub count: u32,
    pub production: Production,
    pub actor: String,
    /// The issuing call's trace context, continued by the delivery.
    pub traceparent: Option<String>,
}

/// An issued batch, as first answered and as every retry is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub issued_at: Timestamp,
    pub robots: Vec<IssuedRobot>,
}

/// A batch whose serial range is taken and whose robots are not yet
/// written.
#[derive(Debug)]
struct Reservation {
    batch: i64,
    issued_at: Timestamp,
    /// The allocated codes with their sequence numbers.
    robots: Vec<(RobotId, u64)>,
}

/// What step 1 of `issue` found or made.
#[derive(Debug)]
enum Reserved {
    /// A retry of a batch already written.
    Issued(Batch),
    ToSign(Reservation),
}

/// Which product models to list.
#[derive(Debug, Clone, Default)]
pub struct ModelFilter {
    pub manufacturer: Option<ManufacturerCode>,
    pub approval: Option<Approval>,
}

/// One issued robot on its way to the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub outbox_id: i64,
    pub robot_id: RobotId,
    pub issued_at: Timestamp,
    pub manufacturer_name: String,
    pub model_name: String,
    pub production: Production,
    /// The trace of the call that issued it (see `IssueDraft`).
    pub traceparent: Option<String>,
    /// Its signed ID credential, for the registry's public card.
    pub credential: Vec<u8>,
}

/// How far behind the outbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    pub pending: u64,
    /// When the oldest undelivered robot was issued.
    pub oldest: Option<Timestamp>,
}

#[derive(Clone)]
pub struct IssuanceStore {
    db: Database,
}

// Column lists as macros, so that queries stay `&'static str` literals:
// no formatting per call, and sqlx's injection guard is satisfied.
macro_rules! manufacturer_columns {
    () => {
        "code, legal_name, registration_number, country_code, created_at"
    };
}

macro_rules! model_columns {
    () => {
        "manufacturer_code, model_code, display_name, category, height_mm, mass_g, \
         degrees_of_freedom, battery_capacity_wh, autonomy_level, key_components, approval, \
         created_at, approved_at"
    };
}

const SELECT_MANUFACTURER: &str = concat!(
    "SELECT ",
    manufacturer_columns!(),
    " FROM manufacturers WHERE code = $1"
);
const SELECT_MANUFACTURERS_AFTER: &str = concat!(
    "SELECT ",
    manufacturer_columns!(),
    " FROM manufacturers WHERE code > $1 ORDER BY code LIMIT $2"
);
const INSERT_MANUFACTURER: &str = concat!(
    "INSERT INTO manufacturers (",
    manufacturer_columns!(),
    ") VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO NOTHING"
);
const SELECT_MODEL: &str = concat!(
    "SELECT ",
    model_columns!(),
    " FROM product_models WHERE manufacturer_code = $1 AND model_code = $2"
);
// Empty filter values match everything; the page starts after the model
// ($3, $4), or at the start for two empty strings (codes are never empty).
const SELECT_MODELS_AFTER: &str = concat!(
    "SELECT ",
    model_columns!(),
    " FROM product_models WHERE ($1 = '' OR manufacturer_code = $1) AND ($2 = '' OR approval = $2) \
     AND (manufacturer_code > $3 OR (manufacturer_code = $3 AND model_code > $4)) \
     ORDER BY manufacturer_code, model_code LIMIT $5"
);
const INSERT_MODEL: &str = concat!(
    "INSERT INTO product_models (",
    model_columns!(),
    ", next_sequence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1) \
     ON CONFLICT (manufacturer_code, model_code) DO NOTHING"
);

/// Rows per multi-row INSERT: well under SQLite's 32,766 bound parameters
/// with 4 columns, and a statement size both engines handle quickly.
const INSERT_CHUNK: usize = 500;

impl IssuanceStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Admits a manufacturer; its code must be new.
    pub async fn create_manufacturer(
        &self,
        key: &RequestKey,
        manufacturer: Manufacturer,
    ) -> Result<Manufacturer, WriteError> {
        let mut tx = self.db.pool.begin().await?;
        if let Claim::Done(code) =
            idempotency::claim(&mut tx, key, Timestamp::now().as_micros()).await?
        {
            let code = ManufacturerCode::parse(&code).map_err(|_| corrupt("request result"))?;
            return load_manufacturer(&mut tx, &code)
                .await?
                .ok_or_else(|| corrupt("replayed manufacturer").into());
        }
        let inserted = sqlx::query(INSERT_MANUFACTURER)
            .bind(manufacturer.code.as_str())
            .bind(&manufacturer.legal_name)
            .bind(&manufacturer.registration_number)
            .bind(manufacturer.country.as_str())
            .bind(manufacturer.created_at.as_micros())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            return Err(WriteError::ManufacturerExists(manufacturer.code));
        }
        idempotency::complete(&mut tx, key, manufacturer.code.as_str()).await?;
        tx.commit().await?;
        Ok(manufacturer)
    }

    pub async fn manufacturer(
        &self,
        code: &ManufacturerCode,
    ) -> Result<Option<Manufacturer>, ApiError> {
        let mut connection = self.db.pool.acquire().await?;
        load_manufacturer(&mut connection, code).await
    }

    /// Up to `limit` manufacturers after code `after` ("" for the first).
    pub async fn manufacturers(
        &self,
        after: &str,
        limit: u32,
    ) -> Result<Vec<Manufacturer>, ApiError> {
        let rows = sqlx::query(SELECT_MANUFACTURERS_AFTER)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(manufacturer_from_row).collect()
    }

    /// Declares a product model, pending approval, under an existing
    /// manufacturer.
    pub async fn create_model(
        &self,
        key: &RequestKey,
        model: ProductModel,
    ) -> Result<ProductModel, WriteError> {
        let mut tx = self.db.pool.begin().await?;
        if let Claim::Done(_) =
            idempotency::claim(&mut tx, key, Timestamp::now().as_micros()).await?
        {
            // The fingerprint matched: the request names the same model.
            return load_model(&mut tx, &model.manufacturer, &model.model)
                .await?
                .ok_or_else(|| corrupt("replayed product model").into());
        }
        if load_manufacturer(&mut tx, &model.manufacturer)
            .await?
            .is_none()
        {
            return Err(WriteError::ManufacturerNotFound(model.manufacturer));
        }
        let specifications = &model.specifications;
        let inserted = sqlx::query(INSERT_MODEL)
            .bind(model.manufacturer.as_str())
            .bind(model.model.as_str())
            .bind(&model.display_name)
            .bind(&model.category)
            .bind(i64::from(specifications.height_mm))
            .bind(i64::from(specifications.mass_g))
            .bind(i64::from(specifications.degrees_of_freedom))
            .bind(i64::from(specifications.battery_capacity_wh))
            .bind(&specifications.autonomy_level)
            .bind(model.key_components.join("\n"))
            .bind(model.approval.as_str())
            .bind(model.created_at.as_micros())
            .bind(model.approved_at.map(Timestamp::as_micros))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            return Err(WriteError::ModelExists(model.name()));
        }
        idempotency::complete(&mut tx, key, &model.name()).await?;
        tx.commit().await?;
        Ok(model)
    }

    /// Grants market access; approving an approved model returns it as it
    /// is.
    pub async fn approve_model(
        &self,
        key: &RequestKey,
        manufacturer: &ManufacturerCode,
        model: &ModelCode,
    ) -> Result<ProductModel, WriteError> {
        let now = Timestamp::now();
        let mut tx = self.db.pool.begin().await?;
        if let Claim::Done(_) = idempotency::claim(&mut tx, key, now.as_micros()).await? {
            return load_model(&mut tx, manufacturer, model)
                .await?
                .ok_or_else(|| corrupt("replayed product model").into());
        }
        let stored = load_model(&mut tx, manufacturer, model)
            .await?
            .ok_or_else(|| WriteError::ModelNotFound(model_name(manufacturer, model)))?;
        let approved = stored.clone().approve(now);
        if approved != stored {
            sqlx::query(
                "UPDATE product_models SET approval = $1, approved_at = $2 \
                 WHERE manufacturer_code = $3 AND model_code = $4",
            )
            .bind(approved.approval.as_str())
            .bind(approved.approved_at.map(Timestamp::as_micros))
            .bind(manufacturer.as_str())
            .bind(model.as_str())
            .execute(&mut *tx)
            .await?;
        }
        idempotency::complete(&mut tx, key, &approved.name()).await?;
        tx.commit().await?;
        Ok(approved)
    }

    pub async fn model(
        &self,
        manufacturer: &ManufacturerCode,
        model: &ModelCode,
    ) -> Result<Option<ProductModel>, ApiError> {
        let mut connection = self.db.pool.acquire().await?;
        load_model(&mut connection, manufacturer, model).await
    }

    /// Up to `limit` models matching `filter`, after `after` (manufacturer
    /// and model code) if given, ordered by manufacturer then model.
    pub async fn models(
        &self,
        filter: &ModelFilter,
        after: Option<(ManufacturerCode, ModelCode)>,
        limit: u32,
    ) -> Result<Vec<ProductModel>, ApiError> {
        let (after_manufacturer, after_model) = after
            .as_ref()
            .map(|(m, p)| (m.as_str(), p.as_str()))
            .unwrap_or(("", ""));
        let rows = sqlx::query(SELECT_MODELS_AFTER)
            .bind(filter.manufacturer.as_ref().map_or("", |m| m.as_str()))
            .bind(filter.approval.map_or("", Approval::as_str))
            .bind(after_manufacturer)
            .bind(after_model)
            .bind(i64::from(limit))
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(model_from_row).collect()
    }

    /// Issues a batch of an approved model in two steps, so that callers
    /// of one model wait on each other only for the first:
    ///
    /// 1. reserve: a short transaction claims the request id, takes the
    ///    model's row lock, allocates the serial range, moves the counter
    ///    and records the batch as RESERVED with the request's result;
    /// 2. outside that lock, sign every robot's credential and write the
    ///    robots and their outbox rows, marking the batch ISSUED.
    ///
    /// A process that dies in between leaves the range reserved: never
    /// handed out twice, and a retry with the same request id finds the
    /// batch and finishes it with the same codes (signatures are
    /// deterministic). A call whose retry never comes leaves a gap in the
    /// model's serials, which codes allow.
    pub async fn issue(
        &self,
        key: &RequestKey,
        draft: &IssueDraft,
        issuer: &Arc<Issuer>,
    ) -> Result<Batch, WriteError> {
        let reservation = match self.reserve(key, draft, issuer).await? {
            Reserved::Issued(batch) => return Ok(batch),
            Reserved::ToSign(reservation) => reservation,
        };
        let robots = issuer
            .sign(reservation.robots, reservation.issued_at)
            .await?;
        self.record_signed(reservation.batch, reservation.issued_at, robots)
            .await
    }

    /// Step 1 of `issue`; for a retry, the batch as it stands.
    async fn reserve(
        &self,
        key: &RequestKey,
        draft: &IssueDraft,
        issuer: &Issuer,
    ) -> Result<Reserved, WriteError> {
        let now = Timestamp::now();
        let name = model_name(&draft.manufacturer, &draft.model);
        let mut tx = self.db.pool.begin().await?;
        if let Claim::Done(batch) = idempotency::claim(&mut tx, key, now.as_micros()).await? {
            let batch: i64 = batch.parse().map_err(|_| corrupt("request result"))?;
            return Ok(load_reservation(&mut tx, batch, issuer).await?);
        }

        // The no-op update takes the model's row lock before the counter is
        // read (see the module documentation).
        let row = sqlx::query(
            "UPDATE product_models SET next_sequence = next_sequence \
             WHERE manufacturer_code = $1 AND model_code = $2 \
             RETURNING approval, next_sequence, display_name",
        )
        .bind(draft.manufacturer.as_str())
        .bind(draft.model.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| WriteError::ModelNotFound(name.clone()))?;
        let approval: String = row.try_get("approval")?;
        if Approval::parse(&approval).ok_or_else(|| corrupt("product_models.approval"))?
            != Approval::Approved
        {
            return Err(WriteError::NotApproved(name));
        }
        let first_sequence = u64::try_from(row.try_get::<i64, _>("next_sequence")?)
            .map_err(|_| corrupt("product_models.next_sequence"))?;
        let model_display_name: String = row.try_get("display_name")?;
        let manufacturer = load_manufacturer(&mut tx, &draft.manufacturer)
            .await?
            .ok_or_else(|| corrupt("product model without manufacturer"))?;

        let allocation = issuer.allocate(
            &draft.manufacturer,
            &draft.model,
            first_sequence,
            draft.count,
        );
        let next_sequence = i64::try_from(allocation.next_sequence)
            .map_err(|_| WriteError::Exhausted(name.clone()))?;

        let batch: i64 = sqlx::query_scalar(
            "INSERT INTO batches (manufacturer_code, model_code, manufacturer_name, model_name, \
             robot_count, produced_at, factory, issued_at, actor, traceparent, first_sequence, \
             state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'RESERVED') RETURNING id",
        )
        .bind(draft.manufacturer.as_str())
        .bind(draft.model.as_str())
        .bind(&manufacturer.legal_name)
        .bind(&model_display_name)
        .bind(allocation.robots.len() as i64)
        .bind(draft.production.produced_at.map(Timestamp::as_micros))
        .bind(draft.production.factory.as_deref())
        .bind(now.as_micros())
        .bind(&draft.actor)
        .bind(draft.traceparent.as_deref())
        .bind(first_sequence as i64)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE product_models SET next_sequence = $1 \
             WHERE manufacturer_code = $2 AND model_code = $3",
        )
        .bind(next_sequence)
        .bind(draft.manufacturer.as_str())
        .bind(draft.model.as_str())
        .execute(&mut *tx)
        .await?;
        idempotency::complete(&mut tx, key, &batch.to_string()).await?;
        tx.commit().await?;
        Ok(Reserved::ToSign(Reservation {
            batch,
            issued_at: now,
            robots: allocation.robots,
        }))
    }

    /// Step 2 of `issue`: writes the signed robots of a reserved batch and
    /// their outbox rows. Two retries finishing the same batch at once
    /// write it once: the state change takes the batch's row lock, and the
    /// second finds it ISSUED and answers what the first wrote.
    async fn record_signed(
        &self,
        batch: i64,
        issued_at: Timestamp,
        robots: Vec<IssuedRobot>,
    ) -> Result<Batch, WriteError> {
        let mut tx = self.db.pool.begin().await?;
        let reserved =
            sqlx::query("UPDATE batches SET state = 'ISSUED' WHERE id = $1 AND state = 'RESERVED'")
                .bind(batch)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if reserved == 0 {
            return Ok(load_batch(&mut tx, batch).await?);
        }
        for chunk in robots.chunks(INSERT_CHUNK) {
            insert_issued(&mut tx, batch, chunk).await?;
            insert_outbox(&mut tx, batch, chunk, issued_at).await?;
        }
        tx.commit().await?;
        Ok(Batch { issued_at, robots })
    }
    /// Claims up to `limit` of the oldest outbox rows no other relay holds
    /// a live claim on, for `owner` until `until`, and returns them.
    ///
    /// Several issuance replicas relay one outbox: each batch must be sent
    /// by one of them. A claim is a lease (two columns, on both engines)
    /// rather than a row lock held across the call to the registry, so no
    /// transaction stays open while the registry answers, and the rows of
    /// a relay that died mid-delivery are taken over once its lease ends.
    /// PostgreSQL skips the rows another relay is claiming at that moment
    /// (`FOR UPDATE SKIP LOCKED`) and re-checks the lease of each row it
    /// updates; SQLite runs the statement under its single write lock.
    pub async fn claim_deliveries(
        &self,
        owner: &str,
        limit: usize,
        until: Timestamp,
    ) -> Result<Vec<Delivery>, ApiError> {
        let now = Timestamp::now();
        let skip_locked = match self.db.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let claim = format!(
            "UPDATE outbox SET claimed_by = $1, claimed_until = $2 \
             WHERE (claimed_until IS NULL OR claimed_until < $3) AND id IN \
             (SELECT id FROM outbox WHERE claimed_until IS NULL OR claimed_until < $3 \
              ORDER BY id LIMIT $4{skip_locked})"
        );
        sqlx::query(AssertSqlSafe(claim))
            .bind(owner)
            .bind(until.as_micros())
            .bind(now.as_micros())
            .bind(limit as i64)
            .execute(&self.db.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT o.id, o.robot_id, b.issued_at, b.manufacturer_name, b.model_name, \
             b.produced_at, b.factory, b.traceparent, r.credential \
             FROM outbox o JOIN batches b ON b.id = o.batch_id \
             LEFT JOIN issued_robots r ON r.robot_id = o.robot_id \
             WHERE o.claimed_by = $1 AND o.claimed_until = $2 ORDER BY o.id",
        )
        .bind(owner)
        .bind(until.as_micros())
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let robot_id: String = row.try_get("robot_id")?;
                Ok(Delivery {
                    outbox_id: row.try_get("id")?,
                    robot_id: RobotId::parse(&robot_id).map_err(|_| corrupt("outbox.robot_id"))?,
                    issued_at: Timestamp::from_micros(row.try_get("issued_at")?),
                    manufacturer_name: row.try_get("manufacturer_name")?,
                    model_name: row.try_get("model_name")?,
                    production: Production {
                        produced_at: row
                            .try_get::<Option<i64>, _>("produced_at")?
                            .map(Timestamp::from_micros),
                        factory: row.try_get("factory")?,
                    },
                    traceparent: row.try_get("traceparent")?,
                    credential: row
                        .try_get::<Option<Vec<u8>>, _>("credential")?
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Gives up `owner`'s claim on outbox rows it could not deliver, so
    /// that any relay may send them at its next attempt.
    pub async fn release_deliveries(
        &self,
        owner: &str,
        outbox_ids: &[i64],
    ) -> Result<(), ApiError> {
        for chunk in outbox_ids.chunks(INSERT_CHUNK) {
            let sql = format!(
                "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL \
                 WHERE claimed_by = $1 AND id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(owner);
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&self.db.pool).await?;
        }
        Ok(())
    }

    /// Forgets delivered outbox rows, by id: rows committed meanwhile
    /// between them (PostgreSQL commits out of id order) stay pending.
    pub async fn mark_delivered(&self, outbox_ids: &[i64]) -> Result<(), ApiError> {
        let mut tx = self.db.pool.begin().await?;
        for chunk in outbox_ids.chunks(INSERT_CHUNK) {
            let sql = format!(
                "DELETE FROM outbox WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn backlog(&self) -> Result<Backlog, ApiError> {
        let row = sqlx::query("SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM outbox")
            .fetch_one(&self.db.pool)
            .await?;
        Ok(Backlog {
            pending: row.try_get::<i64, _>("pending")? as u64,
            oldest: row
                .try_get::<Option<i64>, _>("oldest")?
                .map(Timestamp::from_micros),
        })
    }
}

async fn insert_issued(
    tx: &mut AnyConnection,
    batch: i64,
    robots: &[IssuedRobot],
) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 4;
    let sql = format!(
        "INSERT INTO issued_robots (robot_id, batch_id, sequence, credential) VALUES {}",
        value_rows(robots.len(), COLUMNS)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for robot in robots {
        query = query
            .bind(robot.robot_id.as_str())
            .bind(batch)
            .bind(robot.sequence as i64)
            .bind(robot.credential.clone());
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

async fn insert_outbox(
    tx: &mut AnyConnection,
    batch: i64,
    robots: &[IssuedRobot],
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 3;
    let sql = format!(
        "INSERT INTO outbox (robot_id, batch_id, created_at) VALUES {}",
        value_rows(robots.len(), COLUMNS)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for robot in robots {
        query = query
            .bind(robot.robot_id.as_str())
            .bind(batch)
            .bind(now.as_micros());
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

async fn load_manufacturer(
    connection: &mut AnyConnection,
    code: &ManufacturerCode,
) -> Result<Option<Manufacturer>, ApiError> {
    let row = sqlx::query(SELECT_MANUFACTURER)
        .bind(code.as_str())
        .fetch_optional(&mut *connection)
        .await?;
    row.as_ref().map(manufacturer_from_row).transpose()
}

async fn load_model(
    connection: &mut AnyConnection,
    manufacturer: &ManufacturerCode,
    model: &ModelCode,
) -> Result<Option<ProductModel>, ApiError> {
    let row = sqlx::query(SELECT_MODEL)
        .bind(manufacturer.as_str())
        .bind(model.as_str())
        .fetch_optional(&mut *connection)
        .await?;
    row.as_ref().map(model_from_row).transpose()
}

async fn load_batch(connection: &mut AnyConnection, batch: i64) -> Result<Batch, ApiError> {
    let issued_at: i64 = sqlx::query_scalar("SELECT issued_at FROM batches WHERE id = $1")
        .bind(batch)
        .fetch_one(&mut *connection)
        .await?;
    let rows = sqlx::query(
        "SELECT robot_id, sequence, credential FROM issued_robots WHERE batch_id = $1 \
         ORDER BY sequence",
    )
    .bind(batch)
    .fetch_all(&mut *connection)
    .await?;
    let robots = rows
        .iter()
        .map(|row| {
            let robot_id: String = row.try_get("robot_id")?;
            Ok(IssuedRobot {
                robot_id: RobotId::parse(&robot_id)
                    .map_err(|_| corrupt("issued_robots.robot_id"))?,
                sequence: row.try_get::<i64, _>("sequence")? as u64,
                credential: row.try_get("credential")?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Batch {
        issued_at: Timestamp::from_micros(issued_at),
        robots,
    })
}

/// A claimed batch, read back for a retry: issued, or still to sign.
async fn load_reservation(
    connection: &mut AnyConnection,
    batch: i64,
    issuer: &Issuer,
) -> Result<Reserved, ApiError> {
    let row = sqlx::query(
        "SELECT manufacturer_code, model_code, robot_count, issued_at, first_sequence, state \
         FROM batches WHERE id = $1",
    )
    .bind(batch)
    .fetch_one(&mut *connection)
    .await?;
    let state: String = row.try_get("state")?;
    match state.as_str() {
        "ISSUED" => Ok(Reserved::Issued(load_batch(connection, batch).await?)),
        "RESERVED" => {
            let manufacturer: String = row.try_get("manufacturer_code")?;
            let model: String = row.try_get("model_code")?;
            let first_sequence = row
                .try_get::<Option<i64>, _>("first_sequence")?
                .and_then(|s| u64::try_from(s).ok())
                .ok_or_else(|| corrupt("batches.first_sequence"))?;
            let count = u32::try_from(row.try_get::<i64, _>("robot_count")?)
                .map_err(|_| corrupt("batches.robot_count"))?;
            let allocation = issuer.allocate(
                &ManufacturerCode::parse(&manufacturer)
                    .map_err(|_| corrupt("batches.manufacturer_code"))?,
                &ModelCode::parse(&model).map_err(|_| corrupt("batches.model_code"))?,
                first_sequence,
                count,
            );
            Ok(Reserved::ToSign(Reservation {
                batch,
                issued_at: Timestamp::from_micros(row.try_get("issued_at")?),
                robots: allocation.robots,
            }))
        }
        _ => Err(corrupt("batches.state")),
    }
}

fn manufacturer_from_row(row: &AnyRow) -> Result<Manufacturer, ApiError> {
    let code: String = row.try_get("code")?;
    let country: String = row.try_get("country_code")?;
    Ok(Manufacturer {
        code: ManufacturerCode::parse(&code).map_err(|_| corrupt("manufacturers.code"))?,
        legal_name: row.try_get("legal_name")?,
        registration_number: row.try_get("registration_number")?,
        country: country
            .parse()
            .map_err(|_| corrupt("manufacturers.country_code"))?,
        created_at: Timestamp::from_micros(row.try_get("created_at")?),
    })
}

fn model_from_row(row: &AnyRow) -> Result<ProductModel, ApiError> {
    let manufacturer: String = row.try_get("manufacturer_code")?;
    let model: String = row.try_get("model_code")?;
    let approval: String = row.try_get("approval")?;
    let components: String = row.try_get("key_components")?;
    let count = |column: &'static str| -> Result<u32, ApiError> {
        u32::try_from(row.try_get::<i64, _>(column)?).map_err(|_| corrupt(column))
    };
    Ok(ProductModel {
        manufacturer: ManufacturerCode::parse(&manufacturer)
            .map_err(|_| corrupt("product_models.manufacturer_code"))?,
        model: ModelCode::parse(&model).map_err(|_| corrupt("product_models.model_code"))?,
        display_name: row.try_get("display_name")?,
        category: row.try_get("category")?,
        specifications: Specifications {
            height_mm: count("height_mm")?,
            mass_g: count("mass_g")?,
            degrees_of_freedom: count("degrees_of_freedom")?,
            battery_capacity_wh: count("battery_capacity_wh")?,
            autonomy_level: row.try_get("autonomy_level")?,
        },
        key_components: components
            .split('\n')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
        approval: Approval::parse(&approval).ok_or_else(|| corrupt("product_models.approval"))?,
        created_at: Timestamp::from_micros(row.try_get("created_at")?),
        approved_at: row
            .try_get::<Option<i64>, _>("approved_at")?
            .map(Timestamp::from_micros),
    })
}

#[derive(Debug, thiserror::Error)]
#[error("stored data does not decode: {0}")]
struct Corrupt(&'static str);

fn corrupt(what: &'static str) -> ApiError {
    ApiError::internal(&Corrupt(what))
}
