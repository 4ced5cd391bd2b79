//! An HTTP/1.1 client for the public listeners of registries: a peer's
//! witness (`add-checkpoint`), its proof bundles, a log's tiles. HTTPS
//! through rustls with the Mozilla roots (peers publish behind a public
//! certificate), or plain HTTP inside a cluster and in development; every
//! call bounded by a timeout.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

/// What an HTTP call answered.
#[derive(Debug, Clone)]
pub struct WebResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("{0} is not an http:// or https:// URL")]
    Url(String),
    #[error("{url}: {source}")]
    Request {
        url: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("{url}: reading the answer: {source}")]
    Body {
        url: String,
        #[source]
        source: hyper::Error,
    },
    #[error("{url}: no answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
}

/// A client with its connection pool; cloning shares it.
#[derive(Clone)]
pub struct WebClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl WebClient {
    pub fn new(timeout: Duration) -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        Self { client, timeout }
    }

    pub async fn get(&self, url: &str) -> Result<WebResponse, WebError> {
        self.send(url, http::Method::GET, None, Vec::new()).await
    }

    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<WebResponse, WebError> {
        self.send(url, http::Method::POST, Some(content_type), body)
            .await
    }

    async fn send(
        &self,
        url: &str,
        method: http::Method,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<WebResponse, WebError> {
        let refuse = || WebError::Url(url.to_owned());
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(refuse());
        }
        let uri: http::Uri = url.parse().map_err(|_| refuse())?;
        let mut request = http::Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            request = request.header(http::header::CONTENT_TYPE, content_type);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| refuse())?;
        let call = async {
            let response =
                self.client
                    .request(request)
                    .await
                    .map_err(|source| WebError::Request {
                        url: url.to_owned(),
                        source,
                    })?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|source| WebError::Body {
                    url: url.to_owned(),
                    source,
                })?
                .to_bytes()
                .to_vec();
            Ok(WebResponse {
                status,
                content_type,
                body,
            })
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| WebError::Timeout {
                url: url.to_owned(),
                timeout: self.timeout,
            })?
    }
}
