//! Whole deployments of one country each — registry and transfer (and,
//! where a test issues robots, issuance) on port 0, with their own
//! databases, their own CA and one signing key — and clients presenting
//! that country's identities.
#![allow(dead_code)]

#[allow(unused_imports)] // Not every test binary refuses.
pub use robotid_test_support::{assert_refused, unique};
use std::net::SocketAddr;
use std::time::Duration;

use robotid_credential::SigningKey;
use robotid_domain::code::RobotId;
use robotid_domain::time::Timestamp;
use robotid_issuance::IssuanceConfig;
use robotid_issuance::relay::RelayStatus;
use robotid_pki::Holder;
use robotid_proto::common::v1 as common;
use robotid_proto::common::v1::EventType;
use robotid_proto::issuance::v1 as issuance;
use robotid_proto::issuance::v1::issuance_service_client::IssuanceServiceClient;
use robotid_proto::registry::v1 as registry;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use robotid_proto::transfer::v1 as pb;
use robotid_proto::transfer::v1::transfer_service_client::TransferServiceClient;
use robotid_registry::RegistryConfig;
use robotid_test_support::TestDb;
use robotid_test_support::catalog;
use robotid_test_support::tls::TestPki;
use robotid_transfer::TransferConfig;
use tokio::sync::{oneshot, watch};
use tonic::transport::Channel;

/// Longest any test waits for something to happen before failing.
pub const DEADLINE: Duration = Duration::from_secs(120);

pub const MANUFACTURER: &str = "0001";
/// What issuance knows the manufacturer and its models as, and so what
/// the registry (and a clearance) names them.
pub const MANUFACTURER_NAME: &str = "Hubei Humanoid Works Co., Ltd.";

pub fn model_display_name(model: &str) -> String {
    format!("SeeLight {model}")
}

/// A running server and the way to stop it.
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    fn spawn<F>(run: impl FnOnce(oneshot::Receiver<()>) -> F) -> Self
    where
        F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        Self {
            stop: Some(stop),
            server: Some(tokio::spawn(run(stopped))),
        }
    }

    /// Stops gracefully and waits until the server returned.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

/// What an importing customs office is shown of `robots`: each code with
/// its credential.
pub fn shipment(robots: &[Issued]) -> Vec<(&RobotId, &[u8])> {
    robots
        .iter()
        .map(|robot| (&robot.id, robot.credential.as_slice()))
        .collect()
}

/// A robot as its issuing registry issued it.
#[derive(Debug, Clone)]
pub struct Issued {
    pub id: RobotId,
    pub credential: Vec<u8>,
}

/// One country's issuance, registry and transfer services; issuance and
/// transfer sign with the deployment's one key.
pub struct Deployment {
    pub country: &'static str,
    pub pki: TestPki,
    /// The deployment's key: issuance signs credentials with it, transfer
    /// signs clearances with it, and a peer trusts it.
    pub key: SigningKey,
    pub registry_addr: SocketAddr,
    /// Its registry's log and witness verifier keys (`name+id+key`), and
    /// its public HTTP base (proof bundles, witness).
    pub log_key: String,
    pub witness_key: String,
    pub web_url: String,
    /// Where its registry finds the certificates for calling peer
    /// registries (`{cc}/ca.crt`, `{cc}/registry.{crt,key}`).
    pub peer_tls_dir: std::path::PathBuf,
    /// How the registry was started, to start it again on its ports.
    registry_config: RegistryConfig,
    pub transfer_addr: SocketAddr,
    pub issuance_addr: SocketAddr,
    relay: watch::Receiver<RelayStatus>,
    issuance: Running,
    registry: Running,
    transfer: Running,
    /// How the transfer service was started, for a second instance of it.
    transfer_config: TransferConfig,
    /// Models issuance has approved so far.
    approved: Vec<String>,
    /// Databases and key directory live as long as the deployment.
    _dbs: Vec<TestDb>,
    _dir: tempfile::TempDir,
}

