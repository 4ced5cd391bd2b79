//! The deployment's signing key as a signing service loads it at start-up:
//! issuance signs ID credentials with it, transfer export clearances, so a
//! peer trusts one key per country.

use std::path::Path;

use robotid_credential::SigningKey;
use robotid_credential::deployment::{DeploymentKeyError, deployment_signing_key};

use crate::db::{self, Backend};

/// The key at `configured` (`--signing-key-file`), or on SQLite the
/// development key beside the database at `database_url`; PostgreSQL
/// deployments must configure one. `signs` says what for, in the error.
pub fn load_signing_key(
    configured: Option<&Path>,
    database_url: &str,
    signs: &str,
) -> anyhow::Result<SigningKey> {
    let database_file = match Backend::of_url(database_url)? {
        Backend::Sqlite => db::sqlite_path(database_url),
        Backend::Postgres => None,
    };
    let key = match deployment_signing_key(configured, database_file) {
        Ok(key) => key,
        Err(DeploymentKeyError::NotConfigured) => anyhow::bail!(
            "--signing-key-file (ROBOTID_SIGNING_KEY_FILE) is required with PostgreSQL: \
             every {signs} is signed with it"
        ),
        Err(error) => return Err(error.into()),
    };
    if let Some(path) = &key.development_file {
        tracing::info!(path = %path.display(), "using the development signing key beside the database");
    }
    tracing::info!(
        kid = %key.key.kid(),
        public_key = %hex::encode(key.key.verifying_key().to_bytes()),
        "signing {signs}s"
    );
    Ok(key.key)
}
