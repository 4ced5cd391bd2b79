//! Telemetry seen from outside: a caller's W3C trace context becomes the
//! parent of the registry's span for the call (one trace follows a request
//! into the registry; the cross-service traces are tested where transfer
//! and issuance call it), and no private holder reference reaches a log
//! line or a span.

use std::io::Write;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::TraceId;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use robotid_platform::telemetry::{self, LogFormat, LogSettings};
use robotid_proto::common::v1::EventType;
use robotid_proto::registry::v1 as pb;
use robotid_test_support::TestDb;
use robotid_test_support::spans::spans_until;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

mod support;

/// Everything logged, kept for inspection.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// One test: the subscriber and the exporters are global to the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_continue_the_callers_trace_and_neither_spans_nor_logs_hold_private_references() {
    let exporter = InMemorySpanExporter::default();
    let logs = Captured::default();
    let writer = logs.clone();
    let telemetry = telemetry::init_with(
        LogSettings {
            service: "robotid-registry",
            format: LogFormat::Json,
            // As talkative as it gets: nothing private may show even so.
            filter: Some("trace".into()),
            writer: Some(BoxMakeWriter::new(move || writer.clone())),
        },
        Some(exporter.clone()),
    )
    .unwrap();
    let mut registry = support::spawn_registry(TestDb::sqlite()).await;
    let id = support::robot(1);
    registry.register(std::slice::from_ref(&id)).await;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = tonic::Request::new(pb::GetRobotRequest {
        robot_id: id.as_str().into(),
        view: pb::RobotView::Full.into(),
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    registry
        .as_("regulator")
        .await
        .get_robot(request)
        .await
        .unwrap();

    let wanted = TraceId::from_hex(trace_id).unwrap();
    let spans = spans_until(&telemetry, &exporter, |spans| {
        spans.iter().any(|s| s.span_context.trace_id() == wanted)
    });
    let span = spans
        .iter()
        .find(|s| s.span_context.trace_id() == wanted)
        .unwrap();
    assert_eq!(span.name, "robotid.registry.v1.RegistryService/GetRobot");
    let attribute = |key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attribute("caller.role").as_deref(), Some("regulator"));
    assert_eq!(attribute("caller.organization").as_deref(), Some("miit"));
    assert_eq!(attribute("rpc.grpc.status_code").as_deref(), Some("0"));

    // Sales to private holders, logged at trace level and traced.
    let references: Vec<String> = (0..3)
        .map(|i| format!("PRIVATE-PERSON-{i}-c0ffee"))
        .collect();
    for (i, reference) in references.iter().enumerate() {
        let id = support::robot(10 + i as u64);
        registry.register(std::slice::from_ref(&id)).await;
        registry
            .record(&id, EventType::ReleasedToMarket, Default::default())
            .await
            .unwrap();
        registry
            .record(
                &id,
                EventType::Sold,
                pb::EventDetails {
                    holder: support::private(reference),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let spans = spans_until(&telemetry, &exporter, |spans| {
        spans
            .iter()
            .filter(|s| s.name.ends_with("/RecordEvent"))
            .count()
            >= 6
    });
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        logged.contains(trace_id),
        "log lines of a call carry its trace id"
    );
    let exported = format!("{spans:?}");
    for reference in &references {
        assert!(
            !logged.contains(reference.as_str()),
            "{reference} in the logs"
        );
        assert!(
            !exported.contains(reference.as_str()),
            "{reference} in a span"
        );
    }
    registry.stop().await;
}
