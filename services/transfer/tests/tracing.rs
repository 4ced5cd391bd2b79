//! One trace across services: an export clearance in the transfer service
//! and the registry calls it makes for it share the trace id the customs
//! system sent, through W3C trace context on the gRPC metadata.

mod support;

use robotid_proto::transfer::v1 as pb;
use robotid_test_support::TestDb;
use robotid_test_support::spans::{capture_spans, names_in_trace, spans_until, traced};
use support::*;

// One test: the subscriber and the exporters are global to the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_clearance_and_its_registry_calls_are_one_trace() {
    let (telemetry, exporter) = capture_spans("robotid-transfer");
    let mut cn = Deployment::spawn("CN", "DE", TestDb::sqlite()).await;
    let robots = cn.issue("HX0001", 3).await;
    let ids: Vec<_> = robots.iter().map(|robot| &robot.id).collect();

    let (request, trace) = traced(export("CN", "DE", &ids, false));
    let cleared = cn
        .customs()
        .await
        .request_clearance(request)
        .await
        .expect("cleared")
        .into_inner();
    assert_eq!(cleared.state(), pb::TransferState::Cleared);

    // Server spans end once the answer is sent, a moment after the
    // caller has it: wait for all three.
    let clearance_rpc = "robotid.transfer.v1.TransferService/RequestClearance";
    let eligibility = "robotid.registry.v1.RegistryService/CheckEligibility";
    let border_events = "robotid.registry.v1.RegistryService/RecordEvents";
    let spans = spans_until(&telemetry, &exporter, |spans| {
        let names = names_in_trace(spans, trace);
        [clearance_rpc, eligibility, border_events]
            .iter()
            .all(|wanted| names.iter().any(|n| n == wanted))
    });
    // The registry's spans are children of the customs call's span: the
    // context travelled on the gRPC metadata.
    let clearance = spans
        .iter()
        .find(|s| s.span_context.trace_id() == trace && s.name == clearance_rpc)
        .unwrap();
    for registry_rpc in [eligibility, border_events] {
        let span = spans
            .iter()
            .find(|s| s.span_context.trace_id() == trace && s.name == registry_rpc)
            .unwrap();
        assert_eq!(
            span.parent_span_id,
            clearance.span_context.span_id(),
            "{registry_rpc} is a child of the clearance"
        );
    }
    cn.stop().await;
    telemetry.shutdown();
}
