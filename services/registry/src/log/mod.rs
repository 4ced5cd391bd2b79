//! The registry's transparency log.
//!
//! Every event the registry appends is a leaf of one registry-wide
//! append-only Merkle tree (RFC 6962, SHA-256), numbered in the
//! transaction that stores the event ([`store::append_events`]): a leaf is
//! committed with its event or not at all, in commit order, with no gaps.
//! The integrator ([`TransparencyLog::run`], in every instance) then moves
//! the tree over the new leaves (tiles and size in one transaction) and only
//! afterwards signs a checkpoint of the new size with the log's own key, so
//! a size never gets two roots, also across crashes: a restarted registry
//! finds the tree where it was and the leaves still to integrate. About
//! `--log-integration-ms` passes between a leaf and a checkpoint that covers
//! it. Each round first enters the access log's heads as an anchor leaf when
//! they moved. [`witnessing`] sends each new checkpoint to the peers'
//! witnesses and keeps their cosignatures, which the checkpoint is then
//! published with.
//!
//! The log is served as c2sp.org/tlog-tiles at `{web}/log/` ([`http`]) and
//! over gRPC (`GetCheckpoint`, `GetInclusionProof`, `GetConsistencyProof`).
//! The leaf format is in [`leaf`].

pub mod http;
pub use robotid_credential::leaf;
pub mod store;
pub mod verify;
pub mod witnessing;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use robotid_domain::time::Timestamp;
use robotid_platform::error::ApiError;
use robotid_tlog::{Checkpoint, Hash, NoteSigner, ProofBundle, SignedCheckpoint, TreeError};
use sqlx::AnyPool;
use tokio::sync::Notify;

use self::store::TreeState;

/// Leaves integrated per transaction: bounds one integration's memory and
/// statement size; a backlog takes several rounds of the loop.
const INTEGRATE_BATCH: usize = 16_384;

/// The log of one registry: its database, its key and origin.
#[derive(Clone)]
pub struct TransparencyLog {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    signer: NoteSigner,
    origin: String,
    interval: Duration,
    /// Woken when events were stored, so a quiet log integrates at once.
    appended: Notify,
    /// The access log lost what the newest anchor holds (said once).
    diverged: AtomicBool,
}

