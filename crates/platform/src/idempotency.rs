//! Safe retries (AIP-155): every mutating call carries a `request_id`; the
//! first call with an id does the work and remembers its result in the same
//! transaction, a retry gets that result back, and the same id with a
//! different request is refused.
//!
//! A request id belongs to its caller: the key is (caller identity, method,
//! request_id), so that another caller's id neither replays the first
//! caller's answer to it (which would leak that answer) nor blocks it
//! (which would let one participant refuse another's calls by guessing
//! their ids).
//!
//! Each service's migrations create the table:
//! `requests (caller TEXT, method TEXT, request_id TEXT, fingerprint BLOB,
//! result TEXT, created_at BIGINT, PRIMARY KEY (caller, method,
//! request_id))`.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::db::{placeholders, value_rows};
use crate::error::ApiError;
use crate::identity::Caller;

/// Identifies one mutating request.
#[derive(Debug, Clone)]
pub struct RequestKey {
    /// Who asked: the caller's identity (`robotid://ROLE/ORG`).
    pub caller: String,
    pub method: &'static str,
    pub request_id: String,
    pub fingerprint: [u8; 32],
}

impl RequestKey {
    pub const MAX_LEN: usize = 128;

    /// `caller` asking `method`; `message` is the request with its
    /// `request_id` cleared, so that the fingerprint covers exactly what
    /// the request asks for.
    pub fn new(
        caller: &Caller,
        method: &'static str,
        request_id: &str,
        message: &impl prost::Message,
    ) -> Result<Self, ApiError> {
        if request_id.is_empty() {
            return Err(ApiError::invalid_argument(
                "request_id",
                "required: a unique id (e.g. a UUID) that makes retries safe",
            ));
        }
        if request_id.len() > Self::MAX_LEN || !request_id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::invalid_argument(
                "request_id",
                "at most 128 printable ASCII characters without spaces",
            ));
        }
        Ok(Self {
            caller: caller.to_string(),
            method,
            request_id: request_id.to_owned(),
            fingerprint: Sha256::digest(message.encode_to_vec()).into(),
        })
    }

    /// Whether `other` names the same request: the same caller, method
    /// and id (a retry, whatever its content).
    pub fn same_request(&self, other: &RequestKey) -> bool {
        self.request_id == other.request_id
            && self.method == other.method
            && self.caller == other.caller
    }
}

/// What a claimed request id means for the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First time: do the work, then `complete` in the same transaction.
    New,
    /// Done before: answer from this result.
    Done(String),
}

/// Claims `key` inside the caller's transaction. Inserting first takes the
/// write lock (SQLite) or waits on a concurrent insert of the same id
/// (PostgreSQL), so two concurrent retries cannot both do the work.
pub async fn claim(
    connection: &mut AnyConnection,
    key: &RequestKey,
    now_micros: i64,
) -> Result<Claim, ApiError> {
    let mut claims = claim_all(connection, &[key], now_micros).await?;
    claims.remove(0)
}

/// Records the result of a claimed request, in the transaction that did
/// the work.
pub async fn complete(
    connection: &mut AnyConnection,
    key: &RequestKey,
    result: &str,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE requests SET result = $1 WHERE caller = $2 AND method = $3 AND request_id = $4",
    )
    .bind(result)
    .bind(&key.caller)
    .bind(key.method)
    .bind(&key.request_id)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Claims several keys at once, with two statements, for a write that
