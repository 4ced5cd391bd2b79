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

    /// How long an export clearance is good for: the shipment must depart,
    /// and the destination import on it, before it lapses (`30d`, `12h`,
    /// `90m`, `45s`; at least one second). A lapsed clearance puts its
    /// robots back home.
    #[arg(
        long,
        env = "ROBOTID_CLEARANCE_VALIDITY",
        default_value = "30d",
        value_parser = parse_duration
    )]
    pub clearance_validity: Duration,

    /// How often each instance looks for lapsed clearances (same units).
    #[arg(
        long,
        env = "ROBOTID_CLEARANCE_SWEEP_INTERVAL",
        default_value = "1m",
        value_parser = parse_duration
    )]
    pub clearance_sweep_interval: Duration,

    /// This deployment's own witness's verifier key (`name+id+key`, the
    /// registry's `witness.vkey`): an import clears only on an origin proof
    /// under a checkpoint this witness cosigned. Unset: no import clears.
    #[arg(long, env = "ROBOTID_WITNESS_VERIFIER_KEY")]
    pub witness_verifier_key: Option<String>,

    /// Longest wait, in milliseconds, for an origin's proof to appear
    /// cosigned by the own witness (the origin's integration delay and its
    /// round of witnessing) before the import is refused.
    #[arg(long, env = "ROBOTID_ORIGIN_PROOF_WAIT_MS", default_value_t = 5_000)]
    pub origin_proof_wait_ms: u64,
}

/// `30d`, `12h`, `90m`, `45s`: a whole number and its unit, one second
/// at least.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?}: give a unit, e.g. 30d, 12h, 90m or 45s"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: a whole number, then d, h, m or s"))?;
    let seconds = match unit {
        "d" => number.checked_mul(86_400),
        "h" => number.checked_mul(3_600),
        "m" => number.checked_mul(60),
        "s" => Some(number),
        _ => return Err(format!("{text:?}: the unit is d, h, m or s")),
    }
    .filter(|seconds| (1..=100 * 365 * 86_400).contains(seconds))
    .ok_or_else(|| format!("{text:?}: between one second and a hundred years"))?;
    Ok(Duration::from_secs(seconds))
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
            clearance_validity: Duration::from_secs(30 * 86_400),
            clearance_sweep_interval: Duration::from_secs(60),
            witness_verifier_key: None,
            origin_proof_wait_ms: 5_000,
        }
    }

    pub fn registry_timeout(&self) -> Duration {
        Duration::from_millis(self.registry_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_and_stay_in_range() {
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(2_592_000)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration(" 90m "), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        for bad in [
            "",
            "30",
            "0s",
            "d",
            "-1d",
            "1.5h",
            "3w",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
