//! The witness's tables: the peers, the heads cosigned of their logs, the
//! forks caught, and what their witnesses cosigned of this registry's log.

use robotid_tlog::Hash;
use sqlx::{AnyConnection, Row};

/// A trusted peer, as the transfer service's trust list sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub country: String,
    pub log_origin: String,
    pub log_key: String,
    pub witness_key: String,
    pub web_url: String,
    /// Its registry's gRPC address, where holds go; empty when unknown.
    pub grpc_url: String,
    pub active: bool,
    pub updated_at: i64,
    pub updated_by: String,
}

pub async fn put_peer(connection: &mut AnyConnection, peer: &Peer) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO peers (country, log_origin, log_key, witness_key, web_url, revoked_at, \
         updated_at, updated_by, grpc_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (country) DO UPDATE SET log_origin = excluded.log_origin, \
         log_key = excluded.log_key, witness_key = excluded.witness_key, \
         web_url = excluded.web_url, revoked_at = excluded.revoked_at, \
         updated_at = excluded.updated_at, updated_by = excluded.updated_by, \
         grpc_url = excluded.grpc_url",
    )
    .bind(&peer.country)
    .bind(&peer.log_origin)
    .bind(&peer.log_key)
    .bind(&peer.witness_key)
    .bind(&peer.web_url)
    .bind((!peer.active).then_some(peer.updated_at))
    .bind(peer.updated_at)
    .bind(&peer.updated_by)
    .bind(&peer.grpc_url)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

pub async fn peers(connection: &mut AnyConnection) -> Result<Vec<Peer>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT country, log_origin, log_key, witness_key, web_url, grpc_url, revoked_at, \
         updated_at, updated_by FROM peers ORDER BY country",
    )
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Peer {
                country: row.try_get("country")?,
                log_origin: row.try_get("log_origin")?,
                log_key: row.try_get("log_key")?,
                witness_key: row.try_get("witness_key")?,
                web_url: row.try_get("web_url")?,
                grpc_url: row.try_get("grpc_url")?,
                active: row.try_get::<Option<i64>, _>("revoked_at")?.is_none(),
                updated_at: row.try_get("updated_at")?,
                updated_by: row.try_get("updated_by")?,
            })
        })
        .collect()
}

/// The newest head cosigned of the log `origin`.
pub async fn head(
    connection: &mut AnyConnection,
    origin: &str,
) -> Result<Option<robotid_tlog::TreeHead>, sqlx::Error> {
    let row = sqlx::query("SELECT size, root FROM witness_heads WHERE origin = $1")
        .bind(origin)
        .fetch_optional(&mut *connection)
        .await?;
    row.map(|row| {
        let root: Vec<u8> = row.try_get("root")?;
        Ok(robotid_tlog::TreeHead {
            size: row.try_get::<i64, _>("size")? as u64,
            root: Hash::try_from(root.as_slice())
                .map_err(|_| sqlx::Error::Decode("witness_heads.root is not 32 bytes".into()))?,
        })
    })
    .transpose()
}

/// Moves the head of `origin` from `previous` to `latest`, if it is still
/// `previous`: the compare-and-swap that makes check-and-store atomic.
/// `false` when another request moved it first.
pub async fn swap_head(
    connection: &mut AnyConnection,
    origin: &str,
    previous: Option<&robotid_tlog::TreeHead>,
    latest: &robotid_tlog::TreeHead,
    at_micros: i64,
) -> Result<bool, sqlx::Error> {
    let changed = match previous {
        None => sqlx::query(
            "INSERT INTO witness_heads (origin, size, root, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (origin) DO NOTHING",
        )
        .bind(origin)
        .bind(latest.size as i64)
        .bind(latest.root.to_vec())
        .bind(at_micros)
        .execute(&mut *connection)
        .await?
        .rows_affected(),
        Some(previous) => sqlx::query(
            "UPDATE witness_heads SET size = $1, root = $2, updated_at = $3 \
             WHERE origin = $4 AND size = $5 AND root = $6",
        )
        .bind(latest.size as i64)
        .bind(latest.root.to_vec())
        .bind(at_micros)
        .bind(origin)
        .bind(previous.size as i64)
        .bind(previous.root.to_vec())
        .execute(&mut *connection)
        .await?
        .rows_affected(),
    };
    Ok(changed == 1)
}

