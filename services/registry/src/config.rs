//! The registry's settings.

use std::path::PathBuf;

use robotid_platform::config::ServerArgs;

pub const DEFAULT_PORT: u16 = 50052;

/// robotid-registry: every robot, its status and holds, and its
/// hash-chained history.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "robotid-registry", version)]
pub struct RegistryConfig {
    #[command(flatten)]
    pub server: ServerArgs,

    /// This registry's country (ISO 3166-1 alpha-2): codes of this country
    /// were issued here and must carry a valid check character.
    #[arg(long, env = "ROBOTID_COUNTRY", default_value = "CN")]
    pub country: String,

    /// File holding the secret (at least 32 bytes) that keys private holder
    /// hashes. With SQLite and no file given, one is made beside the
    /// database; PostgreSQL deployments must give it (a Kubernetes secret).
    #[arg(long, env = "ROBOTID_HOLDER_KEY_FILE")]
    pub holder_key_file: Option<PathBuf>,

    /// Database connections in the pool.
    #[arg(long, env = "ROBOTID_DATABASE_CONNECTIONS", default_value_t = 8)]
    pub database_connections: u32,

    /// Serve the public web card over plain HTTP on ADDR (off when unset):
    /// read-only, for anyone, apart from the gRPC API (TLS ends at the
    /// ingress in front of it).
    #[arg(long, env = "ROBOTID_HTTP_LISTEN")]
    pub http_listen: Option<std::net::SocketAddr>,

    /// The public base URL of that listener as phones reach it, without a
    /// trailing slash (e.g. `https://id.example.cn`): links and labels
    /// use it. Default: `http://` and the --http-listen address.
    #[arg(long, env = "ROBOTID_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// The public half (SPKI PEM) of this deployment's credential-signing
    /// key, published at `{public url}/keys` so that a phone can check a
    /// label's credential. Unset: only the foreign keys that verified
    /// imported robots are published.
    #[arg(long, env = "ROBOTID_CREDENTIAL_PUBLIC_KEY_FILE")]
    pub credential_public_key_file: Option<PathBuf>,

    /// The transparency log's Ed25519 signing key (PKCS#8 PEM), not the
    /// credential key: every event becomes a leaf of the registry's log,
    /// whose checkpoints this key signs. Unset: no log is kept (refused
    /// once a log was kept, so none of its leaves go missing).
    #[arg(long, env = "ROBOTID_LOG_KEY_FILE")]
    pub log_key_file: Option<PathBuf>,

    /// The log's origin line (and its key's name). Default: the public URL
    /// with `/log` and without the scheme, as c2sp.org/tlog-tiles
    /// recommends (`id.example.cn/log`). It must never change.
    #[arg(long, env = "ROBOTID_LOG_ORIGIN")]
    pub log_origin: Option<String>,

    /// Longest wait, in milliseconds, between an event and a checkpoint
    /// that covers it (the integration delay), and the pace of checkpoints
    /// under load.
    #[arg(long, env = "ROBOTID_LOG_INTEGRATION_MS", default_value_t = 250)]
    pub log_integration_ms: u64,

    /// The witness's Ed25519 key (PKCS#8 PEM), neither the log's nor the
    /// credential key: it cosigns the trusted peers' checkpoints at
    /// `{public url}/witness/add-checkpoint`. Unset: no witness.
    #[arg(long, env = "ROBOTID_WITNESS_KEY_FILE")]
    pub witness_key_file: Option<PathBuf>,

    /// The witness's name (its cosignature key's name). Default: the
    /// public URL with `/witness` and without the scheme.
    #[arg(long, env = "ROBOTID_WITNESS_NAME")]
    pub witness_name: Option<String>,

    /// Where the certificates for calling peer registries are: for each
    /// peer, `DIR/{cc}/ca.crt` (the peer's CA) and `DIR/{cc}/registry.crt`
    /// and `registry.key`, the certificate that CA issued this registry
    /// (`robotid://registry/{this country}`). Holds that cross borders are
    /// delivered with them, to the registry address of the peer's trust
    /// entry. Unset: holds wait in the outbox.
    #[arg(long, env = "ROBOTID_PEER_TLS_DIR")]
    pub peer_tls_dir: Option<PathBuf>,
}

impl RegistryConfig {
    /// Settings for a registry on `database_url`, listening on `listen`.
    pub fn new(listen: std::net::SocketAddr, database_url: impl Into<String>) -> Self {
        Self {
            server: ServerArgs::new(listen, database_url),
            country: "CN".into(),
            holder_key_file: None,
            database_connections: 8,
            http_listen: None,
            public_url: None,
            credential_public_key_file: None,
            log_key_file: None,
            log_origin: None,
            log_integration_ms: 250,
            witness_key_file: None,
            witness_name: None,
            peer_tls_dir: None,
        }
    }
}
