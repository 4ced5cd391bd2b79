//! A development PKI: one CA and one certificate per role and per service,
//! each naming its holder by a SAN URI `robotid://ROLE/ORG`. `robotid dev`,
//! the local topology and the tests use it; production deployments bring
//! certificates from their own CA with the same URIs.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// Who a certificate is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// File stem: `pki/<name>.crt`, `pki/<name>.key`.
    pub name: String,
    /// `robotid://ROLE/ORG`.
    pub uri: String,
    /// Services also serve: their certificates name the hosts they answer on.
    pub dns_names: Vec<String>,
}

impl Holder {
    pub fn client(name: &str, uri: &str) -> Self {
        Self {
            name: name.into(),
            uri: uri.into(),
            dns_names: Vec::new(),
        }
    }

    /// A service (`issuance`, `registry`, `transfer`): a client certificate
    /// for its calls to the others and a server certificate for its own
    /// port, valid for localhost and its Kubernetes service names.
    pub fn service(name: &str) -> Self {
        let host = format!("robotid-{name}");
        Self {
            name: name.into(),
            uri: format!("robotid://service/{name}"),
            dns_names: vec![
                "localhost".into(),
                host.clone(),
                format!("{host}.robotid"),
                format!("{host}.robotid.svc"),
                format!("{host}.robotid.svc.cluster.local"),
            ],
        }
    }
}

/// One of every role (README, *Identity and access*), for a registry of `country`, plus the
/// three services.
pub fn standard_holders(country: &str) -> Vec<Holder> {
    vec![
        Holder::client("regulator", "robotid://regulator/miit"),
        Holder::client("manufacturer", "robotid://manufacturer/0001"),
        Holder::client("seller", "robotid://seller/S0001"),
        Holder::client("service-provider", "robotid://service-provider/SP0001"),
        Holder::client("operator", "robotid://operator/OP0001"),
        Holder::client("recycler", "robotid://recycler/RC0001"),
        Holder::client("customs", &format!("robotid://customs/{country}-SHA")),
        Holder::client("police", &format!("robotid://police/{country}-POL")),
        Holder::service("issuance"),
        Holder::service("registry"),
        Holder::service("transfer"),
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot make a certificate")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} exists already: an identity is issued once (remove it to issue a new one)")]
    Exists(PathBuf),
    #[error(
        "{0} has no ca.key: it was made before the development CA kept its key; \
         remove the directory (or run `robotid dev` with a fresh --data-dir) for a new PKI"
    )]
    NoCaKey(PathBuf),
}

