//! Wire ↔ domain conversions at the registry's edge. Conversions from the
//! wire destructure every field, so a new proto field is a compile error
//! here until it is handled.

use robotid_domain::code::CountryCode;
use robotid_domain::history::{ChainProblem, Event, EventDetails};
use robotid_domain::holder::{Holder, HolderKey};
use robotid_domain::lifecycle::{EventKind, Jurisdiction, RobotState, Status};
use robotid_domain::robot::{ImportOrigin, Recall, Registration, Robot, StoredCredential};
use robotid_domain::time::Timestamp;
use robotid_platform::authz::Tier;
use robotid_platform::error::ApiError;
use robotid_platform::wire::status_to_wire;
use robotid_platform::wire::{
    identifier, non_empty, production_from_request, reported_time, robot_id, timestamp_from_wire,
    timestamp_to_wire,
};
use robotid_proto::common::v1 as common;
use robotid_proto::registry::v1 as pb;

pub fn event_kind_from_wire(field: &str, value: i32) -> Result<EventKind, ApiError> {
    use common::EventType as T;
    let kind = match T::try_from(value) {
        Ok(T::Issued) => EventKind::Issued,
        Ok(T::ReleasedToMarket) => EventKind::ReleasedToMarket,
        Ok(T::Sold) => EventKind::Sold,
        Ok(T::OwnershipTransferred) => EventKind::OwnershipTransferred,
        Ok(T::Deployed) => EventKind::Deployed,
        Ok(T::MaintenancePerformed) => EventKind::MaintenancePerformed,
        Ok(T::ComponentReplaced) => EventKind::ComponentReplaced,
        Ok(T::FirmwareUpdated) => EventKind::FirmwareUpdated,
        Ok(T::IncidentReported) => EventKind::IncidentReported,
        Ok(T::RecallIssued) => EventKind::RecallIssued,
        Ok(T::RecallRemedied) => EventKind::RecallRemedied,
        Ok(T::ReportedStolen) => EventKind::ReportedStolen,
        Ok(T::Recovered) => EventKind::Recovered,
        Ok(T::ExportCleared) => EventKind::ExportCleared,
        Ok(T::Exported) => EventKind::Exported,
        Ok(T::Imported) => EventKind::Imported,
        Ok(T::Decommissioned) => EventKind::Decommissioned,
        Ok(T::Recycled) => EventKind::Recycled,
        Ok(T::ExportClearanceCancelled) => EventKind::ExportClearanceCancelled,
        Ok(T::Unspecified) | Err(_) => {
            return Err(ApiError::invalid_argument(
                field,
                "an event type is required",
            ));
        }
    };
    Ok(kind)
}

pub fn event_kind_to_wire(kind: EventKind) -> common::EventType {
    use common::EventType as T;
    match kind {
        EventKind::Issued => T::Issued,
        EventKind::ReleasedToMarket => T::ReleasedToMarket,
        EventKind::Sold => T::Sold,
        EventKind::OwnershipTransferred => T::OwnershipTransferred,
        EventKind::Deployed => T::Deployed,
        EventKind::MaintenancePerformed => T::MaintenancePerformed,
        EventKind::ComponentReplaced => T::ComponentReplaced,
        EventKind::FirmwareUpdated => T::FirmwareUpdated,
        EventKind::IncidentReported => T::IncidentReported,
        EventKind::RecallIssued => T::RecallIssued,
        EventKind::RecallRemedied => T::RecallRemedied,
        EventKind::ReportedStolen => T::ReportedStolen,
        EventKind::Recovered => T::Recovered,
        EventKind::ExportCleared => T::ExportCleared,
        EventKind::Exported => T::Exported,
        EventKind::Imported => T::Imported,
        EventKind::Decommissioned => T::Decommissioned,
        EventKind::Recycled => T::Recycled,
        EventKind::ExportClearanceCancelled => T::ExportClearanceCancelled,
    }
}

pub fn jurisdiction_to_wire(jurisdiction: Jurisdiction) -> common::Jurisdiction {
    match jurisdiction {
        Jurisdiction::Domestic => common::Jurisdiction::Domestic,
        Jurisdiction::ExportCleared => common::Jurisdiction::ExportCleared,
        Jurisdiction::Abroad => common::Jurisdiction::Abroad,
    }
}

