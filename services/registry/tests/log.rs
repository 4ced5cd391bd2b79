//! The transparency log of a running registry, over its gRPC API and its
//! public tiles: every event is a leaf, the checkpoints verify with the
//! log's key, the proofs verify against them, a restart extends the same
//! tree, and truncating a robot's history or the access log — with the
//! heads rolled back in the database — is reported.

mod support;

use std::time::Duration;

use robotid_proto::common::v1::EventType;
use robotid_proto::registry::v1 as pb;
use robotid_registry::log::leaf;
use robotid_test_support::http::{HttpResponse, get};
use robotid_test_support::keys::TEST_LOG_ORIGIN;
use robotid_test_support::{TestDb, each_backend};
use robotid_tlog::{Hash, NoteSigner, SignedCheckpoint, TileSet, VerifierKey};
use sqlx::Row;
use support::*;
use tonic::Code;

each_backend!(
    every_event_is_a_leaf_served_as_tiles_under_a_signed_checkpoint,
    proofs_verify_against_the_checkpoints_and_bad_sizes_are_refused,
    a_restarted_registry_extends_the_same_tree,
    deleting_a_robots_newest_events_with_the_head_rolled_back_is_reported,
    deleting_an_access_log_entry_with_its_head_rolled_back_is_reported,
    a_registry_that_kept_a_log_does_not_start_without_its_key,
);

/// The verifier key of the test log key (`keys::log_key_file`).
fn test_verifier_key() -> VerifierKey {
    let key = ed25519_dalek::SigningKey::from_bytes(&[0x1a; 32]);
    NoteSigner::new(TEST_LOG_ORIGIN, key)
        .unwrap()
        .verifier_key()
        .clone()
}

async fn spawn_logged(db: TestDb) -> TestRegistry {
    spawn_registry_with(db, |config| {
        config.http_listen = Some("127.0.0.1:0".parse().unwrap());
        config.log_integration_ms = 20;
    })
    .await
}

async fn fetch(registry: &TestRegistry, path: &str) -> HttpResponse {
    get(registry.http.expect("the public listener"), path, &[]).await
}

fn verified(note: &[u8]) -> SignedCheckpoint {
    let signed = SignedCheckpoint::parse(note).expect("a signed checkpoint");
    let key = test_verifier_key();
    let verified = signed
        .verify(std::slice::from_ref(&key))
        .expect("the log's signature verifies");
    assert!(verified.signed_by(&key));
    signed
}

fn hashes(proof: &[Vec<u8>]) -> Vec<Hash> {
    proof
        .iter()
        .map(|hash| Hash::try_from(hash.as_slice()).expect("32 bytes"))
        .collect()
}

