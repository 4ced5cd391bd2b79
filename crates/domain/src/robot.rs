//! A robot as the registry keeps it.

use crate::code::RobotId;
use crate::history::{Digest, Event, EventDetails, EventDraft};
use crate::holder::Holder;
use crate::lifecycle::{EventKind, Refusal, RobotState};
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
    pub state: RobotState,
    pub holder: Option<Holder>,
    /// `recalls/{id}` while a recall is open.
    pub open_recall: Option<String>,
    /// For an imported robot, the issuing registry's country.
    pub origin_country: Option<String>,
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
    pub manufacturer: crate::code::ManufacturerCode,
    pub model: crate::code::ModelCode,
    /// Empty: the whole model.
    pub robot_ids: Vec<RobotId>,
    pub reason: String,
    pub affected_robot_count: u64,
    pub created_at: Timestamp,
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
        let (state, kind, details) = match &registration.import {
            None => (
                RobotState::issued(),
                EventKind::Issued,
                EventDetails::default(),
            ),
            Some(origin) => (
                origin.state,
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
            state.status,
        );
        let robot = Robot {
            robot_id: registration.robot_id,
            manufacturer_name: registration.manufacturer_name,
            model_name: registration.model_name,
            production: registration.production,
            state,
            holder: None,
            open_recall: None,
            origin_country: registration.import.map(|origin| origin.country),
            event_count: 1,
            head_hash: event.hash,
            registered_at: recorded_at,
            updated_at: recorded_at,
        };
        (robot, event)
    }

    /// The robot after `draft` and the sealed event that records it, or why
    /// the lifecycle refuses it. Pure: the store persists both or neither.
    pub fn record(
        &self,
        draft: EventDraft,
        recorded_at: Timestamp,
    ) -> Result<(Robot, Event), Refusal> {
        let state = self.state.apply(draft.kind)?;
        let mut next = self.clone();
        next.state = state;
        match draft.kind {
            EventKind::Sold | EventKind::OwnershipTransferred => {
                next.holder = draft.details.holder.clone();
            }
            EventKind::RecallIssued => next.open_recall = draft.details.recall.clone(),
            EventKind::RecallRemedied => next.open_recall = None,
            _ => {}
        }
        let event = draft.seal(
            self.robot_id.clone(),
            self.event_count + 1,
            self.head_hash,
            recorded_at,
            state.status,
        );
        next.event_count = event.sequence;
        next.head_hash = event.hash;
        next.updated_at = recorded_at;
        Ok((next, event))
    }
}
