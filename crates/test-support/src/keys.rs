//! Keys the services read from files, made for tests.

use std::path::PathBuf;

/// The test log's origin, for registries started without a public URL.
pub const TEST_LOG_ORIGIN: &str = "registry.test/log";

/// A file holding a transparency-log key (Ed25519, PKCS#8 PEM), the same
/// for every test of this process: a fixed seed keeps runs repeatable.
pub fn log_key_file() -> PathBuf {
    let key = robotid_credential::SigningKey::from_seed(&[0x1a; 32]);
    shared_file("log-key.pem", key.to_pkcs8_pem().as_bytes())
}

/// A file holding the Ed25519 key (PKCS#8 PEM) of `seed`, named `name`:
/// a log's or a witness's key of a test deployment.
pub fn ed25519_key_file(name: &str, seed: u8) -> PathBuf {
    let key = robotid_credential::SigningKey::from_seed(&[seed; 32]);
    shared_file(&format!("{name}-{seed}.pem"), key.to_pkcs8_pem().as_bytes())
}

/// A file holding a 32-byte holder secret, the same for every test of
/// this process (the registry needs one on PostgreSQL).
pub fn holder_key_file() -> PathBuf {
    shared_file("holder-key", b"0123456789abcdef0123456789abcdef")
}

/// `contents` in a file of this process's, made once: written beside and
/// renamed into place, so that a test running at the same time never reads
/// it half written.
fn shared_file(name: &str, contents: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("robotid-test-{}-{name}", std::process::id()));
    if !path.exists() {
        let partial = path.with_extension(format!("{}.tmp", unique_suffix()));
        std::fs::write(&partial, contents).expect("writing a test key");
        std::fs::rename(&partial, &path).expect("placing a test key");
    }
    path
}

fn unique_suffix() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random bytes");
    u64::from_le_bytes(bytes)
}
