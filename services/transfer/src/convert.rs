//! Wire ↔ domain conversions at the transfer service's edge. Conversions
//! from the wire destructure every field, so a new proto field is a
//! compile error here until it is handled.

use std::collections::HashSet;

use robotid_credential::KeyId;
use robotid_domain::code::CountryCode;
use robotid_domain::lifecycle::Status;
use robotid_domain::robot::Production;
use robotid_domain::time::Timestamp;
use robotid_domain::transfer::{Direction, Transfer, TransferState, TrustedKey, TrustedLog};
use robotid_platform::error::ApiError;
use robotid_platform::identity::Caller;
use robotid_platform::wire::{
    identifier, production_from_wire, robot_id, timestamp_from_request, timestamp_to_wire,
};
use robotid_proto::common::v1 as common;
use robotid_proto::registry::v1 as registry;
use robotid_proto::transfer::v1 as pb;

use crate::customs::{ClearanceRequest, ShipmentRobot};

/// At most this many robots per shipment: what one eligibility call and
/// one event batch of the registry take.
pub const MAX_SHIPMENT: usize = 1_000;
/// A credential is QR-sized (about 180 bytes); anything far larger is not
/// one.
const MAX_CREDENTIAL: usize = 2_048;
/// A clearance of 1,000 robots is about 33 KB.
const MAX_CLEARANCE: usize = 256 * 1024;
const MAX_TEXT: usize = 200;

/// The registry's verdict on one robot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub robot_id: String,
    pub eligible: bool,
    /// Machine-readable, e.g. `RECALL_OPEN`; empty when eligible.
    pub reason: String,
    /// `None` for a robot the registry does not know.
    pub status: Option<Status>,
    pub manufacturer_name: String,
    pub model_name: String,
    /// As registered; empty for a robot the registry does not know.
    pub production: Production,
}

pub fn verdict_from_wire(verdict: registry::EligibilityVerdict) -> Verdict {
    let registry::EligibilityVerdict {
        robot_id,
        eligible,
        reason,
        status,
        jurisdiction: _,
        manufacturer_name,
        model_name,
        production,
    } = verdict;
    let production = production.map(production_from_wire).unwrap_or_default();
    let status = match common::RobotStatus::try_from(status) {
        Ok(common::RobotStatus::Registered) => Some(Status::Registered),
        Ok(common::RobotStatus::InMarket) => Some(Status::InMarket),
        Ok(common::RobotStatus::InService) => Some(Status::InService),
        Ok(common::RobotStatus::Decommissioned) => Some(Status::Decommissioned),
        Ok(common::RobotStatus::Recycled) => Some(Status::Recycled),
        Ok(common::RobotStatus::Unspecified) | Err(_) => None,
    };
    Verdict {
        robot_id,
        eligible,
        reason,
        status,
        manufacturer_name,
        model_name,
        production,
    }
}

fn direction_to_wire(direction: Direction) -> pb::TransferDirection {
    match direction {
        Direction::Export => pb::TransferDirection::Export,
        Direction::Import => pb::TransferDirection::Import,
    }
}

pub fn state_to_wire(state: TransferState) -> pb::TransferState {
    match state {
        TransferState::Requested => pb::TransferState::Requested,
        TransferState::Cleared => pb::TransferState::Cleared,
        TransferState::PartiallyCleared => pb::TransferState::PartiallyCleared,
        TransferState::Refused => pb::TransferState::Refused,
        TransferState::Departed => pb::TransferState::Departed,
        TransferState::Arrived => pb::TransferState::Arrived,
        TransferState::Withdrawn => pb::TransferState::Withdrawn,
        TransferState::Expired => pb::TransferState::Expired,
    }
}

