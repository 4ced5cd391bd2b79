//! The log over HTTP, as c2sp.org/tlog-tiles under `{web}/log/`:
//! `checkpoint`, `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`,
//! read from the tables the integrator writes. Public and read-only, on the
//! same listener as the card.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use robotid_tlog::{Tile, TilePath};

use super::{TransparencyLog, store};

/// The checkpoint changes with every integration: a client may reuse it
/// for a second at most (the spec: "no caching beyond a few seconds").
const CHECKPOINT_CACHE: &str = "public, max-age=1";
/// A tile or bundle of a given width never changes.
const TILE_CACHE: &str = "public, max-age=31536000, immutable";

/// The log's routes: mount on the public listener.
pub fn router(log: TransparencyLog) -> Router {
    Router::new()
        .route("/log/checkpoint", get(checkpoint))
        .route("/log/tile/{*path}", get(tile))
        .layer(axum::middleware::map_response(log_headers))
        .with_state(log)
}

async fn log_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Static public data: monitors running in a browser may fetch it.
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

async fn checkpoint(State(log): State<TransparencyLog>) -> Response {
    let mut connection = match log.pool().acquire().await {
        Ok(connection) => connection,
        Err(error) => return unavailable(error),
    };
    let latest = match store::latest_checkpoint(&mut connection).await {
        Ok(latest) => latest,
        Err(error) => return unavailable(error),
    };
    match latest {
        Some((size, note)) => {
            // With the cosignatures the peers' witnesses gave it.
            let note = match super::cosigned(&mut connection, size, &note).await {
                Ok(signed) => signed.to_bytes(),
                Err(_) => note,
            };
            (
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                    (header::CACHE_CONTROL, CHECKPOINT_CACHE),
                ],
                note,
            )
                .into_response()
        }
        None => plain(StatusCode::NOT_FOUND, "no checkpoint signed yet\n"),
    }
}

async fn tile(State(log): State<TransparencyLog>, Path(path): Path<String>) -> Response {
    let Ok(path) = robotid_tlog::parse_tile_path(&format!("tile/{path}")) else {
        return plain(StatusCode::NOT_FOUND, "not a tile path\n");
    };
    let mut connection = match log.pool().acquire().await {
        Ok(connection) => connection,
        Err(error) => return unavailable(error),
    };
    let body = match path {
        TilePath::Hashes(tile) => hashes(&mut connection, tile).await,
        TilePath::Entries(tile) => entry_bundle(&mut connection, tile).await,
    };
    match body {
        Ok(Some(body)) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (header::CACHE_CONTROL, TILE_CACHE),
            ],
            body,
        )
            .into_response(),
        // Not (yet) in the tree: a client asks only for tiles a checkpoint
        // it verified needs, so this is a wrong path or a log that lost data.
        Ok(None) => plain(StatusCode::NOT_FOUND, "no such tile\n"),
        Err(error) => unavailable(error),
    }
}

/// A tile of hashes at the width asked, if the tree has reached it.
async fn hashes(
    connection: &mut sqlx::AnyConnection,
    tile: Tile,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let data = store::tile_data(connection, tile.level(), tile.index()).await?;
    Ok(data.and_then(|data| data.get(..tile.byte_len()).map(<[u8]>::to_vec)))
}

/// The entries of a level-0 tile's leaves, if the tree holds them all.
async fn entry_bundle(
    connection: &mut sqlx::AnyConnection,
    tile: Tile,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let start = tile.index() * 256;
    let end = start + u64::from(tile.width());
    if store::tree(connection).await?.size < end {
        return Ok(None);
    }
    let entries = store::entries(connection, start, end).await?;
    if entries.len() as u64 != end - start {
        return Ok(None);
    }
    Ok(robotid_tlog::encode_entry_bundle(&entries).ok())
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}

fn unavailable(error: sqlx::Error) -> Response {
    tracing::warn!(%error, "serving the transparency log");
    let mut response = plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "the log's database is unavailable; retry\n",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
