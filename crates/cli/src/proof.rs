//! `robotid proof`: a robot's proof bundle (c2sp.org/tlog-proof) — fetched
//! from its registry, and verified offline with nothing but a
//! c2sp.org/tlog-policy file (which log keys and witness keys to trust, and
//! which witnesses must have cosigned).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use robotid_proto::registry::v1 as pb;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use robotid_registry::log::leaf;
use robotid_tlog::{Policy, ProofBundle};

use crate::client::output;
use crate::client::{ClientArgs, Globals, connect};
use crate::endpoints::Service;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetches the proof bundle of a robot's newest event.
    Get(GetArgs),
    /// Verifies a proof bundle offline against a policy; exits 1 if it
    /// does not verify.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The identity code.
    robot_id: String,
    /// Where to write the bundle (`.tlog-proof`); default: standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle (`.tlog-proof`).
    file: PathBuf,
    /// The policy (c2sp.org/tlog-policy) to verify it against.
    #[arg(long)]
    policy: PathBuf,
}

pub async fn run(command: Command, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        Command::Get(args) => get(args, globals).await,
        Command::Verify(args) => verify(args, globals),
    }
}

async fn get(args: GetArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let mut registry =
        RegistryServiceClient::new(connect(globals, &args.client, Service::Registry).await?);
    let bundle = registry
        .get_proof_bundle(pb::GetProofBundleRequest {
            robot_id: args.robot_id.clone(),
        })
        .await?
        .into_inner();
    match &args.out {
        Some(path) => std::fs::write(path, &bundle.bundle)
            .with_context(|| format!("writing {}", path.display()))?,
        None if !globals.json => print!("{}", bundle.bundle),
        None => {}
    }
    if globals.json {
        output::print_json(&serde_json::json!({
            "robot_id": args.robot_id,
            "log_index": bundle.log_index,
            "tree_size": bundle.tree_size,
            "cosigned_by": bundle.cosigned_by,
            "bundle": bundle.bundle,
        }));
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(args: VerifyArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let read =
        |path: &PathBuf| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let policy = Policy::parse(&read(&args.policy)?).context("the policy does not parse")?;
    let bundle = ProofBundle::parse(&read(&args.file)?).context("not a proof bundle")?;
    // Robot ID puts the leaf's entry in the extra data: the inclusion proof
    // is what vouches for it.
    let entry = bundle
        .extra()
        .context("the bundle carries no entry (extra data) to check")?;
    let verdict = match bundle.verify(&robotid_tlog::leaf_hash(entry), &policy) {
        Ok(verdict) => verdict,
        Err(error) => {
            if globals.json {
                output::print_json(
                    &serde_json::json!({"verified": false, "problem": error.to_string()}),
                );
            } else {
                println!("NOT verified: {error}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let event = leaf::parse_event(entry);
    let checkpoint = bundle.checkpoint().checkpoint();
    if globals.json {
        output::print_json(&serde_json::json!({
            "verified": true,
            "log": checkpoint.origin(),
            "log_index": bundle.index(),
            "tree_size": checkpoint.size(),
            "cosigned_by": verdict.cosigned_by,
            "robot_id": event.as_ref().map(|e| e.robot_id.clone()),
            "sequence": event.as_ref().map(|e| e.sequence),
            "event_type": event.as_ref().map(|e| e.event_type.clone()),
            "event_hash": event.as_ref().map(|e| e.chain_hash.to_hex()),
        }));
    } else {
        println!(
            "verified: leaf {} of {} (tree of {}), cosigned by {}",
            bundle.index(),
            checkpoint.origin(),
            checkpoint.size(),
            if verdict.cosigned_by.is_empty() {
                "no witness".to_owned()
            } else {
                verdict.cosigned_by.join(", ")
            }
        );
        if let Some(event) = event {
            println!(
                "  event {} of {}: {} (hash {})",
                event.sequence,
                event.robot_id,
                event.event_type,
                event.chain_hash.to_hex()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
