//! One benchmark run: the services up, the registry seeded in three sizes,
//! the floors and the workloads measured in turn, the targets checked.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::Context;
use robotid_domain::code::RobotId;
use robotid_topology::{Options, Service, Topology};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection, PgPool};

use crate::floor::{self, FloorKind, FloorProcess};
use crate::load::{Measurement, Until};
use crate::report::{self, Target};
use crate::seed::{self, Line, Stage};
use crate::workload;

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Small sizes and short runs: a smoke test of the whole benchmark
    /// (about a minute), not figures to quote.
    #[arg(long)]
    pub quick: bool,

    /// The PostgreSQL server on which the services' databases and the
    /// scratch database are made, and dropped at the end.
    #[arg(
        long,
        env = "TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,

    /// Seconds each throughput measurement runs (default 10, 2 with
    /// --quick), after a warm-up of a fifth of that.
    #[arg(long)]
    pub seconds: Option<u64>,

    /// Keep the services' directory (PKI, logs) and say where it is.
    #[arg(long)]
    pub keep_files: bool,
}

/// How big and how long.
struct Sizes {
    /// Robots at the first resolve measurement.
    small: u64,
    /// Robots for the floors and most workloads.
    registry: u64,
    /// Robots at the last resolve measurement.
    large: u64,
    /// Robots set aside for RecordEvent, one call each.
    events_pool: u64,
    shipments: u64,
    shipment: usize,
    /// Every `stride`-th resolvable robot is in the lookup sample.
    stride: u64,
    seconds: Duration,
}

impl Sizes {
    fn of(args: &RunArgs) -> Self {
        let mut sizes = if args.quick {
            Sizes {
                small: 2_000,
                registry: 25_000,
                large: 100_000,
                events_pool: 15_000,
                shipments: 3,
                shipment: 1_000,
                stride: 1,
                seconds: Duration::from_secs(2),
            }
        } else {
            Sizes {
                small: 100_000,
                registry: 1_000_000,
                large: 10_000_000,
                events_pool: 200_000,
                shipments: 50,
                shipment: 1_000,
                stride: 10,
                seconds: Duration::from_secs(10),
            }
        };
        if let Some(seconds) = args.seconds {
            sizes.seconds = Duration::from_secs(seconds);
        }
        sizes
    }

    fn warmup(&self) -> Duration {
        self.seconds / 5
    }
}

/// Concurrency of the lookups: 4 connections × 16 streams, as the floors
/// of PERFORMANCE.md were measured.
const LOOKUP_STREAMS: usize = 64;
const LOOKUP_CONNECTIONS: usize = 4;
/// Single-row writers (RecordEvent and floor C single).
const EVENT_CALLERS: usize = 16;
/// Batch writers (IssueRobotIds and floor C batches).
const BATCH_CALLERS: usize = 4;
const BATCH: usize = 1_000;
/// The registry's default pool; the select floor gets as many.
const REGISTRY_CONNECTIONS: u32 = 8;

struct Clock(Instant);

