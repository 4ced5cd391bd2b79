//! Conversions between wire and domain types that every service needs, and
//! the checks every edge makes of what a caller sends: times and text.

use std::time::Duration;

use robotid_domain::time::Timestamp;

pub fn timestamp_to_wire(time: Timestamp) -> prost_types::Timestamp {
    let (seconds, nanos) = time.to_parts();
    prost_types::Timestamp { seconds, nanos }
}

/// A timestamp from a trusted source (a service's own answer). What a
/// caller sends goes through [`timestamp_from_request`] or
/// [`reported_time`] instead.
pub fn timestamp_from_wire(time: &prost_types::Timestamp) -> Timestamp {
    Timestamp::from_parts(time.seconds, time.nanos)
}

/// Any timestamp a caller sends, from request field `field`: within the
/// range of a protobuf Timestamp (0001-01-01 to 9999-12-31), nanos
/// 0–999,999,999; else INVALID_ARGUMENT naming the field.
pub fn timestamp_from_request(
    field: &str,
    time: &prost_types::Timestamp,
) -> Result<Timestamp, ApiError> {
    Timestamp::from_wire_parts(time.seconds, time.nanos)
        .map_err(|error| ApiError::invalid_argument(field, error))
}

/// A time a caller reports something happened at (an event, a robot's
/// production), from request field `field`: as [`timestamp_from_request`],
/// not before 2000, and at most `max_clock_skew` ahead of this service's
/// clock.
pub fn reported_time(
    field: &str,
    time: &prost_types::Timestamp,
    max_clock_skew: Duration,
) -> Result<Timestamp, ApiError> {
    timestamp_from_request(field, time)?
        .check_reported(Timestamp::now(), max_clock_skew)
        .map_err(|error| ApiError::invalid_argument(field, error))
}

/// An identifier a caller sends in `field` (a name, an office, a
/// reference): one line of 1 to `max` visible characters
/// ([`robotid_domain::text::identifier`]).
pub fn identifier(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    robotid_domain::text::identifier(value, max)
        .map_err(|error| ApiError::invalid_argument(field, error))
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

/// Longest factory name, in characters.
pub const MAX_FACTORY: usize = 200;

/// Date and place of production as a caller reports them, in `field`:
/// all of it optional; the factory an identifier, the time a reported one
/// (at most `max_clock_skew` ahead).
pub fn production_from_request(
    field: &str,
    production: Option<common::Production>,
    max_clock_skew: Duration,
) -> Result<Production, ApiError> {
    let Some(common::Production {
        production_time,
        factory,
    }) = production
    else {
        return Ok(Production::default());
    };
    let factory = non_empty(factory);
    if let Some(factory) = &factory {
        identifier(&format!("{field}.factory"), factory, MAX_FACTORY)?;
    }
    Ok(Production {
        produced_at: production_time
            .as_ref()
            .map(|time| reported_time(&format!("{field}.production_time"), time, max_clock_skew))
            .transpose()?,
        factory,
    })
}

/// Date and place of production, all of it.
pub fn production_to_wire(production: &Production) -> common::Production {
    common::Production {
        production_time: production.produced_at.map(timestamp_to_wire),
        factory: production.factory.clone().unwrap_or_default(),
    }
}
