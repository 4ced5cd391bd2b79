//! kill -9 of the registry, again and again, while callers record events:
//! afterwards every checkpoint published before a kill is consistent with
//! every one after (and no size has two roots), no leaf is lost,
//! duplicated or reordered, every event answered OK is in the log at the
//! index it was answered with, and every history verifies against the log.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use robotid_domain::code::RobotId;
use robotid_proto::common::v1 as common;
use robotid_proto::registry::v1 as registry;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use robotid_registry::log::leaf;
use robotid_tlog::{Hash, NoteSigner, SignedCheckpoint, TileSet, VerifierKey};
use robotid_topology::{LOG_ORIGIN, Options, Service, Topology, request_id};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::load::{CALL_DEADLINE, tally_between};
use crate::report::{Report, cases, humantime};
use crate::tally::Tally;

pub struct Settings {
    pub kills: usize,
    pub callers: usize,
    pub robots: u64,
    /// Load between one restart and the next kill.
    pub between_kills: Duration,
}

/// The registry alone, integrating often so that many checkpoints fall
/// between the kills.
pub fn options(base: Options) -> Options {
    base.services(&[Service::Registry]).service_setting(
        Service::Registry,
        "ROBOTID_LOG_INTEGRATION_MS",
        50,
    )
}

/// An event answered OK.
#[derive(Debug, Clone)]
struct Acknowledged {
    robot_id: String,
    sequence: u64,
    log_index: Option<u64>,
    hash: String,
}

#[derive(Default)]
struct EventLog {
    calls: Vec<crate::load::Call>,
    acknowledged: Vec<Acknowledged>,
    unexpected: Vec<String>,
    unresolved: usize,
}

