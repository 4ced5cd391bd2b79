//! One deployment's transfer service over real gRPC and mutual TLS, on
//! SQLite and (when `TEST_DATABASE_URL` is set) PostgreSQL: the trust list,
//! retries and the shipment's states, and what happens with the registry
//! down.

mod support;

use robotid_credential::clearance::verify_clearance;
use robotid_domain::transfer::TransferId;
use robotid_proto::common::v1::{EventType, Jurisdiction};
use robotid_proto::registry::v1 as registry;
use robotid_proto::transfer::v1 as pb;
use robotid_test_support::{TestDb, each_backend};
use support::*;
use tonic::Code;

each_backend!(
    the_regulator_keeps_the_trust_list,
    retries_are_answered_and_confirmations_follow_the_states,
    malformed_requests_are_invalid_and_foreign_customs_refused,
    with_the_registry_down_nothing_is_cleared_and_nothing_recorded,
);

async fn the_regulator_keeps_the_trust_list(db: TestDb) {
    let de = Deployment::spawn("DE", "CN", db).await;
    let mut regulator = de.transfer_as("regulator").await;
    let cn_key = robotid_credential::SigningKey::from_seed(&[11; 32]);
    let entry = trusted_key("CN", &cn_key, days_from_now(-1), days_from_now(365));
    let add = |request_id: &str, entry: pb::TrustedRegistry| pb::AddTrustedRegistryRequest {
        request_id: request_id.into(),
        trusted_registry: Some(entry),
    };

    let request_id = unique("trust");
    let added = regulator
        .add_trusted_registry(add(&request_id, entry.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.name, format!("trustedRegistries/CN-{}", cn_key.kid()));
    assert_eq!(added.key_id, cn_key.kid().to_string());
    assert_eq!(added.public_key, entry.public_key);
    assert_eq!(added.not_after, entry.not_after);
    assert!(!added.revoked);
    // A retry answers the same; the same key again is refused.
    let again = regulator
        .add_trusted_registry(add(&request_id, entry.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, added);
    assert_refused(
        regulator
            .add_trusted_registry(add(&unique("trust"), entry.clone()))
            .await,
        Code::AlreadyExists,
        "TRUSTED_REGISTRY_EXISTS",
    );

    // The key id is the key's; the key must be one; keys expire; the home
    // registry is not foreign.
    let invalid = [
        pb::TrustedRegistry {
            key_id: "0011223344556677".into(),
            ..entry.clone()
        },
        pb::TrustedRegistry {
            public_key: vec![7; 31],
            ..entry.clone()
        },
        pb::TrustedRegistry {
            not_after: None,
            ..entry.clone()
        },
        pb::TrustedRegistry {
            not_after: Some(days_from_now(-2)),
            ..entry.clone()
        },
        trusted_key(
            "DE",
            &robotid_credential::SigningKey::from_seed(&[12; 32]),
            days_from_now(-1),
            days_from_now(1),
        ),
    ];
    for entry in invalid {
        assert_refused(
            regulator
                .add_trusted_registry(add(&unique("trust"), entry.clone()))
                .await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
    }

    // Only the regulator changes the list; every participant may read it,
    // the public may not.
    assert_refused(
        de.customs()
            .await
            .add_trusted_registry(add(&unique("trust"), entry.clone()))
            .await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
    assert_eq!(
        de.transfer_anonymous()
            .await
            .list_trusted_registries(pb::ListTrustedRegistriesRequest::default())
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    // Pages, in name order.
    for seed in [21, 22] {
        let key = robotid_credential::SigningKey::from_seed(&[seed; 32]);
        de.trust(trusted_key(
            "FR",
            &key,
            days_from_now(-1),
            days_from_now(30),
        ))
        .await;
    }
    let mut customs = de.customs().await;
    let mut names = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = customs
            .list_trusted_registries(pb::ListTrustedRegistriesRequest {
                page_size: 2,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.trusted_registries.len() <= 2);
        names.extend(page.trusted_registries.into_iter().map(|t| t.name));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(names.len(), 3);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(names[0].starts_with("trustedRegistries/CN-"));

    // Revocation is kept, with its first time.
    let revoked = de.revoke(&added.name).await;
    assert!(revoked.revoked);
    let first_time = revoked.revoke_time.expect("revoke time");
    let again = de.revoke(&added.name).await;
    assert_eq!(again.revoke_time, Some(first_time));
    let mut regulator = de.transfer_as("regulator").await;
    assert_refused(
        regulator
            .revoke_trusted_registry(pb::RevokeTrustedRegistryRequest {
                request_id: unique("revoke"),
                name: "trustedRegistries/CN-00112233445566ff".into(),
            })
            .await,
        Code::NotFound,
        "TRUSTED_REGISTRY_NOT_FOUND",
    );
    assert_refused(
        regulator
            .revoke_trusted_registry(pb::RevokeTrustedRegistryRequest {
                request_id: unique("revoke"),
                name: "registries/CN".into(),
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    de.stop().await;
}

async fn retries_are_answered_and_confirmations_follow_the_states(db: TestDb) {
    let mut cn = Deployment::spawn("CN", "DE", db).await;
    let robots = cn.issue("HX0001", 4).await;
    let [r0, r1, r2, r3] = [0, 1, 2, 3].map(|i| robots[i].id.clone());
    cn.recall(&r1).await;
    let mut customs = cn.customs().await;

    // A retry is answered from what the first call stored: the same
    // transfer, the same signed clearance, and no further registry call.
    let request = export("CN", "DE", &[&r0], false);
    let cleared = customs
        .request_clearance(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cleared.state(), pb::TransferState::Cleared);
    let calls = cn.registry_calls_by_transfer().await;
    let again = customs
        .request_clearance(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, cleared);
    assert_eq!(cn.registry_calls_by_transfer().await, calls);
    assert_refused(
        customs
            .request_clearance(pb::RequestClearanceRequest {
                robots: export("CN", "DE", &[&r2], false).robots,
                ..request.clone()
            })
            .await,
        Code::FailedPrecondition,
        "REQUEST_ID_REUSED",
    );

    // An export is confirmed departed, once; not arrived.
    let confirm = |request_id: &str| pb::ConfirmDepartureRequest {
        request_id: request_id.into(),
        name: cleared.name.clone(),
    };
    assert_refused(
        customs
            .confirm_arrival(pb::ConfirmArrivalRequest {
                request_id: unique("arrival"),
                name: cleared.name.clone(),
            })
            .await,
        Code::FailedPrecondition,
        "WRONG_DIRECTION",
    );
    let departure_id = unique("departure");
    let departed = customs
        .confirm_departure(confirm(&departure_id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(departed.state(), pb::TransferState::Departed);
    // The same clearance, signed again with its departure.
    let public = cn.key.verifying_key();
    let stamped = verify_clearance(&departed.clearance, &public).unwrap();
    let before = verify_clearance(&cleared.clearance, &public).unwrap();
    assert_eq!(before.departed_at, None);
    let departure = stamped.departed_at.expect("the departure is signed");
    assert_eq!(stamped, before.departed(departure));
    assert_eq!(departed.updated_by, "robotid://customs/CN-SHA");
    assert_eq!(cn.robot(&r0).await.jurisdiction(), Jurisdiction::Abroad);
    let retried = customs
        .confirm_departure(confirm(&departure_id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried, departed);
    assert_refused(
        customs
            .confirm_departure(confirm(&unique("departure")))
            .await,
        Code::FailedPrecondition,
        "ALREADY_DEPARTED",
    );
    let kinds: Vec<EventType> = cn.events(&r0).await.iter().map(|e| e.r#type()).collect();
    assert_eq!(
        kinds,
        [
            EventType::Issued,
            EventType::ReleasedToMarket,
            EventType::ExportCleared,
            EventType::Exported
        ],
        "each border event once"
    );

    // A refused shipment does not depart.
    let refused = customs
        .request_clearance(export("CN", "DE", &[&r1], false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(refused.state(), pb::TransferState::Refused);
    assert_eq!(reason_of(&refused, &r1), "RECALL_OPEN");
    assert!(refused.clearance.is_empty());
    assert_refused(
        customs
            .confirm_departure(pb::ConfirmDepartureRequest {
                request_id: unique("departure"),
                name: refused.name.clone(),
            })
            .await,
        Code::FailedPrecondition,
        "TRANSFER_NOT_CLEARED",
    );

    // The answer to a clearance was lost after the registry recorded it:
    // the retry finds the robots cleared under its own request id and
    // completes, recording nothing twice.
    let lost = export("CN", "DE", &[&r2], false);
    let id = TransferId::for_request("robotid://customs/CN-SHA", &lost.request_id);
    cn.registry_as("transfer")
        .await
        .record_events(registry::RecordEventsRequest {
            request_id: id.registry_request_id("export-cleared"),
            events: vec![registry::RecordEventRequest {
                request_id: String::new(),
                robot_id: r2.as_str().into(),
                r#type: EventType::ExportCleared.into(),
                details: Some(registry::EventDetails {
                    country_code: "DE".into(),
                    reference: id.name(),
                    ..Default::default()
                }),
                occur_time: None,
            }],
            // What the service sends for the customs it acts for.
            on_behalf_of: "robotid://customs/CN-SHA".into(),
        })
        .await
        .expect("the first attempt's registry step");
    let completed = customs
        .request_clearance(lost.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(completed.name, id.name());
    assert_eq!(completed.state(), pb::TransferState::Cleared);
    let cleared_events = cn
        .events(&r2)
        .await
        .iter()
        .filter(|e| e.r#type() == EventType::ExportCleared)
        .count();
    assert_eq!(cleared_events, 1);
    // Cleared by another transfer, it is pending, not clearable again.
    let other = customs
        .request_clearance(export("CN", "DE", &[&r2, &r3], true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(other.state(), pb::TransferState::PartiallyCleared);
    assert_eq!(reason_of(&other, &r2), "EXPORT_PENDING");
    assert_eq!(reason_of(&other, &r3), "");

    // Reads and lists, filtered and paged.
    assert_eq!(
        customs
            .get_transfer(pb::GetTransferRequest {
                name: cleared.name.clone()
            })
            .await
            .unwrap()
            .into_inner(),
        departed
    );
    assert_refused(
        customs
            .get_transfer(pb::GetTransferRequest {
                name: "transfers/00000000000000ff".into(),
            })
            .await,
        Code::NotFound,
        "TRANSFER_NOT_FOUND",
    );
    assert_refused(
        customs
            .get_transfer(pb::GetTransferRequest {
                name: "robots/1".into(),
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    let all = cn
        .all_transfers(pb::ListTransfersRequest {
            page_size: 1,
            ..Default::default()
        })
        .await;
    let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            other.name.as_str(),
            completed.name.as_str(),
            refused.name.as_str(),
            cleared.name.as_str()
        ],
        "newest first"
    );
    let only = |state: pb::TransferState| pb::ListTransfersRequest {
        state: state.into(),
        ..Default::default()
    };
    let departed_only = cn.all_transfers(only(pb::TransferState::Departed)).await;
    assert_eq!(departed_only, std::slice::from_ref(&departed));
    assert_eq!(
        cn.all_transfers(only(pb::TransferState::Refused))
            .await
            .len(),
        1
    );
    for (office, country, expected) in [
        ("CN-SHA", "", 4),
        ("CN-PEK", "", 0),
        ("", "DE", 4),
        ("", "FR", 0),
    ] {
        let listed = cn
            .all_transfers(pb::ListTransfersRequest {
                customs_office: office.into(),
                country_code: country.into(),
                ..Default::default()
            })
            .await;
        assert_eq!(
            listed.len(),
            expected,
            "office {office:?} country {country:?}"
        );
    }
    let page = customs
        .list_transfers(pb::ListTransfersRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_refused(
        customs
            .list_transfers(pb::ListTransfersRequest {
                page_size: 1,
                page_token: page.next_page_token,
                state: pb::TransferState::Refused.into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    cn.stop().await;
}

async fn malformed_requests_are_invalid_and_foreign_customs_refused(db: TestDb) {
    let mut cn = Deployment::spawn("CN", "DE", db).await;
    let robots = cn.issue("HX0001", 2).await;
    let (r0, r1) = (&robots[0].id, &robots[1].id);
    let mut customs = cn.customs().await;
    let invalid = |field: &'static str, request: pb::RequestClearanceRequest| (field, request);
    let base = export("CN", "DE", &[r0], false);
    let mut mistyped = r0.as_str().to_owned();
    let last = mistyped.pop().unwrap();
    mistyped.push(if last == 'A' { 'B' } else { 'A' });
    let cases = [
        invalid(
            "direction",
            pb::RequestClearanceRequest {
                direction: pb::TransferDirection::Unspecified.into(),
                ..base.clone()
            },
        ),
        invalid("origin_country", export("DE", "FR", &[r0], false)),
        invalid("destination_country", export("CN", "CN", &[r0], false)),
        invalid("robots", export("CN", "DE", &[], false)),
        invalid("robots[1].robot_id", export("CN", "DE", &[r0, r0], false)),
        invalid(
            "robots[0].robot_id",
            pb::RequestClearanceRequest {
                robots: vec![pb::ShipmentRobot {
                    robot_id: mistyped,
                    credential: Vec::new(),
                }],
                ..base.clone()
            },
        ),
        invalid(
            "robots[0].credential",
            pb::RequestClearanceRequest {
                robots: vec![pb::ShipmentRobot {
                    robot_id: r0.as_str().into(),
                    credential: robots[0].credential.clone(),
                }],
                ..base.clone()
            },
        ),
        invalid(
            "origin_clearance",
            pb::RequestClearanceRequest {
                origin_clearance: vec![1, 2, 3],
                ..base.clone()
            },
        ),
        invalid(
            "declarant",
            pb::RequestClearanceRequest {
                declarant: " ".into(),
                ..base.clone()
            },
        ),
        invalid(
            "request_id",
            pb::RequestClearanceRequest {
                request_id: String::new(),
                ..base.clone()
            },
        ),
        invalid(
            "destination_country",
            import("DE", "FR", &[(r0, &[])], &[], false),
        ),
    ];
    for (field, request) in cases {
        let status = assert_refused(
            customs.request_clearance(request).await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        let details = tonic_types::StatusExt::get_error_details(&status);
        assert_eq!(
            details.bad_request().unwrap().field_violations[0].field,
            field,
            "{status:?}"
        );
    }
    let too_many: Vec<robotid_domain::code::RobotId> = (1..=1_001)
        .map(|n| {
            robotid_domain::code::RobotId::issue(
                &"CN".parse().unwrap(),
                &"0001".parse().unwrap(),
                &"HX0009".parse().unwrap(),
                n,
            )
        })
        .collect();
    let too_many: Vec<&robotid_domain::code::RobotId> = too_many.iter().collect();
    assert_refused(
        customs
            .request_clearance(export("CN", "DE", &too_many, false))
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );

    // Customs act for their own country only, whatever they ask; the
    // regulator reads but does not clear.
    let mut abroad = cn.transfer_as(CUSTOMS_ABROAD).await;
    assert_refused(
        abroad
            .request_clearance(export("CN", "DE", &[r1], false))
            .await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    assert_refused(
        abroad
            .list_transfers(pb::ListTransfersRequest::default())
            .await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    assert_refused(
        cn.transfer_as("regulator")
            .await
            .request_clearance(export("CN", "DE", &[r1], false))
            .await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
    assert_eq!(
        cn.transfer_anonymous()
            .await
            .request_clearance(export("CN", "DE", &[r1], false))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    assert!(cn.all_transfers(Default::default()).await.is_empty());
    assert_eq!(cn.robot(r1).await.jurisdiction(), Jurisdiction::Domestic);
    cn.stop().await;
}

async fn with_the_registry_down_nothing_is_cleared_and_nothing_recorded(db: TestDb) {
    let silent_db = db.same_engine().await;
    let mut cn = Deployment::spawn("CN", "DE", db).await;
    let robots = cn.issue("HX0001", 2).await;
    cn.stop_registry().await;
    let mut customs = cn.customs().await;
    let requests = [
        export("CN", "DE", &[&robots[0].id, &robots[1].id], true),
        import("DE", "CN", &[(&robots[0].id, &[])], &[], true),
    ];
    for request in requests.clone() {
        assert_refused(
            customs.request_clearance(request).await,
            Code::Unavailable,
            "REGISTRY_UNAVAILABLE",
        );
    }
    assert!(cn.all_transfers(Default::default()).await.is_empty());
    cn.stop().await;

    // A registry that accepts connections and never answers (hung, or a
    // half-open connection) is unavailable too, after the call timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let hung = Deployment::spawn_with("CN", "DE", silent_db, |config| {
        config.registry_url = format!("https://localhost:{port}");
        config.registry_timeout_ms = 500;
    })
    .await;
    let mut customs = hung.customs().await;
    for request in requests {
        assert_refused(
            customs.request_clearance(request).await,
            Code::Unavailable,
            "REGISTRY_UNAVAILABLE",
        );
    }
    assert!(hung.all_transfers(Default::default()).await.is_empty());
    drop(silent);
    hung.stop().await;
}
