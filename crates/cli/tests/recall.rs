//! `robotid recall create|list|get` as a regulator or manufacturer runs
//! them: the real binary against a real registry over mutual TLS, on
//! SQLite and PostgreSQL.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};

use robotid_domain::code::RobotId;
use robotid_proto::common::v1 as common;
use robotid_proto::registry::v1 as pb;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use robotid_registry::{App, RegistryConfig};
use robotid_test_support::tls::{channel, pki_dir, service_tls};
use robotid_test_support::{TestDb, each_backend, unique};

each_backend!(a_recall_is_opened_listed_and_read_from_the_command_line);

/// A registry on port 0 with the test PKI, until the test ends; its holder
/// key in `keys`.
async fn spawn_registry(db: &TestDb, keys: &Path) -> SocketAddr {
    let mut config = RegistryConfig::new("127.0.0.1:0".parse().unwrap(), db.url.clone());
    config.server.tls = service_tls("registry");
    config.log_key_file = Some(robotid_test_support::keys::log_key_file());
    config.log_origin = Some(robotid_test_support::keys::TEST_LOG_ORIGIN.into());
    let key = keys.join("holder-key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    config.holder_key_file = Some(key);
    let app = App::build(config).await.expect("registry starts");
    let addr = app.local_addr();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    addr
}

/// `robotid ARGS --json`, against the registry at `addr`, with the test
/// PKI's certificate `identity`, in a scratch directory.
fn robotid(dir: &Path, addr: SocketAddr, identity: &str, args: &[&str]) -> Output {
    let pki = pki_dir();
    Command::new(env!("CARGO_BIN_EXE_robotid"))
        .args(args)
        .arg("--server")
        .arg(format!("https://{addr}"))
        .arg("--ca")
        .arg(pki.join("ca.crt"))
        .arg("--cert")
        .arg(pki.join(format!("{identity}.crt")))
        .arg("--key")
        .arg(pki.join(format!("{identity}.key")))
        .arg("--json")
        .current_dir(dir)
        .output()
        .expect("robotid runs")
}

fn json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

async fn a_recall_is_opened_listed_and_read_from_the_command_line(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let addr = spawn_registry(&db, dir).await;
    let ids: Vec<RobotId> = (1..=2)
        .map(|n| {
            RobotId::issue(
                &"CN".parse().unwrap(),
                &"0001".parse().unwrap(),
                &"HX0001".parse().unwrap(),
                n,
            )
        })
        .collect();
    RegistryServiceClient::new(channel(addr, Some("issuance")).await)
        .register_robots(pb::RegisterRobotsRequest {
            request_id: unique("register"),
            robots: ids
                .iter()
                .map(|id| pb::RobotRegistration {
                    robot_id: id.as_str().into(),
                    manufacturer_name: "Hubei Humanoid Works".into(),
                    model_name: "SeeLight S1".into(),
                    production: Some(common::Production::default()),
                    import_origin: None,
                    occur_time: None,
                    credential: Vec::new(),
                    credential_public_key: Vec::new(),
                })
                .collect(),
            on_behalf_of: String::new(),
        })
        .await
        .unwrap();

    let listed = json(&robotid(
        dir,
        addr,
        "manufacturer",
        &[
            "recall",
            "create",
            "--model",
            "HX0001",
            "--reason",
            "wrist actuator may seize",
            "--robot",
            ids[0].as_str(),
        ],
    ));
    assert_eq!(listed["affected_robot_count"], 1, "{listed}");
    assert_eq!(listed["robot_ids"][0], ids[0].as_str());
    let model = json(&robotid(
        dir,
        addr,
        "regulator",
        &[
            "recall",
            "create",
            "--model",
            "HX0001",
            "--reason",
            "battery may overheat",
        ],
    ));
    assert_eq!(model["affected_robot_count"], 2, "{model}");
    assert_eq!(model["listed_robot_count"], 0);

    let all = json(&robotid(dir, addr, "regulator", &["recall", "list"]));
    let names: Vec<&str> = all["recalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            model["name"].as_str().unwrap(),
            listed["name"].as_str().unwrap()
        ]
    );
    let name = listed["name"].as_str().unwrap();
    let number = name.trim_start_matches("recalls/");
    let got = json(&robotid(
        dir,
        addr,
        "manufacturer",
        &["recall", "get", number],
    ));
    assert_eq!(got["reason"], "wrist actuator may seize");
    assert_eq!(got["robot_ids"][0], ids[0].as_str());

    // A seller opens no recall: the refusal's code and reason, non-zero.
    let refused = robotid(
        dir,
        addr,
        "seller",
        &["recall", "create", "--model", "HX0001", "--reason", "no"],
    );
    assert!(!refused.status.success());
    let error: serde_json::Value = serde_json::from_slice(&refused.stderr).expect("JSON error");
    assert_eq!(error["error"]["code"], "PERMISSION_DENIED", "{error}");
}
