use clap::Parser;
use robotid_issuance::{App, IssuanceConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = IssuanceConfig::parse();
    let args = config.server.clone();
    robotid_platform::process::run("robotid-issuance", &args, |stop| async move {
        App::build(config)
            .await?
            .run_until_stopped(stop.wait())
            .await
    })
    .await
}
