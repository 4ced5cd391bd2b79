//! A robot's history: events appended one after another, each carrying the
//! hash of the one before, so that any edit of stored history shows.

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::code::RobotId;
use crate::holder::Holder;
use crate::lifecycle::{EventKind, Status};
use crate::robot::Robot;
use crate::standing::{Standing, encode_holder};
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
            matches!(
                kind,
                E::ExportCleared | E::Exported | E::Imported | E::ExportClearanceCancelled
            ),
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
        // A recall's events name it: a remedy must say which of the open
        // recalls it remedies.
        needs(
            "recall",
            self.recall.is_some(),
            matches!(kind, E::RecallIssued | E::RecallRemedied),
        )?;
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
    /// The canonical encoding its hash is over: [`Event::VERSION`] for
    /// every event recorded now; 1 for events recorded before the hash
    /// committed to the robot's standing.
    pub version: u8,
    pub previous_hash: Digest,
    pub hash: Digest,
    /// Its leaf's index in the registry's transparency log, once stored
    /// there; `None` for an event not yet written, or written before the
    /// registry kept a log. Not part of the hash: the leaf commits to the
    /// hash, not the other way round.
    pub log_index: Option<u64>,
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
    /// Links the draft after `previous` (or as the first event) and seals
    /// it, committing to the robot's standing after it.
    pub fn seal(
        self,
        robot_id: RobotId,
        sequence: u64,
        previous_hash: Digest,
        recorded_at: Timestamp,
        standing_after: &Standing,
    ) -> Event {
        let mut event = Event {
            robot_id,
            sequence,
            kind: self.kind,
            details: self.details,
            occurred_at: self.occurred_at,
            recorded_at,
            actor: self.actor,
            status_after: standing_after.state.status,
            version: Event::VERSION,
            previous_hash,
            hash: Digest::GENESIS,
            log_index: None,
        };
        event.hash = event.content_hash(standing_after);
        event
    }
}

impl Event {
    /// The encoding events are sealed with: version 2 appends the robot's
    /// standing after the event (status, holds with the open recalls' names,
    /// jurisdiction, who reported it stolen, the holder) to version 1's
    /// fields.
    pub const VERSION: u8 = 2;

    /// SHA-256 over the canonical encoding of everything but `hash`, and
    /// (from version 2) the standing the event left the robot in: a version
    /// byte, then every field in a fixed order, integers big-endian, strings
    /// length-prefixed, absent options marked, so that no two different
    /// events encode alike.
    pub fn content_hash(&self, standing_after: &Standing) -> Digest {
        let mut encoding = Canonical::new(self.version);
        encoding.text(self.robot_id.as_str());
        encoding.int(self.sequence as i64);
        encoding.text(self.kind.as_str());
        encode_holder(&mut encoding, self.details.holder.as_ref());
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
        if self.version >= 2 {
            standing_after.encode(&mut encoding);
        }
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

/// What is wrong with a stored history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainProblem {
    /// An event is missing from the sequence (or out of order).
    EventMissing,
    /// An event does not carry the hash of the one before it.
    EventUnlinked,
    /// An event does not hash to what it stored: it was edited.
    EventChanged,
    /// A stored row is not an event any more (an unknown kind, a bad hash).
    EventUnreadable,
    /// The rules do not allow an event after the ones before it: it was
    /// recorded on a forged robot record, or the history was rewritten.
    EventNotAllowed,
    /// Fewer events are stored than the robot's record counts.
    EventsRemoved,
    /// The newest event is not the robot's recorded head.
    HeadMismatch,
    /// The robot's record (status, holds, jurisdiction, holder, issue
    /// time) is not what replaying its history gives.
    RecordDiffers,
    /// The transparency log holds an event of this robot that its stored
    /// history does not: the newest events were deleted (the head rolled
    /// back with them), or an event was removed from the middle.
    MissingFromHistory,
    /// A stored event is not the one the log holds at its index, or its
    /// leaf is not in the log's tree.
    LogMismatch,
}

/// The outcome of walking a robot's stored history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainVerdict {
    Intact {
        event_count: u64,
        head: Digest,
    },
    /// `sequence`: the first event that is missing, changed, unlinked or
    /// not allowed; for [`ChainProblem::RecordDiffers`] and
    /// [`ChainProblem::HeadMismatch`], the newest event, whose standing the
    /// record should hold.
    Broken {
        sequence: u64,
        kind: ChainProblem,
        problem: String,
    },
}

