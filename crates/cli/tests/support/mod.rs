//! What the command line's end-to-end tests share: a real `robotid dev`
//! in a temporary directory on ports the OS chooses, the `robotid` binary
//! and the commands they run against it, and the README's marked shell
//! blocks, run word for word.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const ROBOTID: &str = env!("CARGO_BIN_EXE_robotid");
/// `robotid dev` prints this when it serves (see `dev::READY`).
pub const READY: &str = "robotid dev is ready";
pub const DEADLINE: Duration = Duration::from_secs(120);

/// The shell block that follows `marker` in the README.
pub fn readme_block(marker: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the README");
    let after = &readme[readme.find(marker).expect("the marker") + marker.len()..];
    let start = after.find("```sh\n").expect("a sh block after the marker") + "```sh\n".len();
    let block = &after[start..];
    block[..block.find("```").expect("the block's end")].to_owned()
}

/// A running `robotid dev`, stopped with SIGTERM.
pub struct Dev {
    child: Child,
    pub banner: String,
}

impl Dev {
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    /// With more `robotid dev` flags.
    pub fn start_with(dir: &Path, flags: &[&str]) -> Self {
        let mut child = Command::new(ROBOTID)
            .args(["dev", "--base-port", "0"])
            .args(flags)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("robotid dev starts");
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = String::new();
        loop {
            match received.recv_timeout(DEADLINE) {
                Ok(line) => {
                    banner.push_str(&line);
                    banner.push('\n');
                    if line.starts_with(READY) {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let output = child.wait_with_output().unwrap();
                    panic!(
                        "robotid dev did not get ready:\n{banner}\n{}",
                        String::from_utf8_lossy(&output.stderr)
                    );
                }
            }
        }
        // Keep draining stdout so that the process never blocks on it.
        std::thread::spawn(move || while received.recv().is_ok() {});
        Self { child, banner }
    }

    /// SIGTERM, as Kubernetes or Ctrl-C would stop it; it must exit 0.
    pub fn stop(mut self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "robotid dev exited {status}");
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

pub fn robotid(dir: &Path, args: &[&str]) -> Output {
    Command::new(ROBOTID)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("robotid runs")
}

/// `robotid ARGS`, which must succeed: its standard output, trimmed.
pub fn line(dir: &Path, args: &[&str]) -> String {
    let output = robotid(dir, args);
    assert!(
        output.status.success(),
        "robotid {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

pub fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let output = robotid(dir, &all);
    assert!(
        output.status.success(),
        "robotid {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// Runs `script` in bash (stopping at the first failure) in `dir`, with
/// the `robotid` binary on the path, as a reader's terminal would.
pub fn run_script(dir: &Path, script: &str) -> Output {
    let bin_dir = Path::new(ROBOTID).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("ROBOTID_DATA_DIR")
        .output()
        .expect("bash runs")
}