/// A state filter: unspecified matches all.
pub fn state_filter_from_wire(value: i32) -> Result<Option<TransferState>, ApiError> {
    use pb::TransferState as S;
    match S::try_from(value) {
        Ok(S::Unspecified) => Ok(None),
        Ok(S::Requested) => Ok(Some(TransferState::Requested)),
        Ok(S::Cleared) => Ok(Some(TransferState::Cleared)),
        Ok(S::PartiallyCleared) => Ok(Some(TransferState::PartiallyCleared)),
        Ok(S::Refused) => Ok(Some(TransferState::Refused)),
        Ok(S::Departed) => Ok(Some(TransferState::Departed)),
        Ok(S::Arrived) => Ok(Some(TransferState::Arrived)),
        Ok(S::Withdrawn) => Ok(Some(TransferState::Withdrawn)),
        Ok(S::Expired) => Ok(Some(TransferState::Expired)),
        Err(_) => Err(ApiError::invalid_argument("state", "unknown state")),
    }
}

fn country(field: &str, value: &str) -> Result<CountryCode, ApiError> {
    CountryCode::parse(value).map_err(|e| ApiError::invalid_argument(field, e))
}

/// A declarant or an office: one line of visible text.
fn text(field: &str, value: String) -> Result<String, ApiError> {
    identifier(field, &value, MAX_TEXT)?;
    Ok(value)
}

