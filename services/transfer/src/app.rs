//! Start-up: open the database, load the signing key, make the registry
//! channel, build the API, bind, serve until stopped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use robotid_credential::VerifyingKey;
use robotid_domain::code::CountryCode;
use robotid_platform::client::lazy_channel_with;
use robotid_platform::db::{Backend, Database, Migrations};
use robotid_platform::server::GrpcServer;
use robotid_platform::signing::load_signing_key;
use robotid_platform::web_client::WebClient;
use robotid_proto::transfer::v1::transfer_service_server::{SERVICE_NAME, TransferServiceServer};
use robotid_tlog::VerifierKey;
use tokio::sync::{Notify, watch};
use tonic::service::Routes;

use crate::api::TransferApi;
use crate::config::{DEFAULT_PORT, TransferConfig};
use crate::customs::Customs;
use crate::origin_proof::OriginProofs;
use crate::registry::Registry;
use crate::store::TransferStore;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// One fetch of an origin's proof bundle.
const ORIGIN_PROOF_TIMEOUT: Duration = Duration::from_secs(5);

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE_MIGRATIONS,
    postgres: &POSTGRES_MIGRATIONS,
};

/// A transfer service that is bound and migrated, ready to serve.
pub struct App {
    server: GrpcServer,
    api: TransferApi,
    store: TransferStore,
    registry: Registry,
    /// Told when the trust list changed, so its peers reach the registry.
    peers_changed: Arc<Notify>,
    customs: Arc<Customs>,
    sweep_interval: Duration,
    db: Database,
    verifying_key: VerifyingKey,
}

impl App {
    pub async fn build(config: TransferConfig) -> anyhow::Result<Self> {
        let home = CountryCode::parse(&config.country)
            .with_context(|| format!("--country {:?} is not a country code", config.country))?;
        let url = &config.server.database_url;
        let backend = Backend::of_url(url)?;
        let db = Database::open(url, config.database_connections, &MIGRATIONS)
            .await
            // Not the URL: it may hold a password.
            .with_context(|| format!("opening the transfer database ({backend:?})"))?;
        let key = load_signing_key(config.signing_key_file.as_deref(), url, "export clearance")?;
        let verifying_key = key.verifying_key();

        let tls = config.server.tls.load()?;
        // The registry is called over mutual TLS with this service's own
        // certificate (robotid://service/transfer): the registry admits the
        // border events from that identity only.
        let channel = lazy_channel_with(&config.registry_url, tls.as_ref())
            .context("--registry-url (ROBOTID_REGISTRY_URL)")?;
        let registry = Registry::new(channel, config.registry_timeout());
        let options = config
            .server
            .serve_options(tls, config.database_connections);
        let server = GrpcServer::bind_with(config.server.listen_or(DEFAULT_PORT), options).await?;
        let store = TransferStore::new(db.clone());
        let own_witness = config
            .witness_verifier_key
            .as_deref()
            .map(VerifierKey::parse)
            .transpose()
            .context("--witness-verifier-key (ROBOTID_WITNESS_VERIFIER_KEY)")?;
        if own_witness.is_none() {
            tracing::warn!(
                "no --witness-verifier-key: imports cannot clear (an origin's proof must be \
                 cosigned by this deployment's witness)"
            );
        }
        let origin_proofs = OriginProofs::new(
            WebClient::new(ORIGIN_PROOF_TIMEOUT),
            own_witness,
            Duration::from_millis(config.origin_proof_wait_ms),
        );
        let customs = Arc::new(Customs::new(
            store.clone(),
            registry.clone(),
            key,
            home.clone(),
            config.clearance_validity,
            origin_proofs,
        ));
        let peers_changed = Arc::new(Notify::new());
        let api = TransferApi::new(
            store.clone(),
            Arc::clone(&customs),
            home,
            Arc::clone(&peers_changed),
        );
        Ok(Self {
            server,
            api,
            store,
            registry,
            peers_changed,
            customs,
            sweep_interval: config.clearance_sweep_interval,
            db,
            verifying_key,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The public key that verifies this deployment's export clearances:
    /// what a peer adds to its trust list.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.verifying_key
    }

    /// Serves, and sweeps lapsed clearances, until `shutdown` resolves.
    /// In-flight calls are drained first; then a sweep under way stops
    /// where it is (the next start, or another instance, does the rest).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let (stop_sweep, sweep_stopped) = watch::channel(false);
        let sweep =
            tokio::spawn(Arc::clone(&self.customs).sweep(self.sweep_interval, sweep_stopped));
        let peer_sync = tokio::spawn(crate::peers::sync(
            self.store,
            self.registry,
            self.peers_changed,
            stop_sweep.subscribe(),
        ));
        let routes = Routes::new(TransferServiceServer::new(self.api));
        let served = self.server.serve(routes, &[SERVICE_NAME], shutdown).await;
        let _ = stop_sweep.send(true);
        sweep.await.context("the expiry sweep failed")?;
        peer_sync.await.context("the peer sync failed")?;
        self.db.pool.close().await;
        served?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_one_set_for_both_engines() {
        super::MIGRATIONS.check().unwrap();
    }
}