/// Walks events in sequence order, checking that each hashes to what it
/// stored and links to the one before, and replaying them through the
/// lifecycle; then that the robot's record is where the replay ends.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_sequence: u64,
    previous: Digest,
    /// Where the events so far leave the robot, and when it was issued.
    replayed: Option<(Standing, Timestamp)>,
    broken: Option<(u64, ChainProblem, String)>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            expected_sequence: 1,
            previous: Digest::GENESIS,
            replayed: None,
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
        match self.check(event) {
            Ok(standing) => {
                let issued_at = self
                    .replayed
                    .as_ref()
                    .map_or(event.occurred_at, |(_, issued_at)| *issued_at);
                self.replayed = Some((standing, issued_at));
                self.previous = event.hash;
                self.expected_sequence += 1;
            }
            Err((kind, problem)) => self.broken = Some((self.expected_sequence, kind, problem)),
        }
    }

    /// A stored row that could not be read back as an event.
    pub fn unreadable(&mut self, sequence: u64) {
        if self.broken.is_none() {
            self.broken = Some((
                sequence,
                ChainProblem::EventUnreadable,
                format!("event {sequence} cannot be read back"),
            ));
        }
    }

    /// The standing after `event`, once it is in place and unchanged.
    fn check(&self, event: &Event) -> Result<Standing, (ChainProblem, String)> {
        let sequence = event.sequence;
        if sequence != self.expected_sequence {
            return Err((
                ChainProblem::EventMissing,
                format!(
                    "expected event {} but found event {sequence}",
                    self.expected_sequence
                ),
            ));
        }
        if event.previous_hash != self.previous {
            return Err((
                ChainProblem::EventUnlinked,
                format!("event {sequence} does not link to the event before it"),
            ));
        }
        let standing = match &self.replayed {
            None => Standing::first(event.kind, event.status_after).ok_or_else(|| {
                (
                    ChainProblem::EventNotAllowed,
                    format!("a history cannot start with {}", event.kind),
                )
            }),
            Some((before, _)) => before
                .after(event.kind, &event.details, &event.actor)
                .map_err(|refusal| {
                    (
                        ChainProblem::EventNotAllowed,
                        format!(
                            "event {sequence} ({}) does not follow from the events before it: {refusal}",
                            event.kind
                        ),
                    )
                }),
        };
        // An edit can also make the replay refuse (an event of another
        // kind); then the refusal is what can be told of it.
        let standing = standing?;
        if event.content_hash(&standing) != event.hash {
            return Err((
                ChainProblem::EventChanged,
                format!("event {sequence} was changed after it was recorded"),
            ));
        }
        Ok(standing)
    }

    /// The verdict, given the robot's record.
    pub fn finish(self, robot: &Robot) -> ChainVerdict {
        if let Some((sequence, kind, problem)) = self.broken {
            return ChainVerdict::Broken {
                sequence,
                kind,
                problem,
            };
        }
        let event_count = self.expected_sequence - 1;
        if event_count != robot.event_count {
            return ChainVerdict::Broken {
                sequence: event_count + 1,
                kind: ChainProblem::EventsRemoved,
                problem: format!(
                    "the robot records {} events but {event_count} are stored",
                    robot.event_count
                ),
            };
        }
        let newest = event_count.max(1);
        if self.previous != robot.head_hash {
            return ChainVerdict::Broken {
                sequence: newest,
                kind: ChainProblem::HeadMismatch,
                problem: "the newest event is not the robot's recorded head".into(),
            };
        }
        let Some((standing, issued_at)) = self.replayed else {
            return ChainVerdict::Broken {
                sequence: 1,
                kind: ChainProblem::EventsRemoved,
                problem: "the robot has no stored events".into(),
            };
        };
        let differs = robot.standing.difference(&standing).or_else(|| {
            (robot.issued_at != issued_at).then(|| {
                "the robot's record gives another issue time than its first event".to_owned()
            })
        });
        if let Some(problem) = differs {
            return ChainVerdict::Broken {
                sequence: newest,
                kind: ChainProblem::RecordDiffers,
                problem,
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
    use crate::robot::{Production, Registration};

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_micros(micros)
    }

    /// A robot registered, then one event of each kind (a note each).
    fn history(kinds: &[EventKind]) -> (Robot, Vec<Event>) {
        let country = "CN".parse().unwrap();
        let registration = Registration {
            robot_id: RobotId::issue(
                &country,
                &"0001".parse().unwrap(),
                &"HX0001".parse().unwrap(),
                1,
            ),
            manufacturer_name: "Hubei Humanoid Works".into(),
            model_name: "SeeLight S1".into(),
            production: Production::default(),
            import: None,
            credential: None,
        };
        let (mut robot, first) = Robot::register(
            registration,
            at(1_000),
            "robotid://service/issuance".into(),
            at(2_000),
        );
        let mut events = vec![first];
        for (i, kind) in kinds.iter().enumerate() {
            let step = i as i64 + 1;
            let draft = EventDraft {
                kind: *kind,
                details: EventDetails {
                    note: Some(format!("step {step}")),
                    ..EventDetails::default()
                },
                occurred_at: at(10_000 * step),
                actor: "robotid://manufacturer/0001".into(),
            };
            let (next, event) = robot.record(draft, at(20_000 * step)).unwrap();
            robot = next;
            events.push(event);
        }
        (robot, events)
    }

    fn verify(events: &[Event], robot: &Robot) -> ChainVerdict {
        let mut verifier = ChainVerifier::default();
        events.iter().for_each(|e| verifier.push(e));
        verifier.finish(robot)
    }

    fn broken(verdict: ChainVerdict) -> (u64, ChainProblem) {
        match verdict {
            ChainVerdict::Broken { sequence, kind, .. } => (sequence, kind),
            intact => panic!("expected a break, got {intact:?}"),
        }
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let (robot, events) =
            history(&[EventKind::MaintenancePerformed, EventKind::FirmwareUpdated]);
        assert_eq!(
            verify(&events, &robot),
            ChainVerdict::Intact {
                event_count: 3,
                head: robot.head_hash
            }
        );
    }

    #[test]
    fn any_edit_names_the_event_where_the_chain_breaks() {
        let (robot, events) =
            history(&[EventKind::MaintenancePerformed, EventKind::FirmwareUpdated]);

        let mut edited = events.clone();
        edited[1].details.note = Some("nothing happened".into());
        assert_eq!(
            broken(verify(&edited, &robot)),
            (2, ChainProblem::EventChanged)
        );

        let mut deleted = events.clone();
        deleted.remove(1);
        assert_eq!(
            broken(verify(&deleted, &robot)),
            (2, ChainProblem::EventMissing)
        );

        assert_eq!(
            broken(verify(&events[..2], &robot)),
            (3, ChainProblem::EventsRemoved)
        );

        // Rehashing an edited event does not help: the next one no longer links.
        let mut rehashed = events.clone();
        rehashed[0].actor = "robotid://regulator/miit".into();
        rehashed[0].hash = rehashed[0].content_hash(&Standing::issued());
        assert_eq!(
            broken(verify(&rehashed, &robot)),
            (2, ChainProblem::EventUnlinked)
        );
    }

    #[test]
    fn the_hash_commits_to_the_standing_after_the_event() {
        let (_, events) = history(&[EventKind::ReleasedToMarket]);
        let released = &events[1];
        let mut stolen = Standing::issued();
        stolen.state.status = Status::InMarket;
        stolen.state.holds.stolen = true;
        stolen.stolen_by = Some("robotid://police/CN-POL".into());
        assert_ne!(released.content_hash(&stolen), released.hash);
    }

    #[test]
    fn a_robot_record_edited_away_from_its_history_is_found() {
        let (robot, events) = history(&[EventKind::Decommissioned, EventKind::Recycled]);
        let mut forged = robot.clone();
        forged.standing.state.status = Status::InMarket;
        assert_eq!(
            broken(verify(&events, &forged)),
            (3, ChainProblem::RecordDiffers)
        );

        // An event recorded on the forged record seals a standing the
        // history cannot reach: the replay refuses it.
        let (sold, sale) = forged
            .record(
                EventDraft {
                    kind: EventKind::Sold,
                    details: EventDetails::default(),
                    occurred_at: at(90_000),
                    actor: "robotid://seller/S0001".into(),
                },
                at(91_000),
            )
            .unwrap();
        let mut sealed = events.clone();
        sealed.push(sale);
        assert_eq!(
            broken(verify(&sealed, &sold)),
            (4, ChainProblem::EventNotAllowed)
        );

        let mut issued_later = robot.clone();
        issued_later.issued_at = at(5_000);
        assert_eq!(
            broken(verify(&events, &issued_later)),
            (3, ChainProblem::RecordDiffers)
        );
    }

    #[test]
    fn events_sealed_before_the_standing_was_hashed_still_verify() {
        let (robot, mut events) = history(&[EventKind::MaintenancePerformed]);
        // Re-seal the chain as version 1 did: without the standing.
        let mut previous = Digest::GENESIS;
        for event in &mut events {
            event.version = 1;
            event.previous_hash = previous;
            event.hash = event.content_hash(&Standing::issued());
            previous = event.hash;
        }
        let robot = Robot {
            head_hash: previous,
            ..robot
        };
        assert!(matches!(
            verify(&events, &robot),
            ChainVerdict::Intact { .. }
        ));
        let mut edited = events.clone();
        edited[1].details.note = Some("edited".into());
        assert_eq!(
            broken(verify(&edited, &robot)),
            (2, ChainProblem::EventChanged)
        );
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
        assert_eq!(
            EventDetails::default()
                .validate_for(EventKind::RecallRemedied)
                .unwrap_err()
                .field,
            "recall"
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
