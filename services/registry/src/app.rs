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
use crate::web::{self, Web};
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
        let store = RegistryStore::new(db);
        store.adopt_unplaced_recalls(&home).await?;
        let web = match config.http_listen {
            None => None,
            Some(addr) => Some(web(&config, addr, store.clone(), home.clone()).await?),
        };
        let api = RegistryApi::new(store, home, holder_key)
            .with_max_clock_skew(config.server.max_clock_skew());
        Ok(Self { server, api, web })
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
        let Some((http, web)) = self.web else {
            self.server.serve(routes, &[SERVICE_NAME], shutdown).await?;
            return Ok(());
        };
        // One stop signal for both listeners: the public one stops taking
        // requests when gRPC starts draining, and both finish what they have.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let mut http_stopped = stopped.clone();
        let public = tokio::spawn(http.serve(web::router(web), async move {
            let _ = http_stopped.wait_for(|stopped| *stopped).await;
        }));
        let served = self.server.serve(routes, &[SERVICE_NAME], shutdown).await;
        // gRPC stopped (drained, or failed): the public listener stops too.
        drop(stopped);
        let public = public.await.context("the public HTTP listener panicked")?;
        served?;
        public.context("the public HTTP listener failed")?;
        Ok(())
    }
}

/// The public listener, bound, and the card it serves.
async fn web(
    config: &RegistryConfig,
    addr: SocketAddr,
    store: RegistryStore,
    home: CountryCode,
) -> anyhow::Result<(PublicHttp, Web)> {
    let http = PublicHttp::bind(addr, HttpOptions::default())
        .await
        .with_context(|| format!("cannot listen on --http-listen {addr}"))?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", http.local_addr()));
    let own_key = config
        .credential_public_key_file
        .as_deref()
        .map(VerifyingKey::load)
        .transpose()
        .context("--credential-public-key-file")?;
    Ok((http, Web::new(store, home, public_url, own_key)))
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