impl Clock {
    fn say(&self, what: impl std::fmt::Display) {
        println!("[{:>7.1} s] {what}", self.0.elapsed().as_secs_f64());
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let sizes = Sizes::of(&args);
    let clock = Clock(Instant::now());
    machine(&args.postgres_url).await?;

    // Every caller of the benchmark is one identity (one address when
    // anonymous): lift the per-identity rate limit so that it measures
    // the services, not the limiter.
    let options = Options::new(&args.postgres_url).setting("ROBOTID_RATE_LIMIT", 1_000_000);
    let mut topology = Topology::start(options)
        .await
        .context("starting the services (build them first: see BENCHMARKS.md)")?;
    // The registry's public listener: its web card (and its log).
    let web = topology
        .web_addr()
        .context("the registry's public listener")?;
    if args.keep_files {
        topology.keep_files();
        clock.say(format!("services' files in {}", topology.dir().display()));
    }
    let pids: Vec<String> = Service::ALL
        .iter()
        .map(|&s| {
            let pid = topology.process(s).ok().and_then(|p| p.pid());
            format!(
                "{} pid {}",
                s.name(),
                pid.map_or("?".into(), |p| p.to_string())
            )
        })
        .collect();
    clock.say(format!(
        "services up as separate processes on PostgreSQL over mutual TLS: {}",
        pids.join(", ")
    ));
    let outcome = measure(&topology, web, &sizes, &args, &clock).await;
    let memory: Vec<_> = Service::ALL
        .iter()
        .map(|&service| (service, topology.memory(service)))
        .collect();
    topology.shutdown().await?;
    let mut targets = outcome?;

    println!();
    println!("peak resident memory (VmHWM) over the whole run:");
    for (service, memory) in memory {
        let memory = memory.with_context(|| format!("{service} was not running at the end"))?;
        let peak = report::mib(memory.peak_bytes);
        println!("  {:<9} {peak:7.1} MiB", service.name());
        targets.push(Target::new(
            format!("6. memory: {} peak RSS", service.name()),
            format!("{peak:.1} MiB"),
            "< 150 MiB",
            peak < 150.0,
        ));
    }
    report::targets(&targets);
    clock.say("done");
    Ok(())
}

/// What the figures were taken on.
async fn machine(postgres_url: &str) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0.0, |kib| kib as f64 / 1024.0 / 1024.0);
    let mut connection = PgConnection::connect(postgres_url).await?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut connection)
        .await?;
    let shared_buffers: String = sqlx::query_scalar("SHOW shared_buffers")
        .fetch_one(&mut connection)
        .await?;
    connection.close().await?;
    println!(
        "machine: {cores} cores, {memory:.1} GiB memory; PostgreSQL {version} \
         (shared_buffers {shared_buffers})"
    );
    Ok(())
}

