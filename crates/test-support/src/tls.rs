//! The development PKI for tests, made once per test process, and channels
//! that present one of its identities.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;

use robotid_platform::tls::TlsArgs;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// `ca.crt` and `<name>.{crt,key}` for every role and service of a `CN`
/// registry (see `robotid_pki::standard_holders`).
pub fn pki_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut holders = robotid_pki::standard_holders("CN");
        // Customs of another country, for scope tests.
        holders.push(robotid_pki::Holder::client(
            "customs-de",
            "robotid://customs/DE-HAM",
        ));
        holders.push(robotid_pki::Holder::client(
            "manufacturer-0002",
            "robotid://manufacturer/0002",
        ));
        // Police of another country, for scope tests.
        holders.push(robotid_pki::Holder::client(
            "police-de",
            "robotid://police/DE-POL",
        ));
        // A peer country's registry, which may deliver holds and nothing
        // else.
        holders.push(robotid_pki::Holder::client(
            "peer-registry",
            "robotid://registry/DE",
        ));
        robotid_pki::create_dev_pki(dir.path(), &holders).expect("development PKI");
        dir
    })
    .path()
}

/// TLS settings for a service of the test PKI (`issuance`, `registry`,
/// `transfer`).
pub fn service_tls(name: &str) -> TlsArgs {
    TlsArgs::from_dir(pki_dir(), name)
}

/// A channel to `addr` over TLS, presenting the certificate `identity`
/// (`regulator`, `seller`, …), or none for an anonymous caller.
pub async fn channel(addr: SocketAddr, identity: Option<&str>) -> Channel {
    channel_in(pki_dir(), addr, identity).await
}

/// A PKI of its own, for one of several deployments side by side (each
/// country's registry has its own CA): every role and service of
/// `robotid_pki::standard_holders(country)`, plus `extra` holders.
pub struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    pub fn new(country: &str, extra: &[robotid_pki::Holder]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut holders = robotid_pki::standard_holders(country);
        holders.extend_from_slice(extra);
        robotid_pki::create_dev_pki(dir.path(), &holders).expect("development PKI");
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// TLS settings for one of this PKI's services.
    pub fn service_tls(&self, name: &str) -> TlsArgs {
        TlsArgs::from_dir(self.dir(), name)
    }

    /// As [`channel`], with this PKI's CA and certificates.
    pub async fn channel(&self, addr: SocketAddr, identity: Option<&str>) -> Channel {
        channel_in(self.dir(), addr, identity).await
    }
}

async fn channel_in(dir: &Path, addr: SocketAddr, identity: Option<&str>) -> Channel {
    let read = |name: &str| std::fs::read(dir.join(name)).expect("PKI file");
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("ca.crt")))
        .domain_name("localhost");
    if let Some(name) = identity {
        tls = tls.identity(Identity::from_pem(
            read(&format!("{name}.crt")),
            read(&format!("{name}.key")),
        ));
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .expect("endpoint")
        .tls_config(tls)
        .expect("TLS config")
        .connect()
        .await
        .expect("connects")
}