fn holder_from_wire(
    field: &str,
    holder: common::Holder,
    key: &HolderKey,
) -> Result<Holder, ApiError> {
    let common::Holder { kind } = holder;
    match kind {
        Some(common::holder::Kind::OrganizationId(id)) => Holder::organization(&id)
            .map_err(|e| ApiError::invalid_argument(format!("{field}.organization_id"), e)),
        Some(common::holder::Kind::PrivateReference(reference)) => Holder::private(key, &reference)
            .map_err(|e| ApiError::invalid_argument(format!("{field}.private_reference"), e)),
        Some(common::holder::Kind::PrivateReferenceHash(_)) => Err(ApiError::invalid_argument(
            format!("{field}.private_reference_hash"),
            "output only: give the private_reference instead",
        )),
        None => Err(ApiError::invalid_argument(
            field,
            "an organization_id or a private_reference",
        )),
    }
}

fn holder_to_wire(holder: &Holder) -> common::Holder {
    let kind = match holder {
        Holder::Organization(id) => common::holder::Kind::OrganizationId(id.clone()),
        Holder::Private(digest) => common::holder::Kind::PrivateReferenceHash(digest.clone()),
    };
    common::Holder { kind: Some(kind) }
}

/// An event's details, and the holder the call presented
/// (`current_holder`, as its keyed hash: never stored).
pub fn details_from_wire(
    details: Option<pb::EventDetails>,
    key: &HolderKey,
) -> Result<(EventDetails, Option<Holder>), ApiError> {
    let pb::EventDetails {
        holder,
        country_code,
        recall,
        note,
        component,
        firmware_version,
        reference,
        current_holder,
    } = details.unwrap_or_default();
    let presented = non_empty(current_holder)
        .map(|reference| {
            Holder::private(key, &reference)
                .map_err(|e| ApiError::invalid_argument("details.current_holder", e))
        })
        .transpose()?;
    let details = EventDetails {
        holder: holder
            .map(|holder| holder_from_wire("details.holder", holder, key))
            .transpose()?,
        ..public_details_from_wire([
            country_code,
            recall,
            note,
            component,
            firmware_version,
            reference,
        ])
    };
    Ok((details, presented))
}

/// The public details (country, recall, note, component, firmware
/// version, reference, in that order), each absent when empty.
fn public_details_from_wire(fields: [String; 6]) -> EventDetails {
    let [
        country,
        recall,
        note,
        component,
        firmware_version,
        reference,
    ] = fields.map(non_empty);
    EventDetails {
        holder: None,
        country,
        recall,
        note,
        component,
        firmware_version,
        reference,
    }
}

/// Replaces the private references in `details` (a new private holder's,
/// the current holder's) by their keyed hashes, for a request's
/// fingerprint: the requests table keeps a plain SHA-256 of what it
/// fingerprints, and a reference the seller chose must not be guessable
/// from it.
pub fn pseudonymise(details: &mut Option<pb::EventDetails>, key: &HolderKey) {
    let Some(details) = details else {
        return;
    };
    if let Some(common::Holder {
        kind: Some(common::holder::Kind::PrivateReference(reference)),
    }) = &mut details.holder
    {
        *reference = key.digest(reference);
    }
    if !details.current_holder.is_empty() {
        details.current_holder = key.digest(&details.current_holder);
    }
}

fn details_to_wire(details: &EventDetails) -> pb::EventDetails {
    pb::EventDetails {
        holder: details.holder.as_ref().map(holder_to_wire),
        country_code: details.country.clone().unwrap_or_default(),
        recall: details.recall.clone().unwrap_or_default(),
        note: details.note.clone().unwrap_or_default(),
        component: details.component.clone().unwrap_or_default(),
        firmware_version: details.firmware_version.clone().unwrap_or_default(),
        reference: details.reference.clone().unwrap_or_default(),
        current_holder: String::new(),
    }
}

