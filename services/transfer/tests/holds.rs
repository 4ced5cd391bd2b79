//! Holds that cross borders: while a robot is abroad, a theft report or a
//! recall made in either registry reaches the other, over gRPC with mutual
//! TLS between the registries, each hold proven by its sender's log; the
//! flag's home decides who lifts it; a peer that is down gets its holds
//! when it returns. Two deployments with their own CAs, on SQLite and
//! (with `TEST_DATABASE_URL`) PostgreSQL.

mod support;

use robotid_domain::code::RobotId;
use robotid_proto::common::v1::EventType;
use robotid_proto::registry::v1 as registry;
use robotid_proto::transfer::v1 as pb;
use robotid_test_support::{TestDb, each_backend};
use support::*;
use tonic::Code;

each_backend!(
    theft_reports_and_recalls_cross_the_border_both_ways,
    a_hold_waits_for_a_peer_that_is_down,
    only_a_peer_delivers_and_only_with_its_log_s_proof,
    a_code_active_where_it_cannot_be_raises_the_clone_alarm,
);

/// China and Germany, each trusting the other's log and registry, each
/// having issued the other's registry its certificate; and `count` Chinese
/// robots imported into Germany.
async fn robots_in_germany(db: TestDb, count: i32) -> (Deployment, Deployment, Vec<RobotId>) {
    let de_db = db.same_engine().await;
    let mut cn = Deployment::spawn("CN", "DE", db).await;
    let de = Deployment::spawn("DE", "CN", de_db).await;
    cn.admit_registry_of(&de);
    de.admit_registry_of(&cn);
    cn.trust(de.trusted()).await;
    de.trust(cn.trusted()).await;

    let robots = cn.issue("HX0001", count).await;
    let departed = cn.ship("DE", &robots).await;
    let shipment = shipment(&robots);
    let imported = eventually("the import clears on a witnessed proof", || async {
        let transfer = de
            .clear(import("CN", "DE", &shipment, &departed.clearance, false))
            .await;
        (transfer.state() == pb::TransferState::Cleared).then_some(transfer)
    })
    .await;
    de.arrive(&imported.name).await;
    (cn, de, robots.into_iter().map(|robot| robot.id).collect())
}

/// The robot's full record once `until` holds of it.
async fn once(
    deployment: &Deployment,
    id: &RobotId,
    what: &str,
    until: impl Fn(&registry::Robot) -> bool,
) -> registry::Robot {
    eventually(what, || async {
        let robot = deployment.robot(id).await;
        until(&robot).then_some(robot)
    })
    .await
}

