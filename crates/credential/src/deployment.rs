//! Where a deployment's signing key comes from, the same way for every
//! service that signs (issuance for ID credentials, transfer for export
//! clearances): the configured PKCS#8 file, or, in a development set-up on
//! SQLite with nothing configured, a key made beside the database file with
//! its public half next to it (for `robotid credential verify` and for
//! adding to a peer's trust list).

use std::path::{Path, PathBuf};

use crate::key::{KeyError, SigningKey};

/// Why no signing key could be had.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentKeyError {
    #[error(transparent)]
    Key(#[from] KeyError),
    /// No key file was given and there is no database file to keep a
    /// development key beside (PostgreSQL, or SQLite in memory).
    #[error("no signing key file is configured")]
    NotConfigured,
    #[error("cannot write the public key to {path}")]
    WritePublic {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Which key a service signs with, and where it came from.
#[derive(Debug)]
pub struct DeploymentKey {
    pub key: SigningKey,
    /// `Some(path)` for a development key beside the database.
    pub development_file: Option<PathBuf>,
}

/// The key at `configured`, or else the development key beside
/// `database_file` (`<database>.signing-key.pem`, made if missing, with
/// `<database>.signing-key.pub.pem` written next to it).
pub fn deployment_signing_key(
    configured: Option<&Path>,
    database_file: Option<&Path>,
) -> Result<DeploymentKey, DeploymentKeyError> {
    if let Some(path) = configured {
        return Ok(DeploymentKey {
            key: SigningKey::load(path)?,
            development_file: None,
        });
    }
    let database = database_file.ok_or(DeploymentKeyError::NotConfigured)?;
    let beside = |suffix: &str| PathBuf::from(format!("{}.{suffix}", database.display()));
    let path = beside("signing-key.pem");
    let key = SigningKey::load_or_create(&path)?;
    let public = beside("signing-key.pub.pem");
    std::fs::write(&public, key.verifying_key().to_pem()).map_err(|source| {
        DeploymentKeyError::WritePublic {
            path: public,
            source,
        }
    })?;
    Ok(DeploymentKey {
        key,
        development_file: Some(path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VerifyingKey;

    #[test]
    fn a_development_key_is_made_once_beside_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("transfer.db");
        let made = deployment_signing_key(None, Some(&database)).unwrap();
        let path = dir.path().join("transfer.db.signing-key.pem");
        assert_eq!(made.development_file.as_deref(), Some(path.as_path()));
        let public =
            VerifyingKey::load(&dir.path().join("transfer.db.signing-key.pub.pem")).unwrap();
        assert_eq!(public, made.key.verifying_key());
        let again = deployment_signing_key(None, Some(&database)).unwrap();
        assert_eq!(again.key.kid(), made.key.kid());

        // A configured file wins, and nothing is made for it.
        let configured = deployment_signing_key(Some(&path), None).unwrap();
        assert_eq!(configured.key.kid(), made.key.kid());
        assert!(configured.development_file.is_none());
        assert!(matches!(
            deployment_signing_key(None, None),
            Err(DeploymentKeyError::NotConfigured)
        ));
    }
}
