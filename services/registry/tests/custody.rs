//! Who may act on a robot, over mutual TLS: a manufacturer only on its own
//! robots, of its own country; theft reports by the authorities and the
//! holder, lifted only by whoever made them (as on the GSMA IMEI
//! blocklist); and handovers by the holder of record alone.

mod support;

use robotid_domain::code::RobotId;
use robotid_proto::common::v1::{EventType, RobotStatus};
use robotid_proto::registry::v1 as pb;
use robotid_test_support::{TestDb, each_backend};
use support::*;
use tonic::Code;

each_backend!(
    a_manufacturer_of_another_country_is_out_of_scope_even_for_robots_here,
    theft_reports_come_from_authorities_or_the_holder_and_only_the_flagger_lifts_them,
    only_the_holder_hands_a_robot_over,
);

/// Germany's deployment: its CA's `robotid://manufacturer/0001` is DE0001.
async fn spawn_germany(db: TestDb) -> TestRegistry {
    spawn_registry_with(db, |config| config.country = "DE".into()).await
}

fn de_robot(n: u64) -> RobotId {
    RobotId::issue(
        &"DE".parse().unwrap(),
        &"0001".parse().unwrap(),
        &"HX0001".parse().unwrap(),
        n,
    )
}

/// `id`, a Chinese robot, as Germany's transfer service registers it on
/// import.
fn imported(id: &RobotId) -> pb::RobotRegistration {
    pb::RobotRegistration {
        import_origin: Some(pb::ImportOrigin {
            country_code: "CN".into(),
            status: RobotStatus::InMarket.into(),
            transfer: "transfers/0123456789abcdef".into(),
        }),
        ..registration(id)
    }
}

