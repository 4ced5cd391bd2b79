//! `robotid-bench holds`: how long a hold takes to cross the border.
//!
//! Two registries as processes, China's and Germany's, each with its own
//! CA, log and witness, on fresh databases of the same PostgreSQL server;
//! each the other's peer (`PutPeer`, as the transfer service sets it from
//! the trust list) and holding the certificate the other's CA issued it.
//! `ROBOTS` Chinese robots are in Germany: exported in China's registry
//! (`EXPORT_CLEARED`, `EXPORTED`), registered on import in Germany's. Then,
//! `CALLERS` at a time, a theft report on each: by the German police for
//! half of them (reaching China, the origin), by the Chinese police for the
//! other half (reaching Germany, where the robot is). The delay is from the
//! report's answer to the first public `GetRobot` of the other registry
//! that shows the robot stolen, polled every `POLL`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use robotid_domain::code::RobotId;
use robotid_platform::client::RpcChannel;
use robotid_proto::common::v1 as common;
use robotid_proto::registry::v1 as registry;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use robotid_topology::{Options, Service, Topology};

use crate::load::histogram;
use crate::seed::{Line, Stage};
use crate::workload;

#[derive(Debug, Clone, clap::Args)]
pub struct HoldsArgs {
    /// The PostgreSQL server the two registries' databases are made on.
    #[arg(
        long,
        env = "TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
    /// Robots abroad, each reported stolen once.
    #[arg(long, default_value_t = 400)]
    pub robots: usize,
}

/// Theft reports in flight at once.
const CALLERS: usize = 8;
/// How often the other registry is asked whether the hold arrived.
const POLL: Duration = Duration::from_millis(5);

/// One country's registry with its log and witness keys.
struct Country {
    code: &'static str,
    topology: Topology,
    log_key: String,
    witness_key: String,
    peer_tls_dir: std::path::PathBuf,
    _keys: tempfile::TempDir,
}

impl Country {
    async fn start(code: &'static str, postgres_url: &str, seed: u8) -> anyhow::Result<Self> {
        let keys = tempfile::tempdir()?;
        let lower = code.to_ascii_lowercase();
        let origin = format!("{lower}.bench.test/log");
        let witness_name = format!("{lower}.bench.test/witness");
        let key_file = |name: &str, seed: u8| -> anyhow::Result<std::path::PathBuf> {
            let path = keys.path().join(name);
            let key = robotid_credential::SigningKey::from_seed(&[seed; 32]);
            std::fs::write(&path, key.to_pkcs8_pem())?;
            Ok(path)
        };
        let log_file = key_file("log-key.pem", seed)?;
        let witness_file = key_file("witness-key.pem", seed.wrapping_add(0x40))?;
        let log_key = robotid_tlog::NoteSigner::new(
            &origin,
            ed25519_dalek::SigningKey::from_bytes(&[seed; 32]),
        )?
        .verifier_key()
        .to_string();
        let witness_key = robotid_tlog::Cosigner::new(
            &witness_name,
            ed25519_dalek::SigningKey::from_bytes(&[seed.wrapping_add(0x40); 32]),
        )?
        .verifier_key()
        .to_string();
        let peer_tls_dir = keys.path().join("peers");
        let mut options = Options::new(postgres_url)
            .services(&[Service::Registry])
            .setting("ROBOTID_RATE_LIMIT", 1_000_000)
            .setting("ROBOTID_LOG_KEY_FILE", log_file.display())
            .setting("ROBOTID_LOG_ORIGIN", &origin)
            .setting("ROBOTID_WITNESS_KEY_FILE", witness_file.display())
            .setting("ROBOTID_WITNESS_NAME", &witness_name)
            .setting("ROBOTID_PEER_TLS_DIR", peer_tls_dir.display());
        options.country = code.into();
        let topology = Topology::start(options).await.with_context(|| {
            format!("starting {code}'s registry (build the release binaries first)")
        })?;
        Ok(Self {
            code,
            topology,
            log_key,
            witness_key,
            peer_tls_dir,
            _keys: keys,
        })
    }

