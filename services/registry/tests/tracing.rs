//! A caller's W3C trace context becomes the parent of the registry's span
//! for the call, so one trace follows a request into the registry. (The
//! cross-service traces are tested where transfer and issuance call it.)

use std::time::{Duration, Instant};

use opentelemetry::trace::TraceId;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use robotid_platform::telemetry::{self, LogFormat};
use robotid_proto::registry::v1 as pb;
use robotid_test_support::TestDb;

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rpc_span_continues_the_callers_trace_and_names_the_caller() {
    let exporter = InMemorySpanExporter::default();
    let telemetry =
        telemetry::init_with("robotid-registry", LogFormat::Text, Some(exporter.clone())).unwrap();
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
    let deadline = Instant::now() + Duration::from_secs(10);
    let span = loop {
        telemetry.flush();
        let spans = exporter.get_finished_spans().unwrap();
        if let Some(span) = spans
            .into_iter()
            .find(|s| s.span_context.trace_id() == wanted)
        {
            break span;
        }
        assert!(
            Instant::now() < deadline,
            "no span of the caller's trace was exported"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
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
    registry.stop().await;
}