async fn measure(
    topology: &Topology,
    web: std::net::SocketAddr,
    sizes: &Sizes,
    args: &RunArgs,
    clock: &Clock,
) -> anyhow::Result<Vec<Target>> {
    let pki = topology.pki_dir();
    let registry_url = topology.database_url(Service::Registry)?.to_owned();
    let registry_db = PgPoolOptions::new()
        .max_connections(4)
        .connect(&registry_url)
        .await?;
    let mut targets = Vec::new();

    // Lines of robots: resolved, given events, cleared for export, issued.
    let mut resolved = Line::new("CN", crate::MANUFACTURER, "BR0001")?;
    let mut serviced = Line::new("CN", crate::MANUFACTURER, "BE0001")?;
    let mut exported = Line::new("CN", crate::MANUFACTURER, "BC0001")?;
    let issued = Line::new("CN", crate::MANUFACTURER, "BI0001")?;

    // 1. The small registry.
    let mut lookup_sample: Vec<RobotId> = Vec::new();
    let seeded = seed::seed(
        &registry_db,
        &mut resolved,
        sizes.small,
        Stage::Registered,
        sizes.stride,
    )
    .await?;
    lookup_sample.extend(seeded.kept);
    seed::settle(&registry_db).await?;
    say_seeded(clock, &registry_db, seeded.robots, seeded.elapsed).await?;
    let regulator = workload::connect(pki, topology.addr(Service::Registry)?, Some("regulator"), 1)
        .await?
        .remove(0);
    workload::check_seeded(
        regulator.clone(),
        &lookup_sample[..lookup_sample.len().min(3)],
    )
    .await?;
    clock.say("seeded robots read back through the registry; their histories verify");

    let anonymous = workload::connect(
        pki,
        topology.addr(Service::Registry)?,
        None,
        LOOKUP_CONNECTIONS,
    )
    .await?;
    let sample = Arc::new(lookup_sample.clone());
    // Floor A beside each scale point: this machine's speed drifts by up to
    // half between minutes, and the two points are minutes apart.
    let pace_small = measure_floor_a(pki, &sample, sizes).await?;
    report::line(
        "floor A, just before the next line",
        "calls",
        &pace_small,
        None,
    );
    let resolve_small = resolve_measured(&anonymous, &sample, sizes).await;
    report::line(
        &format!("resolve @ {}", count(sizes.small)),
        "calls",
        &resolve_small,
        None,
    );

    // 2. The registry of the workloads.
    let seeded = seed::seed(
        &registry_db,
        &mut serviced,
        sizes.events_pool,
        Stage::Registered,
        1,
    )
    .await?;
    let events_pool = Arc::new(seeded.kept);
    let shipped = sizes.shipments * sizes.shipment as u64;
    let seeded = seed::seed(&registry_db, &mut exported, shipped, Stage::InMarket, 1).await?;
    let export_pool = Arc::new(seeded.kept);
    let rest = sizes.registry - sizes.small - sizes.events_pool - shipped;
    let seeded = seed::seed(
        &registry_db,
        &mut resolved,
        rest,
        Stage::Registered,
        sizes.stride,
    )
    .await?;
    lookup_sample.extend(seeded.kept);
    seed::settle(&registry_db).await?;
    workload::check_seeded(regulator.clone(), &[export_pool[0].clone()]).await?;
    say_seeded(
        clock,
        &registry_db,
        sizes.events_pool + shipped + rest,
        seeded.elapsed,
    )
    .await?;
    let sample = Arc::new(lookup_sample.clone());

    let floor_a = measure_floor_a(pki, &sample, sizes).await?;
    report::line("floor A: tonic echo (TLS)", "calls", &floor_a, None);
    let floor_b = {
        let server = FloorProcess::start(
            FloorKind::Select,
            pki,
            Some(&registry_url),
            REGISTRY_CONNECTIONS,
        )?;
        let channels = workload::connect(pki, server.addr, None, LOOKUP_CONNECTIONS).await?;
        resolve_measured(&channels, &sample, sizes).await
    };
    report::line(
        "floor B: tonic + PK SELECT",
        "calls",
        &floor_b,
        Some(("floor A", floor_a.rate())),
    );
    let resolve = resolve_measured(&anonymous, &sample, sizes).await;
    let resolve_name = format!("2. resolve @ {}", count(sizes.registry));
    report::line(
        &resolve_name,
        "calls",
        &resolve,
        Some(("floor B", floor_b.rate())),
    );
    targets.push(Target::new(
        "2. resolve throughput",
        format!(
            "{:.0}/s = {:.0}% of floor B ({:.0}/s)",
            resolve.rate(),
            100.0 * resolve.rate() / floor_b.rate(),
            floor_b.rate()
        ),
        ">= 50% of floor B",
        resolve.rate() >= 0.5 * floor_b.rate(),
    ));
    targets.push(Target::new(
        "2. resolve p99, 64 streams closed loop",
        format!("{:.2} ms", resolve.p99_ms()),
        "< 10 ms",
        resolve.p99_ms() < 10.0,
    ));
    // In a closed loop the mean latency is the streams over the
    // throughput (Little's law): 64 streams at 4,000/s wait 16 ms by
    // construction. At a fixed rate below saturation the latency is the
    // service's own.
    let paced_rate = 0.5 * floor_b.rate();
    let paced =
        workload::resolve_paced(&anonymous, Arc::clone(&sample), paced_rate, sizes.seconds).await;
    report::line(
        &format!("2. resolve @ {}, paced", count(sizes.registry)),
        "calls",
        &paced,
        Some(("floor B", floor_b.rate())),
    );
    targets.push(Target::new(
        "2. resolve p99 at half floor B's rate (open loop)",
        format!("{:.2} ms at {paced_rate:.0}/s", paced.p99_ms()),
        "< 10 ms",
        paced.p99_ms() < 10.0 && paced.errors == 0,
    ));

    targets.extend(web_card(web, pki, &sample, sizes).await?);

    // Writes: the scratch floor first, then the service, for each kind.
    let scratch = Scratch::create(&args.postgres_url).await?;
    let floor_single = floor::insert_single(&scratch.pool, EVENT_CALLERS, sizes.seconds).await?;
    report::line("floor C: single-row INSERT", "rows", &floor_single, None);
    let service_provider = workload::connect(
        pki,
        topology.addr(Service::Registry)?,
        Some("service-provider"),
        LOOKUP_CONNECTIONS,
    )
    .await?;
    let used = Arc::new(AtomicU64::new(0));
    workload::events(
        &service_provider,
        Arc::clone(&events_pool),
        Arc::clone(&used),
        EVENT_CALLERS,
        Until::Elapsed(sizes.warmup()),
    )
    .await;
    let events = workload::events(
        &service_provider,
        Arc::clone(&events_pool),
        used,
        EVENT_CALLERS,
        Until::Elapsed(sizes.seconds),
    )
    .await;
    report::line(
        "3. events (RecordEvent)",
        "calls",
        &events,
        Some(("floor C single", floor_single.rate())),
    );
    targets.push(Target::new(
        "3. events throughput",
        format!(
            "{:.0}/s = {:.0}% of floor C single ({:.0}/s)",
            events.rate(),
            100.0 * events.rate() / floor_single.rate(),
            floor_single.rate()
        ),
        ">= 50% of floor C single",
        events.rate() >= 0.5 * floor_single.rate(),
    ));

    let floor_batch =
        floor::insert_batches(&scratch.pool, BATCH_CALLERS, BATCH, sizes.seconds).await?;
    report::line("floor C: 1,000-row UNNEST", "robots", &floor_batch, None);
    scratch.drop().await?;
    let product_model = topology.approve_model(issued.model.as_str()).await?;
    let manufacturer = workload::connect(
        pki,
        topology.addr(Service::Issuance)?,
        Some("manufacturer"),
        BATCH_CALLERS,
    )
    .await?;
    let issuance = workload::issuance(
        &manufacturer,
        &registry_db,
        &product_model,
        &issued,
        BATCH_CALLERS,
        BATCH as i32,
        sizes.seconds,
    )
    .await?;
    report::line(
        "1. issuance (IssueRobotIds)",
        "robots",
        &issuance.calls,
        None,
    );
    println!(
        "{:<34} {:>10.0} robots/s reached the registry ({} robots in {:.1} s)  {:5.1}% of floor C batches",
        "",
        issuance.registered_rate(),
        issuance.robots,
        issuance.until_registered.as_secs_f64(),
        100.0 * issuance.registered_rate() / floor_batch.rate(),
    );
    targets.push(Target::new(
        "1. issuance, robots in the registry",
        format!(
            "{:.0}/s = {:.0}% of floor C batches ({:.0}/s)",
            issuance.registered_rate(),
            100.0 * issuance.registered_rate() / floor_batch.rate(),
            floor_batch.rate()
        ),
        ">= 25% of floor C batches",
        issuance.registered_rate() >= 0.25 * floor_batch.rate(),
    ));

    let customs = workload::connect(pki, topology.addr(Service::Transfer)?, Some("customs"), 1)
        .await?
        .remove(0);
    let clearance =
        workload::clearance(customs, export_pool, sizes.shipment, sizes.shipments).await;
    report::line("4. clearance (1,000 robots)", "robots", &clearance, None);
    targets.push(Target::new(
        "4. clearance p99, 1,000-robot shipments",
        format!(
            "{:.1} ms (p50 {:.1}, {} shipments)",
            clearance.p99_ms(),
            clearance.p50_ms(),
            clearance.calls
        ),
        "< 250 ms",
        clearance.p99_ms() < 250.0 && clearance.errors == 0,
    ));

    // 3. The large registry.
    let before = Instant::now();
    let seeded = seed::seed(
        &registry_db,
        &mut resolved,
        sizes.large - sizes.registry,
        Stage::Registered,
        sizes.stride,
    )
    .await?;
    lookup_sample.extend(seeded.kept);
    seed::settle(&registry_db).await?;
    say_seeded(clock, &registry_db, seeded.robots, before.elapsed()).await?;
    let sample = Arc::new(lookup_sample);
    let pace_large = measure_floor_a(pki, &sample, sizes).await?;
    report::line(
        "floor A, just before the next line",
        "calls",
        &pace_large,
        None,
    );
    let resolve_large = resolve_measured(&anonymous, &sample, sizes).await;
    report::line(
        &format!("5. resolve @ {}", count(sizes.large)),
        "calls",
        &resolve_large,
        None,
    );
    let growth = resolve_large.p50_ms() / resolve_small.p50_ms();
    targets.push(Target::new(
        format!(
            "5. resolve p50 @ {} vs @ {}",
            count(sizes.large),
            count(sizes.small)
        ),
        format!(
            "{:.2} ms vs {:.2} ms = {growth:.2}×",
            resolve_large.p50_ms(),
            resolve_small.p50_ms()
        ),
        "<= 1.5×",
        growth <= 1.5,
    ));
    // The same in units of the machine's speed at the time: each p50 over
    // the p50 of floor A measured just before it.
    let paced_growth = (resolve_large.p50_ms() / pace_large.p50_ms())
        / (resolve_small.p50_ms() / pace_small.p50_ms());
    targets.push(Target::new(
        "5. the same, each p50 over floor A's just before",
        format!(
            "{:.2}× vs {:.2}× = {paced_growth:.2}× (floor A p50 {:.2} ms, then {:.2} ms)",
            resolve_large.p50_ms() / pace_large.p50_ms(),
            resolve_small.p50_ms() / pace_small.p50_ms(),
            pace_small.p50_ms(),
            pace_large.p50_ms()
        ),
        "<= 1.5×",
        paced_growth <= 1.5,
    ));
    let storage = storage(&registry_db).await?;
    targets.push(Target::new(
        "5. storage per robot (robot + events + indexes)",
        format!("{:.0} bytes", storage),
        "< 1,024 bytes",
        storage < 1024.0,
    ));
    registry_db.close().await;
    Ok(targets)
}

