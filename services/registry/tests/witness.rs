//! Three registries (CN, DE, FR) witness each other's logs over their
//! public listeners (c2sp.org/tlog-witness): each cosigns the others' true
//! checkpoints, which they publish with the cosignatures; a forked CN
//! checkpoint, signed with CN's real log key, is refused with 422 and kept
//! as evidence; every answer of the spec is exercised.

mod support;

use std::time::Duration;

use robotid_domain::code::RobotId;
use robotid_proto::registry::v1 as pb;
use robotid_test_support::http::{HttpResponse, post};
use robotid_test_support::keys::ed25519_key_file;
use robotid_test_support::{TestDb, each_backend};
use robotid_tlog::witness::SIZE_CONTENT_TYPE;
use robotid_tlog::{AddCheckpoint, Checkpoint, Hash, NoteSigner, SignedCheckpoint, VerifierKey};
use support::*;
use tonic::Code;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

/// Whether `service` of the registry's `grpc.health.v1` answers SERVING.
async fn serving(registry: &TestRegistry, service: &str) -> bool {
    let channel = robotid_test_support::tls::channel(registry.addr, None).await;
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status();
    status == ServingStatus::Serving
}

async fn peer_logs_consistent(registry: &TestRegistry) -> bool {
    serving(
        registry,
        robotid_registry::witness::PEER_LOGS_HEALTH_SERVICE,
    )
    .await
}

each_backend!(three_registries_witness_each_other_and_keep_a_fork_as_evidence);

/// One country's registry in the test: its log and witness keys' seeds.
struct Country {
    code: &'static str,
    log_seed: u8,
    witness_seed: u8,
}

const COUNTRIES: [Country; 3] = [
    Country {
        code: "CN",
        log_seed: 0x31,
        witness_seed: 0x41,
    },
    Country {
        code: "DE",
        log_seed: 0x32,
        witness_seed: 0x42,
    },
    Country {
        code: "FR",
        log_seed: 0x33,
        witness_seed: 0x43,
    },
];

fn origin(code: &str) -> String {
    format!("{}.registry.test/log", code.to_ascii_lowercase())
}

fn witness_name(code: &str) -> String {
    format!("{}.registry.test/witness", code.to_ascii_lowercase())
}

fn log_signer(country: &Country) -> NoteSigner {
    let key = ed25519_dalek::SigningKey::from_bytes(&[country.log_seed; 32]);
    NoteSigner::new(&origin(country.code), key).unwrap()
}

fn witness_key(country: &Country) -> VerifierKey {
    let key = ed25519_dalek::SigningKey::from_bytes(&[country.witness_seed; 32]);
    robotid_tlog::Cosigner::new(&witness_name(country.code), key)
        .unwrap()
        .verifier_key()
        .clone()
}

async fn spawn_country(db: TestDb, country: &Country) -> TestRegistry {
    spawn_registry_with(db, |config| {
        config.country = country.code.into();
        config.http_listen = Some("127.0.0.1:0".parse().unwrap());
        config.log_integration_ms = 20;
        config.log_origin = Some(origin(country.code));
        config.log_key_file = Some(ed25519_key_file("log", country.log_seed));
        config.witness_name = Some(witness_name(country.code));
        config.witness_key_file = Some(ed25519_key_file("witness", country.witness_seed));
    })
    .await
}

async fn databases(first: TestDb) -> Vec<TestDb> {
    let mut dbs = vec![first];
    for _ in 1..COUNTRIES.len() {
        dbs.push(match dbs[0].backend {
            robotid_test_support::Backend::Sqlite => TestDb::sqlite(),
            robotid_test_support::Backend::Postgres => TestDb::postgres().await.unwrap(),
        });
    }
    dbs
}

