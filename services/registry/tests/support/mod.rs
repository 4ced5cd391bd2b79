//! A real registry on port 0, with its own database, and a connected client.
#![allow(dead_code)]

use robotid_domain::code::RobotId;
use robotid_platform::authz::{Allow, event_allows};
use robotid_platform::identity::Role;
use robotid_proto::common::v1 as common;
use robotid_proto::common::v1::EventType;
use robotid_proto::registry::v1 as pb;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use robotid_registry::{App, RegistryConfig};
use robotid_test_support::TestDb;
use robotid_test_support::tls::{channel, service_tls};
#[allow(unused_imports)] // Not every test binary refuses.
pub use robotid_test_support::{assert_refused, unique};
use tokio::sync::oneshot;
use tonic::Status;
use tonic::transport::Channel;

pub struct TestRegistry {
    pub addr: std::net::SocketAddr,
    /// The public HTTP listener, when the test configured `http_listen`.
    pub http: Option<std::net::SocketAddr>,
    /// An anonymous caller: the public.
    pub client: RegistryServiceClient<Channel>,
    pub db: TestDb,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub async fn spawn_registry(db: TestDb) -> TestRegistry {
    spawn_registry_with(db, |_| {}).await
}

/// As [`spawn_registry`], with settings changed by `configure`.
pub async fn spawn_registry_with(
    db: TestDb,
    configure: impl FnOnce(&mut RegistryConfig),
) -> TestRegistry {
    let mut config = RegistryConfig::new("127.0.0.1:0".parse().unwrap(), db.url.clone());
    config.server.tls = service_tls("registry");
    // Every registry keeps its log, as in production.
    config.log_key_file = Some(robotid_test_support::keys::log_key_file());
    config.log_origin = Some(robotid_test_support::keys::TEST_LOG_ORIGIN.into());
    configure(&mut config);
    if db.dir().is_none() {
        // PostgreSQL needs an explicit key; SQLite makes one beside the file.
        config.holder_key_file = Some(robotid_test_support::keys::holder_key_file());
    }
    let app = App::build(config).await.expect("registry starts");
    let addr = app.local_addr();
    let http = app.http_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = RegistryServiceClient::new(channel(addr, None).await);
    TestRegistry {
        addr,
        http,
        client,
        db,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestRegistry {
    /// A client presenting the test PKI's certificate `identity`
    /// (`regulator`, `seller`, `issuance`, …).
    pub async fn as_(&self, identity: &str) -> RegistryServiceClient<Channel> {
        RegistryServiceClient::new(channel(self.addr, Some(identity)).await)
    }

    /// A client of the first role the authorization table allows to record
    /// `kind` (on a robot no one holds: a role the table names).
    pub async fn recorder_of(&self, kind: EventType) -> RegistryServiceClient<Channel> {
        let domain_kind = robotid_domain::lifecycle::EventKind::parse(
            kind.as_str_name().trim_start_matches("EVENT_TYPE_"),
        )
        .expect("known event");
        let identity = event_allows(domain_kind)
            .iter()
            .find_map(|allow| match allow {
                Allow::Role(role) | Allow::Unheld(role) => Some(identity_of(*role)),
                Allow::Service(name) => Some(*name),
                Allow::Public | Allow::CurrentHolder | Allow::Flagger => None,
            })
            // Nobody may (ISSUED, RECALL_ISSUED): ask as the regulator, to
            // be refused.
            .unwrap_or("regulator");
        self.as_(identity).await
    }

    /// Records `kind` on `id` as `identity`.
    pub async fn record_as(
        &self,
        identity: &str,
        id: &RobotId,
        kind: EventType,
        details: pb::EventDetails,
    ) -> Result<pb::Event, Status> {
        self.as_(identity)
            .await
            .record_event(record_request(id, kind, details))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Releases each robot to the market, as its manufacturer.
    pub async fn release(&mut self, ids: &[RobotId]) {
        for id in ids {
            self.record(id, EventType::ReleasedToMarket, Default::default())
                .await
                .expect("released");
        }
    }

    /// Asserts that `identity` may not record `kind` on `id`:
    /// PERMISSION_DENIED, for `reason`.
    pub async fn assert_denied(
        &self,
        identity: &str,
        id: &RobotId,
        kind: EventType,
        details: pb::EventDetails,
        reason: &str,
    ) -> Status {
        assert_refused(
            self.record_as(identity, id, kind, details).await,
            tonic::Code::PermissionDenied,
            reason,
        )
    }

    /// Recalls the listed robots of CN-0001-HX0001 (all of them, for none)
    /// as the manufacturer.
    pub async fn recall(&self, ids: &[RobotId], reason: &str) -> pb::Recall {
        self.as_("manufacturer")
            .await
            .create_recall(recall_request(ids, reason))
            .await
            .expect("recalled")
            .into_inner()
    }

    /// The access log's entries about one robot (the first 100, newest
    /// first), as the regulator reads them.
    pub async fn access_log_of(&self, id: &RobotId) -> Vec<pb::AccessLogEntry> {
        self.as_("regulator")
            .await
            .list_access_log(pb::ListAccessLogRequest {
                page_size: 100,
                page_token: String::new(),
                robot_id: id.as_str().into(),
            })
            .await
            .expect("the regulator lists the access log")
            .into_inner()
            .entries
    }

    /// The newest checkpoint once it covers `size` leaves (integration
    /// takes at most a few intervals).
    pub async fn checkpoint_covering(&self, size: u64) -> pb::Checkpoint {
        let mut client = self.client.clone();
        for _ in 0..1_000 {
            if let Ok(answer) = client.get_checkpoint(pb::GetCheckpointRequest {}).await {
                let checkpoint = answer.into_inner();
                if checkpoint.tree_size >= size {
                    return checkpoint;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no checkpoint covered {size} leaves within 20 s");
    }

    /// Stops the server and hands back its database, to start another on.
    pub async fn stopped(mut self) -> TestDb {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        self.db
    }

    /// Reads straight from the registry's database.
    pub async fn query(&self, sql: &str) -> Vec<sqlx::any::AnyRow> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.db.url).await.unwrap();
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        rows
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    pub async fn register(&mut self, ids: &[RobotId]) -> pb::RegisterRobotsResponse {
        self.as_("issuance")
            .await
            .register_robots(pb::RegisterRobotsRequest {
                request_id: unique("register"),
                robots: ids.iter().map(registration).collect(),
                on_behalf_of: String::new(),
            })
            .await
            .expect("registered")
            .into_inner()
    }

    pub async fn record(
        &mut self,
        id: &RobotId,
        kind: EventType,
        details: pb::EventDetails,
    ) -> Result<pb::Event, Status> {
        self.recorder_of(kind)
            .await
            .record_event(record_request(id, kind, details))
            .await
            .map(tonic::Response::into_inner)
    }

    /// The public view anonymously, the full view as the regulator.
    pub async fn get(&mut self, id: &str, view: pb::RobotView) -> Result<pb::Robot, Status> {
        let mut client = match view {
            pb::RobotView::Full => self.as_("regulator").await,
            _ => self.client.clone(),
        };
        client
            .get_robot(pb::GetRobotRequest {
                robot_id: id.to_owned(),
                view: view.into(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn full(&mut self, id: &RobotId) -> pb::Robot {
        self.get(id.as_str(), pb::RobotView::Full)
            .await
            .expect("robot")
    }

    pub async fn verify(&mut self, id: &RobotId) -> pb::VerifyHistoryResponse {
        self.as_("regulator")
            .await
            .verify_history(pb::VerifyHistoryRequest {
                robot_id: id.as_str().to_owned(),
            })
            .await
            .expect("verified")
            .into_inner()
    }

    pub async fn all_events(&mut self, id: &RobotId) -> Vec<pb::Event> {
        let mut events = Vec::new();
        let mut page_token = String::new();
        let mut client = self.as_("regulator").await;
        loop {
            let page = client
                .list_events(pb::ListEventsRequest {
                    robot_id: id.as_str().to_owned(),
                    page_size: 0,
                    page_token,
                })
                .await
                .expect("listed")
                .into_inner();
            events.extend(page.events);
            if page.next_page_token.is_empty() {
                return events;
            }
            page_token = page.next_page_token;
        }
    }

    /// Everything the registry's database holds, as text: the SQLite file
    /// and its write-ahead log byte for byte, or every PostgreSQL row.
    pub async fn dump(&self) -> String {
        if let Some(dir) = self.db.dir() {
            let mut text = String::new();
            for entry in std::fs::read_dir(dir).unwrap() {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
            return text;
        }
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.db.url).await.unwrap();
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
                .fetch_all(&pool)
                .await
                .unwrap();
        let mut text = String::new();
        for table in tables {
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT t::text FROM {table} t"
            )))
            .fetch_all(&pool)
            .await
            .unwrap();
            text.push_str(&rows.join("\n"));
        }
        pool.close().await;
        text
    }

    /// Runs SQL straight against the registry's database, as an attacker
    /// with database access (or a bug) would.
    pub async fn tamper(&self, sql: String) -> u64 {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.db.url).await.unwrap();
        let affected = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected();
        pool.close().await;
        affected
    }
}

/// The test PKI's certificate for a role.
pub fn identity_of(role: Role) -> &'static str {
    match role {
        Role::Regulator => "regulator",
        Role::Manufacturer => "manufacturer",
        Role::Seller => "seller",
        Role::ServiceProvider => "service-provider",
        Role::Operator => "operator",
        Role::Recycler => "recycler",
        Role::Customs => "customs",
        Role::Police => "police",
        Role::Service => "issuance",
        Role::Registry => "peer-registry",
        Role::Public => unreachable!("the public has no certificate"),
    }
}

/// Robot `n` of model CN-0001-HX0001, as issuance would have issued it.
pub fn robot(n: u64) -> RobotId {
    robot_of("HX0001", n)
}

pub fn robot_of(model: &str, n: u64) -> RobotId {
    RobotId::issue(
        &"CN".parse().unwrap(),
        &"0001".parse().unwrap(),
        &model.parse().unwrap(),
        n,
    )
}

pub fn registration(id: &RobotId) -> pb::RobotRegistration {
    pb::RobotRegistration {
        robot_id: id.as_str().to_owned(),
        manufacturer_name: "Hubei Humanoid Works".into(),
        model_name: "SeeLight S1".into(),
        production: Some(common::Production {
            production_time: Some(prost_types::Timestamp {
                seconds: 1_764_000_000,
                nanos: 0,
            }),
            factory: "Wuhan line 3".into(),
        }),
        import_origin: None,
        occur_time: None,
        credential: Vec::new(),
        credential_public_key: Vec::new(),
    }
}

/// A `RecordEvent` of `kind` on `id`, under a fresh request id, dated now.
pub fn record_request(
    id: &RobotId,
    kind: EventType,
    details: pb::EventDetails,
) -> pb::RecordEventRequest {
    pb::RecordEventRequest {
        request_id: unique("event"),
        robot_id: id.as_str().to_owned(),
        r#type: kind.into(),
        details: Some(details),
        occur_time: None,
    }
}

/// A recall of the listed robots of CN-0001-HX0001 (all of them, for none).
pub fn recall_request(ids: &[RobotId], reason: &str) -> pb::CreateRecallRequest {
    pb::CreateRecallRequest {
        request_id: unique("recall"),
        manufacturer_code: "0001".into(),
        model_code: "HX0001".into(),
        robot_ids: ids.iter().map(|id| id.as_str().to_owned()).collect(),
        reason: reason.into(),
        country_code: String::new(),
    }
}

/// Details naming a recall, for RECALL_REMEDIED.
pub fn remedy(recall: &str) -> pb::EventDetails {
    pb::EventDetails {
        recall: recall.into(),
        ..Default::default()
    }
}

pub fn organization(id: &str) -> Option<common::Holder> {
    Some(common::Holder {
        kind: Some(common::holder::Kind::OrganizationId(id.into())),
    })
}

pub fn private(reference: &str) -> Option<common::Holder> {
    Some(common::Holder {
        kind: Some(common::holder::Kind::PrivateReference(reference.into())),
    })
}