/// An event as `tier` sees it: below AUTHORITY without its holder, and for
/// the events that say who has the robot (sales, transfers, theft reports)
/// without their notes and references, which may name people.
pub fn event_to_wire(event: &Event, tier: Tier) -> pb::Event {
    let mut details = details_to_wire(&event.details);
    let mut redacted = false;
    if tier < Tier::Authority {
        let personal = matches!(
            event.kind,
            EventKind::Sold
                | EventKind::OwnershipTransferred
                | EventKind::ReportedStolen
                | EventKind::Recovered
        );
        redacted = details.holder.take().is_some();
        if personal {
            redacted |= !details.note.is_empty() || !details.reference.is_empty();
            details.note.clear();
            details.reference.clear();
        }
    }
    pb::Event {
        robot_id: event.robot_id.as_str().to_owned(),
        sequence: event.sequence as i64,
        r#type: event_kind_to_wire(event.kind).into(),
        details: Some(details),
        occur_time: Some(timestamp_to_wire(event.occurred_at)),
        record_time: Some(timestamp_to_wire(event.recorded_at)),
        actor: event.actor.clone(),
        previous_hash: event.previous_hash.to_hex(),
        hash: event.hash.to_hex(),
        status_after: status_to_wire(event.status_after).into(),
        redacted,
        log_index: event.log_index,
    }
}

pub fn tier_to_wire(tier: Tier) -> pb::AccessTier {
    match tier {
        Tier::Public => pb::AccessTier::Public,
        Tier::Participant => pb::AccessTier::Participant,
        Tier::Authority => pb::AccessTier::Authority,
    }
}

/// A recall as a robot's card shows it: its name, reason and time.
pub type RecallNotice = (String, String, Timestamp);

/// The robot as `tier` sees it (see the `Robot` message for which field
/// each tier sees): `notices` are its open recalls' reasons.
pub fn robot_to_wire(
    robot: &Robot,
    view: pb::RobotView,
    tier: Tier,
    notices: &[RecallNotice],
) -> pb::Robot {
    let id = &robot.robot_id;
    let standing = &robot.standing;
    let open_recalls: Vec<pb::OpenRecall> = standing
        .open_recalls
        .iter()
        .map(|name| {
            let notice = notices.iter().find(|(notice, ..)| notice == name);
            pb::OpenRecall {
                name: name.clone(),
                reason: notice
                    .map(|(_, reason, _)| reason.clone())
                    .unwrap_or_default(),
                create_time: notice.map(|(.., created_at)| timestamp_to_wire(*created_at)),
            }
        })
        .collect();
    let mut wire = pb::Robot {
        robot_id: id.as_str().to_owned(),
        display_id: id.display(),
        country_code: id.country().as_str().to_owned(),
        manufacturer_code: id.manufacturer().as_str().to_owned(),
        model_code: id.model().as_str().to_owned(),
        serial: id.serial().as_str().to_owned(),
        manufacturer_name: robot.manufacturer_name.clone(),
        model_name: robot.model_name.clone(),
        status: status_to_wire(standing.state.status).into(),
        recalled: standing.state.holds.recalled(),
        production: Some(common::Production {
            production_time: robot.production.produced_at.map(timestamp_to_wire),
            factory: String::new(),
        }),
        open_recall: standing.open_recalls.first().cloned().unwrap_or_default(),
        view: view.into(),
        open_recalls,
        tier: tier_to_wire(tier).into(),
        stolen: standing.state.holds.stolen,
        jurisdiction: jurisdiction_to_wire(standing.state.jurisdiction).into(),
        origin_country: robot.origin_country.clone().unwrap_or_default(),
        ..pb::Robot::default()
    };
    if tier >= Tier::Participant {
        if let Some(production) = &mut wire.production {
            production.factory = robot.production.factory.clone().unwrap_or_default();
        }
        wire.event_count = robot.event_count as i64;
        wire.head_hash = robot.head_hash.to_hex();
        wire.register_time = Some(timestamp_to_wire(robot.registered_at));
        wire.update_time = Some(timestamp_to_wire(robot.updated_at));
    }
    if tier >= Tier::Authority {
        wire.holder = standing.holder.as_ref().map(holder_to_wire);
    }
    wire
}

