//! `robotid`: the Robot ID command line. One module per command group.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod credential;
mod time;

/// robotid: the Robot ID command line.
#[derive(Debug, Parser)]
#[command(name = "robotid", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Signed ID credentials: verify one offline, make a signing key.
    #[command(subcommand)]
    Credential(credential::Command),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Credential(command) => credential::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("robotid: {error:#}");
            ExitCode::FAILURE
        }
    }
}
