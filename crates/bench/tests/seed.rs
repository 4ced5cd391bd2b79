//! Seeded rows are what the registry itself would have written: its own
//! store reads them back, verifies their histories and appends to them.

use robotid_bench::seed::{self, Line, Stage};
use robotid_domain::access::AccessDraft;
use robotid_domain::history::{ChainVerdict, EventDetails, EventDraft};
use robotid_domain::lifecycle::{EventKind, Status};
use robotid_domain::time::Timestamp;
use robotid_platform::db::Database;
use robotid_platform::idempotency::RequestKey;
use robotid_platform::identity::Caller;
use robotid_registry::store::{EventRequest, RegistryStore};
use robotid_test_support::TestDb;

#[tokio::test]
async fn the_registry_reads_verifies_and_extends_seeded_robots() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let database = Database::open(&db.url, 4, &robotid_registry::app::MIGRATIONS)
        .await
        .unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let mut registered = Line::new("CN", "0001", "BR0001").unwrap();
    let mut released = Line::new("CN", "0001", "BC0001").unwrap();
    let first = seed::seed(&pool, &mut registered, 300, Stage::Registered, 100)
        .await
        .unwrap();
    let second = seed::seed(&pool, &mut registered, 200, Stage::Registered, 1)
        .await
        .unwrap();
    let on_market = seed::seed(&pool, &mut released, 50, Stage::InMarket, 1)
        .await
        .unwrap();
    seed::settle(&pool).await.unwrap();
    assert_eq!(first.kept.len(), 3, "every 100th of 300");
    assert_eq!(second.kept.len(), 200);
    assert!(first.kept.last() < second.kept.first(), "keys ascend");

    let store = RegistryStore::new(database);
    for (id, status, events) in [
        (&first.kept[0], Status::Registered, 1),
        (&second.kept[199], Status::Registered, 1),
        (&on_market.kept[49], Status::InMarket, 2),
    ] {
        let robot = store.robot(id).await.unwrap().expect("seeded robot");
        assert_eq!(robot.standing.state.status, status);
        assert_eq!(robot.event_count, events);
        assert_eq!(robot.manufacturer_name, "Bench Robotics 0001");
        assert!(matches!(
            store.verify(id).await.unwrap(),
            Some(ChainVerdict::Intact { event_count, .. }) if event_count == events
        ));
    }

    // The chain goes on from the seeded head.
    let id = &second.kept[7];
    let caller = robotid_platform::identity::Caller::from_uri("robotid://service-provider/SP0001")
        .expect("an identity");
    let key = RequestKey::new(&caller, "RecordEvent", "seeded-maintenance", &()).unwrap();
    let event = store
        .record_event_group(vec![EventRequest {
            key,
            robot_id: id.clone(),
            draft: EventDraft {
                kind: EventKind::MaintenancePerformed,
                details: EventDetails::default(),
                occurred_at: Timestamp::now(),
                actor: "robotid://service-provider/SP0001".into(),
            },
            access: AccessDraft {
                caller: "robotid://service-provider/SP0001".into(),
                action: "RecordEvent(MAINTENANCE_PERFORMED)".into(),
                robots: vec![id.as_str().into()],
                outcome: "OK".into(),
            },
            caller: Caller::from_uri("robotid://service-provider/SP0001").unwrap(),
            presented_holder: None,
        }])
        .await
        .remove(0)
        .unwrap();
    assert_eq!(event.sequence, 2);
    assert!(matches!(
        store.verify(id).await.unwrap(),
        Some(ChainVerdict::Intact { event_count: 2, .. })
    ));
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM robots")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, 550);
    pool.close().await;
}