/// Floor A: a bare tonic server in a child process answering `GetRobot`
/// with a fixed robot, over the same TLS and connections as the registry.
async fn measure_floor_a(
    pki: &Path,
    sample: &Arc<Vec<RobotId>>,
    sizes: &Sizes,
) -> anyhow::Result<Measurement> {
    let server = FloorProcess::start(FloorKind::Echo, pki, None, REGISTRY_CONNECTIONS)?;
    let channels = workload::connect(pki, server.addr, None, LOOKUP_CONNECTIONS).await?;
    Ok(resolve_measured(&channels, sample, sizes).await)
}

/// A warm-up, then the measured lookups.
/// Connections of the web card's load: as many as the lookups' streams.
const WEB_CONNECTIONS: usize = 64;

/// 2b. The public web card, JSON and HTML, next to floor W (bare axum, a
/// fixed page of the card's size) measured just before.
async fn web_card(
    web: std::net::SocketAddr,
    pki: &Path,
    sample: &Arc<Vec<RobotId>>,
    sizes: &Sizes,
) -> anyhow::Result<Vec<Target>> {
    let measured = |addr, accept: &'static str| {
        let sample = Arc::clone(sample);
        async move {
            let path = move |index: u64| {
                let robot = &sample[(crate::load::spread(index) % sample.len() as u64) as usize];
                format!("/r/{}", robot.as_str())
            };
            let path = Arc::new(path);
            let warm = Arc::clone(&path);
            crate::http::run(
                addr,
                WEB_CONNECTIONS,
                accept,
                move |i| warm(i),
                Until::Elapsed(sizes.warmup()),
            )
            .await?;
            crate::http::run(
                addr,
                WEB_CONNECTIONS,
                accept,
                move |i| path(i),
                Until::Elapsed(sizes.seconds),
            )
            .await
        }
    };
    let floor_w = {
        let server = FloorProcess::start(FloorKind::Page, pki, None, REGISTRY_CONNECTIONS)?;
        measured(server.addr, "text/html").await?
    };
    report::line("floor W: bare axum, fixed page", "pages", &floor_w, None);
    let mut targets = Vec::new();
    for (name, accept) in [("JSON", "application/json"), ("HTML", "text/html")] {
        let card = measured(web, accept).await?;
        report::line(
            &format!("2b. web card {name}, 64 connections"),
            "pages",
            &card,
            Some(("floor W", floor_w.rate())),
        );
        anyhow::ensure!(
            card.errors == 0,
            "the web card answered errors: {:?}",
            card.first_error
        );
        targets.push(Target::new(
            format!("2b. web card {name} throughput"),
            format!(
                "{:.0}/s = {:.0}% of floor W ({:.0}/s)",
                card.rate(),
                100.0 * card.rate() / floor_w.rate(),
                floor_w.rate()
            ),
            ">= 50% of floor W",
            card.rate() >= 0.5 * floor_w.rate(),
        ));
        targets.push(Target::new(
            format!("2b. web card {name} p99, 64 connections closed loop"),
            format!("{:.2} ms", card.p99_ms()),
            "< 10 ms",
            card.p99_ms() < 10.0,
        ));
    }
    Ok(targets)
}