/// The newest checkpoint of `registry` once it carries a cosignature of
/// every witness in `witnesses`.
async fn cosigned_by(registry: &TestRegistry, witnesses: &[VerifierKey]) -> SignedCheckpoint {
    let mut client = registry.client.clone();
    for _ in 0..500 {
        let answer = client
            .get_checkpoint(pb::GetCheckpointRequest {})
            .await
            .unwrap()
            .into_inner();
        let signed = SignedCheckpoint::parse(answer.signed_note.as_bytes()).unwrap();
        let all = witnesses.iter().all(|key| {
            signed
                .verify(std::slice::from_ref(key))
                .is_ok_and(|verified| verified.signed_by(key))
        });
        if all && signed.checkpoint().size() > 0 {
            return signed;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no checkpoint cosigned by every witness within 10 s");
}

async fn add_checkpoint(witness: &TestRegistry, request: &[u8]) -> HttpResponse {
    post(
        witness.http.unwrap(),
        "/witness/add-checkpoint",
        "text/plain; charset=utf-8",
        request,
    )
    .await
}

fn request(old: u64, proof: Vec<Hash>, checkpoint: SignedCheckpoint) -> Vec<u8> {
    AddCheckpoint::new(old, proof, checkpoint).to_bytes()
}

async fn three_registries_witness_each_other_and_keep_a_fork_as_evidence(db: TestDb) {
    let mut registries = Vec::new();
    for (db, country) in databases(db).await.into_iter().zip(&COUNTRIES) {
        registries.push(spawn_country(db, country).await);
    }
    // Each one's transfer service sets the others as its peers.
    for (registry, country) in registries.iter().zip(&COUNTRIES) {
        let mut transfer = registry.as_("transfer").await;
        for (peer, peer_country) in registries.iter().zip(&COUNTRIES) {
            if peer_country.code == country.code {
                continue;
            }
            transfer
                .put_peer(pb::PutPeerRequest {
                    peer: Some(pb::Peer {
                        country_code: peer_country.code.into(),
                        log_origin: origin(peer_country.code),
                        log_key: log_signer(peer_country).verifier_key().to_string(),
                        witness_key: witness_key(peer_country).to_string(),
                        web_url: format!("http://{}", peer.http.unwrap()),
                        active: true,
                        ..Default::default()
                    }),
                })
                .await
                .unwrap();
        }
        // Its own country is not a peer; a key of the wrong type is refused.
        let refused = transfer
            .put_peer(pb::PutPeerRequest {
                peer: Some(pb::Peer {
                    country_code: "IT".into(),
                    log_origin: origin("IT"),
                    log_key: witness_key(country).to_string(),
                    witness_key: witness_key(country).to_string(),
                    web_url: "http://127.0.0.1:9".into(),
                    active: true,
                    ..Default::default()
                }),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    }
    let listed = registries[0]
        .as_("regulator")
        .await
        .list_peers(pb::ListPeersRequest {})
        .await
        .unwrap()
        .into_inner()
        .peers;
    assert_eq!(
        listed
            .iter()
            .map(|p| p.country_code.as_str())
            .collect::<Vec<_>>(),
        ["DE", "FR"]
    );
    assert_eq!(listed[0].updated_by, "robotid://service/transfer");

    // CN records; DE's and FR's witnesses cosign its checkpoint, which CN
    // publishes with their cosignatures.
    let (cn, de, fr) = (&registries[0], &registries[1], &registries[2]);
    // Each registers robots of its own: each log has leaves to witness.
    for (registry, country) in registries.iter().zip(&COUNTRIES) {
        let ids: Vec<RobotId> = (1..=3)
            .map(|n| {
                RobotId::issue(
                    &country.code.parse().unwrap(),
                    &"0001".parse().unwrap(),
                    &"HX0001".parse().unwrap(),
                    n,
                )
            })
            .collect();
        registry
            .as_("issuance")
            .await
            .register_robots(pb::RegisterRobotsRequest {
                request_id: robotid_test_support::unique("witness"),
                robots: ids.iter().map(registration).collect(),
                on_behalf_of: String::new(),
            })
            .await
            .unwrap();
    }
    let witnesses = [witness_key(&COUNTRIES[1]), witness_key(&COUNTRIES[2])];
    let signed = cosigned_by(cn, &witnesses).await;
    let cn_key = log_signer(&COUNTRIES[0]).verifier_key().clone();
    assert!(
        signed
            .verify(std::slice::from_ref(&cn_key))
            .unwrap()
            .signed_by(&cn_key)
    );
    let size = signed.checkpoint().size();
    // The HTTP checkpoint carries them too; DE's and FR's own logs are
    // cosigned by the other two in turn.
    let served = robotid_test_support::http::get(cn.http.unwrap(), "/log/checkpoint", &[]).await;
    let served = SignedCheckpoint::parse(&served.body).unwrap();
    assert!(served.verify(&witnesses).unwrap().signatures.len() >= 2);
    cosigned_by(
        de,
        &[witness_key(&COUNTRIES[0]), witness_key(&COUNTRIES[2])],
    )
    .await;
    cosigned_by(
        fr,
        &[witness_key(&COUNTRIES[0]), witness_key(&COUNTRIES[1])],
    )
    .await;

    // CN is quiet now; the witnesses hold its checkpoint of `size` (or a
    // later one): a stale old size is answered 409 with the size held.
    let stale = add_checkpoint(de, &request(0, Vec::new(), log_only(&signed))).await;
    assert_eq!(stale.status, 409, "{}", stale.text());
    assert_eq!(stale.header("content-type"), Some(SIZE_CONTENT_TYPE));
    let held: u64 = stale.text().trim().parse().unwrap();
    assert!(held >= size, "{held} < {size}");
    let current = cosigned_by(cn, &witnesses).await;
    assert_eq!(current.checkpoint().size(), held, "CN grew while quiet");
    let current_log_only = log_only(&current);

    // The same checkpoint again: cosigned again (200, one line per key).
    let again = add_checkpoint(de, &request(held, Vec::new(), current_log_only.clone())).await;
    assert_eq!(again.status, 200, "{}", again.text());
    let lines = robotid_tlog::witness::parse_cosignatures(&again.text()).unwrap();
    assert_eq!(lines.len(), 1);
    let mut cosigned = current_log_only.clone();
    cosigned.add_signature(lines[0].clone());
    assert!(
        cosigned
            .verify(&witnesses[..1])
            .unwrap()
            .signed_by(&witnesses[0])
    );

    // The fork: CN's real key signs another tree of the size held.
    let forked = SignedCheckpoint::sign(
        Checkpoint::new(&origin("CN"), held, [0xf0; 32]).unwrap(),
        &log_signer(&COUNTRIES[0]),
    );
    for witness in [de, fr] {
        assert!(peer_logs_consistent(witness).await, "no fork yet");
        let refused = add_checkpoint(witness, &request(held, Vec::new(), forked.clone())).await;
        assert_eq!(refused.status, 422, "{}", refused.text());
        // The health detail turns NOT_SERVING; the registry stays SERVING.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while peer_logs_consistent(witness).await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the fork shows in health"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(serving(witness, "").await);
        let evidence = witness
            .as_("regulator")
            .await
            .list_fork_evidence(pb::ListForkEvidenceRequest {})
            .await
            .unwrap()
            .into_inner()
            .evidence;
        assert_eq!(evidence.len(), 1, "{evidence:?}");
        assert_eq!(evidence[0].origin, origin("CN"));
        assert_eq!(evidence[0].kind, "SAME_SIZE_OTHER_ROOT");
        assert_eq!(evidence[0].cosigned_size, held);
        let kept = AddCheckpoint::parse(evidence[0].request.as_bytes()).unwrap();
        assert!(
            kept.checkpoint()
                .verify(std::slice::from_ref(&cn_key))
                .is_ok()
        );
        assert_eq!(kept.checkpoint().checkpoint().root(), &[0xf0; 32]);
    }
    // A larger forked tree with a proof that does not verify: 422, kept.
    let larger = SignedCheckpoint::sign(
        Checkpoint::new(&origin("CN"), held + 5, [0xf1; 32]).unwrap(),
        &log_signer(&COUNTRIES[0]),
    );
    let refused = add_checkpoint(fr, &request(held, vec![[0x0b; 32]; 3], larger)).await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    let evidence = fr
        .as_("regulator")
        .await
        .list_fork_evidence(pb::ListForkEvidenceRequest {})
        .await
        .unwrap()
        .into_inner()
        .evidence;
    assert!(
        evidence.iter().any(|e| e.kind == "NO_CONSISTENCY_PROOF"),
        "{evidence:?}"
    );
    // The true checkpoint is still cosigned afterwards.
    let after = add_checkpoint(fr, &request(held, Vec::new(), current_log_only.clone())).await;
    assert_eq!(after.status, 200, "{}", after.text());

    // The other answers: 404 unknown origin, 403 not the log's key, 400
    // old size beyond the checkpoint and a body that does not parse.
    let unknown = SignedCheckpoint::sign(
        Checkpoint::new("unknown.registry.test/log", 3, [1; 32]).unwrap(),
        &NoteSigner::new(
            "unknown.registry.test/log",
            ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
        )
        .unwrap(),
    );
    assert_eq!(
        add_checkpoint(de, &request(0, Vec::new(), unknown))
            .await
            .status,
        404
    );
    let impostor = SignedCheckpoint::sign(
        Checkpoint::new(&origin("CN"), held, *current.checkpoint().root()).unwrap(),
        &NoteSigner::new(
            &origin("CN"),
            ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
        )
        .unwrap(),
    );
    assert_eq!(
        add_checkpoint(de, &request(held, Vec::new(), impostor))
            .await
            .status,
        403
    );
    assert_eq!(
        add_checkpoint(de, &request(held + 1, Vec::new(), current_log_only.clone()))
            .await
            .status,
        400
    );
    assert_eq!(
        add_checkpoint(de, b"old x\n\nnot a checkpoint\n")
            .await
            .status,
        400
    );
    // None of these is evidence: only the log's own signature makes one.
    let evidence = de
        .as_("regulator")
        .await
        .list_fork_evidence(pb::ListForkEvidenceRequest {})
        .await
        .unwrap()
        .into_inner()
        .evidence;
    assert_eq!(evidence.len(), 1);

    for registry in registries {
        registry.stop().await;
    }
}

/// `signed` with only the log's own signature, as a log sends it.
fn log_only(signed: &SignedCheckpoint) -> SignedCheckpoint {
    let origin = signed.checkpoint().origin().to_owned();
    let note = signed.note();
    let mut text = format!("{}\n", note.text());
    for signature in note.signatures() {
        if signature.name() == origin {
            text.push_str(&signature.to_line());
        }
    }
    SignedCheckpoint::parse(text.as_bytes()).unwrap()
}
