//! `robotid record`, `robotid history`, `robotid verify-history`: a
//! robot's hash-chained history — appending to it, reading it, proving it
//! intact.

use std::process::ExitCode;

use clap::Args;
use robotid_proto::common::v1 as common;
use robotid_proto::registry::v1 as pb;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;

use crate::client::output::{self, lines};
use crate::client::{ClientArgs, Globals, RequestIdArg, connect};
use crate::endpoints::Service;

#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    request_id: RequestIdArg,
    /// The identity code.
    robot_id: String,
    /// What happened: `released-to-market`, `sold`, `ownership-transferred`,
    /// `deployed`, `maintenance-performed`, `component-replaced`,
    /// `firmware-updated`, `incident-reported`, `recall-remedied`,
    /// `reported-stolen`, `recovered`, `decommissioned`, `recycled`, …
    /// (a recall is opened with `robotid recall create`)
    #[arg(value_parser = parse_event_type)]
    event: common::EventType,
    /// SOLD, OWNERSHIP_TRANSFERRED: the new holder, an organisation by its
    /// identifier.
    #[arg(long, conflicts_with = "private_holder")]
    holder_org: Option<String>,
    /// SOLD, OWNERSHIP_TRANSFERRED: the new holder, a private person, by a
    /// reference the seller keeps (the registry stores only a keyed hash).
    #[arg(long)]
    private_holder: Option<String>,
    /// SOLD, OWNERSHIP_TRANSFERRED, REPORTED_STOLEN of a privately held
    /// robot: the current holder's reference, which proves the call is made
    /// for the holder of record (checked against its keyed hash; never
    /// stored).
    #[arg(long)]
    current_holder: Option<String>,
    /// What was done or what happened.
    #[arg(long)]
    note: Option<String>,
    /// COMPONENT_REPLACED: which component.
    #[arg(long)]
    component: Option<String>,
    /// FIRMWARE_UPDATED: the new version.
    #[arg(long)]
    firmware: Option<String>,
    /// RECALL_REMEDIED: the recall, `recalls/{id}`.
    #[arg(long)]
    recall: Option<String>,
    /// An outside reference: work order, police report.
    #[arg(long)]
    reference: Option<String>,
    /// When it happened, RFC 3339 (`2026-11-20T09:30:00Z`, or with an
    /// offset); when it is recorded if left out.
    #[arg(long, value_parser = crate::time::parse_rfc3339)]
    occur_time: Option<prost_types::Timestamp>,
}

/// `sold`, `SOLD`, `EVENT_TYPE_SOLD` and `released-to-market` all name an
/// event type.
fn parse_event_type(text: &str) -> Result<common::EventType, String> {
    let upper = text.trim().to_ascii_uppercase().replace('-', "_");
    let name = if upper.starts_with("EVENT_TYPE_") {
        upper
    } else {
        format!("EVENT_TYPE_{upper}")
    };
    match common::EventType::from_str_name(&name) {
        Some(kind) if kind != common::EventType::Unspecified => Ok(kind),
        _ => Err(format!("{text:?} is not an event type")),
    }
}

