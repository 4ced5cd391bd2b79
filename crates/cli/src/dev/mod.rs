//! `robotid dev`: the whole suite on one machine, in one process — this
//! country's issuance, registry and transfer services, and a peer
//! country's (Germany by default) so that a robot can be exported from one
//! and imported into the other. Both are bootstrapped for the demo and
//! trust each other's signing keys.

pub mod deployment;

use std::net::IpAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use robotid_platform::telemetry::{self, LogFormat, LogSettings};
use tokio::sync::watch;

use crate::endpoints::Service;
use crate::seed as bootstrap;
use deployment::{Deployment, Ports};

/// What `robotid dev` prints once everything serves: scripts and tests
/// wait for this line.
pub const READY: &str = "robotid dev is ready";

#[derive(Debug, Args)]
pub struct DevArgs {
    /// The address the services listen on.
    #[arg(long, default_value = "127.0.0.1")]
    listen_host: IpAddr,
    /// The address the registries' public web card listens on (default:
    /// --listen-host).
    #[arg(long)]
    web_host: Option<IpAddr>,
    /// Issuance listens here, the registry on the next port, transfer on
    /// the one after, the registry's public web card on the next; the peer
    /// country on the same ten ports up. 0: ports the OS chooses (written
    /// to DATA_DIR/endpoints.json).
    #[arg(long, default_value_t = 50051)]
    base_port: u16,
    /// This registry's country.
    #[arg(long, default_value = "CN")]
    country: String,
    /// The peer registry's country, kept in DATA_DIR/<peer, lower case>.
    #[arg(long, default_value = "DE")]
    peer_country: String,
}

