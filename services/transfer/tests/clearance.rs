//! The export clearance as the one way across the border: two deployments
//! (China and Germany, each trusting the other's key) over real gRPC and
//! mutual TLS, on SQLite and (when `TEST_DATABASE_URL` is set)
//! PostgreSQL. An import needs the origin's departed clearance, a return
//! needs the foreign one, a clearance serves one import, lapses by itself
//! or is withdrawn, and customs act only as the office they are.

mod support;

use std::time::Duration;

use robotid_credential::SigningKey;
use robotid_credential::clearance::{
    Clearance, ClearedRobot, ModelNames, sign_clearance, verify_clearance,
};
use robotid_domain::code::RobotId;
use robotid_domain::lifecycle::Status;
use robotid_domain::robot::Production;
use robotid_domain::time::Timestamp;
use robotid_proto::common::v1 as common;
use robotid_proto::common::v1::{EventType, Jurisdiction, RobotStatus};
use robotid_proto::registry::v1 as registry;
use robotid_proto::transfer::v1 as pb;
use robotid_test_support::{TestDb, each_backend};
use support::*;
use tonic::Code;

each_backend!(
    a_robot_crosses_only_on_its_origins_departed_clearance,
    a_return_needs_the_foreign_clearance_and_a_clearance_serves_one_import,
    a_clearance_lapses_by_itself_and_serves_nothing_after,
    customs_act_only_as_themselves_and_withdraw_before_departure,
);

const CN_CUSTOMS: &str = "robotid://customs/CN-SHA";
const CN_OTHER_OFFICE: &str = "robotid://customs/CN-PEK";
const DE_CUSTOMS: &str = "robotid://customs/DE-SHA";
const REGULATOR: &str = "robotid://regulator/miit";

/// China and Germany, each trusting the other's key.
async fn two_countries(db: TestDb) -> (Deployment, Deployment) {
    let de_db = db.same_engine().await;
    let cn = Deployment::spawn("CN", "DE", db).await;
    let de = Deployment::spawn("DE", "CN", de_db).await;
    de.trust(cn.trusted()).await;
    cn.trust(de.trusted()).await;
    (cn, de)
}

fn organization(id: &str) -> registry::EventDetails {
    registry::EventDetails {
        holder: Some(common::Holder {
            kind: Some(common::holder::Kind::OrganizationId(id.into())),
        }),
        ..Default::default()
    }
}

fn with_credentials(robots: &[&Issued]) -> Vec<(RobotId, Vec<u8>)> {
    robots
        .iter()
        .map(|robot| (robot.id.clone(), robot.credential.clone()))
        .collect()
}

fn shipment(robots: &[(RobotId, Vec<u8>)]) -> Vec<(&RobotId, &[u8])> {
    robots
        .iter()
        .map(|(id, credential)| (id, credential.as_slice()))
        .collect()
}

fn reasons(transfer: &pb::Transfer) -> Vec<&str> {
    transfer
        .decisions
        .iter()
        .map(|d| d.reason.as_str())
        .collect()
}

async fn last_event(deployment: &Deployment, id: &RobotId) -> registry::Event {
    deployment.events(id).await.pop().expect("an event")
}

async fn robot_is_unknown(deployment: &Deployment, id: &RobotId) -> bool {
    deployment
        .registry_as("regulator")
        .await
        .get_robot(registry::GetRobotRequest {
            robot_id: id.as_str().into(),
            view: registry::RobotView::Full.into(),
        })
        .await
        .is_err_and(|status| status.code() == Code::NotFound)
}

