//! The three Robot ID services as separate processes, as a deployment runs
//! them: each its own binary (`robotid-registry`, `robotid-issuance`,
//! `robotid-transfer`) with its own fresh PostgreSQL database, over mutual
//! TLS with a development PKI, configured only by the `ROBOTID_*`
//! variables the Kubernetes manifests set. For fault tests and benchmarks.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use robotid_topology::{Options, Service, Topology};
//! let mut topology = Topology::start(Options::from_env()).await?;
//! let model = topology.approve_model("HX0001").await?; // as the regulator
//! let mut issuance = topology.issuance_as("manufacturer").await?;
//! topology.kill(Service::Registry)?;                    // kill -9
//! let took = topology.restart(Service::Registry).await?; // same port and database
//! let memory = topology.memory(Service::Registry);       // VmHWM / VmRSS
//! topology.shutdown().await?;                            // SIGTERM, drop databases
//! # Ok(()) }
//! ```
//!
//! - Binaries: [`Options::binaries`], else next to the current executable
//!   (or its parent, for test executables in `deps/`), else the workspace's
//!   `target/<profile>`. Build them first: `cargo build -p robotid-issuance
//!   -p robotid-registry -p robotid-transfer` (add `--release` to match).
//! - Databases: one per service, created on [`Options::postgres_url`]'s
//!   server and dropped at the end; each service is migrated with
//!   `--migrate-only` before it first starts.
//! - Files (PKI, signing key, holder key, logs) live in a temporary
//!   directory, removed at the end unless [`Topology::keep_files`] was
//!   called; each service's stdout and stderr are appended to
//!   `logs/<service>.std{out,err}.log` there.
//! - [`Topology::start`] returns once every service answers
//!   `grpc.health.v1` SERVING; so does [`Topology::restart`].
//! - Identities: the holders of [`robotid_pki::standard_holders`]
//!   (`regulator`, `manufacturer` = manufacturer [`MANUFACTURER`],
//!   `seller`, `customs`, …, and the services); `None` is anonymous.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

mod binaries;
mod bootstrap;
pub mod postgres;
pub mod process;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::Context;
use robotid_platform::client::{Retrying, RpcChannel};
use robotid_proto::issuance::v1::issuance_service_client::IssuanceServiceClient;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use robotid_proto::transfer::v1::transfer_service_client::TransferServiceClient;
use robotid_test_support::TestDb;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

pub use bootstrap::MANUFACTURER;
pub use process::{Memory, ServiceProcess};
/// A `request_id` no other call of this process uses.
pub use robotid_test_support::unique as request_id;

/// Longest a service may take from start to SERVING.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// One of the three services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Registry,
    Issuance,
    Transfer,
}

impl Service {
    /// In start order: the registry first, as the others call it.
    pub const ALL: [Service; 3] = [Service::Registry, Service::Issuance, Service::Transfer];

