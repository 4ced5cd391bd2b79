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

    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,

    #[command(flatten)]
    pub limits: LimitArgs,

    /// Serve plaintext gRPC health (only) on ADDR, for probes that do not
    /// speak TLS, such as Kubernetes' gRPC probes (off when unset).
    #[arg(long, env = "ROBOTID_HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,

    /// Apply the database migrations and exit (for a deployment step that
    /// migrates before the new version serves).
    #[arg(long, env = "ROBOTID_MIGRATE_ONLY")]
    pub migrate_only: bool,

    /// Serve Prometheus metrics at http://ADDR/metrics (off when unset).
    #[arg(long, env = "ROBOTID_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Log format: `text` for people, `json` for collectors.
    #[arg(long, env = "ROBOTID_LOG_FORMAT", default_value = "text")]
    pub log_format: crate::telemetry::LogFormat,

    /// How far in the future, in seconds, a time a caller reports (an
    /// event's occur_time, a production_time) may be: clocks differ a
    /// little, the future has not happened.
    #[arg(long, env = "ROBOTID_MAX_CLOCK_SKEW_SECONDS", default_value_t = 300)]
    pub max_clock_skew_seconds: u64,
}

impl ServerArgs {
    /// Listening on `listen`, with its data at `database_url`, plaintext and
    /// default limits: for tests and embedding.
    pub fn new(listen: SocketAddr, database_url: impl Into<String>) -> Self {
        Self {
            listen: Some(listen),
            database_url: database_url.into(),
            tls: Default::default(),
            limits: Default::default(),
            metrics_listen: None,
            health_listen: None,
            migrate_only: false,
            log_format: Default::default(),
            max_clock_skew_seconds: 300,
        }
    }

    /// `--max-clock-skew-seconds`.
    pub fn max_clock_skew(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.max_clock_skew_seconds)
    }

    /// The address to listen on, or the service's default port on all
    /// interfaces.
    pub fn listen_or(&self, default_port: u16) -> SocketAddr {
        self.listen
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], default_port)))
    }
}

/// How a server protects itself and its callers.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Longest a call may run, in seconds (a shorter client deadline wins).
    #[arg(long, env = "ROBOTID_REQUEST_TIMEOUT_SECONDS", default_value_t = 30)]
    pub request_timeout_seconds: u64,

    /// Calls worked on at once (default: two per database connection):
    /// what the database can serve. A call past it waits up to
    /// --queue-timeout-ms for a slot, then is refused with
    /// RESOURCE_EXHAUSTED and a RetryInfo.
    #[arg(long, env = "ROBOTID_MAX_CONCURRENT_CALLS")]
    pub max_concurrent_calls: Option<usize>,

    /// Longest a call waits for a slot, in milliseconds, before it is
    /// refused (shed, not queued).
    #[arg(long, env = "ROBOTID_QUEUE_TIMEOUT_MS", default_value_t = 100)]
    pub queue_timeout_ms: u64,

    /// Calls per second per identity (per address for anonymous callers);
    /// more answer RESOURCE_EXHAUSTED with the time to wait.
    #[arg(long, env = "ROBOTID_RATE_LIMIT", default_value_t = std::num::NonZeroU32::new(2000).unwrap())]
    pub rate_limit: std::num::NonZeroU32,

    /// After SIGTERM, seconds in-flight calls may take to finish.
    #[arg(long, env = "ROBOTID_DRAIN_TIMEOUT_SECONDS", default_value_t = 20)]
    pub drain_timeout_seconds: u64,
}

impl Default for LimitArgs {
    fn default() -> Self {
        Self {
            request_timeout_seconds: 30,
            max_concurrent_calls: None,
            queue_timeout_ms: 100,
            rate_limit: std::num::NonZeroU32::new(2000).unwrap(),
            drain_timeout_seconds: 20,
        }
    }
}

impl ServerArgs {
    /// Serve options from these settings, the loaded TLS material and the
    /// size of the service's database pool (which the calls in progress
    /// are sized to).
    pub fn serve_options(
        &self,
        tls: Option<crate::tls::TlsMaterial>,
        database_connections: u32,
    ) -> crate::server::ServeOptions {
        let limits = &self.limits;
        let mut admission = crate::admission::Admission::for_database(database_connections);
        if let Some(calls) = limits.max_concurrent_calls {
            admission.concurrent_calls = calls;
        }
        admission.queue_timeout = std::time::Duration::from_millis(limits.queue_timeout_ms);
        crate::server::ServeOptions {
            tls,
            request_timeout: std::time::Duration::from_secs(limits.request_timeout_seconds),
            admission,
            rate_limit: crate::access::RateLimit {
                per_second: limits.rate_limit,
                burst: limits
                    .rate_limit
                    .saturating_mul(std::num::NonZeroU32::new(2).unwrap()),
            },
            drain_timeout: std::time::Duration::from_secs(limits.drain_timeout_seconds),
            health_listen: self.health_listen,
        }
    }
}