/// A clearance request by `caller`, its `request_id` aside (the caller
/// keys retries on it). This registry clears its own border only: an
/// export leaves `home`, an import enters it. The office is the caller's
/// own (checked by the handler); empty stands for it.
pub fn clearance_request_from_wire(
    request: pb::RequestClearanceRequest,
    home: &CountryCode,
    caller: &Caller,
) -> Result<ClearanceRequest, ApiError> {
    let pb::RequestClearanceRequest {
        request_id: _,
        direction,
        robots,
        origin_country,
        destination_country,
        declarant,
        customs_office,
        allow_partial,
        origin_clearance,
    } = request;
    let direction = match pb::TransferDirection::try_from(direction) {
        Ok(pb::TransferDirection::Export) => Direction::Export,
        Ok(pb::TransferDirection::Import) => Direction::Import,
        _ => {
            return Err(ApiError::invalid_argument("direction", "EXPORT or IMPORT"));
        }
    };
    let origin = country("origin_country", &origin_country)?;
    let destination = country("destination_country", &destination_country)?;
    let (home_field, home_side) = match direction {
        Direction::Export => ("origin_country", &origin),
        Direction::Import => ("destination_country", &destination),
    };
    if home_side != home {
        return Err(ApiError::invalid_argument(
            home_field,
            format!("this registry clears the border of {home} only"),
        ));
    }
    if origin == destination {
        return Err(ApiError::invalid_argument(
            "destination_country",
            "a shipment crosses a border: origin and destination differ",
        ));
    }
    if robots.is_empty() || robots.len() > MAX_SHIPMENT {
        return Err(ApiError::invalid_argument(
            "robots",
            format!("1 to {MAX_SHIPMENT} robots per shipment"),
        ));
    }
    let mut seen = HashSet::with_capacity(robots.len());
    let robots = robots
        .into_iter()
        .enumerate()
        .map(|(i, robot)| {
            let pb::ShipmentRobot {
                robot_id: id,
                credential,
            } = robot;
            let field = format!("robots[{i}]");
            let id = robot_id("robot_id", &id, home).map_err(|e| e.within(&field))?;
            if !seen.insert(id.clone()) {
                return Err(ApiError::invalid_argument(
                    format!("{field}.robot_id"),
                    "listed twice in the shipment",
                ));
            }
            match direction {
                Direction::Export if !credential.is_empty() => {
                    return Err(ApiError::invalid_argument(
                        format!("{field}.credential"),
                        "an export needs no credential: the registry here decides",
                    ));
                }
                _ if credential.len() > MAX_CREDENTIAL => {
                    return Err(ApiError::invalid_argument(
                        format!("{field}.credential"),
                        format!("at most {MAX_CREDENTIAL} bytes"),
                    ));
                }
                _ => {}
            }
            Ok(ShipmentRobot {
                robot_id: id,
                credential,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let origin_clearance = match (direction, origin_clearance.is_empty()) {
        (_, true) => None,
        (Direction::Export, false) => {
            return Err(ApiError::invalid_argument(
                "origin_clearance",
                "only an import carries its origin's clearance",
            ));
        }
        (Direction::Import, false) if origin_clearance.len() > MAX_CLEARANCE => {
            return Err(ApiError::invalid_argument(
                "origin_clearance",
                format!("at most {MAX_CLEARANCE} bytes"),
            ));
        }
        (Direction::Import, false) => Some(origin_clearance),
    };
    let customs_office = if customs_office.is_empty() {
        caller.organization.clone()
    } else {
        customs_office
    };
    Ok(ClearanceRequest {
        direction,
        robots,
        origin,
        destination,
        declarant: text("declarant", declarant)?,
        customs_office: text("customs_office", customs_office)?,
        allow_partial,
        origin_clearance,
        requested_by: caller.to_string(),
    })
}

pub fn transfer_to_wire(transfer: &Transfer) -> pb::Transfer {
    pb::Transfer {
        name: transfer.id.name(),
        direction: direction_to_wire(transfer.direction).into(),
        state: state_to_wire(transfer.state).into(),
        origin_country: transfer.origin.as_str().to_owned(),
        destination_country: transfer.destination.as_str().to_owned(),
        declarant: transfer.declarant.clone(),
        customs_office: transfer.customs_office.clone(),
        allow_partial: transfer.allow_partial,
        decisions: transfer
            .decisions
            .iter()
            .map(|decision| pb::RobotDecision {
                robot_id: decision.robot_id.as_str().to_owned(),
                decision: if decision.is_cleared() {
                    pb::Decision::Cleared
                } else {
                    pb::Decision::Refused
                }
                .into(),
                reason: decision.refusal.clone().unwrap_or_default(),
            })
            .collect(),
        clearance: transfer.clearance.clone().unwrap_or_default(),
        create_time: Some(timestamp_to_wire(transfer.created_at)),
        update_time: Some(timestamp_to_wire(transfer.updated_at)),
        requested_by: transfer.requested_by.clone(),
        expire_time: transfer.expires_at.map(timestamp_to_wire),
        updated_by: transfer.updated_by.clone(),
    }
}

/// A key to trust, added by the regulator `added_by`. Its name,
/// revocation, revocation time and who added or revoked it are output
/// only: a key enters the list unrevoked.
pub fn trusted_from_wire(
    trusted: pb::TrustedRegistry,
    home: &CountryCode,
    now: Timestamp,
    added_by: &Caller,
) -> Result<TrustedKey, ApiError> {
    let pb::TrustedRegistry {
        name: _,
        country_code,
        key_id,
        public_key,
        not_before,
        not_after,
        revoked: _,
        revoke_time: _,
        added_by: _,
        revoked_by: _,
        log_origin,
        log_key,
        witness_key,
        web_url,
        import_policy,
        registry_url,
    } = trusted;
    let log = trusted_log_from_wire(TrustedLog {
        origin: log_origin,
        log_key,
        witness_key,
        web_url,
        import_policy,
        registry_url,
    })?;
    let country = country("country_code", &country_code)?;
    if country == *home {
        return Err(ApiError::invalid_argument(
            "country_code",
            "the trust list holds foreign registries; this one is the home registry",
        ));
    }
    let key = robotid_credential::VerifyingKey::from_bytes(&public_key)
        .map_err(|e| ApiError::invalid_argument("public_key", e))?;
    // The key id is derived from the key; a different one given is a
    // mistake (or a key swapped in transit), not a choice.
    let kid = key.kid();
    if !key_id.is_empty() && KeyId::parse_hex(&key_id) != Some(kid) {
        return Err(ApiError::invalid_argument(
            "key_id",
            format!("the key id of this public key is {kid}"),
        ));
    }
    let not_before = not_before
        .as_ref()
        .map(|time| timestamp_from_request("not_before", time))
        .transpose()?
        .unwrap_or(now);
    let not_after = not_after
        .as_ref()
        .map(|time| timestamp_from_request("not_after", time))
        .transpose()?
        .ok_or_else(|| ApiError::invalid_argument("not_after", "required: keys expire"))?;
    if not_after <= not_before {
        return Err(ApiError::invalid_argument(
            "not_after",
            "must be after not_before",
        ));
    }
    Ok(TrustedKey {
        country,
        kid: kid.to_string(),
        public_key: key.to_bytes(),
        not_before,
        not_after,
        revoked_at: None,
        added_by: added_by.to_string(),
        revoked_by: None,
        log,
    })
}

/// A trust entry's log: all of it or none of it; each text in its spec's
/// form, the key named by the origin, the policy naming this log.
fn trusted_log_from_wire(log: TrustedLog) -> Result<Option<TrustedLog>, ApiError> {
    let required = [
        ("log_origin", &log.origin),
        ("log_key", &log.log_key),
        ("witness_key", &log.witness_key),
        ("web_url", &log.web_url),
        ("import_policy", &log.import_policy),
    ];
    if required.iter().all(|(_, text)| text.is_empty()) {
        if !log.registry_url.is_empty() {
            return Err(ApiError::invalid_argument(
                "registry_url",
                "a registry is reached for holds only with its log: set log_origin, log_key, \
                 witness_key, web_url and import_policy too",
            ));
        }
        return Ok(None);
    }
    if let Some((field, _)) = required.iter().find(|(_, text)| text.is_empty()) {
        return Err(ApiError::invalid_argument(
            *field,
            "set log_origin, log_key, witness_key, web_url and import_policy together",
        ));
    }
    let parsed = crate::origin_proof::TrustedLogKeys::parse(&log)
        .map_err(|(field, reason)| ApiError::invalid_argument(field, reason))?;
    let url = |field: &'static str, text: &str| -> Result<String, ApiError> {
        let trimmed = text.trim_end_matches('/');
        let scheme_ok = trimmed.starts_with("https://") || trimmed.starts_with("http://");
        if !scheme_ok || trimmed.contains(['?', '#', ' ']) {
            return Err(ApiError::invalid_argument(
                field,
                "an http:// or https:// base URL, without query or fragment",
            ));
        }
        Ok(trimmed.to_owned())
    };
    let web_url = url("web_url", &log.web_url)?;
    let registry_url = if log.registry_url.is_empty() {
        String::new()
    } else if !log.registry_url.starts_with("https://") {
        // Registries call each other over mutual TLS only.
        return Err(ApiError::invalid_argument(
            "registry_url",
            "the registry's gRPC address over TLS, https://host:port",
        ));
    } else {
        url("registry_url", &log.registry_url)?
    };
    Ok(Some(TrustedLog {
        origin: log.origin,
        log_key: parsed.log.to_string(),
        witness_key: parsed.witness.to_string(),
        web_url,
        import_policy: log.import_policy,
        registry_url,
    }))
}

pub fn trusted_to_wire(trusted: &TrustedKey) -> pb::TrustedRegistry {
    let log = trusted.log.as_ref();
    pb::TrustedRegistry {
        name: trusted.name(),
        country_code: trusted.country.as_str().to_owned(),
        key_id: trusted.kid.clone(),
        public_key: trusted.public_key.to_vec(),
        not_before: Some(timestamp_to_wire(trusted.not_before)),
        not_after: Some(timestamp_to_wire(trusted.not_after)),
        revoked: trusted.revoked_at.is_some(),
        revoke_time: trusted.revoked_at.map(timestamp_to_wire),
        added_by: trusted.added_by.clone(),
        revoked_by: trusted.revoked_by.clone().unwrap_or_default(),
        log_origin: log.map(|log| log.origin.clone()).unwrap_or_default(),
        log_key: log.map(|log| log.log_key.clone()).unwrap_or_default(),
        witness_key: log.map(|log| log.witness_key.clone()).unwrap_or_default(),
        web_url: log.map(|log| log.web_url.clone()).unwrap_or_default(),
        import_policy: log.map(|log| log.import_policy.clone()).unwrap_or_default(),
        registry_url: log.map(|log| log.registry_url.clone()).unwrap_or_default(),
    }
}
