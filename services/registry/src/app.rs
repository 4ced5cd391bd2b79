//! Start-up: open the database, build the API, bind, serve until stopped.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use robotid_domain::code::CountryCode;
use robotid_domain::holder::HolderKey;
use robotid_platform::db::{self, Backend, Database, Migrations};
use robotid_platform::secret;
use robotid_platform::server::GrpcServer;
use robotid_proto::registry::v1::registry_service_server::{RegistryServiceServer, SERVICE_NAME};
use tonic::service::Routes;

use crate::api::RegistryApi;
use crate::config::{DEFAULT_PORT, RegistryConfig};
use crate::holds::relay::HoldRelay;
use crate::log::TransparencyLog;
use crate::log::witnessing::Witnessing;
use crate::store::RegistryStore;
use crate::web::{self, Web};
use crate::witness::RegistryWitness;
use robotid_credential::VerifyingKey;
use robotid_platform::http::{HttpOptions, PublicHttp};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE_MIGRATIONS,
    postgres: &POSTGRES_MIGRATIONS,
};

/// A registry that is bound and migrated, ready to serve.
pub struct App {
    server: GrpcServer,
    api: RegistryApi,
    /// The public HTTP listener and its card, with `--http-listen`.
    web: Option<(PublicHttp, Web)>,
    /// The transparency log, with `--log-key-file`.
    log: Option<TransparencyLog>,
    /// The witness of the peers' logs, with `--witness-key-file`.
    witness: Option<RegistryWitness>,
    /// Delivers the holds that cross borders to the peers.
    holds: HoldRelay,
}

impl App {
    pub async fn build(config: RegistryConfig) -> anyhow::Result<Self> {
        let home = CountryCode::parse(&config.country)
            .with_context(|| format!("--country {:?} is not a country code", config.country))?;
        let url = &config.server.database_url;
        let db = Database::open(url, config.database_connections, &MIGRATIONS)
            .await
            .with_context(|| format!("opening the registry database {}", redact_url(url)))?;
        let holder_key = holder_key(&config, db.backend)?;
        let tls = config.server.tls.load()?;
        let mut options = config
            .server
            .serve_options(tls, config.database_connections);
        // RecordEvent queues in front of the database by itself (group
        // commit): as many calls as its writers' groups hold may wait there.
        options.admission.method_limits.push((
            format!("/{SERVICE_NAME}/RecordEvent"),
            crate::event_writer::CAPACITY,
        ));
        let server = GrpcServer::bind_with(config.server.listen_or(DEFAULT_PORT), options).await?;
        let http = match config.http_listen {
            None => None,
            Some(addr) => Some(
                PublicHttp::bind(addr, HttpOptions::default())
                    .await
                    .with_context(|| format!("cannot listen on --http-listen {addr}"))?,
            ),
        };
        let public_url = config.public_url.clone().or_else(|| {
            http.as_ref()
                .map(|http| format!("http://{}", http.local_addr()))
        });
        let log = transparency_log(&config, &db, public_url.as_deref()).await?;
        let witness = witness(&config, &db, public_url.as_deref())?;
        let mut store = RegistryStore::new(db);
        if let Some(log) = &log {
            store = store.with_log(log.clone());
        }
        store.adopt_unplaced_recalls(&home).await?;
        let web = match http {
            None => None,
            Some(http) => {
                let public_url = public_url.unwrap_or_default();
                Some((http, web(&config, store.clone(), home.clone(), public_url)?))
            }
        };
        let holds = HoldRelay::new(store.clone(), home.clone(), config.peer_tls_dir.clone());
        let api = RegistryApi::new(store, home, holder_key)
            .with_max_clock_skew(config.server.max_clock_skew());
        Ok(Self {
            server,
            api,
            web,
            log,
            witness,
            holds,
        })
    }

    /// The witness of the peers' logs, when it has one.
    pub fn witness(&self) -> Option<&RegistryWitness> {
        self.witness.as_ref()
    }

    /// The transparency log's origin and verifier key, when it keeps one.
    pub fn log(&self) -> Option<&TransparencyLog> {
        self.log.as_ref()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Where the public HTTP listener is bound, with `--http-listen`.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.web.as_ref().map(|(http, _)| http.local_addr())
    }

    /// The public base URL links and labels use, with `--http-listen`.
    pub fn public_url(&self) -> Option<&str> {
        self.web.as_ref().map(|(_, web)| web.public_url())
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let routes = Routes::new(RegistryServiceServer::new(self.api));
        // One stop signal for every task: the public listener stops taking
        // requests when gRPC starts draining, and all finish what they have.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stopped| *stopped).await;
        };
        let integrator = self
            .log
            .clone()
            .map(|log| tokio::spawn(log.run(until_stopped(stopped.clone()))));
        // Each new checkpoint goes to the peers' witnesses, at the pace of
        // the integration.
        let witnessing = self.log.clone().map(|log| {
            let interval = log.interval();
            tokio::spawn(Witnessing::new(log, interval).run(until_stopped(stopped.clone())))
        });
        let holds = tokio::spawn(self.holds.run(until_stopped(stopped.clone())));
        let forks = self.witness.clone().map(|witness| {
            tokio::spawn(crate::witness::report_forks(
                witness.pool().clone(),
                self.server.health(),
                until_stopped(stopped.clone()),
            ))
        });
        let public = self.web.map(|(http, web)| {
            let mut router = web::router(web);
            if let Some(log) = self.log.clone() {
                router = router.merge(crate::log::http::router(log));
            }
            if let Some(witness) = self.witness.clone() {
                router = router.merge(crate::witness::http::router(witness));
            }
            tokio::spawn(http.serve(router, until_stopped(stopped.clone())))
        });
        let served = self.server.serve(routes, &[SERVICE_NAME], shutdown).await;
        // gRPC stopped (drained, or failed): the others stop too.
        drop(stopped);
        if let Some(public) = public {
            let public = public.await.context("the public HTTP listener panicked")?;
            public.context("the public HTTP listener failed")?;
        }
        if let Some(integrator) = integrator {
            integrator
                .await
                .context("the transparency log's integrator panicked")?;
        }
        holds
            .await
            .context("delivering holds to the peers panicked")?;
        if let Some(forks) = forks {
            forks.await.context("reporting fork evidence panicked")?;
        }
        if let Some(witnessing) = witnessing {
            witnessing
                .await
                .context("sending checkpoints to the peers' witnesses panicked")?;
        }
        served?;
        Ok(())
    }
}

