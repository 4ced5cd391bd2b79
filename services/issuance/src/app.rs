//! Start-up: open the database, load the signing key, build the API and the
//! outbox relay, bind, serve until stopped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use robotid_credential::VerifyingKey;
use robotid_domain::code::CountryCode;
use robotid_platform::client::RpcChannel;
use robotid_platform::client::lazy_channel_with;
use robotid_platform::db::{Backend, Database, Migrations};
use robotid_platform::server::GrpcServer;
use robotid_platform::signing::load_signing_key;
use robotid_platform::tls::TlsMaterial;
use robotid_proto::issuance::v1::issuance_service_server::{IssuanceServiceServer, SERVICE_NAME};
use tokio::sync::watch;
use tonic::service::Routes;

use crate::api::IssuanceApi;
use crate::config::{DEFAULT_PORT, IssuanceConfig};
use crate::issuer::Issuer;
use crate::relay::{Relay, RelayStatus};
use crate::store::IssuanceStore;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE_MIGRATIONS,
    postgres: &POSTGRES_MIGRATIONS,
};

/// An issuance service that is bound and migrated, ready to serve.
pub struct App {
    server: GrpcServer,
    api: IssuanceApi,
    relay: Arc<Relay>,
    db: Database,
    verifying_key: VerifyingKey,
}

impl App {
    pub async fn build(config: IssuanceConfig) -> anyhow::Result<Self> {
        let country = CountryCode::parse(&config.country)
            .with_context(|| format!("--country {:?} is not a country code", config.country))?;
        let backend = Backend::of_url(&config.server.database_url)?;
        let db = Database::open(
            &config.server.database_url,
            config.database_connections,
            &MIGRATIONS,
        )
        .await
        // Not the URL: it may hold a password.
        .with_context(|| format!("opening the issuance database ({backend:?})"))?;
        let key = load_signing_key(
            config.signing_key_file.as_deref(),
            &config.server.database_url,
            "credential",
        )?;
        let verifying_key = key.verifying_key();
        let tls = config.server.tls.load()?;
        let options = config
            .server
            .serve_options(tls.clone(), config.database_connections);
        let server = GrpcServer::bind_with(config.server.listen_or(DEFAULT_PORT), options).await?;
        let store = IssuanceStore::new(db.clone());
        let relay = Arc::new(Relay::new(
            store.clone(),
            registry_channel(&config, tls.as_ref())?,
            server.health(),
            config.relay(),
        ));
        let issuer = Arc::new(Issuer::new(country, key));
        let api = IssuanceApi::new(store, issuer, relay.waker())
            .with_max_clock_skew(config.server.max_clock_skew());
        Ok(Self {
            server,
            api,
            relay,
            db,
            verifying_key,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The public key that verifies this deployment's credentials.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.verifying_key
    }

    /// How far delivery to the registry is behind, updated as it changes.
    pub fn relay_status(&self) -> watch::Receiver<RelayStatus> {
        self.relay.status()
    }

    /// Serves, and relays the outbox, until `shutdown` resolves. In-flight
    /// calls are drained first; then the relay finishes the batch it is
    /// sending (rows not yet sent stay in the outbox for the next start).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let (stop_relay, relay_stopped) = watch::channel(false);
        let relay = tokio::spawn(Arc::clone(&self.relay).run(relay_stopped));
        let routes = Routes::new(IssuanceServiceServer::new(self.api));
        let served = self.server.serve(routes, &[SERVICE_NAME], shutdown).await;
        let _ = stop_relay.send(true);
        relay.await.context("the outbox relay failed")?;
        self.db.pool.close().await;
        served?;
        Ok(())
    }
}

/// The channel to the registry, the one place it is made: over mutual TLS
/// with this service's certificate when it has one, so that the registry
/// knows the caller as `robotid://service/issuance`.
fn registry_channel(
    config: &IssuanceConfig,
    tls: Option<&TlsMaterial>,
) -> anyhow::Result<RpcChannel> {
    lazy_channel_with(&config.registry_url, tls).context("--registry-url (ROBOTID_REGISTRY_URL)")
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_one_set_for_both_engines() {
        super::MIGRATIONS.check().unwrap();
    }
}
