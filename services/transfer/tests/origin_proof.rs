//! An import clears only on the origin's own log: its proof bundle that the
//! robot's newest event is this export, under a checkpoint that the
//! importer's own witness cosigned. Two deployments over real gRPC, HTTP
//! and mutual TLS, on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL.

mod support;

use robotid_proto::registry::v1 as registry;
use robotid_proto::transfer::v1 as pb;
use robotid_test_support::{TestDb, each_backend};
use support::*;
use tonic::Code;

each_backend!(
    an_import_needs_a_proof_its_own_witness_cosigned,
    a_trust_entry_takes_its_log_whole_and_well_formed,
);

async fn an_import_needs_a_proof_its_own_witness_cosigned(db: TestDb) {
    let de_db = db.same_engine().await;
    let mut cn = Deployment::spawn("CN", "DE", db).await;
    // Germany waits briefly for a proof: the refusal below is the point.
    let de = Deployment::spawn_with("DE", "CN", de_db, |config| {
        config.origin_proof_wait_ms = 600;
    })
    .await;
    // Germany trusts China's log; China does not know Germany yet, so it
    // never sends its checkpoints to Germany's witness.
    de.trust(cn.trusted()).await;
    let de_peers = eventually("Germany's registry witnesses China's log", || async {
        let peers = de
            .registry_as("regulator")
            .await
            .list_peers(registry::ListPeersRequest {})
            .await
            .unwrap()
            .into_inner()
            .peers;
        (!peers.is_empty()).then_some(peers)
    })
    .await;
    assert_eq!(
        (
            de_peers[0].country_code.as_str(),
            de_peers[0].log_key.as_str(),
            de_peers[0].active
        ),
        ("CN", cn.log_key.as_str(), true)
    );

    let robots = cn.issue("HX0001", 2).await;
    let departed = cn.ship("DE", &robots).await;
    let shipment = shipment(&robots);

    // China's proof exists, but under checkpoints no German witness saw.
    let refused = de
        .clear(import("CN", "DE", &shipment, &departed.clearance, false))
        .await;
    assert_eq!(refused.state(), pb::TransferState::Refused, "{refused:?}");
    for robot in &robots {
        assert_eq!(reason_of(&refused, &robot.id), "ORIGIN_PROOF_NOT_WITNESSED");
    }

    // China trusts Germany: its checkpoints reach Germany's witness, and
    // the same shipment clears on the proof.
    cn.trust(de.trusted()).await;
    let imported = eventually("the import clears on a witnessed proof", || async {
        let transfer = de
            .clear(import("CN", "DE", &shipment, &departed.clearance, false))
            .await;
        (transfer.state() == pb::TransferState::Cleared).then_some(transfer)
    })
    .await;
    assert!(decisions(&imported).iter().all(|(_, cleared, _)| *cleared));
    de.arrive(&imported.name).await;
    let there = de.robot(&robots[0].id).await;
    assert_eq!(there.origin_country, "CN");
}

async fn a_trust_entry_takes_its_log_whole_and_well_formed(db: TestDb) {
    let de_db = db.same_engine().await;
    let cn = Deployment::spawn("CN", "DE", db).await;
    let de = Deployment::spawn("DE", "CN", de_db).await;
    let good = cn.trusted();
    let cases = [
        (
            "witness_key",
            pb::TrustedRegistry {
                witness_key: String::new(),
                ..good.clone()
            },
        ),
        (
            "log_key",
            pb::TrustedRegistry {
                log_origin: "elsewhere.test/log".into(),
                import_policy: format!("log {}\nquorum none\n", cn.log_key),
                ..good.clone()
            },
        ),
        (
            "witness_key",
            pb::TrustedRegistry {
                witness_key: cn.log_key.clone(),
                ..good.clone()
            },
        ),
        (
            "import_policy",
            pb::TrustedRegistry {
                import_policy: format!("log {}\nquorum none\n", de.log_key),
                ..good.clone()
            },
        ),
        (
            "web_url",
            pb::TrustedRegistry {
                web_url: "ftp://registry.test".into(),
                ..good.clone()
            },
        ),
    ];
    for (field, entry) in cases {
        let answer = de
            .transfer_as("regulator")
            .await
            .add_trusted_registry(pb::AddTrustedRegistryRequest {
                request_id: unique("trust"),
                trusted_registry: Some(entry),
            })
            .await;
        let status = answer.expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(status.message().contains(field), "{field}: {status:?}");
    }
    // Nothing was added: the whole entry goes in once it is right.
    let added = de.trust(good.clone()).await;
    assert_eq!(
        (added.log_origin, added.web_url, added.import_policy),
        (good.log_origin, good.web_url, good.import_policy)
    );
}