/// serves a group of requests in one transaction: the answer for each key,
/// in order, as [`claim`] would give it. The keys must name different
/// requests (see [`RequestKey::same_request`]).
pub async fn claim_all(
    connection: &mut AnyConnection,
    keys: &[&RequestKey],
    now_micros: i64,
) -> Result<Vec<Result<Claim, ApiError>>, ApiError> {
    debug_assert!(
        keys.iter()
            .enumerate()
            .all(|(i, key)| keys[..i].iter().all(|earlier| !earlier.same_request(key))),
        "one request twice in a group"
    );
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "INSERT INTO requests (caller, method, request_id, fingerprint, created_at) VALUES {} \
         ON CONFLICT (caller, method, request_id) DO NOTHING \
         RETURNING caller, method, request_id",
        value_rows(keys.len(), 5)
    );
    let mut insert = sqlx::query(AssertSqlSafe(sql));
    for key in keys {
        insert = insert
            .bind(&key.caller)
            .bind(key.method)
            .bind(&key.request_id)
            .bind(&key.fingerprint[..])
            .bind(now_micros);
    }
    let claimed: Vec<(String, String, String)> = insert
        .fetch_all(&mut *connection)
        .await?
        .iter()
        .map(|row| {
            Ok::<_, sqlx::Error>((
                row.try_get("caller")?,
                row.try_get("method")?,
                row.try_get("request_id")?,
            ))
        })
        .collect::<Result<_, _>>()?;
    let is_claimed = |key: &RequestKey| {
        claimed.iter().any(|(caller, method, id)| {
            *caller == key.caller && method == key.method && *id == key.request_id
        })
    };
    if claimed.len() == keys.len() {
        return Ok(keys.iter().map(|_| Ok(Claim::New)).collect());
    }
    // The others were seen before: read what they were and what they gave
    // (by id, then by caller and method: other callers' rows with the same
    // id are no business of this call).
    let seen: Vec<&RequestKey> = keys
        .iter()
        .copied()
        .filter(|key| !is_claimed(key))
        .collect();
    let sql = format!(
        "SELECT caller, method, request_id, fingerprint, result FROM requests \
         WHERE request_id IN ({})",
        placeholders(1, seen.len())
    );
    let mut select = sqlx::query(AssertSqlSafe(sql));
    for key in &seen {
        select = select.bind(&key.request_id);
    }
    type Stored = HashMap<(String, String, String), (Vec<u8>, Option<String>)>;
    let mut stored: Stored = HashMap::new();
    for row in select.fetch_all(&mut *connection).await? {
        stored.insert(
            (
                row.try_get("caller")?,
                row.try_get("method")?,
                row.try_get("request_id")?,
            ),
            (row.try_get("fingerprint")?, row.try_get("result")?),
        );
    }
    Ok(keys
        .iter()
        .map(|key| {
            if is_claimed(key) {
                return Ok(Claim::New);
            }
            let id = (
                key.caller.clone(),
                key.method.to_owned(),
                key.request_id.clone(),
            );
            match stored.remove(&id) {
                Some((fingerprint, Some(result))) if fingerprint == key.fingerprint => {
                    Ok(Claim::Done(result))
                }
                _ => Err(ApiError::request_id_reused(&key.request_id)),
            }
        })
        .collect())
}

/// Records the results of several claimed requests in one statement.
pub async fn complete_all(
    connection: &mut AnyConnection,
    results: &[(&RequestKey, String)],
) -> Result<(), ApiError> {
    if results.is_empty() {
        return Ok(());
    }
    // VALUES columns are named column1, column2, … in both engines.
    let sql = format!(
        "UPDATE requests SET result = v.column4 FROM (VALUES {}) AS v \
         WHERE requests.caller = v.column1 AND requests.method = v.column2 \
         AND requests.request_id = v.column3",
        value_rows(results.len(), 4)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (key, result) in results {
        query = query
            .bind(&key.caller)
            .bind(key.method)
            .bind(&key.request_id)
            .bind(result);
    }
    query.execute(&mut *connection).await?;
    Ok(())
}

/// Gives claimed request ids back, for requests of a group that were
/// refused while the rest of the group commits: a refusal is not a result,
/// so a retry must be able to try again.
pub async fn release_all(
    connection: &mut AnyConnection,
    keys: &[&RequestKey],
) -> Result<(), ApiError> {
    if keys.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "DELETE FROM requests WHERE {}",
        (0..keys.len())
            .map(|i| format!(
                "(caller = ${} AND method = ${} AND request_id = ${})",
                3 * i + 1,
                3 * i + 2,
                3 * i + 3
            ))
            .collect::<Vec<_>>()
            .join(" OR ")
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for key in keys {
        query = query
            .bind(&key.caller)
            .bind(key.method)
            .bind(&key.request_id);
    }
    query.execute(&mut *connection).await?;
    Ok(())
}
