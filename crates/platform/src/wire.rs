//! Conversions between wire and domain types that every service needs.

use robotid_domain::time::Timestamp;

pub fn timestamp_to_wire(time: Timestamp) -> prost_types::Timestamp {
    let (seconds, nanos) = time.to_parts();
    prost_types::Timestamp { seconds, nanos }
}

pub fn timestamp_from_wire(time: &prost_types::Timestamp) -> Timestamp {
    Timestamp::from_parts(time.seconds, time.nanos)
}

/// An optional string field: proto3 has no presence for scalars, so empty
/// means absent.
pub fn non_empty(value: String) -> Option<String> {
    if value.is_empty() { None } else { Some(value) }
}

use robotid_domain::code::{CountryCode, RobotId};
use robotid_domain::lifecycle::Status;
use robotid_domain::robot::Production;
use robotid_proto::common::v1 as common;

use crate::error::ApiError;

/// Parses an identity code from request field `field`. Codes of the home
/// country were issued here and must carry a valid check character, so a
/// mistyped one is refused before any lookup; foreign codes follow their
/// own registry's serial scheme.
pub fn robot_id(field: &str, value: &str, home: &CountryCode) -> Result<RobotId, ApiError> {
    RobotId::parse_at(value, home).map_err(|error| ApiError::invalid_argument(field, error))
}

/// A robot's lifecycle status as the contracts spell it.
pub fn status_to_wire(status: Status) -> common::RobotStatus {
    match status {
        Status::Registered => common::RobotStatus::Registered,
        Status::InMarket => common::RobotStatus::InMarket,
        Status::InService => common::RobotStatus::InService,
        Status::Decommissioned => common::RobotStatus::Decommissioned,
        Status::Recycled => common::RobotStatus::Recycled,
    }
}

/// Date and place of production from the wire (an empty factory is none).
pub fn production_from_wire(production: common::Production) -> Production {
    let common::Production {
        production_time,
        factory,
    } = production;
    Production {
        produced_at: production_time.as_ref().map(timestamp_from_wire),
        factory: non_empty(factory),
    }
}

/// Date and place of production, all of it.
pub fn production_to_wire(production: &Production) -> common::Production {
    common::Production {
        production_time: production.produced_at.map(timestamp_to_wire),
        factory: production.factory.clone().unwrap_or_default(),
    }
}
