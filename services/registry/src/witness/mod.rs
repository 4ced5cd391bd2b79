//! The registry's witness of its trusted peers' logs
//! (c2sp.org/tlog-witness, tlog-cosignature): it cosigns a peer's
//! checkpoint only if it extends the newest one it cosigned of that log,
//! so a peer that shows two histories is caught, and the checkpoints it
//! refuses although the peer's log key signed them are kept as evidence.
//!
//! The decision is [`robotid_tlog::Witness::decide`], against the stored
//! head; storing the new head is a compare-and-swap on the old one in the
//! same transaction, committed before the answer leaves (a lost race is
//! decided again, and answers 409).

pub mod http;
pub mod store;

use std::sync::Arc;

use robotid_domain::time::Timestamp;
use robotid_tlog::{AddCheckpoint, Cosigner, ForkKind, Refused, VerifierKey, Witness};
use sqlx::AnyPool;

use self::store::Peer;

/// What the witness answers an `add-checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

#[derive(Clone)]
pub struct RegistryWitness {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    name: String,
    key: ed25519_dalek::SigningKey,
    verifier: VerifierKey,
    forks: opentelemetry::metrics::Counter<u64>,
}

impl RegistryWitness {
    /// The database it keeps its heads and fork evidence in.
    pub fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// The witness named `name` (its cosignature key's name), cosigning
    /// with `key`.
    pub fn new(
        pool: AnyPool,
        name: String,
        key: ed25519_dalek::SigningKey,
    ) -> Result<Self, robotid_tlog::KeyError> {
        let verifier = Cosigner::new(&name, key.clone())?.verifier_key().clone();
        let forks = opentelemetry::global::meter("robotid")
            .u64_counter("robotid.witness.forks")
            .with_description(
                "Peer checkpoints refused although the peer's log key signed them (fork evidence)",
            )
            .build();
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                name,
                key,
                verifier,
                forks,
            }),
        })
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The cosignature verifier key (type 0x04) peers and policies trust.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.inner.verifier
    }

    /// Decides on an `add-checkpoint` body, stores what it cosigns before
    /// answering, and keeps fork evidence.
    pub async fn add_checkpoint(&self, body: &[u8]) -> Result<Answer, sqlx::Error> {
        let request = match AddCheckpoint::parse(body) {
            Ok(request) => request,
            Err(refusal) => return Ok(refused(&refusal.into())),
        };
        let mut connection = self.inner.pool.acquire().await?;
        let witness = self.witness(&store::peers(&mut connection).await?);
        // A lost compare-and-swap means another request moved the head:
        // decided again, it answers 409 with the new size.
        for _ in 0..3 {
            let stored = store::head(&mut connection, request.origin()).await?;
            let now = Timestamp::now();
            let seconds = (now.as_micros() / 1_000_000).max(0) as u64;
            match witness.decide(&request, stored.as_ref(), seconds) {
                Ok(cosigned) => {
                    let swapped = store::swap_head(
                        &mut connection,
                        request.origin(),
                        cosigned.previous.as_ref(),
                        &cosigned.latest,
                        now.as_micros(),
                    )
                    .await?;
                    if swapped {
                        return Ok(Answer {
                            status: 200,
                            content_type: robotid_tlog::witness::COSIGNATURES_CONTENT_TYPE,
                            body: cosigned.body(),
                        });
                    }
                }
                Err(refusal) => {
                    if let Some(evidence) = &refusal.fork_evidence {
                        self.keep_fork(&mut connection, evidence, now.as_micros())
                            .await?;
                    }
                    return Ok(refused(&refusal));
                }
            }
        }
        Ok(Answer {
            status: 503,
            content_type: "text/plain; charset=utf-8",
            body: "the witness is busy with this log; retry\n".into(),
        })
    }

    /// The witness of the active peers' logs, as they are now.
    fn witness(&self, peers: &[Peer]) -> Witness {
        let cosigner = Cosigner::new(&self.inner.name, self.inner.key.clone())
            .expect("the name was checked when the witness was made");
        let mut witness = Witness::new(cosigner);
        for peer in peers.iter().filter(|peer| peer.active) {
            match VerifierKey::parse(&peer.log_key) {
                Ok(key) => witness.trust_log(&peer.log_origin, vec![key]),
                Err(error) => tracing::warn!(
                    country = %peer.country,
                    %error,
                    "a peer's log key does not parse; its log is not witnessed"
                ),
            }
        }
        witness
    }

    async fn keep_fork(
        &self,
        connection: &mut sqlx::AnyConnection,
        evidence: &robotid_tlog::ForkEvidence,
        at_micros: i64,
    ) -> Result<(), sqlx::Error> {
        let checkpoint = evidence.request.checkpoint().checkpoint();
        let fork = store::Fork {
            origin: checkpoint.origin().to_owned(),
            size: checkpoint.size(),
            root: *checkpoint.root(),
            kind: match evidence.kind {
                ForkKind::SameSizeOtherRoot => "SAME_SIZE_OTHER_ROOT",
                ForkKind::NoConsistencyProof => "NO_CONSISTENCY_PROOF",
            },
            cosigned_size: evidence.cosigned.size,
            cosigned_root: evidence.cosigned.root,
            request: evidence.request.to_bytes(),
            received_at: at_micros,
        };
        if store::keep_fork(connection, &fork).await? {
            self.inner.forks.add(1, &[]);
            tracing::error!(
                origin = %fork.origin,
                size = fork.size,
                kind = fork.kind,
                cosigned_size = fork.cosigned_size,
                "a peer log signed a checkpoint that contradicts the one this witness cosigned: \
                 fork evidence kept"
            );
        }
        Ok(())
    }
}

fn refused(refused: &Refused) -> Answer {
    Answer {
        status: refused.refusal.status(),
        content_type: refused.refusal.content_type(),
        body: refused.refusal.body(),
    }
}

/// The `grpc.health.v1` detail that says whether the peers' logs are
/// consistent: NOT_SERVING once this witness kept fork evidence, for
/// operators' alerts (with the `robotid.witness.forks` counter); the
/// registry itself stays SERVING.
pub const PEER_LOGS_HEALTH_SERVICE: &str = "robotid.registry.v1.PeerLogsConsistent";

/// Keeps [`PEER_LOGS_HEALTH_SERVICE`] in step with the fork evidence kept
/// (by any instance), until `stop`.
pub async fn report_forks(
    pool: sqlx::AnyPool,
    health: robotid_platform::server::Health,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        match pool.acquire().await {
            Ok(mut connection) => match store::fork_count(&mut connection).await {
                Ok(forks) => {
                    health
                        .set_service(PEER_LOGS_HEALTH_SERVICE, forks == 0)
                        .await
                }
                Err(error) => tracing::warn!(%error, "counting fork evidence failed"),
            },
            Err(error) => tracing::warn!(%error, "counting fork evidence failed"),
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}
