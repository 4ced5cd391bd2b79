//! The registry over real gRPC, on a real SQLite file and (when
//! `TEST_DATABASE_URL` is set) a real PostgreSQL database: one suite, both
//! stores.

mod support;

use robotid_domain::code::RobotId;
use robotid_proto::common::v1::{EventType, Jurisdiction, RobotStatus};
use robotid_proto::registry::v1 as pb;
use robotid_test_support::{TestDb, each_backend};
use support::*;
use tonic::Code;
use tonic_types::StatusExt;

each_backend!(
    registers_and_resolves_in_both_views,
    a_full_life_ends_recycled_and_then_takes_nothing,
    the_rules_refuse_what_they_must_and_write_nothing,
    events_page_to_the_end,
    retries_with_the_same_request_id_are_answered_not_repeated,
    concurrent_events_on_one_robot_leave_one_linear_chain,
    concurrent_events_each_keep_their_own_outcome,
    an_edited_event_row_breaks_the_verified_history,
    malformed_identity_codes_are_invalid_arguments_and_write_nothing,
    a_recall_holds_every_robot_of_the_model_at_once,
    eligibility_is_answered_per_robot_in_one_call,
    a_batch_of_events_is_recorded_whole_or_not_at_all,
);

async fn registers_and_resolves_in_both_views(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let ids: Vec<_> = (1..=3).map(robot).collect();
    let registered = registry.register(&ids).await;
    assert_eq!(registered.registered_count, 3);

    // People type codes in any case, with hyphens or spaces between segments.
    let typed = ids[0].display().to_lowercase();
    let public = registry.get(&typed, pb::RobotView::Public).await.unwrap();
    assert_eq!(public.robot_id, ids[0].as_str());
    assert_eq!(public.display_id, ids[0].display());
    assert_eq!(public.manufacturer_name, "Hubei Humanoid Works");
    assert_eq!(public.model_name, "SeeLight S1");
    assert_eq!(public.status(), RobotStatus::Registered);
    assert!(!public.recalled);
    assert_eq!(
        public
            .production
            .as_ref()
            .unwrap()
            .production_time
            .unwrap()
            .seconds,
        1_764_000_000
    );
    // The public tier warns a buyer: the theft flag and where the robot
    // is (issue 12, item 17; before, the public card showed neither).
    assert!(!public.stolen);
    assert_eq!(public.jurisdiction(), Jurisdiction::Domestic);
    // It carries nothing else.
    assert_eq!(public.production.as_ref().unwrap().factory, "");
    assert!(public.holder.is_none());
    assert_eq!(public.event_count, 0);
    assert_eq!(public.head_hash, "");

    let full = registry.full(&ids[0]).await;
    assert_eq!(full.view(), pb::RobotView::Full);
    assert_eq!(full.production.as_ref().unwrap().factory, "Wuhan line 3");
    assert_eq!(full.jurisdiction(), Jurisdiction::Domestic);
    assert_eq!(full.event_count, 1);
    assert_eq!(full.head_hash.len(), 64);

    let events = registry.all_events(&ids[0]).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].r#type(), EventType::Issued);
    assert_eq!(events[0].previous_hash, "0".repeat(64));
    assert_eq!(events[0].hash, full.head_hash);

    let unknown = robot(99);
    assert_refused(
        registry.get(unknown.as_str(), pb::RobotView::Public).await,
        Code::NotFound,
        "ROBOT_NOT_FOUND",
    );
    registry.stop().await;
}

