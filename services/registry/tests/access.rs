//! Identity and access on the registry, over mutual TLS: the authorization
//! tables walked role by role, scopes, foreign certificates, privacy of
//! holders, the access log and the per-identity rate limit.

mod support;

use std::collections::HashMap;

use robotid_domain::code::RobotId;
use robotid_domain::lifecycle::EventKind;
use robotid_platform::authz::event_allows;
use robotid_proto::common::v1::EventType;
use robotid_proto::registry::v1 as pb;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use robotid_test_support::identities::{
    IDENTITIES, allowed, assert_answer, caller, expected_refusal, rpcs_of,
};
use robotid_test_support::tls::pki_dir;
use robotid_test_support::{TestDb, each_backend};
use support::*;
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

each_backend!(
    every_rpc_answers_each_identity_as_the_table_says,
    every_event_type_answers_each_identity_as_the_table_says,
    a_manufacturer_acts_only_under_its_own_code,
    the_access_log_holds_every_full_read_and_write_and_shows_an_edit,
    raw_private_holder_references_are_stored_nowhere,
    one_noisy_identity_is_limited_and_told_when_to_retry,
);

async fn clients(
    registry: &TestRegistry,
) -> HashMap<Option<&'static str>, RegistryServiceClient<tonic::transport::Channel>> {
    let mut clients = HashMap::new();
    for (identity, _) in IDENTITIES {
        let client = match identity {
            Some(name) => registry.as_(name).await,
            None => registry.client.clone(),
        };
        clients.insert(*identity, client);
    }
    clients
}

