//! The transfer service's settings.

use std::path::PathBuf;
use std::time::Duration;

use robotid_platform::config::ServerArgs;

pub const DEFAULT_PORT: u16 = 50053;

/// robotid-transfer: customs clearance of shipments across borders, and the
/// trust list of foreign registries.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "robotid-transfer", version)]
pub struct TransferConfig {
    #[command(flatten)]
    pub server: ServerArgs,

    /// This registry's country (ISO 3166-1 alpha-2): exports leave it,
    /// imports enter it, and its customs are the ones served here.
    #[arg(long, env = "ROBOTID_COUNTRY", default_value = "CN")]
    pub country: String,

    /// The registry that decides eligibility and records border events
    /// (`https://…` when TLS is configured: calls present this service's
    /// certificate).
    #[arg(
        long,
        env = "ROBOTID_REGISTRY_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub registry_url: String,

    /// The deployment's Ed25519 signing key, PKCS#8 PEM, that signs export
    /// clearances: the same key issuance signs credentials with, so that a
    /// peer trusts one key per country. With SQLite and no file given, one
    /// is made beside the database; PostgreSQL deployments must give it.
    #[arg(long, env = "ROBOTID_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,

    /// Database connections in the pool.
    #[arg(long, env = "ROBOTID_DATABASE_CONNECTIONS", default_value_t = 8)]
    pub database_connections: u32,

    /// A registry call not answered within this many milliseconds counts as
    /// the registry being unavailable: the customs call fails with
    /// UNAVAILABLE instead of waiting on.
    #[arg(long, env = "ROBOTID_REGISTRY_TIMEOUT_MS", default_value_t = 20_000)]
    pub registry_timeout_ms: u64,
}

impl TransferConfig {
    /// Settings for a transfer service on `database_url`, listening on
    /// `listen`, asking the registry at `registry_url`.
    pub fn new(
        listen: std::net::SocketAddr,
        database_url: impl Into<String>,
        registry_url: impl Into<String>,
    ) -> Self {
        Self {
            server: ServerArgs::new(listen, database_url),
            country: "CN".into(),
            registry_url: registry_url.into(),
            signing_key_file: None,
            database_connections: 8,
            registry_timeout_ms: 20_000,
        }
    }

    pub fn registry_timeout(&self) -> Duration {
        Duration::from_millis(self.registry_timeout_ms)
    }
}
