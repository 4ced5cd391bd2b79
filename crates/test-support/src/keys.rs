//! Keys the services read from files, made for tests.

use std::path::PathBuf;

/// The test log's origin, for registries started without a public URL.
pub const TEST_LOG_ORIGIN: &str = "registry.test/log";

/// A file holding a transparency-log key (Ed25519, PKCS#8 PEM), the same
/// for every test of this process: a fixed seed keeps runs repeatable.
pub fn log_key_file() -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("robotid-test-log-key-{}.pem", std::process::id()));
    if !path.exists() {
        let key = robotid_credential::SigningKey::from_seed(&[0x1a; 32]);
        // Written beside and renamed, so a concurrent test never reads half.
        let partial = path.with_extension(format!("{}.tmp", unique_suffix()));
        std::fs::write(&partial, key.to_pkcs8_pem()).expect("writing the test log key");
        std::fs::rename(&partial, &path).expect("placing the test log key");
    }
    path
}

fn unique_suffix() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random bytes");
    u64::from_le_bytes(bytes)
}
