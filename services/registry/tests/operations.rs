//! The registry as platform teams run it: the real binary, stopped with
//! SIGTERM while a health watcher looks on, and a generic client that knows
//! the API only through reflection.

use std::io::{BufRead, BufReader};
use std::process::{ChildStdout, Command, Stdio};
use std::time::Duration;

use robotid_proto::registry::v1 as pb;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use robotid_test_support::process::ServiceProcess;
use robotid_test_support::python::{python_with, workspace_root};
use robotid_test_support::tls::{channel, pki_dir};

mod support;

/// The registry binary on a free port with the test PKI.
fn start_registry(dir: &std::path::Path) -> ServiceProcess {
    let pki = pki_dir();
    let mut command = Command::new(env!("CARGO_BIN_EXE_robotid-registry"));
    command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--drain-timeout-seconds",
            "3",
        ])
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.join("registry.db").display()))
        .arg("--tls-cert")
        .arg(pki.join("registry.crt"))
        .arg("--tls-key")
        .arg(pki.join("registry.key"))
        .arg("--tls-ca")
        .arg(pki.join("ca.crt"));
    ServiceProcess::spawn(command)
}

fn python_line(lines: &mut std::io::Lines<BufReader<ChildStdout>>) -> String {
    lines.next().expect("a line from the watcher").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_reports_not_serving_then_exits_zero_and_reflection_serves_a_generic_client() {
    let Some(python) = python_with(&[
        ("grpc", "grpcio"),
        ("grpc_health.v1", "grpcio-health-checking"),
        ("grpc_reflection", "grpcio-reflection"),
    ]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut registry = start_registry(dir.path());
    let addr = registry.addr;

    let id = support::robot(1);
    RegistryServiceClient::new(channel(addr, Some("issuance")).await)
        .register_robots(pb::RegisterRobotsRequest {
            request_id: "ops-1".into(),
            robots: vec![support::registration(&id)],
            on_behalf_of: String::new(),
        })
        .await
        .expect("registered");

    // A generic client, no .proto files: lists everything, calls GetRobot.
    let script = workspace_root().join("tests/interop/reflection_client.py");
    let (python_for_reflection, id_text) = (python.clone(), id.as_str().to_owned());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python_for_reflection)
            .arg(script)
            .arg(addr.to_string())
            .arg(pki_dir())
            .arg(id_text)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for service in [
        "robotid.registry.v1.RegistryService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(
            stdout.contains(&format!("service {service}")),
            "{service} listed:\n{stdout}"
        );
    }
    assert!(
        stdout.contains(&format!("robot {} ROBOT_STATUS_REGISTERED", id.as_str())),
        "{stdout}"
    );
    // This port serves the registry only, and the error details resolve.
    for other in [
        "robotid.issuance.v1.IssuanceService",
        "robotid.transfer.v1.TransferService",
    ] {
        assert!(!stdout.contains(other), "{other} listed:\n{stdout}");
    }
    for detail in [
        "google.rpc.ErrorInfo",
        "google.rpc.BadRequest",
        "google.rpc.RetryInfo",
    ] {
        assert!(stdout.contains(&format!("message {detail}")), "{stdout}");
    }

    // Health from grpcio-health-checking, watched across SIGTERM.
    let mut watcher = Command::new(python)
        .arg(workspace_root().join("tests/interop/health_watch.py"))
        .arg(addr.to_string())
        .arg(pki_dir())
        .arg("robotid.registry.v1.RegistryService")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watcher.stdout.take().unwrap()).lines();
    assert_eq!(python_line(&mut lines), "check - SERVING");
    assert_eq!(
        python_line(&mut lines),
        "check robotid.registry.v1.RegistryService SERVING"
    );
    assert_eq!(python_line(&mut lines), "watch SERVING");

    registry.terminate();
    assert_eq!(
        python_line(&mut lines),
        "watch NOT_SERVING",
        "NOT_SERVING is reported before exit"
    );
    let exit = registry.wait_exit(Duration::from_secs(30));
    assert_eq!(exit.code(), Some(0), "a graceful stop exits 0");
    let ended = python_line(&mut lines);
    assert!(ended.starts_with("ended"), "{ended}");
    watcher.wait().unwrap();
}
