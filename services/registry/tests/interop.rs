//! A registry client generated from proto/ by another toolchain (Python
//! grpcio-tools) drives a real registry.

mod support;

use robotid_test_support::TestDb;
use robotid_test_support::python::{python_with, workspace_root};
use robotid_test_support::tls::pki_dir;
use support::spawn_registry;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_generated_from_the_protos_walks_a_robot_through_its_life() {
    let Some(python) = python_with(&[
        ("grpc", "grpcio"),
        ("grpc_tools", "grpcio-tools"),
        ("grpc_status", "grpcio-status"),
    ]) else {
        return;
    };
    let registry = spawn_registry(TestDb::sqlite()).await;
    let script = workspace_root().join("tests/interop/registry_client.py");
    let addr = registry.addr.to_string();
    // The client blocks; the registry keeps serving on the runtime's workers.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(&script)
            .arg(&addr)
            .arg(pki_dir())
            .output()
    })
    .await
    .unwrap()
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    registry.stop().await;
}
