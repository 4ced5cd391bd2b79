//! A real issuance service and a real registry, each on port 0 with its own
//! database, and connected clients.
#![allow(dead_code)]

#[allow(unused_imports)] // Not every test binary refuses.
pub use robotid_test_support::{assert_invalid, assert_refused, unique};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use robotid_credential::{SigningKey, VerifyingKey};
use robotid_issuance::relay::{DELIVERY_HEALTH_SERVICE, RelayStatus};
use robotid_issuance::{App, IssuanceConfig};
use robotid_platform::client::{Retrying, RpcChannel};
use robotid_proto::common::v1 as common;
use robotid_proto::issuance::v1 as pb;
use robotid_proto::issuance::v1::issuance_service_client::IssuanceServiceClient;
use robotid_proto::registry::v1 as registry;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use robotid_registry::RegistryConfig;
use robotid_test_support::TestDb;
use robotid_test_support::tls::{channel, service_tls};
use tokio::sync::{oneshot, watch};
use tonic::Status;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Longest any test waits for something to happen before failing.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// A running server and the way to stop it.
struct Running {
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    fn spawn(
        run: impl FnOnce(oneshot::Receiver<()>) -> tokio::task::JoinHandle<anyhow::Result<()>>,
    ) -> Self {
        let (stop, stopped) = oneshot::channel();
        Self {
            stop: Some(stop),
            server: Some(run(stopped)),
        }
    }

    /// Stops gracefully and waits until the server (and, for issuance, its
    /// relay) returned.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

/// A registry that is bound (its address known, connections queue up) but
/// not yet serving: the registry "down" while issuance already runs.
pub struct StoppedRegistry {
    app: robotid_registry::App,
    pub addr: SocketAddr,
    db: TestDb,
}

pub struct TestRegistry {
    pub addr: SocketAddr,
    /// As the regulator.
    pub client: RegistryServiceClient<Channel>,
    pub db: TestDb,
    running: Running,
}

pub async fn build_registry(db: TestDb) -> StoppedRegistry {
    let mut config = RegistryConfig::new("127.0.0.1:0".parse().unwrap(), db.url.clone());
    config.server.tls = service_tls("registry");
    config.log_key_file = Some(robotid_test_support::keys::log_key_file());
    config.log_origin = Some(robotid_test_support::keys::TEST_LOG_ORIGIN.into());
    if db.dir().is_none() {
        // PostgreSQL needs an explicit key; SQLite makes one beside the file.
        config.holder_key_file = Some(robotid_test_support::keys::holder_key_file());
    }
    let app = robotid_registry::App::build(config)
        .await
        .expect("registry starts");
    StoppedRegistry {
        addr: app.local_addr(),
        app,
        db,
    }
}

pub async fn spawn_registry(db: TestDb) -> TestRegistry {
    build_registry(db).await.start().await
}

impl StoppedRegistry {
    /// Its database, for tests that read it directly.
    pub fn db_url(&self) -> String {
        self.db.url.clone()
    }

    pub async fn start(self) -> TestRegistry {
        let app = self.app;
        let running = Running::spawn(|stopped| {
            tokio::spawn(app.run_until_stopped(async {
                let _ = stopped.await;
            }))
        });
        // The regulator may read full records and histories.
        let client = RegistryServiceClient::new(channel(self.addr, Some("regulator")).await);
        TestRegistry {
            addr: self.addr,
            client,
            db: self.db,
            running,
        }
    }
}

impl TestRegistry {
    pub async fn stop(mut self) {
        self.running.stop().await;
    }

