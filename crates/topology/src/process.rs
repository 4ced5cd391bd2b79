//! One service binary as a child process: started with its settings in the
//! environment, its output appended to files, killed, stopped and started
//! again on the same port.

use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::Service;

/// Resident memory of a process, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// `VmHWM`: the most the process has held resident since it started.
    pub peak_bytes: u64,
    /// `VmRSS`: what it holds now.
    pub current_bytes: u64,
}

impl Memory {
    /// Memory of process `pid`; `None` once it has exited.
    pub fn of_pid(pid: u32) -> Option<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib = |field: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(field))?;
            line[field.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        };
        Some(Self {
            peak_bytes: kib("VmHWM:")? * 1024,
            current_bytes: kib("VmRSS:")? * 1024,
        })
    }
}

/// A service binary, its settings and, while it runs, its process.
pub struct ServiceProcess {
    service: Service,
    binary: PathBuf,
    addr: SocketAddr,
    env: Vec<(String, String)>,
    stdout: PathBuf,
    stderr: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl ServiceProcess {
    pub(crate) fn new(
        service: Service,
        binary: PathBuf,
        addr: SocketAddr,
        env: Vec<(String, String)>,
        log_dir: &Path,
    ) -> Self {
        Self {
            service,
            binary,
            addr,
            env,
            stdout: log_dir.join(format!("{}.stdout.log", service.name())),
            stderr: log_dir.join(format!("{}.stderr.log", service.name())),
            child: None,
            starts: 0,
        }
    }

    pub fn service(&self) -> Service {
        self.service
    }

    /// Another process of the same binary and settings (the same
    /// database), serving on `addr`, logging to files of its own: replica
    /// `index` of a service that runs several.
    pub(crate) fn replica(&self, index: usize, addr: SocketAddr, log_dir: &Path) -> Self {
        let mut env = self.env.clone();
        for (key, value) in &mut env {
            if key == "ROBOTID_LISTEN" {
                *value = addr.to_string();
            }
            // Its public listener on a port of its own.
            if key == "ROBOTID_HTTP_LISTEN" {
                *value = "127.0.0.1:0".into();
            }
        }
        let name = format!("{}-{index}", self.service.name());
        Self {
            service: self.service,
            binary: self.binary.clone(),
            addr,
            env,
            stdout: log_dir.join(format!("{name}.stdout.log")),
            stderr: log_dir.join(format!("{name}.stderr.log")),
            child: None,
            starts: 0,
        }
    }

    /// The gRPC address; the same across restarts.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the process's standard output and error go (appended to over
    /// restarts).
    pub fn log_files(&self) -> (&Path, &Path) {
        (&self.stdout, &self.stderr)
    }

    /// How many times the process was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Peak and current resident memory of the running process.
    pub fn memory(&self) -> Option<Memory> {
        Memory::of_pid(self.pid()?)
    }

    /// The binary with this service's settings, and only those: `ROBOTID_*`
    /// variables of the caller's environment are not passed on.
    fn command(&self) -> anyhow::Result<Command> {
        let append = |path: &Path| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))
        };
        let mut command = Command::new(&self.binary);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ROBOTID_") {
                command.env_remove(key);
            }
        }
        command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(append(&self.stdout)?)
            .stderr(append(&self.stderr)?);
        Ok(command)
    }

    /// Runs the binary with `--migrate-only` to completion.
    pub(crate) fn migrate(&self) -> anyhow::Result<()> {
        let status = self
            .command()?
            .arg("--migrate-only")
            .status()
            .with_context(|| format!("running {}", self.binary.display()))?;
        anyhow::ensure!(
            status.success(),
            "{} --migrate-only failed ({status}): {}",
            self.service.binary_name(),
            self.stderr_tail()
        );
        Ok(())
    }

    pub(crate) fn spawn(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.child.is_none(),
            "{} is already running",
            self.service.name()
        );
        let child = self
            .command()?
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    /// The exit status if the process has exited (it is then forgotten).
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status)
    }

    /// SIGKILL, and reaps the process.
    pub(crate) fn kill(&mut self) -> anyhow::Result<ExitStatus> {
        let mut child = self
            .child
            .take()
            .with_context(|| format!("{} is not running", self.service.name()))?;
        // Fails only if it has exited already; wait() then reaps it.
        let _ = child.kill();
        Ok(child.wait()?)
    }

    /// SIGTERM, then waits up to `timeout` for the process to exit; kills
    /// it if it has not.
    pub(crate) async fn terminate(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let pid = self
            .pid()
            .with_context(|| format!("{} is not running", self.service.name()))?;
        // The kill(1) utility: no unsafe code for one signal.
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .context("running kill -TERM")?;
        anyhow::ensure!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return Ok(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let status = self.kill()?;
        anyhow::bail!(
            "{} did not stop within {timeout:?} of SIGTERM; killed ({status})",
            self.service.name()
        )
    }

    /// The last lines of standard error, for messages about a failed start.
    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_peak_at_least_its_current_memory() {
        let memory = Memory::of_pid(std::process::id()).unwrap();
        assert!(memory.current_bytes > 0);
        assert!(memory.peak_bytes >= memory.current_bytes);
    }
}