pub fn history_problem_to_wire(problem: ChainProblem) -> pb::HistoryProblem {
    use pb::HistoryProblem as P;
    match problem {
        ChainProblem::EventMissing => P::EventMissing,
        ChainProblem::EventUnlinked => P::EventUnlinked,
        ChainProblem::EventChanged => P::EventChanged,
        ChainProblem::EventUnreadable => P::EventUnreadable,
        ChainProblem::EventNotAllowed => P::EventNotAllowed,
        ChainProblem::EventsRemoved => P::EventsRemoved,
        ChainProblem::HeadMismatch => P::HeadMismatch,
        ChainProblem::RecordDiffers => P::RobotRecordDiffers,
        ChainProblem::MissingFromHistory => P::MissingFromHistory,
        ChainProblem::LogMismatch => P::LogMismatch,
    }
}

/// Longest manufacturer and model names, in characters.
const MAX_NAME: usize = 200;

/// One registration and the time of its first event; reported times may
/// be at most `max_clock_skew` ahead.
pub fn registration_from_wire(
    field: &str,
    registration: pb::RobotRegistration,
    home: &CountryCode,
    max_clock_skew: std::time::Duration,
) -> Result<(Registration, Option<Timestamp>), ApiError> {
    let pb::RobotRegistration {
        robot_id: id,
        manufacturer_name,
        model_name,
        production,
        import_origin,
        occur_time,
        credential,
        credential_public_key,
    } = registration;
    let robot_id = robot_id(&format!("{field}.robot_id"), &id, home)?;
    for (name, value) in [
        ("manufacturer_name", &manufacturer_name),
        ("model_name", &model_name),
    ] {
        identifier(&format!("{field}.{name}"), value, MAX_NAME)?;
    }
    let production =
        production_from_request(&format!("{field}.production"), production, max_clock_skew)?;
    let import = import_origin
        .map(|origin| {
            import_origin_from_wire(&format!("{field}.import_origin"), origin, &robot_id, home)
        })
        .transpose()?;
    if import.is_none() && robot_id.country() != *home {
        return Err(ApiError::invalid_argument(
            format!("{field}.robot_id"),
            format!(
                "a robot issued here has country {home}; a foreign robot needs its import_origin"
            ),
        ));
    }
    let credential = credential_from_wire(field, credential, credential_public_key)?;
    Ok((
        Registration {
            robot_id,
            manufacturer_name,
            model_name,
            production,
            import,
            credential,
        },
        occur_time
            .as_ref()
            .map(|time| reported_time(&format!("{field}.occur_time"), time, max_clock_skew))
            .transpose()?,
    ))
}

/// A credential is QR-sized (about 180 bytes); anything far larger is not
/// one.
const MAX_CREDENTIAL: usize = 1_024;

fn credential_from_wire(
    field: &str,
    credential: Vec<u8>,
    public_key: Vec<u8>,
) -> Result<Option<StoredCredential>, ApiError> {
    if credential.len() > MAX_CREDENTIAL {
        return Err(ApiError::invalid_argument(
            format!("{field}.credential"),
            format!("at most {MAX_CREDENTIAL} bytes"),
        ));
    }
    let public_key = match public_key.len() {
        0 => None,
        _ if credential.is_empty() => {
            return Err(ApiError::invalid_argument(
                format!("{field}.credential_public_key"),
                "only with a credential",
            ));
        }
        _ => Some(<[u8; 32]>::try_from(public_key.as_slice()).map_err(|_| {
            ApiError::invalid_argument(
                format!("{field}.credential_public_key"),
                "a raw Ed25519 public key has 32 bytes",
            )
        })?),
    };
    Ok((!credential.is_empty()).then_some(StoredCredential {
        credential,
        public_key,
    }))
}

