//! Shipments across borders: a transfer's direction and state, the decision
//! on each robot and on the whole shipment, how an imported robot enters
//! the registry, and the trust list of foreign registries' keys.
//!
//! State machine of a transfer (REQUESTED lives only inside the clearance
//! call; what is stored is its outcome):
//!
//! ```text
//! REQUESTED ─┬─> CLEARED ───────────┬─> DEPARTED   (export, ConfirmDeparture)
//!            ├─> PARTIALLY_CLEARED ─┼─> ARRIVED    (import, ConfirmArrival)
//!            └─> REFUSED  (final)   ├─> WITHDRAWN  (export, WithdrawClearance)
//!                                   └─> EXPIRED    (export, its validity ended)
//! ```

use std::fmt;

use sha2::{Digest, Sha256};

use crate::code::{CountryCode, RobotId};
use crate::lifecycle::Status;
use crate::robot::Production;
use crate::time::Timestamp;

/// The reason of a robot that could cross on its own, in a shipment that
/// was refused as a whole.
pub const SHIPMENT_REFUSED: &str = "SHIPMENT_REFUSED";

/// Which way a shipment crosses this registry's border.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Export,
    Import,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Export => "EXPORT",
            Direction::Import => "IMPORT",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Direction::Export, Direction::Import]
            .into_iter()
            .find(|direction| direction.as_str() == name)
    }
}

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferState {
    Requested,
    Cleared,
    PartiallyCleared,
    Refused,
    Departed,
    Arrived,
    /// An export clearance customs withdrew before departure.
    Withdrawn,
    /// An export clearance whose validity ended before departure.
    Expired,
}

impl TransferState {
    pub const ALL: [TransferState; 8] = [
        TransferState::Requested,
        TransferState::Cleared,
        TransferState::PartiallyCleared,
        TransferState::Refused,
        TransferState::Departed,
        TransferState::Arrived,
        TransferState::Withdrawn,
        TransferState::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferState::Requested => "REQUESTED",
            TransferState::Cleared => "CLEARED",
            TransferState::PartiallyCleared => "PARTIALLY_CLEARED",
            TransferState::Refused => "REFUSED",
            TransferState::Departed => "DEPARTED",
            TransferState::Arrived => "ARRIVED",
            TransferState::Withdrawn => "WITHDRAWN",
            TransferState::Expired => "EXPIRED",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == name)
    }

    /// The shipment's decision from its robots': cleared when every robot
    /// is; partially cleared when the declarant allowed it and at least one
    /// robot is; refused otherwise.
    pub fn decide(decisions: &[RobotDecision], allow_partial: bool) -> TransferState {
        let cleared = decisions.iter().filter(|d| d.is_cleared()).count();
        if cleared > 0 && cleared == decisions.len() {
            TransferState::Cleared
        } else if cleared > 0 && allow_partial {
            TransferState::PartiallyCleared
        } else {
            TransferState::Refused
        }
    }

    /// The shipment's decision, and its robots' as they stand in it: in a
    /// refused shipment nothing crosses, so a robot that was fine on its
    /// own is refused too, with `SHIPMENT_REFUSED` as its reason.
    pub fn settle(
        mut decisions: Vec<RobotDecision>,
        allow_partial: bool,
    ) -> (Vec<RobotDecision>, TransferState) {
        let state = Self::decide(&decisions, allow_partial);
        if state == TransferState::Refused {
            for decision in decisions.iter_mut().filter(|d| d.is_cleared()) {
                decision.refusal = Some(SHIPMENT_REFUSED.to_owned());
                decision.arrival = None;
            }
        }
        (decisions, state)
    }

    /// The state after the shipment left (an export's confirmation).
    pub fn depart(self, direction: Direction) -> Result<TransferState, TransitionError> {
        self.confirm(direction, Direction::Export, TransferState::Departed)
    }

    /// The state after the shipment arrived (an import's confirmation).
    pub fn arrive(self, direction: Direction) -> Result<TransferState, TransitionError> {
        self.confirm(direction, Direction::Import, TransferState::Arrived)
    }

    /// The state after customs withdrew an export clearance.
    pub fn withdraw(self, direction: Direction) -> Result<TransferState, TransitionError> {
        self.confirm(direction, Direction::Export, TransferState::Withdrawn)
    }

    /// The state after an export clearance's validity ended.
    pub fn expire(self, direction: Direction) -> Result<TransferState, TransitionError> {
        self.confirm(direction, Direction::Export, TransferState::Expired)
    }

    fn confirm(
        self,
        direction: Direction,
        expected: Direction,
        next: TransferState,
    ) -> Result<TransferState, TransitionError> {
        if direction != expected {
            return Err(TransitionError::Direction {
                direction,
                confirmation: next,
            });
        }
        match self {
            TransferState::Cleared | TransferState::PartiallyCleared => Ok(next),
            TransferState::Requested | TransferState::Refused => {
                Err(TransitionError::NotCleared(self))
            }
            TransferState::Departed => Err(TransitionError::AlreadyDeparted),
            TransferState::Arrived => Err(TransitionError::AlreadyArrived),
            TransferState::Withdrawn => Err(TransitionError::Withdrawn),
            TransferState::Expired => Err(TransitionError::Expired),
        }
    }

    /// Whether the shipment's cleared robots may cross.
    pub fn is_cleared(self) -> bool {
        matches!(
            self,
            TransferState::Cleared | TransferState::PartiallyCleared
        )
    }
}

