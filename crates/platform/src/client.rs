//! Channels to the Robot ID services, and the retries every client of the
//! API makes: one implementation for the services' own clients (the
//! issuance relay, transfer → registry), the CLI, the bench and the fault
//! suite.
//!
//! A call answered UNAVAILABLE (the service or its database is not there
//! right now) or RESOURCE_EXHAUSTED with a `google.rpc.RetryInfo` (a rate
//! limit or a shed call: the server says when to come back) is sent again,
//! after the server's `retry_delay` when it gave one, else after an
//! exponential backoff with jitter, within the call's deadline. Every
//! mutating call of the API carries a `request_id`, so a repeated call is
//! answered, not repeated: every `robotid.*` call is safe to retry. Other
//! paths (server reflection's streams) pass through untouched.
//!
//! RESOURCE_EXHAUSTED without a RetryInfo (a message over the size limit,
//! reason `MESSAGE_TOO_LARGE`) is not retried: sending it again cannot help.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use tonic::Code;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tonic_types::StatusExt;

#[derive(Debug, thiserror::Error)]
#[error("invalid service address {uri:?}")]
pub struct ClientError {
    uri: String,
    #[source]
    source: tonic::transport::Error,
}

/// A channel whose calls retry as [this module](self) says.
pub type RpcChannel = Retrying<Channel>;

/// A channel to another service that connects on first use and reconnects
/// by itself, so a service starts (and keeps its own work) while the one it
/// calls is down; calls made meanwhile are retried, then fail with
/// UNAVAILABLE.
pub fn lazy_channel(uri: &str) -> Result<RpcChannel, ClientError> {
    lazy_channel_with(uri, None)
}

/// As [`lazy_channel`], over mutual TLS with this service's certificate
/// when `tls` is given (`uri` then `https://`).
pub fn lazy_channel_with(
    uri: &str,
    tls: Option<&crate::tls::TlsMaterial>,
) -> Result<RpcChannel, ClientError> {
    let error = |source| ClientError {
        uri: uri.to_owned(),
        source,
    };
    let mut endpoint = Endpoint::from_shared(uri.to_owned()).map_err(error)?;
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls.client_config()).map_err(error)?;
    }
    Ok(Retrying::new(
        endpoint
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true)
            .connect_lazy(),
    ))
}