pub async fn exercise(
    topology: &mut Topology,
    settings: &Settings,
    report: &mut Report,
) -> anyhow::Result<()> {
    report.line(format!(
        "{} kills of the registry, {} between; {} callers recording events on {} robots",
        settings.kills,
        humantime(settings.between_kills),
        settings.callers,
        settings.robots
    ));
    let robots = register(topology, settings.robots).await?;
    let vkey = verifier_key(topology)?;

    let (stop, stopped) = watch::channel(false);
    let mut callers = JoinSet::new();
    for caller in 0..settings.callers {
        let client = RegistryServiceClient::new(
            topology
                .channel(Service::Registry, Some("service-provider"))
                .await?,
        );
        let mine: Vec<RobotId> = robots
            .iter()
            .skip(caller)
            .step_by(settings.callers)
            .cloned()
            .collect();
        callers.spawn(record_until_stopped(client, mine, stopped.clone()));
    }
    let watcher = tokio::spawn(watch_checkpoints(
        RegistryServiceClient::new(topology.channel(Service::Registry, None).await?),
        stopped.clone(),
    ));

    let started = Instant::now();
    let mut restarts = Vec::new();
    for _ in 0..settings.kills {
        tokio::time::sleep(settings.between_kills).await;
        topology.kill(Service::Registry)?;
        restarts.push(topology.restart(Service::Registry).await?);
    }
    tokio::time::sleep(settings.between_kills).await;
    let _ = stop.send(true);
    let mut log = EventLog::default();
    while let Some(caller) = callers.join_next().await {
        let caller = caller?;
        log.calls.extend(caller.calls);
        log.acknowledged.extend(caller.acknowledged);
        log.unexpected.extend(caller.unexpected);
        log.unresolved += caller.unresolved;
    }
    let ended = Instant::now();
    let mut checkpoints = watcher.await??;

    let tally: Tally = tally_between(&log.calls, started, ended);
    report.line(format!("RecordEvent calls: {}", tally.summary()));
    if let (Some(min), Some(max)) = (restarts.iter().min(), restarts.iter().max()) {
        let mean = restarts.iter().sum::<Duration>() / restarts.len() as u32;
        report.line(format!(
            "registry restart to SERVING min {} mean {} max {}",
            humantime(*min),
            humantime(mean),
            humantime(*max)
        ));
    }
    for code in tally.codes() {
        report.check(
            !matches!(code, Code::Internal),
            "RecordEvent answered INTERNAL under kill -9".to_owned(),
        );
    }
    report.check(
        log.unexpected.is_empty(),
        format!("unexpected answers: {}", cases(&log.unexpected)),
    );
    report.check(
        !log.acknowledged.is_empty(),
        "no RecordEvent was acknowledged at all",
    );
    report.line(format!(
        "{} events acknowledged, {} unresolved",
        log.acknowledged.len(),
        log.unresolved
    ));

    // The log settles: a final checkpoint covering every leaf.
    let mut client = RegistryServiceClient::new(topology.channel(Service::Registry, None).await?);
    let last_index = log
        .acknowledged
        .iter()
        .filter_map(|a| a.log_index)
        .max()
        .unwrap_or(0);
    let settled = Instant::now();
    let last = loop {
        let checkpoint = client
            .get_checkpoint(registry::GetCheckpointRequest {})
            .await?
            .into_inner();
        if checkpoint.tree_size > last_index {
            break checkpoint;
        }
        anyhow::ensure!(
            settled.elapsed() < Duration::from_secs(30),
            "no checkpoint covered leaf {last_index} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    checkpoints.push(last.signed_note.into_bytes());
    check_checkpoints(&mut client, &vkey, &checkpoints, report).await?;

    // Every leaf, from the public tiles, against what the callers were told.
    let web = topology
        .web_addr()
        .ok_or_else(|| anyhow::anyhow!("the registry has no public listener"))?;
    let entries = fetch_entries(web, last.tree_size, &last.root_hash, report).await?;
    check_leaves(&entries, &robots, &log.acknowledged, report);

    // And every history verifies, the log included.
    let mut regulator = RegistryServiceClient::new(
        topology
            .channel(Service::Registry, Some("regulator"))
            .await?,
    );
    let mut broken = Vec::new();
    for robot in &robots {
        let verdict = regulator
            .verify_history(registry::VerifyHistoryRequest {
                robot_id: robot.as_str().into(),
            })
            .await?
            .into_inner();
        if !verdict.intact {
            broken.push(format!("{}: {}", robot.as_str(), verdict.problem));
        }
    }
    report.check(
        broken.is_empty(),
        format!("histories that do not verify: {}", cases(&broken)),
    );
    Ok(())
}

async fn register(topology: &Topology, count: u64) -> anyhow::Result<Vec<RobotId>> {
    let robots: Vec<RobotId> = (1..=count)
        .map(|n| {
            RobotId::issue(
                &"CN".parse().expect("a country"),
                &"0001".parse().expect("a manufacturer"),
                &"HX0001".parse().expect("a model"),
                n,
            )
        })
        .collect();
    let mut issuance = RegistryServiceClient::new(
        topology
            .channel(Service::Registry, Some("issuance"))
            .await?,
    );
    issuance
        .register_robots(registry::RegisterRobotsRequest {
            request_id: request_id("faults-log"),
            robots: robots
                .iter()
                .map(|id| registry::RobotRegistration {
                    robot_id: id.as_str().into(),
                    manufacturer_name: "Hubei Humanoid Works".into(),
                    model_name: "SeeLight S1".into(),
                    ..Default::default()
                })
                .collect(),
            on_behalf_of: String::new(),
        })
        .await?;
    Ok(robots)
}

fn verifier_key(topology: &Topology) -> anyhow::Result<VerifierKey> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let pem = std::fs::read_to_string(topology.log_key())?;
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem.trim())
        .map_err(|e| anyhow::anyhow!("the topology's log key: {e}"))?;
    Ok(NoteSigner::new(LOG_ORIGIN, key)?.verifier_key().clone())
}

fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::ResourceExhausted
            | Code::DeadlineExceeded
            | Code::Unknown
            | Code::Cancelled
            | Code::Aborted
    )
}

/// One caller: MAINTENANCE_PERFORMED on its robots in turn, each call
/// retried with its request id until answered.
async fn record_until_stopped(
    mut client: RegistryServiceClient<Channel>,
    robots: Vec<RobotId>,
    stopped: watch::Receiver<bool>,
) -> EventLog {
    let mut log = EventLog::default();
    let mut turn = 0usize;
    while !*stopped.borrow() {
        let robot = &robots[turn % robots.len()];
        turn += 1;
        let request = registry::RecordEventRequest {
            request_id: request_id("faults-event"),
            robot_id: robot.as_str().into(),
            r#type: common::EventType::MaintenancePerformed.into(),
            details: Some(registry::EventDetails {
                note: format!("inspection {turn}"),
                ..Default::default()
            }),
            occur_time: None,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let started = Instant::now();
            let mut call = tonic::Request::new(request.clone());
            call.set_timeout(CALL_DEADLINE);
            let answer = client.record_event(call).await;
            let code = answer.as_ref().map_or_else(Status::code, |_| Code::Ok);
            log.calls.push(crate::load::Call {
                started,
                took: started.elapsed(),
                code,
            });
            match answer {
                Ok(event) => {
                    let event = event.into_inner();
                    log.acknowledged.push(Acknowledged {
                        robot_id: event.robot_id,
                        sequence: event.sequence as u64,
                        log_index: event.log_index,
                        hash: event.hash,
                    });
                    break;
                }
                Err(status) if retryable(status.code()) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(status) if retryable(status.code()) => {
                    log.unresolved += 1;
                    break;
                }
                Err(status) => {
                    log.unexpected.push(format!(
                        "{}: {:?} {}",
                        request.request_id,
                        status.code(),
                        status.message()
                    ));
                    break;
                }
            }
        }
    }
    log
}