impl fmt::Display for TransferState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a transfer cannot move to the state asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the transfer is {0}: only a cleared shipment crosses the border")]
    NotCleared(TransferState),
    #[error("the shipment already departed")]
    AlreadyDeparted,
    #[error("the shipment already arrived")]
    AlreadyArrived,
    #[error("the export clearance was withdrawn")]
    Withdrawn,
    #[error("the export clearance expired before the shipment departed")]
    Expired,
    #[error("an {} transfer is not confirmed {}", direction.as_str(), confirmation)]
    Direction {
        direction: Direction,
        confirmation: TransferState,
    },
}

impl TransitionError {
    /// The machine-readable reason (AIP-193 `ErrorInfo.reason`).
    pub fn reason(&self) -> &'static str {
        match self {
            TransitionError::NotCleared(_) => "TRANSFER_NOT_CLEARED",
            TransitionError::AlreadyDeparted => "ALREADY_DEPARTED",
            TransitionError::AlreadyArrived => "ALREADY_ARRIVED",
            TransitionError::Withdrawn => "CLEARANCE_WITHDRAWN",
            TransitionError::Expired => "CLEARANCE_EXPIRED",
            TransitionError::Direction { .. } => "WRONG_DIRECTION",
        }
    }
}

/// How a cleared import enters this registry when it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// A foreign robot new here: registered as imported, in the status
    /// and with the names and production its origin stated.
    Register {
        status: Status,
        manufacturer_name: String,
        model_name: String,
        production: Production,
        /// Its ID credential as customs verified it, and the trusted
        /// foreign key (raw 32 bytes) that verified it: the registry serves
        /// both on the robot's public card.
        credential: Vec<u8>,
        credential_key: Vec<u8>,
    },
    /// A robot this registry already knows, abroad until now: its
    /// IMPORTED event is recorded.
    Return,
}

/// The decision on one robot of a shipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotDecision {
    pub robot_id: RobotId,
    /// `None` when cleared; else the machine-readable reason, e.g.
    /// `RECALL_OPEN` (from the registry) or `KEY_REVOKED` (from the trust
    /// list).
    pub refusal: Option<String>,
    /// Imports only, once cleared: how the robot enters the registry.
    pub arrival: Option<Arrival>,
}

impl RobotDecision {
    pub fn cleared(robot_id: RobotId, arrival: Option<Arrival>) -> Self {
        Self {
            robot_id,
            refusal: None,
            arrival,
        }
    }

    pub fn refused(robot_id: RobotId, reason: impl Into<String>) -> Self {
        Self {
            robot_id,
            refusal: Some(reason.into()),
            arrival: None,
        }
    }

    pub fn is_cleared(&self) -> bool {
        self.refusal.is_none()
    }
}

/// A transfer's identifier: derived from the clearance request's caller
/// and `request_id` (a request id belongs to its caller), so that a retry
/// after a partial failure (the registry wrote, this service did not)
/// names the same transfer and the registry's own idempotency recognises
/// its events, while another office's request with the same id is
/// another transfer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransferId(String);

