//! Tamper evidence and audit against someone with the database: the
//! robot's standing is inside its hash chain, so an edited robot row is
//! found, also after an event was recorded on it; batch writes are in the
//! access log under each robot; and no event is dated before its robot was
//! issued. The tests edit the SQLite file or the PostgreSQL database
//! directly, as an attacker would.

mod support;

use robotid_proto::common::v1::EventType;
use robotid_proto::registry::v1 as pb;
use robotid_test_support::{TestDb, each_backend};
use support::*;
use tonic::Code;
use tonic_types::StatusExt;

each_backend!(
    an_edited_robot_row_is_reported_and_refused_for_export,
    an_event_recorded_on_a_forged_row_breaks_the_history,
    batch_writes_are_found_under_each_robot_in_the_access_log,
    no_event_happens_before_its_robot_was_issued,
);

async fn verdict_of(
    registry: &TestRegistry,
    id: &robotid_domain::code::RobotId,
) -> pb::VerifyHistoryResponse {
    registry
        .as_("regulator")
        .await
        .verify_history(pb::VerifyHistoryRequest {
            robot_id: id.as_str().into(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn export_verdict(
    registry: &TestRegistry,
    id: &robotid_domain::code::RobotId,
) -> pb::EligibilityVerdict {
    registry
        .as_("transfer")
        .await
        .check_eligibility(pb::CheckEligibilityRequest {
            robot_ids: vec![id.as_str().into()],
            intended_event: EventType::ExportCleared.into(),
            verify_history: true,
        })
        .await
        .unwrap()
        .into_inner()
        .verdicts
        .remove(0)
}

async fn an_edited_robot_row_is_reported_and_refused_for_export(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let (scrapped, stolen, untouched) = (robot(1), robot(2), robot(3));
    registry
        .register(&[scrapped.clone(), stolen.clone(), untouched.clone()])
        .await;
    registry
        .release(&[scrapped.clone(), stolen.clone(), untouched.clone()])
        .await;
    registry
        .record(&scrapped, EventType::Decommissioned, Default::default())
        .await
        .unwrap();
    registry
        .record(&scrapped, EventType::Recycled, Default::default())
        .await
        .unwrap();
    registry
        .record_as(
            "police",
            &stolen,
            EventType::ReportedStolen,
            Default::default(),
        )
        .await
        .unwrap();
    assert!(verdict_of(&registry, &scrapped).await.intact);

    // One UPDATE brings the scrapped robot back to the market…
    let rows = registry
        .tamper(format!(
            "UPDATE robots SET status = 'IN_MARKET' WHERE robot_id = '{scrapped}'"
        ))
        .await;
    assert_eq!(rows, 1);
    // …and the other one's theft report away.
    registry
        .tamper(format!(
            "UPDATE robots SET stolen = 0, stolen_by = NULL WHERE robot_id = '{stolen}'"
        ))
        .await;

    let verdict = verdict_of(&registry, &scrapped).await;
    assert!(!verdict.intact, "{verdict:?}");
    assert_eq!(
        verdict.problem_kind(),
        pb::HistoryProblem::RobotRecordDiffers
    );
    assert_eq!(
        verdict.first_broken_sequence, 4,
        "the newest event's standing"
    );
    assert!(
        verdict.problem.contains("IN_MARKET") && verdict.problem.contains("RECYCLED"),
        "{}",
        verdict.problem
    );
    let verdict = verdict_of(&registry, &stolen).await;
    assert_eq!(
        verdict.problem_kind(),
        pb::HistoryProblem::RobotRecordDiffers,
        "{verdict:?}"
    );
    assert!(verdict.problem.contains("theft"), "{}", verdict.problem);

    // Export clearance with the history checked refuses both.
    for id in [&scrapped, &stolen] {
        let verdict = export_verdict(&registry, id).await;
        assert_eq!(
            (verdict.eligible, verdict.reason.as_str()),
            (false, "HISTORY_BROKEN"),
            "{id}"
        );
    }
    assert!(export_verdict(&registry, &untouched).await.eligible);
    assert!(verdict_of(&registry, &untouched).await.intact);
    registry.stop().await;
}

async fn an_event_recorded_on_a_forged_row_breaks_the_history(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let id = robot(1);
    registry.register(std::slice::from_ref(&id)).await;
    registry.release(std::slice::from_ref(&id)).await;
    registry
        .record(&id, EventType::Decommissioned, Default::default())
        .await
        .unwrap();
    registry
        .record(&id, EventType::Recycled, Default::default())
        .await
        .unwrap();
    registry
        .tamper(format!(
            "UPDATE robots SET status = 'IN_MARKET' WHERE robot_id = '{id}'"
        ))
        .await;
    // The forged row lets a sale through; the sale commits to a standing
    // the history cannot reach, so it does not seal the forgery in.
    registry
        .record(
            &id,
            EventType::Sold,
            pb::EventDetails {
                holder: organization("SCRAP-TRADER"),
                ..Default::default()
            },
        )
        .await
        .expect("the forged row is what the write sees");
    let verdict = verdict_of(&registry, &id).await;
    assert!(!verdict.intact);
    assert_eq!(
        verdict.problem_kind(),
        pb::HistoryProblem::EventNotAllowed,
        "{verdict:?}"
    );
    assert_eq!(verdict.first_broken_sequence, 5);
    assert!(verdict.problem.contains("SOLD"), "{}", verdict.problem);
    assert_eq!(
        export_verdict(&registry, &id).await.reason,
        "HISTORY_BROKEN"
    );

    // Rewriting the sale's stored status to match the row breaks its hash.
    registry
        .tamper(format!(
            "UPDATE events SET status_after = 'RECYCLED' WHERE robot_id = '{id}' AND sequence = 5"
        ))
        .await;
    assert!(!verdict_of(&registry, &id).await.intact);
    registry.stop().await;
}

async fn batch_writes_are_found_under_each_robot_in_the_access_log(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let ids: Vec<_> = (1..=3).map(robot).collect();
    registry.register(&ids).await;
    registry.release(&ids).await;
    let recall = registry.recall(&[], "whole model").await;
    assert_eq!(recall.affected_robot_count, 3);
    for id in &ids {
        registry
            .record(id, EventType::RecallRemedied, remedy(&recall.name))
            .await
            .unwrap();
    }
    let border = |id: &robotid_domain::code::RobotId| pb::RecordEventRequest {
        request_id: String::new(),
        robot_id: id.as_str().into(),
        r#type: EventType::ExportCleared.into(),
        details: Some(pb::EventDetails {
            country_code: "DE".into(),
            ..Default::default()
        }),
        occur_time: None,
    };
    registry
        .as_("transfer")
        .await
        .record_events(pb::RecordEventsRequest {
            request_id: unique("batch"),
            events: ids.iter().map(border).collect(),
            on_behalf_of: String::new(),
        })
        .await
        .unwrap();

    // Every robot's log holds the three batch calls that wrote it.
    for id in &ids {
        let actions: Vec<(String, i64)> = registry
            .access_log_of(id)
            .await
            .iter()
            .filter(|entry| {
                !entry.action.starts_with("RecordEvent(") && entry.action != "ListAccessLog"
            })
            .map(|entry| (entry.action.clone(), entry.robot_count))
            .collect();
        assert_eq!(
            actions,
            [
                ("RecordEvents(3)".to_owned(), 3),
                ("CreateRecall(CN0001/HX0001)".to_owned(), 3),
                ("RegisterRobots(3)".to_owned(), 3),
            ],
            "{id}"
        );
    }
    let mut regulator = registry.as_("regulator").await;
    assert!(
        regulator
            .verify_access_log(pb::VerifyAccessLogRequest {})
            .await
            .unwrap()
            .into_inner()
            .intact
    );

    // Taking a robot out of a batch's index shows, as an edit of the entry
    // would.
    let removed = registry
        .tamper(format!(
            "DELETE FROM access_log_robots WHERE robot_id = '{}'",
            ids[1]
        ))
        .await;
    assert_eq!(removed, 3);
    let verdict = regulator
        .verify_access_log(pb::VerifyAccessLogRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!verdict.intact, "{verdict:?}");
    assert!(verdict.problem.contains("robots"), "{}", verdict.problem);
    registry.stop().await;
}

/// The field an INVALID_ARGUMENT names.
fn violated_field(status: &tonic::Status) -> String {
    status
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations[0]
        .field
        .clone()
}

async fn no_event_happens_before_its_robot_was_issued(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let id = robot(1);
    let issued = prost_types::Timestamp {
        seconds: 1_764_500_000,
        nanos: 0,
    };
    registry
        .as_("issuance")
        .await
        .register_robots(pb::RegisterRobotsRequest {
            request_id: unique("register"),
            robots: vec![pb::RobotRegistration {
                occur_time: Some(issued),
                ..registration(&id)
            }],
            on_behalf_of: String::new(),
        })
        .await
        .unwrap();
    let at = |seconds| pb::RecordEventRequest {
        occur_time: Some(prost_types::Timestamp { seconds, nanos: 0 }),
        ..record_request(&id, EventType::ReleasedToMarket, Default::default())
    };
    let mut manufacturer = registry.as_("manufacturer").await;
    for before in [issued.seconds - 1, 0, -86_400] {
        let status = assert_refused(
            manufacturer.record_event(at(before)).await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        assert_eq!(violated_field(&status), "occur_time");
    }
    manufacturer
        .record_event(at(issued.seconds))
        .await
        .expect("at the moment it was issued");

    // In a batch, the field names the event's place.
    let mut early = at(issued.seconds - 60);
    early.request_id = String::new();
    early.r#type = EventType::ExportCleared.into();
    early.details = Some(pb::EventDetails {
        country_code: "DE".into(),
        ..Default::default()
    });
    let status = assert_refused(
        registry
            .as_("transfer")
            .await
            .record_events(pb::RecordEventsRequest {
                request_id: unique("batch"),
                events: vec![early],
                on_behalf_of: String::new(),
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_field(&status), "events[0].occur_time");
    assert_eq!(registry.full(&id).await.event_count, 2);
    registry.stop().await;
}
