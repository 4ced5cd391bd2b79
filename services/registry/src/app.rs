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
use crate::store::RegistryStore;

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
        let api = RegistryApi::new(RegistryStore::new(db), home, holder_key)
            .with_max_clock_skew(config.server.max_clock_skew());
        Ok(Self { server, api })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let routes = Routes::new(RegistryServiceServer::new(self.api));
        self.server.serve(routes, &[SERVICE_NAME], shutdown).await?;
        Ok(())
    }
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
