//! `robotid`: the Robot ID command line. One module per command group.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod credential;
mod pki;
mod time;

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
        default_value = "robotid-dev",
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
    /// Makes the development PKI: a CA and one certificate per role and
    /// service.
    Pki(pki::PkiArgs),
    /// Signed ID credentials: verify one offline, make a signing key.
    #[command(subcommand)]
    Credential(credential::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Pki(args) => pki::run(args, &cli.data_dir, cli.json),
        Command::Credential(command) => credential::run(command, cli.json),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("robotid: {error:#}");
            ExitCode::FAILURE
        }
    }
}
