//! Identity and access on the registry, over mutual TLS: the authorization
//! tables walked role by role, scopes, foreign certificates, privacy of
//! holders, the access log and the per-identity rate limit.

mod support;

use std::collections::HashMap;

use robotid_domain::code::RobotId;
use robotid_domain::holder::Holder;
use robotid_domain::lifecycle::EventKind;
use robotid_platform::authz::{Allow, Custody, Tier, event_allows};
use robotid_platform::identity::Caller;
use robotid_proto::common::v1::{EventType, Jurisdiction, RobotStatus, holder};
use robotid_proto::registry::v1 as pb;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use robotid_test_support::identities::{
    IDENTITIES, allowed, assert_answer, caller, expected_refusal, expected_tier, rpcs_of,
};
use robotid_test_support::tls::pki_dir;
use robotid_test_support::{TestDb, each_backend};
use support::*;
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

each_backend!(
    every_rpc_answers_each_identity_as_the_table_says,
    every_event_type_answers_each_identity_as_the_table_says,
    each_tier_sees_its_fields_role_by_role,
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
    let a_recall = registry
        .recall(std::slice::from_ref(&known), "matrix")
        .await
        .name;
    let mut next_robot = 100;
    // The log's calls answer once a checkpoint holds the robot's newest
    // event.
    let head = registry.full(&known).await.head_log_index.unwrap();
    registry.checkpoint_covering(head + 1).await;

    let registry_rpcs = rpcs_of("robotid.registry.v1");
    assert_eq!(
        registry_rpcs.len(),
        21,
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
                            country_code: String::new(),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "ListRecalls" => {
                    let result = client.list_recalls(pb::ListRecallsRequest::default()).await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "GetRecall" => {
                    // The recall is of manufacturer 0001's model: in scope.
                    let result = client
                        .get_recall(pb::GetRecallRequest {
                            name: a_recall.clone(),
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
                "GetCheckpoint" => {
                    let result = client.get_checkpoint(pb::GetCheckpointRequest {}).await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "GetInclusionProof" => {
                    let result = client
                        .get_inclusion_proof(pb::GetInclusionProofRequest {
                            log_index: 0,
                            tree_size: 0,
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "GetConsistencyProof" => {
                    let result = client
                        .get_consistency_proof(pb::GetConsistencyProofRequest {
                            first_tree_size: 1,
                            second_tree_size: 0,
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "GetProofBundle" => {
                    // Calls before this one recalled the robot: its newest
                    // event must be in a checkpoint first.
                    let head = registry.full(&known).await.head_log_index.unwrap();
                    registry.checkpoint_covering(head + 1).await;
                    let result = client
                        .get_proof_bundle(pb::GetProofBundleRequest {
                            robot_id: known.as_str().into(),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "PutPeer" => {
                    let key = |kind: u8| {
                        let signing = ed25519_dalek::SigningKey::from_bytes(&[kind; 32]);
                        if kind == 1 {
                            robotid_tlog::NoteSigner::new("de.registry.test/log", signing)
                                .unwrap()
                                .verifier_key()
                                .to_string()
                        } else {
                            robotid_tlog::Cosigner::new("de.registry.test/witness", signing)
                                .unwrap()
                                .verifier_key()
                                .to_string()
                        }
                    };
                    let result = client
                        .put_peer(pb::PutPeerRequest {
                            peer: Some(pb::Peer {
                                country_code: "DE".into(),
                                log_origin: "de.registry.test/log".into(),
                                log_key: key(1),
                                witness_key: key(4),
                                web_url: "http://127.0.0.1:9".into(),
                                active: false,
                                ..Default::default()
                            }),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "ListPeers" => {
                    let result = client.list_peers(pb::ListPeersRequest {}).await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "ListForkEvidence" => {
                    let result = client
                        .list_fork_evidence(pb::ListForkEvidenceRequest {})
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "DeliverHold" => {
                    let result = client
                        .deliver_hold(pb::DeliverHoldRequest {
                            hold_id: format!("matrix-{who}"),
                            robot_id: known.as_str().into(),
                            r#type: EventType::ReportedStolen.into(),
                            occur_time: Some(prost_types::Timestamp::default()),
                            salt: vec![0; 16],
                            ..Default::default()
                        })
                        .await;
                    // The table admits any registry; the handler then
                    // records holds of active peers only, and this registry
                    // has none.
                    let status = result.expect_err("no hold without a peer");
                    let reason = tonic_types::StatusExt::get_details_error_info(&status)
                        .map(|info| info.reason)
                        .unwrap_or_default();
                    if allowed {
                        assert_eq!(
                            (status.code(), reason.as_str()),
                            (Code::PermissionDenied, "NOT_A_PEER"),
                            "{who}"
                        );
                    } else {
                        assert_eq!(status.code(), refusal, "{who}: {status:?}");
                    }
                }
                "ListCloneAlarms" => {
                    let result = client
                        .list_clone_alarms(pb::ListCloneAlarmsRequest {})
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                other => panic!("no fixture for {other}"),
            }
        }
    }

    // The full view: every participant, the public (and a peer's
    // registry) never.
    for (identity, uri) in IDENTITIES {
        let who = caller(uri);
        let allowed = robotid_platform::authz::FULL_VIEW
            .iter()
            .any(|allow| allow.admits(&who));
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

/// What the event table's conditional entries look at on a robot: who holds
/// it, and who reported it stolen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Situation {
    /// No holder of record, no theft report.
    Unheld,
    /// Held by the caller's own organisation.
    HeldByCaller,
    /// Held by another organisation.
    HeldByStranger,
    /// Held by a private person; the call presents its reference or not.
    HeldPrivately { presented: bool },
    /// Reported stolen by this identity.
    FlaggedBy(&'static str),
}

impl Situation {
    /// The situations in which `kind` is walked: every one its table's
    /// entries tell apart.
    fn of(kind: EventKind) -> Vec<Situation> {
        let allows = event_allows(kind);
        if allows.contains(&Allow::Flagger) {
            vec![
                Situation::FlaggedBy("police"),
                Situation::FlaggedBy("regulator"),
            ]
        } else if allows.contains(&Allow::CurrentHolder) {
            vec![
                Situation::Unheld,
                Situation::HeldByCaller,
                Situation::HeldByStranger,
                Situation::HeldPrivately { presented: true },
                Situation::HeldPrivately { presented: false },
            ]
        } else {
            vec![Situation::Unheld]
        }
    }
}

/// Brings a fresh robot to a state where `kind` is accepted, in
/// `situation` for a call by `who`; returns it with the details the call
/// gives, and the robot's custody as the table sees it.
async fn robot_ready_for(
    registry: &mut TestRegistry,
    kind: EventKind,
    situation: Situation,
    who: &Caller,
    n: u64,
) -> (RobotId, pb::EventDetails, OwnedCustody) {
    use EventType as T;
    let id = robot(n);
    registry.register(std::slice::from_ref(&id)).await;
    let none = pb::EventDetails::default;
    let abroad = || pb::EventDetails {
        country_code: "DE".into(),
        ..none()
    };
    let steps: Vec<(T, pb::EventDetails)> = match kind {
        EventKind::Sold
        | EventKind::Deployed
        | EventKind::ExportCleared
        | EventKind::OwnershipTransferred
        | EventKind::ReportedStolen => vec![(T::ReleasedToMarket, none())],
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
            .record(&id, step, details)
            .await
            .expect("preparing step");
    }
    // On the market, then handed to its holder (a first transfer, by a
    // seller): still for sale, and held.
    let reference = format!("PRIVATE-{n}");
    let holder = match situation {
        Situation::HeldByCaller if !who.is_anonymous() => Some(organization(&who.organization)),
        Situation::HeldByCaller | Situation::HeldByStranger => Some(organization("STRANGER-ORG")),
        Situation::HeldPrivately { .. } => Some(private(&reference)),
        _ => None,
    };
    if let Some(holder) = holder {
        registry
            .record_as(
                "seller",
                &id,
                T::OwnershipTransferred,
                pb::EventDetails { holder, ..none() },
            )
            .await
            .expect("handed to its holder");
    }
    let recall = match kind {
        EventKind::RecallRemedied => Some(
            registry
                .recall(std::slice::from_ref(&id), "walk")
                .await
                .name,
        ),
        _ => None,
    };
    if let Situation::FlaggedBy(flagger) = situation {
        registry
            .record_as(flagger, &id, T::ReportedStolen, none())
            .await
            .expect("reported stolen");
    }
    let mut details = match kind {
        EventKind::Sold | EventKind::OwnershipTransferred => pb::EventDetails {
            holder: organization("NEXT-HOLDER"),
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
        EventKind::RecallRemedied => remedy(recall.as_deref().unwrap()),
        _ => none(),
    };
    if let Situation::HeldPrivately { presented: true } = situation {
        details.current_holder = reference;
    }
    let robot = registry.full(&id).await;
    let custody = OwnedCustody {
        holder: robot.holder.and_then(|h| h.kind).map(|kind| match kind {
            holder::Kind::OrganizationId(id) => Holder::Organization(id),
            holder::Kind::PrivateReferenceHash(hash) => Holder::Private(hash),
            holder::Kind::PrivateReference(_) => unreachable!("input only"),
        }),
        stolen_by: match situation {
            Situation::FlaggedBy(flagger) => Some(
                IDENTITIES
                    .iter()
                    .find(|(name, _)| *name == Some(flagger))
                    .unwrap()
                    .1
                    .to_owned(),
            ),
            _ => None,
        },
        presented: matches!(situation, Situation::HeldPrivately { presented: true }),
    };
    (id, details, custody)
}

/// A robot's custody as the test saw it prepared.
struct OwnedCustody {
    holder: Option<Holder>,
    stolen_by: Option<String>,
    /// The call presents the private holder's reference.
    presented: bool,
}

impl OwnedCustody {
    fn as_custody(&self) -> Custody<'_> {
        Custody {
            holder: self.holder.as_ref(),
            stolen_by: self.stolen_by.as_deref(),
            // The right reference hashes to the holder of record.
            presented_holder: self.holder.as_ref().filter(|_| self.presented),
        }
    }
}

async fn every_event_type_answers_each_identity_as_the_table_says(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let mut clients = clients(&registry).await;
    let mut n = 1_000;
    let recordable = EventKind::ALL
        .into_iter()
        .filter(|k| !matches!(k, EventKind::Issued | EventKind::RecallIssued));
    for kind in recordable {
        let wire = EventType::from_str_name(&format!("EVENT_TYPE_{}", kind.as_str())).unwrap();
        for situation in Situation::of(kind) {
            for (identity, uri) in IDENTITIES {
                let who = caller(uri);
                n += 1;
                let (id, details, custody) =
                    robot_ready_for(&mut registry, kind, situation, &who, n).await;
                // Roles the RecordEvent gate lets through, then the event
                // table on this robot.
                let passes_gate = allowed("/robotid.registry.v1.RegistryService/RecordEvent", &who);
                let allowed = passes_gate
                    && event_allows(kind)
                        .iter()
                        .any(|allow| allow.admits_on(&who, &custody.as_custody()));
                let result = clients
                    .get_mut(identity)
                    .unwrap()
                    .record_event(record_request(&id, wire, details))
                    .await;
                assert_answer(
                    &format!("{} {situation:?}", kind.as_str()),
                    identity.unwrap_or("anonymous"),
                    allowed,
                    expected_refusal(&who),
                    result,
                );
            }
        }
    }

    // ISSUED and RECALL_ISSUED are written by RegisterRobots and
    // CreateRecall only: a direct record is a malformed request.
    let id = robot(n + 1);
    registry.register(std::slice::from_ref(&id)).await;
    for wire in [EventType::Issued, EventType::RecallIssued] {
        for (identity, uri) in IDENTITIES {
            let who = caller(uri);
            let result = clients
                .get_mut(identity)
                .unwrap()
                .record_event(record_request(&id, wire, remedy("recalls/1")))
                .await;
            let expected = if allowed("/robotid.registry.v1.RegistryService/RecordEvent", &who) {
                Code::InvalidArgument
            } else {
                expected_refusal(&who)
            };
            assert_eq!(
                result.expect_err("refused").code(),
                expected,
                "{wire:?} as {identity:?}"
            );
        }
    }
    assert_eq!(registry.full(&id).await.event_count, 1, "nothing written");
    registry.stop().await;
}

fn wire_tier(tier: Tier) -> pb::AccessTier {
    match tier {
        Tier::Public => pb::AccessTier::Public,
        Tier::Participant => pb::AccessTier::Participant,
        Tier::Authority => pb::AccessTier::Authority,
    }
}

/// Checks a rendering of the walk's robot field by field against the tier
/// it must be in: every public field always, the participant fields from
/// PARTICIPANT on, the holder for AUTHORITY only.
#[track_caller]
fn assert_fields(robot: &pb::Robot, tier: Tier, who: &str) {
    let production = robot.production.clone().unwrap_or_default();
    let public = [
        ("robot_id", !robot.robot_id.is_empty()),
        ("display_id", !robot.display_id.is_empty()),
        ("country_code", robot.country_code == "CN"),
        ("manufacturer_code", robot.manufacturer_code == "0001"),
        ("model_code", robot.model_code == "HX0001"),
        ("serial", !robot.serial.is_empty()),
        ("manufacturer_name", !robot.manufacturer_name.is_empty()),
        ("model_name", !robot.model_name.is_empty()),
        ("status", robot.status() == RobotStatus::InMarket),
        ("recalled", robot.recalled),
        (
            "production.production_time",
            production.production_time.is_some(),
        ),
        ("open_recall", robot.open_recall.starts_with("recalls/")),
        (
            "open_recalls",
            robot.open_recalls.len() == 1 && robot.open_recalls[0].reason == "walk recall",
        ),
        ("stolen", robot.stolen),
        (
            "jurisdiction",
            robot.jurisdiction() == Jurisdiction::Domestic,
        ),
    ];
    for (field, shown) in public {
        assert!(shown, "{who}: {field} is on the public card: {robot:?}");
    }
    let participant = [
        ("production.factory", !production.factory.is_empty()),
        ("event_count", robot.event_count > 0),
        ("head_hash", !robot.head_hash.is_empty()),
        ("register_time", robot.register_time.is_some()),
        ("update_time", robot.update_time.is_some()),
    ];
    for (field, shown) in participant {
        assert_eq!(
            shown,
            tier >= Tier::Participant,
            "{who}: {field} in {tier:?}"
        );
    }
    assert_eq!(
        robot.holder.is_some(),
        tier == Tier::Authority,
        "{who}: holder in {tier:?}"
    );
    assert_eq!(robot.tier(), wire_tier(tier), "{who}");
}

/// The tiers (README, *Identity and access*; after the EU Battery Passport, Annex XIII),
/// field by field, role by role: the card for everyone; the technical
/// record and history without holders for every certified role; the holder
/// for the regulator, this country's customs and police, and the holder of
/// record itself.
async fn each_tier_sees_its_fields_role_by_role(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let mut clients = clients(&registry).await;
    // One robot held by the operator's organisation, one by a private
    // person; both recalled and reported stolen, so that every public field
    // has something to show.
    let (by_operator, privately) = (robot(1), robot(2));
    registry
        .register(&[by_operator.clone(), privately.clone()])
        .await;
    for (id, holder) in [
        (&by_operator, organization("OP0001")),
        (&privately, private("WALK-PRIVATE-1")),
    ] {
        registry
            .record(id, EventType::ReleasedToMarket, Default::default())
            .await
            .unwrap();
        registry
            .record_as(
                "seller",
                id,
                EventType::OwnershipTransferred,
                pb::EventDetails {
                    holder,
                    note: "handed over at the Wuhan store".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        registry
            .recall(std::slice::from_ref(id), "walk recall")
            .await;
        registry
            .record_as("police", id, EventType::ReportedStolen, Default::default())
            .await
            .unwrap();
    }

    for (identity, uri) in IDENTITIES {
        let who = caller(uri);
        let name = identity.unwrap_or("anonymous");
        let client = clients.get_mut(identity).unwrap();
        for id in [&by_operator, &privately] {
            let holds = id == &by_operator && who.organization == "OP0001";
            let tier = expected_tier(*identity, holds);
            let card = client
                .get_robot(pb::GetRobotRequest {
                    robot_id: id.as_str().into(),
                    view: pb::RobotView::Public.into(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_fields(&card, Tier::Public, name);

            let full = client
                .get_robot(pb::GetRobotRequest {
                    robot_id: id.as_str().into(),
                    view: pb::RobotView::Full.into(),
                })
                .await;
            let events = client
                .list_events(pb::ListEventsRequest {
                    robot_id: id.as_str().into(),
                    page_size: 0,
                    page_token: String::new(),
                })
                .await;
            if tier == Tier::Public {
                let (code, reason) = if who.is_anonymous() {
                    (Code::Unauthenticated, "IDENTITY_REQUIRED")
                } else {
                    (Code::PermissionDenied, "ROLE_NOT_ALLOWED")
                };
                assert_refused(full, code, reason);
                assert_refused(events, code, reason);
                continue;
            }
            assert_fields(&full.unwrap().into_inner(), tier, name);
            let events = events.unwrap().into_inner();
            assert_eq!(events.tier(), wire_tier(tier), "{name}");
            // Every event is listed, the handover too; its holder and note
            // for authorities only.
            assert_eq!(events.events.len(), 5, "{name}");
            let handover = &events.events[2];
            assert_eq!(handover.r#type(), EventType::OwnershipTransferred);
            let details = handover.details.clone().unwrap();
            assert_eq!(details.holder.is_some(), tier == Tier::Authority, "{name}");
            assert_eq!(details.note.is_empty(), tier < Tier::Authority, "{name}");
            assert_eq!(handover.redacted, tier < Tier::Authority, "{name}");
            // The technical history is there for every participant.
            assert_eq!(events.events[3].r#type(), EventType::RecallIssued);
            assert!(!events.events[3].details.clone().unwrap().recall.is_empty());
        }
    }

    // Customs and police of another country are participants here; a
    // manufacturer sees only its own robots.
    for (name, expected) in [
        ("customs-de", Ok(Tier::Participant)),
        ("police-de", Ok(Tier::Participant)),
        ("manufacturer-0002", Err("OUT_OF_SCOPE")),
    ] {
        let full = registry
            .as_(name)
            .await
            .get_robot(pb::GetRobotRequest {
                robot_id: by_operator.as_str().into(),
                view: pb::RobotView::Full.into(),
            })
            .await;
        match expected {
            Ok(tier) => assert_fields(&full.unwrap().into_inner(), tier, name),
            Err(reason) => {
                assert_refused(full, Code::PermissionDenied, reason);
            }
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
                country_code: String::new(),
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
            // A registration names its robots, even in a batch.
            ("robotid://service/issuance", "RegisterRobots(1)", "OK"),
            (
                "robotid://manufacturer/0001",
                "RecordEvent(RELEASED_TO_MARKET)",
                "OK"
            ),
            ("robotid://regulator/miit", "GetRobot(FULL)", "OK"),
            (
                "robotid://regulator/miit",
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

    // Nor can a guess of a reference be confirmed from a stored request
    // fingerprint: it covers the keyed hashes, not the references. Here a
    // resale presents the holder's reference and names the next one.
    let id = robot(200);
    let resale = pb::RecordEventRequest {
        details: Some(pb::EventDetails {
            holder: private("PRIVATE-BUYER-NEXT"),
            current_holder: references[0].clone(),
            ..Default::default()
        }),
        ..record_request(&id, EventType::OwnershipTransferred, Default::default())
    };
    registry
        .as_("seller")
        .await
        .record_event(resale.clone())
        .await
        .expect("resold for its holder");
    let guessed: [u8; 32] = {
        use prost::Message;
        use sha2::Digest;
        let mut unkeyed = resale;
        unkeyed.request_id.clear();
        sha2::Sha256::digest(unkeyed.encode_to_vec()).into()
    };
    let literal = match registry.db.backend {
        robotid_test_support::Backend::Sqlite => format!("X'{}'", hex(&guessed)),
        robotid_test_support::Backend::Postgres => format!("'\\x{}'::bytea", hex(&guessed)),
    };
    let confirmed = registry
        .tamper(format!(
            "UPDATE requests SET created_at = created_at WHERE fingerprint = {literal}"
        ))
        .await;
    assert_eq!(
        confirmed, 0,
        "a guess of the references matched a fingerprint"
    );
    registry.stop().await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