async fn resolve_measured(
    channels: &[robotid_platform::client::RpcChannel],
    sample: &Arc<Vec<RobotId>>,
    sizes: &Sizes,
) -> Measurement {
    workload::resolve(
        channels,
        Arc::clone(sample),
        LOOKUP_STREAMS,
        Until::Elapsed(sizes.warmup()),
    )
    .await;
    workload::resolve(
        channels,
        Arc::clone(sample),
        LOOKUP_STREAMS,
        Until::Elapsed(sizes.seconds),
    )
    .await
}

async fn say_seeded(
    clock: &Clock,
    registry_db: &PgPool,
    robots: u64,
    took: Duration,
) -> anyhow::Result<()> {
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM robots")
        .fetch_one(registry_db)
        .await?;
    clock.say(format!(
        "seeded {} robots by COPY in {:.1} s ({:.0}/s, settled); the registry holds {}",
        count(robots),
        took.as_secs_f64(),
        robots as f64 / took.as_secs_f64().max(1e-9),
        count(total as u64)
    ));
    Ok(())
}

/// Bytes per robot of the registry: its row, its events and every index
/// of both tables, over the robots.
async fn storage(registry_db: &PgPool) -> anyhow::Result<f64> {
    let (robots_total, robots_heap, events_total, events_heap, robots, events): (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    ) = sqlx::query_as(
        "SELECT pg_total_relation_size('robots'), pg_relation_size('robots'), \
         pg_total_relation_size('events'), pg_relation_size('events'), \
         (SELECT count(*) FROM robots), (SELECT count(*) FROM events)",
    )
    .fetch_one(registry_db)
    .await?;
    let per_robot = (robots_total + events_total) as f64 / robots as f64;
    println!(
        "{:<34} {per_robot:.0} bytes/robot: robots {:.0} MiB (heap {:.0}, indexes {:.0}), \
         events {:.0} MiB (heap {:.0}, index {:.0}); {} robots, {} events",
        "5. storage",
        report::mib(robots_total as u64),
        report::mib(robots_heap as u64),
        report::mib((robots_total - robots_heap) as u64),
        report::mib(events_total as u64),
        report::mib(events_heap as u64),
        report::mib((events_total - events_heap) as u64),
        count(robots as u64),
        count(events as u64),
    );
    Ok(per_robot)
}