/// Holder names of the extra certificates every test PKI carries:
/// customs of the peer country, and a second customs office of this one
/// (`{country}-PEK`).
pub const CUSTOMS_ABROAD: &str = "customs-abroad";
pub const CUSTOMS_OTHER_OFFICE: &str = "customs-pek";
/// The certificate this CA issues the peer country's registry.
pub const PEER_REGISTRY: &str = "peer-registry";

/// The customs office of the test PKI's `customs` certificate.
pub fn office(country: &str) -> String {
    format!("{country}-SHA")
}

impl Deployment {
    /// Registry and transfer of `country`, on databases like `db` (which
    /// the registry takes). `peer` names the other country, whose customs
    /// get a certificate from this CA too, to be refused for being
    /// foreign rather than for being unknown.
    pub async fn spawn(country: &'static str, peer: &str, db: TestDb) -> Self {
        Self::spawn_with(country, peer, db, |_| {}).await
    }

    pub async fn spawn_with(
        country: &'static str,
        peer: &str,
        db: TestDb,
        tune: impl FnOnce(&mut TransferConfig),
    ) -> Self {
        let pki = TestPki::new(
            country,
            &[
                Holder::client(CUSTOMS_ABROAD, &format!("robotid://customs/{peer}-HAM")),
                Holder::client(
                    CUSTOMS_OTHER_OFFICE,
                    &format!("robotid://customs/{country}-PEK"),
                ),
                // The peer's registry, to deliver holds here.
                Holder::client(PEER_REGISTRY, &format!("robotid://registry/{peer}")),
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("signing-key.pem");
        let key = SigningKey::create(&key_file).unwrap();
        let peer_tls_dir = dir.path().join("peers");
        let registry_config = registry_config(country, &pki, &db, dir.path(), &peer_tls_dir);
        let registry_app = robotid_registry::App::build(registry_config.clone())
            .await
            .expect("registry starts");
        let registry_addr = registry_app.local_addr();
        // A restart keeps the ports that peers and services know.
        let mut registry_config = registry_config;
        registry_config.server.listen = Some(registry_addr);
        registry_config.http_listen = registry_app.http_addr();
        registry_config.public_url = registry_app.public_url().map(str::to_owned);
        let log_key = registry_app.log().expect("a log").verifier_key();
        let witness_key = registry_app
            .witness()
            .expect("a witness")
            .verifier_key()
            .to_string();
        let web_url = registry_app
            .public_url()
            .expect("a web listener")
            .to_owned();
        // The service certificates of the test PKI name `localhost`.
        let registry_url = format!("https://localhost:{}", registry_addr.port());

        let transfer_db = db.same_engine().await;
        let mut config = TransferConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            transfer_db.url.clone(),
            registry_url.clone(),
        );
        config.country = country.into();
        config.server.tls = pki.service_tls("transfer");
        config.signing_key_file = Some(key_file.clone());
        config.witness_verifier_key = Some(witness_key.clone());
        // The origin's registry checkpoints every 20 ms and witnessing
        // follows within a few round trips.
        config.origin_proof_wait_ms = 3_000;
        tune(&mut config);
        let transfer_config = config.clone();
        let transfer_app = robotid_transfer::App::build(config)
            .await
            .expect("transfer starts");
        assert_eq!(transfer_app.verifying_key(), key.verifying_key());
        let transfer_addr = transfer_app.local_addr();

        let issuance_db = db.same_engine().await;
        let mut config = IssuanceConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            issuance_db.url.clone(),
            registry_url,
        );
        config.country = country.into();
        config.server.tls = pki.service_tls("issuance");
        config.signing_key_file = Some(key_file);
        // Tests wait for deliveries: retry a returning registry quickly.
        config.relay_max_backoff_ms = 500;
        let issuance_app = robotid_issuance::App::build(config)
            .await
            .expect("issuance starts");
        assert_eq!(issuance_app.verifying_key(), key.verifying_key());
        let issuance_addr = issuance_app.local_addr();
        let relay = issuance_app.relay_status();

        let registry = Running::spawn(|stopped| {
            registry_app.run_until_stopped(async {
                let _ = stopped.await;
            })
        });
        let transfer = Running::spawn(|stopped| {
            transfer_app.run_until_stopped(async {
                let _ = stopped.await;
            })
        });
        let issuance = Running::spawn(|stopped| {
            issuance_app.run_until_stopped(async {
                let _ = stopped.await;
            })
        });
        Self {
            country,
            pki,
            key,
            registry_addr,
            log_key,
            witness_key,
            web_url,
            peer_tls_dir,
            registry_config,
            transfer_addr,
            issuance_addr,
            relay,
            issuance,
            registry,
            transfer,
            transfer_config,
            approved: Vec::new(),
            _dbs: vec![db, transfer_db, issuance_db],
            _dir: dir,
        }
    }

