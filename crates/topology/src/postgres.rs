//! A PostgreSQL server of one's own, to stop and start under load without
//! disturbing anybody else's (the shared server on 5432 must stay up).
//!
//! Made with the system's `initdb` and `pg_ctl`
//! (`/usr/lib/postgresql/<version>/bin`, the newest there), in a temporary
//! directory that holds its data, its log and its Unix socket, listening on
//! a free port of 127.0.0.1 with trust authentication. PostgreSQL refuses
//! to run as root: as root, the tools run as the `postgres` user
//! (`runuser`), who then owns the directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// How to stop the server (`pg_ctl stop -m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Disconnects every client, then shuts down cleanly.
    Fast,
    /// Aborts at once, as a crash would; the next start recovers from WAL.
    Immediate,
}

pub struct PrivatePostgres {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    bin: PathBuf,
    port: u16,
    /// `Some("postgres")` when running as root.
    run_as: Option<&'static str>,
}

impl PrivatePostgres {
    /// Initialises a new cluster and starts it.
    pub fn start() -> anyhow::Result<Self> {
        let bin = newest_bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("robotid-postgres-")
            .tempdir()
            .context("making the PostgreSQL directory")?;
        let path = dir.path().to_owned();
        let run_as = running_as_root().then_some("postgres");
        if let Some(user) = run_as {
            run(Command::new("chown")
                .arg(format!("{user}:{user}"))
                .arg(&path))?;
        }
        let server = Self {
            dir: Some(dir),
            path,
            bin,
            port: crate::free_port()?,
            run_as,
        };
        let data = server.data_dir();
        run(server
            .tool("initdb")
            .args([
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--no-instructions",
            ])
            .arg("-D")
            .arg(&data))
        .context("initdb")?;
        server.start_again()?;
        Ok(server)
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log file.
    pub fn log_file(&self) -> PathBuf {
        self.path.join("postgres.log")
    }

    fn data_dir(&self) -> PathBuf {
        self.path.join("data")
    }

    /// One of PostgreSQL's tools, as the user that owns the data.
    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    /// Starts the (stopped) server on its port and data; returns once it
    /// accepts connections.
    pub fn start_again(&self) -> anyhow::Result<()> {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={}",
            self.port,
            self.path.display()
        );
        run(self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60", "-o", &options, "start"]))
        .with_context(|| format!("starting PostgreSQL; see {}", self.log_file().display()))
    }

    /// Stops the server; returns once it is down.
    pub fn stop(&self, mode: StopMode) -> anyhow::Result<()> {
        let mode = match mode {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        };
        run(self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-t", "60", "-m", mode, "stop"]))
        .context("stopping PostgreSQL")
    }

    /// Leave the directory (data and log) in place, for diagnosis.
    pub fn keep_files(&mut self) -> &Path {
        if let Some(dir) = self.dir.take() {
            self.path = dir.keep();
        }
        &self.path
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.stop(StopMode::Immediate);
    }
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    anyhow::ensure!(
        output.status.success(),
        "{command:?} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// `/usr/lib/postgresql/<newest version>/bin`.
fn newest_bin_dir() -> anyhow::Result<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root)
        .with_context(|| format!("looking for PostgreSQL in {}", root.display()))?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            Some((name.parse::<u32>().ok()?, name))
        })
        .max()
        .context("no PostgreSQL version under /usr/lib/postgresql")?;
    let bin = root.join(newest.1).join("bin");
    anyhow::ensure!(
        bin.join("pg_ctl").is_file(),
        "{} has no pg_ctl",
        bin.display()
    );
    Ok(bin)
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(1).map(|uid| uid == "0")
        })
        .unwrap_or(false)
}
