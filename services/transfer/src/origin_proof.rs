//! The origin's own log vouches for an import. A clearance says the origin
//! let the robot go; the origin's transparency log says what the origin
//! publishes about it. An import clears only on the origin's proof
//! (c2sp.org/tlog-proof, fetched from `{web_url}/r/{CODE}/proof`) that the
//! robot's newest event is this shipment's EXPORTED, under a checkpoint
//! that meets the trust entry's import policy and that this deployment's
//! own witness cosigned — so the origin cannot show this country a history
//! other than the one it shows everyone, as its witness would have refused
//! to cosign a fork.

use std::sync::Arc;
use std::time::Duration;

use robotid_credential::leaf;
use robotid_domain::code::RobotId;
use robotid_domain::time::Timestamp;
use robotid_domain::transfer::{ImportRefusal, TrustedLog};
use robotid_platform::web_client::WebClient;
use robotid_tlog::{Policy, PolicyError, ProofBundle, SignatureType, VerifierKey};

/// Proofs fetched at once, per import.
const CONCURRENT_FETCHES: usize = 16;
/// Between two fetches of a proof that is not there yet.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// A trust entry's log texts, parsed.
pub struct TrustedLogKeys {
    pub log: VerifierKey,
    pub witness: VerifierKey,
    pub policy: Policy,
}

impl TrustedLogKeys {
    /// The entry's keys and policy, or the field that is wrong and why.
    pub fn parse(log: &TrustedLog) -> Result<Self, (&'static str, String)> {
        let log_key = VerifierKey::parse(&log.log_key).map_err(|e| ("log_key", e.to_string()))?;
        if log_key.signature_type() != SignatureType::Ed25519 || log_key.name() != log.origin {
            return Err((
                "log_key",
                format!(
                    "a log key is an Ed25519 signed-note key (type 0x01) named by the \
                     origin {:?}",
                    log.origin
                ),
            ));
        }
        let witness =
            VerifierKey::parse(&log.witness_key).map_err(|e| ("witness_key", e.to_string()))?;
        if witness.signature_type() != SignatureType::Cosignature {
            return Err((
                "witness_key",
                "a witness key is a cosignature/v1 key (type 0x04)".to_owned(),
            ));
        }
        let policy = Policy::parse(log.import_policy.as_bytes())
            .map_err(|e| ("import_policy", e.to_string()))?;
        if !policy.logs().iter().any(|entry| entry.key == log_key) {
            return Err((
                "import_policy",
                "the policy must name this log (a `log` line with log_key)".to_owned(),
            ));
        }
        Ok(Self {
            log: log_key,
            witness,
            policy,
        })
    }
}

/// Fetches and checks origins' proofs.
#[derive(Clone)]
pub struct OriginProofs {
    web: WebClient,
    /// This deployment's own witness; `None`: no import can clear.
    own_witness: Option<Arc<VerifierKey>>,
    /// How long a proof may take to appear: the origin's integration delay
    /// and its round of witnessing.
    wait: Duration,
}

impl OriginProofs {
    pub fn new(web: WebClient, own_witness: Option<VerifierKey>, wait: Duration) -> Self {
        Self {
            web,
            own_witness: own_witness.map(Arc::new),
            wait,
        }
    }

    /// For each robot, in order: whether the origin's log proves that its
    /// newest event is the export recorded at or after `exported_since`.
    pub async fn check(
        &self,
        log: Option<&TrustedLog>,
        robots: &[RobotId],
        exported_since: Timestamp,
    ) -> Vec<Result<(), ImportRefusal>> {
        let Some(log) = log else {
            return vec![Err(ImportRefusal::OriginLogUntrusted); robots.len()];
        };
        let Some(own_witness) = self.own_witness.clone() else {
            return vec![Err(ImportRefusal::OriginProofNotWitnessed); robots.len()];
        };
        // Checked when the entry was added; a stored entry that no longer
        // parses is as good as none.
        let Ok(keys) = TrustedLogKeys::parse(log) else {
            return vec![Err(ImportRefusal::OriginLogUntrusted); robots.len()];
        };
        let keys = Arc::new(keys);
        let deadline = tokio::time::Instant::now() + self.wait;
        let mut answers = Vec::with_capacity(robots.len());
        for chunk in robots.chunks(CONCURRENT_FETCHES) {
            let mut fetches = tokio::task::JoinSet::new();
            for (position, robot) in chunk.iter().enumerate() {
                let fetch = ProofFetch {
                    web: self.web.clone(),
                    url: proof_url(&log.web_url, robot, &own_witness),
                    keys: keys.clone(),
                    own_witness: own_witness.clone(),
                    robot: robot.clone(),
                    exported_since,
                };
                fetches.spawn(async move { (position, fetch.until(deadline).await) });
            }
            let mut chunk_answers = vec![Err(ImportRefusal::OriginProofUnavailable); chunk.len()];
            while let Some(joined) = fetches.join_next().await {
                if let Ok((position, answer)) = joined {
                    chunk_answers[position] = answer;
                }
            }
            answers.extend(chunk_answers);
        }
        answers
    }
}

