//! A service binary run as platform teams run it: its own process, found
//! by the address it logs, stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running service binary; killed if dropped while running.
pub struct ServiceProcess {
    pub child: Child,
    /// Where it serves gRPC, as its start-up log line says.
    pub addr: SocketAddr,
}

impl ServiceProcess {
    /// Starts `command` (which must log JSON: `--log-format json`) and
    /// waits for its "serving gRPC" line.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("the service binary starts");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the service logs where it serves")
                .expect("its output is text");
            if line.contains("serving gRPC") {
                let start = line.find("\"addr\":\"").expect("addr field") + 8;
                let end = start + line[start..].find('"').expect("addr ends");
                break line[start..end].parse().expect("addr is an address");
            }
        };
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, addr }
    }

    /// Sends SIGTERM, as Kubernetes does.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGTERM delivered");
    }

    /// Waits for the process to exit; fails the test after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(exit) = self
                .child
                .try_wait()
                .expect("the process can be waited for")
            {
                return exit;
            }
            assert!(
                Instant::now() < deadline,
                "the process did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
