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

fn read(name: &str) -> Vec<u8> {
    std::fs::read(pki_dir().join(name)).expect("PKI file")
}

/// A channel to `addr` over TLS, presenting the certificate `identity`
/// (`regulator`, `seller`, …), or none for an anonymous caller.
pub async fn channel(addr: SocketAddr, identity: Option<&str>) -> Channel {
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