    pub async fn stop(mut self) {
        self.transfer.stop().await;
        self.issuance.stop().await;
        self.registry.stop().await;
    }

    /// Another instance of this deployment's transfer service, on the same
    /// database and registry, on a port of its own; stopped when dropped
    /// or with [`Running::stop`].
    pub async fn another_transfer(&self) -> (Running, SocketAddr) {
        let mut config = self.transfer_config.clone();
        config.server.listen = Some("127.0.0.1:0".parse().unwrap());
        let app = robotid_transfer::App::build(config)
            .await
            .expect("a second transfer instance starts");
        let addr = app.local_addr();
        let running = Running::spawn(|stopped| {
            app.run_until_stopped(async {
                let _ = stopped.await;
            })
        });
        (running, addr)
    }

    /// Stops the registry only: the other services keep serving.
    pub async fn stop_registry(&mut self) {
        self.registry.stop().await;
    }

    /// Starts the registry again, on its database and its ports.
    pub async fn restart_registry(&mut self) {
        self.registry.stop().await;
        let app = robotid_registry::App::build(self.registry_config.clone())
            .await
            .expect("the registry starts again");
        self.registry = Running::spawn(|stopped| {
            app.run_until_stopped(async {
                let _ = stopped.await;
            })
        });
    }

    /// Lets `other`'s registry deliver holds to this one: this CA's
    /// certificate for it (`robotid://registry/{other}`) and this CA, in
    /// its peer TLS directory, as a regulator hands them over.
    pub fn admit_registry_of(&self, other: &Deployment) {
        let into = other.peer_tls_dir.join(self.country.to_ascii_lowercase());
        std::fs::create_dir_all(&into).unwrap();
        let from = self.pki.dir();
        for (source, target) in [
            ("ca.crt".to_owned(), "ca.crt"),
            (format!("{PEER_REGISTRY}.crt"), "registry.crt"),
            (format!("{PEER_REGISTRY}.key"), "registry.key"),
        ] {
            std::fs::copy(from.join(source), into.join(target)).unwrap();
        }
    }

    pub async fn issuance_as(&self, identity: &str) -> IssuanceServiceClient<Channel> {
        IssuanceServiceClient::new(self.pki.channel(self.issuance_addr, Some(identity)).await)
    }

    pub async fn transfer_as(&self, identity: &str) -> TransferServiceClient<Channel> {
        TransferServiceClient::new(self.pki.channel(self.transfer_addr, Some(identity)).await)
    }

    pub async fn transfer_anonymous(&self) -> TransferServiceClient<Channel> {
        TransferServiceClient::new(self.pki.channel(self.transfer_addr, None).await)
    }

    pub async fn customs(&self) -> TransferServiceClient<Channel> {
        self.transfer_as("customs").await
    }

    pub async fn registry_as(&self, identity: &str) -> RegistryServiceClient<Channel> {
        RegistryServiceClient::new(self.pki.channel(self.registry_addr, Some(identity)).await)
    }

