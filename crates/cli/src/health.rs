//! `robotid health`: asks a service's `grpc.health.v1` whether it serves,
//! as Kubernetes' probes do; exits 0 only when SERVING. Scripts wait on it.

use std::process::ExitCode;

use clap::Args;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::client::{ClientArgs, Globals, connect};
use crate::endpoints::Service;

#[derive(Debug, Args)]
pub struct HealthArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Which service's health (`robotid.registry.v1.RegistryService`, …);
    /// default: the server's overall health.
    #[arg(long, default_value = "")]
    service: String,
}

pub async fn run(args: HealthArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    // Without --server: the registry of the deployment in --data-dir.
    let mut health = HealthClient::new(connect(globals, &args.client, Service::Registry).await?);
    let answer = health
        .check(HealthCheckRequest {
            service: args.service,
        })
        .await?
        .into_inner();
    let status = answer.status();
    let name = status.as_str_name();
    if globals.json {
        crate::client::output::print_json(&serde_json::json!({ "status": name }));
    } else {
        println!("{name}");
    }
    Ok(if status == ServingStatus::Serving {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