/// The robot's proof, under the newest checkpoint the importer's witness
/// cosigned (the origin's registry picks it by the witness's name).
fn proof_url(web_url: &str, robot: &RobotId, own_witness: &VerifierKey) -> String {
    let witness = percent_encoding::utf8_percent_encode(
        own_witness.name(),
        percent_encoding::NON_ALPHANUMERIC,
    );
    format!("{web_url}/r/{}/proof?witness={witness}", robot.as_str())
}

struct ProofFetch {
    web: WebClient,
    url: String,
    keys: Arc<TrustedLogKeys>,
    own_witness: Arc<VerifierKey>,
    robot: RobotId,
    exported_since: Timestamp,
}

impl ProofFetch {
    /// Asks again while the proof is missing or not yet cosigned here (the
    /// export may be younger than the origin's latest checkpoint, or than
    /// its round of witnessing), until `deadline`; a proof that is wrong is
    /// final.
    async fn until(&self, deadline: tokio::time::Instant) -> Result<(), ImportRefusal> {
        loop {
            let answer = self.once().await;
            let worth_waiting = matches!(
                answer,
                Err(ImportRefusal::OriginProofUnavailable | ImportRefusal::OriginProofNotWitnessed)
            );
            if !worth_waiting || tokio::time::Instant::now() + RETRY_PAUSE > deadline {
                return answer;
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    async fn once(&self) -> Result<(), ImportRefusal> {
        let response = match self.web.get(&self.url).await {
            Ok(response) if response.status == 200 => response,
            Ok(response) => {
                tracing::debug!(url = %self.url, status = response.status, "no origin proof yet");
                return Err(ImportRefusal::OriginProofUnavailable);
            }
            Err(error) => {
                tracing::warn!(%error, "the origin registry's proof could not be fetched");
                return Err(ImportRefusal::OriginProofUnavailable);
            }
        };
        verify(
            &response.body,
            &self.keys,
            &self.own_witness,
            &self.robot,
            self.exported_since,
        )
    }
}

/// The checks on one proof bundle, offline: what is wrong with it is
/// final ([`ImportRefusal::OriginProofInvalid`], `…NotExported`); missing
/// cosignatures may still come (`…NotWitnessed`).
pub fn verify(
    bundle: &[u8],
    keys: &TrustedLogKeys,
    own_witness: &VerifierKey,
    robot: &RobotId,
    exported_since: Timestamp,
) -> Result<(), ImportRefusal> {
    let bundle = ProofBundle::parse(bundle).map_err(|_| ImportRefusal::OriginProofInvalid)?;
    let entry = bundle.extra().ok_or(ImportRefusal::OriginProofInvalid)?;
    let signed = bundle.checkpoint();
    let checkpoint = signed.checkpoint();
    // One pass over the signatures: the log's and this deployment's
    // witness's (a bad signature by either is a bad proof).
    let verified = signed
        .verify(&[keys.log.clone(), own_witness.clone()])
        .map_err(|_| ImportRefusal::OriginProofInvalid)?;
    if checkpoint.origin() != keys.log.name() || !verified.signed_by(&keys.log) {
        return Err(ImportRefusal::OriginProofInvalid);
    }
    robotid_tlog::verify_inclusion(
        bundle.index(),
        checkpoint.size(),
        &robotid_tlog::leaf_hash(entry),
        bundle.inclusion_proof(),
        checkpoint.root(),
    )
    .map_err(|_| ImportRefusal::OriginProofInvalid)?;
    let event = leaf::parse_event(entry).ok_or(ImportRefusal::OriginProofNotExported)?;
    let exported = event.robot_id == robot.as_str()
        && event.event_type == "EXPORTED"
        && event.recorded_at_micros >= exported_since.as_micros();
    if !exported {
        return Err(ImportRefusal::OriginProofNotExported);
    }
    if !verified.signed_by(own_witness) {
        return Err(ImportRefusal::OriginProofNotWitnessed);
    }
    match keys.policy.evaluate(signed) {
        Ok(_) => Ok(()),
        Err(PolicyError::QuorumNotMet { .. }) => Err(ImportRefusal::OriginProofNotWitnessed),
        Err(_) => Err(ImportRefusal::OriginProofInvalid),
    }
}
