//! Channels to the other Robot ID services.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

#[derive(Debug, thiserror::Error)]
#[error("invalid service address {uri:?}")]
pub struct ClientError {
    uri: String,
    #[source]
    source: tonic::transport::Error,
}

/// A channel to another service that connects on first use and reconnects
/// by itself, so a service starts (and keeps its own work) while the one it
/// calls is down; calls made meanwhile fail with UNAVAILABLE.
pub fn lazy_channel(uri: &str) -> Result<Channel, ClientError> {
    let endpoint = Endpoint::from_shared(uri.to_owned()).map_err(|source| ClientError {
        uri: uri.to_owned(),
        source,
    })?;
    Ok(endpoint
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true)
        .connect_lazy())
}