impl TransferId {
    const LEN: usize = 16;

    pub fn for_request(caller: &str, request_id: &str) -> Self {
        let digest = Sha256::digest(format!("robotid-transfer\n{caller}\n{request_id}").as_bytes());
        Self(hex::encode(&digest[..Self::LEN / 2]))
    }

    /// From `transfers/{id}`.
    pub fn parse_name(name: &str) -> Option<Self> {
        let id = name.strip_prefix("transfers/")?;
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        (id.len() == Self::LEN && id.bytes().all(lower_hex)).then(|| Self(id.to_owned()))
    }

    /// As stored.
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `transfers/{id}`.
    pub fn name(&self) -> String {
        format!("transfers/{}", self.0)
    }

    /// The `request_id` of one step this transfer asks of the registry
    /// (`export-cleared`, `exported`, `imported`, `registered`): the same
    /// for every attempt, so a repeated step is answered, not repeated.
    pub fn registry_request_id(&self, step: &str) -> String {
        format!("transfer-{}-{step}", self.0)
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A shipment and its clearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    pub direction: Direction,
    pub state: TransferState,
    pub origin: CountryCode,
    pub destination: CountryCode,
    pub declarant: String,
    pub customs_office: String,
    pub allow_partial: bool,
    pub decisions: Vec<RobotDecision>,
    /// Exports that cleared robots: the signed clearance (COSE_Sign1), as
    /// signed again on departure.
    pub clearance: Option<Vec<u8>>,
    /// The authenticated caller who asked, `robotid://customs/CN-SHA`.
    pub requested_by: String,
    /// Cleared exports: when the clearance lapses unless departed.
    /// Cleared imports: when the origin's clearance lapses.
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Who made the change of `updated_at` (the requester at first).
    pub updated_by: String,
}

impl Transfer {
    pub fn cleared_robots(&self) -> impl Iterator<Item = &RobotDecision> {
        self.decisions.iter().filter(|d| d.is_cleared())
    }
}

/// A foreign registry's signing key on the trust list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub country: CountryCode,
    /// The key id, 16 lower-case hex digits (the first 8 bytes of the
    /// SHA-256 of the public key).
    pub kid: String,
    /// Raw Ed25519 public key.
    pub public_key: [u8; 32],
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// The regulator who added it, `robotid://regulator/miit`.
    pub added_by: String,
    /// The regulator who revoked it.
    pub revoked_by: Option<String>,
    /// The registry's transparency log; `None` for an entry that
    /// recognises credentials only (no import clears on it).
    pub log: Option<TrustedLog>,
}

/// A trusted registry's transparency log, as its trust entry names it:
/// what an import from it is checked against, and where its registry's
/// witness and proofs are. The texts are in their specs' forms
/// (c2sp.org/signed-note keys, c2sp.org/tlog-policy), checked when the
/// entry is added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedLog {
    /// Its checkpoints' origin line, e.g. `id.example.cn/log`.
    pub origin: String,
    /// Its log's verifier key (`name+id+key`).
    pub log_key: String,
    /// Its witness's verifier key (`name+id+key`, cosignature type).
    pub witness_key: String,
    /// Its public HTTP base, without a trailing slash.
    pub web_url: String,
    /// The witnesses that must have cosigned, in c2sp.org/tlog-policy form.
    pub import_policy: String,
    /// Its registry's gRPC base, empty when not given.
    pub registry_url: String,
}

impl TrustedKey {
    /// `trustedRegistries/{country}-{kid}`.
    pub fn name(&self) -> String {
        trusted_key_name(&self.country, &self.kid)
    }

    /// Whether the key vouches for anything at `now`: not revoked, and
    /// within its validity.
    pub fn usable_at(&self, now: Timestamp) -> Result<(), ImportRefusal> {
        if self.revoked_at.is_some() {
            Err(ImportRefusal::KeyRevoked)
        } else if now < self.not_before || now >= self.not_after {
            Err(ImportRefusal::KeyExpired)
        } else {
            Ok(())
        }
    }
}

pub fn trusted_key_name(country: &CountryCode, kid: &str) -> String {
    format!("trustedRegistries/{}-{kid}", country.as_str())
}

