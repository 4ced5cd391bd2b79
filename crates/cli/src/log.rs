//! `robotid log`: the registry's transparency log — its checkpoint, an
//! audit of the whole log over its public tiles, and the inclusion proof of
//! a robot's newest event.
//!
//! The checks trust nothing but the log's verifier key (`DATA_DIR/log.vkey`,
//! or `--vkey`): every checkpoint's signature is verified against it, the
//! audit recomputes the tree from the entries it fetched, and a proof is
//! checked against a verified checkpoint's root.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use robotid_proto::registry::v1 as pb;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use robotid_tlog::hash::hash_to_base64;
use robotid_tlog::{Hash, SignedCheckpoint, Tile, TileSet, VerifierKey};

use crate::client::output;
use crate::client::{ClientArgs, Globals, connect};
use crate::endpoints::{Endpoints, Service};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prints the newest checkpoint (gRPC), verified with the log's key.
    Checkpoint(CheckpointArgs),
    /// Audits the whole log over its public tiles: the checkpoint's
    /// signature, every entry against its leaf hash, every tile, the root;
    /// with --since, that the log extends a checkpoint saved earlier.
    Verify(VerifyArgs),
    /// The inclusion proof of a robot's newest event under the newest
    /// checkpoint, verified.
    Proof(ProofArgs),
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The log's signed-note verifier key (`name+id+key`), or a file that
    /// holds it. Default: DATA_DIR/log.vkey, as `robotid dev` writes it.
    #[arg(long, value_name = "KEY|FILE")]
    vkey: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Also write the checkpoint to FILE (for a later `verify --since`).
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// The log's URL prefix (`{web}/log/`). Default: the `robotid dev` web
    /// base of --data-dir.
    #[arg(long, value_name = "URL")]
    log_url: Option<String>,
    /// A checkpoint saved earlier: the log must extend it.
    #[arg(long, value_name = "FILE")]
    since: Option<PathBuf>,
    /// Write the verified checkpoint to FILE, for the next --since.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProofArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The identity code.
    robot_id: String,
}

pub async fn run(command: Command, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        Command::Checkpoint(args) => checkpoint(args, globals).await,
        Command::Verify(args) => verify(args, globals).await,
        Command::Proof(args) => proof(args, globals).await,
    }
}

