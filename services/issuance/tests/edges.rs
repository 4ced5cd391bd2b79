//! What issuance's edge checks of every call: the production time and the
//! names a caller sends, whose request id it is; and what reflection on its
//! port tells a generic client.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use robotid_proto::common::v1 as common;
use robotid_proto::issuance::v1 as pb;
use robotid_test_support::reflection::{list_services, resolve_symbol};
use robotid_test_support::tls::channel;
use robotid_test_support::{TestDb, each_backend};
use support::*;

each_backend!(
    production_times_must_be_real,
    names_are_one_line_of_visible_text,
    a_request_id_belongs_to_its_caller,
    reflection_lists_this_port_and_resolves_error_details,
);

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn made_at(seconds: i64, nanos: i32) -> Option<common::Production> {
    Some(common::Production {
        production_time: Some(prost_types::Timestamp { seconds, nanos }),
        factory: "Wuhan line 3".into(),
    })
}

async fn production_times_must_be_real(db: TestDb) {
    let registry = spawn_registry(db.same_engine().await).await;
    let home = IssuanceHome::new(db);
    let mut issuance = home.start(registry.addr, |_| {}).await;
    let model = issuance.approved_model().await;
    let now = now_seconds();
    let issue = |production| pb::IssueRobotIdsRequest {
        request_id: unique("issue"),
        product_model: model.clone(),
        count: 1,
        production,
    };
    for (seconds, nanos) in [
        (0, 0),
        (253_402_300_800, 0),
        (1 << 62, 0),
        (now, -1),
        (now, 1_000_000_000),
        (now + 86_400, 0),
    ] {
        assert_invalid(
            issuance
                .manufacturer
                .issue_robot_ids(issue(made_at(seconds, nanos)))
                .await,
            "production.production_time",
        );
    }
    let (batches, robots, _) = home.stored_counts().await;
    assert_eq!((batches, robots), (0, 0), "nothing was issued");
    let issued = issuance
        .manufacturer
        .issue_robot_ids(issue(made_at(now - 3_600, 0)))
        .await
        .expect("made an hour ago")
        .into_inner();
    assert_eq!(issued.robots.len(), 1);
}

async fn names_are_one_line_of_visible_text(db: TestDb) {
    let registry = spawn_registry(db.same_engine().await).await;
    let home = IssuanceHome::new(db);
    let mut issuance = home.start(registry.addr, |_| {}).await;
    for name in [
        "Hubei Humanoid Works \u{202E}.dtL ,.oC",
        "Hubei\u{0}Works",
        "Hubei\nWorks",
        "Hubei\u{9B}Works",
    ] {
        let mut bad = manufacturer(MANUFACTURER);
        bad.legal_name = name.into();
        assert_invalid(
            issuance.create_manufacturer(bad).await,
            "manufacturer.legal_name",
        );
    }
    let model = issuance.approved_model().await;
    let mut bad = product_model("HX0002");
    bad.display_name = "SeeLight\u{2066} S2".into();
    assert_invalid(
        issuance.create_model(MANUFACTURER, bad).await,
        "product_model.display_name",
    );
    let mut bad = product_model("HX0002");
    bad.key_components[1] = "lidar\u{200B}LX-2".into();
    assert_invalid(
        issuance.create_model(MANUFACTURER, bad).await,
        "product_model.key_components[1]",
    );
    let factory = pb::IssueRobotIdsRequest {
        request_id: unique("issue"),
        product_model: model,
        count: 1,
        production: Some(common::Production {
            production_time: None,
            factory: "Wuhan\tline 3".into(),
        }),
    };
    assert_invalid(
        issuance.manufacturer.issue_robot_ids(factory).await,
        "production.factory",
    );
}

/// Two manufacturers using the same request id each get their own call
/// done: the second is neither refused as a reused id nor answered with
/// the first's model.
async fn a_request_id_belongs_to_its_caller(db: TestDb) {
    let registry = spawn_registry(db.same_engine().await).await;
    let home = IssuanceHome::new(db);
    let mut issuance = home.start(registry.addr, |_| {}).await;
    for code in [MANUFACTURER, "0002"] {
        issuance
            .create_manufacturer(manufacturer(code))
            .await
            .unwrap();
    }
    let declare = |parent: &str| pb::CreateProductModelRequest {
        request_id: "model-request-1".into(),
        parent: format!("manufacturers/{parent}"),
        product_model: Some(product_model(MODEL)),
    };
    let first = issuance
        .as_("manufacturer")
        .await
        .create_product_model(declare(MANUFACTURER))
        .await
        .unwrap()
        .into_inner();
    let second = issuance
        .as_("manufacturer-0002")
        .await
        .create_product_model(declare("0002"))
        .await
        .expect("another manufacturer's request id does not block this one")
        .into_inner();
    assert_eq!(first.name, "manufacturers/0001/productModels/HX0001");
    assert_eq!(second.name, "manufacturers/0002/productModels/HX0001");
    // A retry is still answered from the caller's own first call.
    let again = issuance
        .as_("manufacturer")
        .await
        .create_product_model(declare(MANUFACTURER))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first);
}

async fn reflection_lists_this_port_and_resolves_error_details(db: TestDb) {
    let registry = spawn_registry(db.same_engine().await).await;
    let home = IssuanceHome::new(db);
    let issuance = home.start(registry.addr, |_| {}).await;
    let channel = channel(issuance.addr, None).await;
    assert_eq!(
        list_services(&channel).await,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "robotid.issuance.v1.IssuanceService",
        ]
    );
    for symbol in [
        "google.rpc.ErrorInfo",
        "google.rpc.BadRequest",
        "google.rpc.RetryInfo",
    ] {
        resolve_symbol(&channel, symbol)
            .await
            .unwrap_or_else(|e| panic!("{symbol}: {e}"));
    }
}
