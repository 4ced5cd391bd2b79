//! `robotid clearance`: customs clearance of a shipment — asking for it on
//! export or import, following it, confirming departure and arrival,
//! withdrawing it before departure.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use robotid_platform::client::RpcChannel;
use robotid_proto::transfer::v1 as pb;
use robotid_proto::transfer::v1::transfer_service_client::TransferServiceClient;

use crate::client::output::{self, enum_name, lines};
use crate::client::{ClientArgs, Globals, RequestIdArg, connect};
use crate::endpoints::Service;
use crate::issue::credential_path;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Asks export clearance for a shipment leaving this registry's
    /// country (customs of that country).
    Export(ExportArgs),
    /// Asks import clearance for a shipment entering this registry's
    /// country, with each robot's credential and the origin's export
    /// clearance (customs of this country).
    Import(ImportArgs),
    /// Shows a transfer: its state and the decision on each robot.
    Status(NameArgs),
    /// Lists transfers, newest first.
    List(ListArgs),
    /// Confirms that a cleared export shipment left the country: its robots
    /// are EXPORTED, abroad, and the clearance is signed again with the
    /// departure (the one the destination imports on).
    Depart(DepartArgs),
    /// Confirms that a cleared import shipment arrived: its robots are
    /// IMPORTED into this registry.
    Arrive(ConfirmArgs),
    /// Withdraws an export clearance before departure: its robots are back
    /// home (the office that asked for it, or the regulator).
    Withdraw(ConfirmArgs),
}

/// What every clearance request names besides its direction.
#[derive(Debug, Args)]
struct Shipment {
    /// The robots of the shipment (identity codes).
    #[arg(required = true)]
    robots: Vec<String>,
    /// Who declares the shipment (exporter, importer, their agent).
    #[arg(long)]
    declarant: String,
    /// The customs office filing it, e.g. `CN-SHA`: the one your
    /// certificate names (default: that one).
    #[arg(long)]
    office: Option<String>,
    /// Clear the eligible robots even when some are refused.
    #[arg(long)]
    allow_partial: bool,
    /// Print the transfer's name only (for shell scripts).
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    request_id: RequestIdArg,
    #[command(flatten)]
    shipment: Shipment,
    /// The destination country.
    #[arg(long)]
    to: String,
    /// The origin: this registry's country (default: the one `robotid
    /// dev` runs in --data-dir).
    #[arg(long)]
    from: Option<String>,
    /// Write the signed export clearance (COSE_Sign1) here. The
    /// destination imports on the one `robotid clearance depart
    /// --clearance-out` writes, signed again on departure.
    #[arg(long, value_name = "FILE")]
    clearance_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    request_id: RequestIdArg,
    #[command(flatten)]
    shipment: Shipment,
    /// The origin country, whose registry issued the robots' credentials.
    #[arg(long)]
    from: String,
    /// The destination: this registry's country (default: the one `robotid
    /// dev` runs in --data-dir).
    #[arg(long)]
    to: Option<String>,
    /// Where each robot's credential is, as DIR/<ROBOT_ID>.cose (`robotid
    /// issue --credentials-dir` writes them so).
    #[arg(long, value_name = "DIR")]
    credentials_dir: PathBuf,
    /// The origin registry's signed export clearance as it departed
    /// (`robotid clearance depart --clearance-out` writes it): an import,
    /// also a robot coming home, needs it.
    #[arg(long, value_name = "FILE")]
    origin_clearance: PathBuf,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The transfer, `transfers/{id}` or its id.
    transfer: String,
}

#[derive(Debug, Args)]
pub struct ConfirmArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    request_id: RequestIdArg,
    /// The transfer, `transfers/{id}` or its id.
    transfer: String,
}

