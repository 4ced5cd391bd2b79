//! The public HTTP listener: read-only pages and documents for anyone (the
//! registry's web card; later the transparency log's tiles), apart from
//! the authenticated gRPC API.
//!
//! A service hands it an [`axum::Router`]; the listener adds what every
//! public route needs the same way:
//! - a span and request metrics per request, with the method, the route
//!   pattern (`/r/{code}`, never the path itself) and the status, and
//!   nothing of the client: no address, no user agent, no referrer. axum
//!   only learns the peer address through `into_make_service_with_connect_info`,
//!   which is not used here, so no handler can reach it either;
//! - a bound on requests in progress, past which a request is answered 503
//!   at once (shed, not queued): kept in memory, about nobody;
//! - a deadline per request;
//! - a graceful stop with the rest of the process.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};
use tower::ServiceBuilder;
use tracing::Instrument;

/// How the public listener protects itself.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Requests in progress at once; more are answered 503 at once.
    pub max_concurrent_requests: usize,
    /// Longest a request may take before it is answered 503.
    pub request_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            max_concurrent_requests: 1_024,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// A bound, not yet serving, public HTTP listener: binding first lets
/// tests bind port 0 and read the address.
pub struct PublicHttp {
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    options: HttpOptions,
}

impl PublicHttp {
    pub async fn bind(addr: SocketAddr, options: HttpOptions) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            options,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves `router` until `shutdown` resolves, then lets requests in
    /// progress finish (keep-alive connections are closed after their
    /// current response).
    pub async fn serve(
        self,
        router: axum::Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let metrics = Arc::new(HttpMetrics::new());
        let timeout = self.options.request_timeout;
        // Outermost first: telemetry sees shed and timed-out requests too.
        let router = router
            .layer(
                ServiceBuilder::new()
                    .layer(axum::error_handling::HandleErrorLayer::new(
                        |error: tower::BoxError| async move { overloaded(&error) },
                    ))
                    .load_shed()
                    .concurrency_limit(self.options.max_concurrent_requests)
                    .timeout(timeout),
            )
            .layer(axum::middleware::from_fn(move |request, next| {
                observe(metrics.clone(), request, next)
            }));
        tracing::info!(addr = %self.local_addr, "serving public HTTP");
        // TCP_NODELAY: small responses, sent at once.
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |stream| {
            let _ = stream.set_nodelay(true);
        });
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

fn overloaded(error: &tower::BoxError) -> Response {
    // Shed (too many in progress) or past the deadline: busy, retry.
    let status = if error.is::<tower::timeout::error::Elapsed>()
        || error.is::<tower::load_shed::error::Overloaded>()
    {
        http::StatusCode::SERVICE_UNAVAILABLE
    } else {
        http::StatusCode::INTERNAL_SERVER_ERROR
    };
    (
        status,
        [
            (http::header::RETRY_AFTER, "1"),
            (http::header::CACHE_CONTROL, "no-store"),
        ],
        "busy; try again in a second\n",
    )
        .into_response()
}

struct HttpMetrics {
    requests: Counter<u64>,
    duration: Histogram<f64>,
}

impl HttpMetrics {
    fn new() -> Self {
        let meter = opentelemetry::global::meter("robotid");
        Self {
            requests: meter
                .u64_counter("http.server.requests")
                .with_description("Public HTTP requests answered, by route and status")
                .build(),
            duration: meter
                .f64_histogram("http.server.request.duration")
                .with_unit("s")
                .with_description("Time to answer a public HTTP request")
                .with_boundaries(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ])
                .build(),
        }
    }
}

/// One span and the metrics of one request. Only the method, the route
/// pattern and the status are recorded: a per-scan log of who asked for
/// which robot is exactly what the public card must not leave behind, so
/// the span is at debug level (no line per request at the default `info`)
/// and names the pattern, not the robot.
async fn observe(metrics: Arc<HttpMetrics>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let span = tracing::debug_span!(
        "http",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    let attributes = [
        KeyValue::new("http.request.method", method),
        KeyValue::new("http.route", route),
        KeyValue::new("http.response.status_code", i64::from(status)),
    ];
    metrics.requests.add(1, &attributes);
    metrics
        .duration
        .record(started.elapsed().as_secs_f64(), &attributes);
    response
}
