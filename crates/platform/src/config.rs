//! Settings every service takes, from flags or `ROBOTID_*` variables.

use std::net::SocketAddr;

/// Where a service listens and keeps its data.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Address to serve gRPC on.
    #[arg(long, env = "ROBOTID_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// `sqlite://PATH` (created if missing) or `postgres://…`.
    #[arg(long, env = "ROBOTID_DATABASE_URL")]
    pub database_url: String,

    /// Log format: `text` for people, `json` for collectors.
    #[arg(long, env = "ROBOTID_LOG_FORMAT", default_value = "text")]
    pub log_format: crate::telemetry::LogFormat,
}

impl ServerArgs {
    /// The address to listen on, or the service's default port on all
    /// interfaces.
    pub fn listen_or(&self, default_port: u16) -> SocketAddr {
        self.listen
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], default_port)))
    }
}
