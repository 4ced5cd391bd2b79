use clap::Parser;
use robotid_registry::{App, RegistryConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = RegistryConfig::parse();
    robotid_platform::telemetry::init(config.server.log_format);
    let app = App::build(config).await?;
    app.run_until_stopped(robotid_platform::shutdown::signal())
        .await
}
