//! `robotid seed`, and what `robotid dev` does at every start: what a
//! newcomer needs in a fresh deployment, made through the public API as the
//! regulator would — the demo manufacturer (code 0001), one approved product
//! model, and (dev only) the peer registry's key on the trust list. Every
//! call has a fixed request id, so a second run is answered as the first
//! (and what exists already is left as it is).

use robotid_platform::client::RpcChannel;
use robotid_proto::issuance::v1 as issuance;
use robotid_proto::issuance::v1::issuance_service_client::IssuanceServiceClient;
use robotid_proto::transfer::v1 as transfer;
use robotid_proto::transfer::v1::transfer_service_client::TransferServiceClient;

pub const MANUFACTURER: &str = "0001";
pub const MANUFACTURER_NAME: &str = "Hubei Humanoid Works Co., Ltd.";
pub const MODEL: &str = "HX0001";
pub const MODEL_NAME: &str = "SeeLight S1";

/// The trust list entry's validity: fixed, so that the bootstrap request is
/// the same on every start (2025-01-01 to 2035-01-01).
const TRUSTED_FROM: i64 = 1_735_689_600;
const TRUSTED_UNTIL: i64 = 2_051_222_400;

/// A create that finds its resource made already (by a start whose request
/// ids were forgotten, or by hand) is as good as done.
fn done<T>(answer: Result<tonic::Response<T>, tonic::Status>) -> anyhow::Result<()> {
    match answer {
        Ok(_) => Ok(()),
        Err(status) if status.code() == tonic::Code::AlreadyExists => Ok(()),
        Err(status) => Err(status.into()),
    }
}

/// Admits the demo manufacturer and approves its model, as the regulator
/// on `issuance`.
pub async fn manufacturer_and_model(issuance: RpcChannel, country: &str) -> anyhow::Result<()> {
    let mut regulator = IssuanceServiceClient::new(issuance);
    done(
        regulator
            .create_manufacturer(issuance::CreateManufacturerRequest {
                request_id: format!("dev-bootstrap-manufacturer-{MANUFACTURER}"),
                manufacturer: Some(issuance::Manufacturer {
                    code: MANUFACTURER.into(),
                    legal_name: MANUFACTURER_NAME.into(),
                    registration_number: "91420100MA4K".into(),
                    country_code: country.into(),
                    ..Default::default()
                }),
            })
            .await,
    )?;
    let parent = format!("manufacturers/{MANUFACTURER}");
    done(
        regulator
            .create_product_model(issuance::CreateProductModelRequest {
                request_id: format!("dev-bootstrap-model-{MODEL}"),
                parent: parent.clone(),
                product_model: Some(issuance::ProductModel {
                    model_code: MODEL.into(),
                    display_name: MODEL_NAME.into(),
                    category: "household".into(),
                    specifications: Some(issuance::Specifications {
                        height_mm: 1_650,
                        mass_g: 55_000,
                        degrees_of_freedom: 41,
                        battery_capacity_wh: 864,
                        autonomy_level: "L3".into(),
                    }),
                    key_components: vec!["joint actuator JA-7".into()],
                    ..Default::default()
                }),
            })
            .await,
    )?;
    // Approving an approved model is answered as the first approval.
    regulator
        .approve_product_model(issuance::ApproveProductModelRequest {
            request_id: format!("dev-bootstrap-approve-{MODEL}"),
            name: format!("{parent}/productModels/{MODEL}"),
        })
        .await?;
    Ok(())
}