pub async fn run(args: DevArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let home = country(&args.country, "--country")?;
    let peer = country(&args.peer_country, "--peer-country")?;
    anyhow::ensure!(home != peer, "--peer-country must differ from --country");
    if args.base_port > u16::MAX - 13 {
        anyhow::bail!("--base-port leaves no room for the peer's ports (base + 10 … 13)");
    }
    let web_host = args.web_host.unwrap_or(args.listen_host);
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let telemetry = logs_to_file(data_dir)?;

    let (stop, stopped) = watch::channel(false);
    let peer_ports = Ports::from_base(if args.base_port == 0 {
        0
    } else {
        args.base_port + 10
    });
    let home_deployment = Deployment::start(
        &home,
        data_dir,
        args.listen_host,
        web_host,
        Ports::from_base(args.base_port),
        stopped.clone(),
    )
    .await?;
    let peer_deployment = Deployment::start(
        &peer,
        &data_dir.join(peer.to_ascii_lowercase()),
        args.listen_host,
        web_host,
        peer_ports,
        stopped,
    )
    .await?;

    let bootstrapped = async {
        for deployment in [&home_deployment, &peer_deployment] {
            let issuance = deployment.regulator(Service::Issuance).await?;
            bootstrap::manufacturer_and_model(issuance, &deployment.country)
                .await
                .with_context(|| format!("bootstrapping {}", deployment.country))?;
        }
        for (deployment, other) in [
            (&home_deployment, &peer_deployment),
            (&peer_deployment, &home_deployment),
        ] {
            // Its CA issues the other's registry the certificate that
            // delivers holds to it.
            robotid_pki::admit_peer_registry(
                &deployment.layout.pki(),
                &other.country,
                &other
                    .layout
                    .peer_tls_dir()
                    .join(deployment.country.to_ascii_lowercase()),
            )
            .with_context(|| {
                format!(
                    "issuing {}'s registry its certificate for {}",
                    other.country, deployment.country
                )
            })?;
            let transfer = deployment.regulator(Service::Transfer).await?;
            bootstrap::trust(
                transfer,
                other,
                &deployment.witness_key,
                &deployment.country,
            )
            .await
            .with_context(|| {
                format!(
                    "adding {}'s key to {}'s trust list",
                    other.country, deployment.country
                )
            })?;
            // Each registry witnesses the other's log and sends its own
            // checkpoints to the other's witness.
            let registry = deployment.as_service(Service::Registry, "transfer").await?;
            bootstrap::peer(registry, other).await.with_context(|| {
                format!("making {} a peer of {}", other.country, deployment.country)
            })?;
            let policy = format!(
                "# This registry's proof bundles: its log, cosigned by {peer}'s witness.\n\
                 log {log}\nwitness {peer} {witness}\nquorum {peer}\n",
                log = deployment.log_key,
                peer = other.country,
                witness = other.witness_key,
            );
            let path = deployment.layout.proof_policy();
            std::fs::write(&path, policy).with_context(|| format!("writing {}", path.display()))?;
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(error) = bootstrapped {
        let _ = stop.send(true);
        let _ = home_deployment.stopped().await;
        let _ = peer_deployment.stopped().await;
        return Err(error);
    }

    print!("{}", banner(&home_deployment, &peer_deployment, data_dir));
    println!("{READY} (Ctrl-C stops it)");

    robotid_platform::shutdown::signal().await;
    println!("stopping: in-flight calls finish first");
    let _ = stop.send(true);
    let home_result = home_deployment.stopped().await;
    let peer_result = peer_deployment.stopped().await;
    telemetry.shutdown();
    home_result?;
    peer_result?;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn country(text: &str, flag: &str) -> anyhow::Result<String> {
    robotid_domain::code::CountryCode::parse(text)
        .map(|code| code.as_str().to_owned())
        .map_err(|e| anyhow::anyhow!("{flag} {text:?}: {e}"))
}

/// The services' logs go to DATA_DIR/robotid-dev.log: the terminal keeps
/// what a person needs to read.
fn logs_to_file(data_dir: &Path) -> anyhow::Result<robotid_platform::telemetry::Telemetry> {
    let path = data_dir.join("robotid-dev.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(telemetry::init_with(
        LogSettings {
            service: "robotid-dev",
            format: LogFormat::Text,
            filter: None,
            writer: Some(tracing_subscriber::fmt::writer::BoxMakeWriter::new(
                std::sync::Mutex::new(file),
            )),
        },
        // Spans stay in the log; the services' own binaries export them.
        None::<opentelemetry_otlp::SpanExporter>,
    )?)
}

fn banner(home: &Deployment, peer: &Deployment, data_dir: &Path) -> String {
    let shown = |path: &Path| {
        path.strip_prefix(std::env::current_dir().unwrap_or_default())
            .unwrap_or(path)
            .display()
            .to_string()
    };
    let mut out = String::new();
    for (deployment, role) in [(home, "this registry"), (peer, "peer registry")] {
        let layout = &deployment.layout;
        let pki_note = if deployment.pki_created {
            "made now"
        } else {
            "reused"
        };
        out.push_str(&format!(
            "{} ({role}), data in {}\n  \
             issuance  {}\n  \
             registry  {}\n  \
             transfer  {}\n  \
             web card  {}/r/ROBOT_ID (public HTTP)\n  \
             log       {}/log/ (c2sp.org/tlog-tiles; verifier key in {})\n  \
             PKI       {}/ ({pki_note}: ca.crt, one certificate per role: regulator, \
             manufacturer, seller, service-provider, operator, recycler, customs, police)\n  \
             signing key id {} (public key {})\n",
            deployment.country,
            shown(&layout.dir),
            deployment.endpoints.issuance,
            deployment.endpoints.registry,
            deployment.endpoints.transfer,
            deployment.endpoints.web,
            deployment.endpoints.web,
            shown(&layout.log_verifier_key()),
            shown(&layout.pki()),
            deployment.signing_key.kid(),
            shown(&layout.signing_public_key()),
        ));
    }
    let peer_dir = shown(&peer.layout.dir);
    let data = shown(data_dir);
    // The commands as a person types them: --data-dir only when not the
    // default.
    let here = if data_dir == Path::new(crate::DEFAULT_DATA_DIR) {
        "robotid".to_owned()
    } else {
        format!("robotid --data-dir {data}")
    };
    out.push_str(&format!(
        "\nBootstrapped in both: manufacturer {m} ({mn}), model \
         manufacturers/{m}/productModels/{model} ({model_name}) approved; \
         each trusts the other's signing key.\n\
         Logs: {data}/robotid-dev.log\n\n\
         Try, in another terminal (`--data-dir {peer_dir}` talks to {peer_country}):\n  \
         {here} issue --as manufacturer --model {model} --credentials-dir credentials\n  \
         {here} resolve ROBOT_ID\n  \
         {here} record ROBOT_ID released-to-market --as manufacturer\n  \
         {here} resolve ROBOT_ID --full --as regulator\n  \
         {here} history ROBOT_ID --as regulator\n  \
         robotid --data-dir {peer_dir} trust list --as regulator\n\
         The README's demo walks a robot from issuance to import in {peer_country}.\n",
        m = bootstrap::MANUFACTURER,
        mn = bootstrap::MANUFACTURER_NAME,
        model = bootstrap::MODEL,
        model_name = bootstrap::MODEL_NAME,
        peer_country = peer.country,
    ));
    out
}
