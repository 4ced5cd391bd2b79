//! What every service binary's `main` does around its app: telemetry, the
//! metrics endpoint, the stop signal, and flushing on the way out.

use std::future::Future;
use std::sync::Arc;

use crate::config::ServerArgs;
use crate::{shutdown, telemetry};

/// A stop signal that any number of tasks can wait on.
#[derive(Clone)]
pub struct Stop(tokio::sync::watch::Receiver<bool>);

impl Stop {
    /// Resolves once the process is asked to stop.
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }
}

/// Runs one service: `serve` gets the stop signal and returns when it has
/// drained. Telemetry is flushed before returning, so the process can exit 0.
///
/// With `--migrate-only`, `serve` is given a stop signal that has already
/// fired: the app migrates while it builds, then stops at once.
pub async fn run<F, Fut>(service: &'static str, args: &ServerArgs, serve: F) -> anyhow::Result<()>
where
    F: FnOnce(Stop) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    if args.migrate_only {
        let _telemetry = telemetry::init(service, args.log_format)?;
        let (_, stopped) = tokio::sync::watch::channel(true);
        tracing::info!(service, "migrating only");
        return serve(Stop(stopped)).await;
    }
    let telemetry = Arc::new(telemetry::init(service, args.log_format)?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown::signal().await;
        let _ = stop_tx.send(true);
    });
    if let Some(addr) = args.metrics_listen {
        let stop = Stop(stop_rx.clone());
        let telemetry = telemetry.clone();
        tokio::spawn(async move {
            if let Err(error) = telemetry::serve_metrics(addr, telemetry, stop.wait()).await {
                tracing::error!(%error, "the metrics endpoint failed");
            }
        });
    }
    let result = serve(Stop(stop_rx)).await;
    telemetry.shutdown();
    tracing::info!(service, "stopped");
    result
}