/// Puts `peer_country`'s key on the trust list, as the regulator on
/// `transfer`.
pub async fn trust(
    transfer: RpcChannel,
    peer: &crate::dev::deployment::Deployment,
    own_witness_key: &str,
    own_country: &str,
) -> anyhow::Result<()> {
    let mut regulator = TransferServiceClient::new(transfer);
    let peer_country = &peer.country;
    let peer_key = &peer.signing_key;
    let kid = peer_key.kid().to_string();
    // An import from the peer clears on its log's proof under a checkpoint
    // this deployment's own witness cosigned.
    let import_policy = format!(
        "log {log}\nwitness {own_country} {own_witness_key}\nquorum {own_country}\n",
        log = peer.log_key
    );
    done(
        regulator
            .add_trusted_registry(transfer::AddTrustedRegistryRequest {
                // The entry names the peer's public base and registry, whose ports a
                // restart on OS-chosen ports changes: a new request then,
                // answered ALREADY_EXISTS for the key listed before.
                request_id: format!(
                    "dev-bootstrap-trust-{peer_country}-{kid}-{}-{}",
                    port_of(&peer.endpoints.web),
                    port_of(&peer.endpoints.registry)
                ),
                trusted_registry: Some(transfer::TrustedRegistry {
                    country_code: peer_country.into(),
                    key_id: kid,
                    public_key: peer_key.to_bytes().to_vec(),
                    not_before: Some(prost_types::Timestamp {
                        seconds: TRUSTED_FROM,
                        nanos: 0,
                    }),
                    not_after: Some(prost_types::Timestamp {
                        seconds: TRUSTED_UNTIL,
                        nanos: 0,
                    }),
                    log_origin: log_origin(&peer.log_key),
                    log_key: peer.log_key.clone(),
                    witness_key: peer.witness_key.clone(),
                    web_url: peer.endpoints.web.clone(),
                    import_policy,
                    // Holds that cross borders go to its registry.
                    registry_url: peer.endpoints.registry.clone(),
                    ..Default::default()
                }),
            })
            .await,
    )
}

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    #[command(flatten)]
    client: crate::client::ClientArgs,
    /// The registry's country, where the manufacturer is admitted (default:
    /// the one `robotid dev` runs in --data-dir, else CN).
    #[arg(long)]
    country: Option<String>,
}

/// `robotid seed --as regulator`: the demo manufacturer and model on any
/// deployment (the local topology, a fresh cluster).
pub async fn run(
    args: SeedArgs,
    globals: &crate::client::Globals,
) -> anyhow::Result<std::process::ExitCode> {
    let country = match args.country {
        Some(country) => country,
        None => globals.home_country()?.unwrap_or_else(|| "CN".into()),
    };
    let channel =
        crate::client::connect(globals, &args.client, crate::endpoints::Service::Issuance).await?;
    manufacturer_and_model(channel, &country).await?;
    let model = format!("manufacturers/{MANUFACTURER}/productModels/{MODEL}");
    if globals.json {
        crate::client::output::print_json(&serde_json::json!({
            "manufacturer": format!("manufacturers/{MANUFACTURER}"),
            "product_model": model,
        }));
    } else {
        println!("manufacturer {MANUFACTURER} ({MANUFACTURER_NAME}) admitted, {model} approved");
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Sets `peer` as a peer of the registry on `registry` (called as the
/// transfer service, which keeps the trust list).
pub async fn peer(
    registry: RpcChannel,
    peer: &crate::dev::deployment::Deployment,
) -> anyhow::Result<()> {
    use robotid_proto::registry::v1 as registry_pb;
    let mut registry = registry_pb::registry_service_client::RegistryServiceClient::new(registry);
    registry
        .put_peer(registry_pb::PutPeerRequest {
            peer: Some(registry_pb::Peer {
                country_code: peer.country.clone(),
                log_origin: log_origin(&peer.log_key),
                log_key: peer.log_key.clone(),
                witness_key: peer.witness_key.clone(),
                web_url: peer.endpoints.web.clone(),
                grpc_url: peer.endpoints.registry.clone(),
                active: true,
                ..Default::default()
            }),
        })
        .await?;
    Ok(())
}

/// The port of a `scheme://host:port` URL (the URL itself without one).
fn port_of(url: &str) -> &str {
    url.rsplit_once(':').map_or(url, |(_, port)| port)
}

/// A log key (`name+id+key`) is named by the log's origin.
pub(crate) fn log_origin(log_key: &str) -> String {
    log_key.split('+').next().unwrap_or_default().to_owned()
}
