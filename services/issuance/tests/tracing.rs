//! One trace across services: an issuance batch and its delivery to the
//! registry by the outbox relay — later, in a background task — share the
//! trace id the manufacturer's system sent.

mod support;

use robotid_proto::issuance::v1 as pb;
use robotid_test_support::TestDb;
use robotid_test_support::spans::{capture_spans, names_in_trace, spans_until, traced};
use support::*;

// One test: the subscriber and the exporters are global to the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuance_batch_and_its_delivery_are_one_trace() {
    let (telemetry, exporter) = capture_spans("robotid-issuance");
    let registry = spawn_registry(TestDb::sqlite()).await;
    let home = IssuanceHome::new(TestDb::sqlite());
    let mut issuance = home.start(registry.addr, |_| {}).await;
    let model = issuance.approved_model().await;

    let (request, trace) = traced(pb::IssueRobotIdsRequest {
        request_id: unique("traced"),
        product_model: model,
        count: 25,
        production: production(),
    });
    let issued = issuance
        .manufacturer
        .issue_robot_ids(request)
        .await
        .expect("issued")
        .into_inner();
    assert_eq!(issued.robots.len(), 25);

    // Server spans end once the answer is sent, a moment after the caller
    // has it: wait for every span of the trace.
    let delivery = "robotid.registry.v1.RegistryService/RegisterRobots";
    let expected = [
        "robotid.issuance.v1.IssuanceService/IssueRobotIds",
        "deliver to the registry",
        delivery,
    ];
    spans_until(&telemetry, &exporter, |spans| {
        let names = names_in_trace(spans, trace);
        expected
            .iter()
            .all(|wanted| names.iter().any(|n| n == wanted))
    });
    issuance.stop().await;
    registry.stop().await;
    telemetry.shutdown();
}
