//! `robotid trust`: the foreign registries whose credentials and export
//! clearances this registry recognises (regulator).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use robotid_credential::VerifyingKey;
use robotid_proto::transfer::v1 as pb;
use robotid_proto::transfer::v1::transfer_service_client::TransferServiceClient;

use crate::client::output::{self, lines};
use crate::client::{ClientArgs, Globals, RequestIdArg, all_pages, connect};
use crate::endpoints::Service;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lists the trusted keys.
    List(ListArgs),
    /// Trusts a foreign registry's signing key from today for --days days.
    Add(AddArgs),
    /// Revokes a trusted key: what it signed is no longer recognised.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    request_id: RequestIdArg,
    /// The key, `trustedRegistries/{country}-{key id}` as `trust list`
    /// shows it.
    name: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Print the keys' names only, one a line (for `trust revoke`).
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    request_id: RequestIdArg,
    /// The foreign registry's country.
    #[arg(long)]
    country: String,
    /// Its public signing key: PEM (`BEGIN PUBLIC KEY`) or 64 hex digits.
    #[arg(long)]
    public_key: PathBuf,
    /// How long to trust it.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3_650))]
    days: u32,
    #[command(flatten)]
    log: LogArgs,
}

/// The registry's transparency log, which imports from it are checked
/// against: all of it, or none (then no import from it clears).
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Its log's verifier key file (`log.vkey`, `name+id+key`); the origin
    /// is the key's name.
    #[arg(long, requires_all = ["witness_key", "web_url", "import_policy"])]
    log_key: Option<PathBuf>,
    /// Its witness's verifier key file (`witness.vkey`).
    #[arg(long, requires = "log_key")]
    witness_key: Option<PathBuf>,
    /// Its public HTTP base, e.g. `https://id.example.cn`.
    #[arg(long, requires = "log_key")]
    web_url: Option<String>,
    /// The import policy (c2sp.org/tlog-policy): its log, and the
    /// witnesses that must have cosigned.
    #[arg(long, requires = "log_key")]
    import_policy: Option<PathBuf>,
    /// Its registry's gRPC base, for the holds the registries exchange.
    #[arg(long, requires = "log_key")]
    registry_url: Option<String>,
}

impl LogArgs {
    /// The entry's log fields, read from their files.
    fn fields(&self) -> anyhow::Result<pb::TrustedRegistry> {
        let read = |path: &Option<PathBuf>| -> anyhow::Result<String> {
            match path {
                Some(path) => Ok(std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .trim()
                    .to_owned()),
                None => Ok(String::new()),
            }
        };
        let log_key = read(&self.log_key)?;
        let import_policy = match &self.import_policy {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
            None => String::new(),
        };
        Ok(pb::TrustedRegistry {
            log_origin: crate::seed::log_origin(&log_key),
            log_key,
            witness_key: read(&self.witness_key)?,
            web_url: self.web_url.clone().unwrap_or_default(),
            import_policy,
            registry_url: self.registry_url.clone().unwrap_or_default(),
            ..Default::default()
        })
    }
}

pub async fn run(command: Command, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        Command::List(args) => list(args, globals).await,
        Command::Add(args) => add(args, globals).await,
        Command::Revoke(args) => revoke(args, globals).await,
    }
}

async fn revoke(args: RevokeArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let request_id = args.request_id.get()?;
    let mut transfer =
        TransferServiceClient::new(connect(globals, &args.client, Service::Transfer).await?);
    let entry = transfer
        .revoke_trusted_registry(pb::RevokeTrustedRegistryRequest {
            request_id: request_id.clone(),
            name: args.name,
        })
        .await?
        .into_inner();
    if globals.json {
        let mut value = trusted_json(&entry);
        value["request_id"] = request_id.into();
        output::print_json(&value);
    } else {
        print!(
            "{}",
            lines(&[
                ("revoked", entry.name.clone()),
                ("country", entry.country_code.clone()),
                ("at", output::time_text(&entry.revoke_time)),
            ])
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(args: ListArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let transfer =
        TransferServiceClient::new(connect(globals, &args.client, Service::Transfer).await?);
    let trusted = all_pages(|page_token| {
        let mut transfer = transfer.clone();
        async move {
            let page = transfer
                .list_trusted_registries(pb::ListTrustedRegistriesRequest {
                    page_size: 100,
                    page_token,
                })
                .await?
                .into_inner();
            Ok((page.trusted_registries, page.next_page_token))
        }
    })
    .await?;
    if globals.json {
        output::print_json(&serde_json::json!({
            "trusted_registries": trusted.iter().map(trusted_json).collect::<Vec<_>>(),
        }));
    } else if args.quiet {
        for entry in &trusted {
            println!("{}", entry.name);
        }
    } else {
        for entry in &trusted {
            println!(
                "{}  {}  {} … {}  added by {}{}",
                entry.country_code,
                entry.name,
                output::time_text(&entry.not_before),
                output::time_text(&entry.not_after),
                entry.added_by,
                if entry.revoked {
                    format!("  REVOKED by {}", entry.revoked_by)
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn add(args: AddArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let key = VerifyingKey::load(&args.public_key)?;
    let log = args.log.fields()?;
    let request_id = args.request_id.get()?;
    let (now, _) = robotid_domain::time::Timestamp::now().to_parts();
    let mut transfer =
        TransferServiceClient::new(connect(globals, &args.client, Service::Transfer).await?);
    let entry = transfer
        .add_trusted_registry(pb::AddTrustedRegistryRequest {
            request_id: request_id.clone(),
            trusted_registry: Some(pb::TrustedRegistry {
                country_code: args.country,
                key_id: key.kid().to_string(),
                public_key: key.to_bytes().to_vec(),
                not_before: Some(prost_types::Timestamp {
                    seconds: now,
                    nanos: 0,
                }),
                not_after: Some(prost_types::Timestamp {
                    seconds: now + i64::from(args.days) * 86_400,
                    nanos: 0,
                }),
                ..log
            }),
        })
        .await?
        .into_inner();
    if globals.json {
        let mut value = trusted_json(&entry);
        value["request_id"] = request_id.into();
        output::print_json(&value);
    } else {
        print!(
            "{}",
            lines(&[
                ("trusted", entry.name.clone()),
                ("country", entry.country_code.clone()),
                ("key id", entry.key_id.clone()),
                ("until", output::time_text(&entry.not_after)),
            ])
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn trusted_json(entry: &pb::TrustedRegistry) -> serde_json::Value {
    serde_json::json!({
        "name": entry.name,
        "country_code": entry.country_code,
        "key_id": entry.key_id,
        "public_key_hex": hex::encode(&entry.public_key),
        "not_before": output::time(&entry.not_before),
        "not_after": output::time(&entry.not_after),
        "revoked": entry.revoked,
        "revoke_time": output::time(&entry.revoke_time),
        "added_by": entry.added_by,
        "revoked_by": entry.revoked_by,
    })
}