/// The card the public listener serves.
fn web(
    config: &RegistryConfig,
    store: RegistryStore,
    home: CountryCode,
    public_url: String,
) -> anyhow::Result<Web> {
    let own_key = config
        .credential_public_key_file
        .as_deref()
        .map(VerifyingKey::load)
        .transpose()
        .context("--credential-public-key-file")?;
    Ok(Web::new(store, home, public_url, own_key))
}

/// The log, with `--log-key-file`; without it, a start-up refusal if the
/// database already keeps one (its leaves would stop, unnoticed).
async fn transparency_log(
    config: &RegistryConfig,
    db: &Database,
    public_url: Option<&str>,
) -> anyhow::Result<Option<TransparencyLog>> {
    let Some(path) = &config.log_key_file else {
        let mut connection = db.pool.acquire().await?;
        if crate::log::store::leaf_count(&mut connection).await? > 0 {
            anyhow::bail!(
                "this registry keeps a transparency log: start it with --log-key-file \
                 (ROBOTID_LOG_KEY_FILE)"
            );
        }
        tracing::warn!("no --log-key-file: this registry keeps no transparency log");
        return Ok(None);
    };
    let key = ed25519_key(path, "--log-key-file")?;
    let origin = match (&config.log_origin, public_url) {
        (Some(origin), _) => origin.clone(),
        (None, Some(url)) => robotid_tlog::origin_from_prefix(&format!("{url}/log")),
        (None, None) => anyhow::bail!(
            "the transparency log needs its origin: set --log-origin, --public-url or --http-listen"
        ),
    };
    let log = TransparencyLog::new(
        db.pool.clone(),
        key,
        origin,
        std::time::Duration::from_millis(config.log_integration_ms.max(1)),
    )
    .context("the log's origin is not a valid key name")?;
    tracing::info!(origin = log.origin(), key = %log.verifier_key(), "transparency log");
    Ok(Some(log))
}

/// The witness, with `--witness-key-file`.
fn witness(
    config: &RegistryConfig,
    db: &Database,
    public_url: Option<&str>,
) -> anyhow::Result<Option<RegistryWitness>> {
    let Some(path) = &config.witness_key_file else {
        return Ok(None);
    };
    let key = ed25519_key(path, "--witness-key-file")?;
    let name = match (&config.witness_name, public_url) {
        (Some(name), _) => name.clone(),
        (None, Some(url)) => robotid_tlog::origin_from_prefix(&format!("{url}/witness")),
        (None, None) => anyhow::bail!(
            "the witness needs its name: set --witness-name, --public-url or --http-listen"
        ),
    };
    let witness = RegistryWitness::new(db.pool.clone(), name, key)
        .context("the witness's name is not a valid key name")?;
    tracing::info!(name = witness.name(), key = %witness.verifier_key(), "witness of the peers' logs");
    Ok(Some(witness))
}

/// An Ed25519 key from a PKCS#8 PEM file.
fn ed25519_key(path: &Path, flag: &str) -> anyhow::Result<ed25519_dalek::SigningKey> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("reading {flag} {}", path.display()))?;
    <ed25519_dalek::SigningKey as ed25519_dalek::pkcs8::DecodePrivateKey>::from_pkcs8_pem(
        pem.trim(),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "{flag} {}: not an Ed25519 PKCS#8 PEM key: {e}",
            path.display()
        )
    })
}

fn holder_key(config: &RegistryConfig, backend: Backend) -> anyhow::Result<HolderKey> {
    let secret = match (&config.holder_key_file, backend) {
        (Some(path), _) => secret::read(path)?,
        (None, Backend::Sqlite) => {
            let path = sqlite_sibling(&config.server.database_url, "holder-key");
            tracing::info!(path = %path.display(), "using the development holder key beside the database");
            secret::read_or_create(&path, 32)?
        }
        (None, Backend::Postgres) => anyhow::bail!(
            "--holder-key-file (ROBOTID_HOLDER_KEY_FILE) is required with PostgreSQL: \
             private holders are hashed with it"
        ),
    };
    Ok(HolderKey::new(secret)?)
}

/// `sqlite://dir/registry.db` → `dir/registry.db.<suffix>`.
fn sqlite_sibling(url: &str, suffix: &str) -> PathBuf {
    let path = db::sqlite_path(url).unwrap_or(Path::new("registry.db"));
    PathBuf::from(format!("{}.{suffix}", path.display()))
}

/// The URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_one_set_for_both_engines() {
        super::MIGRATIONS.check().unwrap();
    }
}