async fn theft_reports_and_recalls_cross_the_border_both_ways(db: TestDb) {
    let (cn, de, robots) = robots_in_germany(db, 2).await;
    let (stolen, recalled) = (&robots[0], &robots[1]);

    // A theft reported to the German police reaches China, whose card of
    // the robot abroad shows it, as Germany's flag.
    de.report_stolen(stolen).await;
    let at_home = once(&cn, stolen, "China shows Germany's theft report", |robot| {
        robot.stolen
    })
    .await;
    assert_eq!(
        at_home.jurisdiction(),
        robotid_proto::common::v1::Jurisdiction::Abroad
    );
    let flagged = cn.events(stolen).await;
    let flag = flagged.last().unwrap();
    assert_eq!(
        (flag.r#type(), flag.actor.as_str()),
        (EventType::ReportedStolen, "robotid://registry/DE")
    );
    // The public card says so to anyone.
    let card = cn
        .registry_as("seller")
        .await
        .get_robot(registry::GetRobotRequest {
            robot_id: stolen.as_str().into(),
            view: registry::RobotView::Public.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(card.stolen);

    // Lifting follows the flag's home: China's police did not flag it
    // and cannot lift it; Germany's police, who did, lift it in Germany,
    // and China follows.
    let refused = cn
        .registry_as("police")
        .await
        .record_event(event(stolen, EventType::Recovered, Default::default()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    de.record("police", stolen, EventType::Recovered, Default::default())
        .await;
    once(&cn, stolen, "China lifts the flag with Germany", |robot| {
        !robot.stolen
    })
    .await;

    // A recall of the model in China reaches its robots in Germany: the
    // German registry opens a recall of its own that names China's, with
    // its reason, and the robot may not be sold there until remedied.
    let recall = cn
        .registry_as("manufacturer")
        .await
        .create_recall(registry::CreateRecallRequest {
            request_id: unique("recall"),
            manufacturer_code: recalled.manufacturer().as_str().into(),
            model_code: recalled.model().as_str().into(),
            robot_ids: Vec::new(),
            reason: "hip joint may seize".into(),
            country_code: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(recall.affected_robot_count, 2, "{recall:?}");
    for id in &robots {
        let there = once(&de, id, "Germany holds China's recall", |robot| {
            robot.recalled
        })
        .await;
        assert_eq!(there.open_recalls.len(), 1, "{there:?}");
        assert_eq!(there.open_recalls[0].reason, "hip joint may seize");
    }
    let german_recall = de.robot(recalled).await.open_recalls[0].name.clone();
    let sale = de
        .registry_as("seller")
        .await
        .record_event(event(
            recalled,
            EventType::Sold,
            registry::EventDetails {
                holder: Some(robotid_proto::common::v1::Holder {
                    kind: Some(robotid_proto::common::v1::holder::Kind::OrganizationId(
                        "OP0001".into(),
                    )),
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(sale.code(), Code::FailedPrecondition, "{sale:?}");

    // A German workshop remedies it: China's recall closes for that robot.
    de.record(
        "service-provider",
        recalled,
        EventType::RecallRemedied,
        registry::EventDetails {
            recall: german_recall,
            ..Default::default()
        },
    )
    .await;
    once(
        &cn,
        recalled,
        "China sees the remedy made in Germany",
        |robot| !robot.recalled,
    )
    .await;
    assert!(
        cn.robot(&robots[0]).await.recalled,
        "the other robot still is"
    );

    // Each hold arrived once: a second look finds no duplicate.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let kinds: Vec<EventType> = de
        .events(recalled)
        .await
        .iter()
        .map(|e| e.r#type())
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|kind| **kind == EventType::RecallIssued)
            .count(),
        1,
        "{kinds:?}"
    );
    cn.stop().await;
    de.stop().await;
}

async fn a_hold_waits_for_a_peer_that_is_down(db: TestDb) {
    let (mut cn, de, robots) = robots_in_germany(db, 1).await;
    let id = &robots[0];
    cn.stop_registry().await;
    de.report_stolen(id).await;
    // Germany's outbox keeps it while China's registry is down …
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    cn.restart_registry().await;
    // … and delivers it when it is back.
    let robot = once(&cn, id, "the hold reaches China once it is back", |robot| {
        robot.stolen
    })
    .await;
    assert!(robot.stolen);
    cn.stop().await;
    de.stop().await;
}

async fn only_a_peer_delivers_and_only_with_its_log_s_proof(db: TestDb) {
    let (cn, de, robots) = robots_in_germany(db, 1).await;
    let id = &robots[0];
    de.report_stolen(id).await;
    once(&cn, id, "the theft report reaches China", |robot| {
        robot.stolen
    })
    .await;
    let events = de.events(id).await;
    let report = events.last().unwrap();

    // Germany's registry identity may deliver holds and nothing else.
    let mut as_germany = cn.registry_as(PEER_REGISTRY).await;
    let full = as_germany
        .get_robot(registry::GetRobotRequest {
            robot_id: id.as_str().into(),
            view: registry::RobotView::Full.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(full.code(), Code::PermissionDenied, "{full:?}");
    let record = as_germany
        .record_event(event(id, EventType::Recovered, Default::default()))
        .await
        .unwrap_err();
    assert_eq!(record.code(), Code::PermissionDenied, "{record:?}");

    // A hold whose proof is not Germany's log's is refused: here, a
    // recovery that Germany never recorded, carrying the proof of the
    // theft report.
    let proof = de
        .registry_as("regulator")
        .await
        .get_proof_bundle(registry::GetProofBundleRequest {
            robot_id: id.as_str().into(),
        })
        .await
        .unwrap()
        .into_inner()
        .bundle;
    let forged = registry::DeliverHoldRequest {
        hold_id: unique("forged"),
        robot_id: id.as_str().into(),
        r#type: EventType::Recovered.into(),
        details: Some(Default::default()),
        occur_time: report.occur_time,
        actor: "robotid://police/DE-POL".into(),
        salt: vec![0; 16],
        proof,
        origin_recall: String::new(),
    };
    let refused = as_germany.deliver_hold(forged.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("not proven"), "{refused:?}");
    assert!(cn.robot(id).await.stolen, "nothing was lifted");

    // Any other caller is refused before the proof is looked at.
    for identity in ["regulator", "police", "registry"] {
        let refused = cn
            .registry_as(identity)
            .await
            .deliver_hold(forged.clone())
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            Code::PermissionDenied,
            "{identity}: {refused:?}"
        );
    }

    // Once China revokes Germany's trust entry, Germany is no peer.
    let entry = cn
        .transfer_as("regulator")
        .await
        .list_trusted_registries(pb::ListTrustedRegistriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .trusted_registries
        .into_iter()
        .find(|entry| entry.country_code == "DE")
        .unwrap();
    cn.revoke(&entry.name).await;
    let refused = eventually("China no longer takes Germany's holds", || {
        let mut as_germany = as_germany.clone();
        let forged = forged.clone();
        async move {
            let status = as_germany.deliver_hold(forged).await.unwrap_err();
            (status.code() == Code::PermissionDenied).then_some(status)
        }
    })
    .await;
    assert!(
        refused
            .message()
            .contains("not the registry of an active peer")
    );
    cn.stop().await;
    de.stop().await;
}

/// The clone alarms of a registry, as its regulator lists them, once
/// `count` are there.
async fn alarms(deployment: &Deployment, count: usize) -> Vec<registry::CloneAlarm> {
    eventually("the clone alarms", || async {
        let alarms = deployment
            .registry_as("regulator")
            .await
            .list_clone_alarms(registry::ListCloneAlarmsRequest {})
            .await
            .unwrap()
            .into_inner()
            .alarms;
        (alarms.len() >= count).then_some(alarms)
    })
    .await
}

async fn a_code_active_where_it_cannot_be_raises_the_clone_alarm(db: TestDb) {
    let (mut cn, de, robots) = robots_in_germany(db, 1).await;
    let scrapped = &robots[0];

    // Recycled in Germany; then reported stolen in China, its origin: the
    // code is active after RECYCLED. Germany refuses the hold and raises
    // the alarm; China, told why, raises it too.
    de.recycle(scrapped).await;
    cn.report_stolen(scrapped).await;
    let in_germany = alarms(&de, 1).await;
    let in_china = alarms(&cn, 1).await;
    for (alarm, peer) in [(&in_germany[0], "CN"), (&in_china[0], "DE")] {
        assert_eq!(
            (
                alarm.robot_id.as_str(),
                alarm.peer_country.as_str(),
                alarm.raised_by.as_str()
            ),
            (scrapped.as_str(), peer, "DE"),
            "{alarm:?}"
        );
        assert!(alarm.reason.contains("recycled"), "{alarm:?}");
    }
    assert_eq!(
        de.robot(scrapped).await.status(),
        robotid_proto::common::v1::RobotStatus::Recycled
    );
    assert!(
        !de.robot(scrapped).await.stolen,
        "nothing of the hold was recorded"
    );

    // A Chinese robot that never left China, registered in Germany anyway
    // (as a registry that skipped the border's checks would): Germany's
    // theft report shows it domestic in two registries.
    let at_home = cn.issue("HX0001", 1).await.remove(0).id;
    let chinese = cn.robot(&at_home).await;
    de.registry_as("transfer")
        .await
        .register_robots(registry::RegisterRobotsRequest {
            request_id: unique("smuggled"),
            robots: vec![registry::RobotRegistration {
                robot_id: at_home.as_str().into(),
                manufacturer_name: chinese.manufacturer_name.clone(),
                model_name: chinese.model_name.clone(),
                production: chinese.production.clone(),
                import_origin: Some(registry::ImportOrigin {
                    country_code: "CN".into(),
                    status: robotid_proto::common::v1::RobotStatus::InMarket.into(),
                    transfer: "transfers/999".into(),
                }),
                ..Default::default()
            }],
            on_behalf_of: format!("robotid://customs/{}", office("DE")),
        })
        .await
        .unwrap();
    de.report_stolen(&at_home).await;
    let in_china = alarms(&cn, 2).await;
    let twice = in_china
        .iter()
        .find(|alarm| alarm.robot_id == at_home.as_str())
        .unwrap();
    assert_eq!(
        (twice.raised_by.as_str(), twice.peer_country.as_str()),
        ("CN", "DE")
    );
    assert!(twice.reason.contains("never exported"), "{twice:?}");
    assert!(
        alarms(&de, 2)
            .await
            .iter()
            .any(|alarm| alarm.robot_id == at_home.as_str())
    );
    assert!(!cn.robot(&at_home).await.stolen);
    cn.stop().await;
    de.stop().await;
}