fn verifier_key(args: &KeyArgs, globals: &Globals) -> anyhow::Result<VerifierKey> {
    let text = match &args.vkey {
        Some(value) if value.contains('+') && !Path::new(value).exists() => value.clone(),
        Some(path) => read(Path::new(path))?,
        None => read(&globals.data_dir.join("log.vkey")).context(
            "no --vkey, and no DATA_DIR/log.vkey (written by `robotid dev`) for --data-dir",
        )?,
    };
    VerifierKey::parse(text.trim()).context("the log's verifier key does not parse")
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Parses a checkpoint and checks the log's signature on it.
fn verified(note: &[u8], key: &VerifierKey) -> anyhow::Result<SignedCheckpoint> {
    let signed = SignedCheckpoint::parse(note).context("not a signed checkpoint")?;
    let verified = signed
        .verify(std::slice::from_ref(key))
        .context("the checkpoint's signature does not verify with the log's key")?;
    if !verified.signed_by(key) {
        bail!("the checkpoint carries no signature by {}", key.name());
    }
    if signed.checkpoint().origin() != key.name() {
        bail!(
            "the checkpoint is of log {:?}, the key of {:?}",
            signed.checkpoint().origin(),
            key.name()
        );
    }
    Ok(signed)
}

async fn checkpoint(args: CheckpointArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let key = verifier_key(&args.key, globals)?;
    let mut registry =
        RegistryServiceClient::new(connect(globals, &args.client, Service::Registry).await?);
    let answer = registry
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await?
        .into_inner();
    let signed = verified(answer.signed_note.as_bytes(), &key)?;
    if let Some(path) = &args.save {
        std::fs::write(path, signed.to_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let checkpoint = signed.checkpoint();
    if globals.json {
        output::print_json(&serde_json::json!({
            "origin": checkpoint.origin(),
            "tree_size": checkpoint.size(),
            "root_hash": hash_to_base64(checkpoint.root()),
            "signed_note": answer.signed_note,
        }));
    } else {
        print!("{}", answer.signed_note);
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify(args: VerifyArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let key = verifier_key(&args.key, globals)?;
    let prefix = match &args.log_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let endpoints = Endpoints::read(&globals.data_dir)?
                .filter(|endpoints| !endpoints.web.is_empty())
                .context("no --log-url, and no `robotid dev` web base for --data-dir")?;
            format!("{}/log", endpoints.web)
        }
    };
    let client = Fetcher::new(prefix);
    let signed = verified(&client.get("checkpoint").await?, &key)?;
    let size = signed.checkpoint().size();
    let since = match &args.since {
        None => None,
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Some(verified(&bytes, &key).with_context(|| format!("{}", path.display()))?)
        }
    };

    // Every entry, hashed; then the tree over them, compared with every
    // tile the log serves at this size.
    let mut leaf_hashes: Vec<Hash> = Vec::with_capacity(size as usize);
    for index in 0..size.div_ceil(256) {
        let tile = Tile::at_size(0, index, size).context("a level-0 tile of the tree")?;
        let bundle = client.get(&entry_bundle_path(&tile)).await?;
        let entries = robotid_tlog::decode_entry_bundle(&bundle)
            .with_context(|| format!("the entry bundle {}", tile))?;
        if entries.len() != usize::from(tile.width()) {
            bail!(
                "the entry bundle of {tile} holds {} entries, not {}",
                entries.len(),
                tile.width()
            );
        }
        leaf_hashes.extend(entries.iter().map(|entry| robotid_tlog::leaf_hash(entry)));
    }
    let built = robotid_tlog::tree::append(&TileSet::new(), 0, &leaf_hashes)
        .map_err(|error| anyhow::anyhow!("building the tree: {error}"))?;
    if &built.tree_hash != signed.checkpoint().root() {
        bail!("the entries do not hash to the checkpoint's root");
    }
    let mut tiles = TileSet::new();
    for (tile, data) in built.tiles {
        let served = client.get(&tile.path()).await?;
        if served != data {
            bail!("the log's tile {tile} differs from the one its entries give");
        }
        tiles.insert(tile, data);
    }
    if let Some(old) = &since {
        let old_size = old.checkpoint().size();
        if old_size > size {
            bail!("the log shrank: it was {old_size} entries, it is {size}");
        }
        let old_root = robotid_tlog::tree::tree_hash(&tiles, old_size)
            .map_err(|error| anyhow::anyhow!("hashing the old tree: {error}"))?;
        if &old_root != old.checkpoint().root() {
            bail!("the log does not extend the checkpoint of size {old_size}: it was rewritten");
        }
    }
    if let Some(path) = &args.save {
        std::fs::write(path, signed.to_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let root = hash_to_base64(signed.checkpoint().root());
    if globals.json {
        output::print_json(&serde_json::json!({
            "origin": signed.checkpoint().origin(),
            "tree_size": size,
            "root_hash": root,
            "extends": since.as_ref().map(|old| old.checkpoint().size()),
        }));
    } else {
        println!("log verified: {} entries, root {root}", size);
        if let Some(old) = &since {
            println!(
                "  extends the checkpoint of size {}",
                old.checkpoint().size()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn entry_bundle_path(tile: &Tile) -> String {
    tile.entry_bundle_path()
        .expect("a level-0 tile has an entry bundle")
}

async fn proof(args: ProofArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let key = verifier_key(&args.key, globals)?;
    let mut registry =
        RegistryServiceClient::new(connect(globals, &args.client, Service::Registry).await?);
    // The newest event's index: the last of its history.
    let mut index = None;
    let mut page_token = String::new();
    loop {
        let page = registry
            .list_events(pb::ListEventsRequest {
                robot_id: args.robot_id.clone(),
                page_size: 1000,
                page_token: page_token.clone(),
            })
            .await?
            .into_inner();
        if let Some(last) = page.events.last() {
            index = last.log_index.map(|i| (i, last.sequence));
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let (log_index, sequence) =
        index.context("the robot's newest event has no log index (recorded before the log)")?;
    let proof = registry
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            log_index,
            tree_size: 0,
        })
        .await?
        .into_inner();
    let signed = verified(proof.checkpoint.as_bytes(), &key)?;
    if signed.checkpoint().size() != proof.tree_size {
        bail!("the proof is for another tree size than its checkpoint");
    }
    let hashes = proof
        .hashes
        .iter()
        .map(|hash| Hash::try_from(hash.as_slice()))
        .collect::<Result<Vec<_>, _>>()
        .context("a proof hash is not 32 bytes")?;
    robotid_tlog::verify_inclusion(
        log_index,
        proof.tree_size,
        &robotid_tlog::leaf_hash(&proof.entry),
        &hashes,
        signed.checkpoint().root(),
    )
    .context("the inclusion proof does not verify")?;
    let encoded: Vec<String> = hashes.iter().map(hash_to_base64).collect();
    if globals.json {
        output::print_json(&serde_json::json!({
            "robot_id": args.robot_id,
            "sequence": sequence,
            "log_index": log_index,
            "tree_size": proof.tree_size,
            "root_hash": hash_to_base64(signed.checkpoint().root()),
            "hashes": encoded,
            "checkpoint": proof.checkpoint,
        }));
    } else {
        println!(
            "event {sequence} of {} is leaf {log_index} of the log's tree of {} (root {}): verified",
            args.robot_id,
            proof.tree_size,
            hash_to_base64(signed.checkpoint().root())
        );
        for hash in encoded {
            println!("  {hash}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// GETs below the log's prefix.
struct Fetcher {
    prefix: String,
    client: robotid_platform::web_client::WebClient,
}

impl Fetcher {
    fn new(prefix: String) -> Self {
        let client =
            robotid_platform::web_client::WebClient::new(std::time::Duration::from_secs(30));
        Self { prefix, client }
    }

    async fn get(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let url = format!("{}/{path}", self.prefix);
        let answer = self.client.get(&url).await?;
        if answer.status != 200 {
            bail!("{url}: HTTP {}", answer.status);
        }
        Ok(answer.body)
    }
}
