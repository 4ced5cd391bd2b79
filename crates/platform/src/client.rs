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
    lazy_channel_with(uri, None)
}

/// As [`lazy_channel`], over mutual TLS with this service's certificate
/// when `tls` is given (`uri` then `https://`).
pub fn lazy_channel_with(
    uri: &str,
    tls: Option<&crate::tls::TlsMaterial>,
) -> Result<Channel, ClientError> {
    let error = |source| ClientError {
        uri: uri.to_owned(),
        source,
    };
    let mut endpoint = Endpoint::from_shared(uri.to_owned()).map_err(error)?;
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls.client_config()).map_err(error)?;
    }
    Ok(endpoint
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true)
        .connect_lazy())
}