pub async fn record(args: RecordArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    use common::holder::Kind;
    let holder = match (&args.holder_org, &args.private_holder) {
        (Some(id), _) => Some(Kind::OrganizationId(id.clone())),
        (None, Some(reference)) => Some(Kind::PrivateReference(reference.clone())),
        (None, None) => None,
    }
    .map(|kind| common::Holder { kind: Some(kind) });
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let request_id = args.request_id.get()?;
    let mut registry =
        RegistryServiceClient::new(connect(globals, &args.client, Service::Registry).await?);
    let event = registry
        .record_event(pb::RecordEventRequest {
            request_id: request_id.clone(),
            robot_id: args.robot_id,
            r#type: args.event.into(),
            details: Some(pb::EventDetails {
                holder,
                country_code: String::new(),
                recall: text(&args.recall),
                note: text(&args.note),
                component: text(&args.component),
                firmware_version: text(&args.firmware),
                reference: text(&args.reference),
                current_holder: text(&args.current_holder),
            }),
            occur_time: args.occur_time,
        })
        .await?
        .into_inner();
    if globals.json {
        let mut value = event_json(&event);
        value["request_id"] = request_id.into();
        output::print_json(&value);
    } else {
        print!(
            "{}",
            lines(&[
                (
                    "recorded",
                    format!(
                        "{} as event {} of {}",
                        output::event_type(event.r#type),
                        event.sequence,
                        event.robot_id
                    )
                ),
                ("status now", output::status(event.status_after)),
                ("hash", event.hash.clone()),
            ])
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The identity code.
    robot_id: String,
}

/// Every event, oldest first, all pages.
pub async fn history(args: HistoryArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let mut registry =
        RegistryServiceClient::new(connect(globals, &args.client, Service::Registry).await?);
    let mut events = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = registry
            .list_events(pb::ListEventsRequest {
                robot_id: args.robot_id.clone(),
                page_size: 1_000,
                page_token,
            })
            .await?
            .into_inner();
        events.extend(page.events);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if globals.json {
        output::print_json(&serde_json::json!({
            "robot_id": args.robot_id,
            "events": events.iter().map(event_json).collect::<Vec<_>>(),
        }));
    } else {
        for event in &events {
            println!("{}", event_line(event));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct VerifyHistoryArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The identity code.
    robot_id: String,
}

/// Exits non-zero when the chain is broken.
pub async fn verify_history(
    args: VerifyHistoryArgs,
    globals: &Globals,
) -> anyhow::Result<ExitCode> {
    let mut registry =
        RegistryServiceClient::new(connect(globals, &args.client, Service::Registry).await?);
    let verdict = registry
        .verify_history(pb::VerifyHistoryRequest {
            robot_id: args.robot_id.clone(),
        })
        .await?
        .into_inner();
    if globals.json {
        output::print_json(&serde_json::json!({
            "robot_id": args.robot_id,
            "intact": verdict.intact,
            "event_count": verdict.event_count,
            "head_hash": verdict.head_hash,
            "first_broken_sequence": verdict.first_broken_sequence,
            "problem": verdict.problem,
        }));
    } else if verdict.intact {
        println!(
            "history intact: {} events, head {}",
            verdict.event_count, verdict.head_hash
        );
    } else {
        println!(
            "history BROKEN at event {}: {}",
            verdict.first_broken_sequence, verdict.problem
        );
    }
    Ok(if verdict.intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn details_json(details: &pb::EventDetails) -> serde_json::Value {
    let mut value = serde_json::Map::new();
    let holder = output::holder_json(&details.holder);
    if !holder.is_null() {
        value.insert("holder".into(), holder);
    }
    for (key, text) in [
        ("country_code", &details.country_code),
        ("recall", &details.recall),
        ("note", &details.note),
        ("component", &details.component),
        ("firmware_version", &details.firmware_version),
        ("reference", &details.reference),
    ] {
        if !text.is_empty() {
            value.insert(key.into(), text.as_str().into());
        }
    }
    value.into()
}

pub fn event_json(event: &pb::Event) -> serde_json::Value {
    serde_json::json!({
        "robot_id": event.robot_id,
        "sequence": event.sequence,
        "type": output::event_type(event.r#type),
        "details": details_json(&event.details.clone().unwrap_or_default()),
        "occur_time": output::time(&event.occur_time),
        "record_time": output::time(&event.record_time),
        "actor": event.actor,
        "status_after": output::status(event.status_after),
        "previous_hash": event.previous_hash,
        "hash": event.hash,
    })
}

fn event_line(event: &pb::Event) -> String {
    let details = details_json(&event.details.clone().unwrap_or_default());
    let details = match details.as_object() {
        Some(map) if !map.is_empty() => format!("  {details}"),
        _ => String::new(),
    };
    format!(
        "{:>3}  {}  {:<22} {:<14} by {}{details}",
        event.sequence,
        output::time_text(&event.occur_time),
        output::event_type(event.r#type),
        output::status(event.status_after),
        event.actor,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_named_as_people_write_them() {
        for text in ["sold", "SOLD", "EVENT_TYPE_SOLD", " Sold "] {
            assert_eq!(parse_event_type(text), Ok(common::EventType::Sold));
        }
        assert_eq!(
            parse_event_type("released-to-market"),
            Ok(common::EventType::ReleasedToMarket)
        );
        assert!(parse_event_type("unspecified").is_err());
        assert!(parse_event_type("teleported").is_err());
    }
}
