//! `robotid issue`: identity codes for robots of an approved model, each
//! with its signed credential.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use robotid_domain::code::RobotId;
use robotid_proto::common::v1 as common;
use robotid_proto::issuance::v1 as pb;
use robotid_proto::issuance::v1::issuance_service_client::IssuanceServiceClient;
use robotid_proto::registry::v1 as registry;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;

use crate::client::output::{self, lines};
use crate::client::{ClientArgs, Globals, RequestIdArg, connect};
use crate::endpoints::Service;

/// How long `issue` waits for the registry to know the issued robots.
const REGISTRATION_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub struct IssueArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    request_id: RequestIdArg,
    /// The approved product model: its code (`HX0001`, of --manufacturer)
    /// or its name (`manufacturers/0001/productModels/HX0001`).
    #[arg(long)]
    model: String,
    /// The manufacturer code, when --model is a bare code.
    #[arg(long, default_value = "0001")]
    manufacturer: String,
    /// How many robots (1 to 10,000).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=10_000))]
    count: i32,
    /// The factory or line that built them (recorded with today's date).
    #[arg(long)]
    factory: Option<String>,
    /// Write each credential to DIR/<ROBOT_ID>.cose (raw COSE_Sign1), as
    /// `robotid clearance import` and `robotid credential verify` read it.
    #[arg(long, value_name = "DIR")]
    credentials_dir: Option<PathBuf>,
    /// Print the issued codes only, one a line (for shell scripts).
    #[arg(long, short)]
    quiet: bool,
    /// Return at once instead of waiting until the registry knows the
    /// robots (issuance delivers them in the background).
    #[arg(long)]
    no_wait: bool,
}

pub async fn run(args: IssueArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let product_model = if args.model.contains('/') {
        args.model.clone()
    } else {
        format!(
            "manufacturers/{}/productModels/{}",
            args.manufacturer, args.model
        )
    };
    let request_id = args.request_id.get()?;
    let production = args.factory.as_ref().map(|factory| common::Production {
        production_time: Some(now()),
        factory: factory.clone(),
    });
    let mut issuance =
        IssuanceServiceClient::new(connect(globals, &args.client, Service::Issuance).await?);
    let issued = issuance
        .issue_robot_ids(pb::IssueRobotIdsRequest {
            request_id: request_id.clone(),
            product_model: product_model.clone(),
            count: args.count,
            production,
        })
        .await?
        .into_inner();
    let mut files = Vec::new();
    if let Some(dir) = &args.credentials_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for robot in &issued.robots {
            let path = credential_path(dir, &robot.robot_id);
            std::fs::write(&path, &robot.credential)
                .with_context(|| format!("writing {}", path.display()))?;
            files.push(path);
        }
    }
    if globals.json {
        output::print_json(&issued_json(&issued, &request_id, &product_model, &files));
    } else if args.quiet {
        for robot in &issued.robots {
            println!("{}", robot.robot_id);
        }
    } else {
        print!("{}", issued_text(&issued, &product_model, &files));
    }
    if !args.no_wait
        && let Some(last) = issued.robots.last()
    {
        wait_until_registered(globals, &args.client, &last.robot_id).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `DIR/<ROBOT_ID>.cose`: where `issue` writes a credential and `clearance
/// import` looks for it.
pub fn credential_path(dir: &Path, robot_id: &str) -> PathBuf {
    dir.join(format!("{robot_id}.cose"))
}

/// Until the registry resolves `robot_id` (robots are delivered in the
/// order issued, so the last one known means all are): the next command
/// can then record events on them.
async fn wait_until_registered(
    globals: &Globals,
    client: &ClientArgs,
    robot_id: &str,
) -> anyhow::Result<()> {
    let channel = connect(globals, &client.anonymous_default(), Service::Registry).await?;
    let mut registry = RegistryServiceClient::new(channel);
    let started = Instant::now();
    loop {
        let answer = registry
            .get_robot(registry::GetRobotRequest {
                robot_id: robot_id.to_owned(),
                view: registry::RobotView::Public.into(),
            })
            .await;
        match answer {
            Ok(_) => return Ok(()),
            Err(status)
                if status.code() == tonic::Code::NotFound
                    && started.elapsed() < REGISTRATION_WAIT =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => {
                eprintln!(
                    "robotid: issued, but the registry does not know {robot_id} yet \
                     (issuance keeps delivering it): {}",
                    status.message()
                );
                return Ok(());
            }
        }
    }
}

fn now() -> prost_types::Timestamp {
    let (seconds, nanos) = robotid_domain::time::Timestamp::now().to_parts();
    prost_types::Timestamp { seconds, nanos }
}

fn display(robot_id: &str) -> String {
    RobotId::parse(robot_id)
        .map(|id| id.display())
        .unwrap_or_else(|_| robot_id.to_owned())
}

fn issued_json(
    issued: &pb::IssueRobotIdsResponse,
    request_id: &str,
    product_model: &str,
    files: &[PathBuf],
) -> serde_json::Value {
    serde_json::json!({
        "request_id": request_id,
        "product_model": product_model,
        "issue_time": output::time(&issued.issue_time),
        "robots": issued.robots.iter().enumerate().map(|(i, robot)| serde_json::json!({
            "robot_id": robot.robot_id,
            "display_id": display(&robot.robot_id),
            "credential_hex": hex::encode(&robot.credential),
            "credential_file": files.get(i),
        })).collect::<Vec<_>>(),
    })
}

fn issued_text(
    issued: &pb::IssueRobotIdsResponse,
    product_model: &str,
    files: &[PathBuf],
) -> String {
    let mut out = lines(&[
        (
            "issued",
            format!("{} robot ID(s) of {product_model}", issued.robots.len()),
        ),
        ("at", output::time_text(&issued.issue_time)),
    ]);
    for (i, robot) in issued.robots.iter().enumerate() {
        let credential = match files.get(i) {
            Some(path) => format!("credential {}", path.display()),
            None => format!("credential {} bytes", robot.credential.len()),
        };
        out.push_str(&format!(
            "  {}  {}  {credential}\n",
            robot.robot_id,
            display(&robot.robot_id)
        ));
    }
    out
}
