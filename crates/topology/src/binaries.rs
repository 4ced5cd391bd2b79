//! Where the service binaries are.

use std::path::{Path, PathBuf};

use crate::Service;

/// The directory holding all three binaries: `given`, else the current
/// executable's directory (or its parent, for test executables in
/// `deps/`), else the workspace's `target/<profile>` of this build.
pub(crate) fn locate(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let mut candidates = Vec::new();
    match given {
        Some(dir) => candidates.push(dir.to_owned()),
        None => {
            if let Some(dir) = std::env::current_exe()?.parent() {
                candidates.push(dir.to_owned());
                if dir.ends_with("deps")
                    && let Some(parent) = dir.parent()
                {
                    candidates.push(parent.to_owned());
                }
            }
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
            let profile = if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            };
            candidates.push(target.join(profile));
        }
    }
    candidates
        .iter()
        .find(|dir| {
            Service::ALL
                .iter()
                .all(|s| dir.join(s.binary_name()).is_file())
        })
        .cloned()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the service binaries are not in {}: build them with \
                 `cargo build -p robotid-issuance -p robotid-registry -p robotid-transfer` \
                 (with --release for a release build)",
                candidates
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        })
}