    async fn client(&self, identity: &str) -> anyhow::Result<RegistryServiceClient<RpcChannel>> {
        let channels = workload::connect(
            self.topology.pki_dir(),
            self.topology.addr(Service::Registry)?,
            Some(identity),
            1,
        )
        .await?;
        Ok(RegistryServiceClient::new(channels[0].clone()))
    }

    /// Makes `other` a peer of this registry, as the transfer service does
    /// from the trust list, and lets it call this registry.
    async fn admit(&self, other: &Country) -> anyhow::Result<()> {
        robotid_pki::admit_peer_registry(
            self.topology.pki_dir(),
            other.code,
            &other.peer_tls_dir.join(self.code.to_ascii_lowercase()),
        )?;
        let web = other.topology.web_addr().context("a web listener")?;
        self.client("transfer")
            .await?
            .put_peer(registry::PutPeerRequest {
                peer: Some(registry::Peer {
                    country_code: other.code.into(),
                    log_origin: other.log_key.split('+').next().unwrap_or_default().into(),
                    log_key: other.log_key.clone(),
                    witness_key: other.witness_key.clone(),
                    web_url: format!("http://{web}"),
                    grpc_url: format!(
                        "https://localhost:{}",
                        other.topology.addr(Service::Registry)?.port()
                    ),
                    active: true,
                    ..Default::default()
                }),
            })
            .await?;
        Ok(())
    }
}

pub async fn run(args: HoldsArgs) -> anyhow::Result<()> {
    let cn = Country::start("CN", &args.postgres_url, 0x43).await?;
    let de = Country::start("DE", &args.postgres_url, 0x44).await?;
    cn.admit(&de).await?;
    de.admit(&cn).await?;
    let robots = robots_abroad(&cn, &de, args.robots).await?;
    println!(
        "two registries (CN, DE) on {}, {} CN robots in DE; {CALLERS} theft reports at a time",
        args.postgres_url,
        robots.len()
    );
    let half = robots.len() / 2;
    let (to_origin, to_abroad) = robots.split_at(half);
    let measured = [
        (
            "DE police → CN (origin) card",
            delays(&de, &cn, "police", to_origin).await?,
        ),
        (
            "CN police → DE (where the robot is)",
            delays(&cn, &de, "police", to_abroad).await?,
        ),
    ];
    for (direction, histogram) in &measured {
        let ms = |quantile: f64| histogram.value_at_quantile(quantile) as f64 / 1_000.0;
        println!(
            "  hold propagation, {direction}: {} holds, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            histogram.len(),
            ms(0.50),
            ms(0.99),
            histogram.max() as f64 / 1_000.0
        );
    }
    Ok(())
}

