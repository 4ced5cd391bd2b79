//! Two complete deployments side by side — China and Germany, each with its
//! own registry, transfer service, CA and signing key, each trusting the
//! other's key — and robots crossing between them, over real gRPC and
//! mutual TLS, on SQLite and (when `TEST_DATABASE_URL` is set) PostgreSQL.

mod support;

use std::time::Instant;

use robotid_credential::SigningKey;
use robotid_credential::clearance::verify_clearance;
use robotid_proto::common::v1::{EventType, Jurisdiction, RobotStatus};
use robotid_proto::registry::v1 as registry;
use robotid_proto::transfer::v1 as pb;
use robotid_test_support::{TestDb, each_backend};
use support::*;
use tonic::Code;

each_backend!(a_robot_crosses_two_registries_and_every_refusal_has_its_reason);

async fn a_robot_crosses_two_registries_and_every_refusal_has_its_reason(db: TestDb) {
    let backend = db.backend;
    let de_db = db.same_engine().await;
    let mut cn = Deployment::spawn("CN", "DE", db).await;
    let mut de = Deployment::spawn("DE", "CN", de_db).await;
    de.trust(cn.trusted()).await;
    cn.trust(de.trusted()).await;

    // Issued in China, in market, one of them sold.
    let robots = cn.issue("HX0001", 7).await;
    let [traveller, recalled, stolen, recycled, sold, stays, retired] =
        std::array::from_fn(|i| robots[i].clone());
    cn.record(
        "seller",
        &sold.id,
        EventType::Sold,
        registry::EventDetails {
            holder: Some(robotid_proto::common::v1::Holder {
                kind: Some(robotid_proto::common::v1::holder::Kind::OrganizationId(
                    "DE-HRB-4711".into(),
                )),
            }),
            ..Default::default()
        },
    )
    .await;

    // ── Export clearance at the Chinese border ──────────────────────────
    let cleared = cn
        .clear(export("CN", "DE", &[&traveller.id, &sold.id], false))
        .await;
    assert_eq!(cleared.state(), pb::TransferState::Cleared);
    assert_eq!(
        decisions(&cleared),
        [
            (traveller.id.as_str().to_owned(), true, String::new()),
            (sold.id.as_str().to_owned(), true, String::new()),
        ]
    );
    // The destination checks the clearance offline, with China's key.
    let document = verify_clearance(&cleared.clearance, &cn.key.verifying_key())
        .expect("the clearance verifies under China's key");
    assert_eq!(document.transfer, cleared.name);
    assert_eq!(document.destination.as_str(), "DE");
    assert_eq!(document.robots.len(), 2);
    assert_eq!(
        document.robots_by_id()[&sold.id].status,
        robotid_domain::lifecycle::Status::InService
    );
    let robot = cn.robot(&traveller.id).await;
    assert_eq!(robot.jurisdiction(), Jurisdiction::ExportCleared);
    let last = cn.events(&traveller.id).await.pop().unwrap();
    assert_eq!(last.r#type(), EventType::ExportCleared);
    let details = last.details.unwrap();
    assert_eq!(
        (details.country_code.as_str(), details.reference.as_str()),
        ("DE", cleared.name.as_str())
    );

    // German customs cannot act at the Chinese border.
    assert_refused(
        cn.transfer_as(CUSTOMS_ABROAD)
            .await
            .request_clearance(export("CN", "DE", &[&stays.id], false))
            .await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );

    // Departure: EXPORTED, abroad; the clearance is signed again with the
    // departure, and that is the one the destination imports on.
    let departed = cn.depart(&cleared.name).await;
    assert_eq!(departed.state(), pb::TransferState::Departed);
    let stamped = verify_clearance(&departed.clearance, &cn.key.verifying_key())
        .expect("the departed clearance verifies under China's key");
    assert!(stamped.departed_at.is_some());
    assert_eq!(
        (stamped.robots, stamped.expires_at),
        (document.robots.clone(), document.expires_at)
    );
    assert_eq!(
        cn.robot(&traveller.id).await.jurisdiction(),
        Jurisdiction::Abroad
    );
    assert_eq!(
        cn.events(&traveller.id).await.pop().unwrap().r#type(),
        EventType::Exported
    );

    // ── Import at the German border, with mutual recognition ────────────
    let imported = de
        .clear(import(
            "CN",
            "DE",
            &[
                (&traveller.id, &traveller.credential),
                (&sold.id, &sold.credential),
            ],
            &departed.clearance,
            false,
        ))
        .await;
    assert_eq!(imported.state(), pb::TransferState::Cleared, "{imported:?}");
    assert!(imported.clearance.is_empty());
    let arrived = de.arrive(&imported.name).await;
    assert_eq!(arrived.state(), pb::TransferState::Arrived);
    // In Germany's registry now: imported, with its origin, under the
    // names China's clearance stated, in the status it left in.
    let there = de.robot(&traveller.id).await;
    assert_eq!(there.origin_country, "CN");
    assert_eq!(there.jurisdiction(), Jurisdiction::Domestic);
    assert_eq!(there.status(), RobotStatus::InMarket);
    assert_eq!(there.manufacturer_name, MANUFACTURER_NAME);
    assert_eq!(there.model_name, model_display_name("HX0001"));
    assert_eq!(de.robot(&sold.id).await.status(), RobotStatus::InService);
    let history = de.events(&traveller.id).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].r#type(), EventType::Imported);
    let details = history[0].details.as_ref().unwrap();
    assert_eq!(
        (details.country_code.as_str(), details.reference.as_str()),
        ("CN", imported.name.as_str())
    );
    // Anyone scanning the code in Germany sees its card.
    let card = registry::registry_service_client::RegistryServiceClient::new(
        de.pki.channel(de.registry_addr, None).await,
    )
    .get_robot(registry::GetRobotRequest {
        robot_id: traveller.id.as_str().into(),
        view: registry::RobotView::Public.into(),
    })
    .await
    .expect("public card")
    .into_inner();
    assert_eq!(card.country_code, "CN");
    assert_eq!(card.status(), RobotStatus::InMarket);

    // ── And back: exported from Germany, re-imported to China ───────────
    let back = de.clear(export("DE", "CN", &[&traveller.id], false)).await;
    assert_eq!(back.state(), pb::TransferState::Cleared);
    let back = de.depart(&back.name).await;
    assert_eq!(
        de.robot(&traveller.id).await.jurisdiction(),
        Jurisdiction::Abroad
    );
    let home = cn
        .clear(import(
            "DE",
            "CN",
            &[(&traveller.id, &traveller.credential)],
            &back.clearance,
            false,
        ))
        .await;
    assert_eq!(home.state(), pb::TransferState::Cleared, "{home:?}");
    cn.arrive(&home.name).await;
    let robot = cn.robot(&traveller.id).await;
    assert_eq!(robot.jurisdiction(), Jurisdiction::Domestic);
    assert!(robot.origin_country.is_empty(), "issued here, not imported");
    let last = cn.events(&traveller.id).await.pop().unwrap();
    assert_eq!(last.r#type(), EventType::Imported);
    assert_eq!(last.details.unwrap().country_code, "DE");

    // Trust goes both ways: a robot issued in Germany enters China.
    let german = de.issue("HX0001", 1).await.remove(0);
    assert_eq!(german.id.country().as_str(), "DE");
    let leaving = de.clear(export("DE", "CN", &[&german.id], false)).await;
    let leaving = de.depart(&leaving.name).await;
    let entering = cn
        .clear(import(
            "DE",
            "CN",
            &[(&german.id, &german.credential)],
            &leaving.clearance,
            false,
        ))
        .await;
    assert_eq!(entering.state(), pb::TransferState::Cleared, "{entering:?}");
    cn.arrive(&entering.name).await;
    assert_eq!(cn.robot(&german.id).await.origin_country, "DE");

    // ── Export refusals, each with its own reason ───────────────────────
    cn.recall(&recalled.id).await;
    cn.report_stolen(&stolen.id).await;
    cn.recycle(&recycled.id).await;
    cn.record(
        "operator",
        &retired.id,
        EventType::Decommissioned,
        Default::default(),
    )
    .await;
    let unknown = robotid_domain::code::RobotId::issue(
        &"CN".parse().unwrap(),
        &"0001".parse().unwrap(),
        &"HX0001".parse().unwrap(),
        999_999,
    );
    let shipment = [
        &stays.id,
        &recalled.id,
        &stolen.id,
        &recycled.id,
        &retired.id,
        &unknown,
    ];
    let refused = cn.clear(export("CN", "DE", &shipment, false)).await;
    assert_eq!(refused.state(), pb::TransferState::Refused);
    let reasons: Vec<&str> = shipment.iter().map(|id| reason_of(&refused, id)).collect();
    assert_eq!(
        reasons,
        [
            "SHIPMENT_REFUSED",
            "RECALL_OPEN",
            "ROBOT_STOLEN",
            "ROBOT_RECYCLED",
            "ROBOT_DECOMMISSIONED",
            "ROBOT_NOT_FOUND"
        ]
    );
    assert!(refused.clearance.is_empty());
    assert_eq!(
        cn.robot(&stays.id).await.jurisdiction(),
        Jurisdiction::Domestic,
        "a refused shipment records nothing"
    );
    // Partial clearance only when asked for: the eligible robot alone.
    let partial = cn.clear(export("CN", "DE", &shipment, true)).await;
    assert_eq!(partial.state(), pb::TransferState::PartiallyCleared);
    assert_eq!(reason_of(&partial, &stays.id), "");
    assert_eq!(reason_of(&partial, &recalled.id), "RECALL_OPEN");
    let document = verify_clearance(&partial.clearance, &cn.key.verifying_key()).unwrap();
    assert_eq!(document.robots.len(), 1);
    assert_eq!(document.robots[0].robot_id, stays.id);
    assert_eq!(
        cn.robot(&stays.id).await.jurisdiction(),
        Jurisdiction::ExportCleared
    );
    for id in [&recalled.id, &stolen.id, &recycled.id, &retired.id] {
        assert!(
            cn.events(id)
                .await
                .iter()
                .all(|e| e.r#type() != EventType::ExportCleared),
            "{id} was not cleared"
        );
    }

    // ── Import refusals at the German border, each with its own reason ──
    let more = cn.issue("HX0001", 10).await;
    let forged = {
        // A genuine credential, its robot id swapped for the one it is
        // presented for: the signature no longer matches what it signs.
        let mut bytes = more[0].credential.clone();
        let from = more[0].id.as_str().as_bytes();
        let to = more[2].id.as_str().as_bytes();
        let at = bytes
            .windows(from.len())
            .position(|w| w == from)
            .expect("the code is in the credential");
        bytes[at..at + to.len()].copy_from_slice(to);
        bytes
    };
    let stranger = SigningKey::from_seed(&[31; 32]);
    let revoked_key = SigningKey::from_seed(&[32; 32]);
    let expired_key = SigningKey::from_seed(&[33; 32]);
    let french_key = SigningKey::from_seed(&[34; 32]);
    let revoked_entry = de
        .trust(trusted_key(
            "CN",
            &revoked_key,
            days_from_now(-10),
            days_from_now(10),
        ))
        .await;
    de.revoke(&revoked_entry.name).await;
    de.trust(trusted_key(
        "CN",
        &expired_key,
        days_from_now(-30),
        days_from_now(-1),
    ))
    .await;
    de.trust(trusted_key(
        "FR",
        &french_key,
        days_from_now(-1),
        days_from_now(10),
    ))
    .await;
    let sign = |key: &SigningKey, id: &robotid_domain::code::RobotId| {
        robotid_credential::sign_id_credential(key, id, robotid_domain::time::Timestamp::now())
    };
    let american = robotid_domain::code::RobotId::issue(
        &"US".parse().unwrap(),
        &"0001".parse().unwrap(),
        &"HX0001".parse().unwrap(),
        1,
    );
    let cases: Vec<(&robotid_domain::code::RobotId, Vec<u8>, &str)> = vec![
        (&more[1].id, more[1].credential.clone(), ""),
        (&more[2].id, forged.clone(), "CREDENTIAL_INVALID"),
        (&more[3].id, sign(&stranger, &more[3].id), "UNKNOWN_KEY"),
        (&more[4].id, sign(&revoked_key, &more[4].id), "KEY_REVOKED"),
        (&more[5].id, sign(&expired_key, &more[5].id), "KEY_EXPIRED"),
        (
            &more[6].id,
            sign(&french_key, &more[6].id),
            "COUNTRY_MISMATCH",
        ),
        (
            &more[7].id,
            more[8].credential.clone(),
            "CREDENTIAL_MISMATCH",
        ),
        (&more[9].id, Vec::new(), "CREDENTIAL_MISSING"),
        (&american, sign(&stranger, &american), "UNTRUSTED_COUNTRY"),
    ];
    let shipment: Vec<(&robotid_domain::code::RobotId, &[u8])> = cases
        .iter()
        .map(|(id, credential, _)| (*id, credential.as_slice()))
        .collect();
    // China cleared and sent its robots (not the American one): each
    // refusal is the credential's.
    let sent: Vec<&robotid_domain::code::RobotId> = more[1..=9].iter().map(|r| &r.id).collect();
    let sent = cn.clear(export("CN", "DE", &sent, false)).await;
    let sent = cn.depart(&sent.name).await;
    let checked = de
        .clear(import("CN", "DE", &shipment, &sent.clearance, true))
        .await;
    assert_eq!(checked.state(), pb::TransferState::PartiallyCleared);
    let reasons: Vec<(&str, &str)> = cases
        .iter()
        .map(|(id, _, _)| (id.as_str(), reason_of(&checked, id)))
        .collect();
    let expected: Vec<(&str, &str)> = cases
        .iter()
        .map(|(id, _, reason)| (id.as_str(), *reason))
        .collect();
    assert_eq!(reasons, expected);
    // The origin's clearance must list every robot.
    let other_shipment = cn.depart(&partial.name).await;
    let unlisted = de
        .clear(import(
            "CN",
            "DE",
            &[(&more[1].id, &more[1].credential)],
            &other_shipment.clearance,
            false,
        ))
        .await;
    assert_eq!(reason_of(&unlisted, &more[1].id), "NOT_IN_ORIGIN_CLEARANCE");
    let mut tampered = other_shipment.clearance.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let bad_clearance = de
        .clear(import(
            "CN",
            "DE",
            &[(&more[1].id, &more[1].credential)],
            &tampered,
            false,
        ))
        .await;
    assert_eq!(
        reason_of(&bad_clearance, &more[1].id),
        "ORIGIN_CLEARANCE_INVALID"
    );

    // ── A shipment of 1,000 robots, in a bounded number of registry calls
    let bulk = cn.issue("HX0002", 1_000).await;
    let ids: Vec<&robotid_domain::code::RobotId> = bulk.iter().map(|r| &r.id).collect();
    let calls_before = cn.registry_calls_by_transfer().await;
    let started = Instant::now();
    let big = cn.clear(export("CN", "DE", &ids, false)).await;
    let took = started.elapsed();
    let calls = cn.registry_calls_by_transfer().await - calls_before;
    assert_eq!(big.state(), pb::TransferState::Cleared);
    assert_eq!(big.decisions.len(), 1_000);
    assert!(calls <= 3, "{calls} registry calls for 1,000 robots");
    println!(
        "measured ({:?}): export clearance of 1,000 robots: {calls} registry calls, {} ms, clearance {} bytes",
        backend,
        took.as_millis(),
        big.clearance.len()
    );
    let big = cn.depart(&big.name).await;
    let de_calls_before = de.registry_calls_by_transfer().await;
    let started = Instant::now();
    let shipment: Vec<(&robotid_domain::code::RobotId, &[u8])> = bulk
        .iter()
        .map(|r| (&r.id, r.credential.as_slice()))
        .collect();
    let big_import = de
        .clear(import("CN", "DE", &shipment, &big.clearance, false))
        .await;
    let import_took = started.elapsed();
    assert_eq!(big_import.state(), pb::TransferState::Cleared);
    let started = Instant::now();
    de.arrive(&big_import.name).await;
    let arrival_took = started.elapsed();
    let calls = de.registry_calls_by_transfer().await - de_calls_before;
    assert!(calls <= 3, "{calls} registry calls to import 1,000 robots");
    println!(
        "measured ({backend:?}): import of 1,000 robots: {calls} registry calls, clearance {} ms \
         (1,000 credentials and the origin clearance verified), arrival {} ms",
        import_took.as_millis(),
        arrival_took.as_millis()
    );
    assert_eq!(de.robot(ids[999]).await.origin_country, "CN");

    de.stop().await;
    cn.stop().await;
}
