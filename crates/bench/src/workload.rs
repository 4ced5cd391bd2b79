//! The workloads against the real services, each a closed loop of real
//! gRPC calls over mutual TLS.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use robotid_domain::code::RobotId;
use robotid_platform::client::{Retrying, RpcChannel};
use robotid_proto::common::v1 as common;
use robotid_proto::issuance::v1 as issuance;
use robotid_proto::issuance::v1::issuance_service_client::IssuanceServiceClient;
use robotid_proto::registry::v1 as registry;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use robotid_proto::transfer::v1 as transfer;
use robotid_proto::transfer::v1::transfer_service_client::TransferServiceClient;
use sqlx::PgPool;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::load::{self, Measurement, Until, spread};
use crate::seed::Line;

/// `connections` HTTP/2 connections to `addr` over TLS as `identity`
/// (`None`: anonymous, no client certificate), certificates from `pki`;
/// calls on them honour RetryInfo as every client of the API does.
pub async fn connect(
    pki: &Path,
    addr: std::net::SocketAddr,
    identity: Option<&str>,
    connections: usize,
) -> anyhow::Result<Vec<RpcChannel>> {
    let read = |name: &str| {
        let path = pki.join(name);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("ca.crt")?))
        .domain_name("localhost");
    if let Some(name) = identity {
        tls = tls.identity(Identity::from_pem(
            read(&format!("{name}.crt"))?,
            read(&format!("{name}.key"))?,
        ));
    }
    let endpoint = Endpoint::from_shared(format!("https://{addr}"))?
        .tls_config(tls)?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5));
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections {
        // One `connect` each: every channel is its own HTTP/2 connection.
        channels.push(Retrying::new(
            endpoint
                .connect()
                .await
                .with_context(|| format!("connecting to {addr}"))?,
        ));
    }
    Ok(channels)
}

fn registry_clients(channels: &[RpcChannel]) -> Vec<RegistryServiceClient<RpcChannel>> {
    channels
        .iter()
        .map(|c| RegistryServiceClient::new(c.clone()))
        .collect()
}

fn error(status: tonic::Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// `GetRobot` public view of robots spread over `robots`, from `streams`
/// workers sharing `channels`.
pub async fn resolve(
    channels: &[RpcChannel],
    robots: Arc<Vec<RobotId>>,
    streams: usize,
    until: Until,
) -> Measurement {
    let call = get_robot(channels, robots);
    load::run(streams, until, move |_, index| call(index)).await
}

/// As [`resolve`], at a fixed rate (see [`load::run_paced`]).
pub async fn resolve_paced(
    channels: &[RpcChannel],
    robots: Arc<Vec<RobotId>>,
    rate: f64,
    duration: Duration,
) -> Measurement {
    load::run_paced(rate, duration, get_robot(channels, robots)).await
}

/// The `index`-th lookup: a robot spread over `robots`, on the next
/// channel in turn.
fn get_robot(
    channels: &[RpcChannel],
    robots: Arc<Vec<RobotId>>,
) -> impl Fn(u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, String>> + Send>>
+ Send
+ Sync
+ 'static {
    let clients = registry_clients(channels);
    move |index| {
        let mut client = clients[index as usize % clients.len()].clone();
        let robot = &robots[(spread(index) % robots.len() as u64) as usize];
        let request = registry::GetRobotRequest {
            robot_id: robot.as_str().to_owned(),
            view: registry::RobotView::Public.into(),
        };
        Box::pin(async move {
            let robot = client.get_robot(request).await.map_err(error)?.into_inner();
            if robot.robot_id.is_empty() {
                return Err("an empty robot came back".into());
            }
            Ok(1)
        })
    }
}

/// `RecordEvent` MAINTENANCE_PERFORMED, each call on the next robot of
/// `robots` (none twice), from `callers` workers.
pub async fn events(
    channels: &[RpcChannel],
    robots: Arc<Vec<RobotId>>,
    first: Arc<std::sync::atomic::AtomicU64>,
    callers: usize,
    until: Until,
) -> Measurement {
    let clients = registry_clients(channels);
    let run = std::process::id();
    load::run(callers, until, move |worker, _| {
        let mut client = clients[worker % clients.len()].clone();
        let position = first.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as usize;
        let robot = robots.get(position).cloned();
        async move {
            let robot = robot.ok_or("every robot of the events pool was used")?;
            let request = registry::RecordEventRequest {
                request_id: format!("bench-{run}-maintenance-{position}"),
                robot_id: robot.as_str().to_owned(),
                r#type: common::EventType::MaintenancePerformed.into(),
                details: Some(registry::EventDetails {
                    note: "brake pads replaced".into(),
                    ..Default::default()
                }),
                occur_time: None,
            };
            let event = client
                .record_event(request)
                .await
                .map_err(error)?
                .into_inner();
            if event.sequence < 2 {
                return Err(format!("event sequence {} after ISSUED", event.sequence));
            }
            Ok(1)
        }
    })
    .await
}

/// What the issuance workload measured.
pub struct Issuance {
    /// The `IssueRobotIds` calls: latency, and robots issued a second.
    pub calls: Measurement,
    /// Robots issued in all, every one found in the registry.
    pub robots: u64,
    /// From the first call to the last robot in the registry.
    pub until_registered: Duration,
}

impl Issuance {
    /// Robots that reached the registry, a second.
    pub fn registered_rate(&self) -> f64 {
        self.robots as f64 / self.until_registered.as_secs_f64().max(1e-9)
    }
}

/// `IssueRobotIds` of `batch` robots from `callers` workers for
/// `duration`, then waits until the registry holds every issued robot.
pub async fn issuance(
    channels: &[RpcChannel],
    registry_db: &PgPool,
    product_model: &str,
    line: &Line,
    callers: usize,
    batch: i32,
    duration: Duration,
) -> anyhow::Result<Issuance> {
    let before = registered(registry_db, line).await?;
    let clients: Vec<_> = channels
        .iter()
        .map(|c| IssuanceServiceClient::new(c.clone()))
        .collect();
    let run = std::process::id();
    let model = product_model.to_owned();
    let started = Instant::now();
    let calls = load::run(callers, Until::Elapsed(duration), move |worker, index| {
        let mut client = clients[worker % clients.len()].clone();
        let request = issuance::IssueRobotIdsRequest {
            request_id: format!("bench-{run}-issue-{index}"),
            product_model: model.clone(),
            count: batch,
            production: Some(common::Production {
                production_time: Some(prost_types::Timestamp {
                    seconds: 1_764_000_000,
                    nanos: 0,
                }),
                factory: "Wuhan Plant 2".into(),
            }),
        };
        async move {
            let issued = client
                .issue_robot_ids(request)
                .await
                .map_err(error)?
                .into_inner();
            if issued.robots.len() != batch as usize {
                return Err(format!("{} robots issued of {batch}", issued.robots.len()));
            }
            Ok(issued.robots.len() as u64)
        }
    })
    .await;
    let expected = before + calls.units;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let now = registered(registry_db, line).await?;
        if now >= expected {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the registry holds {now} robots of {expected} issued after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Issuance {
        robots: calls.units,
        until_registered: started.elapsed(),
        calls,
    })
}

/// Robots of `line`'s model in the registry database.
async fn registered(registry_db: &PgPool, line: &Line) -> anyhow::Result<u64> {
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM robots WHERE manufacturer_code = $1 AND model_code = $2",
    )
    .bind(line.manufacturer.as_str())
    .bind(line.model.as_str())
    .fetch_one(registry_db)
    .await?;
    Ok(count as u64)
}

