//! What the registry's edge checks of every call before any rule sees it:
//! the times and the text a caller sends, the size of the request, whose
//! request id it is; and what reflection tells a generic client.

use std::time::{SystemTime, UNIX_EPOCH};

use robotid_domain::code::RobotId;
use robotid_proto::common::v1::EventType;
use robotid_proto::registry::v1 as pb;
use robotid_test_support::reflection::{list_services, resolve_symbol};
use robotid_test_support::tls::channel;
use robotid_test_support::{TestDb, assert_invalid, assert_refused};
use tonic::Code;

mod support;
use support::{organization, registration, robot, spawn_registry, spawn_registry_with, unique};

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn at(seconds: i64, nanos: i32) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos })
}

/// Times outside what a protobuf Timestamp holds, with bad nanos, before
/// 2000 or more than the clock skew ahead, are refused naming the field,
/// in every call that takes one; a time a few minutes ahead is taken.
async fn times_a_caller_reports_must_be_real(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let id = robot(1);
    registry.register(std::slice::from_ref(&id)).await;
    let now = now_seconds();
    let wrong = [
        at(0, 0),               // 1970: an unset time
        at(946_684_799, 0),     // 1999-12-31T23:59:59Z
        at(253_402_300_800, 0), // year 10000
        at(1 << 62, 0),         // far outside the range
        at(i64::MIN, 0),
        at(now, -1),            // negative nanos
        at(now, 1_000_000_000), // a whole second of nanos
        at(now + 3_600, 0),     // an hour ahead
    ];
    let mut manufacturer = registry.as_("manufacturer").await;
    let release = |occur_time| pb::RecordEventRequest {
        request_id: unique("release"),
        robot_id: id.as_str().to_owned(),
        r#type: EventType::ReleasedToMarket.into(),
        details: None,
        occur_time,
    };
    for time in &wrong {
        assert_invalid(
            manufacturer.record_event(release(*time)).await,
            "occur_time",
        );
    }

    let mut transfer = registry.as_("transfer").await;
    for time in &wrong {
        let batch = pb::RecordEventsRequest {
            request_id: unique("batch"),
            events: vec![pb::RecordEventRequest {
                request_id: String::new(),
                r#type: EventType::Exported.into(),
                details: Some(pb::EventDetails {
                    country_code: "DE".into(),
                    ..Default::default()
                }),
                ..release(*time)
            }],
            on_behalf_of: String::new(),
        };
        assert_invalid(transfer.record_events(batch).await, "events[0].occur_time");
    }

    let mut issuance = registry.as_("issuance").await;
    for time in &wrong {
        let mut first = registration(&robot(2));
        first.occur_time = *time;
        assert_invalid(
            issuance
                .register_robots(pb::RegisterRobotsRequest {
                    request_id: unique("register"),
                    robots: vec![first],
                    on_behalf_of: String::new(),
                })
                .await,
            "robots[0].occur_time",
        );
        let mut produced = registration(&robot(2));
        produced.production.as_mut().unwrap().production_time = *time;
        assert_invalid(
            issuance
                .register_robots(pb::RegisterRobotsRequest {
                    request_id: unique("register"),
                    robots: vec![produced],
                    on_behalf_of: String::new(),
                })
                .await,
            "robots[0].production.production_time",
        );
    }
    assert!(
        registry
            .get(robot(2).as_str(), pb::RobotView::Public)
            .await
            .is_err(),
        "nothing was registered"
    );

    // Clocks differ: four minutes ahead is within the five-minute skew.
    let event = manufacturer
        .record_event(release(at(now + 240, 500)))
        .await
        .expect("a time within the clock skew is taken")
        .into_inner();
    assert_eq!(event.occur_time.unwrap().seconds, now + 240);
}

