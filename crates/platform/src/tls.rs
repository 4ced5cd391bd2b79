//! Mutual TLS: every service serves TLS with the deployment CA as the root
//! for client certificates, and calls the others with its own certificate.
//! A client without a certificate still connects and is the anonymous
//! public; a certificate from another CA does not complete the handshake.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::identity::Caller;

/// Certificate files, as flags and `ROBOTID_TLS_*` variables.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// This service's certificate (PEM). With --tls-key and --tls-ca, the
    /// service serves TLS and calls other services with it.
    #[arg(long, env = "ROBOTID_TLS_CERT", requires_all = ["tls_key", "tls_ca"])]
    pub tls_cert: Option<PathBuf>,

    /// The certificate's private key (PEM).
    #[arg(long, env = "ROBOTID_TLS_KEY", requires_all = ["tls_cert", "tls_ca"])]
    pub tls_key: Option<PathBuf>,

    /// The deployment CA (PEM): client certificates must chain to it, and so
    /// must the other services'.
    #[arg(long, env = "ROBOTID_TLS_CA", requires_all = ["tls_cert", "tls_key"])]
    pub tls_ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}")]
pub struct TlsError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Loaded certificate material.
#[derive(Clone)]
pub struct TlsMaterial {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    pub ca_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsMaterial(<certificates and key>)")
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError {
        path: path.to_owned(),
        source,
    })
}

impl TlsArgs {
    /// From files in a PKI directory, `dir/<name>.{crt,key}` and `dir/ca.crt`.
    pub fn from_dir(dir: &Path, name: &str) -> Self {
        Self {
            tls_cert: Some(dir.join(format!("{name}.crt"))),
            tls_key: Some(dir.join(format!("{name}.key"))),
            tls_ca: Some(dir.join("ca.crt")),
        }
    }

    /// `None` when TLS is not configured (plaintext: every caller is
    /// anonymous).
    pub fn load(&self) -> Result<Option<TlsMaterial>, TlsError> {
        match (&self.tls_cert, &self.tls_key, &self.tls_ca) {
            (Some(cert), Some(key), Some(ca)) => Ok(Some(TlsMaterial {
                cert_pem: read(cert)?,
                key_pem: read(key)?,
                ca_pem: read(ca)?,
            })),
            _ => Ok(None),
        }
    }
}

impl TlsMaterial {
    pub fn server_config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
            .client_ca_root(Certificate::from_pem(&self.ca_pem))
            // Anonymous callers may read the public card.
            .client_auth_optional(true)
    }

    /// For calls to another service, presenting this service's certificate.
    pub fn client_config(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
    }
}

/// The identity in a client certificate: its first `robotid://` SAN URI.
pub fn caller_from_certificate(der: &[u8]) -> Option<Caller> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|name| match name {
        x509_parser::extensions::GeneralName::URI(uri) => Caller::from_uri(uri),
        _ => None,
    })
}