/// `RequestClearance` EXPORT of `shipments` shipments of `shipment`
/// robots each, taken in order from `robots`, one after another; every
/// robot must be cleared.
pub async fn clearance(
    channel: RpcChannel,
    robots: Arc<Vec<RobotId>>,
    shipment: usize,
    shipments: u64,
) -> Measurement {
    let client = TransferServiceClient::new(channel);
    let run = std::process::id();
    load::run(1, Until::Calls(shipments), move |_, index| {
        let mut client = client.clone();
        let first = index as usize * shipment;
        let cargo: Vec<transfer::ShipmentRobot> = robots
            .get(first..first + shipment)
            .unwrap_or_default()
            .iter()
            .map(|id| transfer::ShipmentRobot {
                robot_id: id.as_str().to_owned(),
                credential: Vec::new(),
            })
            .collect();
        let request = transfer::RequestClearanceRequest {
            request_id: format!("bench-{run}-clearance-{index}"),
            direction: transfer::TransferDirection::Export.into(),
            robots: cargo,
            origin_country: "CN".into(),
            destination_country: "DE".into(),
            declarant: "Hubei Humanoid Works Export Dept.".into(),
            customs_office: "CN-SHA".into(),
            allow_partial: false,
            origin_clearance: Vec::new(),
        };
        async move {
            if request.robots.len() != shipment {
                return Err("the clearance pool ran out of robots".into());
            }
            let answer = client
                .request_clearance(request)
                .await
                .map_err(error)?
                .into_inner();
            let cleared = answer
                .decisions
                .iter()
                .filter(|d| d.decision() == transfer::Decision::Cleared)
                .count();
            if answer.state() != transfer::TransferState::Cleared || cleared != shipment {
                let refused = answer.decisions.iter().find(|d| !d.reason.is_empty());
                return Err(format!(
                    "shipment {:?}, {cleared} of {shipment} cleared, e.g. {refused:?}",
                    answer.state()
                ));
            }
            Ok(cleared as u64)
        }
    })
    .await
}

/// Reads robots back through the registry, as its regulator: the full
/// record and the history check, to prove seeded rows are what the
/// registry would have written.
pub async fn check_seeded(channel: RpcChannel, robots: &[RobotId]) -> anyhow::Result<()> {
    let mut client = RegistryServiceClient::new(channel);
    for robot in robots {
        let full = client
            .get_robot(registry::GetRobotRequest {
                robot_id: robot.as_str().to_owned(),
                view: registry::RobotView::Full.into(),
            })
            .await
            .with_context(|| format!("reading seeded robot {robot}"))?
            .into_inner();
        anyhow::ensure!(full.robot_id == robot.as_str(), "read back {full:?}");
        let verdict = client
            .verify_history(registry::VerifyHistoryRequest {
                robot_id: robot.as_str().to_owned(),
            })
            .await
            .with_context(|| format!("verifying seeded robot {robot}"))?
            .into_inner();
        anyhow::ensure!(
            verdict.intact,
            "the seeded history of {robot} does not verify: {verdict:?}"
        );
    }
    Ok(())
}
