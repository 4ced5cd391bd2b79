//! An export clearance that ends without a departure: withdrawn by customs,
//! or past its validity. Either way its robots are back home
//! (EXPORT_CLEARANCE_CANCELLED at the registry) and the clearance is good
//! for neither a departure nor an import (it never gets the departure
//! stamp an import needs).
//!
//! Expiry needs nobody to ask: a sweep runs in every instance of the
//! service. Both ways of ending write the registry under one request id per
//! transfer (`…-cancelled`), so the registry cancels a clearance once, and
//! a sweep that finds it cancelled by a withdrawal cancels nothing else;
//! this service's own write only moves a transfer that is still open, so
//! instances sweeping side by side change each transfer once.

use std::sync::Arc;
use std::time::Duration;

use robotid_domain::time::Timestamp;
use robotid_domain::transfer::{Direction, Transfer, TransferId, TransferState, TransitionError};
use robotid_platform::authz;
use robotid_platform::error::ApiError;
use robotid_platform::idempotency::RequestKey;
use robotid_platform::identity::Caller;
use robotid_proto::common::v1::EventType;
use tokio::sync::watch;
use tonic::Code;

use crate::customs::{
    Begun, Customs, border_events, confirm_error, registry_unavailable, transition_error,
};
use crate::registry::RegistryError;
use crate::store::Change;

/// The actor of what the service does by itself.
pub const SERVICE_IDENTITY: &str = "robotid://service/transfer";

/// Transfers the sweep reads at a time.
const SWEEP_BATCH: u32 = 100;

/// The registry step that cancels a transfer's clearance, whoever asks.
const CANCELLED: &str = "cancelled";

impl Customs {
    /// Withdraws a cleared export before departure, as `caller`: the
    /// office that filed it, or the regulator.
    pub async fn withdraw(
        &self,
        key: &RequestKey,
        id: &TransferId,
        caller: &Caller,
    ) -> Result<Transfer, ApiError> {
        let transfer = match self.begin(key, id).await? {
            Begun::Open(transfer) => transfer,
            Begun::Done(answer) => return Ok(answer),
        };
        authz::require_customs_office(caller, &transfer.customs_office)?;
        let step = |state: TransferState| state.withdraw(transfer.direction);
        let next = step(transfer.state).map_err(transition_error)?;
        let now = Timestamp::now();
        if transfer.expires_at.is_some_and(|at| now >= at) {
            return Err(self.refuse_expired(&transfer, now).await);
        }
        let by = caller.to_string();
        let events = border_events(
            transfer.cleared_robots().map(|d| &d.robot_id),
            EventType::ExportClearanceCancelled,
            &transfer.destination,
            id,
            Some("export clearance withdrawn before departure"),
        );
        match self
            .registry
            .record(id.registry_request_id(CANCELLED), events, &by)
            .await
        {
            Ok(()) => {}
            Err(RegistryError::Refused { reason, .. }) if reason == "REQUEST_ID_REUSED" => {
                return Err(ApiError::new(
                    Code::Aborted,
                    "CONCURRENT_CHANGE",
                    "the clearance was cancelled by another call meanwhile; read the transfer",
                ));
            }
            Err(error) => return Err(confirm_error(error)),
        }
        let change = Change {
            from: transfer.state,
            to: next,
            by: &by,
            clearance: None,
        };
        self.finish(key, &transfer, change, step).await
    }

    /// The answer to a departure or withdrawal of a clearance found past
    /// its validity: it is ended now, without waiting for the sweep (which
    /// ends it later should the registry not answer now).
    pub(crate) async fn refuse_expired(&self, transfer: &Transfer, now: Timestamp) -> ApiError {
        if let Err(error) = self.lapse(transfer, now).await {
            tracing::warn!(transfer = %transfer.id, %error, "expired clearance not ended yet");
        }
        transition_error(TransitionError::Expired)
    }

    /// Ends an export clearance past its validity: cancels it at the
    /// registry as this service, then moves the transfer to EXPIRED.
    /// Whether this call moved it (another instance may have).
    pub(crate) async fn lapse(
        &self,
        transfer: &Transfer,
        now: Timestamp,
    ) -> Result<bool, ApiError> {
        let events = border_events(
            transfer.cleared_robots().map(|d| &d.robot_id),
            EventType::ExportClearanceCancelled,
            &transfer.destination,
            &transfer.id,
            Some("export clearance expired before departure"),
        );
        match self
            .registry
            .record(transfer.id.registry_request_id(CANCELLED), events, "")
            .await
        {
            Ok(()) => {}
            // Cancelled already (a withdrawal whose own write here was
            // lost: REQUEST_ID_REUSED), or its robots are no longer cleared
            // by it (a lifecycle refusal): nothing is left to cancel, and
            // the transfer is over either way.
            Err(
                refused @ RegistryError::Refused {
                    code: Code::FailedPrecondition,
                    ..
                },
            ) => {
                tracing::warn!(transfer = %transfer.id, %refused, "expired clearance had nothing to cancel");
            }
            // Anything else (unreachable, or refused for a reason that is
            // no answer about the robots): the next round tries again.
            Err(RegistryError::Unavailable(message)) => return Err(registry_unavailable(&message)),
            Err(refused) => return Err(ApiError::internal(&refused)),
        }
        self.store.expire(&transfer.id, now, SERVICE_IDENTITY).await
    }

    /// Ends every export clearance past its validity by now; how many this
    /// call ended.
    pub async fn expire_due(&self) -> Result<usize, ApiError> {
        let now = Timestamp::now();
        let mut expired = 0;
        loop {
            let due = self.store.due(now, SWEEP_BATCH).await?;
            let mut moved = 0;
            for id in &due {
                let Some(transfer) = self.store.transfer(id).await? else {
                    continue;
                };
                let open = transfer.direction == Direction::Export && transfer.state.is_cleared();
                if open && self.lapse(&transfer, now).await? {
                    moved += 1;
                }
            }
            expired += moved;
            // A short batch was the last; one that moved nothing is held
            // by another instance.
            if due.len() < SWEEP_BATCH as usize || moved == 0 {
                return Ok(expired);
            }
        }
    }

    /// Sweeps every `interval` until `stop` turns true (or its sender is
    /// gone). A round cut short is safe: each of its steps is idempotent,
    /// and the next round (or another instance) does the rest.
    pub async fn sweep(self: Arc<Self>, interval: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => return,
                swept = self.expire_due() => match swept {
                    Ok(0) => {}
                    Ok(expired) => tracing::info!(expired, "export clearances expired"),
                    Err(error) => tracing::warn!(%error, "expiry sweep failed; retrying"),
                },
            }
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}
