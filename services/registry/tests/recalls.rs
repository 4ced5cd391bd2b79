//! Recalls over real gRPC, on SQLite and PostgreSQL: several open on one
//! robot at once, each remedied by name; opened only by CreateRecall, each
//! robot once, past-life robots skipped and counted; listed and read within
//! the caller's scope.

mod support;

use robotid_domain::code::RobotId;
use robotid_proto::common::v1::EventType;
use robotid_proto::registry::v1 as pb;
use robotid_test_support::{TestDb, each_backend};
use support::*;
use tonic::Code;

each_backend!(
    several_recalls_stay_open_until_the_last_is_remedied,
    recall_issued_is_recorded_by_create_recall_only,
    a_recall_lists_each_robot_once_and_counts_what_it_skipped,
    recalls_are_listed_and_read_within_scope,
);

fn sale() -> pb::EventDetails {
    pb::EventDetails {
        holder: organization("ACME"),
        ..Default::default()
    }
}

async fn several_recalls_stay_open_until_the_last_is_remedied(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let (id, other) = (robot(1), robot(2));
    registry.register(&[id.clone(), other.clone()]).await;
    registry.release(std::slice::from_ref(&id)).await;
    let brakes = registry
        .recall(std::slice::from_ref(&id), "brakes may fail")
        .await;
    let battery = registry
        .as_("regulator")
        .await
        .create_recall(recall_request(
            std::slice::from_ref(&id),
            "battery may overheat",
        ))
        .await
        .unwrap()
        .into_inner();
    let elsewhere = registry
        .recall(std::slice::from_ref(&other), "another robot's recall")
        .await;

    // The card shows both, oldest first, with their reasons; old clients
    // see the oldest.
    let card = registry
        .get(id.as_str(), pb::RobotView::Public)
        .await
        .unwrap();
    assert!(card.recalled);
    assert_eq!(card.open_recall, brakes.name);
    let open: Vec<(&str, &str)> = card
        .open_recalls
        .iter()
        .map(|r| (r.name.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        open,
        [
            (brakes.name.as_str(), "brakes may fail"),
            (battery.name.as_str(), "battery may overheat")
        ]
    );
    assert!(card.open_recalls.iter().all(|r| r.create_time.is_some()));

    // A remedy names an open recall of this robot.
    for name in ["recalls/999999", elsewhere.name.as_str()] {
        assert_refused(
            registry
                .record(&id, EventType::RecallRemedied, remedy(name))
                .await,
            Code::FailedPrecondition,
            "RECALL_NOT_OPEN",
        );
    }
    assert_refused(
        registry
            .record(&id, EventType::RecallRemedied, Default::default())
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );

    // One remedied, the other still holds the robot.
    registry
        .record(&id, EventType::RecallRemedied, remedy(&brakes.name))
        .await
        .unwrap();
    let card = registry
        .get(id.as_str(), pb::RobotView::Public)
        .await
        .unwrap();
    assert!(card.recalled);
    assert_eq!(card.open_recall, battery.name);
    assert_eq!(card.open_recalls.len(), 1);
    assert_refused(
        registry.record(&id, EventType::Sold, sale()).await,
        Code::FailedPrecondition,
        "RECALL_OPEN",
    );
    assert_refused(
        registry
            .record(&id, EventType::RecallRemedied, remedy(&brakes.name))
            .await,
        Code::FailedPrecondition,
        "RECALL_NOT_OPEN",
    );

    // The last remedy lifts the hold.
    registry
        .record(&id, EventType::RecallRemedied, remedy(&battery.name))
        .await
        .unwrap();
    let card = registry
        .get(id.as_str(), pb::RobotView::Public)
        .await
        .unwrap();
    assert!(!card.recalled && card.open_recall.is_empty() && card.open_recalls.is_empty());
    registry
        .record(&id, EventType::Sold, sale())
        .await
        .expect("sold once every recall is remedied");
    assert!(registry.verify(&id).await.intact);
    // The other robot's recall stays open.
    assert!(registry.full(&other).await.recalled);
    registry.stop().await;
}

async fn recall_issued_is_recorded_by_create_recall_only(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let id = robot(1);
    registry.register(std::slice::from_ref(&id)).await;
    // A manufacturer (or the regulator) cannot fake a recall by recording
    // RECALL_ISSUED with any name.
    for identity in ["manufacturer", "regulator"] {
        let status = assert_refused(
            registry
                .record_as(identity, &id, EventType::RecallIssued, remedy("recalls/42"))
                .await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        assert!(status.message().contains("CreateRecall"), "{status:?}");
    }
    let status = assert_refused(
        registry
            .as_("transfer")
            .await
            .record_events(pb::RecordEventsRequest {
                request_id: unique("batch"),
                events: vec![pb::RecordEventRequest {
                    request_id: String::new(),
                    ..record_request(&id, EventType::RecallIssued, remedy("recalls/42"))
                }],
                on_behalf_of: String::new(),
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert!(status.message().starts_with("events[0].type"), "{status:?}");
    let full = registry.full(&id).await;
    assert!(!full.recalled);
    assert_eq!(full.event_count, 1);
    registry.stop().await;
}

async fn a_recall_lists_each_robot_once_and_counts_what_it_skipped(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let ids: Vec<RobotId> = (1..=5).map(robot).collect();
    registry.register(&ids).await;
    // Robot 4 is scrapped, robot 5 taken out of service.
    for id in &ids[3..] {
        registry
            .record(id, EventType::Decommissioned, Default::default())
            .await
            .unwrap();
    }
    registry
        .record(&ids[3], EventType::Recycled, Default::default())
        .await
        .unwrap();

    let listed = [&ids[0], &ids[0], &ids[1], &ids[3], &ids[4], &ids[1]].map(|id| id.clone());
    let recall = registry.recall(&listed, "listed twice").await;
    let once: Vec<String> = [&ids[0], &ids[1], &ids[3], &ids[4]]
        .iter()
        .map(|id| id.as_str().to_owned())
        .collect();
    assert_eq!(
        recall.robot_ids, once,
        "each robot once, in the order listed"
    );
    assert_eq!(recall.listed_robot_count, 4);
    assert_eq!(
        (recall.affected_robot_count, recall.skipped_robot_count),
        (2, 2)
    );
    let issued = registry
        .all_events(&ids[0])
        .await
        .iter()
        .filter(|e| e.r#type() == EventType::RecallIssued)
        .count();
    assert_eq!(issued, 1, "one RECALL_ISSUED per robot");
    assert!(
        !registry.full(&ids[3]).await.recalled,
        "a recycled unit is skipped"
    );

    // The whole model: the three robots still in life, the two others
    // skipped.
    let model = registry.recall(&[], "the whole model").await;
    assert_eq!(
        (
            model.listed_robot_count,
            model.affected_robot_count,
            model.skipped_robot_count
        ),
        (0, 3, 2)
    );
    assert_eq!(registry.full(&ids[0]).await.open_recalls.len(), 2);
    for id in &ids {
        assert!(registry.verify(id).await.intact, "{id}");
    }
    registry.stop().await;
}

async fn recalls_are_listed_and_read_within_scope(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let theirs = RobotId::issue(
        &"CN".parse().unwrap(),
        &"0002".parse().unwrap(),
        &"ZX0001".parse().unwrap(),
        1,
    );
    let (first, second) = (robot(1), robot_of("HX0002", 1));
    registry
        .register(&[first.clone(), second.clone(), theirs.clone()])
        .await;
    let mut made = Vec::new();
    made.push(registry.recall(std::slice::from_ref(&first), "one").await);
    made.push(registry.recall(&[], "two").await);
    made.push(
        registry
            .as_("manufacturer")
            .await
            .create_recall(pb::CreateRecallRequest {
                model_code: "HX0002".into(),
                ..recall_request(std::slice::from_ref(&second), "three")
            })
            .await
            .unwrap()
            .into_inner(),
    );
    made.push(
        registry
            .as_("manufacturer-0002")
            .await
            .create_recall(pb::CreateRecallRequest {
                manufacturer_code: "0002".into(),
                model_code: "ZX0001".into(),
                ..recall_request(&[], "four")
            })
            .await
            .unwrap()
            .into_inner(),
    );

    // The regulator pages through them all, newest first, without the
    // robots each listed (GetRecall has those).
    let mut regulator = registry.as_("regulator").await;
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = regulator
            .list_recalls(pb::ListRecallsRequest {
                page_size: 3,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.recalls.len() <= 3);
        seen.extend(page.recalls);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let names: Vec<&str> = seen.iter().map(|r| r.name.as_str()).collect();
    let newest_first: Vec<&str> = made.iter().rev().map(|r| r.name.as_str()).collect();
    assert_eq!(names, newest_first);
    assert!(seen.iter().all(|r| r.robot_ids.is_empty()));
    assert_eq!(seen[3].listed_robot_count, 1);
    assert_eq!(seen[3].country_code, "CN");

    let by_model = regulator
        .list_recalls(pb::ListRecallsRequest {
            manufacturer_code: "0001".into(),
            model_code: "HX0002".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_model.recalls.len(), 1);
    assert_eq!(by_model.recalls[0].reason, "three");
    for bad in [
        pb::ListRecallsRequest {
            model_code: "HX0002".into(),
            ..Default::default()
        },
        pb::ListRecallsRequest {
            page_size: -1,
            ..Default::default()
        },
        pb::ListRecallsRequest {
            country_code: "China".into(),
            ..Default::default()
        },
    ] {
        assert_refused(
            regulator.list_recalls(bad).await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
    }
    // A page token belongs to its list.
    let first_page = regulator
        .list_recalls(pb::ListRecallsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_refused(
        regulator
            .list_recalls(pb::ListRecallsRequest {
                page_size: 1,
                page_token: first_page.next_page_token,
                manufacturer_code: "0001".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );

    // A manufacturer lists and reads its own recalls only.
    let mut manufacturer = registry.as_("manufacturer").await;
    let own = manufacturer
        .list_recalls(pb::ListRecallsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.recalls.len(), 3);
    assert!(own.recalls.iter().all(|r| r.manufacturer_code == "0001"));
    assert_refused(
        manufacturer
            .list_recalls(pb::ListRecallsRequest {
                manufacturer_code: "0002".into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    let one = manufacturer
        .get_recall(pb::GetRecallRequest {
            name: made[0].name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one, made[0]);
    assert_eq!(one.robot_ids, [first.as_str()]);
    assert_refused(
        manufacturer
            .get_recall(pb::GetRecallRequest {
                name: made[3].name.clone(),
            })
            .await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    assert_refused(
        regulator
            .get_recall(pb::GetRecallRequest {
                name: "recalls/424242".into(),
            })
            .await,
        Code::NotFound,
        "RECALL_NOT_FOUND",
    );
    assert_refused(
        regulator
            .get_recall(pb::GetRecallRequest {
                name: "recall-1".into(),
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    registry.stop().await;
}