impl TransparencyLog {
    /// The log on `pool`, signing as `origin` with `key`; checkpoints at
    /// most `interval` after new leaves.
    pub fn new(
        pool: AnyPool,
        key: ed25519_dalek::SigningKey,
        origin: String,
        interval: Duration,
    ) -> Result<Self, robotid_tlog::KeyError> {
        let signer = NoteSigner::new(&origin, key)?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                signer,
                origin,
                interval,
                appended: Notify::new(),
                diverged: AtomicBool::new(false),
            }),
        })
    }

    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The integration interval: the longest a new leaf waits.
    pub fn interval(&self) -> Duration {
        self.inner.interval
    }

    /// The note verifier key (`name+id+key`) that checks its checkpoints.
    pub fn verifier_key(&self) -> String {
        self.inner.signer.verifier_key().to_string()
    }

    /// Tells the integrator that leaves were committed.
    pub fn appended(&self) {
        self.inner.appended.notify_one();
    }

    /// Integrates what is waiting and signs a checkpoint of the result,
    /// unless one of that size is already kept. Returns the tree.
    pub async fn integrate(&self) -> Result<TreeState, ApiError> {
        let mut connection = self.inner.pool.acquire().await?;
        let anchoring =
            store::anchor_access_log(&mut connection, Timestamp::now().as_micros()).await?;
        let diverged = matches!(anchoring, store::Anchoring::Diverged(_));
        let was_diverged = self.inner.diverged.swap(diverged, Ordering::Relaxed);
        if let store::Anchoring::Diverged(lost) = anchoring
            && !was_diverged
        {
            // Someone with the database removed what the log anchored;
            // VerifyAccessLog reports it to the regulator. Said once.
            tracing::error!(
                shard = lost.shard,
                sequence = lost.sequence,
                problem = %lost.problem,
                "the access log lost what the transparency log anchored; not anchoring over it"
            );
        }
        // One batch a round, then a checkpoint: a backlog (after a restart)
        // is worked off over a few rounds, each published.
        let state = store::integrate(&mut connection, INTEGRATE_BATCH)
            .await
            .map_err(|error| match error {
                store::IntegrateError::Database(error) => ApiError::from(error),
                other => ApiError::internal(&other),
            })?;
        let latest = store::latest_checkpoint(&mut connection).await?;
        if latest.as_ref().is_none_or(|(size, _)| *size < state.size) {
            let note = self.sign(state.size, &state.root)?;
            store::keep_checkpoint(
                &mut connection,
                state.size,
                &note.to_bytes(),
                Timestamp::now().as_micros(),
            )
            .await?;
        }
        Ok(state)
    }

    fn sign(&self, size: u64, root: &Hash) -> Result<SignedCheckpoint, ApiError> {
        let checkpoint =
            Checkpoint::new(&self.inner.origin, size, *root).map_err(|e| ApiError::internal(&e))?;
        Ok(SignedCheckpoint::sign(checkpoint, &self.inner.signer))
    }

    /// The newest signed checkpoint, parsed.
    pub async fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, ApiError> {
        let mut connection = self.inner.pool.acquire().await?;
        let Some((size, note)) = store::latest_checkpoint(&mut connection).await? else {
            return Ok(None);
        };
        cosigned(&mut connection, size, &note).await.map(Some)
    }

    /// The signed checkpoint of `size` with the cosignatures the peers'
    /// witnesses gave it, if one was signed.
    pub async fn checkpoint_note(&self, size: u64) -> Result<Option<String>, ApiError> {
        let mut connection = self.inner.pool.acquire().await?;
        let Some(note) = store::checkpoint_of_size(&mut connection, size).await? else {
            return Ok(None);
        };
        let signed = cosigned(&mut connection, size, &note).await?;
        Ok(Some(signed.to_string()))
    }

    /// The proof bundle (c2sp.org/tlog-proof) of leaf `index`: under the
    /// newest checkpoint the peers' witnesses cosigned that holds it, or
    /// the newest checkpoint before any did; its entry as the extra data.
    pub async fn proof_bundle(
        &self,
        index: u64,
        witness: Option<&str>,
    ) -> Result<Option<ProofBundle>, ApiError> {
        let mut connection = self.inner.pool.acquire().await?;
        let newest =
            crate::witness::store::newest_cosigned_size(&mut connection, index + 1, witness)
                .await?;
        let size = match newest {
            Some(size) => size,
            None => match store::latest_checkpoint(&mut connection).await? {
                Some((size, _)) if size > index => size,
                _ => return Ok(None),
            },
        };
        let Some(note) = store::checkpoint_of_size(&mut connection, size).await? else {
            return Ok(None);
        };
        let signed = cosigned(&mut connection, size, &note).await?;
        drop(connection);
        let (proof, entry) = self.inclusion_proof(index, size).await?;
        Ok(Some(
            ProofBundle::new(index, proof, signed).with_extra(entry),
        ))
    }

    /// The audit path of leaf `index` in the tree of `size`, and its entry.
    pub async fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<(Vec<Hash>, Vec<u8>), ApiError> {
        let mut connection = self.inner.pool.acquire().await?;
        let tiles = robotid_tlog::tree::tiles_for_inclusion_proof(index, size)
            .map_err(|e| ApiError::invalid_argument("log_index", e))?;
        let held = store::read_tiles(&mut connection, &tiles).await?;
        let proof = robotid_tlog::tree::inclusion_proof(&held, index, size).map_err(tree_error)?;
        let entry = store::entry(&mut connection, index).await?.ok_or_else(|| {
            ApiError::internal(&std::io::Error::other(format!("leaf {index} has no entry")))
        })?;
        Ok((proof, entry))
    }

    /// The proof that the tree of `new` extends the tree of `old`.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ApiError> {
        let mut connection = self.inner.pool.acquire().await?;
        let tiles = robotid_tlog::tree::tiles_for_consistency_proof(old, new)
            .map_err(|e| ApiError::invalid_argument("first_tree_size", e))?;
        let held = store::read_tiles(&mut connection, &tiles).await?;
        robotid_tlog::tree::consistency_proof(&held, old, new).map_err(tree_error)
    }

    /// Integrates until `stop`: woken by new events, or every interval for
    /// those another instance stored. A failed round is logged and retried
    /// at the next; the leaves wait in their table meanwhile.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            if let Err(error) = self.integrate().await {
                tracing::warn!(%error, "integrating the transparency log failed; retrying");
            }
            // Leaves arriving during a round wait for the next: at most one
            // interval, and in a quiet log, right away.
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(self.inner.interval) => {}
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = self.inner.appended.notified() => {}
                _ = tokio::time::sleep(self.inner.interval) => {}
            }
        }
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }
}

/// `note` (the checkpoint of `size`) with the cosignature lines kept for
/// it.
pub(crate) async fn cosigned(
    connection: &mut sqlx::AnyConnection,
    size: u64,
    note: &[u8],
) -> Result<SignedCheckpoint, ApiError> {
    let mut signed = SignedCheckpoint::parse(note).map_err(|e| ApiError::internal(&e))?;
    for line in crate::witness::store::cosignatures(connection, size).await? {
        match robotid_tlog::NoteSignature::parse_line(line.trim_end()) {
            Ok(signature) => signed.add_signature(signature),
            Err(error) => tracing::warn!(%error, size, "a kept cosignature does not parse"),
        }
    }
    Ok(signed)
}

/// The stored tiles could not answer: a tile is missing or short, which
/// the integrator never leaves behind.
fn tree_error<E: std::error::Error + 'static>(error: TreeError<E>) -> ApiError {
    ApiError::internal(&error)
}
