//! `robotid resolve`: a robot's public card, or its full record for a role
//! allowed to see it.

use std::process::ExitCode;

use clap::Args;
use robotid_proto::registry::v1 as pb;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;

use crate::client::output::{self, lines};
use crate::client::{ClientArgs, Globals, connect};
use crate::endpoints::Service;

#[derive(Debug, Args)]
pub struct ResolveArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The identity code, in any case, with or without separators.
    robot_id: String,
    /// The full record (holder, history head, jurisdiction…): needs a role
    /// allowed to see it, e.g. `--as regulator`. Default: the public card.
    #[arg(long)]
    full: bool,
}

pub async fn run(args: ResolveArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let view = if args.full {
        pb::RobotView::Full
    } else {
        pb::RobotView::Public
    };
    let mut registry =
        RegistryServiceClient::new(connect(globals, &args.client, Service::Registry).await?);
    let robot = registry
        .get_robot(pb::GetRobotRequest {
            robot_id: args.robot_id,
            view: view.into(),
        })
        .await?
        .into_inner();
    if globals.json {
        output::print_json(&robot_json(&robot));
    } else {
        print!("{}", robot_text(&robot));
    }
    Ok(ExitCode::SUCCESS)
}

fn is_full(robot: &pb::Robot) -> bool {
    robot.view() == pb::RobotView::Full
}

pub fn robot_json(robot: &pb::Robot) -> serde_json::Value {
    let production = robot.production.as_ref();
    let mut value = serde_json::json!({
        "robot_id": robot.robot_id,
        "display_id": robot.display_id,
        "country_code": robot.country_code,
        "manufacturer_code": robot.manufacturer_code,
        "manufacturer_name": robot.manufacturer_name,
        "model_code": robot.model_code,
        "model_name": robot.model_name,
        "serial": robot.serial,
        "status": output::status(robot.status),
        "stolen": robot.stolen,
        "recalled": robot.recalled,
        "open_recall": robot.open_recall,
        "open_recalls": robot.open_recalls.iter().map(|recall| serde_json::json!({
            "name": recall.name,
            "reason": recall.reason,
            "create_time": output::time(&recall.create_time),
        })).collect::<Vec<_>>(),
        "jurisdiction": output::jurisdiction(robot.jurisdiction),
        "origin_country": robot.origin_country,
        "production_time": production.and_then(|p| output::time(&p.production_time)),
        "view": if is_full(robot) { "FULL" } else { "PUBLIC" },
        "tier": output::enum_name(robot.tier().as_str_name(), "ACCESS_TIER_"),
    });
    if is_full(robot) {
        let full = serde_json::json!({
            "factory": production.map(|p| p.factory.clone()),
            "holder": output::holder_json(&robot.holder),
            "event_count": robot.event_count,
            "head_hash": robot.head_hash,
            "register_time": output::time(&robot.register_time),
            "update_time": output::time(&robot.update_time),
        });
        if let (Some(object), serde_json::Value::Object(more)) = (value.as_object_mut(), full) {
            object.extend(more);
        }
    }
    value
}

fn robot_text(robot: &pb::Robot) -> String {
    let production = robot.production.clone().unwrap_or_default();
    // Warnings first, in words: a buyer must not miss them.
    let mut rows = Vec::new();
    if robot.stolen {
        rows.push((
            "WARNING",
            "reported STOLEN: do not buy it; tell the police".to_owned(),
        ));
    }
    for recall in &robot.open_recalls {
        rows.push((
            "WARNING",
            format!("RECALLED ({}): {}", recall.name, recall.reason),
        ));
    }
    let origin = if robot.origin_country.is_empty() {
        format!("issued here ({})", robot.country_code)
    } else {
        format!("imported from {}", robot.origin_country)
    };
    rows.extend([
        ("robot", robot.display_id.clone()),
        (
            "manufacturer",
            format!("{} ({})", robot.manufacturer_name, robot.manufacturer_code),
        ),
        (
            "model",
            format!("{} ({})", robot.model_name, robot.model_code),
        ),
        ("produced", output::time_text(&production.production_time)),
        ("status", output::status(robot.status)),
        ("stolen", if robot.stolen { "yes" } else { "no" }.into()),
        (
            "recalls",
            if robot.recalled {
                format!("{} open", robot.open_recalls.len())
            } else {
                "none".into()
            },
        ),
        ("jurisdiction", output::jurisdiction(robot.jurisdiction)),
        ("origin", origin),
    ]);
    if is_full(robot) {
        rows.extend([
            (
                "seen as",
                output::enum_name(robot.tier().as_str_name(), "ACCESS_TIER_").to_lowercase(),
            ),
            ("factory", or_dash(&production.factory)),
            ("holder", output::holder_text(&robot.holder)),
            (
                "history",
                format!("{} events, head {}", robot.event_count, robot.head_hash),
            ),
            ("registered", output::time_text(&robot.register_time)),
            ("updated", output::time_text(&robot.update_time)),
        ]);
    }
    lines(&rows)
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.to_owned()
    }
}