/// `trustedRegistries/{country}-{kid}` → (country, kid), in canonical
/// case only, so that one key has one name.
pub fn parse_trusted_key_name(name: &str) -> Option<(CountryCode, String)> {
    let (country_text, kid) = name.strip_prefix("trustedRegistries/")?.split_once('-')?;
    let country = CountryCode::parse(country_text)
        .ok()
        .filter(|country| country.as_str() == country_text)?;
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    (kid.len() == 16 && kid.bytes().all(lower_hex)).then(|| (country, kid.to_owned()))
}

/// Why a foreign robot (or its origin's clearance) is not recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImportRefusal {
    #[error("a foreign robot needs its credential from its issuing registry")]
    CredentialMissing,
    #[error("the credential is malformed or its signature does not verify")]
    CredentialInvalid,
    #[error("the credential names another robot")]
    CredentialMismatch,
    #[error("no registry of the robot's country is on the trust list")]
    UntrustedCountry,
    #[error("the signing key is not on the trust list")]
    UnknownKey,
    #[error("the signing key was revoked")]
    KeyRevoked,
    #[error("the signing key is outside its validity")]
    KeyExpired,
    #[error("the signing key is trusted for another country than the robot's")]
    CountryMismatch,
    #[error("the origin's clearance does not list the robot")]
    NotInOriginClearance,
    #[error("the origin's clearance is for a shipment between other countries")]
    ShipmentMismatch,
    #[error("an import needs the origin registry's export clearance")]
    OriginClearanceMissing,
    #[error("the origin's clearance has expired")]
    OriginClearanceExpired,
    #[error(
        "the origin's clearance was signed before departure: an import needs the one its \
         ConfirmDeparture signed"
    )]
    OriginClearanceNotDeparted,
    #[error("the origin's clearance was used by an import already")]
    OriginClearanceUsed,
    #[error("the origin's trust entry names no transparency log to check the import against")]
    OriginLogUntrusted,
    #[error("the origin registry gave no proof of the robot's newest event")]
    OriginProofUnavailable,
    #[error("the origin's proof does not verify against its log key and import policy")]
    OriginProofInvalid,
    #[error("the origin's proof sits under a checkpoint this registry's witness never cosigned")]
    OriginProofNotWitnessed,
    #[error("the robot's newest event in the origin's log is not this shipment's export")]
    OriginProofNotExported,
}

