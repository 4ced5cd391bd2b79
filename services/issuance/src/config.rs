//! Issuance's settings.

use std::path::PathBuf;
use std::time::Duration;

use robotid_platform::config::ServerArgs;

use crate::relay::RelaySettings;

pub const DEFAULT_PORT: u16 = 50051;

/// robotid-issuance: manufacturers, product models and their approval,
/// serial allocation and signed ID credentials.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "robotid-issuance", version)]
pub struct IssuanceConfig {
    #[command(flatten)]
    pub server: ServerArgs,

    /// This registry's country (ISO 3166-1 alpha-2): the first segment of
    /// every code issued here.
    #[arg(long, env = "ROBOTID_COUNTRY", default_value = "CN")]
    pub country: String,

    /// The registry every issued robot is delivered to (`https://` when
    /// this service has TLS: it calls with its own certificate).
    #[arg(
        long,
        env = "ROBOTID_REGISTRY_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub registry_url: String,

    /// The deployment's Ed25519 signing key, PKCS#8 PEM (as `openssl genpkey
    /// -algorithm ed25519` or `robotid credential keygen` writes it). With
    /// SQLite and no file given, one is made beside the database;
    /// PostgreSQL deployments must give it (a Kubernetes secret).
    #[arg(long, env = "ROBOTID_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,

    /// Database connections in the pool.
    #[arg(long, env = "ROBOTID_DATABASE_CONNECTIONS", default_value_t = 8)]
    pub database_connections: u32,

    /// Robots per delivery to the registry.
    #[arg(long, env = "ROBOTID_RELAY_BATCH_SIZE", default_value_t = 1_000,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub relay_batch_size: u32,

    /// Deliveries to the registry in flight at once, each of its own
    /// robots: while the registry writes one, the next is on its way.
    #[arg(long, env = "ROBOTID_RELAY_PARALLEL_DELIVERIES", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=16))]
    pub relay_parallel_deliveries: u32,

    /// Longest wait, in milliseconds, between delivery attempts while the
    /// registry fails.
    #[arg(long, env = "ROBOTID_RELAY_MAX_BACKOFF_MS", default_value_t = 30_000)]
    pub relay_max_backoff_ms: u64,

    /// A delivery the registry has not answered within this many
    /// milliseconds has failed and is retried.
    #[arg(long, env = "ROBOTID_RELAY_CALL_TIMEOUT_MS", default_value_t = 30_000)]
    pub relay_call_timeout_ms: u64,

    /// Report the registry delivery NOT_SERVING once robots have waited this
    /// many milliseconds without any delivery.
    #[arg(long, env = "ROBOTID_RELAY_STALL_AFTER_MS", default_value_t = 30_000)]
    pub relay_stall_after_ms: u64,
}

impl IssuanceConfig {
    /// Settings for an issuance service on `database_url`, listening on
    /// `listen`, delivering to `registry_url`.
    pub fn new(
        listen: std::net::SocketAddr,
        database_url: impl Into<String>,
        registry_url: impl Into<String>,
    ) -> Self {
        let relay = RelaySettings::default();
        Self {
            server: ServerArgs::new(listen, database_url),
            country: "CN".into(),
            registry_url: registry_url.into(),
            signing_key_file: None,
            database_connections: 8,
            relay_batch_size: relay.batch_size as u32,
            relay_parallel_deliveries: relay.parallel_deliveries as u32,
            relay_max_backoff_ms: relay.max_backoff.as_millis() as u64,
            relay_call_timeout_ms: relay.call_timeout.as_millis() as u64,
            relay_stall_after_ms: relay.stall_after.as_millis() as u64,
        }
    }

    pub fn relay(&self) -> RelaySettings {
        RelaySettings {
            batch_size: self.relay_batch_size as usize,
            parallel_deliveries: self.relay_parallel_deliveries as usize,
            max_backoff: Duration::from_millis(self.relay_max_backoff_ms),
            call_timeout: Duration::from_millis(self.relay_call_timeout_ms),
            stall_after: Duration::from_millis(self.relay_stall_after_ms),
            ..RelaySettings::default()
        }
    }
}
