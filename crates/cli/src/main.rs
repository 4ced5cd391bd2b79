//! `robotid`: the Robot ID command line. One module per command group.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod access_log;
mod catalog;
mod clearance;
mod client;
mod credential;
mod dev;
mod endpoints;
mod events;
mod health;
mod issue;
mod label;
mod log;
mod pki;
mod proof;
mod recall;
mod resolve;
mod seed;
mod time;
mod trust;

/// Where `robotid dev` keeps its files unless told otherwise.
pub const DEFAULT_DATA_DIR: &str = "robotid-dev";

/// robotid: the Robot ID command line.
#[derive(Debug, Parser)]
#[command(name = "robotid", version)]
struct Cli {
    /// Where `robotid dev` keeps its files (databases, keys, the PKI under
    /// pki/) and where the client commands find its certificates and
    /// addresses.
    #[arg(
        long,
        env = "ROBOTID_DATA_DIR",
        default_value = DEFAULT_DATA_DIR,
        global = true
    )]
    data_dir: PathBuf,
    /// Print JSON (one value per line) for scripts instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the whole suite in this process, with a peer country's beside
    /// it, bootstrapped for a demo.
    Dev(dev::DevArgs),
    /// Makes the development PKI: a CA and one certificate per role and
    /// service.
    Pki(pki::PkiArgs),
    /// Issues identity codes for robots of an approved model (manufacturer).
    Issue(issue::IssueArgs),
    /// Shows a robot: its public card, or with --full its whole record.
    Resolve(resolve::ResolveArgs),
    /// Records an event in a robot's history.
    Record(events::RecordArgs),
    /// Lists a robot's history, oldest first.
    History(events::HistoryArgs),
    /// Recomputes a robot's hash chain; exits non-zero when it is broken.
    VerifyHistory(events::VerifyHistoryArgs),
    /// Manufacturers: admit one (regulator), show them.
    #[command(subcommand)]
    Manufacturer(catalog::ManufacturerCommand),
    /// Product models: declare, approve (regulator), show them.
    #[command(subcommand)]
    Model(catalog::ModelCommand),
    /// The registry's access log: list, verify (regulator).
    #[command(subcommand)]
    AccessLog(access_log::Command),
    /// Admits the demo manufacturer 0001 and approves its model HX0001, as
    /// `robotid dev` does at start (for another deployment; --as regulator).
    Seed(seed::SeedArgs),
    /// Customs clearance: export, import, status, departure, arrival.
    #[command(subcommand)]
    Clearance(clearance::Command),
    /// The trust list of foreign registries.
    #[command(subcommand)]
    Trust(trust::Command),
    /// Recalls: open one on a model or listed robots, list them, show one.
    #[command(subcommand)]
    Recall(recall::Command),
    /// Asks a service's gRPC health; exits 0 only when it serves.
    Health(health::HealthArgs),
    /// Signed ID credentials: verify one offline, make a signing key.
    #[command(subcommand)]
    Credential(credential::Command),
    /// Draws a robot's label: the QR code of its public card's URL (and
    /// optionally its signed credential), with the code underneath, for a
    /// 25 mm label (SVG or PNG).
    Label(label::LabelArgs),
    /// The registry's transparency log: its checkpoint, an audit of the
    /// whole log, the inclusion proof of a robot's newest event.
    #[command(subcommand)]
    Log(log::Command),
    /// Proof bundles (c2sp.org/tlog-proof): fetch a robot's, verify one
    /// offline against a policy.
    #[command(subcommand)]
    Proof(proof::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let globals = client::Globals {
        data_dir: cli.data_dir,
        json: cli.json,
    };
    let result = runtime().and_then(|runtime| runtime.block_on(run(cli.command, &globals)));
    match result {
        Ok(code) => code,
        Err(error) => {
            client::failure::report(&error, globals.json);
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

async fn run(command: Command, globals: &client::Globals) -> anyhow::Result<ExitCode> {
    match command {
        Command::Dev(args) => dev::run(args, &globals.data_dir).await,
        Command::Issue(args) => issue::run(args, globals).await,
        Command::Log(command) => log::run(command, globals).await,
        Command::Proof(command) => proof::run(command, globals).await,
        Command::Resolve(args) => resolve::run(args, globals).await,
        Command::Record(args) => events::record(args, globals).await,
        Command::History(args) => events::history(args, globals).await,
        Command::VerifyHistory(args) => events::verify_history(args, globals).await,
        Command::Manufacturer(command) => catalog::run_manufacturer(command, globals).await,
        Command::Model(command) => catalog::run_model(command, globals).await,
        Command::AccessLog(command) => access_log::run(command, globals).await,
        Command::Seed(args) => seed::run(args, globals).await,
        Command::Clearance(command) => clearance::run(command, globals).await,
        Command::Trust(command) => trust::run(command, globals).await,
        Command::Recall(command) => recall::run(command, globals).await,
        Command::Health(args) => health::run(args, globals).await,
        Command::Credential(command) => credential::run(command, globals.json),
        Command::Label(args) => label::run(args, globals),
        Command::Pki(args) => pki::run(args, &globals.data_dir, globals.json),
    }
}
