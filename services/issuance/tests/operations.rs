//! Issuance as platform teams run it: the real binary, stopped with SIGTERM
//! in the middle of a stream of issuance calls. Every call it answered OK
//! is kept, and reaches the registry once the service is started again.

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use robotid_proto::issuance::v1 as pb;
use robotid_proto::issuance::v1::issuance_service_client::IssuanceServiceClient;
use robotid_test_support::TestDb;
use robotid_test_support::process::ServiceProcess;
use robotid_test_support::tls::{channel, pki_dir};
use support::*;

/// Callers issuing at the same time.
const CALLERS: usize = 4;
/// Robots per call.
const PER_CALL: i32 = 20;
/// OK answers seen before SIGTERM is sent.
const ANSWERED_BEFORE_SIGTERM: usize = 24;
/// The drain deadline the binary is given.
const DRAIN_SECONDS: u64 = 5;

fn start_issuance(dir: &Path, registry_port: u16) -> ServiceProcess {
    let pki = pki_dir();
    let mut command = Command::new(env!("CARGO_BIN_EXE_robotid-issuance"));
    command
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(["--drain-timeout-seconds", &DRAIN_SECONDS.to_string()])
        // A delivery attempt to a registry that does not answer gives up
        // soon, so that stopping is never held up by one.
        .args([
            "--relay-call-timeout-ms",
            "1000",
            "--relay-max-backoff-ms",
            "500",
        ])
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.join("issuance.db").display()))
        .arg("--registry-url")
        .arg(format!("https://localhost:{registry_port}"))
        .arg("--tls-cert")
        .arg(pki.join("issuance.crt"))
        .arg("--tls-key")
        .arg(pki.join("issuance.key"))
        .arg("--tls-ca")
        .arg(pki.join("ca.crt"));
    ServiceProcess::spawn(command)
}

/// The robot ids a database holds in `table`.
async fn robot_ids(url: &str, table: &str) -> HashSet<String> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let ids: Vec<String> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT robot_id FROM {table}")))
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    ids.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_issuance_keeps_every_answered_call_and_delivers_it_after_restart() {
    // The registry is bound but not serving yet: every robot issued before
    // the restart is still in the outbox when SIGTERM arrives.
    let registry = build_registry(TestDb::sqlite()).await;
    let registry_url = registry.db_url();
    let dir = tempfile::tempdir().unwrap();
    let mut issuance = start_issuance(dir.path(), registry.addr.port());
    let regulator = IssuanceServiceClient::new(channel(issuance.addr, Some("regulator")).await);
    let manufacturer =
        IssuanceServiceClient::new(channel(issuance.addr, Some("manufacturer")).await);
    let model = approve_demo_model(regulator).await;

    // A stream of calls from several callers until the service stops
    // answering; the robots of every OK answer are remembered.
    let answered: Arc<Mutex<Vec<String>>> = Arc::default();
    let calls_ok = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        let (mut client, model) = (manufacturer.clone(), model.clone());
        let (answered, calls_ok) = (Arc::clone(&answered), Arc::clone(&calls_ok));
        callers.push(tokio::spawn(async move {
            loop {
                let result = client
                    .issue_robot_ids(pb::IssueRobotIdsRequest {
                        request_id: unique("stream"),
                        product_model: model.clone(),
                        count: PER_CALL,
                        production: production(),
                    })
                    .await;
                match result {
                    Ok(response) => {
                        let robots = response.into_inner().robots;
                        answered
                            .lock()
                            .unwrap()
                            .extend(robots.into_iter().map(|robot| robot.robot_id));
                        calls_ok.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    // Refused or cut off by the stop: the caller would retry
                    // with the same request id; nothing was promised.
                    Err(_) => return,
                }
            }
        }));
    }
    while calls_ok.load(std::sync::atomic::Ordering::SeqCst) < ANSWERED_BEFORE_SIGTERM {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    issuance.terminate();
    let stopping = std::time::Instant::now();
    let exit = tokio::task::spawn_blocking(move || {
        let exit = issuance.wait_exit(Duration::from_secs(DRAIN_SECONDS + 10));
        (issuance, exit)
    });
    for caller in callers {
        tokio::time::timeout(DEADLINE, caller)
            .await
            .expect("callers stop once the service stops")
            .unwrap();
    }
    let (issuance, exit) = exit.await.unwrap();
    let stopped_in = stopping.elapsed();
    drop(issuance);
    assert_eq!(exit.code(), Some(0), "a graceful stop exits 0");

    let answered: HashSet<String> = answered.lock().unwrap().iter().cloned().collect();
    let ok = calls_ok.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        answered.len(),
        ok * PER_CALL as usize,
        "no robot answered twice"
    );
    let issuance_url = format!("sqlite://{}", dir.path().join("issuance.db").display());
    let stored = robot_ids(&issuance_url, "issued_robots").await;
    assert!(
        answered.is_subset(&stored),
        "{} answered robots missing from the issuance database",
        answered.difference(&stored).count()
    );
    let waiting = robot_ids(&issuance_url, "outbox").await;
    assert!(
        answered.is_subset(&waiting),
        "the registry was down: every answered robot waits in the outbox"
    );

    // Started again, with the registry up: the outbox is delivered.
    let registry = registry.start().await;
    let mut restarted = start_issuance(dir.path(), registry.addr.port());
    let restarting = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let registered = robot_ids(&registry_url, "robots").await;
        if answered.is_subset(&registered) {
            assert_eq!(registered, stored, "the registry has what was issued, once");
            println!(
                "{ok} calls answered OK ({} robots), {} issued in all; exited 0 {stopped_in:?} \
                 after SIGTERM; all in the registry {:?} after the restart",
                answered.len(),
                stored.len(),
                restarting.elapsed()
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} answered robots never reached the registry",
            answered.difference(&registered).count()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    restarted.terminate();
    let exit = tokio::task::spawn_blocking(move || {
        restarted.wait_exit(Duration::from_secs(DRAIN_SECONDS + 10))
    })
    .await
    .unwrap();
    assert_eq!(exit.code(), Some(0));
    registry.stop().await;
}

/// Manufacturer 0001 with an approved model, through the binary.
async fn approve_demo_model(
    mut regulator: IssuanceServiceClient<tonic::transport::Channel>,
) -> String {
    regulator
        .create_manufacturer(pb::CreateManufacturerRequest {
            request_id: unique("manufacturer"),
            manufacturer: Some(manufacturer(MANUFACTURER)),
        })
        .await
        .expect("manufacturer created");
    regulator
        .create_product_model(pb::CreateProductModelRequest {
            request_id: unique("model"),
            parent: format!("manufacturers/{MANUFACTURER}"),
            product_model: Some(product_model(MODEL)),
        })
        .await
        .expect("model declared");
    regulator
        .approve_product_model(pb::ApproveProductModelRequest {
            request_id: unique("approve"),
            name: MODEL_NAME.into(),
        })
        .await
        .expect("model approved");
    MODEL_NAME.to_owned()
}