/// `1,000,000`.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A database with the registry's tables, for floor C; dropped at the end.
struct Scratch {
    pool: PgPool,
    server: String,
    name: String,
}

impl Scratch {
    async fn create(server: &str) -> anyhow::Result<Self> {
        let name = format!("robotid_bench_scratch_{}", std::process::id());
        let mut admin = PgConnection::connect(server).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        admin.close().await?;
        let url = with_database(server, &name);
        let pool = PgPoolOptions::new()
            .max_connections(EVENT_CALLERS as u32)
            .min_connections(EVENT_CALLERS as u32)
            .test_before_acquire(false)
            .connect(&url)
            .await?;
        robotid_registry::app::MIGRATIONS
            .postgres
            .run(&pool)
            .await
            .context("the registry's migrations on the scratch database")?;
        Ok(Self {
            pool,
            server: server.to_owned(),
            name,
        })
    }

    async fn drop(self) -> anyhow::Result<()> {
        self.pool.close().await;
        let mut admin = PgConnection::connect(&self.server).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .await?;
        admin.close().await?;
        Ok(())
    }
}

/// `server` with its database path replaced by `name`.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let mut url = format!("{}/{name}", &base[..host_end]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(10_000_000), "10,000,000");
    }

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h:5432?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
    }

    #[test]
    fn the_workloads_fit_in_the_registry() {
        for quick in [true, false] {
            let args = RunArgs {
                quick,
                postgres_url: String::new(),
                seconds: None,
                keep_files: false,
            };
            let sizes = Sizes::of(&args);
            let shipped = sizes.shipments * sizes.shipment as u64;
            assert!(sizes.small + sizes.events_pool + shipped < sizes.registry);
            assert!(sizes.registry < sizes.large);
        }
    }
}
