//! robotid-bench: the Robot ID services, run as separate processes on
//! PostgreSQL over mutual TLS, measured next to the floors of this machine
//! in the same run. See BENCHMARKS.md at the repository root.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

use std::path::PathBuf;

use clap::Parser;
use robotid_bench::{floor, holds, log, report, run, serve};

/// Benchmarks of the Robot ID services against the floors of this machine.
///
/// Without a subcommand: starts the three services (release binaries next
/// to this one) on fresh PostgreSQL databases, seeds the registry, runs the
/// floors and every workload and prints the figures.
#[derive(Debug, Parser)]
#[command(name = "robotid-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    run: run::RunArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Serve a floor (A or B); the benchmark starts it as a child process.
    #[command(hide = true)]
    ServeFloor(floor::ServeFloorArgs),
    /// Start the services with a seeded registry and leave them running for
    /// standard load tools (h2load, Python grpcio) until Ctrl-C.
    Serve(serve::ServeArgs),
    /// The transparency log: events with and without it in turns, the
    /// integration delay, tile fetches (BENCHMARKS.md, issue 13).
    Log(log::LogArgs),
    /// Holds that cross borders: how long a theft report takes to reach
    /// the other registry, each way (BENCHMARKS.md, issue 14).
    Holds(holds::HoldsArgs),
    /// Write the body of one GetRobot call (the 5-byte gRPC prefix and the
    /// message) for `h2load -d FILE`.
    H2loadBody {
        /// The robot to ask for.
        #[arg(long)]
        robot_id: String,
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Some(Command::ServeFloor(args)) => runtime.block_on(floor::serve(args)),
        Some(Command::Serve(args)) => runtime.block_on(serve::serve(args)),
        Some(Command::Log(args)) => runtime.block_on(log::run(args)),
        Some(Command::Holds(args)) => runtime.block_on(holds::run(args)),
        Some(Command::H2loadBody { robot_id, out }) => {
            std::fs::write(&out, report::get_robot_body(&robot_id))?;
            println!("wrote {}", out.display());
            Ok(())
        }
        None => runtime.block_on(run::run(cli.run)),
    }
}