/// Every distinct checkpoint the registry publishes while the load runs.
async fn watch_checkpoints(
    mut client: RegistryServiceClient<Channel>,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut seen: Vec<Vec<u8>> = Vec::new();
    while !*stopped.borrow() {
        if let Ok(answer) = client
            .get_checkpoint(registry::GetCheckpointRequest {})
            .await
        {
            let note = answer.into_inner().signed_note.into_bytes();
            if seen.last() != Some(&note) {
                seen.push(note);
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(seen)
}

/// Signatures, one root per size, and each checkpoint consistent with the
/// next (so every earlier one with every later one).
async fn check_checkpoints(
    client: &mut RegistryServiceClient<Channel>,
    vkey: &VerifierKey,
    notes: &[Vec<u8>],
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut by_size: BTreeMap<u64, Hash> = BTreeMap::new();
    let mut problems = Vec::new();
    for note in notes {
        let signed = SignedCheckpoint::parse(note)?;
        if signed.verify(std::slice::from_ref(vkey)).is_err() {
            problems.push(format!(
                "a checkpoint of size {} is not the log's",
                signed.checkpoint().size()
            ));
            continue;
        }
        let (size, root) = (signed.checkpoint().size(), *signed.checkpoint().root());
        if let Some(other) = by_size.insert(size, root)
            && other != root
        {
            problems.push(format!("two roots for size {size}"));
        }
    }
    let sizes: Vec<(u64, Hash)> = by_size.into_iter().collect();
    for pair in sizes.windows(2) {
        let ((old, old_root), (new, new_root)) = (pair[0], pair[1]);
        // Every tree extends the empty one (RFC 9162 has no proof for it).
        if old == 0 {
            continue;
        }
        let proof = client
            .get_consistency_proof(registry::GetConsistencyProofRequest {
                first_tree_size: old,
                second_tree_size: new,
            })
            .await?
            .into_inner();
        if robotid_tlog::verify_consistency(old, new, &proof.hashes, &old_root, &new_root).is_err()
        {
            problems.push(format!(
                "the checkpoint of size {new} does not extend the one of {old}"
            ));
        }
    }
    report.line(format!(
        "{} checkpoints published, sizes {} to {}",
        sizes.len(),
        sizes.first().map_or(0, |s| s.0),
        sizes.last().map_or(0, |s| s.0)
    ));
    report.check(
        problems.is_empty(),
        format!("checkpoints: {}", cases(&problems)),
    );
    Ok(())
}

/// Every entry of the tree of `size`, from the entry bundles, checked to
/// give `root`.
async fn fetch_entries(
    web: std::net::SocketAddr,
    size: u64,
    root: &[u8],
    report: &mut Report,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut entries = Vec::with_capacity(size as usize);
    for index in 0..size.div_ceil(256) {
        let tile = robotid_tlog::Tile::at_size(0, index, size)
            .ok_or_else(|| anyhow::anyhow!("no tile {index} at size {size}"))?;
        let path = format!("/log/{}", tile.entry_bundle_path().expect("level 0"));
        let answer = robotid_test_support::http::get(web, &path, &[]).await;
        anyhow::ensure!(answer.status == 200, "{path}: HTTP {}", answer.status);
        let bundle = robotid_tlog::decode_entry_bundle(&answer.body)?;
        entries.extend(bundle.into_iter().map(<[u8]>::to_vec));
    }
    let hashes: Vec<Hash> = entries.iter().map(|e| robotid_tlog::leaf_hash(e)).collect();
    let built = robotid_tlog::tree::append(&TileSet::new(), 0, &hashes)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    report.check(
        entries.len() as u64 == size && built.tree_hash[..] == *root,
        format!("the {size} entries served do not give the final checkpoint's root"),
    );
    Ok(entries)
}

/// No leaf lost, duplicated or reordered; every acknowledged event at its
/// index.
fn check_leaves(
    entries: &[Vec<u8>],
    robots: &[RobotId],
    acknowledged: &[Acknowledged],
    report: &mut Report,
) {
    let mut problems = Vec::new();
    let mut seen: HashSet<(String, u64)> = HashSet::new();
    let mut next: HashMap<String, u64> = HashMap::new();
    let mut events = 0usize;
    for (index, entry) in entries.iter().enumerate() {
        let Some(event) = leaf::parse_event(entry) else {
            continue;
        };
        events += 1;
        if !seen.insert((event.robot_id.clone(), event.sequence)) {
            problems.push(format!(
                "leaf {index}: event {} of {} twice",
                event.sequence, event.robot_id
            ));
        }
        let expected = next.entry(event.robot_id.clone()).or_insert(1);
        if event.sequence != *expected {
            problems.push(format!(
                "leaf {index}: event {} of {} where {} was due",
                event.sequence, event.robot_id, expected
            ));
        }
        *expected = event.sequence + 1;
    }
    for robot in robots {
        if !next.contains_key(robot.as_str()) {
            problems.push(format!("no leaf of {}", robot.as_str()));
        }
    }
    for ack in acknowledged {
        let at = ack
            .log_index
            .and_then(|index| entries.get(index as usize))
            .and_then(|entry| leaf::parse_event(entry));
        match at {
            Some(leaf)
                if leaf.robot_id == ack.robot_id
                    && leaf.sequence == ack.sequence
                    && leaf.chain_hash.to_hex() == ack.hash => {}
            _ => problems.push(format!(
                "event {} of {} (answered at leaf {:?}) is not there",
                ack.sequence, ack.robot_id, ack.log_index
            )),
        }
    }
    report.line(format!(
        "{} leaves, {events} of them events; every acknowledged event checked at its index",
        entries.len()
    ));
    report.check(problems.is_empty(), format!("leaves: {}", cases(&problems)));
}