/// `count` robots issued in China and imported into Germany, in both
/// registries as the border's services leave them.
async fn robots_abroad(cn: &Country, de: &Country, count: usize) -> anyhow::Result<Vec<RobotId>> {
    let mut line = Line::new("CN", crate::MANUFACTURER, "BE0001")?;
    let made = crate::seed::registrations(&mut line, count, Stage::Registered)?;
    let mut cn_transfer = cn.client("transfer").await?;
    let mut cn_issuance = cn.client("issuance").await?;
    let mut cn_manufacturer = cn.client("manufacturer").await?;
    let mut de_transfer = de.client("transfer").await?;
    let registration =
        |robot: &robotid_domain::robot::Robot, import: bool| registry::RobotRegistration {
            robot_id: robot.robot_id.as_str().into(),
            manufacturer_name: robot.manufacturer_name.clone(),
            model_name: robot.model_name.clone(),
            production: Some(robotid_platform::wire::production_to_wire(
                &robot.production,
            )),
            import_origin: import.then(|| registry::ImportOrigin {
                country_code: "CN".into(),
                status: common::RobotStatus::InMarket.into(),
                transfer: "transfers/1".into(),
            }),
            ..Default::default()
        };
    let ids: Vec<RobotId> = made
        .iter()
        .map(|(robot, _)| robot.robot_id.clone())
        .collect();
    for (chunk, robots) in made.chunks(500).enumerate() {
        cn_issuance
            .register_robots(registry::RegisterRobotsRequest {
                request_id: format!("bench-holds-issue-{chunk}"),
                robots: robots
                    .iter()
                    .map(|(robot, _)| registration(robot, false))
                    .collect(),
                on_behalf_of: String::new(),
            })
            .await?;
    }
    let event =
        |id: &RobotId, kind: common::EventType, country: &str| registry::RecordEventRequest {
            request_id: format!("bench-holds-{}-{}", kind.as_str_name(), id.as_str()),
            robot_id: id.as_str().into(),
            r#type: kind.into(),
            details: Some(registry::EventDetails {
                country_code: country.into(),
                ..Default::default()
            }),
            occur_time: None,
        };
    for id in &ids {
        cn_manufacturer
            .record_event(event(id, common::EventType::ReleasedToMarket, ""))
            .await?;
    }
    for (chunk, robots) in ids.chunks(500).enumerate() {
        cn_transfer
            .record_events(registry::RecordEventsRequest {
                request_id: format!("bench-holds-export-{chunk}"),
                events: robots
                    .iter()
                    .flat_map(|id| {
                        [
                            event(id, common::EventType::ExportCleared, "DE"),
                            event(id, common::EventType::Exported, "DE"),
                        ]
                    })
                    // The batch's request id covers its events.
                    .map(|event| registry::RecordEventRequest {
                        request_id: String::new(),
                        ..event
                    })
                    .collect(),
                on_behalf_of: "robotid://customs/CN-SHA".into(),
            })
            .await?;
    }
    for (chunk, robots) in made.chunks(500).enumerate() {
        de_transfer
            .register_robots(registry::RegisterRobotsRequest {
                request_id: format!("bench-holds-import-{chunk}"),
                robots: robots
                    .iter()
                    .map(|(robot, _)| registration(robot, true))
                    .collect(),
                on_behalf_of: "robotid://customs/DE-SHA".into(),
            })
            .await?;
    }
    Ok(ids)
}

/// For each robot: reported stolen in `from` as `reporter`, then the
/// time until `to`'s public card shows it stolen.
async fn delays(
    from: &Country,
    to: &Country,
    reporter: &str,
    robots: &[RobotId],
) -> anyhow::Result<hdrhistogram::Histogram<u64>> {
    let recorded = Arc::new(Mutex::new(histogram()));
    let next = Arc::new(AtomicUsize::new(0));
    let robots = Arc::new(robots.to_vec());
    let report = from.client(reporter).await?;
    let card = to.client("seller").await?;
    let (from_code, to_code) = (from.code, to.code);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CALLERS {
        let (mut report, mut card) = (report.clone(), card.clone());
        let (recorded, next, robots) = (recorded.clone(), next.clone(), robots.clone());
        workers.spawn(async move {
            while let Some(id) = robots.get(next.fetch_add(1, Ordering::Relaxed)) {
                report
                    .record_event(registry::RecordEventRequest {
                        request_id: format!("bench-holds-stolen-{}", id.as_str()),
                        robot_id: id.as_str().into(),
                        r#type: common::EventType::ReportedStolen.into(),
                        details: None,
                        occur_time: None,
                    })
                    .await
                    .with_context(|| format!("reporting {id} stolen in {from_code}"))?;
                let answered = Instant::now();
                let deadline = answered + Duration::from_secs(60);
                loop {
                    let robot = card
                        .get_robot(registry::GetRobotRequest {
                            robot_id: id.as_str().into(),
                            view: registry::RobotView::Public.into(),
                        })
                        .await?
                        .into_inner();
                    if robot.stolen {
                        break;
                    }
                    anyhow::ensure!(
                        Instant::now() < deadline,
                        "{id}: the hold did not reach {to_code} within a minute"
                    );
                    tokio::time::sleep(POLL).await;
                }
                let delay = answered.elapsed().as_micros() as u64;
                recorded
                    .lock()
                    .expect("not poisoned")
                    .record(delay.max(1))?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = workers.join_next().await {
        done.context("a reporter panicked")??;
    }
    let recorded = recorded.lock().expect("not poisoned").clone();
    Ok(recorded)
}
