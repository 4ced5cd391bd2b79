//! Logs, traces and metrics, initialised once per process.
//!
//! - Logs: readable text by default, JSON on request; inside a call they
//!   carry the call's span fields, its trace id among them.
//! - Traces: every RPC is a span (see [`crate::rpc_telemetry`]); W3C trace
//!   context crosses services on the gRPC metadata. Exported over OTLP when
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) is set; the other
//!   standard `OTEL_*` variables apply. Off otherwise.
//! - Metrics: OpenTelemetry instruments, exported over OTLP when an endpoint
//!   is set, and always readable in Prometheus text format ([`Telemetry::prometheus_text`],
//!   served by [`serve_metrics`]).

use std::net::SocketAddr;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Flushes and shuts the exporters down when dropped (or at [`Telemetry::shutdown`]).
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meters: SdkMeterProvider,
    prometheus: prometheus::Registry,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot build the OTLP exporter")]
    Otlp(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("cannot build the Prometheus exporter")]
    Prometheus(#[from] opentelemetry_sdk::error::OTelSdkError),
}

fn otlp_configured(signal: &str) -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        &format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"),
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// Logs, and traces and metrics exported as the `OTEL_*` variables say.
/// Call once, inside the Tokio runtime; keep the guard until exit.
pub fn init(service: &'static str, format: LogFormat) -> Result<Telemetry, TelemetryError> {
    let spans = if otlp_configured("TRACES") {
        Some(
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()?,
        )
    } else {
        None
    };
    init_with(
        LogSettings {
            service,
            format,
            ..LogSettings::default()
        },
        spans,
    )
}

/// Where and how logs go.
#[derive(Default)]
pub struct LogSettings {
    pub service: &'static str,
    pub format: LogFormat,
    /// An `EnvFilter` directive; `RUST_LOG` (or `info`) when `None`.
    pub filter: Option<String>,
    /// Standard output when `None`; tests capture logs here.
    pub writer: Option<tracing_subscriber::fmt::writer::BoxMakeWriter>,
}

/// As [`init`], with spans going to `spans` (tests pass the SDK's in-memory
/// exporter) and logs as `logs` says.
pub fn init_with(
    logs: LogSettings,
    spans: Option<impl SpanExporter + 'static>,
) -> Result<Telemetry, TelemetryError> {
    let LogSettings {
        service,
        format,
        filter,
        writer,
    } = logs;
    let resource = Resource::builder().with_service_name(service).build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let tracer = spans.map(|exporter| {
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.clone())
            .build()
    });
    if let Some(tracer) = &tracer {
        opentelemetry::global::set_tracer_provider(tracer.clone());
    }

    let prometheus = prometheus::Registry::new();
    let mut meters = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(
            opentelemetry_prometheus::exporter()
                .with_registry(prometheus.clone())
                .build()?,
        );
    if otlp_configured("METRICS") {
        meters = meters.with_periodic_exporter(
            opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .build()?,
        );
    }
    let meters = meters.build();
    opentelemetry::global::set_meter_provider(meters.clone());

    // The exporters' own HTTP/2 and gRPC spans would trace themselves.
    const QUIET: &str = "h2=warn,hyper=warn,tonic=warn,tower=warn,opentelemetry=warn";
    let filter = match filter {
        Some(directive) => EnvFilter::new(format!("{directive},{QUIET}")),
        None => EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET}"))),
    };
    let writer = writer
        .unwrap_or_else(|| tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stdout));
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(true)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_writer(writer);
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    let otel = tracer
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("robotid")));
    // A second call (several services in one process) keeps the first
    // subscriber; the providers above are replaced, which is what tests want.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init();

    Ok(Telemetry {
        tracer,
        meters,
        prometheus,
    })
}

impl Telemetry {
    /// Every metric, in the Prometheus text format.
    pub fn prometheus_text(&self) -> String {
        let mut text = String::new();
        let encoder = prometheus::TextEncoder::new();
        if let Err(error) = encoder.encode_utf8(&self.prometheus.gather(), &mut text) {
            tracing::warn!(%error, "cannot encode metrics");
        }
        text
    }

    /// Exports the spans buffered so far.
    pub fn flush(&self) {
        if let Some(tracer) = &self.tracer
            && let Err(error) = tracer.force_flush()
        {
            tracing::warn!(%error, "flushing spans failed");
        }
    }

    /// Exports what is buffered and stops the exporters.
    pub fn shutdown(&self) {
        if let Some(tracer) = &self.tracer {
            if let Err(error) = tracer.force_flush() {
                tracing::warn!(%error, "flushing spans failed");
            }
            let _ = tracer.shutdown();
        }
        let _ = self.meters.shutdown();
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Serves `GET /metrics` in the Prometheus text format on `addr`, for
/// clusters that scrape.
pub async fn serve_metrics(
    addr: SocketAddr,
    telemetry: std::sync::Arc<Telemetry>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let telemetry = telemetry.clone();
            async move { telemetry.prometheus_text() }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving Prometheus metrics at /metrics");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