async fn a_manufacturer_of_another_country_is_out_of_scope_even_for_robots_here(db: TestDb) {
    let mut germany = spawn_germany(db).await;
    let (chinese, german) = (robot(1), de_robot(1));
    germany
        .as_("transfer")
        .await
        .register_robots(pb::RegisterRobotsRequest {
            request_id: unique("import"),
            robots: vec![imported(&chinese)],
            on_behalf_of: String::new(),
        })
        .await
        .expect("imported");
    germany.register(std::slice::from_ref(&german)).await;
    let mut manufacturer = germany.as_("manufacturer").await;

    // Its own robot, DE0001: in scope.
    manufacturer
        .record_event(record_request(
            &german,
            EventType::ReleasedToMarket,
            Default::default(),
        ))
        .await
        .expect("DE0001 releases its own robot");
    // CN0001's robot, here in Germany: not its own, whatever the code says.
    let maintenance = pb::EventDetails {
        note: "inspected".into(),
        ..Default::default()
    };
    let status = assert_refused(
        manufacturer
            .record_event(record_request(
                &chinese,
                EventType::MaintenancePerformed,
                maintenance,
            ))
            .await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    assert!(status.message().contains("DE0001"), "{}", status.message());
    assert_refused(
        manufacturer
            .get_robot(pb::GetRobotRequest {
                robot_id: chinese.as_str().into(),
                view: pb::RobotView::Full.into(),
            })
            .await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    assert_refused(
        manufacturer
            .list_events(pb::ListEventsRequest {
                robot_id: chinese.as_str().into(),
                page_size: 0,
                page_token: String::new(),
            })
            .await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    assert_refused(
        manufacturer
            .verify_history(pb::VerifyHistoryRequest {
                robot_id: chinese.as_str().into(),
            })
            .await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    let chinese_recall = pb::CreateRecallRequest {
        country_code: "CN".into(),
        ..recall_request(&[], "not DE0001's to recall")
    };
    assert_refused(
        manufacturer.create_recall(chinese_recall.clone()).await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    assert_refused(
        manufacturer
            .list_recalls(pb::ListRecallsRequest {
                country_code: "CN".into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    // Its model recall holds its own robots only, not CN0001's of the same
    // manufacturer and model codes.
    let own = manufacturer
        .create_recall(recall_request(&[], "DE0001 recalls HX0001"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (own.country_code.as_str(), own.affected_robot_count),
        ("DE", 1)
    );
    assert!(germany.full(&german).await.recalled);
    assert!(!germany.full(&chinese).await.recalled);
    // Germany's regulator may recall the imported robots on its market.
    let imported_recall = germany
        .as_("regulator")
        .await
        .create_recall(chinese_recall)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(imported_recall.affected_robot_count, 1);
    assert!(germany.full(&chinese).await.recalled);
    assert_eq!(
        germany.full(&chinese).await.event_count,
        2,
        "nothing of DE0001's was written on CN0001's robot"
    );
    germany.stop().await;
}

async fn theft_reports_come_from_authorities_or_the_holder_and_only_the_flagger_lifts_them(
    db: TestDb,
) {
    let mut registry = spawn_registry(db).await;
    let ids: Vec<_> = (1..=5).map(robot).collect();
    registry.register(&ids).await;
    let none = pb::EventDetails::default;
    let holding = |reference: &str| pb::EventDetails {
        current_holder: reference.into(),
        ..none()
    };

    // A robot in the factory: no seller may flag it; the police may, and
    // only they (or the regulator) lift it.
    let factory = &ids[0];
    for flagger in ["seller", "operator", "service-provider"] {
        registry
            .assert_denied(
                flagger,
                factory,
                EventType::ReportedStolen,
                none(),
                "NOT_HOLDER",
            )
            .await;
    }
    registry
        .assert_denied(
            "police-de",
            factory,
            EventType::ReportedStolen,
            none(),
            "OUT_OF_SCOPE",
        )
        .await;
    let reported = registry
        .record_as("police", factory, EventType::ReportedStolen, none())
        .await
        .unwrap();
    assert_eq!(reported.actor, "robotid://police/CN-POL");
    for other in ["operator", "seller", "manufacturer"] {
        registry
            .assert_denied(other, factory, EventType::Recovered, none(), "NOT_FLAGGER")
            .await;
    }
    registry
        .record_as("police", factory, EventType::Recovered, none())
        .await
        .unwrap();

    // The regulator's flag is the regulator's: the police do not lift it.
    let flagged = &ids[1];
    registry
        .record_as("regulator", flagged, EventType::ReportedStolen, none())
        .await
        .unwrap();
    let public = registry
        .get(flagged.as_str(), pb::RobotView::Public)
        .await
        .unwrap();
    assert!(public.stolen, "a buyer who scans it sees it is stolen");
    registry
        .assert_denied(
            "police",
            flagged,
            EventType::Recovered,
            none(),
            "NOT_FLAGGER",
        )
        .await;
    registry
        .record_as("regulator", flagged, EventType::Recovered, none())
        .await
        .unwrap();

    // An organisation's robot: its holder flags it (by the organisation its
    // certificate names) and lifts it; the police lift only their own.
    let fleet = &ids[2];
    registry.release(std::slice::from_ref(fleet)).await;
    registry
        .record_as(
            "seller",
            fleet,
            EventType::Sold,
            pb::EventDetails {
                holder: organization("OP0001"),
                ..none()
            },
        )
        .await
        .unwrap();
    registry
        .assert_denied(
            "seller",
            fleet,
            EventType::ReportedStolen,
            none(),
            "NOT_HOLDER",
        )
        .await;
    registry
        .record_as("operator", fleet, EventType::ReportedStolen, none())
        .await
        .expect("the holder reports its robot stolen");
    registry
        .assert_denied("police", fleet, EventType::Recovered, none(), "NOT_FLAGGER")
        .await;
    registry
        .record_as("operator", fleet, EventType::Recovered, none())
        .await
        .unwrap();

    // A private person's robot: the call presents its reference.
    let home = &ids[3];
    registry.release(std::slice::from_ref(home)).await;
    registry
        .record_as(
            "seller",
            home,
            EventType::Sold,
            pb::EventDetails {
                holder: private("CUSTOMER-0815"),
                ..none()
            },
        )
        .await
        .unwrap();
    for presented in [none(), holding("CUSTOMER-0816")] {
        registry
            .assert_denied(
                "seller",
                home,
                EventType::ReportedStolen,
                presented,
                "NOT_HOLDER",
            )
            .await;
    }
    registry
        .record_as(
            "seller",
            home,
            EventType::ReportedStolen,
            holding("CUSTOMER-0815"),
        )
        .await
        .expect("reported for its holder");
    // The one who reported it lifts it.
    registry
        .assert_denied(
            "operator",
            home,
            EventType::Recovered,
            none(),
            "NOT_FLAGGER",
        )
        .await;
    registry
        .record_as("seller", home, EventType::Recovered, none())
        .await
        .unwrap();
    assert!(
        !registry.dump().await.contains("CUSTOMER-0815"),
        "a presented reference is never stored"
    );

    for id in &ids[..4] {
        assert!(registry.verify(id).await.intact, "{id}");
    }
    registry.stop().await;
}

async fn only_the_holder_hands_a_robot_over(db: TestDb) {
    let mut registry = spawn_registry(db).await;
    let ids: Vec<_> = (1..=3).map(robot).collect();
    registry.register(&ids).await;
    registry.release(&ids).await;
    let to = |holder| pb::EventDetails {
        holder,
        ..Default::default()
    };

    // A first sale, from the market: a seller (or the manufacturer) puts the
    // first holder on record.
    let fleet = &ids[0];
    registry
        .record_as("seller", fleet, EventType::Sold, to(organization("OP0001")))
        .await
        .unwrap();
    // Then only the holder hands it over: not the seller, not an operator
    // naming itself.
    registry
        .assert_denied(
            "seller",
            fleet,
            EventType::OwnershipTransferred,
            to(organization("S0001")),
            "NOT_HOLDER",
        )
        .await;
    let handed = registry
        .record_as(
            "operator",
            fleet,
            EventType::OwnershipTransferred,
            to(organization("RC0001")),
        )
        .await
        .expect("the holder hands it over");
    assert_eq!(handed.actor, "robotid://operator/OP0001");
    registry
        .assert_denied(
            "operator",
            fleet,
            EventType::OwnershipTransferred,
            to(organization("OP0001")),
            "NOT_HOLDER",
        )
        .await;
    // The regulator may, whoever holds it (a court order).
    registry
        .record_as(
            "regulator",
            fleet,
            EventType::OwnershipTransferred,
            to(organization("OP0001")),
        )
        .await
        .unwrap();

    // A private person's robot: the call must present its reference.
    let home = &ids[1];
    registry
        .record_as("seller", home, EventType::Sold, to(private("BUYER-A")))
        .await
        .unwrap();
    let resale = |presented: &str| pb::EventDetails {
        current_holder: presented.into(),
        ..to(private("BUYER-B"))
    };
    for presented in ["", "BUYER-B", "buyer-a"] {
        registry
            .assert_denied(
                "seller",
                home,
                EventType::OwnershipTransferred,
                resale(presented),
                "NOT_HOLDER",
            )
            .await;
    }
    registry
        .record_as(
            "seller",
            home,
            EventType::OwnershipTransferred,
            resale("BUYER-A"),
        )
        .await
        .expect("handed over for its holder");
    // Now BUYER-B holds it: BUYER-A's reference no longer does.
    registry
        .assert_denied(
            "seller",
            home,
            EventType::OwnershipTransferred,
            resale("BUYER-A"),
            "NOT_HOLDER",
        )
        .await;

    // A resale: a robot held while still on the market (a dealer's stock)
    // is sold by its holder only.
    let stock = &ids[2];
    registry
        .record_as(
            "seller",
            stock,
            EventType::OwnershipTransferred,
            to(organization("S0001")),
        )
        .await
        .unwrap();
    registry
        .assert_denied(
            "manufacturer",
            stock,
            EventType::Sold,
            to(organization("X")),
            "NOT_HOLDER",
        )
        .await;
    registry
        .record_as("seller", stock, EventType::Sold, to(private("BUYER-C")))
        .await
        .expect("the holder sells its stock");

    // A holder reference is taken only where it proves something.
    assert_refused(
        registry
            .record_as(
                "service-provider",
                stock,
                EventType::MaintenancePerformed,
                pb::EventDetails {
                    current_holder: "BUYER-C".into(),
                    ..Default::default()
                },
            )
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    let stored = registry.dump().await;
    for reference in ["BUYER-A", "BUYER-B", "BUYER-C"] {
        assert!(!stored.contains(reference), "{reference} was stored");
    }
    for id in &ids {
        assert!(registry.verify(id).await.intact, "{id}");
    }
    registry.stop().await;
}