/// How long and how often a call is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff after an UNAVAILABLE; it doubles from there.
    pub first_backoff: Duration,
    /// The longest backoff, and the longest `retry_delay` honoured (a
    /// server asking for more is answered with its refusal at once).
    pub max_backoff: Duration,
    /// A call without a deadline (`grpc-timeout`) stops retrying this long
    /// after it started.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
            budget: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` after `attempt` failed (1 for
    /// the first): a backoff doubling from `first_backoff` with "equal
    /// jitter" (half fixed, half random), so that clients refused together
    /// do not return together, and never less than the server's
    /// `retry_delay` (AIP-194: wait at least that long; a rate limiter's
    /// delay is until its next free slot, which a crowd of callers cannot
    /// all take). `None` when the server asks for more than `max_backoff`.
    pub fn wait(
        &self,
        attempt: u32,
        retry_delay: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if retry_delay.is_some_and(|delay| delay > self.max_backoff) {
            return None;
        }
        let doublings = attempt.saturating_sub(1).min(16);
        let full = self
            .first_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        let backoff = full / 2 + full.mul_f64(jitter.clamp(0.0, 1.0) / 2.0);
        Some(backoff.max(retry_delay.unwrap_or_default()))
    }

    /// [`RetryPolicy::wait`] with a fresh random jitter: for callers that
    /// retry by themselves (and record every attempt).
    pub fn next_wait(&self, attempt: u32, retry_delay: Option<Duration>) -> Option<Duration> {
        self.wait(attempt, retry_delay, jitter())
    }
}

/// Whether a refusal may be sent again, and after how long the server
/// wants: UNAVAILABLE always; RESOURCE_EXHAUSTED only with a RetryInfo.
pub fn retryable(status: &tonic::Status) -> Option<Option<Duration>> {
    let retry_delay = status
        .get_details_retry_info()
        .map(|info| info.retry_delay.unwrap_or_default());
    match status.code() {
        Code::Unavailable => Some(retry_delay),
        Code::ResourceExhausted if retry_delay.is_some() => Some(retry_delay),
        _ => None,
    }
}

/// A tower service (a tonic client's transport) that retries as [this
/// module](self) says.
#[derive(Debug, Clone)]
pub struct Retrying<S> {
    inner: S,
    policy: RetryPolicy,
}

impl<S> Retrying<S> {
    pub fn new(inner: S) -> Self {
        Self::with_policy(inner, RetryPolicy::default())
    }

    pub fn with_policy(inner: S, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> tower::Service<http::Request<Body>> for Retrying<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The clone is ready because `poll_ready` readied `inner`; swap so
        // the readied one serves the first attempt.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if !request.uri().path().starts_with("/robotid.") {
            return Box::pin(async move { inner.call(request).await.map_err(Into::into) });
        }
        let policy = self.policy;
        Box::pin(async move {
            let started = Instant::now();
            let (parts, body) = request.into_parts();
            // A unary request is one small message: keep it to send again.
            let body: Bytes = body.collect().await?.to_bytes();
            let deadline = started
                + parts
                    .headers
                    .get("grpc-timeout")
                    .and_then(|value| parse_grpc_timeout(value.to_str().ok()?))
                    .unwrap_or(policy.budget);
            let mut attempt = 1;
            loop {
                let mut request = http::Request::from_parts(
                    parts.clone(),
                    Body::new(http_body_util::Full::new(body.clone())),
                );
                if attempt > 1 {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if let Ok(value) = format!("{}m", left.as_millis().max(1)).parse() {
                        request.headers_mut().insert("grpc-timeout", value);
                    }
                }
                let outcome = inner.call(request).await.map_err(Into::into);
                let retry_delay = match &outcome {
                    // Refusals travel as trailers-only responses: the status
                    // is in the headers.
                    Ok(response) => match tonic::Status::from_header_map(response.headers()) {
                        Some(status) if status.code() != Code::Ok => retryable(&status),
                        _ => None,
                    },
                    // No answer at all (refused or lost connection): as
                    // UNAVAILABLE, which tonic makes of it.
                    Err(_) => Some(None),
                };
                let Some(retry_delay) = retry_delay else {
                    return outcome;
                };
                if attempt >= policy.max_attempts {
                    return outcome;
                }
                let Some(wait) = policy.next_wait(attempt, retry_delay) else {
                    return outcome;
                };
                if Instant::now() + wait >= deadline {
                    return outcome;
                }
                tracing::debug!(attempt, ?wait, "retrying a call");
                tokio::time::sleep(wait).await;
                attempt += 1;
                // The next attempt waits until the channel can take it.
                std::future::poll_fn(|cx| inner.poll_ready(cx))
                    .await
                    .map_err(Into::into)?;
            }
        })
    }
}

/// `grpc-timeout` (gRPC over HTTP/2): up to 8 digits and a unit.
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3_600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// A number in [0, 1).
fn jitter() -> f64 {
    let mut bytes = [0_u8; 4];
    // Without randomness the wait is just not spread: no reason to fail.
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn the_servers_retry_delay_wins_and_backoff_doubles_to_its_cap() {
        let policy = RetryPolicy::default();
        let wait = policy
            .wait(1, Some(Duration::from_millis(300)), 0.0)
            .unwrap();
        assert_eq!(wait, Duration::from_millis(300));
        // The server's delay is a floor; the backoff goes on above it.
        let wait = policy.wait(6, Some(Duration::from_millis(1)), 0.0).unwrap();
        assert_eq!(wait, Duration::from_millis(800));
        assert!(policy.wait(1, Some(Duration::from_secs(60)), 0.0).is_none());
        assert_eq!(policy.wait(1, None, 0.0), Some(Duration::from_millis(25)));
        assert_eq!(policy.wait(3, None, 0.0), Some(Duration::from_millis(100)));
        assert_eq!(
            policy.wait(30, None, 0.0),
            Some(Duration::from_millis(2_500))
        );
        assert!(policy.wait(30, None, 0.999).unwrap() < Duration::from_secs(5));
    }

    #[test]
    fn resource_exhausted_is_retried_only_when_the_server_says_when() {
        let mut details = ErrorDetails::with_error_info("RATE_LIMITED", "registry.robotid", []);
        details.set_retry_info(Some(Duration::from_millis(40)));
        let limited =
            tonic::Status::with_error_details(Code::ResourceExhausted, "slow down", details);
        assert_eq!(retryable(&limited), Some(Some(Duration::from_millis(40))));
        let too_large = tonic::Status::with_error_details(
            Code::ResourceExhausted,
            "too large",
            ErrorDetails::with_error_info("MESSAGE_TOO_LARGE", "registry.robotid", []),
        );
        assert_eq!(retryable(&too_large), None);
        assert_eq!(retryable(&tonic::Status::unavailable("down")), Some(None));
        assert_eq!(retryable(&tonic::Status::internal("bug")), None);
    }

    #[test]
    fn grpc_timeouts_parse_in_every_unit() {
        assert_eq!(parse_grpc_timeout("15S"), Some(Duration::from_secs(15)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("7"), None);
        assert_eq!(parse_grpc_timeout(""), None);
    }
}
