//! Two issuance processes (the real binary, twice) relay one outbox on one
//! database: every batch reaches the registry once, not once per replica.
//! The registry's own request metric counts the `RegisterRobots` calls it
//! answered.

use std::time::{Duration, Instant};

use robotid_proto::issuance::v1 as issuance;
use robotid_proto::issuance::v1::issuance_service_client::IssuanceServiceClient;
use robotid_topology::{Options, Service, Topology, free_port, request_id};

const BATCH: usize = 25;
const CALLS: usize = 16;
const ROBOTS_PER_CALL: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_relays_deliver_each_batch_once() {
    two_relays_deliver_each_batch_once(Options::from_env().on_sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_relays_deliver_each_batch_once() {
    two_relays_deliver_each_batch_once(Options::from_env()).await;
}

async fn two_relays_deliver_each_batch_once(options: Options) {
    let metrics = free_port().unwrap();
    let options = options
        .services(&[Service::Registry, Service::Issuance])
        .service_setting(Service::Issuance, "ROBOTID_RELAY_BATCH_SIZE", BATCH)
        .service_setting(Service::Issuance, "ROBOTID_RELAY_MAX_BACKOFF_MS", 300)
        .service_setting(
            Service::Registry,
            "ROBOTID_METRICS_LISTEN",
            format!("127.0.0.1:{metrics}"),
        );
    let mut topology = Topology::start(options).await.unwrap();
    let model = topology.approve_model("HX0001").await.unwrap();

    // The registry is down while both replicas take orders, so that both
    // relays find the whole outbox waiting when it is back.
    let stopped = topology
        .terminate(Service::Registry, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(stopped.success());
    let second = topology.start_replica(Service::Issuance).await.unwrap();
    let mut replicas = [
        topology.issuance_as("manufacturer").await.unwrap(),
        IssuanceServiceClient::new(
            topology
                .replica_channel(second, Some("manufacturer"))
                .await
                .unwrap(),
        ),
    ];
    let mut issued = Vec::new();
    for call in 0..CALLS {
        let answer = replicas[call % 2]
            .issue_robot_ids(issuance::IssueRobotIdsRequest {
                request_id: request_id("replicas"),
                product_model: model.clone(),
                count: ROBOTS_PER_CALL as i32,
                production: None,
            })
            .await
            .unwrap()
            .into_inner();
        issued.extend(answer.robots.into_iter().map(|r| r.robot_id));
    }
    assert_eq!(issued.len(), CALLS * ROBOTS_PER_CALL);

    topology.restart(Service::Registry).await.unwrap();
    sqlx::any::install_default_drivers();
    let outbox = sqlx::AnyPool::connect(topology.database_url(Service::Issuance).unwrap())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&outbox)
            .await
            .unwrap();
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} robots never delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    outbox.close().await;

    let registry = sqlx::AnyPool::connect(topology.database_url(Service::Registry).unwrap())
        .await
        .unwrap();
    let registered: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM robots")
        .fetch_one(&registry)
        .await
        .unwrap();
    registry.close().await;
    assert_eq!(registered as usize, issued.len());

    // Every batch full (the outbox held a multiple of the batch size, and
    // each claim takes whole batches of what is unclaimed), each sent once.
    let answered_ok = register_robots_answered_ok(metrics).await;
    assert_eq!(
        answered_ok,
        issued.len() / BATCH,
        "RegisterRobots calls the registry answered OK"
    );
    topology.shutdown().await.unwrap();
}

/// `RegisterRobots` calls the registry answered OK since it started, from
/// its Prometheus metrics: all of them minus those with an error code.
async fn register_robots_answered_ok(port: u16) -> usize {
    let text = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    })
    .await
    .unwrap();
    let sum = |metric: &str| -> f64 {
        text.lines()
            .filter(|line| {
                line.starts_with(metric)
                    && line.contains("/robotid.registry.v1.RegistryService/RegisterRobots")
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let all = sum("rpc_server_requests_total{");
    let errors = sum("rpc_server_errors_total{");
    assert!(all > 0.0, "no RegisterRobots in the metrics:\n{text}");
    (all - errors) as usize
}
