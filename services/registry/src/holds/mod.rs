//! Holds that cross borders. While a robot is abroad, a theft report, a
//! recall, and their lifting reach the other registry that keeps a copy of
//! it — the registry where it is, and its origin — as on the GSMA IMEI
//! blocklist, where a flag raised by one operator is honoured by all:
//!
//! - **Outbox** ([`outbox`]): each hold event, in the transaction that
//!   records it, gets a row per peer that keeps the robot; nothing
//!   acknowledged is lost while the peer is down.
//! - **Relay** ([`relay`]): delivers the rows with `DeliverHold` over mutual
//!   TLS, as `robotid://registry/{own country}` (a certificate the peer's CA
//!   issued), in the order each robot's holds were recorded; each carries
//!   the proof that its event is in this registry's log. A peer's refusal is
//!   kept as the row's outcome; no answer is retried with backoff.
//! - **Receipt** ([`verify`] and `RegistryStore::apply_peer_hold`): a hold
//!   is recorded here only from an active peer, once its proof verifies
//!   against that peer's log key and its leaf is this very event; it is
//!   recorded as the peer (`robotid://registry/DE`), so that only the peer
//!   (its own flagger's lifting) or this registry's regulator lifts it —
//!   the rules of the flag's home.
//! - **Clone alarm** ([`clones`]): a hold on a robot recycled here, or on
//!   one at home here, is refused as `CLONE_SUSPECTED` and raised to both
//!   registries' regulators.

pub mod clones;
pub mod outbox;
pub mod relay;

use robotid_credential::leaf;
use robotid_domain::code::RobotId;
use robotid_domain::history::EventDetails;
use robotid_domain::lifecycle::EventKind;
use robotid_domain::time::Timestamp;
use robotid_platform::error::ApiError;

use crate::witness::store::Peer;

/// The events that cross borders.
pub fn crosses_border(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::ReportedStolen
            | EventKind::Recovered
            | EventKind::RecallIssued
            | EventKind::RecallRemedied
    )
}

/// Whether an event was recorded for a peer's hold (and so is not sent
/// back to it).
pub fn is_from_a_peer(actor: &str) -> bool {
    actor.starts_with("robotid://registry/")
}

/// The name of a recall across registries: `registries/{CC}/recalls/{id}`
/// for `recalls/{id}` of `country`.
pub fn global_recall_name(country: &str, recall: &str) -> String {
    format!("registries/{country}/{recall}")
}

/// `(country, recalls/{id})` of a global recall name.
pub fn parse_global_recall_name(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("registries/")?;
    let (country, recall) = rest.split_once('/')?;
    crate::store::recall_id(recall)?;
    Some((country, recall))
}

/// A hold a peer delivered, parsed.
#[derive(Debug, Clone)]
pub struct ReceivedHold {
    pub hold_id: String,
    pub robot_id: RobotId,
    pub kind: EventKind,
    /// The event's public details as the peer stored them.
    pub details: EventDetails,
    pub occurred_at: Timestamp,
    /// Who recorded it at the peer.
    pub actor: String,
    pub salt: leaf::Salt,
    pub proof: String,
    /// For a recall: its name where it was opened.
    pub origin_recall: Option<String>,
}

/// Checks `hold` against the log of `peer`: the proof's checkpoint is
/// signed by the peer's log key, the leaf is included in it, and the leaf
/// is this event — robot, type, times, actor and details (opened with the
/// salt). Anything else is INVALID_ARGUMENT `HOLD_PROOF_INVALID`.
pub fn verify(hold: &ReceivedHold, peer: &Peer) -> Result<(), ApiError> {
    let invalid = |why: &str| {
        ApiError::new(
            tonic::Code::InvalidArgument,
            "HOLD_PROOF_INVALID",
            format!("the hold is not proven by {}'s log: {why}", peer.country),
        )
        .with_field_violation("proof", why)
    };
    let key = robotid_tlog::VerifierKey::parse(&peer.log_key)
        .map_err(|_| invalid("the peer's log key on record does not parse"))?;
    let bundle = robotid_tlog::ProofBundle::parse(hold.proof.as_bytes())
        .map_err(|_| invalid("not a c2sp.org/tlog-proof"))?;
    let entry = bundle.extra().ok_or_else(|| invalid("no leaf entry"))?;
    let signed = bundle.checkpoint();
    let checkpoint = signed.checkpoint();
    let verified = signed
        .verify(std::slice::from_ref(&key))
        .map_err(|_| invalid("the checkpoint's signature does not verify"))?;
    if checkpoint.origin() != peer.log_origin || !verified.signed_by(&key) {
        return Err(invalid("the checkpoint is not of the peer's log"));
    }
    robotid_tlog::verify_inclusion(
        bundle.index(),
        checkpoint.size(),
        &robotid_tlog::leaf_hash(entry),
        bundle.inclusion_proof(),
        checkpoint.root(),
    )
    .map_err(|_| invalid("the leaf is not in the checkpoint's tree"))?;
    let event = leaf::parse_event(entry).ok_or_else(|| invalid("the leaf is not an event"))?;
    let same = event.robot_id == hold.robot_id.as_str()
        && event.event_type == hold.kind.as_str()
        && event.occurred_at_micros == hold.occurred_at.as_micros()
        && event.actor == hold.actor
        && event.details_commitment == leaf::details_commitment(&hold.details, &hold.salt);
    if !same {
        return Err(invalid("the leaf records another event"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_names_cross_registries_and_back() {
        let name = global_recall_name("CN", "recalls/5");
        assert_eq!(name, "registries/CN/recalls/5");
        assert_eq!(parse_global_recall_name(&name), Some(("CN", "recalls/5")));
        assert_eq!(parse_global_recall_name("registries/CN/recalls/x"), None);
        assert_eq!(parse_global_recall_name("recalls/5"), None);
        assert!(is_from_a_peer("robotid://registry/DE"));
        assert!(!is_from_a_peer("robotid://police/DE-POL"));
    }
}
