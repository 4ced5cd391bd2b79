//! A robot's history: events appended one after another, each carrying the
//! hash of the one before, so that any edit of stored history shows.

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::code::RobotId;
use crate::holder::Holder;
use crate::lifecycle::{EventKind, Status};
use crate::time::Timestamp;

/// A SHA-256 digest in the hash chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// What the first event of every robot points back to.
    pub const GENESIS: Digest = Digest([0; 32]);

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Digest)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

/// What an event carries besides its type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventDetails {
    pub holder: Option<Holder>,
    /// Destination of an export, origin of an import.
    pub country: Option<String>,
    /// `recalls/{id}`.
    pub recall: Option<String>,
    pub note: Option<String>,
    pub component: Option<String>,
    pub firmware_version: Option<String>,
    pub reference: Option<String>,
}

/// A detail that does not fit the event it was given with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("details.{field}: {problem}")]
pub struct DetailsError {
    pub field: &'static str,
    pub problem: String,
}

impl EventDetails {
    pub const MAX_NOTE: usize = 2_000;
    pub const MAX_FIELD: usize = 200;

    /// Checks that the event has the details it needs and none that belong
    /// to other events, so every stored field means something.
    pub fn validate_for(&self, kind: EventKind) -> Result<(), DetailsError> {
        use EventKind as E;
        let needs =
            |field: &'static str, present: bool, applies: bool| -> Result<(), DetailsError> {
                match (present, applies) {
                    (false, true) => Err(DetailsError {
                        field,
                        problem: format!("required for {kind}"),
                    }),
                    (true, false) => Err(DetailsError {
                        field,
                        problem: format!("does not apply to {kind}"),
                    }),
                    _ => Ok(()),
                }
            };
        needs(
            "holder",
            self.holder.is_some(),
            matches!(kind, E::Sold | E::OwnershipTransferred),
        )?;
        needs(
            "country_code",
            self.country.is_some(),
            matches!(kind, E::ExportCleared | E::Exported | E::Imported),
        )?;
        needs(
            "component",
            self.component.is_some(),
            kind == E::ComponentReplaced,
        )?;
        needs(
            "firmware_version",
            self.firmware_version.is_some(),
            kind == E::FirmwareUpdated,
        )?;
        if self.recall.is_some() && !matches!(kind, E::RecallIssued | E::RecallRemedied) {
            return Err(DetailsError {
                field: "recall",
                problem: format!("does not apply to {kind}"),
            });
        }
        if let Some(country) = &self.country
            && (country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(DetailsError {
                field: "country_code",
                problem: "two capital letters (ISO 3166-1 alpha-2)".into(),
            });
        }
        // Identifiers are one line of visible text; the note is free text
        // (see `crate::text`).
        let identifiers = [
            ("recall", &self.recall),
            ("component", &self.component),
            ("firmware_version", &self.firmware_version),
            ("reference", &self.reference),
        ];
        for (field, value) in identifiers {
            if let Some(value) = value {
                crate::text::identifier(value, Self::MAX_FIELD).map_err(|e| DetailsError {
                    field,
                    problem: e.to_string(),
                })?;
            }
        }
        if let Some(note) = &self.note {
            crate::text::note(note, Self::MAX_NOTE).map_err(|e| DetailsError {
                field: "note",
                problem: e.to_string(),
            })?;
        }
        Ok(())
    }
}

/// One entry of a robot's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub robot_id: RobotId,
    /// 1 for the first event.
    pub sequence: u64,
    pub kind: EventKind,
    pub details: EventDetails,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
    /// The caller's identity, e.g. `robotid://seller/S001`.
    pub actor: String,
    pub status_after: Status,
    pub previous_hash: Digest,
    pub hash: Digest,
}

/// An event before it is hashed into the chain.
#[derive(Debug, Clone)]
pub struct EventDraft {
    pub kind: EventKind,
    pub details: EventDetails,
    pub occurred_at: Timestamp,
    pub actor: String,
}

