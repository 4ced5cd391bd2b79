//! A robot as the registry keeps it.

use crate::code::RobotId;
use crate::history::{Digest, Event, EventDetails, EventDraft};
use crate::lifecycle::{EventKind, Refusal, RobotState};
use crate::standing::Standing;
use crate::time::Timestamp;

/// Where and when a robot was made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Production {
    pub produced_at: Option<Timestamp>,
    pub factory: Option<String>,
}

/// A robot's registration as the issuing or importing service states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub robot_id: RobotId,
    pub manufacturer_name: String,
    pub model_name: String,
    pub production: Production,
    pub import: Option<ImportOrigin>,
    /// The signed ID credential the registry serves on the public card.
    pub credential: Option<StoredCredential>,
}

/// A robot's signed ID credential (COSE_Sign1 bytes) as the registry keeps
/// it, and for an imported robot the foreign public key that verified it.
/// The registry stores and serves it; checking it is for whoever reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredential {
    pub credential: Vec<u8>,
    /// Raw 32-byte Ed25519 key; `None` for a robot issued here (the
    /// registry's own key signed it).
    pub public_key: Option<[u8; 32]>,
}

/// Where an imported robot comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOrigin {
    pub country: String,
    pub state: RobotState,
    /// `transfers/{id}`.
    pub transfer: Option<String>,
}

/// Everything the registry holds about one robot besides its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Robot {
    pub robot_id: RobotId,
    pub manufacturer_name: String,
    pub model_name: String,
    pub production: Production,
    /// Where its history leaves it: status, holds, open recalls, theft
    /// report, holder.
    pub standing: Standing,
    /// For an imported robot, the issuing registry's country.
    pub origin_country: Option<String>,
    /// When its first event (ISSUED or IMPORTED) happened: no event of its
    /// history happened before.
    pub issued_at: Timestamp,
    pub event_count: u64,
    pub head_hash: Digest,
    pub registered_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A recall of a product model, or of some of its robots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recall {
    /// `recalls/{id}`.
    pub name: String,
    /// The country of the recalled robots' codes: the registry's own, or
    /// the origin of imported robots the regulator recalls.
    pub country: crate::code::CountryCode,
    pub manufacturer: crate::code::ManufacturerCode,
    pub model: crate::code::ModelCode,
    /// The robots listed; empty for the whole model (or when not loaded:
    /// see `listed_robot_count`).
    pub robot_ids: Vec<RobotId>,
    /// How many robots were listed; 0 for the whole model.
    pub listed_robot_count: u64,
    pub reason: String,
    /// Robots it holds: every robot of the model (or listed) that could be
    /// recalled.
    pub affected_robot_count: u64,
    /// Robots of the model (or listed) past recalling: decommissioned or
    /// recycled.
    pub skipped_robot_count: u64,
    pub created_at: Timestamp,
}

/// Why an event cannot be appended to a robot's history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Nothing happens to a robot before it exists.
    #[error("the event happened before the robot was issued ({issued_at:?})")]
    BeforeIssue { issued_at: Timestamp },
}

impl Robot {
    /// A robot as its registration creates it, with its first event
    /// (ISSUED, or IMPORTED for a foreign robot) already in its history.
    pub fn register(
        registration: Registration,
        occurred_at: Timestamp,
        actor: String,
        recorded_at: Timestamp,
    ) -> (Robot, Event) {
        let (standing, kind, details) = match &registration.import {
            None => (
                Standing::issued(),
                EventKind::Issued,
                EventDetails::default(),
            ),
            Some(origin) => (
                Standing::imported(origin.state.status),
                EventKind::Imported,
                EventDetails {
                    country: Some(origin.country.clone()),
                    reference: origin.transfer.clone(),
                    ..EventDetails::default()
                },
            ),
        };
        let event = EventDraft {
            kind,
            details,
            occurred_at,
            actor,
        }
        .seal(
            registration.robot_id.clone(),
            1,
            Digest::GENESIS,
            recorded_at,
            &standing,
        );
        let robot = Robot {
            robot_id: registration.robot_id,
            manufacturer_name: registration.manufacturer_name,
            model_name: registration.model_name,
            production: registration.production,
            standing,
            origin_country: registration.import.map(|origin| origin.country),
            issued_at: occurred_at,
            event_count: 1,
            head_hash: event.hash,
            registered_at: recorded_at,
            updated_at: recorded_at,
        };
        (robot, event)
    }

    /// The robot after `draft` and the sealed event that records it, or why
    /// it cannot be recorded. Pure: the store persists both or neither.
    pub fn record(
        &self,
        draft: EventDraft,
        recorded_at: Timestamp,
    ) -> Result<(Robot, Event), RecordError> {
        if draft.occurred_at < self.issued_at {
            return Err(RecordError::BeforeIssue {
                issued_at: self.issued_at,
            });
        }
        let standing = self
            .standing
            .after(draft.kind, &draft.details, &draft.actor)?;
        let event = draft.seal(
            self.robot_id.clone(),
            self.event_count + 1,
            self.head_hash,
            recorded_at,
            &standing,
        );
        let mut next = self.clone();
        next.standing = standing;
        next.event_count = event.sequence;
        next.head_hash = event.hash;
        next.updated_at = recorded_at;
        Ok((next, event))
    }
}
