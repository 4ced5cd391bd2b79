//! What the transfer service's edge checks of every call: the text and
//! the times a caller sends; and what reflection on its port tells a
//! generic client.

mod support;

use robotid_proto::transfer::v1 as pb;
use robotid_test_support::reflection::{list_services, resolve_symbol};
use robotid_test_support::{TestDb, assert_invalid, each_backend};
use support::*;

each_backend!(
    declarants_are_one_line_of_visible_text_and_key_validity_real_times,
    reflection_lists_this_port_and_resolves_error_details,
);

async fn declarants_are_one_line_of_visible_text_and_key_validity_real_times(db: TestDb) {
    let cn = Deployment::spawn("CN", "DE", db).await;
    let robot = robotid_domain::code::RobotId::issue(
        &"CN".parse().unwrap(),
        &"0001".parse().unwrap(),
        &"HX0001".parse().unwrap(),
        1,
    );
    let mut customs = cn.customs().await;
    for declarant in [
        "Hubei Humanoid Works\u{0}",
        "Hubei Humanoid Works\r\nExport Dept.",
        "Hubei \u{202E}skroW",
        " ",
    ] {
        let mut request = export("CN", "DE", &[&robot], false);
        request.declarant = declarant.into();
        assert_invalid(customs.request_clearance(request).await, "declarant");
    }

    let mut regulator = cn.transfer_as("regulator").await;
    let key = robotid_credential::SigningKey::from_seed(&[12; 32]);
    for (field, bad) in [
        (
            "trusted_registry.not_after",
            (days_from_now(30).seconds, -1),
        ),
        ("trusted_registry.not_after", (253_402_300_800, 0)),
        ("trusted_registry.not_before", (i64::MIN, 0)),
    ] {
        let time = prost_types::Timestamp {
            seconds: bad.0,
            nanos: bad.1,
        };
        let mut entry = trusted_key("DE", &key, days_from_now(-1), days_from_now(365));
        if field.ends_with("not_after") {
            entry.not_after = Some(time);
        } else {
            entry.not_before = Some(time);
        }
        assert_invalid(
            regulator
                .add_trusted_registry(pb::AddTrustedRegistryRequest {
                    request_id: unique("trust"),
                    trusted_registry: Some(entry),
                })
                .await,
            field,
        );
    }
}

async fn reflection_lists_this_port_and_resolves_error_details(db: TestDb) {
    let cn = Deployment::spawn("CN", "DE", db).await;
    let channel = cn.pki.channel(cn.transfer_addr, None).await;
    assert_eq!(
        list_services(&channel).await,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "robotid.transfer.v1.TransferService",
        ]
    );
    for symbol in ["google.rpc.ErrorInfo", "google.rpc.BadRequest"] {
        resolve_symbol(&channel, symbol)
            .await
            .unwrap_or_else(|e| panic!("{symbol}: {e}"));
    }
}