async fn every_rpc_answers_each_identity_as_the_table_says(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let mut clients = clients(&registry).await;
    let known = robot(1);
    registry.register(std::slice::from_ref(&known)).await;
    let mut next_robot = 100;

    let registry_rpcs = rpcs_of("robotid.registry.v1");
    assert_eq!(
        registry_rpcs.len(),
        10,
        "every registry RPC is in the table"
    );
    for (method, allows) in registry_rpcs {
        let name = method.rsplit('/').next().unwrap();
        for (identity, uri) in IDENTITIES {
            let who = caller(uri);
            let allowed = allows.iter().any(|allow| allow.admits(&who));
            let refusal = expected_refusal(&who);
            let client = clients.get_mut(identity).unwrap();
            let who = identity.unwrap_or("anonymous");
            match name {
                "RegisterRobots" => {
                    next_robot += 1;
                    let result = client
                        .register_robots(pb::RegisterRobotsRequest {
                            request_id: unique("matrix"),
                            robots: vec![registration(&robot(next_robot))],
                            on_behalf_of: String::new(),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "GetRobot" => {
                    let result = client
                        .get_robot(pb::GetRobotRequest {
                            robot_id: known.as_str().into(),
                            view: pb::RobotView::Public.into(),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "RecordEvent" => {
                    // The RPC gate only; event types are walked below. A
                    // malformed event shows the gate was passed.
                    let result = client
                        .record_event(pb::RecordEventRequest {
                            request_id: unique("matrix"),
                            robot_id: known.as_str().into(),
                            r#type: EventType::Unspecified.into(),
                            details: None,
                            occur_time: None,
                        })
                        .await;
                    let code = result
                        .expect_err("an unspecified event is malformed")
                        .code();
                    let expected = if allowed {
                        Code::InvalidArgument
                    } else {
                        refusal
                    };
                    assert_eq!(code, expected, "RecordEvent gate as {who}");
                }
                "RecordEvents" => {
                    // The RPC gate only, as for RecordEvent.
                    let result = client
                        .record_events(pb::RecordEventsRequest {
                            request_id: unique("matrix"),
                            events: vec![pb::RecordEventRequest {
                                request_id: String::new(),
                                robot_id: known.as_str().into(),
                                r#type: EventType::Unspecified.into(),
                                details: None,
                                occur_time: None,
                            }],
                            on_behalf_of: String::new(),
                        })
                        .await;
                    let code = result
                        .expect_err("an unspecified event is malformed")
                        .code();
                    let expected = if allowed {
                        Code::InvalidArgument
                    } else {
                        refusal
                    };
                    assert_eq!(code, expected, "RecordEvents gate as {who}");
                }
                "ListEvents" => {
                    let result = client
                        .list_events(pb::ListEventsRequest {
                            robot_id: known.as_str().into(),
                            page_size: 5,
                            page_token: String::new(),
                        })
                        .await;
                    // A manufacturer's scope is its own code: robot(1) is 0001's.
                    assert_answer(name, who, allowed, refusal, result);
                }
                "VerifyHistory" => {
                    let result = client
                        .verify_history(pb::VerifyHistoryRequest {
                            robot_id: known.as_str().into(),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "CreateRecall" => {
                    let result = client
                        .create_recall(pb::CreateRecallRequest {
                            request_id: unique("matrix"),
                            manufacturer_code: "0001".into(),
                            model_code: "HX0001".into(),
                            robot_ids: vec![known.as_str().into()],
                            reason: "matrix".into(),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "CheckEligibility" => {
                    let result = client
                        .check_eligibility(pb::CheckEligibilityRequest {
                            robot_ids: vec![known.as_str().into()],
                            intended_event: EventType::ExportCleared.into(),
                            verify_history: true,
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "ListAccessLog" => {
                    let result = client
                        .list_access_log(pb::ListAccessLogRequest::default())
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "VerifyAccessLog" => {
                    let result = client
                        .verify_access_log(pb::VerifyAccessLogRequest {})
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                other => panic!("no fixture for {other}"),
            }
        }
    }

    // The full view: every participant, the public never.
    for (identity, uri) in IDENTITIES {
        let who = caller(uri);
        let allowed = !who.is_anonymous();
        let result = clients
            .get_mut(identity)
            .unwrap()
            .get_robot(pb::GetRobotRequest {
                robot_id: known.as_str().into(),
                view: pb::RobotView::Full.into(),
            })
            .await;
        assert_answer(
            "GetRobot(FULL)",
            identity.unwrap_or("anonymous"),
            allowed,
            expected_refusal(&who),
            result,
        );
    }
    registry.stop().await;
}

/// Brings a fresh robot to a state where `kind` is accepted, and returns it
/// with the details `kind` needs.
async fn robot_ready_for(
    registry: &mut TestRegistry,
    kind: EventKind,
    n: u64,
) -> (RobotId, pb::EventDetails) {
    use EventType as T;
    let id = robot(n);
    registry.register(std::slice::from_ref(&id)).await;
    let none = pb::EventDetails::default;
    let abroad = || pb::EventDetails {
        country_code: "DE".into(),
        ..none()
    };
    let steps: &[(T, pb::EventDetails)] = &match kind {
        EventKind::Sold | EventKind::Deployed | EventKind::ExportCleared => {
            vec![(T::ReleasedToMarket, none())]
        }
        EventKind::OwnershipTransferred => vec![
            (T::ReleasedToMarket, none()),
            (
                T::Sold,
                pb::EventDetails {
                    holder: organization("ACME"),
                    ..none()
                },
            ),
        ],
        EventKind::RecallRemedied => vec![(T::RecallIssued, none())],
        EventKind::Recovered => vec![(T::ReportedStolen, none())],
        EventKind::Exported | EventKind::ExportClearanceCancelled => {
            vec![(T::ReleasedToMarket, none()), (T::ExportCleared, abroad())]
        }
        EventKind::Imported => vec![
            (T::ReleasedToMarket, none()),
            (T::ExportCleared, abroad()),
            (T::Exported, abroad()),
        ],
        EventKind::Recycled => vec![(T::Decommissioned, none())],
        _ => vec![],
    };
    for (step, details) in steps {
        registry
            .record(&id, *step, details.clone())
            .await
            .expect("preparing step");
    }
    let details = match kind {
        EventKind::Sold | EventKind::OwnershipTransferred => pb::EventDetails {
            holder: organization("ACME"),
            ..none()
        },
        EventKind::ExportCleared
        | EventKind::Exported
        | EventKind::Imported
        | EventKind::ExportClearanceCancelled => abroad(),
        EventKind::ComponentReplaced => pb::EventDetails {
            component: "hand".into(),
            ..none()
        },
        EventKind::FirmwareUpdated => pb::EventDetails {
            firmware_version: "9.9".into(),
            ..none()
        },
        _ => none(),
    };
    (id, details)
}

async fn every_event_type_answers_each_identity_as_the_table_says(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let mut clients = clients(&registry).await;
    let mut n = 1_000;
    for kind in EventKind::ALL
        .into_iter()
        .filter(|k| *k != EventKind::Issued)
    {
        let wire = EventType::from_str_name(&format!("EVENT_TYPE_{}", kind.as_str())).unwrap();
        for (identity, uri) in IDENTITIES {
            let who = caller(uri);
            // Roles the RecordEvent gate lets through, then the event table.
            let passes_gate = allowed("/robotid.registry.v1.RegistryService/RecordEvent", &who);
            let allowed = passes_gate && event_allows(kind).iter().any(|allow| allow.admits(&who));
            n += 1;
            let (id, details) = robot_ready_for(&mut registry, kind, n).await;
            let result = clients
                .get_mut(identity)
                .unwrap()
                .record_event(pb::RecordEventRequest {
                    request_id: unique("events"),
                    robot_id: id.as_str().into(),
                    r#type: wire.into(),
                    details: Some(details),
                    occur_time: None,
                })
                .await;
            assert_answer(
                kind.as_str(),
                identity.unwrap_or("anonymous"),
                allowed,
                expected_refusal(&who),
                result,
            );
        }
    }
    registry.stop().await;
}

async fn a_manufacturer_acts_only_under_its_own_code(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let theirs = robot(1);
    registry.register(std::slice::from_ref(&theirs)).await;
    let mut other = registry.as_("manufacturer-0002").await;

    let status = assert_refused(
        other
            .record_event(pb::RecordEventRequest {
                request_id: unique("scope"),
                robot_id: theirs.as_str().into(),
                r#type: EventType::ReleasedToMarket.into(),
                details: None,
                occur_time: None,
            })
            .await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    assert!(status.message().contains("0002"));
    assert_refused(
        other
            .create_recall(pb::CreateRecallRequest {
                request_id: unique("scope"),
                manufacturer_code: "0001".into(),
                model_code: "HX0001".into(),
                robot_ids: vec![],
                reason: "not mine to recall".into(),
            })
            .await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    assert_refused(
        other
            .get_robot(pb::GetRobotRequest {
                robot_id: theirs.as_str().into(),
                view: pb::RobotView::Full.into(),
            })
            .await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    // Nothing was written.
    assert_eq!(registry.full(&theirs).await.event_count, 1);

    // A certificate from another CA does not complete a call.
    let foreign = robotid_pki::CertificateAuthority::new("Someone else's CA").unwrap();
    let impostor = foreign
        .issue(&robotid_pki::Holder::client(
            "x",
            "robotid://regulator/miit",
        ))
        .unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(
            std::fs::read(pki_dir().join("ca.crt")).unwrap(),
        ))
        .domain_name("localhost")
        .identity(Identity::from_pem(impostor.cert_pem, impostor.key_pem));
    let channel = Endpoint::from_shared(format!("https://{}", registry.addr))
        .unwrap()
        .tls_config(tls)
        .unwrap();
    let outcome = match channel.connect().await {
        Err(_) => None,
        Ok(channel) => Some(
            RegistryServiceClient::new(channel)
                .get_robot(pb::GetRobotRequest {
                    robot_id: theirs.as_str().into(),
                    view: pb::RobotView::Public.into(),
                })
                .await,
        ),
    };
    assert!(
        matches!(outcome, None | Some(Err(_))),
        "a foreign certificate must not get an answer: {outcome:?}"
    );

    // The anonymous public gets the card and nothing else.
    let card = registry
        .get(theirs.as_str(), pb::RobotView::Public)
        .await
        .unwrap();
    assert_eq!(card.view(), pb::RobotView::Public);
    assert!(card.holder.is_none() && card.head_hash.is_empty() && card.event_count == 0);
    assert_refused(
        registry
            .client
            .list_events(pb::ListEventsRequest {
                robot_id: theirs.as_str().into(),
                page_size: 0,
                page_token: String::new(),
            })
            .await,
        Code::Unauthenticated,
        "IDENTITY_REQUIRED",
    );
    registry.stop().await;
}

async fn the_access_log_holds_every_full_read_and_write_and_shows_an_edit(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let id = robot(5);
    registry.register(std::slice::from_ref(&id)).await;
    registry
        .record(&id, EventType::ReleasedToMarket, Default::default())
        .await
        .unwrap();
    registry
        .get(id.as_str(), pb::RobotView::Full)
        .await
        .unwrap();
    registry
        .get(id.as_str(), pb::RobotView::Public)
        .await
        .unwrap();
    // A refused write is logged with its reason.
    registry
        .record(&id, EventType::Recovered, Default::default())
        .await
        .unwrap_err();

    let entries = registry.access_log_of(&id).await;
    let mut regulator = registry.as_("regulator").await;
    let seen: Vec<(&str, &str, &str)> = entries
        .iter()
        .rev()
        .map(|e| (e.caller.as_str(), e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "robotid://manufacturer/0001",
                "RecordEvent(RELEASED_TO_MARKET)",
                "OK"
            ),
            ("robotid://regulator/miit", "GetRobot(FULL)", "OK"),
            (
                "robotid://operator/OP0001",
                "RecordEvent(RECOVERED)",
                "FailedPrecondition NOT_REPORTED_STOLEN"
            ),
            // Reading the log is itself a logged read.
            ("robotid://regulator/miit", "ListAccessLog", "OK"),
        ],
        "the public card is not logged; everything else is"
    );
    let all = regulator
        .list_access_log(pb::ListAccessLogRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert!(
        all.iter()
            .any(|e| e.action == "RegisterRobots(1)" && e.caller == "robotid://service/issuance")
    );

    assert!(
        regulator
            .verify_access_log(pb::VerifyAccessLogRequest {})
            .await
            .unwrap()
            .into_inner()
            .intact
    );
    registry
        .tamper(format!(
            "UPDATE access_log SET caller = 'robotid://regulator/nobody' WHERE robot_id = '{id}' AND action = 'GetRobot(FULL)'"
        ))
        .await;
    let verdict = regulator
        .verify_access_log(pb::VerifyAccessLogRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!verdict.intact, "{verdict:?}");
    assert!(verdict.problem.contains("changed"), "{}", verdict.problem);
    registry.stop().await;
}

async fn raw_private_holder_references_are_stored_nowhere(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let references: Vec<String> = (0..5).map(|i| format!("PRIVATE-BUYER-{i}-7f3a")).collect();
    for (i, reference) in references.iter().enumerate() {
        let id = robot(200 + i as u64);
        registry.register(std::slice::from_ref(&id)).await;
        registry
            .record(&id, EventType::ReleasedToMarket, Default::default())
            .await
            .unwrap();
        registry
            .record(
                &id,
                EventType::Sold,
                pb::EventDetails {
                    holder: private(reference),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let full = registry.full(&id).await;
        assert!(!format!("{full:?}").contains(reference.as_str()));
    }
    let stored = registry.dump().await;
    for reference in &references {
        assert!(
            !stored.contains(reference.as_str()),
            "{reference} found in the database"
        );
    }
    registry.stop().await;
}

async fn one_noisy_identity_is_limited_and_told_when_to_retry(db: TestDb) {
    let registry = spawn_registry_with(db, |config| {
        config.server.limits.rate_limit = std::num::NonZeroU32::new(5).unwrap();
    })
    .await;
    let mut noisy = registry.as_("seller").await;
    let mut limited = None;
    // Burst 10, 5 more a second: 20 quick calls overrun it.
    for _ in 0..20 {
        let answer = noisy
            .get_robot(pb::GetRobotRequest {
                robot_id: robot(1).as_str().into(),
                view: pb::RobotView::Public.into(),
            })
            .await;
        if let Err(status) = answer
            && status.code() == Code::ResourceExhausted
        {
            limited = Some(status);
            break;
        }
    }
    let status = limited.expect("a burst past the limit is limited");
    let details = tonic_types::StatusExt::get_error_details(&status);
    assert_eq!(details.error_info().unwrap().reason, "RATE_LIMITED");
    assert!(details.retry_info().unwrap().retry_delay.is_some());
    // Another identity is not held back by the noisy one.
    let mut other = registry.as_("operator").await;
    let answer = other
        .get_robot(pb::GetRobotRequest {
            robot_id: robot(1).as_str().into(),
            view: pb::RobotView::Public.into(),
        })
        .await;
    assert_eq!(
        answer.unwrap_err().code(),
        Code::NotFound,
        "served, not limited"
    );
    registry.stop().await;
}
