//! Spans exported in-process: the OpenTelemetry SDK's in-memory exporter
//! behind the services' own telemetry set-up, and a bounded wait for the
//! spans a test expects.

use std::time::{Duration, Instant};

use opentelemetry::trace::TraceId;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use robotid_platform::telemetry::{self, LogFormat, LogSettings, Telemetry};
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// The process's telemetry, exporting spans to memory. Once per test
/// binary: the subscriber and the exporters are global.
pub fn capture_spans(service: &'static str) -> (Telemetry, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let telemetry = telemetry::init_with(
        LogSettings {
            service,
            format: LogFormat::Json,
            filter: Some("info".into()),
            // Logs are not what these tests read.
            writer: Some(BoxMakeWriter::new(std::io::sink)),
        },
        Some(exporter.clone()),
    )
    .expect("telemetry starts");
    (telemetry, exporter)
}

/// Waits (bounded) until the exported spans satisfy `found`, and returns
/// them all.
pub fn spans_until(
    telemetry: &Telemetry,
    exporter: &InMemorySpanExporter,
    found: impl Fn(&[SpanData]) -> bool,
) -> Vec<SpanData> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        telemetry.flush();
        let spans = exporter.get_finished_spans().expect("spans readable");
        if found(&spans) {
            return spans;
        }
        assert!(
            Instant::now() < deadline,
            "the expected spans were not exported: {:#?}",
            spans
                .iter()
                .map(|s| (&s.name, s.span_context.trace_id()))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The names of the spans of one trace.
pub fn names_in_trace(spans: &[SpanData], trace: TraceId) -> Vec<String> {
    spans
        .iter()
        .filter(|span| span.span_context.trace_id() == trace)
        .map(|span| span.name.to_string())
        .collect()
}

/// A request carrying a fresh W3C trace context; its trace id.
pub fn traced<T>(message: T) -> (tonic::Request<T>, TraceId) {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("random");
    let trace = TraceId::from_bytes(bytes);
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace}-00f067aa0ba902b7-01")
            .parse()
            .expect("a traceparent is ASCII"),
    );
    (request, trace)
}
