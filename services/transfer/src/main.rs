use clap::Parser;
use robotid_transfer::{App, TransferConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = TransferConfig::parse();
    let args = config.server.clone();
    robotid_platform::process::run("robotid-transfer", &args, |stop| async move {
        App::build(config)
            .await?
            .run_until_stopped(stop.wait())
            .await
    })
    .await
}
