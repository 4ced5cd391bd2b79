//! What every client command shares: which server, which identity, and how
//! a call's answer or failure is shown.

pub mod failure;
pub mod output;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use robotid_platform::client::{Retrying, RpcChannel};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::endpoints::{Endpoints, Service};

/// How to reach a service and who to be there.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The service's URL, `https://HOST:PORT` (or `http://` for one serving
    /// plaintext). Default: what `robotid dev` runs for --data-dir, else
    /// localhost on the service's default port.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Call as ROLE: the certificate DATA_DIR/pki/ROLE.crt and its key
    /// (regulator, manufacturer, seller, service-provider, operator,
    /// recycler, customs, police). Without it (or --cert), the anonymous
    /// public.
    #[arg(long = "as", value_name = "ROLE", conflicts_with = "cert")]
    identity: Option<String>,
    /// A client certificate (PEM) to call with, instead of --as.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// The --cert's private key (PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// The CA (PEM) the server's certificate must chain to. Default:
    /// DATA_DIR/pki/ca.crt.
    #[arg(long)]
    ca: Option<PathBuf>,
}

impl ClientArgs {
    /// The default server, as `role` (what `--as ROLE` gives).
    pub fn as_role(role: &str) -> Self {
        Self {
            server: None,
            identity: Some(role.to_owned()),
            cert: None,
            key: None,
            ca: None,
        }
    }

    /// The default server of another service, called anonymously with the
    /// same CA (e.g. `issue` asking the registry whether robots arrived).
    pub fn anonymous_default(&self) -> Self {
        Self {
            server: None,
            identity: None,
            cert: None,
            key: None,
            ca: self.ca.clone(),
        }
    }
}

/// Options of the whole command line that client commands use.
#[derive(Debug, Clone)]
pub struct Globals {
    pub data_dir: PathBuf,
    pub json: bool,
}

impl Globals {
    /// The deployment `robotid dev` runs in --data-dir, if it ever ran.
    pub fn endpoints(&self) -> anyhow::Result<Option<Endpoints>> {
        Endpoints::read(&self.data_dir)
    }

    /// The country of the deployment in --data-dir, if known.
    pub fn home_country(&self) -> anyhow::Result<Option<String>> {
        Ok(self.endpoints()?.map(|endpoints| endpoints.country))
    }

    fn pki_dir(&self) -> PathBuf {
        self.data_dir.join("pki")
    }
}

/// A connected channel to `service`, over TLS with the chosen identity;
/// its calls retry UNAVAILABLE and RESOURCE_EXHAUSTED with a RetryInfo
/// (`robotid_platform::client`).
pub async fn connect(
    globals: &Globals,
    args: &ClientArgs,
    service: Service,
) -> anyhow::Result<RpcChannel> {
    let url = match &args.server {
        Some(url) => url.clone(),
        None => match globals.endpoints()? {
            Some(endpoints) => endpoints.url(service).to_owned(),
            None => format!("https://localhost:{}", service.default_port()),
        },
    };
    let mut endpoint = Endpoint::from_shared(url.clone())
        .with_context(|| format!("--server {url:?} is not a URL"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60));
    if url.starts_with("https://") {
        endpoint = endpoint
            .tls_config(tls_config(globals, args)?)
            .context("TLS settings")?;
    } else if args.identity.is_some() || args.cert.is_some() {
        anyhow::bail!("{url} is plaintext: an identity needs an https:// server");
    }
    let channel = endpoint.connect().await.with_context(|| {
        format!("cannot reach {url} (is `robotid dev` running, with this --data-dir?)")
    })?;
    Ok(Retrying::new(channel))
}

fn tls_config(globals: &Globals, args: &ClientArgs) -> anyhow::Result<ClientTlsConfig> {
    let ca = args
        .ca
        .clone()
        .unwrap_or_else(|| robotid_pki::ca_path(&globals.pki_dir()));
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(
        &ca,
        "the CA certificate (--ca, or run `robotid dev` / `robotid pki` first)",
    )?));
    let files = match (&args.identity, &args.cert, &args.key) {
        (Some(role), _, _) => Some((
            robotid_pki::cert_path(&globals.pki_dir(), role),
            robotid_pki::key_path(&globals.pki_dir(), role),
        )),
        (None, Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        _ => None,
    };
    if let Some((cert, key)) = files {
        let what = match &args.identity {
            Some(role) => format!("the certificate of --as {role}"),
            None => "the client certificate".to_owned(),
        };
        tls = tls.identity(Identity::from_pem(read(&cert, &what)?, read(&key, &what)?));
    }
    Ok(tls)
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {what}: {}", path.display()))
}

/// A fresh request id for a mutating call: 128 random bits in hex.
pub fn fresh_request_id() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex::encode(bytes))
}

/// `--request-id`, for the commands that change something: a retry with
/// the same id is answered as the first call was.
#[derive(Debug, Clone, Args)]
pub struct RequestIdArg {
    /// Makes a retry safe: the same id answers what the first call did.
    /// Default: a fresh random id (printed with --json).
    #[arg(long)]
    request_id: Option<String>,
}

impl RequestIdArg {
    pub fn get(&self) -> anyhow::Result<String> {
        match &self.request_id {
            Some(id) => Ok(id.clone()),
            None => fresh_request_id(),
        }
    }
}

/// Every item of a paged list (AIP-158): `fetch` asks for the page at a
/// token (empty for the first) and answers its items and the next token,
/// empty on the last page.
pub async fn all_pages<T, F, Fut>(mut fetch: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, String), tonic::Status>>,
{
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = fetch(token).await?;
        all.extend(items);
        if next.is_empty() {
            return Ok(all);
        }
        token = next;
    }
}
