//! `robotid-bench log`: what the transparency log costs and how fast it
//! publishes, in one run.
//!
//! Two registries on fresh databases of the same server, one keeping the
//! log and one without it (no `ROBOTID_LOG_KEY_FILE`), seeded alike; the
//! same `RecordEvent` workload (bench workload 3) on each, in turns
//! (log, none, log, none, …) so that the machine's drift falls on both.
//! Then, on the logged one under that load, the integration delay: for
//! every answered event, the time from its answer to the first published
//! checkpoint whose tree holds its `log_index`. Last, the tiles: immutable
//! full tiles and entry bundles fetched from `/log/` in a closed loop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use robotid_domain::code::RobotId;
use robotid_platform::client::RpcChannel;
use robotid_proto::common::v1 as common;
use robotid_proto::registry::v1 as registry;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use robotid_topology::{Options, Service, Topology};
use sqlx::postgres::PgPoolOptions;

use crate::load::{self, Measurement, Until};
use crate::seed::{self, Line, Stage};
use crate::{http, report, workload};

#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// The PostgreSQL server the two registries' databases are made on.
    #[arg(
        long,
        env = "TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
    /// Seconds of each events measurement.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Turns of (with the log, without it).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

const EVENT_CALLERS: usize = 16;
const CONNECTIONS: usize = 4;
/// Robots seeded in each registry: every call takes the next one.
const ROBOTS: u64 = 300_000;

pub async fn run(args: LogArgs) -> anyhow::Result<()> {
    let seconds = Duration::from_secs(args.seconds);
    let options = || {
        Options::new(&args.postgres_url)
            .services(&[Service::Registry])
            .setting("ROBOTID_RATE_LIMIT", 1_000_000)
    };
    let logged = Topology::start(options())
        .await
        .context("starting the registry with its log (build the release binaries first)")?;
    let unlogged = Topology::start(options().without_log()).await?;
    let with_log = Registry::seeded(&logged).await?;
    let without_log = Registry::seeded(&unlogged).await?;
    println!(
        "two registries on {}, {} robots seeded in each; {EVENT_CALLERS} callers, {} s a turn",
        args.postgres_url, ROBOTS, args.seconds
    );

    let (mut logged_rates, mut unlogged_rates) = (Vec::new(), Vec::new());
    for round in 1..=args.rounds {
        let measured = with_log.events(seconds).await;
        report::line(
            &format!("events with the log, turn {round}"),
            "calls",
            &measured,
            None,
        );
        logged_rates.push(measured.rate());
        let measured = without_log.events(seconds).await;
        report::line(
            &format!("events without it, turn {round}"),
            "calls",
            &measured,
            None,
        );
        unlogged_rates.push(measured.rate());
    }
    let mean = |rates: &[f64]| rates.iter().sum::<f64>() / rates.len() as f64;
    let ratio = mean(&logged_rates) / mean(&unlogged_rates);
    println!(
        "events: {:.0}/s with the log, {:.0}/s without: {:.1}% (target >= 90%)",
        mean(&logged_rates),
        mean(&unlogged_rates),
        100.0 * ratio
    );

    let delay = with_log.integration_delay(&logged, seconds).await?;
    println!(
        "integration delay (answer -> covered by a published checkpoint), {} events: \
         p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (target p99 <= 1,000 ms)",
        delay.len(),
        delay.value_at_quantile(0.50) as f64 / 1_000.0,
        delay.value_at_quantile(0.99) as f64 / 1_000.0,
        delay.max() as f64 / 1_000.0,
    );

    let web = logged
        .web_addr()
        .context("the registry's public listener")?;
    let size = with_log.checkpoint_size().await?;
    let full_tiles = size / 256;
    anyhow::ensure!(
        full_tiles > 0,
        "the log has no full tile yet ({size} leaves)"
    );
    let tiles = http::run(
        web,
        16,
        "application/octet-stream",
        move |index| {
            format!(
                "/log/tile/0/{}",
                tile_index(load::spread(index) % full_tiles)
            )
        },
        Until::Elapsed(seconds),
    )
    .await?;
    report::line("tile fetch: full level-0 tiles", "tiles", &tiles, None);
    println!(
        "{:<34} {:>10.1} MiB/s of hashes (8 KiB a tile, {full_tiles} full tiles)",
        "",
        tiles.rate() * 8192.0 / 1_048_576.0
    );
    let bundles = http::run(
        web,
        16,
        "application/octet-stream",
        move |index| {
            format!(
                "/log/tile/entries/{}",
                tile_index(load::spread(index) % full_tiles)
            )
        },
        Until::Elapsed(seconds),
    )
    .await?;
    report::line("tile fetch: full entry bundles", "bundles", &bundles, None);

    logged.shutdown().await?;
    unlogged.shutdown().await?;
    Ok(())
}