impl ImportRefusal {
    /// The machine-readable reason (`RobotDecision.reason`).
    pub fn reason(&self) -> &'static str {
        match self {
            ImportRefusal::CredentialMissing => "CREDENTIAL_MISSING",
            ImportRefusal::CredentialInvalid => "CREDENTIAL_INVALID",
            ImportRefusal::CredentialMismatch => "CREDENTIAL_MISMATCH",
            ImportRefusal::UntrustedCountry => "UNTRUSTED_COUNTRY",
            ImportRefusal::UnknownKey => "UNKNOWN_KEY",
            ImportRefusal::KeyRevoked => "KEY_REVOKED",
            ImportRefusal::KeyExpired => "KEY_EXPIRED",
            ImportRefusal::CountryMismatch => "COUNTRY_MISMATCH",
            ImportRefusal::NotInOriginClearance => "NOT_IN_ORIGIN_CLEARANCE",
            ImportRefusal::ShipmentMismatch => "SHIPMENT_MISMATCH",
            ImportRefusal::OriginClearanceMissing => "ORIGIN_CLEARANCE_MISSING",
            ImportRefusal::OriginClearanceExpired => "ORIGIN_CLEARANCE_EXPIRED",
            ImportRefusal::OriginClearanceNotDeparted => "ORIGIN_CLEARANCE_NOT_DEPARTED",
            ImportRefusal::OriginClearanceUsed => "ORIGIN_CLEARANCE_USED",
            ImportRefusal::OriginLogUntrusted => "ORIGIN_LOG_UNTRUSTED",
            ImportRefusal::OriginProofUnavailable => "ORIGIN_PROOF_UNAVAILABLE",
            ImportRefusal::OriginProofInvalid => "ORIGIN_PROOF_INVALID",
            ImportRefusal::OriginProofNotWitnessed => "ORIGIN_PROOF_NOT_WITNESSED",
            ImportRefusal::OriginProofNotExported => "ORIGIN_PROOF_NOT_EXPORTED",
        }
    }

    /// The reason for every robot of a shipment whose origin clearance
    /// failed this way: the same, marked as the clearance's.
    pub fn origin_clearance_reason(&self) -> &'static str {
        match self {
            ImportRefusal::CredentialMissing | ImportRefusal::CredentialInvalid => {
                "ORIGIN_CLEARANCE_INVALID"
            }
            ImportRefusal::CredentialMismatch
            | ImportRefusal::NotInOriginClearance
            | ImportRefusal::ShipmentMismatch => "ORIGIN_CLEARANCE_SHIPMENT_MISMATCH",
            ImportRefusal::UntrustedCountry => "ORIGIN_CLEARANCE_UNTRUSTED_COUNTRY",
            ImportRefusal::UnknownKey => "ORIGIN_CLEARANCE_UNKNOWN_KEY",
            ImportRefusal::KeyRevoked => "ORIGIN_CLEARANCE_KEY_REVOKED",
            ImportRefusal::KeyExpired => "ORIGIN_CLEARANCE_KEY_EXPIRED",
            ImportRefusal::CountryMismatch => "ORIGIN_CLEARANCE_COUNTRY_MISMATCH",
            ImportRefusal::OriginClearanceMissing
            | ImportRefusal::OriginClearanceExpired
            | ImportRefusal::OriginClearanceNotDeparted
            | ImportRefusal::OriginClearanceUsed
            | ImportRefusal::OriginLogUntrusted
            | ImportRefusal::OriginProofUnavailable
            | ImportRefusal::OriginProofInvalid
            | ImportRefusal::OriginProofNotWitnessed
            | ImportRefusal::OriginProofNotExported => self.reason(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn robot(n: u64) -> RobotId {
        RobotId::issue(
            &"CN".parse().unwrap(),
            &"0001".parse().unwrap(),
            &"HX0001".parse().unwrap(),
            n,
        )
    }

    fn decisions(refused: &[u64], count: u64) -> Vec<RobotDecision> {
        (1..=count)
            .map(|n| {
                if refused.contains(&n) {
                    RobotDecision::refused(robot(n), "RECALL_OPEN")
                } else {
                    RobotDecision::cleared(robot(n), None)
                }
            })
            .collect()
    }

    #[test]
    fn the_shipment_is_cleared_only_when_every_robot_is_or_partial_was_asked() {
        use TransferState as S;
        assert_eq!(S::decide(&decisions(&[], 3), false), S::Cleared);
        assert_eq!(S::decide(&decisions(&[], 3), true), S::Cleared);
        assert_eq!(S::decide(&decisions(&[2], 3), false), S::Refused);
        assert_eq!(S::decide(&decisions(&[2], 3), true), S::PartiallyCleared);
        assert_eq!(S::decide(&decisions(&[1, 2, 3], 3), true), S::Refused);
        assert_eq!(S::decide(&[], true), S::Refused, "nothing to clear");

        let (settled, state) = S::settle(decisions(&[2], 3), false);
        assert_eq!(state, S::Refused);
        let reasons: Vec<_> = settled.iter().map(|d| d.refusal.as_deref()).collect();
        assert_eq!(
            reasons,
            [
                Some(SHIPMENT_REFUSED),
                Some("RECALL_OPEN"),
                Some(SHIPMENT_REFUSED)
            ]
        );
        let (settled, state) = S::settle(decisions(&[2], 3), true);
        assert_eq!(state, S::PartiallyCleared);
        assert_eq!(
            settled,
            decisions(&[2], 3),
            "a partial clearance keeps each decision"
        );
    }

    #[test]
    fn every_state_and_confirmation_follows_the_machine() {
        use Direction::{Export, Import};
        use TransferState as S;
        for state in S::ALL {
            for direction in [Export, Import] {
                let departed = state.depart(direction);
                let arrived = state.arrive(direction);
                let closed = |state| match state {
                    S::Requested | S::Refused => Err("TRANSFER_NOT_CLEARED"),
                    S::Departed => Err("ALREADY_DEPARTED"),
                    S::Arrived => Err("ALREADY_ARRIVED"),
                    S::Withdrawn => Err("CLEARANCE_WITHDRAWN"),
                    S::Expired => Err("CLEARANCE_EXPIRED"),
                    S::Cleared | S::PartiallyCleared => unreachable!("open"),
                };
                let open = state.is_cleared();
                let expected_departure = match (direction, open) {
                    (Import, _) => Err("WRONG_DIRECTION"),
                    (Export, true) => Ok(S::Departed),
                    (Export, false) => closed(state),
                };
                let expected_arrival = match (direction, open) {
                    (Export, _) => Err("WRONG_DIRECTION"),
                    (Import, true) => Ok(S::Arrived),
                    (Import, false) => closed(state),
                };
                for (next, expected) in [
                    (state.withdraw(direction), S::Withdrawn),
                    (state.expire(direction), S::Expired),
                ] {
                    let expected = match (direction, open) {
                        (Import, _) => Err("WRONG_DIRECTION"),
                        (Export, true) => Ok(expected),
                        (Export, false) => closed(state),
                    };
                    assert_eq!(
                        next.map_err(|e| e.reason()),
                        expected,
                        "{state} {direction:?}"
                    );
                }
                assert_eq!(
                    departed.map_err(|e| e.reason()),
                    expected_departure,
                    "{state} {direction:?}"
                );
                assert_eq!(
                    arrived.map_err(|e| e.reason()),
                    expected_arrival,
                    "{state} {direction:?}"
                );
            }
            assert_eq!(S::parse(state.as_str()), Some(state));
        }
    }

    #[test]
    fn transfer_ids_follow_the_request_and_name_registry_steps() {
        let office = "robotid://customs/CN-SHA";
        let id = TransferId::for_request(office, "customs-4711");
        assert_eq!(id, TransferId::for_request(office, "customs-4711"));
        assert_ne!(id, TransferId::for_request(office, "customs-4712"));
        assert_ne!(
            id,
            TransferId::for_request("robotid://customs/CN-PEK", "customs-4711")
        );
        assert_eq!(id.as_str().len(), 16);
        assert_eq!(TransferId::parse_name(&id.name()), Some(id.clone()));
        assert_eq!(TransferId::parse_name("transfers/XYZ"), None);
        assert_eq!(
            TransferId::parse_name(&id.name().to_uppercase().replace("TRANSFERS", "transfers")),
            None
        );
        let step = id.registry_request_id("export-cleared");
        assert!(step.len() <= 128 && step.contains(id.as_str()), "{step}");
    }

    #[test]
    fn a_trusted_key_vouches_only_within_its_validity_and_unrevoked() {
        let key = TrustedKey {
            country: "DE".parse().unwrap(),
            kid: "0123456789abcdef".into(),
            public_key: [1; 32],
            not_before: Timestamp::from_micros(1_000),
            not_after: Timestamp::from_micros(2_000),
            revoked_at: None,
            added_by: "robotid://regulator/miit".into(),
            revoked_by: None,
            log: None,
        };
        assert_eq!(key.usable_at(Timestamp::from_micros(1_000)), Ok(()));
        assert_eq!(
            key.usable_at(Timestamp::from_micros(999)),
            Err(ImportRefusal::KeyExpired)
        );
        assert_eq!(
            key.usable_at(Timestamp::from_micros(2_000)),
            Err(ImportRefusal::KeyExpired)
        );
        let revoked = TrustedKey {
            revoked_at: Some(Timestamp::from_micros(1_500)),
            ..key.clone()
        };
        assert_eq!(
            revoked.usable_at(Timestamp::from_micros(1_200)),
            Err(ImportRefusal::KeyRevoked)
        );
        assert_eq!(key.name(), "trustedRegistries/DE-0123456789abcdef");
        assert_eq!(
            parse_trusted_key_name(&key.name()),
            Some((key.country.clone(), key.kid.clone()))
        );
        for bad in [
            "trustedRegistries/de-0123456789abcdef",
            "trustedRegistries/DE-0123456789ABCDEF",
            "trustedRegistries/DE-0123",
            "registries/DE-0123456789abcdef",
        ] {
            assert_eq!(parse_trusted_key_name(bad), None, "{bad}");
        }
        assert_eq!(
            ImportRefusal::KeyRevoked.origin_clearance_reason(),
            "ORIGIN_CLEARANCE_KEY_REVOKED"
        );
    }
}
