//! `robotid recall create|list|get`: recalls of a product model, or of
//! listed robots of it (the regulator, or the manufacturer for its own
//! models).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use robotid_proto::registry::v1 as pb;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;

use crate::client::output::{self, lines};
use crate::client::{ClientArgs, Globals, RequestIdArg, connect};
use crate::endpoints::Service;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Opens a recall on a model (every robot of it) or on listed robots,
    /// and holds them: none is sold, transferred or exported until it is
    /// remedied (`robotid record ID recall-remedied --recall recalls/N`).
    Create(CreateArgs),
    /// Lists recalls, newest first.
    List(ListArgs),
    /// Shows one recall, with the robots it listed.
    Get(GetArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    request_id: RequestIdArg,
    /// The product model's code.
    #[arg(long)]
    model: String,
    /// The manufacturer code.
    #[arg(long, default_value = "0001")]
    manufacturer: String,
    /// The country of the model's codes; default: the registry's own (the
    /// regulator may recall imported robots of a foreign model).
    #[arg(long)]
    country: Option<String>,
    /// Why: shown on every recalled robot's public card.
    #[arg(long)]
    reason: String,
    /// Recall only this robot of the model (repeat for several); default:
    /// every robot of it.
    #[arg(long = "robot", value_name = "ROBOT_ID")]
    robots: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Only recalls of robots of this country.
    #[arg(long)]
    country: Option<String>,
    /// Only recalls of this manufacturer.
    #[arg(long)]
    manufacturer: Option<String>,
    /// Only recalls of this model (with --manufacturer).
    #[arg(long, requires = "manufacturer")]
    model: Option<String>,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The recall, `recalls/N` (or `N`).
    name: String,
}

pub async fn run(command: Command, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        Command::Create(args) => create(args, globals).await,
        Command::List(args) => list(args, globals).await,
        Command::Get(args) => get(args, globals).await,
    }
}

async fn create(args: CreateArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let request_id = args.request_id.get()?;
    let mut registry =
        RegistryServiceClient::new(connect(globals, &args.client, Service::Registry).await?);
    let recall = registry
        .create_recall(pb::CreateRecallRequest {
            request_id: request_id.clone(),
            manufacturer_code: args.manufacturer,
            model_code: args.model,
            robot_ids: args.robots,
            reason: args.reason,
            country_code: args.country.unwrap_or_default(),
        })
        .await?
        .into_inner();
    if globals.json {
        let mut value = recall_json(&recall);
        value["request_id"] = request_id.into();
        output::print_json(&value);
    } else {
        print!("{}", recall_text(&recall));
    }
    Ok(ExitCode::SUCCESS)
}

/// Every page.
async fn list(args: ListArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let mut registry =
        RegistryServiceClient::new(connect(globals, &args.client, Service::Registry).await?);
    let mut request = pb::ListRecallsRequest {
        page_size: 100,
        page_token: String::new(),
        country_code: args.country.unwrap_or_default(),
        manufacturer_code: args.manufacturer.unwrap_or_default(),
        model_code: args.model.unwrap_or_default(),
    };
    let mut recalls = Vec::new();
    loop {
        let page = registry.list_recalls(request.clone()).await?.into_inner();
        recalls.extend(page.recalls);
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    if globals.json {
        output::print_json(&serde_json::json!({
            "recalls": recalls.iter().map(recall_json).collect::<Vec<_>>(),
        }));
    } else if recalls.is_empty() {
        println!("no recalls");
    } else {
        for recall in &recalls {
            println!("{}", recall_line(recall));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn get(args: GetArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let name = if args.name.contains('/') {
        args.name
    } else {
        format!("recalls/{}", args.name)
    };
    let mut registry =
        RegistryServiceClient::new(connect(globals, &args.client, Service::Registry).await?);
    let recall = registry
        .get_recall(pb::GetRecallRequest { name })
        .await?
        .into_inner();
    if globals.json {
        output::print_json(&recall_json(&recall));
    } else {
        print!("{}", recall_text(&recall));
    }
    Ok(ExitCode::SUCCESS)
}

fn model_of(recall: &pb::Recall) -> String {
    format!(
        "{}-{}-{}",
        recall.country_code, recall.manufacturer_code, recall.model_code
    )
}

/// Which robots: the whole model, or how many were listed.
fn scope_of(recall: &pb::Recall) -> String {
    match recall.listed_robot_count {
        0 => "every robot of the model".into(),
        1 => "1 listed robot".into(),
        n => format!("{n} listed robots"),
    }
}

fn recall_json(recall: &pb::Recall) -> serde_json::Value {
    serde_json::json!({
        "name": recall.name,
        "country_code": recall.country_code,
        "manufacturer_code": recall.manufacturer_code,
        "model_code": recall.model_code,
        "reason": recall.reason,
        "listed_robot_count": recall.listed_robot_count,
        "robot_ids": recall.robot_ids,
        "affected_robot_count": recall.affected_robot_count,
        "skipped_robot_count": recall.skipped_robot_count,
        "create_time": output::time(&recall.create_time),
    })
}

fn recall_text(recall: &pb::Recall) -> String {
    let mut rows = vec![
        ("recall", recall.name.clone()),
        ("model", model_of(recall)),
        ("reason", recall.reason.clone()),
        ("of", scope_of(recall)),
        (
            "holds",
            format!(
                "{} robots ({} skipped: decommissioned or recycled)",
                recall.affected_robot_count, recall.skipped_robot_count
            ),
        ),
        ("created", output::time_text(&recall.create_time)),
    ];
    if !recall.robot_ids.is_empty() {
        rows.push(("robots", recall.robot_ids.join(" ")));
    }
    lines(&rows)
}

fn recall_line(recall: &pb::Recall) -> String {
    format!(
        "{:<12} {}  {}  {}, holds {} (skipped {})  {}",
        recall.name,
        output::time_text(&recall.create_time),
        model_of(recall),
        scope_of(recall),
        recall.affected_robot_count,
        recall.skipped_robot_count,
        recall.reason,
    )
}
