//! Issuance over real gRPC, delivering to a real registry, on real SQLite
//! files and (when `TEST_DATABASE_URL` is set) real PostgreSQL databases:
//! one suite, both stores.

mod support;

use std::io::Write;
use std::time::Instant;

use robotid_credential::verify_id_credential;
use robotid_domain::code::RobotId;
use robotid_domain::time::Timestamp;
use robotid_issuance::relay::RelayStatus;
use robotid_platform::wire::timestamp_from_wire;
use robotid_proto::common::v1::{EventType, RobotStatus};
use robotid_proto::issuance::v1 as pb;
use robotid_test_support::{TestDb, each_backend};
use support::*;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

/// Spoils one field of a valid message.
type Spoil<T> = fn(&mut T);

each_backend!(
    issuing_needs_an_approved_model,
    the_catalog_validates_input_and_lists_in_pages,
    concurrent_callers_get_disjoint_serials_across_a_restart,
    a_retry_returns_the_same_robots_and_writes_nothing,
    a_call_cut_off_after_its_reservation_is_finished_by_its_retry,
    robots_issued_while_the_registry_is_down_arrive_once_it_is_up,
    ten_thousand_robots_in_one_call,
);

async fn issuing_needs_an_approved_model(db: TestDb) {
    let registry = spawn_registry(db.same_engine().await).await;
    let home = IssuanceHome::new(db);
    let mut issuance = home.start(registry.addr, |_| {}).await;

    let created = issuance
        .create_manufacturer(manufacturer(MANUFACTURER))
        .await
        .unwrap();
    assert_eq!(created.name, "manufacturers/0001");
    assert!(created.create_time.is_some());
    let declared = issuance
        .create_model(MANUFACTURER, product_model(MODEL))
        .await
        .unwrap();
    assert_eq!(declared.name, MODEL_NAME);
    assert_eq!(declared.approval_state(), pb::ApprovalState::Pending);
    assert_eq!(declared.key_components.len(), 3);
    assert!(declared.approve_time.is_none());

    // No code, no market access.
    let refused = assert_refused(
        issuance.issue(MODEL_NAME, 5, &unique("issue")).await,
        Code::FailedPrecondition,
        "PRODUCT_MODEL_NOT_APPROVED",
    );
    assert!(refused.message().contains(MODEL_NAME), "{refused:?}");
    assert_eq!(home.stored_counts().await.1, 0);

    let approved = issuance.approve(MODEL_NAME).await.unwrap();
    assert_eq!(approved.approval_state(), pb::ApprovalState::Approved);
    assert!(approved.approve_time.is_some());
    // Approving again is not an error and changes nothing.
    let again = issuance.approve(MODEL_NAME).await.unwrap();
    assert_eq!(again, approved);

    let issued = issuance
        .issue(MODEL_NAME, 5, &unique("issue"))
        .await
        .unwrap();
    assert_eq!(issued.robots.len(), 5);
    let issue_time = timestamp_from_wire(issued.issue_time.as_ref().unwrap());
    for robot in &issued.robots {
        let id = RobotId::parse_issued(&robot.robot_id).expect("a valid check character");
        assert_eq!(id.as_str(), robot.robot_id);
        assert_eq!(&robot.robot_id[..12], "CN0001HX0001");
        assert!(id.catches_every_adjacent_transposition());
        let claims = verify_id_credential(&robot.credential, &issuance.public_key).unwrap();
        assert_eq!(claims.robot_id, id);
        assert_eq!(
            claims.issued_at,
            Timestamp::from_parts(issue_time.to_parts().0, 0)
        );
        assert_eq!(claims.kid, issuance.public_key.kid());
    }

    let fetched = issuance
        .client
        .get_product_model(pb::GetProductModelRequest {
            name: MODEL_NAME.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, approved);
    assert_refused(
        issuance
            .issue(
                "manufacturers/0001/productModels/WK0001",
                1,
                &unique("issue"),
            )
            .await,
        Code::NotFound,
        "PRODUCT_MODEL_NOT_FOUND",
    );
    issuance.stop().await;
    registry.stop().await;
}

async fn the_catalog_validates_input_and_lists_in_pages(db: TestDb) {
    let registry = spawn_registry(db.same_engine().await).await;
    let home = IssuanceHome::new(db);
    let mut issuance = home.start(registry.addr, |_| {}).await;

    // Every field is checked, and the error names it.
    let cases: [(Spoil<pb::Manufacturer>, &str); 5] = [
        (|m| m.code = "001".into(), "manufacturer.code"),
        (
            |m| m.country_code = "C1".into(),
            "manufacturer.country_code",
        ),
        (|m| m.legal_name = " ".into(), "manufacturer.legal_name"),
        (
            |m| m.registration_number = "x".repeat(65),
            "manufacturer.registration_number",
        ),
        // A code under which a swap of neighbours would go unnoticed.
        (|m| m.code = "0045".into(), "manufacturer.code"),
    ];
    for (spoil, field) in cases {
        let mut bad = manufacturer("0002");
        spoil(&mut bad);
        assert_invalid(issuance.create_manufacturer(bad).await, field);
    }
    let refused = assert_invalid(
        issuance.create_manufacturer(manufacturer("0045")).await,
        "manufacturer.code",
    );
    assert!(
        refused.message().contains("choose another code"),
        "{refused:?}"
    );

    for code in ["0005", "0003", "0001", "0004", "0002"] {
        issuance
            .create_manufacturer(manufacturer(code))
            .await
            .unwrap();
    }
    assert_refused(
        issuance.create_manufacturer(manufacturer("0001")).await,
        Code::AlreadyExists,
        "MANUFACTURER_ALREADY_EXISTS",
    );
    assert_refused(
        issuance
            .client
            .get_manufacturer(pb::GetManufacturerRequest {
                name: "manufacturers/0009".into(),
            })
            .await,
        Code::NotFound,
        "MANUFACTURER_NOT_FOUND",
    );

    // Pages of two, in code order, to the end.
    let mut codes = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = issuance
            .client
            .list_manufacturers(pb::ListManufacturersRequest {
                page_size: 2,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.manufacturers.len() <= 2);
        codes.extend(page.manufacturers.into_iter().map(|m| m.code));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(codes, ["0001", "0002", "0003", "0004", "0005"]);
    assert_invalid(
        issuance
            .client
            .list_manufacturers(pb::ListManufacturersRequest {
                page_size: -1,
                page_token: String::new(),
            })
            .await,
        "page_size",
    );

    let model_cases: [(Spoil<pb::ProductModel>, &str); 6] = [
        (|m| m.model_code = "HX01".into(), "product_model.model_code"),
        (
            |m| m.specifications.as_mut().unwrap().mass_g = -1,
            "product_model.specifications.mass_g",
        ),
        (|m| m.specifications = None, "product_model.specifications"),
        (
            |m| m.key_components.push("two\nlines".into()),
            "product_model.key_components[3]",
        ),
        (
            |m| m.display_name = String::new(),
            "product_model.display_name",
        ),
        (
            |m| m.model_code = "HX0189".into(),
            "product_model.model_code",
        ),
    ];
    for (spoil, field) in model_cases {
        let mut bad = product_model("HX0002");
        spoil(&mut bad);
        assert_invalid(issuance.create_model("0001", bad).await, field);
    }
    assert_refused(
        issuance.create_model("0009", product_model("HX0001")).await,
        Code::NotFound,
        "MANUFACTURER_NOT_FOUND",
    );
    for (manufacturer, model) in [
        ("0001", "HX0002"),
        ("0001", "HX0001"),
        ("0002", "HX0001"),
        ("0003", "WK0001"),
    ] {
        issuance
            .create_model(manufacturer, product_model(model))
            .await
            .unwrap();
    }
    assert_refused(
        issuance.create_model("0001", product_model("HX0001")).await,
        Code::AlreadyExists,
        "PRODUCT_MODEL_ALREADY_EXISTS",
    );
    issuance
        .approve("manufacturers/0001/productModels/HX0002")
        .await
        .unwrap();
    issuance
        .approve("manufacturers/0003/productModels/WK0001")
        .await
        .unwrap();

    let list = |parent: &str, approval: pb::ApprovalState| pb::ListProductModelsRequest {
        parent: parent.into(),
        page_size: 1,
        page_token: String::new(),
        approval_state: approval.into(),
    };
    let all_pages = |mut request: pb::ListProductModelsRequest| {
        let mut client = issuance.client.clone();
        async move {
            let mut names = Vec::new();
            loop {
                let page = client
                    .list_product_models(request.clone())
                    .await
                    .unwrap()
                    .into_inner();
                names.extend(page.product_models.into_iter().map(|m| m.name));
                if page.next_page_token.is_empty() {
                    return names;
                }
                request.page_token = page.next_page_token;
            }
        }
    };
    assert_eq!(
        all_pages(list("manufacturers/-", pb::ApprovalState::Unspecified)).await,
        [
            "manufacturers/0001/productModels/HX0001",
            "manufacturers/0001/productModels/HX0002",
            "manufacturers/0002/productModels/HX0001",
            "manufacturers/0003/productModels/WK0001",
        ]
    );
    assert_eq!(
        all_pages(list("manufacturers/-", pb::ApprovalState::Approved)).await,
        [
            "manufacturers/0001/productModels/HX0002",
            "manufacturers/0003/productModels/WK0001",
        ]
    );
    assert_eq!(
        all_pages(list("manufacturers/0001", pb::ApprovalState::Pending)).await,
        ["manufacturers/0001/productModels/HX0001"]
    );
    // A token is only good for the list it came from.
    let first = issuance
        .client
        .list_product_models(list("manufacturers/-", pb::ApprovalState::Unspecified))
        .await
        .unwrap()
        .into_inner();
    assert_invalid(
        issuance
            .client
            .list_product_models(pb::ListProductModelsRequest {
                page_token: first.next_page_token,
                ..list("manufacturers/0001", pb::ApprovalState::Unspecified)
            })
            .await,
        "page_token",
    );
    assert_refused(
        issuance
            .client
            .list_product_models(list("manufacturers/0009", pb::ApprovalState::Unspecified))
            .await,
        Code::NotFound,
        "MANUFACTURER_NOT_FOUND",
    );
    assert_invalid(
        issuance
            .client
            .list_product_models(list("makers/0001", pb::ApprovalState::Unspecified))
            .await,
        "parent",
    );

    for (count, field) in [(0, "count"), (10_001, "count"), (-5, "count")] {
        assert_invalid(
            issuance
                .issue(
                    "manufacturers/0001/productModels/HX0002",
                    count,
                    &unique("issue"),
                )
                .await,
            field,
        );
    }
    assert_invalid(
        issuance.issue("HX0002", 1, &unique("issue")).await,
        "product_model",
    );
    assert_invalid(
        issuance
            .issue("manufacturers/0001/productModels/HX0002", 1, "")
            .await,
        "request_id",
    );
    issuance.stop().await;
    registry.stop().await;
}

async fn concurrent_callers_get_disjoint_serials_across_a_restart(db: TestDb) {
    const CALLERS: usize = 32;
    const EACH: i32 = 25;
    let mut registry = spawn_registry(db.same_engine().await).await;
    let home = IssuanceHome::new(db);
    let mut issuance = home.start(registry.addr, |_| {}).await;
    let model = issuance.approved_model().await;

    let issue_concurrently = |issuance: &TestIssuance| {
        let calls: Vec<_> = (0..CALLERS)
            .map(|_| {
                let mut client = issuance.manufacturer.clone();
                let model = model.clone();
                tokio::spawn(async move {
                    client
                        .issue_robot_ids(pb::IssueRobotIdsRequest {
                            request_id: unique("concurrent"),
                            product_model: model,
                            count: EACH,
                            production: production(),
                        })
                        .await
                        .map(tonic::Response::into_inner)
                })
            })
            .collect();
        async move {
            let mut responses = Vec::new();
            for call in calls {
                responses.push(call.await.unwrap().expect("issued"));
            }
            responses
        }
    };

    let mut responses = issue_concurrently(&issuance).await;
    issuance.stop().await;
    let mut issuance = home.start(registry.addr, |_| {}).await;
    responses.extend(issue_concurrently(&issuance).await);

    let total = 2 * CALLERS * EACH as usize;
    let ids = disjoint_ids(&responses);
    assert_eq!(ids.len(), total);
    for id in &ids {
        let parsed = RobotId::parse_issued(id).expect("a valid check character");
        assert!(parsed.catches_every_adjacent_transposition());
    }
    // Each batch is one run of consecutive (unskipped) sequence numbers.
    for response in &responses {
        let sequences: Vec<u64> = response
            .robots
            .iter()
            .map(|r| RobotId::parse(&r.robot_id).unwrap().sequence().unwrap())
            .collect();
        assert!(sequences.windows(2).all(|w| w[0] < w[1]));
    }
    assert_eq!(home.stored_counts().await.1, total as i64);

    // Every one reaches the registry, once.
    issuance.relay_caught_up().await;
    assert_eq!(
        registry.stored_counts().await,
        (total as i64, total as i64, total as i64)
    );
    let sample = responses[CALLERS].robots[0].robot_id.clone();
    let robot = registry.full(&sample).await.unwrap();
    assert_eq!(robot.status(), RobotStatus::Registered);
    assert_eq!(robot.manufacturer_name, "Hubei Humanoid Works Co., Ltd.");
    assert_eq!(robot.model_name, "SeeLight S1");
    assert_eq!(robot.production.unwrap().factory, "Wuhan line 3");
    issuance.stop().await;
    registry.stop().await;
}

async fn a_retry_returns_the_same_robots_and_writes_nothing(db: TestDb) {
    let registry = spawn_registry(db.same_engine().await).await;
    let home = IssuanceHome::new(db);
    let mut issuance = home.start(registry.addr, |_| {}).await;
    let model = issuance.approved_model().await;

    let request_id = unique("retry");
    let first = issuance.issue(&model, 40, &request_id).await.unwrap();
    let written = home.stored_counts().await;
    assert_eq!(written.1, 40);

    let retry = issuance.issue(&model, 40, &request_id).await.unwrap();
    assert_eq!(retry, first, "the same robots, credentials and issue time");
    assert_eq!(home.stored_counts().await, written);

    // The same id for another request is refused, and writes nothing.
    assert_refused(
        issuance.issue(&model, 41, &request_id).await,
        Code::FailedPrecondition,
        "REQUEST_ID_REUSED",
    );
    assert_eq!(home.stored_counts().await, written);

    // After a restart too.
    issuance.stop().await;
    let mut issuance = home.start(registry.addr, |_| {}).await;
    let after_restart = issuance.issue(&model, 40, &request_id).await.unwrap();
    assert_eq!(after_restart, first);
    let next = issuance.issue(&model, 1, &unique("retry")).await.unwrap();
    assert!(
        !first
            .robots
            .iter()
            .any(|r| r.robot_id == next.robots[0].robot_id)
    );
    issuance.stop().await;
    registry.stop().await;
}

/// A batch is issued in two steps: its serial range is reserved, then its
/// robots are signed and written. A process that dies in between leaves
/// the reservation alone (made here by hand, exactly as such a crash leaves
/// the database); the retry of the call finishes it with the same codes and
/// credentials, and they reach the registry once.
async fn a_call_cut_off_after_its_reservation_is_finished_by_its_retry(db: TestDb) {
    let registry = spawn_registry(db.same_engine().await).await;
    let home = IssuanceHome::new(db);
    let mut issuance = home.start(registry.addr, |_| {}).await;
    let model = issuance.approved_model().await;
    let request_id = unique("cut");
    let answered = issuance.issue(&model, 30, &request_id).await.unwrap();
    issuance.relay_caught_up().await;
    issuance.stop().await;

    let (batches, _, requests) = home.stored_counts().await;
    execute(
        &home.db.url,
        &[
            "DELETE FROM outbox",
            "DELETE FROM issued_robots",
            "UPDATE batches SET state = 'RESERVED'",
        ],
    )
    .await;
    assert_eq!(home.stored_counts().await, (batches, 0, requests));

    let mut issuance = home.start(registry.addr, |_| {}).await;
    let retried = issuance.issue(&model, 30, &request_id).await.unwrap();
    assert_eq!(
        retried, answered,
        "the same robots, credentials and issue time"
    );
    assert_eq!(home.stored_counts().await, (batches, 30, requests));
    let [issued] = count_rows(
        &home.db.url,
        ["SELECT COUNT(*) FROM batches WHERE state = 'ISSUED'"],
    )
    .await;
    assert_eq!(issued, batches);

    // The counter had moved past the reservation: the next call starts after it.
    let next = issuance.issue(&model, 1, &unique("next")).await.unwrap();
    assert!(
        !answered
            .robots
            .iter()
            .any(|r| r.robot_id == next.robots[0].robot_id)
    );
    issuance.relay_caught_up().await;
    assert_eq!(registry.stored_counts().await, (31, 31, 31));
    issuance.stop().await;
    registry.stop().await;
}

async fn robots_issued_while_the_registry_is_down_arrive_once_it_is_up(db: TestDb) {
    // Bound but not serving: issuance's calls connect and then wait, and
    // give up after the call timeout, as with a registry that hangs. The
    // timeout must leave a debug-built registry time for 1,000 robots.
    let stopped = build_registry(db.same_engine().await).await;
    let home = IssuanceHome::new(db);
    let mut issuance = home
        .start(stopped.addr, |config| {
            config.relay_call_timeout_ms = 10_000;
            config.relay_stall_after_ms = 300;
        })
        .await;
    let model = issuance.approved_model().await;

    let mut responses = Vec::new();
    for _ in 0..4 {
        responses.push(issuance.issue(&model, 250, &unique("down")).await.unwrap());
    }
    let ids = disjoint_ids(&responses);
    assert_eq!(ids.len(), 1_000);

    // The backlog shows, and the health detail says delivery is stuck.
    let stuck = issuance
        .relay_until(|status| status.stalled && status.pending == 1_000)
        .await;
    assert!(stuck.oldest_pending_age().unwrap().as_millis() >= 300);
    assert_eq!(issuance.delivery_health().await, ServingStatus::NotServing);

    let mut registry = stopped.start().await;
    let caught_up: RelayStatus = issuance.relay_caught_up().await;
    assert!(!caught_up.stalled);
    assert_eq!(issuance.delivery_health().await, ServingStatus::Serving);

    // Exactly those 1,000, each once, each with its ISSUED event.
    assert_eq!(registry.stored_counts().await, (1_000, 1_000, 1_000));
    for response in &responses {
        let issue_time = response.issue_time.unwrap();
        for robot in &response.robots {
            let full = registry.full(&robot.robot_id).await.unwrap();
            assert_eq!(full.status(), RobotStatus::Registered);
            assert_eq!(full.event_count, 1);
            let events = registry.events(&robot.robot_id).await;
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].r#type(), EventType::Issued);
            assert_eq!(events[0].occur_time, Some(issue_time));
            assert!(ids.contains(&full.robot_id));
        }
    }
    issuance.stop().await;
    registry.stop().await;
}

async fn ten_thousand_robots_in_one_call(db: TestDb) {
    let backend = db.backend;
    let registry = spawn_registry(db.same_engine().await).await;
    let home = IssuanceHome::new(db);
    let mut issuance = home.start(registry.addr, |_| {}).await;
    let model = issuance.approved_model().await;

    let started = Instant::now();
    let issued = issuance
        .issue(&model, 10_000, &unique("large"))
        .await
        .unwrap();
    let issuing = started.elapsed();
    assert_eq!(disjoint_ids([&issued]).len(), 10_000);
    let delivered = issuance.relay_caught_up().await;
    let delivering = started.elapsed();
    assert_eq!(delivered.delivered, 10_000);
    assert_eq!(registry.stored_counts().await, (10_000, 10_000, 10_000));
    let credential_bytes = issued.robots[0].credential.len();
    // Straight to the terminal: the harness captures println!.
    let _ = writeln!(
        std::io::stderr(),
        "{backend:?}: issued 10,000 in {issuing:?}; all in the registry after {delivering:?}; \
         credential {credential_bytes} bytes"
    );
    issuance.stop().await;
    registry.stop().await;
}
