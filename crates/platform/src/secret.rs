//! Secrets read from files (Kubernetes mounts secrets as files), never
//! printed.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read secret file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create secret file {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the system random source failed: {0}")]
    Random(String),
}

/// The secret's bytes, surrounding whitespace removed (files often end in
/// a newline).
pub fn read(path: &Path) -> Result<Vec<u8>, SecretError> {
    let bytes = std::fs::read(path).map_err(|source| SecretError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(bytes.trim_ascii().to_vec())
}

/// Reads the secret at `path`, or makes a random one of `len` hex-encoded
/// bytes there (readable by the owner only) if there is none: for
/// development set-ups that must work without configuration.
pub fn read_or_create(path: &Path, len: usize) -> Result<Vec<u8>, SecretError> {
    if path.exists() {
        return read(path);
    }
    let mut bytes = vec![0; len];
    getrandom::fill(&mut bytes).map_err(|e| SecretError::Random(e.to_string()))?;
    let encoded = hex_encode(&bytes);
    create_private_file(path, encoded.as_bytes())?;
    Ok(encoded.into_bytes())
}

/// Writes a new file readable by its owner only; refuses to overwrite one.
pub fn create_private_file(path: &Path, contents: &[u8]) -> Result<(), SecretError> {
    let create = |source| SecretError::Create {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(create)?;
    file.write_all(contents).map_err(create)
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