fn import_origin_from_wire(
    field: &str,
    origin: pb::ImportOrigin,
    robot_id: &robotid_domain::code::RobotId,
    home: &CountryCode,
) -> Result<ImportOrigin, ApiError> {
    let pb::ImportOrigin {
        country_code,
        status,
        transfer,
    } = origin;
    let country = CountryCode::parse(&country_code)
        .map_err(|e| ApiError::invalid_argument(format!("{field}.country_code"), e))?;
    if country == *home || country != robot_id.country() {
        return Err(ApiError::invalid_argument(
            format!("{field}.country_code"),
            "the foreign country that issued the robot, as its code's country segment says",
        ));
    }
    let status = match common::RobotStatus::try_from(status) {
        Ok(common::RobotStatus::InMarket) => Status::InMarket,
        Ok(common::RobotStatus::InService) => Status::InService,
        _ => {
            return Err(ApiError::invalid_argument(
                format!("{field}.status"),
                "an imported robot is IN_MARKET or IN_SERVICE",
            ));
        }
    };
    Ok(ImportOrigin {
        country: country.as_str().to_owned(),
        state: RobotState::imported(status),
        transfer: non_empty(transfer),
    })
}

pub fn recall_to_wire(recall: &Recall) -> pb::Recall {
    pb::Recall {
        name: recall.name.clone(),
        manufacturer_code: recall.manufacturer.as_str().to_owned(),
        model_code: recall.model.as_str().to_owned(),
        robot_ids: recall
            .robot_ids
            .iter()
            .map(|id| id.as_str().to_owned())
            .collect(),
        reason: recall.reason.clone(),
        affected_robot_count: recall.affected_robot_count as i64,
        create_time: Some(timestamp_to_wire(recall.created_at)),
        country_code: recall.country.as_str().to_owned(),
        skipped_robot_count: recall.skipped_robot_count as i64,
        listed_robot_count: recall.listed_robot_count as i64,
    }
}

/// A peer as `PutPeer` sets it, checked: the country, the two keys of the
/// right types (the log's named by its origin), an http(s) base.
pub fn peer_from_wire(
    peer: pb::Peer,
    home: &robotid_domain::code::CountryCode,
    caller: &str,
    now: Timestamp,
) -> Result<crate::witness::store::Peer, ApiError> {
    let pb::Peer {
        country_code,
        log_origin,
        log_key,
        witness_key,
        web_url,
        active,
        update_time: _,
        updated_by: _,
        grpc_url,
    } = peer;
    let country = robotid_domain::code::CountryCode::parse(&country_code)
        .map_err(|e| ApiError::invalid_argument("peer.country_code", e))?;
    if &country == home {
        return Err(ApiError::invalid_argument(
            "peer.country_code",
            "this registry's own country is not a peer",
        ));
    }
    let parsed_log_key = robotid_tlog::VerifierKey::parse(log_key.trim())
        .map_err(|e| ApiError::invalid_argument("peer.log_key", e))?;
    if parsed_log_key.signature_type() != robotid_tlog::SignatureType::Ed25519 {
        return Err(ApiError::invalid_argument(
            "peer.log_key",
            "a log key is an Ed25519 signed-note key (type 0x01)",
        ));
    }
    if parsed_log_key.name() != log_origin {
        return Err(ApiError::invalid_argument(
            "peer.log_key",
            format!(
                "the key is named {:?}, the log's origin is {log_origin:?}",
                parsed_log_key.name()
            ),
        ));
    }
    let parsed_witness_key = robotid_tlog::VerifierKey::parse(witness_key.trim())
        .map_err(|e| ApiError::invalid_argument("peer.witness_key", e))?;
    if parsed_witness_key.signature_type() != robotid_tlog::SignatureType::Cosignature {
        return Err(ApiError::invalid_argument(
            "peer.witness_key",
            "a witness key is a cosignature key (type 0x04)",
        ));
    }
    let web_url = web_url.trim_end_matches('/').to_owned();
    if !(web_url.starts_with("https://") || web_url.starts_with("http://")) {
        return Err(ApiError::invalid_argument(
            "peer.web_url",
            "an http:// or https:// base URL",
        ));
    }
    let grpc_url = grpc_url.trim_end_matches('/').to_owned();
    if !(grpc_url.is_empty() || grpc_url.starts_with("https://")) {
        return Err(ApiError::invalid_argument(
            "peer.grpc_url",
            "an https:// address (registries call each other over mutual TLS), or empty",
        ));
    }
    Ok(crate::witness::store::Peer {
        country: country.as_str().to_owned(),
        log_origin,
        log_key: parsed_log_key.to_string(),
        witness_key: parsed_witness_key.to_string(),
        web_url,
        grpc_url,
        active,
        updated_at: now.as_micros(),
        updated_by: caller.to_owned(),
    })
}

