//! Independent clients written in Python (grpcio, pycose, …), used to show
//! that what Robot ID speaks is the standard, not just what its own Rust
//! code understands.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set (to anything) where the Python checks must run, as in CI.
pub const REQUIRE_PYTHON: &str = "ROBOTID_REQUIRE_PYTHON";

/// `python3`, after making sure it can import every module in `modules`
/// (import name, pip package), installing what is missing from PyPI.
/// `None`, said on the terminal, when that cannot be done here.
pub fn python_with(modules: &[(&str, &str)]) -> Option<PathBuf> {
    let python = PathBuf::from("python3");
    let imports = |python: &Path| {
        let script: String = modules
            .iter()
            .map(|(module, _)| format!("import {module}\n"))
            .collect();
        Command::new(python)
            .args(["-c", &script])
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if imports(&python) {
        return Some(python);
    }
    let packages: Vec<&str> = modules.iter().map(|(_, package)| *package).collect();
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(&packages)
        .output()
        .is_ok_and(|out| out.status.success());
    if installed && imports(&python) {
        return Some(python);
    }
    if std::env::var_os(REQUIRE_PYTHON).is_some() {
        panic!("{REQUIRE_PYTHON} is set but python3 cannot import {packages:?}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "note: Python interop check skipped (python3 with {packages:?} not available)"
    );
    None
}

/// The workspace root, for scripts kept in the repository.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