/// A refused checkpoint the peer's log signed, kept once.
#[derive(Debug, Clone)]
pub struct Fork {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub kind: &'static str,
    pub cosigned_size: u64,
    pub cosigned_root: Hash,
    pub request: Vec<u8>,
    pub received_at: i64,
}

/// Keeps `fork`; `true` if it was new.
pub async fn keep_fork(connection: &mut AnyConnection, fork: &Fork) -> Result<bool, sqlx::Error> {
    let kept = sqlx::query(
        "INSERT INTO witness_forks (origin, size, root, kind, cosigned_size, cosigned_root, \
         request, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (origin, size, root) DO NOTHING",
    )
    .bind(&fork.origin)
    .bind(fork.size as i64)
    .bind(fork.root.to_vec())
    .bind(fork.kind)
    .bind(fork.cosigned_size as i64)
    .bind(fork.cosigned_root.to_vec())
    .bind(fork.request.clone())
    .bind(fork.received_at)
    .execute(&mut *connection)
    .await?;
    Ok(kept.rows_affected() == 1)
}

/// Every fork kept, newest first: `(origin, kind, cosigned size, cosigned
/// root, request, received at)`.
pub async fn forks(
    connection: &mut AnyConnection,
) -> Result<Vec<(String, String, u64, Vec<u8>, Vec<u8>, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT origin, kind, cosigned_size, cosigned_root, request, received_at \
         FROM witness_forks ORDER BY received_at DESC",
    )
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("origin")?,
                row.try_get("kind")?,
                row.try_get::<i64, _>("cosigned_size")? as u64,
                row.try_get("cosigned_root")?,
                row.try_get("request")?,
                row.try_get("received_at")?,
            ))
        })
        .collect()
}

/// How many forks were caught, of every peer log.
pub async fn fork_count(connection: &mut AnyConnection) -> Result<u64, sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM witness_forks")
        .fetch_one(&mut *connection)
        .await?;
    Ok(count as u64)
}

/// How far `country`'s witness has cosigned this registry's log.
pub async fn peer_witnessed(
    connection: &mut AnyConnection,
    country: &str,
) -> Result<u64, sqlx::Error> {
    let size: Option<i64> =
        sqlx::query_scalar("SELECT size FROM peer_witnessed WHERE country = $1")
            .bind(country)
            .fetch_optional(&mut *connection)
            .await?;
    Ok(size.unwrap_or(0) as u64)
}

pub async fn set_peer_witnessed(
    connection: &mut AnyConnection,
    country: &str,
    size: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO peer_witnessed (country, size) VALUES ($1, $2) \
         ON CONFLICT (country) DO UPDATE SET size = excluded.size",
    )
    .bind(country)
    .bind(size as i64)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Keeps a peer witness's cosignature of this log's checkpoint of `size`.
pub async fn keep_cosignature(
    connection: &mut AnyConnection,
    size: u64,
    witness: &str,
    signature_line: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO log_cosignatures (size, witness, signature) VALUES ($1, $2, $3) \
         ON CONFLICT (size, witness) DO UPDATE SET signature = excluded.signature",
    )
    .bind(size as i64)
    .bind(witness)
    .bind(signature_line)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// The cosignature lines kept for the checkpoint of `size`.
pub async fn cosignatures(
    connection: &mut AnyConnection,
    size: u64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT signature FROM log_cosignatures WHERE size = $1 ORDER BY witness")
        .bind(size as i64)
        .fetch_all(&mut *connection)
        .await
}

/// The largest cosigned size of this log at least `min_size`, if any;
/// cosigned by the witness named `witness`, when one is named.
pub async fn newest_cosigned_size(
    connection: &mut AnyConnection,
    min_size: u64,
    witness: Option<&str>,
) -> Result<Option<u64>, sqlx::Error> {
    let size: Option<i64> = sqlx::query_scalar(
        "SELECT max(size) FROM log_cosignatures WHERE size >= $1 AND ($2 = '' OR witness = $2)",
    )
    .bind(min_size as i64)
    .bind(witness.unwrap_or_default())
    .fetch_one(&mut *connection)
    .await?;
    Ok(size.map(|size| size as u64))
}
