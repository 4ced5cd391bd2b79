//! robotid-faults: the services as separate processes on PostgreSQL
//! (see `robotid-topology`), broken on purpose, with what must still hold
//! checked after each fault. Prints what it did and measured; exits
//! non-zero if any invariant was violated.
//!
//! - crashes: kill -9 of issuance and the registry, alternately, under
//!   issuance load; every acknowledged robot is then in both databases
//!   exactly once, no serial twice, every history verifies, the outbox
//!   drains.
//! - log crashes: kill -9 of the registry ten times under event load;
//!   every checkpoint before a kill is consistent with every one after, no
//!   leaf lost, duplicated or reordered, every event answered OK in the
//!   log at its index, every history verifies.
//! - database: a private PostgreSQL stopped and started under load; calls
//!   meanwhile fail UNAVAILABLE, never INTERNAL; the services reconnect by
//!   themselves; nothing acknowledged is lost.
//! - overload: ten times the sustainable rate; the excess is shed quickly,
//!   memory stays bounded, throughput comes back.
//! - bad input: garbage as every RPC's request; every call answered, every
//!   service still SERVING; and the code parser under cargo fuzz.
//!
//! The short form (default) runs in CI; `--long` is the documented long
//! form. Build the service binaries first (`cargo build -p
//! robotid-issuance -p robotid-registry -p robotid-transfer`).
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

mod bad_input;
mod checks;
mod crashes;
mod database;
mod fuzz;
mod load;
mod log_crashes;
mod memory;
mod overload;
mod report;
mod tally;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use robotid_topology::postgres::{PrivatePostgres, StopMode};
use robotid_topology::{Options, Service, Topology};

use crate::report::Report;

/// Fault tests of the Robot ID services (kill -9, database restarts,
/// overload, garbage input).
#[derive(Debug, Parser)]
#[command(name = "robotid-faults")]
struct Args {
    /// The long form: 20 kills, three database outages, longer overload,
    /// more garbage, and 10 minutes of cargo fuzz.
    #[arg(long)]
    long: bool,

    /// Only these scenarios (crashes, log-crashes, database, overload,
    /// bad-input, fuzz).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,

    /// The directory holding the service binaries (default: next to this
    /// one, or target/<profile>).
    #[arg(long)]
    binaries: Option<PathBuf>,

    /// PostgreSQL server to make the services' databases on (all but the
    /// database scenario, which runs a server of its own).
    #[arg(
        long,
        env = "TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,

    /// Seconds of cargo fuzz (default: 600 in the long form, none in the
    /// short form).
    #[arg(long)]
    fuzz_seconds: Option<u64>,

    /// Seed of the garbage (default: from the clock; printed).
    #[arg(long)]
    seed: Option<u64>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let started = Instant::now();
    let form = if args.long { "long" } else { "short" };
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    println!(
        "robotid-faults, {form} form, on {} cores; services' databases on {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.postgres_url
    );
    let base = || {
        let options = Options::new(args.postgres_url.clone());
        match &args.binaries {
            Some(dir) => options.binaries(dir),
            None => options,
        }
    };
    let mut finished = Vec::new();

    if wanted("crashes") {
        let settings = crashes::Settings {
            kills: if args.long { 20 } else { 4 },
            callers: 4,
            batch: 20,
            between_kills: Duration::from_millis(if args.long { 3_000 } else { 1_500 }),
        };
        let mut report = Report::new("crashes: kill -9 under issuance load");
        with_topology(&mut report, crashes::options(base()), async |t, r| {
            crashes::exercise(t, &settings, r).await
        })
        .await;
        finished.push(report.finish());
    }