/// `<N>` of a tile path (c2sp.org/tlog-tiles).
fn tile_index(index: u64) -> String {
    robotid_tlog::Tile::new(0, index, 256)
        .expect("a full tile")
        .path()
        .trim_start_matches("tile/0/")
        .to_owned()
}

/// One registry of the comparison: its callers and its robots.
struct Registry {
    channels: Vec<RpcChannel>,
    robots: Arc<Vec<RobotId>>,
    used: Arc<AtomicU64>,
}

impl Registry {
    async fn seeded(topology: &Topology) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect(topology.database_url(Service::Registry)?)
            .await?;
        let mut line = Line::new("CN", crate::MANUFACTURER, "BE0001")?;
        let seeded = seed::seed(&pool, &mut line, ROBOTS, Stage::Registered, 1).await?;
        seed::settle(&pool).await?;
        pool.close().await;
        let channels = workload::connect(
            topology.pki_dir(),
            topology.addr(Service::Registry)?,
            Some("service-provider"),
            CONNECTIONS,
        )
        .await?;
        Ok(Self {
            channels,
            robots: Arc::new(seeded.kept),
            used: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Workload 3 for `seconds`, after a warm-up of a fifth of that.
    async fn events(&self, seconds: Duration) -> Measurement {
        let run = |until| {
            workload::events(
                &self.channels,
                Arc::clone(&self.robots),
                Arc::clone(&self.used),
                EVENT_CALLERS,
                until,
            )
        };
        run(Until::Elapsed(seconds / 5)).await;
        run(Until::Elapsed(seconds)).await
    }

    async fn checkpoint_size(&self) -> anyhow::Result<u64> {
        let mut client = RegistryServiceClient::new(self.channels[0].clone());
        Ok(client
            .get_checkpoint(registry::GetCheckpointRequest {})
            .await?
            .into_inner()
            .tree_size)
    }

    /// The events workload again, every answer's time and log index kept,
    /// beside a watcher of the published checkpoint; the delays, in µs.
    async fn integration_delay(
        &self,
        topology: &Topology,
        seconds: Duration,
    ) -> anyhow::Result<hdrhistogram::Histogram<u64>> {
        let answers: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let watcher = {
            let mut client = RegistryServiceClient::new(
                workload::connect(
                    topology.pki_dir(),
                    topology.addr(Service::Registry)?,
                    None,
                    1,
                )
                .await?
                .remove(0),
            );
            tokio::spawn(async move {
                let mut seen: Vec<(Instant, u64)> = Vec::new();
                while !*stopped.borrow() {
                    if let Ok(answer) = client
                        .get_checkpoint(registry::GetCheckpointRequest {})
                        .await
                    {
                        let size = answer.into_inner().tree_size;
                        if seen.last().is_none_or(|(_, last)| *last < size) {
                            seen.push((Instant::now(), size));
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                seen
            })
        };
        let clients: Vec<_> = self
            .channels
            .iter()
            .map(|c| RegistryServiceClient::new(c.clone()))
            .collect();
        let robots = Arc::clone(&self.robots);
        let used = Arc::clone(&self.used);
        let kept = Arc::clone(&answers);
        load::run(EVENT_CALLERS, Until::Elapsed(seconds), move |worker, _| {
            let mut client = clients[worker % clients.len()].clone();
            let position = used.fetch_add(1, Ordering::Relaxed) as usize;
            let robot = robots.get(position).cloned();
            let kept = Arc::clone(&kept);
            async move {
                let robot = robot.ok_or("every robot was used")?;
                let event = client
                    .record_event(registry::RecordEventRequest {
                        request_id: format!("bench-log-{}-{position}", std::process::id()),
                        robot_id: robot.as_str().to_owned(),
                        r#type: common::EventType::MaintenancePerformed.into(),
                        details: Some(registry::EventDetails {
                            note: "brake pads replaced".into(),
                            ..Default::default()
                        }),
                        occur_time: None,
                    })
                    .await
                    .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?
                    .into_inner();
                let index = event.log_index.ok_or("an event without its log index")?;
                kept.lock().expect("answers").push((Instant::now(), index));
                Ok(1)
            }
        })
        .await;
        // Long enough for the last answers' checkpoint.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let _ = stop.send(true);
        let seen = watcher.await?;
        let mut delays = load::histogram();
        for (answered, index) in answers.lock().expect("answers").iter() {
            let covered = seen
                .iter()
                .find(|(_, size)| *size > *index)
                .with_context(|| format!("no checkpoint covered leaf {index}"))?;
            let delay = covered.0.saturating_duration_since(*answered);
            delays.record(delay.as_micros().max(1) as u64)?;
        }
        Ok(delays)
    }
}
