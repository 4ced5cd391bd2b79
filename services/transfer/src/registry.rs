//! Calls to the registry: eligibility for a whole shipment in one call,
//! its border events in one call, its imported robots in one call. The
//! registry is the only authority on a robot's state, so every failure to
//! get its answer fails the customs call (fail closed): nothing is cleared
//! without a positive answer.

use std::future::Future;
use std::time::Duration;

use robotid_domain::code::RobotId;
use robotid_platform::client::RpcChannel;
use robotid_platform::rpc_telemetry::{PropagateTraceContext, TracedChannel};
use robotid_proto::common::v1::EventType;
use robotid_proto::registry::v1 as pb;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::convert::{Verdict, verdict_from_wire};

/// Robots per `CheckEligibility`, as many as the registry takes.
pub const ELIGIBILITY_BATCH: usize = 1_000;

#[derive(Clone)]
pub struct Registry {
    client: RegistryServiceClient<TracedChannel>,
    timeout: Duration,
}

/// Why a registry call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// No answer: down, unreachable, too slow, shedding load, or failing
    /// inside. The caller may retry.
    #[error("the registry did not answer: {0}")]
    Unavailable(String),
    /// The registry answered and refused.
    #[error("the registry refused ({code:?} {reason}): {message}")]
    Refused {
        code: Code,
        /// Its `ErrorInfo.reason`, e.g. `RECALL_OPEN`, `REQUEST_ID_REUSED`.
        reason: String,
        /// The robot the refusal is about, when one is.
        robot_id: Option<String>,
        message: String,
    },
}

impl RegistryError {
    fn from_status(status: Status) -> Self {
        match status.code() {
            Code::FailedPrecondition
            | Code::AlreadyExists
            | Code::NotFound
            | Code::InvalidArgument
            | Code::PermissionDenied
            | Code::Unauthenticated => {
                let info = status.get_details_error_info();
                RegistryError::Refused {
                    code: status.code(),
                    reason: info
                        .as_ref()
                        .map(|info| info.reason.clone())
                        .unwrap_or_default(),
                    robot_id: info.and_then(|info| info.metadata.get("robot_id").cloned()),
                    message: status.message().to_owned(),
                }
            }
            _ => {
                tracing::warn!(code = ?status.code(), message = status.message(), "registry call failed");
                RegistryError::Unavailable(format!("{:?}: {}", status.code(), status.message()))
            }
        }
    }
}

impl Registry {
    /// Calls over `channel` carry the customs call's trace context, so
    /// that the registry's spans join its trace.
    pub fn new(channel: RpcChannel, timeout: Duration) -> Self {
        Self {
            client: RegistryServiceClient::with_interceptor(channel, PropagateTraceContext),
            timeout,
        }
    }

    /// One call, bounded in time: a registry that hangs (bound but not
    /// serving, a half-open connection) counts as unavailable.
    async fn call<T>(
        &self,
        call: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<T, RegistryError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(RegistryError::from_status(status)),
            Err(_) => Err(RegistryError::Unavailable(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// Whether each robot may take `intended` now, with its history
    /// verified, in the order asked: one registry call per 1,000 robots.
    pub async fn check(
        &self,
        robot_ids: &[RobotId],
        intended: EventType,
    ) -> Result<Vec<Verdict>, RegistryError> {
        let mut verdicts = Vec::with_capacity(robot_ids.len());
        for chunk in robot_ids.chunks(ELIGIBILITY_BATCH) {
            let mut client = self.client.clone();
            let answer = self
                .call(client.check_eligibility(pb::CheckEligibilityRequest {
                    robot_ids: chunk.iter().map(|id| id.as_str().to_owned()).collect(),
                    intended_event: intended.into(),
                    verify_history: true,
                }))
                .await?;
            // An answer about other robots than asked is no answer: clear
            // nothing on it.
            if answer.verdicts.len() != chunk.len() {
                return Err(RegistryError::Unavailable(format!(
                    "{} verdicts for {} robots",
                    answer.verdicts.len(),
                    chunk.len()
                )));
            }
            for (id, verdict) in chunk.iter().zip(answer.verdicts) {
                let verdict = verdict_from_wire(verdict);
                if verdict.robot_id != id.as_str() {
                    return Err(RegistryError::Unavailable(format!(
                        "a verdict for {} where {id} was asked",
                        verdict.robot_id
                    )));
                }
                verdicts.push(verdict);
            }
        }
        Ok(verdicts)
    }

    /// Records `events` all together or not at all, as the customs office
    /// (or regulator) `on_behalf_of` (empty: as this service itself).
    pub async fn record(
        &self,
        request_id: String,
        events: Vec<pb::RecordEventRequest>,
        on_behalf_of: &str,
    ) -> Result<(), RegistryError> {
        let mut client = self.client.clone();
        self.call(client.record_events(pb::RecordEventsRequest {
            request_id,
            events,
            on_behalf_of: on_behalf_of.to_owned(),
        }))
        .await
        .map(|_| ())
    }

    /// Sets this registry's peer of `peer.country_code`.
    pub async fn put_peer(&self, peer: pb::Peer) -> Result<(), RegistryError> {
        let mut client = self.client.clone();
        self.call(client.put_peer(pb::PutPeerRequest { peer: Some(peer) }))
            .await
            .map(|_| ())
    }

    /// Registers imported robots, as the customs office `on_behalf_of`.
    pub async fn register(
        &self,
        request_id: String,
        robots: Vec<pb::RobotRegistration>,
        on_behalf_of: &str,
    ) -> Result<(), RegistryError> {
        let mut client = self.client.clone();
        self.call(client.register_robots(pb::RegisterRobotsRequest {
            request_id,
            robots,
            on_behalf_of: on_behalf_of.to_owned(),
        }))
        .await
        .map(|_| ())
    }
}