impl EventDraft {
    /// Links the draft after `previous` (or as the first event) and seals it.
    pub fn seal(
        self,
        robot_id: RobotId,
        sequence: u64,
        previous_hash: Digest,
        recorded_at: Timestamp,
        status_after: Status,
    ) -> Event {
        let mut event = Event {
            robot_id,
            sequence,
            kind: self.kind,
            details: self.details,
            occurred_at: self.occurred_at,
            recorded_at,
            actor: self.actor,
            status_after,
            previous_hash,
            hash: Digest::GENESIS,
        };
        event.hash = event.content_hash();
        event
    }
}

impl Event {
    /// SHA-256 over the canonical encoding of everything but `hash`:
    /// a version byte, then every field in a fixed order, integers
    /// big-endian, strings length-prefixed, absent options marked, so that no
    /// two different events encode alike.
    pub fn content_hash(&self) -> Digest {
        let mut encoding = Canonical::new(1);
        encoding.text(self.robot_id.as_str());
        encoding.int(self.sequence as i64);
        encoding.text(self.kind.as_str());
        match &self.details.holder {
            None => encoding.byte(0),
            Some(Holder::Organization(id)) => {
                encoding.byte(1);
                encoding.text(id);
            }
            Some(Holder::Private(digest)) => {
                encoding.byte(2);
                encoding.text(digest);
            }
        }
        for field in [
            &self.details.country,
            &self.details.recall,
            &self.details.note,
            &self.details.component,
            &self.details.firmware_version,
            &self.details.reference,
        ] {
            encoding.optional(field.as_deref());
        }
        encoding.int(self.occurred_at.as_micros());
        encoding.int(self.recorded_at.as_micros());
        encoding.text(&self.actor);
        encoding.text(self.status_after.as_str());
        encoding.digest(self.previous_hash);
        encoding.finish()
    }
}

/// The canonical encoding that chained records are hashed over: integers
/// big-endian, strings length-prefixed, absent options marked.
pub(crate) struct Canonical(Sha256);

impl Canonical {
    pub(crate) fn new(version: u8) -> Self {
        let mut encoding = Canonical(Sha256::new());
        encoding.byte(version);
        encoding
    }
    pub(crate) fn digest(&mut self, digest: Digest) {
        self.0.update(digest.0);
    }
    pub(crate) fn finish(self) -> Digest {
        Digest(self.0.finalize().into())
    }
    pub(crate) fn byte(&mut self, byte: u8) {
        self.0.update([byte]);
    }
    pub(crate) fn int(&mut self, value: i64) {
        self.0.update(value.to_be_bytes());
    }
    pub(crate) fn text(&mut self, text: &str) {
        self.0.update((text.len() as u64).to_be_bytes());
        self.0.update(text.as_bytes());
    }
    pub(crate) fn optional(&mut self, text: Option<&str>) {
        match text {
            None => self.byte(0),
            Some(text) => {
                self.byte(1);
                self.text(text);
            }
        }
    }
}

/// The outcome of walking a robot's stored history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainVerdict {
    Intact { event_count: u64, head: Digest },
    Broken { sequence: u64, problem: String },
}

/// Walks events in sequence order, checking that each hashes to what it
/// stored, links to the one before, and that the last is the robot's head.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_sequence: u64,
    previous: Digest,
    broken: Option<(u64, String)>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            expected_sequence: 1,
            previous: Digest::GENESIS,
            broken: None,
        }
    }
}

impl ChainVerifier {
    /// Feeds the next event; the first problem found is kept.
    pub fn push(&mut self, event: &Event) {
        if self.broken.is_some() {
            return;
        }
        let problem = if event.sequence != self.expected_sequence {
            Some(format!(
                "expected event {} but found event {}",
                self.expected_sequence, event.sequence
            ))
        } else if event.previous_hash != self.previous {
            Some(format!(
                "event {} does not link to the event before it",
                event.sequence
            ))
        } else if event.content_hash() != event.hash {
            Some(format!(
                "event {} was changed after it was recorded",
                event.sequence
            ))
        } else {
            None
        };
        match problem {
            Some(problem) => self.broken = Some((self.expected_sequence, problem)),
            None => {
                self.previous = event.hash;
                self.expected_sequence += 1;
            }
        }
    }