    pub async fn full(&mut self, id: &str) -> Result<registry::Robot, Status> {
        self.client
            .get_robot(registry::GetRobotRequest {
                robot_id: id.to_owned(),
                view: registry::RobotView::Full.into(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn events(&mut self, id: &str) -> Vec<registry::Event> {
        self.client
            .list_events(registry::ListEventsRequest {
                robot_id: id.to_owned(),
                page_size: 0,
                page_token: String::new(),
            })
            .await
            .expect("events listed")
            .into_inner()
            .events
    }

    /// What the registry's own database holds: (robots, ISSUED events,
    /// all events).
    pub async fn stored_counts(&self) -> (i64, i64, i64) {
        let [robots, issued, events] = count_rows(
            &self.db.url,
            [
                "SELECT COUNT(*) FROM robots",
                "SELECT COUNT(*) FROM events WHERE kind = 'ISSUED'",
                "SELECT COUNT(*) FROM events",
            ],
        )
        .await;
        (robots, issued, events)
    }
}

/// Runs `COUNT(*)` queries straight against a database.
pub async fn count_rows<const N: usize>(url: &str, queries: [&'static str; N]) -> [i64; N]
where
    [i64; N]: Default,
{
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let mut counts = <[i64; N]>::default();
    for (count, query) in counts.iter_mut().zip(queries) {
        *count = sqlx::query_scalar(query).fetch_one(&pool).await.unwrap();
    }
    pool.close().await;
    counts
}

/// Runs statements straight against a database, as a crash or an operator
/// would leave it.
pub async fn execute(url: &str, statements: &[&'static str]) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    for statement in statements {
        sqlx::query(*statement).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

/// Where an issuance service keeps its data and key, so that it can be
/// stopped and started again on them.
pub struct IssuanceHome {
    pub db: TestDb,
    /// The signing key for PostgreSQL (SQLite makes one beside its file).
    key_dir: tempfile::TempDir,
}

impl IssuanceHome {
    pub fn new(db: TestDb) -> Self {
        Self {
            db,
            key_dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Starts issuance delivering to `registry`; `tune` adjusts the
    /// settings first.
    pub async fn start(
        &self,
        registry: SocketAddr,
        tune: impl FnOnce(&mut IssuanceConfig),
    ) -> TestIssuance {
        // The test PKI's service certificates name `localhost`.
        let mut config = IssuanceConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            self.db.url.clone(),
            format!("https://localhost:{}", registry.port()),
        );
        config.server.tls = service_tls("issuance");
        if self.db.dir().is_none() {
            let path = self.key_dir.path().join("signing-key.pem");
            SigningKey::load_or_create(&path).unwrap();
            config.signing_key_file = Some(path);
        }
        // Tests wait for deliveries: retry a returning registry quickly.
        config.relay_max_backoff_ms = 500;
        tune(&mut config);
        let app = App::build(config).await.expect("issuance starts");
        let addr = app.local_addr();
        let public_key = app.verifying_key();
        let relay = app.relay_status();
        let running = Running::spawn(|stopped| {
            tokio::spawn(app.run_until_stopped(async {
                let _ = stopped.await;
            }))
        });
        TestIssuance {
            addr,
            client: IssuanceServiceClient::new(Retrying::new(
                channel(addr, Some("regulator")).await,
            )),
            manufacturer: IssuanceServiceClient::new(Retrying::new(
                channel(addr, Some("manufacturer")).await,
            )),
            health: HealthClient::new(channel(addr, None).await),
            public_key,
            relay,
            running,
        }
    }

    pub async fn stored_counts(&self) -> (i64, i64, i64) {
        let [batches, robots, requests] = count_rows(
            &self.db.url,
            [
                "SELECT COUNT(*) FROM batches",
                "SELECT COUNT(*) FROM issued_robots",
                "SELECT COUNT(*) FROM requests",
            ],
        )
        .await;
        (batches, robots, requests)
    }
}

pub struct TestIssuance {
    pub addr: SocketAddr,
    /// As the regulator, who admits manufacturers and approves models. Its
    /// calls, and the manufacturer's, honour RetryInfo as every client of
    /// the API does (the service sheds what it cannot serve at once).
    pub client: IssuanceServiceClient<RpcChannel>,
    /// As manufacturer 0001, who issues.
    pub manufacturer: IssuanceServiceClient<RpcChannel>,
    pub health: HealthClient<Channel>,
    pub public_key: VerifyingKey,
    pub relay: watch::Receiver<RelayStatus>,
    running: Running,
}

pub const MANUFACTURER: &str = "0001";
pub const MODEL: &str = "HX0001";
pub const MODEL_NAME: &str = "manufacturers/0001/productModels/HX0001";

pub fn manufacturer(code: &str) -> pb::Manufacturer {
    pb::Manufacturer {
        code: code.into(),
        legal_name: "Hubei Humanoid Works Co., Ltd.".into(),
        registration_number: "91420100MA4K".into(),
        country_code: "CN".into(),
        ..Default::default()
    }
}

pub fn product_model(code: &str) -> pb::ProductModel {
    pb::ProductModel {
        model_code: code.into(),
        display_name: "SeeLight S1".into(),
        category: "household".into(),
        specifications: Some(pb::Specifications {
            height_mm: 1_650,
            mass_g: 55_000,
            degrees_of_freedom: 41,
            battery_capacity_wh: 864,
            autonomy_level: "L3".into(),
        }),
        key_components: vec![
            "joint actuator JA-7".into(),
            "lidar LX-2".into(),
            "battery pack BP-864".into(),
        ],
        ..Default::default()
    }
}

pub fn production() -> Option<common::Production> {
    Some(common::Production {
        production_time: Some(prost_types::Timestamp {
            seconds: 1_764_000_000,
            nanos: 0,
        }),
        factory: "Wuhan line 3".into(),
    })
}

impl TestIssuance {
    pub async fn stop(mut self) {
        self.running.stop().await;
    }

    pub async fn create_manufacturer(
        &mut self,
        manufacturer: pb::Manufacturer,
    ) -> Result<pb::Manufacturer, Status> {
        self.client
            .create_manufacturer(pb::CreateManufacturerRequest {
                request_id: unique("manufacturer"),
                manufacturer: Some(manufacturer),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn create_model(
        &mut self,
        manufacturer: &str,
        model: pb::ProductModel,
    ) -> Result<pb::ProductModel, Status> {
        self.client
            .create_product_model(pb::CreateProductModelRequest {
                request_id: unique("model"),
                parent: format!("manufacturers/{manufacturer}"),
                product_model: Some(model),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn approve(&mut self, name: &str) -> Result<pb::ProductModel, Status> {
        self.client
            .approve_product_model(pb::ApproveProductModelRequest {
                request_id: unique("approve"),
                name: name.into(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// A client presenting the test PKI's certificate `identity`.
    pub async fn as_(&self, identity: &str) -> IssuanceServiceClient<Channel> {
        IssuanceServiceClient::new(channel(self.addr, Some(identity)).await)
    }

    /// A client without a certificate: the anonymous public.
    pub async fn as_anonymous(&self) -> IssuanceServiceClient<Channel> {
        IssuanceServiceClient::new(channel(self.addr, None).await)
    }

    /// Manufacturer 0001 with model HX0001, approved.
    pub async fn approved_model(&mut self) -> String {
        self.create_manufacturer(manufacturer(MANUFACTURER))
            .await
            .expect("manufacturer created");
        self.create_model(MANUFACTURER, product_model(MODEL))
            .await
            .expect("model created");
        self.approve(MODEL_NAME).await.expect("model approved");
        MODEL_NAME.to_owned()
    }

    pub async fn issue(
        &mut self,
        model: &str,
        count: i32,
        request_id: &str,
    ) -> Result<pb::IssueRobotIdsResponse, Status> {
        self.manufacturer
            .issue_robot_ids(pb::IssueRobotIdsRequest {
                request_id: request_id.into(),
                product_model: model.into(),
                count,
                production: production(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// The `grpc.health.v1` status of the registry delivery detail.
    pub async fn delivery_health(&mut self) -> ServingStatus {
        let response = self
            .health
            .check(tonic_health::pb::HealthCheckRequest {
                service: DELIVERY_HEALTH_SERVICE.into(),
            })
            .await
            .expect("health answers")
            .into_inner();
        response.status()
    }

    /// Waits (bounded) until the registry was sent every robot issued so
    /// far.
    pub async fn relay_caught_up(&mut self) -> RelayStatus {
        let now = robotid_domain::time::Timestamp::now();
        self.relay_until(|status| status.as_of > now && status.pending == 0)
            .await
    }

    /// Waits (bounded) until the relay's status satisfies `ready`.
    pub async fn relay_until(&mut self, ready: impl FnMut(&RelayStatus) -> bool) -> RelayStatus {
        tokio::time::timeout(DEADLINE, self.relay.wait_for(ready))
            .await
            .expect("the relay reached the expected state in time")
            .expect("the relay is running")
            .clone()
    }
}

/// Every robot id of some responses, checking that none repeats.
pub fn disjoint_ids<'a>(
    responses: impl IntoIterator<Item = &'a pb::IssueRobotIdsResponse>,
) -> HashSet<String> {
    let mut seen = HashSet::new();
    for response in responses {
        for robot in &response.robots {
            assert!(
                seen.insert(robot.robot_id.clone()),
                "{} issued twice",
                robot.robot_id
            );
        }
    }
    seen
}
