//! A span and metrics for every RPC a server answers, with the caller's W3C
//! trace context as the span's parent; and the client half, which puts the
//! current trace context on outgoing calls so that one trace follows a
//! request across services.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct RpcMetrics {
    requests: Counter<u64>,
    errors: Counter<u64>,
    duration: Histogram<f64>,
}

/// Server side: one span per call, named for the method, and the request
/// count, error count by code, and latency histogram.
#[derive(Clone)]
pub struct RpcTelemetryLayer {
    metrics: Arc<RpcMetrics>,
}

impl RpcTelemetryLayer {
    pub fn new() -> Self {
        let meter = opentelemetry::global::meter("robotid");
        Self {
            metrics: Arc::new(RpcMetrics {
                requests: meter
                    .u64_counter("rpc.server.requests")
                    .with_description("RPCs answered")
                    .build(),
                errors: meter
                    .u64_counter("rpc.server.errors")
                    .with_description("RPCs answered with a status other than OK, by code")
                    .build(),
                duration: meter
                    .f64_histogram("rpc.server.duration")
                    .with_unit("s")
                    .with_description("Time to answer an RPC")
                    .with_boundaries(vec![
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        10.0,
                    ])
                    .build(),
            }),
        }
    }
}

impl Default for RpcTelemetryLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> tower::Layer<S> for RpcTelemetryLayer {
    type Service = RpcTelemetry<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RpcTelemetry {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RpcTelemetry<S> {
    inner: S,
    metrics: Arc<RpcMetrics>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B, ResBody> tower::Service<http::Request<B>> for RpcTelemetry<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let method = path.trim_start_matches('/').to_owned();
        let (service, rpc) = method.split_once('/').unwrap_or((method.as_str(), ""));
        let span = tracing::info_span!(
            "rpc",
            otel.name = %method,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %rpc,
            rpc.grpc.status_code = Empty,
            caller.role = Empty,
            caller.organization = Empty,
            robot.count = Empty,
            trace_id = Empty,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(request.headers()))
        });
        let _ = span.set_parent(parent);
        let trace_id = span.context().span().span_context().trace_id();
        if trace_id != opentelemetry::trace::TraceId::INVALID {
            span.record("trace_id", tracing::field::display(trace_id));
        }

        let started = Instant::now();
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let future = span.in_scope(|| inner.call(request));
        let metrics = self.metrics.clone();
        let recorded = span.clone();
        Box::pin(
            async move {
                let result = future.await;
                let code = match &result {
                    // Errors travel as trailers-only responses: the status is
                    // in the headers. An OK answer's status is in trailers.
                    Ok(response) => response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i32>().ok())
                        .unwrap_or(0),
                    Err(_) => tonic::Code::Internal as i32,
                };
                recorded.record("rpc.grpc.status_code", code);
                let attributes = [KeyValue::new("rpc.method", path)];
                metrics.requests.add(1, &attributes);
                metrics
                    .duration
                    .record(started.elapsed().as_secs_f64(), &attributes);
                if code != 0 {
                    let code_name = format!("{:?}", tonic::Code::from_i32(code));
                    metrics.errors.add(
                        1,
                        &[
                            attributes[0].clone(),
                            KeyValue::new("rpc.grpc.status_code", code_name),
                        ],
                    );
                }
                result
            }
            .instrument(span),
        )
    }
}

/// Client side: a tonic interceptor that puts the current span's trace
/// context on the outgoing call's metadata.
#[derive(Clone, Copy, Default)]
pub struct PropagateTraceContext;

impl tonic::service::Interceptor for PropagateTraceContext {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let context = tracing::Span::current().context();
        let mut headers = http::HeaderMap::new();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut HeaderInjector(&mut headers))
        });
        for (name, value) in &headers {
            if let Ok(value) = value.to_str()
                && let Ok(value) = value.parse()
                && let Ok(key) = tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes())
            {
                request.metadata_mut().insert(key, value);
            }
        }
        Ok(request)
    }
}

/// The channel type of a client whose calls carry the current trace
/// context, as `FooClient::with_interceptor(channel, PropagateTraceContext)`
/// makes it.
pub type TracedChannel = tonic::service::interceptor::InterceptedService<
    crate::client::RpcChannel,
    PropagateTraceContext,
>;

/// The current span's trace context as a W3C `traceparent` value, for work
/// that continues the trace later — a row a background task delivers — or
/// `None` outside any sampled trace.
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut headers = http::HeaderMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(&mut headers))
    });
    headers
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Makes `span` continue the traces stored `traceparent` values name: the
/// first becomes its parent, the others links (one delivery can carry the
/// robots of several calls). Values that do not parse are ignored.
pub fn continue_traces<'a>(span: &tracing::Span, traceparents: impl IntoIterator<Item = &'a str>) {
    let mut traceparents = traceparents.into_iter();
    let extract = |traceparent: &str| {
        let mut headers = http::HeaderMap::new();
        let value = http::HeaderValue::from_str(traceparent).ok()?;
        headers.insert("traceparent", value);
        let context = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(&headers))
        });
        let valid = context.span().span_context().is_valid();
        valid.then_some(context)
    };
    if let Some(parent) = traceparents.by_ref().find_map(extract) {
        let _ = span.set_parent(parent);
    }
    for context in traceparents.filter_map(extract) {
        span.add_link(context.span().span_context().clone());
    }
}

/// Records who is calling on the current RPC span.
pub fn record_caller(caller: &crate::identity::Caller) {
    let span = tracing::Span::current();
    span.record("caller.role", caller.role.as_str());
    span.record("caller.organization", caller.organization.as_str());
}

/// Records how many robots the current RPC is about.
pub fn record_robot_count(count: usize) {
    tracing::Span::current().record("robot.count", count);
}