/// A certificate and its private key, PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A CA able to issue certificates.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl CertificateAuthority {
    pub fn new(common_name: &str) -> Result<Self, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA of a development PKI directory, from `ca.crt` and its key
    /// `ca.key`.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let read = |path: PathBuf| {
            std::fs::read_to_string(&path).map_err(|source| PkiError::Read { path, source })
        };
        let cert_pem = read(ca_path(dir))?;
        let key = KeyPair::from_pem(&read(ca_key_path(dir))?)?;
        Ok(Self {
            issuer: Issuer::from_ca_cert_pem(&cert_pem, key)?,
            cert_pem,
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn issue(&self, holder: &Holder) -> Result<Issued, PkiError> {
        let mut params = CertificateParams::new(holder.dns_names.clone())?;
        params
            .distinguished_name
            .push(DnType::CommonName, holder.uri.clone());
        params
            .subject_alt_names
            .push(SanType::URI(holder.uri.clone().try_into()?));
        if !holder.dns_names.is_empty() {
            params
                .subject_alt_names
                .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if !holder.dns_names.is_empty() {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Paths of one holder's files in a PKI directory.
pub fn cert_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.crt"))
}

pub fn key_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.key"))
}

pub fn ca_path(dir: &Path) -> PathBuf {
    dir.join("ca.crt")
}

/// The development CA's private key: kept so that `robotid pki issue` can
/// make certificates for roles and organisations admitted later. A
/// production CA's key never sits beside the certificates it signed.
pub fn ca_key_path(dir: &Path) -> PathBuf {
    dir.join("ca.key")
}

/// What the directory's README says, so that nobody mistakes it for a
/// production PKI.
const README: &str = "\
DEVELOPMENT ONLY. This directory is the development PKI of Robot ID,
made by `robotid dev` / `robotid pki`: a CA (ca.crt), its private key
(ca.key, readable by its owner only) and one certificate and key per role
and service. Anyone holding ca.key can issue any identity this deployment
accepts (`robotid pki issue`). Never use it, or trust its CA, anywhere but
on a developer's machine; production certificates come from the
operator's own CA, whose key is not kept next to them.
";

/// Issues a certificate for `holder` from the development CA in `dir`
/// and writes it as `dir/<name>.{crt,key}`; refuses to replace an existing
/// one. Returns the certificate's and the key's paths.
pub fn issue_into(dir: &Path, holder: &Holder) -> Result<(PathBuf, PathBuf), PkiError> {
    let cert = cert_path(dir, &holder.name);
    if cert.exists() {
        return Err(PkiError::Exists(cert));
    }
    if !ca_key_path(dir).exists() {
        return Err(PkiError::NoCaKey(dir.to_owned()));
    }
    let issued = CertificateAuthority::load(dir)?.issue(holder)?;
    let key = key_path(dir, &holder.name);
    write(&key, issued.key_pem.as_bytes(), true)?;
    write(&cert, issued.cert_pem.as_bytes(), false)?;
    Ok((cert, key))
}

/// Lets the registry of `peer_country` call this deployment's registry
/// (holds that cross borders): issues it `robotid://registry/{peer}` from
/// the development CA in `ca_dir`, and writes the certificate, its key and
/// this CA as `into/registry.{crt,key}` and `into/ca.crt` — the peer's
/// `--peer-tls-dir`/{this country}. Kept when already issued by this CA.
/// Returns whether it issued one.
pub fn admit_peer_registry(
    ca_dir: &Path,
    peer_country: &str,
    into: &Path,
) -> Result<bool, PkiError> {
    let read =
        |path: PathBuf| std::fs::read(&path).map_err(|source| PkiError::Read { path, source });
    let ca = read(ca_path(ca_dir))?;
    if cert_path(into, "registry").exists() && read(ca_path(into)).ok().as_ref() == Some(&ca) {
        return Ok(false);
    }
    if !ca_key_path(ca_dir).exists() {
        return Err(PkiError::NoCaKey(ca_dir.to_owned()));
    }
    let holder = Holder::client("registry", &format!("robotid://registry/{peer_country}"));
    let issued = CertificateAuthority::load(ca_dir)?.issue(&holder)?;
    std::fs::create_dir_all(into).map_err(|source| PkiError::Write {
        path: into.to_owned(),
        source,
    })?;
    write(&key_path(into, "registry"), issued.key_pem.as_bytes(), true)?;
    write(
        &cert_path(into, "registry"),
        issued.cert_pem.as_bytes(),
        false,
    )?;
    write(&ca_path(into), &ca, false)?;
    Ok(true)
}

/// Makes `dir/ca.crt` and `dir/<name>.{crt,key}` for every holder, unless
/// `dir/ca.crt` exists already (a second start reuses what is there).
/// Returns whether it made them.
pub fn create_dev_pki(dir: &Path, holders: &[Holder]) -> Result<bool, PkiError> {
    if ca_path(dir).exists() {
        return Ok(false);
    }
    std::fs::create_dir_all(dir).map_err(|source| PkiError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let ca = CertificateAuthority::new("Robot ID development CA")?;
    for holder in holders {
        let issued = ca.issue(holder)?;
        write(
            &cert_path(dir, &holder.name),
            issued.cert_pem.as_bytes(),
            false,
        )?;
        write(
            &key_path(dir, &holder.name),
            issued.key_pem.as_bytes(),
            true,
        )?;
    }
    write(&dir.join("README"), README.as_bytes(), false)?;
    write(
        &ca_key_path(dir),
        ca.issuer.key().serialize_pem().as_bytes(),
        true,
    )?;
    // The CA last: its presence marks a complete directory.
    write(&ca_path(dir), ca.cert_pem().as_bytes(), false)?;
    Ok(true)
}

fn write(path: &Path, contents: &[u8], private: bool) -> Result<(), PkiError> {
    let error = |source| PkiError::Write {
        path: path.to_owned(),
        source,
    };
    std::fs::write(path, contents).map_err(error)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(error)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_one_certificate_per_holder_once() {
        let dir = std::env::temp_dir().join(format!("robotid-pki-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let holders = standard_holders("CN");
        assert!(create_dev_pki(&dir, &holders).unwrap());
        for holder in &holders {
            let cert = std::fs::read_to_string(cert_path(&dir, &holder.name)).unwrap();
            assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
            assert!(
                std::fs::read_to_string(key_path(&dir, &holder.name))
                    .unwrap()
                    .contains("PRIVATE KEY")
            );
        }
        let ca = std::fs::read(ca_path(&dir)).unwrap();
        assert!(
            !create_dev_pki(&dir, &holders).unwrap(),
            "a second run reuses"
        );
        assert_eq!(std::fs::read(ca_path(&dir)).unwrap(), ca);

        // The CA's key stays, owner-only, beside a README that says what
        // it is; later identities are issued from it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(ca_key_path(&dir))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let readme = std::fs::read_to_string(dir.join("README")).unwrap();
        assert!(readme.starts_with("DEVELOPMENT ONLY"));
        let later = Holder::client("manufacturer-0002", "robotid://manufacturer/0002");
        let (cert, _) = issue_into(&dir, &later).unwrap();
        assert!(
            std::fs::read_to_string(cert)
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        assert!(matches!(issue_into(&dir, &later), Err(PkiError::Exists(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