    /// Issues `count` robots of `model` through issuance (the regulator
    /// admitting the manufacturer and approving the model first), waits
    /// until its outbox delivered them to the registry, and releases them
    /// to market.
    pub async fn issue(&mut self, model: &str, count: i32) -> Vec<Issued> {
        let product_model = self.approve(model).await;
        let issued = self
            .issuance_as("manufacturer")
            .await
            .issue_robot_ids(issuance::IssueRobotIdsRequest {
                request_id: unique("issue"),
                product_model,
                count,
                production: Some(common::Production {
                    production_time: Some(prost_types::Timestamp {
                        seconds: 1_764_000_000,
                        nanos: 0,
                    }),
                    factory: "Wuhan line 3".into(),
                }),
            })
            .await
            .expect("issued")
            .into_inner();
        let robots: Vec<Issued> = issued
            .robots
            .into_iter()
            .map(|robot| Issued {
                id: RobotId::parse(&robot.robot_id).expect("an issued code"),
                credential: robot.credential,
            })
            .collect();
        self.delivered().await;
        let ids: Vec<RobotId> = robots.iter().map(|r| r.id.clone()).collect();
        self.release(&ids).await;
        robots
    }

    /// Waits (bounded) until issuance's outbox delivered every robot
    /// issued so far to the registry.
    async fn delivered(&mut self) {
        let issued_by = Timestamp::now();
        tokio::time::timeout(
            DEADLINE,
            self.relay
                .wait_for(|status| status.as_of > issued_by && status.pending == 0),
        )
        .await
        .expect("issuance delivered to the registry in time")
        .expect("the relay is running");
    }

    /// `manufacturers/0001/productModels/{model}`, admitted and approved.
    async fn approve(&mut self, model: &str) -> String {
        let name = format!("manufacturers/{MANUFACTURER}/productModels/{model}");
        if self.approved.contains(&name) {
            return name;
        }
        let mut regulator = self.issuance_as("regulator").await;
        if self.approved.is_empty() {
            regulator
                .create_manufacturer(issuance::CreateManufacturerRequest {
                    request_id: unique("manufacturer"),
                    manufacturer: Some(catalog::manufacturer(
                        MANUFACTURER,
                        MANUFACTURER_NAME,
                        self.country,
                    )),
                })
                .await
                .expect("manufacturer admitted");
        }
        regulator
            .create_product_model(issuance::CreateProductModelRequest {
                request_id: unique("model"),
                parent: format!("manufacturers/{MANUFACTURER}"),
                product_model: Some(catalog::product_model(model, model_display_name(model))),
            })
            .await
            .expect("model declared");
        regulator
            .approve_product_model(issuance::ApproveProductModelRequest {
                request_id: unique("approve"),
                name: name.clone(),
            })
            .await
            .expect("model approved");
        self.approved.push(name.clone());
        name
    }