/// Identifiers refuse control and bidirectional characters, naming the
/// field; a note takes line breaks and nothing else of the kind.
async fn identifiers_are_one_line_of_visible_text(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let id = robot(1);
    registry.register(std::slice::from_ref(&id)).await;
    let event = |kind: EventType, details: pb::EventDetails| pb::RecordEventRequest {
        request_id: unique("event"),
        robot_id: id.as_str().to_owned(),
        r#type: kind.into(),
        details: Some(details),
        occur_time: None,
    };

    let mut seller = registry.as_("seller").await;
    for org in [
        "Acme\u{202E}HbmG",
        "Acme\u{0}",
        "Acme\nGmbH",
        "\u{2066}Acme",
        "Ac\u{200F}me",
    ] {
        assert_invalid(
            seller
                .record_event(event(
                    EventType::Sold,
                    pb::EventDetails {
                        holder: organization(org),
                        ..Default::default()
                    },
                ))
                .await,
            "details.holder.organization_id",
        );
    }

    let mut service = registry.as_("service-provider").await;
    for (details, field) in [
        (
            pb::EventDetails {
                note: "oil \u{1B}[31mchanged".into(),
                ..Default::default()
            },
            "details.note",
        ),
        (
            pb::EventDetails {
                note: "checked\u{202D}".into(),
                ..Default::default()
            },
            "details.note",
        ),
        (
            pb::EventDetails {
                reference: "WO-17\r\nWO-18".into(),
                ..Default::default()
            },
            "details.reference",
        ),
    ] {
        assert_invalid(
            service
                .record_event(event(EventType::MaintenancePerformed, details))
                .await,
            field,
        );
    }
    let noted = service
        .record_event(event(
            EventType::MaintenancePerformed,
            pb::EventDetails {
                note: "Replaced joint 3.\r\nTested: OK.\n".into(),
                reference: "WO-17".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("a note takes line breaks")
        .into_inner();
    assert_eq!(
        noted.details.unwrap().note,
        "Replaced joint 3.\r\nTested: OK.\n"
    );
    assert_invalid(
        service
            .record_event(event(
                EventType::ComponentReplaced,
                pb::EventDetails {
                    component: "joint\u{85}actuator".into(),
                    ..Default::default()
                },
            ))
            .await,
        "details.component",
    );
    assert_invalid(
        service
            .record_event(event(
                EventType::FirmwareUpdated,
                pb::EventDetails {
                    firmware_version: "2.4.1\u{7F}".into(),
                    ..Default::default()
                },
            ))
            .await,
        "details.firmware_version",
    );
    assert_invalid(
        service
            .record_event(event(
                EventType::MaintenancePerformed,
                pb::EventDetails {
                    note: "x".repeat(2_001),
                    ..Default::default()
                },
            ))
            .await,
        "details.note",
    );

    let mut issuance = registry.as_("issuance").await;
    let mut named = registration(&robot(2));
    named.manufacturer_name = "Hubei\u{0}Works".into();
    let mut made = registration(&robot(2));
    made.production.as_mut().unwrap().factory = "Wuhan \u{2067}line 3".into();
    for (robot, field) in [
        (named, "robots[0].manufacturer_name"),
        (made, "robots[0].production.factory"),
    ] {
        assert_invalid(
            issuance
                .register_robots(pb::RegisterRobotsRequest {
                    request_id: unique("register"),
                    robots: vec![robot],
                    on_behalf_of: String::new(),
                })
                .await,
            field,
        );
    }

    let recall = |reason: &str| pb::CreateRecallRequest {
        request_id: unique("recall"),
        manufacturer_code: "0001".into(),
        model_code: "HX0001".into(),
        robot_ids: vec![id.as_str().to_owned()],
        reason: reason.into(),
        country_code: String::new(),
    };
    let mut manufacturer = registry.as_("manufacturer").await;
    for reason in ["battery \u{202E}fire risk", "battery\u{0}", " "] {
        assert_invalid(manufacturer.create_recall(recall(reason)).await, "reason");
    }
}

/// A request over the decoding limit (4 MiB) is RESOURCE_EXHAUSTED, gRPC's
/// code for a message too large, naming the limit; nothing is written.
async fn a_request_over_the_size_limit_is_resource_exhausted(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let robots: Vec<RobotId> = (1..=10_000).map(robot).collect();
    let large = pb::RegisterRobotsRequest {
        request_id: unique("large"),
        robots: robots
            .iter()
            .map(|id| pb::RobotRegistration {
                manufacturer_name: "M".repeat(200),
                model_name: "S".repeat(200),
                ..registration(id)
            })
            .collect(),
        on_behalf_of: String::new(),
    };
    assert!(prost::Message::encoded_len(&large) > 4 * 1024 * 1024);
    let status = assert_refused(
        registry.as_("issuance").await.register_robots(large).await,
        Code::ResourceExhausted,
        "MESSAGE_TOO_LARGE",
    );
    let info = tonic_types::StatusExt::get_details_error_info(&status).unwrap();
    assert_eq!(info.metadata["limit_bytes"], "4194304", "{status:?}");
    assert!(
        registry
            .get(robots[0].as_str(), pb::RobotView::Public)
            .await
            .is_err()
    );
}

/// A request id belongs to its caller: another caller's call with the same
/// id, even the same request, is its own call (neither the first caller's
/// answer nor a refusal), and each caller's retries answer as before.
async fn a_request_id_belongs_to_its_caller(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let id = robot(1);
    registry.register(std::slice::from_ref(&id)).await;
    let maintenance = |note: &str| pb::RecordEventRequest {
        request_id: "work-order-1".into(),
        robot_id: id.as_str().to_owned(),
        r#type: EventType::MaintenancePerformed.into(),
        details: Some(pb::EventDetails {
            note: note.into(),
            ..Default::default()
        }),
        occur_time: None,
    };
    let mut provider = registry.as_("service-provider").await;
    let mut operator = registry.as_("operator").await;

    let first = provider
        .record_event(maintenance("oil"))
        .await
        .unwrap()
        .into_inner();
    let other = operator
        .record_event(maintenance("oil"))
        .await
        .expect("another caller's id does not replay the first caller's answer")
        .into_inner();
    assert_eq!((first.sequence, other.sequence), (2, 3));
    assert_eq!(other.actor, "robotid://operator/OP0001");

    // Each caller's retry answers its own first call; a different request
    // under a caller's used id is that caller's mistake only.
    let retried = provider
        .record_event(maintenance("oil"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried, first);
    assert_refused(
        operator.record_event(maintenance("brakes")).await,
        Code::FailedPrecondition,
        "REQUEST_ID_REUSED",
    );
    let blocked = provider.record_event(maintenance("brakes")).await;
    assert_refused(blocked, Code::FailedPrecondition, "REQUEST_ID_REUSED");
    assert_eq!(registry.all_events(&id).await.len(), 3);

    // Another method under the same id is another request.
    let mut issuance = registry.as_("issuance").await;
    let registered = issuance
        .register_robots(pb::RegisterRobotsRequest {
            request_id: "work-order-1".into(),
            robots: vec![registration(&robot(2))],
            on_behalf_of: String::new(),
        })
        .await
        .expect("the same id for another method is another request")
        .into_inner();
    assert_eq!(registered.registered_count, 1);
}

/// Reflection on the registry's port lists the registry, health and
/// reflection only, and resolves the error details every refusal carries
/// (with every file they import), so that grpcurl can print them.
async fn reflection_lists_this_port_and_resolves_error_details(db: TestDb) {
    let registry = spawn_registry(db).await;
    let channel = channel(registry.addr, None).await;
    assert_eq!(
        list_services(&channel).await,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "robotid.registry.v1.RegistryService",
        ]
    );
    for symbol in [
        "google.rpc.ErrorInfo",
        "google.rpc.BadRequest",
        "google.rpc.RetryInfo",
        "google.rpc.Status",
        "robotid.registry.v1.RegistryService",
    ] {
        let files = resolve_symbol(&channel, symbol)
            .await
            .unwrap_or_else(|e| panic!("{symbol}: {e}"));
        assert!(!files.is_empty(), "{symbol}");
    }
}

/// Past the per-identity rate limit, or the calls its database serves at
/// once, the registry answers RESOURCE_EXHAUSTED with a RetryInfo at once
/// (shed, not queued); a client of the API
/// (`robotid_platform::client::Retrying`) waits as told and gets every
/// answer, where a bare channel sees the refusals.
async fn clients_retry_after_the_registrys_retry_info(db: TestDb) {
    let registry = spawn_registry_with(db, |config| {
        config.server.limits.rate_limit = std::num::NonZeroU32::new(20).unwrap();
    })
    .await;
    let id = robot(1);
    let mut issuance = registry.as_("issuance").await;
    issuance
        .register_robots(pb::RegisterRobotsRequest {
            request_id: unique("register"),
            robots: vec![registration(&id)],
            on_behalf_of: String::new(),
        })
        .await
        .unwrap();
    let verify = || pb::VerifyHistoryRequest {
        robot_id: id.as_str().to_owned(),
    };
    // The burst (twice the rate) and then some, all at once.
    let calls = 120;
    let bare = registry.as_("regulator").await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..calls {
        let mut bare = bare.clone();
        let request = verify();
        set.spawn(async move { bare.verify_history(request).await });
    }
    let mut limited = 0;
    while let Some(answer) = set.join_next().await {
        if let Err(status) = answer.unwrap() {
            // Past the rate (RATE_LIMITED) or past the calls the database
            // serves at once (OVERLOADED): either says when to come back.
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
            let reason = tonic_types::StatusExt::get_details_error_info(&status)
                .unwrap()
                .reason;
            assert!(
                ["RATE_LIMITED", "OVERLOADED"].contains(&reason.as_str()),
                "{status:?}"
            );
            assert!(tonic_types::StatusExt::get_details_retry_info(&status).is_some());
            limited += 1;
        }
    }
    assert!(limited > 0, "the bare client was never limited");

    let client = pb::registry_service_client::RegistryServiceClient::new(
        robotid_platform::client::Retrying::new(channel(registry.addr, Some("regulator")).await),
    );
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..calls {
        let mut client = client.clone();
        let request = verify();
        set.spawn(async move { client.verify_history(request).await });
    }
    while let Some(answer) = set.join_next().await {
        let verdict = answer
            .unwrap()
            .expect("a client that honours RetryInfo gets its answer")
            .into_inner();
        assert!(verdict.intact);
    }
}

robotid_test_support::each_backend!(
    clients_retry_after_the_registrys_retry_info,
    times_a_caller_reports_must_be_real,
    identifiers_are_one_line_of_visible_text,
    a_request_over_the_size_limit_is_resource_exhausted,
    a_request_id_belongs_to_its_caller,
    reflection_lists_this_port_and_resolves_error_details,
);
