//! Customs confirm that a cleared shipment crossed the border: an export
//! departed (EXPORTED at the registry, and the clearance signed again with
//! its departure time, the one the destination imports on), or an import
//! arrived (its foreign robots registered, its returning ones IMPORTED).
//!
//! Any customs office of this country confirms — the office of exit or
//! entry is often not the office that filed — and the registry records the
//! office that confirmed as the events' actor.

use robotid_credential::clearance::{sign_clearance, verify_clearance};
use robotid_domain::time::Timestamp;
use robotid_domain::transfer::{Arrival, Transfer, TransferId, TransferState};
use robotid_platform::error::ApiError;
use robotid_platform::idempotency::RequestKey;
use robotid_platform::wire::{production_to_wire, status_to_wire};
use robotid_proto::common::v1::EventType;
use robotid_proto::registry::v1 as registry;

use crate::customs::{Begun, Customs, border_events, confirm_error, transition_error, unexpected};
use crate::store::Change;

impl Customs {
    /// Records EXPORTED for the cleared robots as `by`, then DEPARTED
    /// here with the departed clearance. A clearance past its validity
    /// departs no more: it is cancelled instead.
    pub async fn depart(
        &self,
        key: &RequestKey,
        id: &TransferId,
        by: &str,
    ) -> Result<Transfer, ApiError> {
        let transfer = match self.begin(key, id).await? {
            Begun::Open(transfer) => transfer,
            Begun::Done(answer) => return Ok(answer),
        };
        let step = |state: TransferState| state.depart(transfer.direction);
        let next = step(transfer.state).map_err(transition_error)?;
        let now = Timestamp::now();
        if transfer.expires_at.is_some_and(|at| now >= at) {
            return Err(self.refuse_expired(&transfer, now).await);
        }
        let departed = self.departed_clearance(&transfer, now)?;
        let cleared = transfer.cleared_robots().map(|d| &d.robot_id);
        let events = border_events(
            cleared,
            EventType::Exported,
            &transfer.destination,
            id,
            None,
        );
        self.record_step(id, "exported", events, by).await?;
        let change = Change {
            from: transfer.state,
            to: next,
            by,
            clearance: Some(&departed),
        };
        self.finish(key, &transfer, change, step).await
    }

    /// One border step of transfer `id` at the registry, as `by`.
    async fn record_step(
        &self,
        id: &TransferId,
        step: &str,
        events: Vec<registry::RecordEventRequest>,
        by: &str,
    ) -> Result<(), ApiError> {
        self.registry
            .record(id.registry_request_id(step), events, by)
            .await
            .map_err(confirm_error)
    }

    /// The transfer's clearance signed again, stamped with its departure
    /// at `now`.
    fn departed_clearance(&self, transfer: &Transfer, now: Timestamp) -> Result<Vec<u8>, ApiError> {
        let signed = transfer.clearance.as_deref().ok_or_else(|| {
            unexpected(format!("cleared export {} has no clearance", transfer.id))
        })?;
        let claims = verify_clearance(signed, &self.key.verifying_key()).map_err(|error| {
            unexpected(format!(
                "the clearance of {} does not verify with this service's key: {error}",
                transfer.id
            ))
        })?;
        // Another instance's clock may run a little behind the one that
        // signed the clearance.
        let at = now.max(claims.issued_at);
        sign_clearance(&self.key, &claims.departed(at)).map_err(|e| ApiError::internal(&e))
    }

    /// Registers the foreign robots new here and records IMPORTED for the
    /// ones coming back, as `by`, then ARRIVED here.
    pub async fn arrive(
        &self,
        key: &RequestKey,
        id: &TransferId,
        by: &str,
    ) -> Result<Transfer, ApiError> {
        let transfer = match self.begin(key, id).await? {
            Begun::Open(transfer) => transfer,
            Begun::Done(answer) => return Ok(answer),
        };
        let step = |state: TransferState| state.arrive(transfer.direction);
        let next = step(transfer.state).map_err(transition_error)?;
        let mut registrations = Vec::new();
        let mut returning = Vec::new();
        for decision in transfer.cleared_robots() {
            match &decision.arrival {
                Some(Arrival::Register {
                    status,
                    manufacturer_name,
                    model_name,
                    production,
                    credential,
                    credential_key,
                }) => registrations.push(registry::RobotRegistration {
                    robot_id: decision.robot_id.as_str().to_owned(),
                    manufacturer_name: manufacturer_name.clone(),
                    model_name: model_name.clone(),
                    production: Some(production_to_wire(production)),
                    import_origin: Some(registry::ImportOrigin {
                        country_code: decision.robot_id.country().as_str().to_owned(),
                        status: status_to_wire(*status).into(),
                        transfer: id.name(),
                    }),
                    occur_time: None,
                    credential: credential.clone(),
                    credential_public_key: credential_key.clone(),
                }),
                Some(Arrival::Return) => returning.push(&decision.robot_id),
                None => {
                    return Err(unexpected(format!(
                        "cleared import robot {} has no arrival",
                        decision.robot_id
                    )));
                }
            }
        }
        if !registrations.is_empty() {
            self.registry
                .register(id.registry_request_id("registered"), registrations, by)
                .await
                .map_err(confirm_error)?;
        }
        if !returning.is_empty() {
            let events = border_events(
                returning.into_iter(),
                EventType::Imported,
                &transfer.origin,
                id,
                None,
            );
            self.record_step(id, "imported", events, by).await?;
        }
        let change = Change {
            from: transfer.state,
            to: next,
            by,
            clearance: None,
        };
        self.finish(key, &transfer, change, step).await
    }
}