    if wanted("log-crashes") {
        let settings = log_crashes::Settings {
            kills: 10,
            callers: 4,
            robots: 64,
            between_kills: Duration::from_millis(if args.long { 3_000 } else { 700 }),
        };
        let mut report = Report::new("log crashes: kill -9 of the registry under event load");
        with_topology(&mut report, log_crashes::options(base()), async |t, r| {
            log_crashes::exercise(t, &settings, r).await
        })
        .await;
        finished.push(report.finish());
    }
    if wanted("database") {
        let settings = database::Settings {
            outages: if args.long {
                vec![
                    (StopMode::Fast, Duration::from_secs(3)),
                    (StopMode::Immediate, Duration::from_secs(5)),
                    (StopMode::Fast, Duration::from_secs(12)),
                ]
            } else {
                vec![(StopMode::Fast, Duration::from_secs(3))]
            },
            callers: 4,
            readers: 2,
            batch: 20,
            between: Duration::from_secs(if args.long { 4 } else { 2 }),
        };
        let mut report = Report::new("database restart under load");
        match PrivatePostgres::start() {
            Err(error) => report.violation(format!("no private PostgreSQL: {error:#}")),
            Ok(mut postgres) => {
                let options = crashes::options(Options {
                    postgres_url: postgres.url(),
                    ..base()
                });
                with_topology(&mut report, options, async |t, r| {
                    database::exercise(t, &postgres, &settings, r).await
                })
                .await;
                if report.failed() {
                    let kept = postgres.keep_files().display().to_string();
                    report.line(format!("PostgreSQL's data and log kept in {kept}"));
                }
            }
        }
        finished.push(report.finish());
    }

    if wanted("overload") {
        let settings = overload::Settings {
            batch: 100,
            callers: 8,
            measure: Duration::from_secs(if args.long { 15 } else { 5 }),
            overload: Duration::from_secs(if args.long { 30 } else { 8 }),
            factor: 10.0,
            shed_within: Duration::from_millis(500),
            ok_within: Duration::from_secs(1),
            // On a machine other jobs share: well short of the 30 s
            // request timeout.
            answer_within: Duration::from_secs(10),
            memory_limit: 150 * 1024 * 1024,
        };
        let mut report = Report::new("overload at ten times the sustainable rate");
        let options = base().services(&[Service::Registry, Service::Issuance]);
        with_topology(&mut report, options, async |t, r| {
            overload::exercise(t, &settings, r).await
        })
        .await;
        finished.push(report.finish());
    }

    if wanted("bad-input") {
        let settings = bad_input::Settings {
            per_kind: if args.long { 64 } else { 8 },
            seed: args.seed.unwrap_or_else(clock_seed),
        };
        let mut report = Report::new("bad input to every RPC");
        // The garbage comes from four identities at full speed: lift the
        // per-identity rate limit so that every payload reaches a decoder.
        let options = base().setting("ROBOTID_RATE_LIMIT", 1_000_000);
        with_topology(&mut report, options, async |t, r| {
            bad_input::exercise(t, &settings, r).await
        })
        .await;
        finished.push(report.finish());
    }

    if wanted("fuzz") {
        let seconds = args.fuzz_seconds.or(args.long.then_some(600));
        let mut report = Report::new("cargo fuzz of the identity-code parser");
        match seconds {
            Some(seconds) => {
                if let Err(error) = fuzz::run(seconds, &mut report) {
                    report.violation(format!("{error:#}"));
                }
            }
            None => report.skip(
                "skipped in the short form (--long fuzzes 10 minutes; --fuzz-seconds N, or fuzz/run.sh N)",
            ),
        }
        finished.push(report.finish());
    }

    println!(
        "\n== summary ({form} form, {:.0} s)",
        started.elapsed().as_secs_f64()
    );
    let mut violations = 0;
    for scenario in &finished {
        violations += scenario.violations.len();
        let verdict = if scenario.skipped {
            "skipped".to_owned()
        } else if scenario.violations.is_empty() {
            "passed".to_owned()
        } else {
            let first: String = scenario.violations[0].chars().take(160).collect();
            format!(
                "FAILED ({} violations; first: {first})",
                scenario.violations.len()
            )
        };
        println!(
            "   {:<45} {:>5.0} s  {verdict}",
            scenario.name,
            scenario.took.as_secs_f64()
        );
    }
    if violations == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// Starts the services, runs `exercise`, and stops them with SIGTERM
/// (which must end each with exit 0); on a violation keeps their logs.
async fn with_topology(
    report: &mut Report,
    options: Options,
    exercise: impl AsyncFnOnce(&mut Topology, &mut Report) -> anyhow::Result<()>,
) {
    let mut topology = match Topology::start(options).await {
        Ok(topology) => topology,
        Err(error) => {
            report.violation(format!("the services did not start: {error:#}"));
            return;
        }
    };
    if let Err(error) = exercise(&mut topology, report).await {
        report.violation(format!("{error:#}"));
    }
    if report.failed() {
        topology.keep_files();
        report.line(format!(
            "services' logs kept in {}",
            topology.dir().join("logs").display()
        ));
    } else if let Err(error) = topology.shutdown().await {
        report.violation(format!("stopping with SIGTERM: {error:#}"));
    }
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}