    /// The verdict, given the head and event count the robot record holds.
    pub fn finish(self, recorded_head: Digest, recorded_count: u64) -> ChainVerdict {
        if let Some((sequence, problem)) = self.broken {
            return ChainVerdict::Broken { sequence, problem };
        }
        let event_count = self.expected_sequence - 1;
        if event_count != recorded_count {
            return ChainVerdict::Broken {
                sequence: event_count + 1,
                problem: format!(
                    "the robot records {recorded_count} events but {event_count} are stored"
                ),
            };
        }
        if self.previous != recorded_head {
            return ChainVerdict::Broken {
                sequence: event_count.max(1),
                problem: "the newest event is not the robot's recorded head".into(),
            };
        }
        ChainVerdict::Intact {
            event_count,
            head: self.previous,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn robot() -> RobotId {
        let country = "CN".parse().unwrap();
        RobotId::issue(
            &country,
            &"0001".parse().unwrap(),
            &"HX0001".parse().unwrap(),
            1,
        )
    }

    fn chain(kinds: &[EventKind]) -> Vec<Event> {
        let mut previous = Digest::GENESIS;
        kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                let event = EventDraft {
                    kind: *kind,
                    details: EventDetails {
                        note: Some(format!("step {i}")),
                        ..EventDetails::default()
                    },
                    occurred_at: Timestamp::from_micros(1_000 * i as i64),
                    actor: "robotid://manufacturer/0001".into(),
                }
                .seal(
                    robot(),
                    i as u64 + 1,
                    previous,
                    Timestamp::from_micros(2_000 * i as i64),
                    Status::Registered,
                );
                previous = event.hash;
                event
            })
            .collect()
    }

    fn verify(events: &[Event], head: Digest, count: u64) -> ChainVerdict {
        let mut verifier = ChainVerifier::default();
        events.iter().for_each(|e| verifier.push(e));
        verifier.finish(head, count)
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let events = chain(&[
            EventKind::Issued,
            EventKind::MaintenancePerformed,
            EventKind::FirmwareUpdated,
        ]);
        let head = events.last().unwrap().hash;
        assert_eq!(
            verify(&events, head, 3),
            ChainVerdict::Intact {
                event_count: 3,
                head
            }
        );
    }

    #[test]
    fn any_edit_names_the_event_where_the_chain_breaks() {
        let events = chain(&[
            EventKind::Issued,
            EventKind::MaintenancePerformed,
            EventKind::FirmwareUpdated,
        ]);
        let head = events.last().unwrap().hash;

        let mut edited = events.clone();
        edited[1].details.note = Some("nothing happened".into());
        assert!(matches!(
            verify(&edited, head, 3),
            ChainVerdict::Broken { sequence: 2, .. }
        ));

        let mut deleted = events.clone();
        deleted.remove(1);
        assert!(matches!(
            verify(&deleted, head, 3),
            ChainVerdict::Broken { sequence: 2, .. }
        ));

        let truncated = &events[..2];
        assert!(matches!(
            verify(truncated, head, 3),
            ChainVerdict::Broken { .. }
        ));

        // Rehashing an edited event does not help: the next one no longer links.
        let mut rehashed = events.clone();
        rehashed[0].actor = "robotid://regulator/miit".into();
        rehashed[0].hash = rehashed[0].content_hash();
        assert!(matches!(
            verify(&rehashed, head, 3),
            ChainVerdict::Broken { sequence: 2, .. }
        ));
    }

    #[test]
    fn details_belong_to_their_event() {
        let sold = EventDetails {
            holder: Some(Holder::Organization("ACME".into())),
            ..EventDetails::default()
        };
        assert!(sold.validate_for(EventKind::Sold).is_ok());
        assert_eq!(
            sold.validate_for(EventKind::MaintenancePerformed)
                .unwrap_err()
                .field,
            "holder"
        );
        assert_eq!(
            EventDetails::default()
                .validate_for(EventKind::Exported)
                .unwrap_err()
                .field,
            "country_code"
        );
        let lower = EventDetails {
            country: Some("de".into()),
            ..EventDetails::default()
        };
        assert_eq!(
            lower.validate_for(EventKind::Exported).unwrap_err().field,
            "country_code"
        );
    }
}