    /// RELEASED_TO_MARKET for each robot, as its manufacturer, a few at a
    /// time.
    pub async fn release(&self, ids: &[RobotId]) {
        let client = self.registry_as("manufacturer").await;
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in ids.chunks(ids.len().div_ceil(4).max(1)) {
            let mut client = client.clone();
            let chunk = chunk.to_vec();
            tasks.spawn(async move {
                for id in chunk {
                    client
                        .record_event(event(&id, EventType::ReleasedToMarket, Default::default()))
                        .await
                        .unwrap_or_else(|e| panic!("release of {id}: {e:?}"));
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
    }

    /// Records one event as `identity`.
    pub async fn record(
        &self,
        identity: &str,
        id: &RobotId,
        kind: EventType,
        details: registry::EventDetails,
    ) -> registry::Event {
        self.registry_as(identity)
            .await
            .record_event(event(id, kind, details))
            .await
            .unwrap_or_else(|e| panic!("{kind:?} on {id}: {e:?}"))
            .into_inner()
    }

    pub async fn recall(&self, id: &RobotId) {
        self.registry_as("manufacturer")
            .await
            .create_recall(registry::CreateRecallRequest {
                request_id: unique("recall"),
                manufacturer_code: id.manufacturer().as_str().into(),
                model_code: id.model().as_str().into(),
                robot_ids: vec![id.as_str().into()],
                reason: "brake actuator may fail".into(),
                country_code: String::new(),
            })
            .await
            .expect("recalled");
    }

    pub async fn report_stolen(&self, id: &RobotId) {
        self.record("police", id, EventType::ReportedStolen, Default::default())
            .await;
    }

    pub async fn recycle(&self, id: &RobotId) {
        self.record(
            "operator",
            id,
            EventType::Decommissioned,
            Default::default(),
        )
        .await;
        self.record("recycler", id, EventType::Recycled, Default::default())
            .await;
    }

    /// The registry's full record of a robot, read as the regulator.
    pub async fn robot(&self, id: &RobotId) -> registry::Robot {
        self.registry_as("regulator")
            .await
            .get_robot(registry::GetRobotRequest {
                robot_id: id.as_str().into(),
                view: registry::RobotView::Full.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("{id}: {e:?}"))
            .into_inner()
    }

    pub async fn events(&self, id: &RobotId) -> Vec<registry::Event> {
        self.registry_as("regulator")
            .await
            .list_events(registry::ListEventsRequest {
                robot_id: id.as_str().into(),
                page_size: 1_000,
                page_token: String::new(),
            })
            .await
            .expect("events")
            .into_inner()
            .events
    }

    /// How many calls the transfer service made to the registry so far:
    /// the registry writes one access log entry for each eligibility
    /// check, event batch and registration.
    pub async fn registry_calls_by_transfer(&self) -> usize {
        let mut client = self.registry_as("regulator").await;
        let mut page_token = String::new();
        let mut calls = 0;
        loop {
            let page = client
                .list_access_log(registry::ListAccessLogRequest {
                    page_size: 1_000,
                    page_token,
                    robot_id: String::new(),
                })
                .await
                .expect("access log")
                .into_inner();
            calls += page
                .entries
                .iter()
                .filter(|entry| entry.caller == "robotid://service/transfer")
                .count();
            if page.next_page_token.is_empty() {
                return calls;
            }
            page_token = page.next_page_token;
        }
    }

    /// This deployment's key as a peer's trust list holds it.
    /// Its log as the trust entry names it: the import policy names the
    /// log and asks no quorum of its own (the importer's own witness is
    /// always required).
    pub fn trusted(&self) -> pb::TrustedRegistry {
        pb::TrustedRegistry {
            log_origin: self.log_key.split('+').next().unwrap().to_owned(),
            log_key: self.log_key.clone(),
            witness_key: self.witness_key.clone(),
            web_url: self.web_url.clone(),
            import_policy: format!("log {}\nquorum none\n", self.log_key),
            // The service certificates of the test PKI name `localhost`.
            registry_url: format!("https://localhost:{}", self.registry_addr.port()),
            ..trusted_key(
                self.country,
                &self.key,
                days_from_now(-1),
                days_from_now(365),
            )
        }
    }

    /// Adds `trusted` to this deployment's trust list, as its regulator.
    pub async fn trust(&self, trusted: pb::TrustedRegistry) -> pb::TrustedRegistry {
        self.transfer_as("regulator")
            .await
            .add_trusted_registry(pb::AddTrustedRegistryRequest {
                request_id: unique("trust"),
                trusted_registry: Some(trusted),
            })
            .await
            .expect("trusted")
            .into_inner()
    }

    pub async fn revoke(&self, name: &str) -> pb::TrustedRegistry {
        self.transfer_as("regulator")
            .await
            .revoke_trusted_registry(pb::RevokeTrustedRegistryRequest {
                request_id: unique("revoke"),
                name: name.into(),
            })
            .await
            .expect("revoked")
            .into_inner()
    }

    /// A clearance asked by this country's customs; it must be decided.
    pub async fn clear(&self, request: pb::RequestClearanceRequest) -> pb::Transfer {
        self.customs()
            .await
            .request_clearance(request)
            .await
            .unwrap_or_else(|e| panic!("clearance not decided: {e:?}"))
            .into_inner()
    }

    /// This country's customs confirm that a cleared export departed; the
    /// answer carries the departed clearance an import needs.
    pub async fn depart(&self, name: &str) -> pb::Transfer {
        self.customs()
            .await
            .confirm_departure(pb::ConfirmDepartureRequest {
                request_id: unique("departure"),
                name: name.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("{name} did not depart: {e:?}"))
            .into_inner()
    }

    /// This country's customs confirm that a cleared import arrived.
    pub async fn arrive(&self, name: &str) -> pb::Transfer {
        self.customs()
            .await
            .confirm_arrival(pb::ConfirmArrivalRequest {
                request_id: unique("arrival"),
                name: name.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("{name} did not arrive: {e:?}"))
            .into_inner()
    }

    /// This country's customs withdraw a cleared export.
    pub async fn withdraw(&self, name: &str) -> pb::Transfer {
        self.customs()
            .await
            .withdraw_clearance(pb::WithdrawClearanceRequest {
                request_id: unique("withdrawal"),
                name: name.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("{name} was not withdrawn: {e:?}"))
            .into_inner()
    }

    /// A transfer as the regulator reads it.
    pub async fn transfer(&self, name: &str) -> pb::Transfer {
        self.transfer_as("regulator")
            .await
            .get_transfer(pb::GetTransferRequest { name: name.into() })
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"))
            .into_inner()
    }

    /// A transfer client of another instance at `addr`, as `identity`.
    pub async fn transfer_at(
        &self,
        addr: SocketAddr,
        identity: &str,
    ) -> TransferServiceClient<Channel> {
        TransferServiceClient::new(self.pki.channel(addr, Some(identity)).await)
    }

    /// Clears `robots` for export to `to` (all of them must clear) and
    /// confirms their departure: the departed transfer.
    pub async fn ship(&self, to: &str, robots: &[Issued]) -> pb::Transfer {
        let ids: Vec<_> = robots.iter().map(|robot| &robot.id).collect();
        let cleared = self.clear(export(self.country, to, &ids, false)).await;
        assert_eq!(cleared.state(), pb::TransferState::Cleared, "{cleared:?}");
        self.depart(&cleared.name).await
    }

    /// Every transfer, newest first, as the regulator.
    pub async fn all_transfers(&self, filter: pb::ListTransfersRequest) -> Vec<pb::Transfer> {
        let mut client = self.transfer_as("regulator").await;
        let mut request = filter;
        let mut transfers = Vec::new();
        loop {
            let page = client
                .list_transfers(request.clone())
                .await
                .expect("listed")
                .into_inner();
            transfers.extend(page.transfers);
            if page.next_page_token.is_empty() {
                return transfers;
            }
            request.page_token = page.next_page_token;
        }
    }
}

fn registry_config(
    country: &str,
    pki: &TestPki,
    db: &TestDb,
    dir: &std::path::Path,
    peer_tls_dir: &std::path::Path,
) -> RegistryConfig {
    let mut config = RegistryConfig::new("127.0.0.1:0".parse().unwrap(), db.url.clone());
    config.peer_tls_dir = Some(peer_tls_dir.to_owned());
    config.country = country.into();
    config.server.tls = pki.service_tls("registry");
    // A log and a witness of its own per country, on the public listener.
    let seed = country.as_bytes()[0];
    config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    config.log_integration_ms = 20;
    config.log_origin = Some(format!(
        "{}.registry.test/log",
        country.to_ascii_lowercase()
    ));
    config.log_key_file = Some(robotid_test_support::keys::ed25519_key_file("log", seed));
    config.witness_name = Some(format!(
        "{}.registry.test/witness",
        country.to_ascii_lowercase()
    ));
    config.witness_key_file = Some(robotid_test_support::keys::ed25519_key_file(
        "witness",
        seed.wrapping_add(0x40),
    ));
    if db.dir().is_none() {
        // PostgreSQL needs an explicit key; SQLite makes one beside the file.
        let path = dir.join("holder-key");
        std::fs::write(&path, "0123456789abcdef0123456789abcdef").unwrap();
        config.holder_key_file = Some(path);
    }
    config
}

pub fn event(
    id: &RobotId,
    kind: EventType,
    details: registry::EventDetails,
) -> registry::RecordEventRequest {
    registry::RecordEventRequest {
        request_id: unique("event"),
        robot_id: id.as_str().to_owned(),
        r#type: kind.into(),
        details: Some(details),
        occur_time: None,
    }
}

/// What `probe` finds once it finds something, asked again every 50 ms
/// until [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn days_from_now(days: i64) -> prost_types::Timestamp {
    let (seconds, _) = Timestamp::now().to_parts();
    prost_types::Timestamp {
        seconds: seconds + days * 86_400,
        nanos: 0,
    }
}

/// A trust list entry for `key` of `country`.
pub fn trusted_key(
    country: &str,
    key: &SigningKey,
    not_before: prost_types::Timestamp,
    not_after: prost_types::Timestamp,
) -> pb::TrustedRegistry {
    pb::TrustedRegistry {
        country_code: country.into(),
        key_id: key.kid().to_string(),
        public_key: key.verifying_key().to_bytes().to_vec(),
        not_before: Some(not_before),
        not_after: Some(not_after),
        ..Default::default()
    }
}

/// An export of `robots` to `destination`.
pub fn export(
    origin: &str,
    destination: &str,
    robots: &[&RobotId],
    allow_partial: bool,
) -> pb::RequestClearanceRequest {
    pb::RequestClearanceRequest {
        request_id: unique("clearance"),
        direction: pb::TransferDirection::Export.into(),
        robots: robots
            .iter()
            .map(|id| pb::ShipmentRobot {
                robot_id: id.as_str().into(),
                credential: Vec::new(),
            })
            .collect(),
        origin_country: origin.into(),
        destination_country: destination.into(),
        declarant: "Hubei Humanoid Works Export Dept.".into(),
        customs_office: office(origin),
        allow_partial,
        origin_clearance: Vec::new(),
    }
}

/// An import of `robots` (each with its credential) from `origin`.
pub fn import(
    origin: &str,
    destination: &str,
    robots: &[(&RobotId, &[u8])],
    origin_clearance: &[u8],
    allow_partial: bool,
) -> pb::RequestClearanceRequest {
    pb::RequestClearanceRequest {
        request_id: unique("clearance"),
        direction: pb::TransferDirection::Import.into(),
        robots: robots
            .iter()
            .map(|(id, credential)| pb::ShipmentRobot {
                robot_id: id.as_str().into(),
                credential: credential.to_vec(),
            })
            .collect(),
        origin_country: origin.into(),
        destination_country: destination.into(),
        declarant: "Hamburg Robotics Import GmbH".into(),
        customs_office: office(destination),
        allow_partial,
        origin_clearance: origin_clearance.to_vec(),
    }
}

/// The decision on each robot: (robot id, cleared, reason).
pub fn decisions(transfer: &pb::Transfer) -> Vec<(String, bool, String)> {
    transfer
        .decisions
        .iter()
        .map(|d| {
            (
                d.robot_id.clone(),
                d.decision() == pb::Decision::Cleared,
                d.reason.clone(),
            )
        })
        .collect()
}

pub fn reason_of<'a>(transfer: &'a pb::Transfer, id: &RobotId) -> &'a str {
    &transfer
        .decisions
        .iter()
        .find(|d| d.robot_id == id.as_str())
        .unwrap_or_else(|| panic!("{id} not in the transfer"))
        .reason
}