pub fn peer_to_wire(peer: &crate::witness::store::Peer) -> pb::Peer {
    pb::Peer {
        country_code: peer.country.clone(),
        log_origin: peer.log_origin.clone(),
        log_key: peer.log_key.clone(),
        witness_key: peer.witness_key.clone(),
        web_url: peer.web_url.clone(),
        active: peer.active,
        update_time: Some(timestamp_to_wire(Timestamp::from_micros(peer.updated_at))),
        updated_by: peer.updated_by.clone(),
        grpc_url: peer.grpc_url.clone(),
    }
}

/// A hold for a peer: the event as stored here (its public details only,
/// never a holder), the salt that opens its leaf's commitment, and the
/// proof of the leaf.
pub fn hold_to_wire(
    hold_id: String,
    event: &Event,
    salt: &robotid_credential::leaf::Salt,
    proof: String,
    origin_recall: Option<String>,
) -> pb::DeliverHoldRequest {
    let public = EventDetails {
        holder: None,
        ..event.details.clone()
    };
    pb::DeliverHoldRequest {
        hold_id,
        robot_id: event.robot_id.as_str().to_owned(),
        r#type: event_kind_to_wire(event.kind).into(),
        details: Some(details_to_wire(&public)),
        occur_time: Some(timestamp_to_wire(event.occurred_at)),
        actor: event.actor.clone(),
        salt: salt.to_vec(),
        proof,
        origin_recall: origin_recall.unwrap_or_default(),
    }
}

/// A hold a peer delivered, parsed; its proof is checked by
/// `holds::verify`.
pub fn hold_from_wire(
    request: pb::DeliverHoldRequest,
    home: &robotid_domain::code::CountryCode,
) -> Result<crate::holds::ReceivedHold, ApiError> {
    let pb::DeliverHoldRequest {
        hold_id,
        robot_id: id,
        r#type,
        details,
        occur_time,
        actor,
        salt,
        proof,
        origin_recall,
    } = request;
    if hold_id.is_empty() || hold_id.len() > 128 {
        return Err(ApiError::invalid_argument(
            "hold_id",
            "1 to 128 characters, unique at the sender",
        ));
    }
    let robot_id = robot_id("robot_id", &id, home)?;
    let kind = event_kind_from_wire("type", r#type)?;
    if !crate::holds::crosses_border(kind) {
        return Err(ApiError::invalid_argument(
            "type",
            "a hold is REPORTED_STOLEN, RECOVERED, RECALL_ISSUED or RECALL_REMEDIED",
        ));
    }
    let details = details.unwrap_or_default();
    if details.holder.is_some() || !details.current_holder.is_empty() {
        return Err(ApiError::invalid_argument(
            "details",
            "a hold carries no holder: holders stay in their registry",
        ));
    }
    // The details as the peer stored them, to open its leaf's commitment.
    let pb::EventDetails {
        holder: _,
        country_code,
        recall,
        note,
        component,
        firmware_version,
        reference,
        current_holder: _,
    } = details;
    let details = public_details_from_wire([
        country_code,
        recall,
        note,
        component,
        firmware_version,
        reference,
    ]);
    if [&details.note, &details.reference]
        .into_iter()
        .flatten()
        .any(|text| text.chars().count() > 2_000)
    {
        return Err(ApiError::invalid_argument(
            "details",
            "at most 2,000 characters per field",
        ));
    }
    let occurred_at = occur_time
        .as_ref()
        .map(timestamp_from_wire)
        .ok_or_else(|| ApiError::invalid_argument("occur_time", "required"))?;
    let salt = <robotid_credential::leaf::Salt>::try_from(salt.as_slice())
        .map_err(|_| ApiError::invalid_argument("salt", "16 bytes"))?;
    Ok(crate::holds::ReceivedHold {
        hold_id,
        robot_id,
        kind,
        details,
        occurred_at,
        actor,
        salt,
        proof,
        origin_recall: non_empty(origin_recall),
    })
}
