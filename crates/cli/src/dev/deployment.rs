//! One country's whole deployment in this process: issuance, registry and
//! transfer on their ports, SQLite files, the development PKI (mutual TLS
//! between them and for every caller), one signing key for issuance and
//! transfer, and the holder secret — all kept in one directory and reused
//! on the next start.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use robotid_credential::{SigningKey, VerifyingKey};
use robotid_issuance::IssuanceConfig;
use robotid_platform::tls::TlsArgs;
use robotid_registry::RegistryConfig;
use robotid_transfer::TransferConfig;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::{ClientArgs, Globals, connect};
use crate::endpoints::{Endpoints, Service};
use robotid_platform::client::RpcChannel;

/// Where one deployment keeps its files.
#[derive(Debug, Clone)]
pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn pki(&self) -> PathBuf {
        self.dir.join("pki")
    }

    pub fn signing_key(&self) -> PathBuf {
        self.dir.join("signing-key.pem")
    }

    /// The public half, for `robotid credential verify` and a peer's trust
    /// list.
    pub fn signing_public_key(&self) -> PathBuf {
        self.dir.join("signing-key.pub.pem")
    }

    /// The registry's transparency-log key (Ed25519, PKCS#8 PEM): it signs
    /// the log's checkpoints, and nothing else.
    pub fn log_key(&self) -> PathBuf {
        self.dir.join("log-key.pem")
    }

    /// The log's signed-note verifier key (`name+id+key`), for auditors.
    pub fn log_verifier_key(&self) -> PathBuf {
        self.dir.join("log.vkey")
    }

    /// The registry's witness key (Ed25519, PKCS#8 PEM): it cosigns the
    /// peer's checkpoints.
    pub fn witness_key(&self) -> PathBuf {
        self.dir.join("witness-key.pem")
    }

    /// The witness's cosignature verifier key (type 0x04).
    pub fn witness_verifier_key(&self) -> PathBuf {
        self.dir.join("witness.vkey")
    }

    /// A c2sp.org/tlog-policy that checks this registry's proof bundles:
    /// its log, cosigned by the peer's witness.
    pub fn proof_policy(&self) -> PathBuf {
        self.dir.join("proof.policy")
    }

    /// The certificates each peer's CA issued this registry, to deliver
    /// holds to it: `peers/{cc}/ca.crt`, `peers/{cc}/registry.{crt,key}`.
    pub fn peer_tls_dir(&self) -> PathBuf {
        self.dir.join("peers")
    }

    pub fn holder_key(&self) -> PathBuf {
        self.dir.join("holder-key")
    }

    fn database_url(&self, service: &str) -> String {
        format!(
            "sqlite://{}",
            self.dir.join(format!("{service}.db")).display()
        )
    }
}

/// The ports to serve on, in order issuance, registry, transfer; 0 lets
/// the OS choose.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub issuance: u16,
    pub registry: u16,
    pub transfer: u16,
    /// The registry's public HTTP listener (the web card).
    pub web: u16,
}

impl Ports {
    pub fn from_base(base: u16) -> Self {
        let at = |offset: u16| if base == 0 { 0 } else { base + offset };
        Self {
            issuance: at(0),
            registry: at(1),
            transfer: at(2),
            web: at(3),
        }
    }
}

