//! The access layer every service runs: identify the caller from its client
//! certificate, apply the RPC table, and limit each identity's rate, before
//! a request is decoded.

use std::future::Future;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic_types::{ErrorDetails, StatusExt};

use crate::authz;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::tls::caller_from_certificate;

/// The key a rate is counted under: the identity, or the address of an
/// anonymous caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RateKey {
    Caller(Caller),
    Anonymous(Option<IpAddr>),
}

/// Per-identity rate limit settings.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: NonZeroU32::new(2_000).unwrap(),
            burst: NonZeroU32::new(4_000).unwrap(),
        }
    }
}

#[derive(Clone)]
pub struct AccessLayer {
    limiter: Arc<DefaultKeyedRateLimiter<RateKey>>,
    checks: Arc<AtomicU64>,
}

impl AccessLayer {
    pub fn new(rate: RateLimit) -> Self {
        let quota = Quota::per_second(rate.per_second).allow_burst(rate.burst);
        Self {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(quota)),
            checks: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl<S> tower::Layer<S> for AccessLayer {
    type Service = Access<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Access {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Access<S> {
    inner: S,
    layer: AccessLayer,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

/// `ErrorInfo.domain` of a refusal made here: the service the path names
/// (`/robotid.registry.v1.RegistryService/…` → `registry.robotid`), as the
/// service itself would have answered.
pub(crate) fn error_domain(path: &str) -> String {
    match path
        .strip_prefix("/robotid.")
        .and_then(|rest| rest.split('.').next())
    {
        Some(area) => format!("{area}.robotid"),
        None => "robotid".to_owned(),
    }
}

impl<S> tower::Service<http::Request<Body>> for Access<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let tls = request.extensions().get::<TlsConnectInfo<TcpConnectInfo>>();
        let caller = tls
            .and_then(|info| info.peer_certs())
            .and_then(|certs| certs.first().and_then(|cert| caller_from_certificate(cert)));
        let presented_certificate = tls
            .and_then(|info| info.peer_certs())
            .is_some_and(|c| !c.is_empty());
        let remote = tls
            .and_then(|info| info.get_ref().remote_addr())
            .or_else(|| {
                request
                    .extensions()
                    .get::<TcpConnectInfo>()
                    .and_then(|i| i.remote_addr())
            })
            .map(|addr| addr.ip());

        let refusal = if presented_certificate && caller.is_none() {
            Some(ApiError::new(
                tonic::Code::Unauthenticated,
                "IDENTITY_UNREADABLE",
                "the client certificate names no robotid://ROLE/ORG identity",
            ))
        } else {
            None
        };
        let caller = caller.unwrap_or_else(Caller::anonymous);

        let refusal = refusal.or_else(|| match authz::rpc_allows(request.uri().path()) {
            Some(allows) if !allows.iter().any(|allow| allow.admits(&caller)) => Some(
                authz::denied(&caller, &format!("call {}", request.uri().path())),
            ),
            _ => None,
        });
        if let Some(refusal) = refusal {
            let status = refusal.into_status(&error_domain(request.uri().path()));
            return Box::pin(async move { Ok(status.into_http()) });
        }

        let key = if caller.is_anonymous() {
            RateKey::Anonymous(remote)
        } else {
            RateKey::Caller(caller.clone())
        };
        if let Err(not_until) = self.layer.limiter.check_key(&key) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let status = rate_limited(wait, &error_domain(request.uri().path()));
            return Box::pin(async move { Ok(status.into_http()) });
        }
        // Forget identities idle long enough to be back at full burst.
        if self
            .layer
            .checks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(10_000)
        {
            self.layer.limiter.retain_recent();
        }

        crate::rpc_telemetry::record_caller(&caller);
        request.extensions_mut().insert(caller);
        // The clone is ready because `poll_ready` readied `inner`; swap so
        // the readied one serves this call (tower's documented pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move { inner.call(request).await })
    }
}

fn rate_limited(wait: Duration, domain: &str) -> tonic::Status {
    let mut details = ErrorDetails::with_error_info(
        "RATE_LIMITED",
        domain,
        [("retry_after_ms".to_owned(), wait.as_millis().to_string())],
    );
    details.set_retry_info(Some(wait));
    tonic::Status::with_error_details(
        tonic::Code::ResourceExhausted,
        format!(
            "rate limit exceeded; retry in {} ms",
            wait.as_millis().max(1)
        ),
        details,
    )
}