async fn a_full_life_ends_recycled_and_then_takes_nothing(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let id = robot(1);
    registry.register(std::slice::from_ref(&id)).await;
    let detail = pb::EventDetails::default;
    let life = [
        (EventType::ReleasedToMarket, detail()),
        (
            EventType::Sold,
            pb::EventDetails {
                holder: private("CUSTOMER-4711"),
                ..detail()
            },
        ),
        (EventType::Deployed, detail()),
        (
            EventType::MaintenancePerformed,
            pb::EventDetails {
                note: "annual service".into(),
                ..detail()
            },
        ),
        (
            EventType::ComponentReplaced,
            pb::EventDetails {
                component: "left wrist actuator".into(),
                ..detail()
            },
        ),
        (
            EventType::FirmwareUpdated,
            pb::EventDetails {
                firmware_version: "2.4.1".into(),
                ..detail()
            },
        ),
        (
            EventType::IncidentReported,
            pb::EventDetails {
                note: "fell on stairs".into(),
                ..detail()
            },
        ),
        (EventType::ReportedStolen, detail()),
        (EventType::Recovered, detail()),
        (
            EventType::OwnershipTransferred,
            pb::EventDetails {
                holder: organization("91420100MA4K"),
                ..detail()
            },
        ),
        (
            EventType::ExportCleared,
            pb::EventDetails {
                country_code: "DE".into(),
                ..detail()
            },
        ),
        (
            EventType::Exported,
            pb::EventDetails {
                country_code: "DE".into(),
                ..detail()
            },
        ),
        (
            EventType::Imported,
            pb::EventDetails {
                country_code: "DE".into(),
                ..detail()
            },
        ),
        (EventType::Decommissioned, detail()),
        (EventType::Recycled, detail()),
    ];
    for (kind, details) in life {
        let event = registry
            .record(&id, kind, details)
            .await
            .unwrap_or_else(|e| panic!("{kind:?} refused: {e:?}"));
        assert_eq!(event.r#type(), kind);
    }

    let full = registry.full(&id).await;
    assert_eq!(full.status(), RobotStatus::Recycled);
    assert_eq!(full.jurisdiction(), Jurisdiction::Domestic);
    assert_eq!(full.event_count, 16);
    let holder = full.holder.unwrap().kind.unwrap();
    assert_eq!(
        holder,
        robotid_proto::common::v1::holder::Kind::OrganizationId("91420100MA4K".into())
    );

    // The private holder of the sale is kept only as a keyed hash.
    let events = registry.all_events(&id).await;
    let sold = events
        .iter()
        .find(|e| e.r#type() == EventType::Sold)
        .unwrap();
    match sold
        .details
        .as_ref()
        .unwrap()
        .holder
        .as_ref()
        .unwrap()
        .kind
        .as_ref()
        .unwrap()
    {
        robotid_proto::common::v1::holder::Kind::PrivateReferenceHash(hash) => {
            assert_eq!(hash.len(), 64);
            assert!(!hash.contains("4711"));
        }
        other => panic!("expected a hashed private holder, got {other:?}"),
    }

    // Refurbishing and reselling scrapped robots is prohibited.
    for kind in [
        EventType::ReleasedToMarket,
        EventType::Sold,
        EventType::MaintenancePerformed,
    ] {
        let details = match kind {
            EventType::Sold => pb::EventDetails {
                holder: organization("SCRAP-TRADER"),
                ..detail()
            },
            _ => detail(),
        };
        assert_refused(
            registry.record(&id, kind, details).await,
            Code::FailedPrecondition,
            "ROBOT_RECYCLED",
        );
    }
    let verdict = registry.verify(&id).await;
    assert!(verdict.intact, "{verdict:?}");
    assert_eq!(verdict.event_count, 16);
    registry.stop().await;
}

async fn the_rules_refuse_what_they_must_and_write_nothing(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let ids: Vec<_> = (1..=4).map(robot).collect();
    registry.register(&ids).await;
    let detail = pb::EventDetails::default;
    let sale = || pb::EventDetails {
        holder: organization("ACME"),
        ..detail()
    };
    let export = || pb::EventDetails {
        country_code: "DE".into(),
        ..detail()
    };

    // Not yet released: no sale.
    assert_refused(
        registry.record(&ids[0], EventType::Sold, sale()).await,
        Code::FailedPrecondition,
        "STATUS_NOT_ALLOWED",
    );
    for id in &ids {
        registry
            .record(id, EventType::ReleasedToMarket, detail())
            .await
            .unwrap();
    }

    // An open recall blocks sale, transfer and export.
    registry
        .record(&ids[1], EventType::RecallIssued, detail())
        .await
        .unwrap();
    assert_refused(
        registry.record(&ids[1], EventType::Sold, sale()).await,
        Code::FailedPrecondition,
        "RECALL_OPEN",
    );
    assert_refused(
        registry
            .record(&ids[1], EventType::OwnershipTransferred, sale())
            .await,
        Code::FailedPrecondition,
        "RECALL_OPEN",
    );
    assert_refused(
        registry
            .record(&ids[1], EventType::ExportCleared, export())
            .await,
        Code::FailedPrecondition,
        "RECALL_OPEN",
    );
    registry
        .record(&ids[1], EventType::RecallRemedied, detail())
        .await
        .unwrap();
    registry
        .record(&ids[1], EventType::Sold, sale())
        .await
        .unwrap();

    // So does a theft report, until the robot is recovered.
    registry
        .record(&ids[2], EventType::ReportedStolen, detail())
        .await
        .unwrap();
    assert_refused(
        registry.record(&ids[2], EventType::Sold, sale()).await,
        Code::FailedPrecondition,
        "ROBOT_STOLEN",
    );
    assert_refused(
        registry
            .record(&ids[2], EventType::ExportCleared, export())
            .await,
        Code::FailedPrecondition,
        "ROBOT_STOLEN",
    );
    assert_refused(
        registry
            .record(&ids[2], EventType::ReportedStolen, detail())
            .await,
        Code::FailedPrecondition,
        "ALREADY_REPORTED_STOLEN",
    );
    assert_refused(
        registry
            .record(&ids[0], EventType::Recovered, detail())
            .await,
        Code::FailedPrecondition,
        "NOT_REPORTED_STOLEN",
    );
    assert_refused(
        registry
            .record(&ids[0], EventType::RecallRemedied, detail())
            .await,
        Code::FailedPrecondition,
        "NO_OPEN_RECALL",
    );

    // A decommissioned robot can only be recycled.
    registry
        .record(&ids[3], EventType::Decommissioned, detail())
        .await
        .unwrap();
    assert_refused(
        registry.record(&ids[3], EventType::Sold, sale()).await,
        Code::FailedPrecondition,
        "ROBOT_DECOMMISSIONED",
    );
    assert_refused(
        registry
            .record(&ids[3], EventType::MaintenancePerformed, detail())
            .await,
        Code::FailedPrecondition,
        "ROBOT_DECOMMISSIONED",
    );

    // Departure needs a clearance; import needs a robot abroad.
    assert_refused(
        registry
            .record(&ids[0], EventType::Exported, export())
            .await,
        Code::FailedPrecondition,
        "NOT_EXPORT_CLEARED",
    );
    assert_refused(
        registry
            .record(&ids[0], EventType::Imported, export())
            .await,
        Code::FailedPrecondition,
        "ROBOT_NOT_ABROAD",
    );

    // A refusal says why, with the reason machine-readable.
    let refused = assert_refused(
        registry.record(&ids[2], EventType::Sold, sale()).await,
        Code::FailedPrecondition,
        "ROBOT_STOLEN",
    );
    assert!(
        refused.message().contains("stolen"),
        "{}",
        refused.message()
    );

    // Details must fit their event: a malformed request, not a rule.
    assert_refused(
        registry.record(&ids[0], EventType::Sold, detail()).await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_refused(
        registry.record(&ids[0], EventType::Issued, detail()).await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );

    // Nothing refused was written.
    let counts: Vec<i64> = {
        let mut counts = Vec::new();
        for id in &ids {
            counts.push(registry.full(id).await.event_count);
        }
        counts
    };
    assert_eq!(counts, [2, 5, 3, 3]);
    for id in &ids {
        assert!(registry.verify(id).await.intact);
    }
    registry.stop().await;
}

async fn events_page_to_the_end(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let id = robot(7);
    registry.register(std::slice::from_ref(&id)).await;
    for i in 0..249 {
        registry
            .record(
                &id,
                EventType::MaintenancePerformed,
                pb::EventDetails {
                    note: format!("visit {i}"),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }

    let mut sequences = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = registry
            .as_("regulator")
            .await
            .list_events(pb::ListEventsRequest {
                robot_id: id.as_str().into(),
                page_size: 60,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.events.len() <= 60);
        sequences.extend(page.events.iter().map(|e| e.sequence));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(pages, 5);
    assert_eq!(sequences, (1..=250).collect::<Vec<i64>>());

    // A page size past the maximum is capped, not refused.
    let capped = registry
        .as_("regulator")
        .await
        .list_events(pb::ListEventsRequest {
            robot_id: id.as_str().into(),
            page_size: 1_000_000,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(capped.events.len(), 250);
    assert!(capped.next_page_token.is_empty());

    assert_refused(
        registry
            .as_("regulator")
            .await
            .list_events(pb::ListEventsRequest {
                robot_id: id.as_str().into(),
                page_size: -1,
                page_token: String::new(),
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    // A token of one robot's history is refused for another's.
    let first = registry
        .as_("regulator")
        .await
        .list_events(pb::ListEventsRequest {
            robot_id: id.as_str().into(),
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    registry.register(&[robot(8)]).await;
    assert_refused(
        registry
            .as_("regulator")
            .await
            .list_events(pb::ListEventsRequest {
                robot_id: robot(8).as_str().into(),
                page_size: 10,
                page_token: first.next_page_token,
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    registry.stop().await;
}

async fn retries_with_the_same_request_id_are_answered_not_repeated(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let ids: Vec<_> = (1..=5).map(robot).collect();

    let register = pb::RegisterRobotsRequest {
        request_id: unique("register"),
        robots: ids.iter().map(registration).collect(),
    };
    let mut issuance = registry.as_("issuance").await;
    let first = issuance
        .register_robots(register.clone())
        .await
        .unwrap()
        .into_inner();
    let again = issuance
        .register_robots(register.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(first.registered_count, 5);
    // A new delivery of the same robots (another request id) is a no-op too.
    let redelivered = issuance
        .register_robots(pb::RegisterRobotsRequest {
            request_id: unique("register"),
            ..register.clone()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            redelivered.registered_count,
            redelivered.already_registered_count
        ),
        (0, 5)
    );
    // The same robot with other data is a conflict, not an overwrite.
    let mut changed = registration(&ids[0]);
    changed.model_name = "Something Else".into();
    assert_refused(
        registry
            .as_("issuance")
            .await
            .register_robots(pb::RegisterRobotsRequest {
                request_id: unique("register"),
                robots: vec![changed],
            })
            .await,
        Code::AlreadyExists,
        "ROBOT_ALREADY_REGISTERED",
    );

    let release = pb::RecordEventRequest {
        request_id: unique("event"),
        robot_id: ids[0].as_str().into(),
        r#type: EventType::ReleasedToMarket.into(),
        details: None,
        occur_time: None,
    };
    let mut manufacturer = registry.as_("manufacturer").await;
    let first = manufacturer
        .record_event(release.clone())
        .await
        .unwrap()
        .into_inner();
    let again = manufacturer
        .record_event(release.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(registry.full(&ids[0]).await.event_count, 2);

    // The same id for a different request is refused.
    let other = pb::RecordEventRequest {
        robot_id: ids[1].as_str().into(),
        ..release.clone()
    };
    assert_refused(
        registry.as_("manufacturer").await.record_event(other).await,
        Code::FailedPrecondition,
        "REQUEST_ID_REUSED",
    );
    assert_eq!(registry.full(&ids[1]).await.event_count, 1);

    let recall = pb::CreateRecallRequest {
        request_id: unique("recall"),
        manufacturer_code: "0001".into(),
        model_code: "HX0001".into(),
        robot_ids: vec![ids[2].as_str().into()],
        reason: "battery overheating".into(),
    };
    let first = registry
        .as_("manufacturer")
        .await
        .create_recall(recall.clone())
        .await
        .unwrap()
        .into_inner();
    let again = registry
        .as_("manufacturer")
        .await
        .create_recall(recall.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(registry.full(&ids[2]).await.event_count, 2);

    // Missing request ids are malformed requests.
    assert_refused(
        registry
            .as_("manufacturer")
            .await
            .record_event(pb::RecordEventRequest {
                request_id: String::new(),
                ..release
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    registry.stop().await;
}

async fn concurrent_events_on_one_robot_leave_one_linear_chain(db: TestDb) {
    let registry = spawn_registry(db).await;
    let id = robot(42);
    let mut client = registry.as_("issuance").await;
    client
        .register_robots(pb::RegisterRobotsRequest {
            request_id: unique("register"),
            robots: vec![registration(&id)],
        })
        .await
        .unwrap();

    let service_provider = registry.as_("service-provider").await;
    let calls = (0..16).map(|i| {
        let mut client = service_provider.clone();
        let id = id.clone();
        tokio::spawn(async move {
            client
                .record_event(pb::RecordEventRequest {
                    request_id: unique("concurrent"),
                    robot_id: id.as_str().into(),
                    r#type: EventType::FirmwareUpdated.into(),
                    details: Some(pb::EventDetails {
                        firmware_version: format!("1.0.{i}"),
                        ..Default::default()
                    }),
                    occur_time: None,
                })
                .await
                .map(|r| r.into_inner().sequence)
        })
    });
    let mut sequences = Vec::new();
    for call in calls.collect::<Vec<_>>() {
        sequences.push(
            call.await
                .unwrap()
                .expect("every concurrent event is accepted"),
        );
    }
    sequences.sort();
    assert_eq!(sequences, (2..=17).collect::<Vec<i64>>());

    let mut registry = registry;
    let events = registry.all_events(&id).await;
    assert_eq!(events.len(), 17);
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].previous_hash, pair[0].hash,
            "each event links to the one before"
        );
        assert_eq!(pair[1].sequence, pair[0].sequence + 1);
    }
    let verdict = registry.verify(&id).await;
    assert!(verdict.intact);
    assert_eq!(verdict.event_count, 17);
    registry.stop().await;
}

/// A burst of concurrent `RecordEvent` calls, which the registry writes in
/// shared transactions (groups): each call keeps its own outcome, and every
/// accepted event is in its robot's chain and in the access log once.
async fn concurrent_events_each_keep_their_own_outcome(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let ids: Vec<_> = (1..=24).map(robot).collect();
    registry.register(&ids).await;
    let firmware = registry.recorder_of(EventType::FirmwareUpdated).await;
    let seller = registry.recorder_of(EventType::Sold).await;
    let request = |request_id: &str, id: &RobotId, kind: EventType, details: pb::EventDetails| {
        pb::RecordEventRequest {
            request_id: request_id.to_owned(),
            robot_id: id.as_str().to_owned(),
            r#type: kind.into(),
            details: Some(details),
            occur_time: None,
        }
    };
    let update = |version: &str| pb::EventDetails {
        firmware_version: version.into(),
        ..Default::default()
    };
    let sale = || pb::EventDetails {
        holder: organization("ACME"),
        ..Default::default()
    };

    // Every call of the burst, with what it must get.
    let mut burst = Vec::new();
    // Sixteen updates on sixteen robots: accepted.
    for id in &ids[..16] {
        burst.push((
            firmware.clone(),
            request(
                &unique("fw"),
                id,
                EventType::FirmwareUpdated,
                update("2.0.0"),
            ),
        ));
    }
    // Four sales of robots not yet released: refused by the lifecycle.
    for id in &ids[16..20] {
        burst.push((
            seller.clone(),
            request(&unique("sale"), id, EventType::Sold, sale()),
        ));
    }
    // A robot that is not registered.
    burst.push((
        firmware.clone(),
        request(
            &unique("fw"),
            &robot(999),
            EventType::FirmwareUpdated,
            update("2.0.0"),
        ),
    ));
    // One request id for two different updates of one robot: one of them.
    let reused = unique("reused");
    for version in ["2.0.1", "2.0.2"] {
        burst.push((
            firmware.clone(),
            request(
                &reused,
                &ids[20],
                EventType::FirmwareUpdated,
                update(version),
            ),
        ));
    }
    // Three requests each sent twice at once: one event each, both answers
    // the same.
    for id in &ids[21..24] {
        let retried = request(
            &unique("twice"),
            id,
            EventType::FirmwareUpdated,
            update("2.0.3"),
        );
        burst.push((firmware.clone(), retried.clone()));
        burst.push((firmware.clone(), retried));
    }

    // All at once: each task waits for the others before it sends.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(burst.len()));
    let calls: Vec<_> = burst
        .into_iter()
        .map(|(mut client, request)| {
            let start = std::sync::Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                client
                    .record_event(request)
                    .await
                    .map(tonic::Response::into_inner)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }

    for answer in &answers[..16] {
        assert_eq!(answer.as_ref().expect("an update is accepted").sequence, 2);
    }
    for answer in &answers[16..20] {
        assert_refused(
            answer.clone(),
            Code::FailedPrecondition,
            "STATUS_NOT_ALLOWED",
        );
    }
    assert_refused(answers[20].clone(), Code::NotFound, "ROBOT_NOT_FOUND");
    let reused: Vec<_> = answers[21..23].iter().collect();
    assert_eq!(
        reused.iter().filter(|a| a.is_ok()).count(),
        1,
        "one of the two requests under one id is done: {reused:?}"
    );
    let refused = reused.into_iter().find(|a| a.is_err()).unwrap().clone();
    assert_refused(refused, Code::FailedPrecondition, "REQUEST_ID_REUSED");
    for pair in answers[23..].chunks(2) {
        let first = pair[0].as_ref().expect("accepted");
        assert_eq!(pair[1].as_ref().expect("answered alike"), first);
        assert_eq!(first.sequence, 2);
    }

    // The chains and the access log hold each accepted event once.
    for (n, id) in ids.iter().enumerate() {
        let written = if (16..20).contains(&n) { 0 } else { 1 };
        assert_eq!(registry.full(id).await.event_count, 1 + written, "{id}");
        assert!(registry.verify(id).await.intact);
        let written_entries = registry
            .access_log_of(id)
            .await
            .iter()
            .filter(|e| e.action.starts_with("RecordEvent(") && e.outcome == "OK")
            .count();
        assert_eq!(written_entries as i64, written, "access log of {id}");
    }
    assert!(
        registry
            .as_("regulator")
            .await
            .verify_access_log(pb::VerifyAccessLogRequest {})
            .await
            .unwrap()
            .into_inner()
            .intact
    );
    registry.stop().await;
}

async fn an_edited_event_row_breaks_the_verified_history(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let (edited, truncated, untouched) = (robot(1), robot(2), robot(3));
    registry
        .register(&[edited.clone(), truncated.clone(), untouched.clone()])
        .await;
    for id in [&edited, &truncated, &untouched] {
        registry
            .record(id, EventType::ReleasedToMarket, Default::default())
            .await
            .unwrap();
        registry
            .record(
                id,
                EventType::MaintenancePerformed,
                pb::EventDetails {
                    note: "checked".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    assert!(registry.verify(&edited).await.intact);

    let rows = registry
        .tamper(format!(
            "UPDATE events SET note = 'nothing to see' WHERE robot_id = '{edited}' AND sequence = 3"
        ))
        .await;
    assert_eq!(rows, 1);
    let verdict = registry.verify(&edited).await;
    assert!(!verdict.intact);
    assert_eq!(verdict.first_broken_sequence, 3);
    assert!(verdict.problem.contains("changed"), "{}", verdict.problem);

    // Removing the newest event is caught by the robot's recorded head.
    let rows = registry
        .tamper(format!(
            "DELETE FROM events WHERE robot_id = '{truncated}' AND sequence = 3"
        ))
        .await;
    assert_eq!(rows, 1);
    let verdict = registry.verify(&truncated).await;
    assert!(!verdict.intact, "{verdict:?}");

    assert!(registry.verify(&untouched).await.intact);
    registry.stop().await;
}

async fn malformed_identity_codes_are_invalid_arguments_and_write_nothing(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let good = robot(1);
    registry.register(std::slice::from_ref(&good)).await;

    // Too short, a bad character, a mistyped check character.
    let mut mistyped = good.as_str().to_owned();
    let last = mistyped.pop().unwrap();
    mistyped.push(if last == 'A' { 'B' } else { 'A' });
    for (input, mentions) in [
        ("CN0001", "29"),
        ("CN0001HX0001000000000000000!1", "serial"),
        (mistyped.as_str(), "check"),
    ] {
        let status = assert_refused(
            registry.get(input, pb::RobotView::Public).await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        assert!(
            status.message().contains(mentions),
            "{input}: {}",
            status.message()
        );
        let details = status.get_error_details();
        assert_eq!(
            details.bad_request().unwrap().field_violations[0].field,
            "robot_id"
        );
    }

    let status = assert_refused(
        registry
            .as_("manufacturer")
            .await
            .record_event(pb::RecordEventRequest {
                request_id: unique("event"),
                robot_id: mistyped.clone(),
                r#type: EventType::ReleasedToMarket.into(),
                details: None,
                occur_time: None,
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert!(status.message().starts_with("robot_id"));

    // One bad code in a batch names its place and registers nothing.
    let mut bad_batch = vec![registration(&robot(2)), registration(&robot(3))];
    bad_batch[1].robot_id = "CN-0001-HX0001-XYZ".into();
    let status = assert_refused(
        registry
            .as_("issuance")
            .await
            .register_robots(pb::RegisterRobotsRequest {
                request_id: unique("register"),
                robots: bad_batch,
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(
        status
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "robots[1].robot_id"
    );
    assert_refused(
        registry.get(robot(2).as_str(), pb::RobotView::Public).await,
        Code::NotFound,
        "ROBOT_NOT_FOUND",
    );

    let status = assert_refused(
        registry
            .as_("transfer")
            .await
            .check_eligibility(pb::CheckEligibilityRequest {
                robot_ids: vec![good.as_str().into(), "nonsense".into()],
                intended_event: EventType::ExportCleared.into(),
                verify_history: false,
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert!(status.message().starts_with("robot_ids[1]"));
    assert_eq!(registry.full(&good).await.event_count, 1);
    registry.stop().await;
}

async fn a_recall_holds_every_robot_of_the_model_at_once(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let model: Vec<_> = (1..=30).map(robot).collect();
    let other = robot_of("HX0002", 1);
    registry.register(&model).await;
    registry.register(std::slice::from_ref(&other)).await;
    registry
        .record(&model[0], EventType::Decommissioned, Default::default())
        .await
        .unwrap();

    let recall = registry
        .as_("manufacturer")
        .await
        .create_recall(pb::CreateRecallRequest {
            request_id: unique("recall"),
            manufacturer_code: "0001".into(),
            model_code: "HX0001".into(),
            robot_ids: vec![],
            reason: "hip joint may lock".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(recall.name.starts_with("recalls/"));
    // The decommissioned robot is past recalling.
    assert_eq!(recall.affected_robot_count, 29);

    for id in &model[1..] {
        let public = registry
            .get(id.as_str(), pb::RobotView::Public)
            .await
            .unwrap();
        assert!(public.recalled);
        assert_eq!(public.open_recall, recall.name);
    }
    assert!(
        !registry
            .get(other.as_str(), pb::RobotView::Public)
            .await
            .unwrap()
            .recalled
    );

    // A listed robot must belong to the recalled model.
    assert_refused(
        registry
            .as_("manufacturer")
            .await
            .create_recall(pb::CreateRecallRequest {
                request_id: unique("recall"),
                manufacturer_code: "0001".into(),
                model_code: "HX0001".into(),
                robot_ids: vec![other.as_str().into()],
                reason: "wrong model".into(),
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    registry.stop().await;
}

async fn eligibility_is_answered_per_robot_in_one_call(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let ids: Vec<_> = (1..=5).map(robot).collect();
    registry.register(&ids).await;
    for id in &ids {
        registry
            .record(id, EventType::ReleasedToMarket, Default::default())
            .await
            .unwrap();
    }
    registry
        .record(&ids[1], EventType::RecallIssued, Default::default())
        .await
        .unwrap();
    registry
        .record(&ids[2], EventType::ReportedStolen, Default::default())
        .await
        .unwrap();
    registry
        .tamper(format!(
            "UPDATE events SET actor = 'someone else' WHERE robot_id = '{}' AND sequence = 1",
            ids[3]
        ))
        .await;
    let missing = robot(77);

    let mut asked: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
    asked.push(missing.as_str().into());
    let verdicts = registry
        .as_("transfer")
        .await
        .check_eligibility(pb::CheckEligibilityRequest {
            robot_ids: asked.clone(),
            intended_event: EventType::ExportCleared.into(),
            verify_history: true,
        })
        .await
        .unwrap()
        .into_inner()
        .verdicts;
    let reasons: Vec<(&str, bool, &str)> = verdicts
        .iter()
        .map(|v| (v.robot_id.as_str(), v.eligible, v.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (asked[0].as_str(), true, ""),
            (asked[1].as_str(), false, "RECALL_OPEN"),
            (asked[2].as_str(), false, "ROBOT_STOLEN"),
            (asked[3].as_str(), false, "HISTORY_BROKEN"),
            (asked[4].as_str(), true, ""),
            (asked[5].as_str(), false, "ROBOT_NOT_FOUND"),
        ]
    );
    assert_eq!(verdicts[0].status(), RobotStatus::InMarket);
    registry.stop().await;
}

async fn a_batch_of_events_is_recorded_whole_or_not_at_all(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let ids: Vec<_> = (1..=3).map(robot).collect();
    registry.register(&ids).await;
    for id in &ids {
        registry
            .record(id, EventType::ReleasedToMarket, Default::default())
            .await
            .unwrap();
    }
    registry
        .record(&ids[1], EventType::ReportedStolen, Default::default())
        .await
        .unwrap();
    let batch =
        |ids: &[&robotid_domain::code::RobotId], request_id: &str| pb::RecordEventsRequest {
            request_id: request_id.into(),
            events: ids
                .iter()
                .map(|id| pb::RecordEventRequest {
                    request_id: String::new(),
                    robot_id: id.as_str().into(),
                    r#type: EventType::ExportCleared.into(),
                    details: Some(pb::EventDetails {
                        country_code: "DE".into(),
                        reference: "transfers/0123456789abcdef".into(),
                        ..Default::default()
                    }),
                    occur_time: None,
                })
                .collect(),
        };
    let mut transfer = registry.as_("transfer").await;

    // The stolen robot fails the whole batch, and says which robot it was.
    let status = assert_refused(
        transfer
            .record_events(batch(&[&ids[0], &ids[1], &ids[2]], &unique("batch")))
            .await,
        Code::FailedPrecondition,
        "ROBOT_STOLEN",
    );
    assert_eq!(
        status.get_error_details().error_info().unwrap().metadata["robot_id"],
        ids[1].as_str()
    );
    assert_eq!(
        registry.full(&ids[0]).await.event_count,
        2,
        "nothing recorded"
    );

    let request_id = unique("batch");
    let recorded = transfer
        .record_events(batch(&[&ids[0], &ids[2]], &request_id))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[1].robot_id, ids[2].as_str());
    assert_eq!(recorded[1].sequence, 3);
    assert_eq!(
        registry.full(&ids[0]).await.jurisdiction(),
        Jurisdiction::ExportCleared
    );

    // A retry answers the same events and records nothing more; the same
    // id for other events is refused.
    let again = transfer
        .record_events(batch(&[&ids[0], &ids[2]], &request_id))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(again, recorded);
    assert_eq!(registry.full(&ids[2]).await.event_count, 3);
    assert_refused(
        transfer.record_events(batch(&[&ids[0]], &request_id)).await,
        Code::FailedPrecondition,
        "REQUEST_ID_REUSED",
    );

    // One access log entry per call, however many robots it covers (a
    // replay wrote nothing, so has none).
    let log = registry
        .as_("regulator")
        .await
        .list_access_log(pb::ListAccessLogRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    let batches: Vec<(&str, &str)> = log
        .iter()
        .filter(|entry| entry.action.starts_with("RecordEvents"))
        .map(|entry| (entry.action.as_str(), entry.outcome.as_str()))
        .collect();
    assert_eq!(
        batches,
        [
            ("RecordEvents(1)", "FailedPrecondition REQUEST_ID_REUSED"),
            ("RecordEvents(2)", "OK"),
            ("RecordEvents(3)", "FailedPrecondition ROBOT_STOLEN"),
        ]
    );

    for id in [&ids[0], &ids[2]] {
        assert!(registry.verify(id).await.intact, "{id} after the batch");
    }

    // Two events of one robot in one batch chain one after the other.
    let mut there_and_back = batch(&[&ids[0], &ids[0]], &unique("batch"));
    there_and_back.events[0].r#type = EventType::Exported.into();
    there_and_back.events[1].r#type = EventType::Imported.into();
    let recorded = transfer
        .record_events(there_and_back)
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(
        recorded.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [4, 5]
    );
    assert_eq!(recorded[1].previous_hash, recorded[0].hash);
    let full = registry.full(&ids[0]).await;
    assert_eq!(
        (full.event_count, full.jurisdiction()),
        (5, Jurisdiction::Domestic)
    );
    assert!(registry.verify(&ids[0]).await.intact);

    // A robot the registry does not know fails the batch by name.
    let unknown = robot(99);
    let status = transfer
        .record_events(batch(&[&unknown, &ids[2]], &unique("batch")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(status.message().contains(unknown.as_str()), "{status:?}");
    assert_eq!(
        registry.full(&ids[2]).await.event_count,
        3,
        "nothing recorded"
    );

    // Border events are the transfer service's alone.
    assert_eq!(
        registry
            .as_("regulator")
            .await
            .record_events(batch(&[&ids[0]], &unique("batch")))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    registry.stop().await;
}
