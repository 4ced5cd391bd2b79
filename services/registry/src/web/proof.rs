//! A robot's proof bundle (c2sp.org/tlog-proof): its newest event's leaf
//! under the newest checkpoint the peers' witnesses cosigned, the entry as
//! the extra data. Served at `{web}/r/{CODE}/proof` and by
//! `GetProofBundle`; it verifies offline with a c2sp.org/tlog-policy.

use robotid_domain::robot::Robot;
use robotid_platform::error::ApiError;
use robotid_proto::registry::v1 as pb;

use crate::store::RegistryStore;

/// The media type of a `.tlog-proof` file.
pub const CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// `witness` (a witness's name) asks for the newest checkpoint that
/// witness cosigned, as an importing registry does of its own witness.
pub async fn bundle_of(
    store: &RegistryStore,
    robot: &Robot,
    witness: Option<&str>,
) -> Result<pb::ProofBundle, ApiError> {
    let log = store.log().ok_or_else(|| {
        ApiError::failed_precondition(
            "NO_TRANSPARENCY_LOG",
            "this registry runs without a transparency log",
        )
    })?;
    let index = store.head_log_index(robot).await?.ok_or_else(|| {
        ApiError::failed_precondition(
            "NOT_IN_LOG",
            "the robot's newest event was recorded before the registry kept a log",
        )
    })?;
    let bundle = log.proof_bundle(index, witness).await?.ok_or_else(|| {
        ApiError::unavailable(
            "NOT_YET_CHECKPOINTED",
            "the robot's newest event is not in a checkpoint yet; retry in a second",
        )
    })?;
    let checkpoint = bundle.checkpoint();
    let cosigned_by = checkpoint
        .note()
        .signatures()
        .iter()
        .map(|signature| signature.name().to_owned())
        .filter(|name| name != checkpoint.checkpoint().origin())
        .collect();
    Ok(pb::ProofBundle {
        bundle: bundle.to_string(),
        log_index: index,
        tree_size: checkpoint.checkpoint().size(),
        cosigned_by,
    })
}
