//! Safe retries (AIP-155): every mutating call carries a `request_id`; the
//! first call with an id does the work and remembers its result in the same
//! transaction, a retry gets that result back, and the same id with a
//! different request is refused.
//!
//! Each service's migrations create the table:
//! `requests (request_id TEXT PRIMARY KEY, method TEXT, fingerprint BLOB,
//! result TEXT, created_at BIGINT)`.

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::error::ApiError;

/// Identifies one mutating request.
#[derive(Debug, Clone)]
pub struct RequestKey {
    pub request_id: String,
    pub method: &'static str,
    pub fingerprint: [u8; 32],
}

impl RequestKey {
    pub const MAX_LEN: usize = 128;

    /// `message` is the request with its `request_id` cleared, so that the
    /// fingerprint covers exactly what the request asks for.
    pub fn new(
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
            request_id: request_id.to_owned(),
            method,
            fingerprint: Sha256::digest(message.encode_to_vec()).into(),
        })
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
    let inserted = sqlx::query(
        "INSERT INTO requests (request_id, method, fingerprint, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (request_id) DO NOTHING",
    )
    .bind(&key.request_id)
    .bind(key.method)
    .bind(&key.fingerprint[..])
    .bind(now_micros)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let (method, fingerprint, result): (String, Vec<u8>, Option<String>) =
        sqlx::query_as("SELECT method, fingerprint, result FROM requests WHERE request_id = $1")
            .bind(&key.request_id)
            .fetch_one(&mut *connection)
            .await?;
    match result {
        Some(result) if method == key.method && fingerprint == key.fingerprint => {
            Ok(Claim::Done(result))
        }
        _ => Err(ApiError::request_id_reused(&key.request_id)),
    }
}

/// Records the result of a claimed request, in the transaction that did
/// the work.
pub async fn complete(
    connection: &mut AnyConnection,
    key: &RequestKey,
    result: &str,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE requests SET result = $1 WHERE request_id = $2")
        .bind(result)
        .bind(&key.request_id)
        .execute(&mut *connection)
        .await?;
    Ok(())
}
