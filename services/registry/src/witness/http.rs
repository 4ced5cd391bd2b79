//! `POST {web}/witness/add-checkpoint` on the public listener: the one
//! write it takes, authenticated by the checkpoint's own signature.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderValue, StatusCode, header};

use super::RegistryWitness;

/// A request holds a checkpoint, its signatures and at most 63 proof
/// lines: a few KiB. Anything larger is not one.
const MAX_BODY: usize = 64 * 1024;

pub fn router(witness: RegistryWitness) -> Router {
    Router::new()
        .route("/witness/add-checkpoint", post(add_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(witness)
}

async fn add_checkpoint(State(witness): State<RegistryWitness>, body: Bytes) -> Response {
    match witness.add_checkpoint(&body).await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = (status, answer.body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(answer.content_type),
            );
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            tracing::warn!(%error, "the witness's database is unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                "the witness's database is unavailable; retry\n",
            )
                .into_response()
        }
    }
}