#[derive(Debug, Args)]
pub struct DepartArgs {
    #[command(flatten)]
    confirm: ConfirmArgs,
    /// Write the departed clearance (COSE_Sign1) here, for the
    /// destination's import.
    #[arg(long, value_name = "FILE")]
    clearance_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Only transfers in this state (requested, cleared, partially-cleared,
    /// refused, departed, arrived).
    #[arg(long, value_parser = parse_state)]
    state: Option<pb::TransferState>,
    /// Only transfers from or to this country.
    #[arg(long)]
    country: Option<String>,
    /// Only transfers of this customs office.
    #[arg(long)]
    office: Option<String>,
}

fn parse_state(text: &str) -> Result<pb::TransferState, String> {
    let name = format!(
        "TRANSFER_STATE_{}",
        text.trim().to_ascii_uppercase().replace('-', "_")
    );
    match pb::TransferState::from_str_name(&name) {
        Some(state) if state != pb::TransferState::Unspecified => Ok(state),
        _ => Err(format!("{text:?} is not a transfer state")),
    }
}

pub async fn run(command: Command, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        Command::Export(args) => export(args, globals).await,
        Command::Import(args) => import(args, globals).await,
        Command::Status(args) => {
            let mut transfer = client(globals, &args.client).await?;
            let answer = transfer
                .get_transfer(pb::GetTransferRequest {
                    name: transfer_name(&args.transfer),
                })
                .await?
                .into_inner();
            show(&answer, None, globals, false);
            Ok(ExitCode::SUCCESS)
        }
        Command::List(args) => list(args, globals).await,
        Command::Depart(DepartArgs {
            confirm: args,
            clearance_out,
        }) => {
            let request_id = args.request_id.get()?;
            let mut transfer = client(globals, &args.client).await?;
            let answer = transfer
                .confirm_departure(pb::ConfirmDepartureRequest {
                    request_id: request_id.clone(),
                    name: transfer_name(&args.transfer),
                })
                .await?
                .into_inner();
            write_clearance(clearance_out.as_deref(), &answer)?;
            show(&answer, Some(&request_id), globals, false);
            Ok(ExitCode::SUCCESS)
        }
        Command::Withdraw(args) => {
            let request_id = args.request_id.get()?;
            let mut transfer = client(globals, &args.client).await?;
            let answer = transfer
                .withdraw_clearance(pb::WithdrawClearanceRequest {
                    request_id: request_id.clone(),
                    name: transfer_name(&args.transfer),
                })
                .await?
                .into_inner();
            show(&answer, Some(&request_id), globals, false);
            Ok(ExitCode::SUCCESS)
        }
        Command::Arrive(args) => {
            let request_id = args.request_id.get()?;
            let mut transfer = client(globals, &args.client).await?;
            let answer = transfer
                .confirm_arrival(pb::ConfirmArrivalRequest {
                    request_id: request_id.clone(),
                    name: transfer_name(&args.transfer),
                })
                .await?
                .into_inner();
            show(&answer, Some(&request_id), globals, false);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn client(
    globals: &Globals,
    args: &ClientArgs,
) -> anyhow::Result<TransferServiceClient<RpcChannel>> {
    Ok(TransferServiceClient::new(
        connect(globals, args, Service::Transfer).await?,
    ))
}

/// Writes a transfer's signed clearance to `path`, when asked and signed.
fn write_clearance(path: Option<&std::path::Path>, transfer: &pb::Transfer) -> anyhow::Result<()> {
    if let Some(path) = path
        && !transfer.clearance.is_empty()
    {
        std::fs::write(path, &transfer.clearance)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `transfers/ab12` or `ab12` → `transfers/ab12`.
fn transfer_name(text: &str) -> String {
    if text.starts_with("transfers/") {
        text.to_owned()
    } else {
        format!("transfers/{text}")
    }
}

/// The country given, or the one of the deployment in --data-dir.
fn home(globals: &Globals, given: Option<String>, flag: &str) -> anyhow::Result<String> {
    match given {
        Some(country) => Ok(country),
        None => globals.home_country()?.with_context(|| {
            format!("{flag} is needed: no `robotid dev` deployment in --data-dir says its country")
        }),
    }
}

async fn export(args: ExportArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let origin = home(globals, args.from, "--from")?;
    let request_id = args.request_id.get()?;
    let robots = args
        .shipment
        .robots
        .iter()
        .map(|id| pb::ShipmentRobot {
            robot_id: id.clone(),
            credential: Vec::new(),
        })
        .collect();
    let mut transfer = client(globals, &args.client).await?;
    let answer = transfer
        .request_clearance(pb::RequestClearanceRequest {
            request_id: request_id.clone(),
            direction: pb::TransferDirection::Export.into(),
            robots,
            origin_country: origin,
            destination_country: args.to,
            declarant: args.shipment.declarant,
            customs_office: args.shipment.office.unwrap_or_default(),
            allow_partial: args.shipment.allow_partial,
            origin_clearance: Vec::new(),
        })
        .await?
        .into_inner();
    write_clearance(args.clearance_out.as_deref(), &answer)?;
    show(&answer, Some(&request_id), globals, args.shipment.quiet);
    Ok(decided(&answer))
}

async fn import(args: ImportArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let destination = home(globals, args.to, "--to")?;
    let request_id = args.request_id.get()?;
    let robots = args
        .shipment
        .robots
        .iter()
        .map(|id| {
            let path = credential_path(&args.credentials_dir, id);
            let credential = std::fs::read(&path)
                .with_context(|| format!("reading the credential of {id}: {}", path.display()))?;
            Ok(pb::ShipmentRobot {
                robot_id: id.clone(),
                credential,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let origin_clearance = std::fs::read(&args.origin_clearance)
        .with_context(|| format!("reading {}", args.origin_clearance.display()))?;
    let mut transfer = client(globals, &args.client).await?;
    let answer = transfer
        .request_clearance(pb::RequestClearanceRequest {
            request_id: request_id.clone(),
            direction: pb::TransferDirection::Import.into(),
            robots,
            origin_country: args.from,
            destination_country: destination,
            declarant: args.shipment.declarant,
            customs_office: args.shipment.office.unwrap_or_default(),
            allow_partial: args.shipment.allow_partial,
            origin_clearance,
        })
        .await?
        .into_inner();
    show(&answer, Some(&request_id), globals, args.shipment.quiet);
    Ok(decided(&answer))
}

/// A refused shipment is an answer, not a failed call, but scripts need to
/// tell: exit 3.
fn decided(transfer: &pb::Transfer) -> ExitCode {
    if transfer.state() == pb::TransferState::Refused {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

async fn list(args: ListArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let mut transfer = client(globals, &args.client).await?;
    let mut request = pb::ListTransfersRequest {
        page_size: 100,
        page_token: String::new(),
        state: args.state.map(i32::from).unwrap_or_default(),
        customs_office: args.office.unwrap_or_default(),
        country_code: args.country.unwrap_or_default(),
    };
    let mut transfers = Vec::new();
    loop {
        let page = transfer.list_transfers(request.clone()).await?.into_inner();
        transfers.extend(page.transfers);
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    if globals.json {
        output::print_json(&serde_json::json!({
            "transfers": transfers.iter().map(transfer_json).collect::<Vec<_>>(),
        }));
    } else {
        for transfer in &transfers {
            println!(
                "{}  {:<6} {:<17} {} → {}  {} robot(s)  {}",
                transfer.name,
                direction(transfer),
                state(transfer),
                transfer.origin_country,
                transfer.destination_country,
                transfer.decisions.len(),
                output::time_text(&transfer.update_time),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(transfer: &pb::Transfer, request_id: Option<&str>, globals: &Globals, quiet: bool) {
    if globals.json {
        let mut value = transfer_json(transfer);
        if let Some(id) = request_id {
            value["request_id"] = id.into();
        }
        output::print_json(&value);
    } else if quiet {
        println!("{}", transfer.name);
    } else {
        print!("{}", transfer_text(transfer));
    }
}

fn direction(transfer: &pb::Transfer) -> String {
    enum_name(transfer.direction().as_str_name(), "TRANSFER_DIRECTION_")
}

fn state(transfer: &pb::Transfer) -> String {
    enum_name(transfer.state().as_str_name(), "TRANSFER_STATE_")
}

fn transfer_json(transfer: &pb::Transfer) -> serde_json::Value {
    serde_json::json!({
        "name": transfer.name,
        "direction": direction(transfer),
        "state": state(transfer),
        "origin_country": transfer.origin_country,
        "destination_country": transfer.destination_country,
        "declarant": transfer.declarant,
        "customs_office": transfer.customs_office,
        "allow_partial": transfer.allow_partial,
        "decisions": transfer.decisions.iter().map(|d| serde_json::json!({
            "robot_id": d.robot_id,
            "decision": enum_name(d.decision().as_str_name(), "DECISION_"),
            "reason": d.reason,
        })).collect::<Vec<_>>(),
        "clearance_hex": hex::encode(&transfer.clearance),
        "requested_by": transfer.requested_by,
        "expire_time": output::time(&transfer.expire_time),
        "create_time": output::time(&transfer.create_time),
        "update_time": output::time(&transfer.update_time),
        "updated_by": transfer.updated_by,
    })
}

fn transfer_text(transfer: &pb::Transfer) -> String {
    let mut out = lines(&[
        ("transfer", transfer.name.clone()),
        (
            "shipment",
            format!(
                "{} {} → {}",
                direction(transfer),
                transfer.origin_country,
                transfer.destination_country
            ),
        ),
        ("state", state(transfer)),
        ("declarant", transfer.declarant.clone()),
        ("customs office", transfer.customs_office.clone()),
        ("requested by", transfer.requested_by.clone()),
        (
            "clearance",
            if transfer.clearance.is_empty() {
                "-".into()
            } else {
                format!("signed, {} bytes", transfer.clearance.len())
            },
        ),
        ("expires", output::time_text(&transfer.expire_time)),
        (
            "updated",
            format!(
                "{} by {}",
                output::time_text(&transfer.update_time),
                transfer.updated_by
            ),
        ),
    ]);
    for decision in &transfer.decisions {
        let verdict = enum_name(decision.decision().as_str_name(), "DECISION_");
        let reason = if decision.reason.is_empty() {
            String::new()
        } else {
            format!(" ({})", decision.reason)
        };
        out.push_str(&format!("  {}  {verdict}{reason}\n", decision.robot_id));
    }
    out
}