async fn every_event_is_a_leaf_served_as_tiles_under_a_signed_checkpoint(db: TestDb) {
    let mut registry = spawn_logged(db).await;
    let ids = [robot(1), robot(2), robot(3)];
    registry.register(&ids).await;
    registry.release(&ids).await;
    let recorded = registry
        .record(
            &ids[0],
            EventType::MaintenancePerformed,
            pb::EventDetails {
                note: "oil".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let index = recorded
        .log_index
        .expect("a recorded event has its log index");

    // Every event the API returns carries its index: all different, and
    // the robot's full view gives its newest.
    let mut indices = Vec::new();
    for id in &ids {
        let events = registry.all_events(id).await;
        indices.extend(events.iter().map(|event| event.log_index.expect("indexed")));
        let full = registry.full(id).await;
        assert_eq!(full.head_log_index, events.last().unwrap().log_index);
    }
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len(), 7, "seven events, seven leaves");
    assert!(indices.contains(&index));

    // Every event (the newest is the maintenance), and after it a leaf
    // that can only be an anchor of the access log, which moved with them.
    let checkpoint = registry.checkpoint_covering(index + 2).await;
    assert_eq!(checkpoint.origin, TEST_LOG_ORIGIN);
    let served = fetch(&registry, "/log/checkpoint").await;
    assert_eq!(served.status, 200);
    assert_eq!(
        served.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(served.header("cache-control"), Some("public, max-age=1"));
    let signed = verified(&served.body);
    let size = signed.checkpoint().size();
    assert!(size >= checkpoint.tree_size);

    // The entries hash to the level-0 tile, and the tree over them has the
    // checkpoint's root.
    let width = size.min(256);
    let suffix = if width == 256 {
        String::new()
    } else {
        format!(".p/{width}")
    };
    let bundle = fetch(&registry, &format!("/log/tile/entries/000{suffix}")).await;
    assert_eq!(bundle.status, 200);
    assert_eq!(
        bundle.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        bundle.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let entries = robotid_tlog::decode_entry_bundle(&bundle.body).unwrap();
    assert_eq!(entries.len() as u64, width);
    let tile = fetch(&registry, &format!("/log/tile/0/000{suffix}")).await;
    assert_eq!(tile.status, 200);
    let leaf_hashes: Vec<Hash> = entries.iter().map(|e| robotid_tlog::leaf_hash(e)).collect();
    assert_eq!(tile.body, leaf_hashes.concat());
    if size <= 256 {
        let built = robotid_tlog::tree::append(&TileSet::new(), 0, &leaf_hashes).unwrap();
        assert_eq!(&built.tree_hash, signed.checkpoint().root());
    }
    // The recorded event's leaf is its CBOR entry: the robot, the
    // sequence, the chain hash; never a holder.
    let entry = entries[index as usize];
    assert_eq!(leaf::event_sequence(entry), Some(recorded.sequence as u64));
    let text = String::from_utf8_lossy(entry);
    assert!(text.contains(ids[0].as_str()));
    assert!(entry.windows(32).any(|w| hex::encode(w) == recorded.hash));
    // An anchor of the access log is among the leaves.
    assert!(
        entries
            .iter()
            .any(|entry| leaf::parse_access_anchor(entry).is_some())
    );

    // Wrong paths and tiles the tree has not reached are 404s.
    for path in [
        "/log/tile/0/0",
        "/log/tile/0/001",
        "/log/tile/entries/x000/000",
        "/log/tile/0/000.p/0",
        "/log/tile/1/000",
        "/log/tile/entries/000.p/255",
    ] {
        assert_eq!(fetch(&registry, path).await.status, 404, "{path}");
    }
    registry.stop().await;
}

async fn proofs_verify_against_the_checkpoints_and_bad_sizes_are_refused(db: TestDb) {
    let mut registry = spawn_logged(db).await;
    let ids: Vec<_> = (1..=5).map(robot).collect();
    registry.register(&ids).await;
    let first = registry.checkpoint_covering(5).await;
    registry.release(&ids).await;
    let stolen = registry
        .record_as(
            "police",
            &ids[2],
            EventType::ReportedStolen,
            Default::default(),
        )
        .await
        .unwrap();
    // Anchors of the access log take indices too: wait for the report's.
    let second = registry
        .checkpoint_covering(stolen.log_index.unwrap() + 1)
        .await;
    let mut client = registry.client.clone();

    let proof = client
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            log_index: stolen.log_index.unwrap(),
            tree_size: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(proof.tree_size, second.tree_size);
    let signed = verified(proof.checkpoint.as_bytes());
    assert_eq!(signed.checkpoint().size(), proof.tree_size);
    robotid_tlog::verify_inclusion(
        proof.log_index,
        proof.tree_size,
        &robotid_tlog::leaf_hash(&proof.entry),
        &hashes(&proof.hashes),
        &second.root_hash,
    )
    .expect("the stolen report is in the tree");
    assert_eq!(
        leaf::event_sequence(&proof.entry),
        Some(stolen.sequence as u64)
    );

    let consistency = client
        .get_consistency_proof(pb::GetConsistencyProofRequest {
            first_tree_size: first.tree_size,
            second_tree_size: second.tree_size,
        })
        .await
        .unwrap()
        .into_inner();
    robotid_tlog::verify_consistency(
        first.tree_size,
        second.tree_size,
        &hashes(&consistency.hashes),
        &first.root_hash,
        &second.root_hash,
    )
    .expect("the later checkpoint extends the earlier");

    let refused = client
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            log_index: second.tree_size,
            tree_size: second.tree_size,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let latest = registry.checkpoint_covering(second.tree_size).await;
    let refused = client
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            log_index: 0,
            tree_size: latest.tree_size + 1_000,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::OutOfRange, "{refused:?}");
    let refused = client
        .get_consistency_proof(pb::GetConsistencyProofRequest {
            first_tree_size: second.tree_size,
            second_tree_size: first.tree_size,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    registry.stop().await;
}

async fn a_restarted_registry_extends_the_same_tree(db: TestDb) {
    let mut registry = spawn_logged(db).await;
    registry.register(&[robot(1), robot(2)]).await;
    let before = registry.checkpoint_covering(2).await;
    let db = registry.stopped().await;

    let mut registry = spawn_logged(db).await;
    registry.release(&[robot(1)]).await;
    let after = registry.checkpoint_covering(before.tree_size + 1).await;
    let consistency = registry
        .client
        .clone()
        .get_consistency_proof(pb::GetConsistencyProofRequest {
            first_tree_size: before.tree_size,
            second_tree_size: after.tree_size,
        })
        .await
        .unwrap()
        .into_inner();
    robotid_tlog::verify_consistency(
        before.tree_size,
        after.tree_size,
        &hashes(&consistency.hashes),
        &before.root_hash,
        &after.root_hash,
    )
    .expect("the restarted log extends the one before");
    registry.stop().await;
}

async fn deleting_a_robots_newest_events_with_the_head_rolled_back_is_reported(db: TestDb) {
    let mut registry = spawn_logged(db).await;
    let id = robot(1);
    registry.register(std::slice::from_ref(&id)).await;
    registry.release(std::slice::from_ref(&id)).await;
    let kept = registry.all_events(&id).await.pop().unwrap();
    for note in ["oil", "belts"] {
        registry
            .record(
                &id,
                EventType::MaintenancePerformed,
                pb::EventDetails {
                    note: note.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    assert!(registry.verify(&id).await.intact);

    // An operator hides the two maintenance events: deletes them, and
    // rolls the robot's count and head back to the event before, so that
    // the chain that is left is intact.
    let deleted = registry
        .tamper(format!(
            "DELETE FROM events WHERE robot_id = '{}' AND sequence > {}",
            id.as_str(),
            kept.sequence
        ))
        .await;
    assert_eq!(deleted, 2);
    let head = hex_literal(&registry, &kept.hash);
    registry
        .tamper(format!(
            "UPDATE robots SET event_count = {}, head_hash = {head} WHERE robot_id = '{}'",
            kept.sequence,
            id.as_str()
        ))
        .await;

    let verdict = registry.verify(&id).await;
    assert!(!verdict.intact, "{verdict:?}");
    assert_eq!(
        verdict.problem_kind(),
        pb::HistoryProblem::MissingFromHistory
    );
    assert_eq!(verdict.first_broken_sequence, kept.sequence + 1);
    assert!(
        verdict.problem.contains("transparency log"),
        "{}",
        verdict.problem
    );
    registry.stop().await;
}

async fn deleting_an_access_log_entry_with_its_head_rolled_back_is_reported(db: TestDb) {
    let mut registry = spawn_logged(db).await;
    let id = robot(1);
    registry.register(std::slice::from_ref(&id)).await;
    registry.release(std::slice::from_ref(&id)).await;
    let verdict = registry
        .as_("regulator")
        .await
        .verify_access_log(pb::VerifyAccessLogRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(verdict.intact, "{verdict:?}");

    // Wait until an anchor holds the newest entry of some shard, then
    // delete that entry and roll its shard's head back.
    let (shard, sequence, previous) = loop {
        let rows = registry
            .query("SELECT entry FROM log_entries WHERE robot_id IS NULL ORDER BY log_index DESC")
            .await;
        let anchored = rows
            .first()
            .and_then(|row| leaf::parse_access_anchor(&row.get::<Vec<u8>, _>("entry")));
        let heads = registry
            .query("SELECT shard, sequence FROM access_log_heads WHERE sequence > 0")
            .await;
        let covered = anchored.as_ref().and_then(|anchored| {
            heads.iter().find_map(|head| {
                let (shard, sequence) = (
                    head.get::<i64, _>("shard") as u32,
                    head.get::<i64, _>("sequence") as u64,
                );
                anchored
                    .iter()
                    .any(|(s, q, _)| *s == shard && *q == sequence)
                    .then_some((shard, sequence))
            })
        });
        if let Some((shard, sequence)) = covered {
            let previous = registry
                .query(&format!(
                    "SELECT previous_hash FROM access_log WHERE shard = {shard} AND sequence = {sequence}"
                ))
                .await
                .remove(0)
                .get::<Vec<u8>, _>("previous_hash");
            break (shard, sequence, previous);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    registry
        .tamper(format!(
            "DELETE FROM access_log_robots WHERE shard = {shard} AND sequence = {sequence}"
        ))
        .await;
    let deleted = registry
        .tamper(format!(
            "DELETE FROM access_log WHERE shard = {shard} AND sequence = {sequence}"
        ))
        .await;
    assert_eq!(deleted, 1);
    let previous = hex_literal(&registry, &hex::encode(previous));
    registry
        .tamper(format!(
            "UPDATE access_log_heads SET sequence = {}, hash = {previous} WHERE shard = {shard}",
            sequence - 1
        ))
        .await;

    let verdict = registry
        .as_("regulator")
        .await
        .verify_access_log(pb::VerifyAccessLogRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!verdict.intact, "{verdict:?}");
    assert_eq!(verdict.broken_shard as u32, shard);
    assert_eq!(verdict.broken_sequence as u64, sequence);
    assert!(verdict.problem.contains("anchored"), "{}", verdict.problem);
    registry.stop().await;
}

async fn a_registry_that_kept_a_log_does_not_start_without_its_key(db: TestDb) {
    let mut registry = spawn_logged(db).await;
    registry.register(&[robot(1)]).await;
    let db = registry.stopped().await;
    let mut config =
        robotid_registry::RegistryConfig::new("127.0.0.1:0".parse().unwrap(), db.url.clone());
    config.server.tls = robotid_test_support::tls::service_tls("registry");
    let holder_key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(holder_key.path(), [7u8; 32]).unwrap();
    config.holder_key_file = Some(holder_key.path().to_owned());
    let refused = robotid_registry::App::build(config)
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{refused:#}").contains("--log-key-file"),
        "{refused:#}"
    );
}

/// A bytes literal of `hex` in the database's dialect.
fn hex_literal(registry: &TestRegistry, hex: &str) -> String {
    if registry.db.dir().is_some() {
        format!("X'{hex}'")
    } else {
        format!("'\\x{hex}'::bytea")
    }
}