/// Items 1 and 6, and the actors of item 5: nothing enters on its
/// credential alone; the origin clears only robots that may leave; the
/// import takes the departed clearance and registers the robot with its
/// production; every border event names the customs office.
async fn a_robot_crosses_only_on_its_origins_departed_clearance(db: TestDb) {
    let (mut cn, de) = two_countries(db).await;
    let robots = cn.issue("HX0001", 6).await;
    let [
        scrapped,
        stolen,
        recalled,
        retired,
        never_cleared,
        traveller,
    ] = std::array::from_fn(|i| robots[i].clone());
    cn.recycle(&scrapped.id).await;
    cn.record(
        "regulator",
        &stolen.id,
        EventType::ReportedStolen,
        Default::default(),
    )
    .await;
    cn.recall(&recalled.id).await;
    cn.record(
        "operator",
        &retired.id,
        EventType::Decommissioned,
        Default::default(),
    )
    .await;
    cn.record(
        "seller",
        &traveller.id,
        EventType::Sold,
        organization("DE-HRB-4711"),
    )
    .await;

    // China never clears a robot that may not leave: its clearance lists
    // the traveller alone, with its status and production.
    let asked = [
        &scrapped.id,
        &stolen.id,
        &recalled.id,
        &retired.id,
        &traveller.id,
    ];
    let cleared = cn.clear(export("CN", "DE", &asked, true)).await;
    assert_eq!(cleared.state(), pb::TransferState::PartiallyCleared);
    assert_eq!(
        reasons(&cleared),
        [
            "ROBOT_RECYCLED",
            "ROBOT_STOLEN",
            "RECALL_OPEN",
            "ROBOT_DECOMMISSIONED",
            ""
        ]
    );
    assert_eq!(cleared.requested_by, CN_CUSTOMS);
    assert_eq!(cleared.updated_by, CN_CUSTOMS);
    let document = verify_clearance(&cleared.clearance, &cn.key.verifying_key()).unwrap();
    assert_eq!(
        document.robots,
        [ClearedRobot {
            robot_id: traveller.id.clone(),
            status: Status::InService,
            production: Production {
                produced_at: Some(Timestamp::from_parts(1_764_000_000, 0)),
                factory: Some("Wuhan line 3".into()),
            },
        }]
    );
    assert_eq!(
        document.expires_at.as_micros() - document.issued_at.as_micros(),
        30 * 86_400 * 1_000_000,
        "valid 30 days by default"
    );
    assert_eq!(
        cleared.expire_time.as_ref().map(|t| t.seconds),
        Some(document.expires_at.to_parts().0)
    );

    // Germany admits nothing on its credential alone.
    let everyone = with_credentials(&[
        &scrapped,
        &stolen,
        &recalled,
        &retired,
        &never_cleared,
        &traveller,
    ]);
    let alone = de
        .clear(import("CN", "DE", &shipment(&everyone), &[], true))
        .await;
    assert_eq!(alone.state(), pb::TransferState::Refused);
    assert_eq!(reasons(&alone), ["ORIGIN_CLEARANCE_MISSING"; 6]);
    // Nor on a clearance signed before the shipment departed.
    let early = de
        .clear(import(
            "CN",
            "DE",
            &shipment(&everyone[5..]),
            &cleared.clearance,
            false,
        ))
        .await;
    assert_eq!(reasons(&early), ["ORIGIN_CLEARANCE_NOT_DEPARTED"]);
    // Nor on a clearance for a shipment to another country.
    let to_france = cn
        .clear(export("CN", "FR", &[&never_cleared.id], false))
        .await;
    let to_france = cn.depart(&to_france.name).await;
    let elsewhere = de
        .clear(import(
            "CN",
            "DE",
            &shipment(&everyone[4..5]),
            &to_france.clearance,
            false,
        ))
        .await;
    assert_eq!(reasons(&elsewhere), ["ORIGIN_CLEARANCE_SHIPMENT_MISMATCH"]);

    // Departed, the traveller crosses; the robots its clearance does not
    // list do not.
    let departed = cn.depart(&cleared.name).await;
    assert_eq!(departed.updated_by, CN_CUSTOMS);
    let entering = de
        .clear(import(
            "CN",
            "DE",
            &shipment(&everyone),
            &departed.clearance,
            true,
        ))
        .await;
    assert_eq!(entering.state(), pb::TransferState::PartiallyCleared);
    assert_eq!(
        reasons(&entering),
        [
            "NOT_IN_ORIGIN_CLEARANCE",
            "NOT_IN_ORIGIN_CLEARANCE",
            "NOT_IN_ORIGIN_CLEARANCE",
            "NOT_IN_ORIGIN_CLEARANCE",
            "NOT_IN_ORIGIN_CLEARANCE",
            ""
        ]
    );
    assert_eq!(entering.requested_by, DE_CUSTOMS);
    assert_eq!(
        entering.expire_time.as_ref().map(|t| t.seconds),
        Some(document.expires_at.to_parts().0),
        "an import lapses with the clearance it was decided on"
    );
    let arrived = de.arrive(&entering.name).await;
    assert_eq!(arrived.updated_by, DE_CUSTOMS);
    for refused in [&scrapped, &stolen, &recalled, &retired, &never_cleared] {
        assert!(robot_is_unknown(&de, &refused.id).await, "{}", refused.id);
    }

    // The card in Germany keeps the production data.
    let there = de.robot(&traveller.id).await;
    assert_eq!(there.status(), RobotStatus::InService);
    assert_eq!(there.origin_country, "CN");
    let production = there.production.expect("production");
    assert_eq!(production.factory, "Wuhan line 3");
    assert_eq!(
        production.production_time.map(|t| t.seconds),
        Some(1_764_000_000)
    );
    let card = registry::registry_service_client::RegistryServiceClient::new(
        de.pki.channel(de.registry_addr, None).await,
    )
    .get_robot(registry::GetRobotRequest {
        robot_id: traveller.id.as_str().into(),
        view: registry::RobotView::Public.into(),
    })
    .await
    .unwrap()
    .into_inner();
    assert_eq!(
        card.production.unwrap().production_time.map(|t| t.seconds),
        Some(1_764_000_000),
        "the public card shows the production date"
    );

    // Each border event names the customs office it was recorded for;
    // the access log keeps the service that called.
    let actors: Vec<(EventType, String)> = cn
        .events(&traveller.id)
        .await
        .into_iter()
        .filter(|e| matches!(e.r#type(), EventType::ExportCleared | EventType::Exported))
        .map(|e| (e.r#type(), e.actor))
        .collect();
    assert_eq!(
        actors,
        [
            (EventType::ExportCleared, CN_CUSTOMS.to_owned()),
            (EventType::Exported, CN_CUSTOMS.to_owned())
        ]
    );
    let imported = de.events(&traveller.id).await.remove(0);
    assert_eq!(imported.r#type(), EventType::Imported);
    assert_eq!(imported.actor, DE_CUSTOMS);
    let log = de
        .registry_as("regulator")
        .await
        .list_access_log(registry::ListAccessLogRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert!(
        log.iter()
            .any(|entry| entry.caller == "robotid://service/transfer"
                && entry.action == format!("RegisterRobots(1) for {DE_CUSTOMS}")),
        "{log:#?}"
    );

    // Every trust-list change names the regulator who made it.
    let listed = de
        .customs()
        .await
        .list_trusted_registries(pb::ListTrustedRegistriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .trusted_registries;
    assert!(listed.iter().all(|key| key.added_by == REGULATOR));
    let french = de
        .trust(trusted_key(
            "FR",
            &SigningKey::from_seed(&[61; 32]),
            days_from_now(-1),
            days_from_now(30),
        ))
        .await;
    assert_eq!(
        (french.added_by.as_str(), french.revoked_by.as_str()),
        (REGULATOR, "")
    );
    let revoked = de.revoke(&french.name).await;
    assert_eq!(revoked.revoked_by, REGULATOR);

    de.stop().await;
    cn.stop().await;
}

/// Items 2 and 3: a robot comes home only on the foreign registry's
/// clearance (so a theft abroad stops it), a clearance is used up by one
/// import (also by two racing), and the importer refuses a robot it holds
/// at home already.
async fn a_return_needs_the_foreign_clearance_and_a_clearance_serves_one_import(db: TestDb) {
    let (mut cn, de) = two_countries(db).await;
    let robots = cn.issue("HX0001", 4).await;
    let [away, stolen, settled, racer] = std::array::from_fn(|i| robots[i].clone());
    let out = cn
        .clear(export(
            "CN",
            "DE",
            &[&away.id, &stolen.id, &settled.id],
            false,
        ))
        .await;
    let out = cn.depart(&out.name).await;
    let arrivals = with_credentials(&[&away, &stolen, &settled]);
    let into = de
        .clear(import(
            "CN",
            "DE",
            &shipment(&arrivals),
            &out.clearance,
            false,
        ))
        .await;
    assert_eq!(into.state(), pb::TransferState::Cleared, "{into:?}");
    de.arrive(&into.name).await;

    // The clearance is used up: a second import on it is refused.
    let again = de
        .clear(import(
            "CN",
            "DE",
            &shipment(&arrivals[..1]),
            &out.clearance,
            false,
        ))
        .await;
    assert_eq!(reasons(&again), ["ORIGIN_CLEARANCE_USED"]);

    // Reported stolen in Germany: German customs do not clear it, and
    // China does not take it back without their clearance, nor on the one
    // it signed itself.
    de.record(
        "regulator",
        &stolen.id,
        EventType::ReportedStolen,
        Default::default(),
    )
    .await;
    let leaving = de.clear(export("DE", "CN", &[&stolen.id], false)).await;
    assert_eq!(reasons(&leaving), ["ROBOT_STOLEN"]);
    assert!(leaving.clearance.is_empty());
    let without = cn
        .clear(import("DE", "CN", &shipment(&arrivals[1..2]), &[], false))
        .await;
    assert_eq!(reasons(&without), ["ORIGIN_CLEARANCE_MISSING"]);
    let own = cn
        .clear(import(
            "DE",
            "CN",
            &shipment(&arrivals[1..2]),
            &out.clearance,
            false,
        ))
        .await;
    assert_eq!(reasons(&own), ["ORIGIN_CLEARANCE_UNKNOWN_KEY"]);
    assert_eq!(
        cn.robot(&stolen.id).await.jurisdiction(),
        Jurisdiction::Abroad,
        "it stays abroad, where it is reported stolen"
    );

    // With Germany's departed clearance, the other robot comes home.
    let back = de.clear(export("DE", "CN", &[&away.id], false)).await;
    let back = de.depart(&back.name).await;
    let home = cn
        .clear(import(
            "DE",
            "CN",
            &shipment(&arrivals[..1]),
            &back.clearance,
            false,
        ))
        .await;
    assert_eq!(home.state(), pb::TransferState::Cleared, "{home:?}");
    cn.arrive(&home.name).await;
    assert_eq!(
        cn.robot(&away.id).await.jurisdiction(),
        Jurisdiction::Domestic
    );
    assert_eq!(
        de.robot(&away.id).await.jurisdiction(),
        Jurisdiction::Abroad
    );
    let returned = last_event(&cn, &away.id).await;
    assert_eq!(
        (returned.r#type(), returned.actor.as_str()),
        (EventType::Imported, CN_CUSTOMS)
    );

    // One robot, one home: Germany refuses a robot it holds at home, on
    // whatever clearance a trusted registry signed for it.
    let french = SigningKey::from_seed(&[62; 32]);
    de.trust(trusted_key(
        "FR",
        &french,
        days_from_now(-1),
        days_from_now(30),
    ))
    .await;
    let now = Timestamp::now();
    let claims = Clearance::new(
        "transfers/00000000000000f1".into(),
        "FR".parse().unwrap(),
        "DE".parse().unwrap(),
        vec![ClearedRobot {
            robot_id: settled.id.clone(),
            status: Status::InMarket,
            production: Production::default(),
        }],
        vec![ModelNames {
            country: settled.id.country(),
            manufacturer: settled.id.manufacturer(),
            model: settled.id.model(),
            manufacturer_name: MANUFACTURER_NAME.into(),
            model_name: model_display_name("HX0001"),
        }],
        Timestamp::from_micros(now.as_micros() - 60_000_000),
        Timestamp::from_micros(now.as_micros() + 86_400_000_000),
        french.kid(),
    )
    .departed(now);
    let from_france = sign_clearance(&french, &claims).unwrap();
    let twice = de
        .clear(import(
            "FR",
            "DE",
            &shipment(&arrivals[2..]),
            &from_france,
            false,
        ))
        .await;
    assert_eq!(reasons(&twice), ["ROBOT_NOT_ABROAD"]);

    // Two imports racing on one clearance: one clears, the other is
    // refused, and the robot arrives once.
    let race = cn.clear(export("CN", "DE", &[&racer.id], false)).await;
    let race = cn.depart(&race.name).await;
    let racing = with_credentials(&[&racer]);
    let (first, second) = tokio::join!(
        de.clear(import(
            "CN",
            "DE",
            &shipment(&racing),
            &race.clearance,
            false
        )),
        de.clear(import(
            "CN",
            "DE",
            &shipment(&racing),
            &race.clearance,
            false
        )),
    );
    let (won, lost) = if first.state() == pb::TransferState::Cleared {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!(won.state(), pb::TransferState::Cleared, "{won:?}");
    assert_eq!(lost.state(), pb::TransferState::Refused, "{lost:?}");
    assert_eq!(reasons(&lost), ["ORIGIN_CLEARANCE_USED"]);
    de.arrive(&won.name).await;
    let kinds: Vec<EventType> = de
        .events(&racer.id)
        .await
        .iter()
        .map(|e| e.r#type())
        .collect();
    assert_eq!(kinds, [EventType::Imported]);

    de.stop().await;
    cn.stop().await;
}

/// Item 4, expiry: a clearance lapses without anyone asking (a sweep in
/// each instance, two of them here on one database), puts its robots back
/// home once, and serves neither a departure nor an import after.
async fn a_clearance_lapses_by_itself_and_serves_nothing_after(db: TestDb) {
    let de_db = db.same_engine().await;
    let mut cn = Deployment::spawn_with("CN", "DE", db, |config| {
        // Long enough to depart one in on a loaded machine, short enough
        // to wait for.
        config.clearance_validity = Duration::from_secs(5);
        config.clearance_sweep_interval = Duration::from_millis(100);
    })
    .await;
    let de = Deployment::spawn("DE", "CN", de_db).await;
    de.trust(cn.trusted()).await;
    let robots = cn.issue("HX0001", 7).await;
    let (idle, quick, lost, others) = (&robots[0], &robots[1], &robots[2], &robots[3..]);
    let (mut twin, _) = cn.another_transfer().await;

    // A withdrawal whose answer was lost after the registry cancelled the
    // clearance: the transfer here still says CLEARED, the robot is home
    // and cleared again by another transfer. When the first lapses, the
    // sweep cancels nothing of the second's.
    let first = cn.clear(export("CN", "DE", &[&lost.id], false)).await;
    let first_id = robotid_domain::transfer::TransferId::parse_name(&first.name).unwrap();
    cn.registry_as("transfer")
        .await
        .record_events(registry::RecordEventsRequest {
            request_id: first_id.registry_request_id("cancelled"),
            events: vec![registry::RecordEventRequest {
                request_id: String::new(),
                robot_id: lost.id.as_str().into(),
                r#type: EventType::ExportClearanceCancelled.into(),
                details: Some(registry::EventDetails {
                    country_code: "DE".into(),
                    reference: first.name.clone(),
                    note: "export clearance withdrawn before departure".into(),
                    ..Default::default()
                }),
                occur_time: None,
            }],
            on_behalf_of: CN_CUSTOMS.into(),
        })
        .await
        .expect("the lost withdrawal's registry step");
    let second = cn.clear(export("CN", "DE", &[&lost.id], false)).await;
    assert_eq!(second.state(), pb::TransferState::Cleared, "{second:?}");

    let waiting = cn.clear(export("CN", "DE", &[&idle.id], false)).await;
    let validity = waiting.expire_time.as_ref().unwrap().seconds
        - waiting.create_time.as_ref().unwrap().seconds;
    assert!(
        (4..=5).contains(&validity),
        "{validity} s, cut to whole seconds"
    );
    let quick_out = cn.clear(export("CN", "DE", &[&quick.id], false)).await;
    let quick_out = cn.depart(&quick_out.name).await;
    let mut sweeping = Vec::new();
    for robot in others {
        sweeping.push(cn.clear(export("CN", "DE", &[&robot.id], false)).await);
    }

    // Nobody asks: the clearance lapses and the robot is home again.
    let expired = eventually("the clearance expired", || async {
        let transfer = cn.transfer(&waiting.name).await;
        (transfer.state() == pb::TransferState::Expired).then_some(transfer)
    })
    .await;
    assert_eq!(expired.updated_by, robotid_transfer::SERVICE_IDENTITY);
    assert_eq!(
        cn.robot(&idle.id).await.jurisdiction(),
        Jurisdiction::Domestic
    );
    let cancelled = last_event(&cn, &idle.id).await;
    assert_eq!(cancelled.r#type(), EventType::ExportClearanceCancelled);
    assert_eq!(cancelled.actor, robotid_transfer::SERVICE_IDENTITY);
    let details = cancelled.details.unwrap();
    assert_eq!(
        (details.country_code.as_str(), details.reference.as_str()),
        ("DE", waiting.name.as_str())
    );
    let mut customs = cn.customs().await;
    assert_refused(
        customs
            .confirm_departure(pb::ConfirmDepartureRequest {
                request_id: unique("departure"),
                name: waiting.name.clone(),
            })
            .await,
        Code::FailedPrecondition,
        "CLEARANCE_EXPIRED",
    );
    assert_refused(
        customs
            .withdraw_clearance(pb::WithdrawClearanceRequest {
                request_id: unique("withdrawal"),
                name: waiting.name.clone(),
            })
            .await,
        Code::FailedPrecondition,
        "CLEARANCE_EXPIRED",
    );
    let again = cn.clear(export("CN", "DE", &[&idle.id], false)).await;
    assert_eq!(
        again.state(),
        pb::TransferState::Cleared,
        "free to go again"
    );

    // A departed clearance, once lapsed, imports nowhere; the departure
    // stands.
    let lapses = Timestamp::from_parts(quick_out.expire_time.as_ref().unwrap().seconds, 0);
    eventually("the departed clearance lapsed", || async {
        (Timestamp::now() >= lapses).then_some(())
    })
    .await;
    let late = de
        .clear(import(
            "CN",
            "DE",
            &[(&quick.id, &quick.credential)],
            &quick_out.clearance,
            false,
        ))
        .await;
    assert_eq!(reasons(&late), ["ORIGIN_CLEARANCE_EXPIRED"]);
    assert_eq!(
        cn.transfer(&quick_out.name).await.state(),
        pb::TransferState::Departed
    );
    assert_eq!(
        cn.robot(&quick.id).await.jurisdiction(),
        Jurisdiction::Abroad
    );

    eventually("the first clearance of the robot expired", || async {
        (cn.transfer(&first.name).await.state() == pb::TransferState::Expired).then_some(())
    })
    .await;
    let cancelled_transfers: Vec<String> = cn
        .events(&lost.id)
        .await
        .into_iter()
        .filter(|e| e.r#type() == EventType::ExportClearanceCancelled)
        .map(|e| e.details.unwrap().reference)
        .collect();
    assert_eq!(
        cancelled_transfers
            .iter()
            .filter(|r| **r == first.name)
            .count(),
        1,
        "the first clearance is cancelled once: {cancelled_transfers:?}"
    );
    assert!(
        cancelled_transfers
            .iter()
            .all(|r| *r == first.name || *r == second.name),
        "{cancelled_transfers:?}"
    );

    // Two instances sweep side by side: each clearance is cancelled once.
    for transfer in &sweeping {
        eventually("every clearance expired", || async {
            (cn.transfer(&transfer.name).await.state() == pb::TransferState::Expired).then_some(())
        })
        .await;
    }
    for robot in others {
        let cancellations = cn
            .events(&robot.id)
            .await
            .iter()
            .filter(|e| e.r#type() == EventType::ExportClearanceCancelled)
            .count();
        assert_eq!(cancellations, 1, "{}", robot.id);
        assert_eq!(
            cn.robot(&robot.id).await.jurisdiction(),
            Jurisdiction::Domestic
        );
    }

    twin.stop().await;
    de.stop().await;
    cn.stop().await;
}

/// Items 4 (withdrawal) and 5: a customs certificate files only as its own
/// office and country; the office that filed (or the regulator) withdraws
/// before departure; any office of the country confirms the departure;
/// each is recorded as the actor.
async fn customs_act_only_as_themselves_and_withdraw_before_departure(db: TestDb) {
    let (mut cn, de) = two_countries(db).await;
    let robots = cn.issue("HX0001", 3).await;
    let [r0, r1, r2] = std::array::from_fn(|i| robots[i].id.clone());
    let mut customs = cn.customs().await;
    let mut pek = cn.transfer_as(CUSTOMS_OTHER_OFFICE).await;
    let mut abroad = cn.transfer_as(CUSTOMS_ABROAD).await;
    let mut regulator = cn.transfer_as("regulator").await;
    let as_office = |office: &str, robot: &RobotId| pb::RequestClearanceRequest {
        customs_office: office.into(),
        ..export("CN", "DE", &[robot], false)
    };

    // Filing as another office, or at another country's border, is
    // refused and records nothing.
    for (mut client, office) in [
        (customs.clone(), "CN-PEK"),
        (customs.clone(), "DE-SHA"),
        (abroad.clone(), "DE-HAM"),
    ] {
        assert_refused(
            client.request_clearance(as_office(office, &r0)).await,
            Code::PermissionDenied,
            "OUT_OF_SCOPE",
        );
    }
    assert!(cn.all_transfers(Default::default()).await.is_empty());
    assert_eq!(cn.robot(&r0).await.jurisdiction(), Jurisdiction::Domestic);

    // An office files as itself; no office named is the caller's own.
    let by_pek = pek
        .request_clearance(as_office("CN-PEK", &r0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (by_pek.customs_office.as_str(), by_pek.requested_by.as_str()),
        ("CN-PEK", CN_OTHER_OFFICE)
    );
    assert_eq!(last_event(&cn, &r0).await.actor, CN_OTHER_OFFICE);
    let unnamed = customs
        .request_clearance(as_office("", &r1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            unnamed.customs_office.as_str(),
            unnamed.requested_by.as_str()
        ),
        ("CN-SHA", CN_CUSTOMS)
    );

    // Only the office that filed withdraws it (or the regulator).
    let withdraw = |name: &str, request_id: &str| pb::WithdrawClearanceRequest {
        request_id: request_id.into(),
        name: name.into(),
    };
    for client in [&mut customs, &mut abroad] {
        assert_refused(
            client
                .withdraw_clearance(withdraw(&by_pek.name, &unique("withdrawal")))
                .await,
            Code::PermissionDenied,
            "OUT_OF_SCOPE",
        );
    }
    let request_id = unique("withdrawal");
    let withdrawn = pek
        .withdraw_clearance(withdraw(&by_pek.name, &request_id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(withdrawn.state(), pb::TransferState::Withdrawn);
    assert_eq!(withdrawn.updated_by, CN_OTHER_OFFICE);
    let retried = pek
        .withdraw_clearance(withdraw(&by_pek.name, &request_id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried, withdrawn);
    assert_eq!(cn.robot(&r0).await.jurisdiction(), Jurisdiction::Domestic);
    let cancelled = last_event(&cn, &r0).await;
    assert_eq!(cancelled.r#type(), EventType::ExportClearanceCancelled);
    assert_eq!(cancelled.actor, CN_OTHER_OFFICE);
    let cancellations = cn
        .events(&r0)
        .await
        .iter()
        .filter(|e| e.r#type() == EventType::ExportClearanceCancelled)
        .count();
    assert_eq!(cancellations, 1, "a retried withdrawal cancels once");

    // Withdrawn, it serves neither a departure nor an import.
    assert_refused(
        pek.confirm_departure(pb::ConfirmDepartureRequest {
            request_id: unique("departure"),
            name: by_pek.name.clone(),
        })
        .await,
        Code::FailedPrecondition,
        "CLEARANCE_WITHDRAWN",
    );
    assert_refused(
        pek.withdraw_clearance(withdraw(&by_pek.name, &unique("withdrawal")))
            .await,
        Code::FailedPrecondition,
        "CLEARANCE_WITHDRAWN",
    );
    let credential = &robots[0].credential;
    let smuggled = de
        .clear(import(
            "CN",
            "DE",
            &[(&r0, credential)],
            &withdrawn.clearance,
            false,
        ))
        .await;
    assert_eq!(reasons(&smuggled), ["ORIGIN_CLEARANCE_NOT_DEPARTED"]);
    assert!(robot_is_unknown(&de, &r0).await);
    let again = cn.clear(export("CN", "DE", &[&r0], false)).await;
    assert_eq!(
        again.state(),
        pb::TransferState::Cleared,
        "free to go again"
    );

    // The regulator withdraws any clearance of its country.
    let by_regulator = regulator
        .withdraw_clearance(withdraw(&unnamed.name, &unique("withdrawal")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_regulator.updated_by, REGULATOR);
    assert_eq!(last_event(&cn, &r1).await.actor, REGULATOR);

    // Any office of the country confirms the departure (the office of
    // exit), and is recorded doing so; departed, nothing is withdrawn.
    let exit = cn.clear(export("CN", "DE", &[&r2], false)).await;
    let departed = pek
        .confirm_departure(pb::ConfirmDepartureRequest {
            request_id: unique("departure"),
            name: exit.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (departed.requested_by.as_str(), departed.updated_by.as_str()),
        (CN_CUSTOMS, CN_OTHER_OFFICE)
    );
    let exported = last_event(&cn, &r2).await;
    assert_eq!(
        (exported.r#type(), exported.actor.as_str()),
        (EventType::Exported, CN_OTHER_OFFICE)
    );
    assert_refused(
        customs
            .withdraw_clearance(withdraw(&exit.name, &unique("withdrawal")))
            .await,
        Code::FailedPrecondition,
        "ALREADY_DEPARTED",
    );
    assert_refused(
        abroad
            .confirm_departure(pb::ConfirmDepartureRequest {
                request_id: unique("departure"),
                name: exit.name.clone(),
            })
            .await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    // An import is not withdrawn; it arrives.
    let entering = de
        .clear(import(
            "CN",
            "DE",
            &[(&r2, &robots[2].credential)],
            &departed.clearance,
            false,
        ))
        .await;
    assert_eq!(entering.state(), pb::TransferState::Cleared, "{entering:?}");
    assert_refused(
        de.customs()
            .await
            .withdraw_clearance(withdraw(&entering.name, &unique("withdrawal")))
            .await,
        Code::FailedPrecondition,
        "WRONG_DIRECTION",
    );

    de.stop().await;
    cn.stop().await;
}
