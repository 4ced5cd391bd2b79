//! `robotid access-log`: who read full records and who changed what, newest
//! first, and whether the log's hash chains are intact (regulator).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use robotid_proto::registry::v1 as pb;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;

use crate::client::output::{self, lines};
use crate::client::{ClientArgs, Globals, connect};
use crate::endpoints::Service;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lists entries, newest first.
    List(ListArgs),
    /// Recomputes the log's hash chains; exits non-zero when one is broken.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Only the entries about this robot.
    #[arg(long)]
    robot: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    limit: u32,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    client: ClientArgs,
}

pub async fn run(command: Command, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        Command::List(args) => list(args, globals).await,
        Command::Verify(args) => verify(args, globals).await,
    }
}

async fn list(args: ListArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let mut registry =
        RegistryServiceClient::new(connect(globals, &args.client, Service::Registry).await?);
    let limit = args.limit as usize;
    let mut request = pb::ListAccessLogRequest {
        page_size: limit.min(1_000) as i32,
        page_token: String::new(),
        robot_id: args.robot.unwrap_or_default(),
    };
    let mut entries = Vec::new();
    while entries.len() < limit {
        let page = registry
            .list_access_log(request.clone())
            .await?
            .into_inner();
        entries.extend(page.entries);
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    entries.truncate(limit);
    if globals.json {
        output::print_json(&serde_json::json!({
            "entries": entries.iter().map(|entry| serde_json::json!({
                "shard": entry.shard,
                "sequence": entry.sequence,
                "access_time": output::time(&entry.access_time),
                "caller": entry.caller,
                "action": entry.action,
                "robot_id": entry.robot_id,
                "outcome": entry.outcome,
                "hash": entry.hash,
            })).collect::<Vec<_>>(),
        }));
    } else {
        for entry in &entries {
            println!(
                "{}  {}  {}{}  {}",
                output::time_text(&entry.access_time),
                entry.caller,
                entry.action,
                if entry.robot_id.is_empty() {
                    String::new()
                } else {
                    format!(" {}", entry.robot_id)
                },
                entry.outcome
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify(args: VerifyArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let mut registry =
        RegistryServiceClient::new(connect(globals, &args.client, Service::Registry).await?);
    let verdict = registry
        .verify_access_log(pb::VerifyAccessLogRequest {})
        .await?
        .into_inner();
    if globals.json {
        output::print_json(&serde_json::json!({
            "intact": verdict.intact,
            "entry_count": verdict.entry_count,
            "broken_shard": verdict.broken_shard,
            "broken_sequence": verdict.broken_sequence,
            "problem": verdict.problem,
        }));
    } else if verdict.intact {
        print!(
            "{}",
            lines(&[
                ("access log", "intact".to_owned()),
                ("entries", verdict.entry_count.to_string()),
            ])
        );
    } else {
        print!(
            "{}",
            lines(&[
                ("access log", "BROKEN".to_owned()),
                (
                    "first break",
                    format!(
                        "shard {} entry {}",
                        verdict.broken_shard, verdict.broken_sequence
                    )
                ),
                ("problem", verdict.problem.clone()),
            ])
        );
    }
    Ok(if verdict.intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