/// A deployment that is serving until its stop signal fires.
pub struct Deployment {
    pub country: String,
    pub layout: Layout,
    pub endpoints: Endpoints,
    pub signing_key: VerifyingKey,
    /// The log's and the witness's verifier keys (`name+id+key`).
    pub log_key: String,
    pub witness_key: String,
    pub pki_created: bool,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

impl Deployment {
    /// Makes what is missing in `dir`, binds the three services and starts
    /// serving; they stop when `stop` turns true.
    pub async fn start(
        country: &str,
        dir: &Path,
        host: IpAddr,
        web_host: IpAddr,
        ports: Ports,
        stop: watch::Receiver<bool>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let layout = Layout {
            dir: dir
                .canonicalize()
                .with_context(|| format!("resolving {}", dir.display()))?,
        };
        let pki = crate::pki::ensure(&layout.pki(), country)?;
        let key = SigningKey::load_or_create(&layout.signing_key())?;
        std::fs::write(layout.signing_public_key(), key.verifying_key().to_pem())
            .with_context(|| format!("writing {}", layout.signing_public_key().display()))?;
        robotid_platform::secret::read_or_create(&layout.holder_key(), 32)?;
        SigningKey::load_or_create(&layout.log_key())?;
        SigningKey::load_or_create(&layout.witness_key())?;
        // The services' certificates name `localhost` (and 127.0.0.1).
        let client_host = if host.is_loopback() || host.is_unspecified() {
            "localhost".to_owned()
        } else {
            host.to_string()
        };
        let url = |addr: SocketAddr| format!("https://{client_host}:{}", addr.port());

        let mut config = RegistryConfig::new(
            SocketAddr::new(host, ports.registry),
            layout.database_url("registry"),
        );
        config.country = country.into();
        config.server.tls = TlsArgs::from_dir(&layout.pki(), "registry");
        config.holder_key_file = Some(layout.holder_key());
        config.http_listen = Some(SocketAddr::new(web_host, ports.web));
        config.credential_public_key_file = Some(layout.signing_public_key());
        config.log_key_file = Some(layout.log_key());
        config.witness_key_file = Some(layout.witness_key());
        config.peer_tls_dir = Some(layout.peer_tls_dir());
        let registry = robotid_registry::App::build(config)
            .await
            .with_context(|| format!("starting the {country} registry"))?;
        let log_key = registry
            .log()
            .map(|log| log.verifier_key())
            .context("the registry keeps no log")?;
        let witness_key = registry
            .witness()
            .map(|witness| witness.verifier_key().to_string())
            .context("the registry runs no witness")?;
        for (path, key) in [
            (layout.log_verifier_key(), &log_key),
            (layout.witness_verifier_key(), &witness_key),
        ] {
            std::fs::write(&path, format!("{key}\n"))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let registry_url = url(registry.local_addr());
        let web_url = registry.public_url().unwrap_or_default().to_owned();

        let mut config = TransferConfig::new(
            SocketAddr::new(host, ports.transfer),
            layout.database_url("transfer"),
            registry_url.clone(),
        );
        config.country = country.into();
        config.server.tls = TlsArgs::from_dir(&layout.pki(), "transfer");
        config.signing_key_file = Some(layout.signing_key());
        config.witness_verifier_key = Some(witness_key.clone());
        let transfer = robotid_transfer::App::build(config)
            .await
            .with_context(|| format!("starting the {country} transfer service"))?;

        let mut config = IssuanceConfig::new(
            SocketAddr::new(host, ports.issuance),
            layout.database_url("issuance"),
            registry_url.clone(),
        );
        config.country = country.into();
        config.server.tls = TlsArgs::from_dir(&layout.pki(), "issuance");
        config.signing_key_file = Some(layout.signing_key());
        // A newcomer's next command follows at once: retry a busy registry
        // quickly.
        config.relay_max_backoff_ms = 1_000;
        let issuance = robotid_issuance::App::build(config)
            .await
            .with_context(|| format!("starting the {country} issuance service"))?;

        let endpoints = Endpoints {
            country: country.into(),
            issuance: url(issuance.local_addr()),
            registry: registry_url,
            transfer: url(transfer.local_addr()),
            web: web_url,
        };
        endpoints.write(&layout.dir)?;
        let stopped = |mut stop: watch::Receiver<bool>| async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        let tasks = vec![
            (
                "registry",
                tokio::spawn(registry.run_until_stopped(stopped(stop.clone()))),
            ),
            (
                "transfer",
                tokio::spawn(transfer.run_until_stopped(stopped(stop.clone()))),
            ),
            (
                "issuance",
                tokio::spawn(issuance.run_until_stopped(stopped(stop))),
            ),
        ];
        Ok(Self {
            country: country.into(),
            layout,
            endpoints,
            signing_key: key.verifying_key(),
            log_key,
            witness_key,
            pki_created: pki.created,
            tasks,
        })
    }

    /// A channel to one of its services as its regulator, as `robotid
    /// --data-dir DIR ... --as regulator` would call it.
    pub async fn regulator(&self, service: Service) -> anyhow::Result<RpcChannel> {
        let globals = Globals {
            data_dir: self.layout.dir.clone(),
            json: false,
        };
        connect(&globals, &ClientArgs::as_role("regulator"), service).await
    }

    /// A channel to one of its services with the development PKI's
    /// certificate `identity` (a role, or a service such as `transfer`).
    pub async fn as_service(&self, service: Service, identity: &str) -> anyhow::Result<RpcChannel> {
        let globals = Globals {
            data_dir: self.layout.dir.clone(),
            json: false,
        };
        connect(&globals, &ClientArgs::as_role(identity), service).await
    }

    /// Waits until every service returned (after the stop signal).
    pub async fn stopped(self) -> anyhow::Result<()> {
        for (service, task) in self.tasks {
            task.await
                .with_context(|| format!("the {} {service} panicked", self.country))?
                .with_context(|| format!("the {} {service} failed", self.country))?;
        }
        Ok(())
    }
}