    /// `registry`, `issuance`, `transfer`: also its certificate's name.
    pub fn name(self) -> &'static str {
        match self {
            Service::Registry => "registry",
            Service::Issuance => "issuance",
            Service::Transfer => "transfer",
        }
    }

    pub fn binary_name(self) -> &'static str {
        match self {
            Service::Registry => "robotid-registry",
            Service::Issuance => "robotid-issuance",
            Service::Transfer => "robotid-transfer",
        }
    }

    /// The gRPC service it serves, as health and method paths name it.
    pub fn grpc_name(self) -> &'static str {
        match self {
            Service::Registry => "robotid.registry.v1.RegistryService",
            Service::Issuance => "robotid.issuance.v1.IssuanceService",
            Service::Transfer => "robotid.transfer.v1.TransferService",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The origin of the registry's transparency log, the same for every
/// instance of it.
pub const LOG_ORIGIN: &str = "registry.topology.test/log";

/// How to start a topology.
#[derive(Debug, Clone)]
pub struct Options {
    /// A PostgreSQL server URL (any database on it) where each service's
    /// database is created and dropped.
    pub postgres_url: String,
    /// The directory holding the three binaries; found when `None`.
    pub binaries: Option<PathBuf>,
    /// The registry's country.
    pub country: String,
    /// Which services to run (issuance and transfer deliver to the
    /// registry: run it with them).
    pub services: Vec<Service>,
    /// Extra environment, for every service (`None`) or one, applied after
    /// the defaults (so they win): e.g. `ROBOTID_RATE_LIMIT`.
    pub settings: Vec<(Option<Service>, String, String)>,
    /// Each service's database on SQLite (a file in a temporary directory)
    /// instead of PostgreSQL: for tests that run on both engines.
    pub sqlite: bool,
    /// The registry keeps its transparency log (the default, as in
    /// production); off only to measure what the log costs.
    pub log: bool,
}

impl Options {
    pub fn new(postgres_url: impl Into<String>) -> Self {
        Self {
            postgres_url: postgres_url.into(),
            binaries: None,
            country: "CN".into(),
            services: Service::ALL.to_vec(),
            settings: Vec::new(),
            sqlite: false,
            log: true,
        }
    }

    /// The registry without its transparency log, to measure the log's
    /// cost against it.
    pub fn without_log(mut self) -> Self {
        self.log = false;
        self
    }

    /// Databases on SQLite files rather than PostgreSQL.
    pub fn on_sqlite(mut self) -> Self {
        self.sqlite = true;
        self
    }

    /// On `TEST_DATABASE_URL`, or the local server
    /// `postgres://postgres@127.0.0.1:5432/postgres`.
    pub fn from_env() -> Self {
        Self::new(
            std::env::var(robotid_test_support::TEST_DATABASE_URL)
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
        )
    }

    pub fn binaries(mut self, dir: impl Into<PathBuf>) -> Self {
        self.binaries = Some(dir.into());
        self
    }

    pub fn services(mut self, services: &[Service]) -> Self {
        self.services = services.to_vec();
        self
    }

    /// An environment variable for every service.
    pub fn setting(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.settings.push((None, key.into(), value.to_string()));
        self
    }

    /// An environment variable for one service.
    pub fn service_setting(
        mut self,
        service: Service,
        key: impl Into<String>,
        value: impl ToString,
    ) -> Self {
        self.settings
            .push((Some(service), key.into(), value.to_string()));
        self
    }
}

/// Running services, their databases and files.
pub struct Topology {
    processes: BTreeMap<Service, ServiceProcess>,
    /// The registry's public HTTP listener (the card and `/log/`).
    web: Option<SocketAddr>,
    /// More processes of a service, on its database (see
    /// [`Topology::start_replica`]).
    replicas: Vec<ServiceProcess>,
    database_urls: BTreeMap<Service, String>,
    pki: PathBuf,
    /// Dropped after the processes (field order): nobody is connected then.
    _databases: Vec<TestDb>,
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Topology {
    /// Makes the PKI, keys and databases, migrates, starts every service
    /// of `options` and waits until each answers SERVING.
    pub async fn start(options: Options) -> anyhow::Result<Self> {
        let binaries = binaries::locate(options.binaries.as_deref())?;
        let dir = tempfile::Builder::new()
            .prefix("robotid-topology-")
            .tempdir()
            .context("making the topology's directory")?;
        let path = dir.path().to_owned();
        let pki = path.join("pki");
        robotid_pki::create_dev_pki(&pki, &robotid_pki::standard_holders(&options.country))
            .context("making the development PKI")?;
        let signing_key = path.join("signing-key.pem");
        robotid_credential::SigningKey::create(&signing_key).context("making the signing key")?;
        // The registry's transparency-log key: Ed25519 PKCS#8 PEM, as the
        // signing key, and never the same key.
        let log_key = path.join("log-key.pem");
        robotid_credential::SigningKey::create(&log_key).context("making the log key")?;
        let holder_key = path.join("holder-key");
        robotid_platform::secret::read_or_create(&holder_key, 32)
            .context("making the holder key")?;
        let logs = path.join("logs");
        std::fs::create_dir_all(&logs).context("making the log directory")?;

        let mut ports = BTreeMap::new();
        for service in Service::ALL {
            ports.insert(service, free_port()?);
        }
        let registry_url = format!("https://localhost:{}", ports[&Service::Registry]);
        let web = SocketAddr::from(([127, 0, 0, 1], free_port()?));

        let mut databases = Vec::new();
        let mut database_urls = BTreeMap::new();
        let mut processes = BTreeMap::new();
        for &service in &options.services {
            let db = if options.sqlite {
                TestDb::sqlite()
            } else {
                TestDb::postgres_on(&options.postgres_url)
                    .await
                    .with_context(|| format!("creating the {service} database"))?
            };
            database_urls.insert(service, db.url.clone());
            let addr = SocketAddr::from(([127, 0, 0, 1], ports[&service]));
            let tls = |file: &str| pki.join(file).display().to_string();
            let mut env: Vec<(String, String)> = vec![
                ("ROBOTID_LISTEN".into(), addr.to_string()),
                ("ROBOTID_DATABASE_URL".into(), db.url.clone()),
                ("ROBOTID_COUNTRY".into(), options.country.clone()),
                ("ROBOTID_TLS_CERT".into(), tls(&format!("{service}.crt"))),
                ("ROBOTID_TLS_KEY".into(), tls(&format!("{service}.key"))),
                ("ROBOTID_TLS_CA".into(), tls("ca.crt")),
                ("OTEL_SERVICE_NAME".into(), service.binary_name().into()),
            ];
            match service {
                Service::Registry => {
                    env.extend([
                        (
                            "ROBOTID_HOLDER_KEY_FILE".into(),
                            holder_key.display().to_string(),
                        ),
                        ("ROBOTID_HTTP_LISTEN".into(), web.to_string()),
                    ]);
                    if options.log {
                        env.extend([
                            ("ROBOTID_LOG_KEY_FILE".into(), log_key.display().to_string()),
                            ("ROBOTID_LOG_ORIGIN".into(), LOG_ORIGIN.into()),
                        ]);
                    }
                }
                Service::Issuance | Service::Transfer => {
                    env.push(("ROBOTID_REGISTRY_URL".into(), registry_url.clone()));
                    env.push((
                        "ROBOTID_SIGNING_KEY_FILE".into(),
                        signing_key.display().to_string(),
                    ));
                }
            }
            for (only, key, value) in &options.settings {
                if only.is_none_or(|s| s == service) {
                    env.push((key.clone(), value.clone()));
                }
            }
            databases.push(db);
            let binary = binaries.join(service.binary_name());
            processes.insert(
                service,
                ServiceProcess::new(service, binary, addr, env, &logs),
            );
        }
        let web = options.services.contains(&Service::Registry).then_some(web);
        let mut topology = Self {
            processes,
            web,
            replicas: Vec::new(),
            database_urls,
            pki,
            _databases: databases,
            dir: Some(dir),
            path,
        };
        for service in options.services {
            topology.process(service)?.migrate()?;
            topology.restart(service).await?;
        }
        Ok(topology)
    }

    /// The directory holding the PKI, keys and `logs/`.
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// The registry's public HTTP listener (its card, its log at `/log/`).
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web
    }

    /// The registry's transparency-log key (PKCS#8 PEM), whose checkpoints
    /// name [`LOG_ORIGIN`].
    pub fn log_key(&self) -> PathBuf {
        self.path.join("log-key.pem")
    }

    /// Leave the directory in place at the end, for diagnosis.
    pub fn keep_files(&mut self) {
        if let Some(dir) = self.dir.take() {
            self.path = dir.keep();
        }
    }

    /// The PKI directory: `ca.crt` and `<identity>.{crt,key}`.
    pub fn pki_dir(&self) -> &Path {
        &self.pki
    }

    pub fn process(&self, service: Service) -> anyhow::Result<&ServiceProcess> {
        self.processes
            .get(&service)
            .with_context(|| format!("{service} is not part of this topology"))
    }

    fn process_mut(&mut self, service: Service) -> anyhow::Result<&mut ServiceProcess> {
        self.processes
            .get_mut(&service)
            .with_context(|| format!("{service} is not part of this topology"))
    }

    pub fn addr(&self, service: Service) -> anyhow::Result<SocketAddr> {
        Ok(self.process(service)?.addr())
    }

    /// The service's own database.
    pub fn database_url(&self, service: Service) -> anyhow::Result<&str> {
        self.database_urls
            .get(&service)
            .map(String::as_str)
            .with_context(|| format!("{service} is not part of this topology"))
    }

    /// Peak and current resident memory of the service's process now.
    pub fn memory(&self, service: Service) -> Option<Memory> {
        self.processes.get(&service)?.memory()
    }

    /// An endpoint for `service` over TLS presenting `identity`'s
    /// certificate (`None`: anonymous), to tune before connecting.
    pub fn endpoint(&self, service: Service, identity: Option<&str>) -> anyhow::Result<Endpoint> {
        Ok(
            Endpoint::from_shared(format!("https://{}", self.addr(service)?))?
                .tls_config(self.client_tls(identity)?)?
                .tcp_nodelay(true)
                .connect_timeout(Duration::from_secs(2)),
        )
    }

    /// TLS as `identity` of the PKI (`None`: no client certificate).
    fn client_tls(&self, identity: Option<&str>) -> anyhow::Result<ClientTlsConfig> {
        let read = |name: String| {
            let path = self.pki.join(&name);
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
        };
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read("ca.crt".into())?))
            .domain_name("localhost");
        if let Some(name) = identity {
            tls = tls.identity(Identity::from_pem(
                read(format!("{name}.crt"))?,
                read(format!("{name}.key"))?,
            ));
        }
        Ok(tls)
    }

    /// A connected channel to `service` as `identity`. It reconnects by
    /// itself after the service restarts.
    pub async fn channel(
        &self,
        service: Service,
        identity: Option<&str>,
    ) -> anyhow::Result<Channel> {
        let endpoint = self.endpoint(service, identity)?;
        endpoint
            .connect()
            .await
            .with_context(|| format!("connecting to {service}"))
    }

    /// A connected channel to `service` as `identity` whose calls retry
    /// UNAVAILABLE and RESOURCE_EXHAUSTED with a RetryInfo, as every
    /// client of the API does (`robotid_platform::client`).
    pub async fn retrying_channel(
        &self,
        service: Service,
        identity: Option<&str>,
    ) -> anyhow::Result<RpcChannel> {
        Ok(Retrying::new(self.channel(service, identity).await?))
    }

    pub async fn issuance_as(
        &self,
        identity: &str,
    ) -> anyhow::Result<IssuanceServiceClient<RpcChannel>> {
        Ok(IssuanceServiceClient::new(
            self.retrying_channel(Service::Issuance, Some(identity))
                .await?,
        ))
    }

    pub async fn registry_as(
        &self,
        identity: &str,
    ) -> anyhow::Result<RegistryServiceClient<RpcChannel>> {
        Ok(RegistryServiceClient::new(
            self.retrying_channel(Service::Registry, Some(identity))
                .await?,
        ))
    }

    pub async fn registry_anonymous(&self) -> anyhow::Result<RegistryServiceClient<RpcChannel>> {
        Ok(RegistryServiceClient::new(
            self.retrying_channel(Service::Registry, None).await?,
        ))
    }

    pub async fn transfer_as(
        &self,
        identity: &str,
    ) -> anyhow::Result<TransferServiceClient<RpcChannel>> {
        Ok(TransferServiceClient::new(
            self.retrying_channel(Service::Transfer, Some(identity))
                .await?,
        ))
    }

    /// The overall `grpc.health.v1` status of `service`, asked on a new
    /// connection; an error when it does not answer within `timeout`.
    pub async fn health(
        &self,
        service: Service,
        timeout: Duration,
    ) -> anyhow::Result<ServingStatus> {
        let ask = async {
            let channel = self.channel(service, None).await?;
            let answer = HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await?
                .into_inner();
            anyhow::Ok(ServingStatus::try_from(answer.status).unwrap_or(ServingStatus::Unknown))
        };
        tokio::time::timeout(timeout, ask)
            .await
            .with_context(|| format!("{service} health did not answer within {timeout:?}"))?
    }

    /// SIGKILL (`kill -9`): the process dies at once, mid-call.
    pub fn kill(&mut self, service: Service) -> anyhow::Result<ExitStatus> {
        self.process_mut(service)?.kill()
    }

    /// SIGTERM: the service drains and exits; its exit status. Killed
    /// (and an error) if it has not exited within `timeout`.
    pub async fn terminate(
        &mut self,
        service: Service,
        timeout: Duration,
    ) -> anyhow::Result<ExitStatus> {
        self.process_mut(service)?.terminate(timeout).await
    }

    /// Starts the (stopped) service again on its port and database and
    /// waits until it answers SERVING; how long that took.
    pub async fn restart(&mut self, service: Service) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.process_mut(service)?.spawn()?;
        loop {
            if let Ok(ServingStatus::Serving) = self.health(service, Duration::from_secs(2)).await {
                return Ok(started.elapsed());
            }
            let process = self.process_mut(service)?;
            if let Some(status) = process.exited() {
                anyhow::bail!(
                    "{service} exited at start ({status}); its stderr ends:\n{}",
                    process.stderr_tail()
                );
            }
            if started.elapsed() > START_DEADLINE {
                anyhow::bail!(
                    "{service} did not answer SERVING within {START_DEADLINE:?}; its stderr ends:\n{}",
                    process.stderr_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts one more process of `service` on the same database and
    /// settings, on a port of its own, as a deployment scales a service to
    /// several replicas; waits until it answers SERVING. Returns its
    /// address. Replicas stop with [`Topology::shutdown`].
    pub async fn start_replica(&mut self, service: Service) -> anyhow::Result<SocketAddr> {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let index = self.replicas.len() + 2;
        let mut replica = self
            .process(service)?
            .replica(index, addr, &self.path.join("logs"));
        replica.spawn()?;
        self.replicas.push(replica);
        let started = Instant::now();
        loop {
            let serving = async {
                let channel = Endpoint::from_shared(format!("https://{addr}"))?
                    .tls_config(self.client_tls(None)?)?
                    .connect()
                    .await?;
                let answer = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await?
                    .into_inner();
                anyhow::Ok(answer.status == ServingStatus::Serving as i32)
            };
            if let Ok(Ok(true)) = tokio::time::timeout(Duration::from_secs(2), serving).await {
                return Ok(addr);
            }
            anyhow::ensure!(
                started.elapsed() < START_DEADLINE,
                "replica {index} of {service} did not answer SERVING within {START_DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A connected channel to the replica at `addr` as `identity`, its
    /// calls retrying as every client's do.
    pub async fn replica_channel(
        &self,
        addr: SocketAddr,
        identity: Option<&str>,
    ) -> anyhow::Result<RpcChannel> {
        let channel = Endpoint::from_shared(format!("https://{addr}"))?
            .tls_config(self.client_tls(identity)?)?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(2))
            .connect()
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        Ok(Retrying::new(channel))
    }

    /// Whether the service's process has exited by itself (it is then
    /// stopped, and may be restarted).
    pub fn exited(&mut self, service: Service) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.process_mut(service)?.exited())
    }

    /// Stops every service with SIGTERM (in reverse start order) and drops
    /// the databases; an error if one did not exit 0.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let mut failures = Vec::new();
        let running: Vec<Service> = self
            .processes
            .values()
            .filter(|p| p.pid().is_some())
            .map(ServiceProcess::service)
            .collect();
        for replica in &mut self.replicas {
            if replica.pid().is_none() {
                continue;
            }
            match replica.terminate(Duration::from_secs(30)).await {
                Ok(status) if status.success() => {}
                Ok(status) => failures.push(format!(
                    "a replica of {} exited {status}",
                    replica.service()
                )),
                Err(error) => failures.push(format!("{error:#}")),
            }
        }
        for service in running.into_iter().rev() {
            match self.terminate(service, Duration::from_secs(30)).await {
                Ok(status) if status.success() => {}
                Ok(status) => failures.push(format!("{service} exited {status}")),
                Err(error) => failures.push(format!("{error:#}")),
            }
        }
        anyhow::ensure!(failures.is_empty(), "{}", failures.join("; "));
        Ok(())
    }
}

/// A port the OS says is free now (bound and released at once).
pub fn free_port() -> anyhow::Result<u16> {
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", 0)).context("asking the OS for a free port")?;
    Ok(listener.local_addr()?.port())
}
