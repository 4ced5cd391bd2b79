use clap::Parser;
use robotid_registry::{App, RegistryConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = RegistryConfig::parse();
    let args = config.server.clone();
    robotid_platform::process::run("robotid-registry", &args, |stop| async move {
        App::build(config)
            .await?
            .run_until_stopped(stop.wait())
            .await
    })
    .await
}
