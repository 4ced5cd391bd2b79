//! The export clearance: what the origin registry signs for a shipment its
//! customs cleared, so that the destination can check offline which robots
//! left with the origin's consent, in what state, until when, and that
//! they did leave (as a travel document vouches for its holder at the next
//! border).
//!
//! Payload: a CBOR map with small integer keys, as the ID credential has:
//!
//! | key | claim | CBOR |
//! |---|---|---|
//! | 1 | transfer, `transfers/{id}` at the origin | tstr |
//! | 2 | origin country | tstr |
//! | 3 | destination country | tstr |
//! | 4 | cleared robots, each `[identity code, status, production]` | array of arrays |
//! | 5 | model names, each `[country+manufacturer+model code (12), manufacturer name, model name]` | array of arrays |
//! | 6 | issue time, whole seconds since the Unix epoch | int |
//! | 7 | issuing registry's country | tstr |
//! | 8 | key id of the signing key | bstr (8) |
//! | 9 | expiry: the clearance is void from then on, whole seconds | int |
//! | 10 | productions, each `[time in microseconds since the epoch or null, factory or null]` | array of arrays |
//! | 11 | departure time, whole seconds; only once the shipment departed | int |
//!
//! A robot's status is its `robotid.common.v1.RobotStatus` number: 2 in
//! market, 3 in service (only those can be exported); its production is
//! an index into the production table. Names and productions go in tables
//! rather than per robot: a shipment is usually one or a few models made
//! in one or a few batches, and 1,000 robots then cost about 34 KB instead
//! of 80.
//!
//! The origin signs a clearance twice: when customs clear the shipment
//! (no departure time) and when they confirm that it left (with it). Only
//! the second is good for an import: a clearance withdrawn or expired
//! before departure never gets one, so the destination can tell offline.

use std::collections::{BTreeMap, BTreeSet};

use ciborium::Value;
use robotid_domain::code::{CountryCode, ManufacturerCode, ModelCode, RobotId};
use robotid_domain::lifecycle::Status;
use robotid_domain::robot::Production;
use robotid_domain::time::Timestamp;

use crate::cose::{CredentialError, decode_cbor, sign_payload, verify_payload};
use crate::key::{KeyId, SigningKey, VerifyingKey};

/// The COSE content type of an export clearance.
pub const CLEARANCE_TYPE: &str = "application/robotid-clearance+cbor";

const TRANSFER: i64 = 1;
const ORIGIN: i64 = 2;
const DESTINATION: i64 = 3;
const ROBOTS: i64 = 4;
const MODELS: i64 = 5;
const ISSUED_AT: i64 = 6;
const ISSUER_COUNTRY: i64 = 7;
const KEY_ID: i64 = 8;
const EXPIRES_AT: i64 = 9;
const PRODUCTIONS: i64 = 10;
const DEPARTED_AT: i64 = 11;

/// Names in the model table are bounded as the registry bounds them.
const MAX_NAME: usize = 200;

/// One robot the origin cleared for export, in the status it left in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearedRobot {
    pub robot_id: RobotId,
    /// `InMarket` or `InService`.
    pub status: Status,
    /// Date and place of production, as the origin registry holds them.
    pub production: Production,
}

/// The names of one product model, as the origin registry holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelNames {
    pub country: CountryCode,
    pub manufacturer: ManufacturerCode,
    pub model: ModelCode,
    pub manufacturer_name: String,
    pub model_name: String,
}

impl ModelNames {
    fn prefix(&self) -> String {
        format!(
            "{}{}{}",
            self.country.as_str(),
            self.manufacturer.as_str(),
            self.model.as_str()
        )
    }
}

/// The claims of an export clearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clearance {
    /// The origin's transfer, `transfers/{id}`.
    pub transfer: String,
    pub origin: CountryCode,
    pub destination: CountryCode,
    pub robots: Vec<ClearedRobot>,
    /// One entry per model among `robots`.
    pub models: Vec<ModelNames>,
    /// Whole seconds.
    pub issued_at: Timestamp,
    /// The origin: only a robot's origin registry clears its export.
    pub issuer_country: CountryCode,
    pub kid: KeyId,
    /// Whole seconds; after `issued_at`. From then on the clearance is
    /// good for neither a departure nor an import.
    pub expires_at: Timestamp,
    /// Whole seconds, once the shipment departed; before `expires_at`.
    pub departed_at: Option<Timestamp>,
}

/// The prefix of a robot's code that names its model: country,
/// manufacturer and model segments.
fn model_prefix(robot_id: &RobotId) -> &str {
    &robot_id.as_str()[..12]
}

fn status_number(status: Status) -> Option<u8> {
    match status {
        Status::InMarket => Some(2),
        Status::InService => Some(3),
        _ => None,
    }
}

fn status_from_number(number: i128) -> Option<Status> {
    match number {
        2 => Some(Status::InMarket),
        3 => Some(Status::InService),
        _ => None,
    }
}

/// Cut to whole seconds, as the claims carry times.
fn whole_seconds(time: Timestamp) -> Timestamp {
    Timestamp::from_parts(time.to_parts().0, 0)
}

impl Clearance {
    /// The claims for a shipment cleared by the registry of `origin` at
    /// `issued_at` under key `kid`, void from `expires_at` (both cut to
    /// whole seconds); not departed yet.
    #[allow(clippy::too_many_arguments)] // The claims, each named.
    pub fn new(
        transfer: String,
        origin: CountryCode,
        destination: CountryCode,
        robots: Vec<ClearedRobot>,
        models: Vec<ModelNames>,
        issued_at: Timestamp,
        expires_at: Timestamp,
        kid: KeyId,
    ) -> Self {
        Self {
            transfer,
            issuer_country: origin.clone(),
            origin,
            destination,
            robots,
            models,
            issued_at: whole_seconds(issued_at),
            kid,
            expires_at: whole_seconds(expires_at),
            departed_at: None,
        }
    }

    /// The same claims, for a shipment that departed at `at` (cut to whole
    /// seconds).
    pub fn departed(self, at: Timestamp) -> Self {
        Self {
            departed_at: Some(whole_seconds(at)),
            ..self
        }
    }

    /// Whether the clearance is still good at `now`.
    pub fn is_valid_at(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }

    /// The names of a listed robot's model.
    pub fn model_of(&self, robot_id: &RobotId) -> Option<&ModelNames> {
        let prefix = model_prefix(robot_id);
        self.models.iter().find(|names| names.prefix() == prefix)
    }

    /// The robots by identity code, for checking a shipment against it.
    pub fn robots_by_id(&self) -> BTreeMap<&RobotId, &ClearedRobot> {
        self.robots
            .iter()
            .map(|robot| (&robot.robot_id, robot))
            .collect()
    }

    /// The production table: each distinct production once, in the order
    /// robots first name it, and each robot's index into it.
    fn production_table(&self) -> (Vec<&Production>, Vec<usize>) {
        let mut table: Vec<&Production> = Vec::new();
        let indexes = self
            .robots
            .iter()
            .map(
                |robot| match table.iter().position(|p| **p == robot.production) {
                    Some(index) => index,
                    None => {
                        table.push(&robot.production);
                        table.len() - 1
                    }
                },
            )
            .collect();
        (table, indexes)
    }

    /// Checks that the claims agree with each other; the same rules hold
    /// for signing and for verifying.
    fn validate(&self) -> Result<(), CredentialError> {
        let invalid = |what: String| Err(CredentialError::Claims(what));
        if self.transfer.is_empty() || self.transfer.len() > MAX_NAME {
            return invalid("the transfer name is empty or too long".into());
        }
        if self.issuer_country != self.origin {
            return invalid("issued by a registry other than the origin's".into());
        }
        if self.origin == self.destination {
            return invalid("origin and destination are one country".into());
        }
        if self.expires_at <= self.issued_at {
            return invalid("the clearance expires before it was issued".into());
        }
        if let Some(departed) = self.departed_at
            && (departed < self.issued_at || departed >= self.expires_at)
        {
            return invalid("departed outside the clearance's validity".into());
        }
        if self.robots.is_empty() {
            return invalid("no robot is cleared".into());
        }
        let mut seen = BTreeSet::new();
        for robot in &self.robots {
            if !seen.insert(&robot.robot_id) {
                return invalid(format!("robot {} listed twice", robot.robot_id));
            }
            if status_number(robot.status).is_none() {
                return invalid(format!(
                    "robot {} is {}, not in market or in service",
                    robot.robot_id, robot.status
                ));
            }
            if let Some(factory) = &robot.production.factory
                && (factory.trim().is_empty() || factory.chars().count() > MAX_NAME)
            {
                return invalid(format!(
                    "the factory of robot {} is empty or too long",
                    robot.robot_id
                ));
            }
        }
        let needed: BTreeSet<&str> = self
            .robots
            .iter()
            .map(|robot| model_prefix(&robot.robot_id))
            .collect();
        let given: Vec<String> = self.models.iter().map(ModelNames::prefix).collect();
        let distinct: BTreeSet<&str> = given.iter().map(String::as_str).collect();
        if distinct.len() != given.len() || distinct != needed {
            return invalid("the model table does not name each cleared model once".into());
        }
        for names in &self.models {
            for name in [&names.manufacturer_name, &names.model_name] {
                if name.trim().is_empty() || name.chars().count() > MAX_NAME {
                    return invalid(format!(
                        "a name of model {} is empty or too long",
                        names.prefix()
                    ));
                }
            }
        }
        Ok(())
    }

    fn to_cbor(&self) -> Vec<u8> {
        let text = |value: &str| Value::Text(value.to_owned());
        let seconds = |time: Timestamp| Value::from(time.to_parts().0);
        let (productions, indexes) = self.production_table();
        let robots = self
            .robots
            .iter()
            .zip(indexes)
            .map(|(robot, index)| {
                // 0 is no status: a payload carrying it does not verify.
                let status = status_number(robot.status).unwrap_or(0);
                Value::Array(vec![
                    text(robot.robot_id.as_str()),
                    Value::from(status),
                    Value::from(index as u64),
                ])
            })
            .collect();
        let models = self
            .models
            .iter()
            .map(|names| {
                Value::Array(vec![
                    text(&names.prefix()),
                    text(&names.manufacturer_name),
                    text(&names.model_name),
                ])
            })
            .collect();
        let productions = productions
            .into_iter()
            .map(|production| {
                Value::Array(vec![
                    production
                        .produced_at
                        .map_or(Value::Null, |time| Value::from(time.as_micros())),
                    production.factory.as_deref().map_or(Value::Null, text),
                ])
            })
            .collect();
        let mut map = vec![
            (Value::from(TRANSFER), text(&self.transfer)),
            (Value::from(ORIGIN), text(self.origin.as_str())),
            (Value::from(DESTINATION), text(self.destination.as_str())),
            (Value::from(ROBOTS), Value::Array(robots)),
            (Value::from(MODELS), Value::Array(models)),
            (Value::from(ISSUED_AT), seconds(self.issued_at)),
            (
                Value::from(ISSUER_COUNTRY),
                text(self.issuer_country.as_str()),
            ),
            (
                Value::from(KEY_ID),
                Value::Bytes(self.kid.as_bytes().to_vec()),
            ),
            (Value::from(EXPIRES_AT), seconds(self.expires_at)),
            (Value::from(PRODUCTIONS), Value::Array(productions)),
        ];
        if let Some(departed) = self.departed_at {
            map.push((Value::from(DEPARTED_AT), seconds(departed)));
        }
        let mut bytes = Vec::with_capacity(96 + 34 * self.robots.len());
        ciborium::ser::into_writer(&Value::Map(map), &mut bytes)
            .expect("writing CBOR to memory cannot fail");
        bytes
    }

    /// Parses the payload and checks it as [`Clearance::validate`] does,
    /// and that it names the key that signed it.
    fn from_cbor(payload: &[u8], signed_by: KeyId) -> Result<Self, CredentialError> {
        let invalid = |what: &str| CredentialError::Claims(what.to_owned());
        let Value::Map(entries) = decode_cbor(payload)? else {
            return Err(invalid("not a CBOR map"));
        };
        let mut claims: [Option<Value>; 11] = Default::default();
        for (key, value) in entries {
            let index = key
                .as_integer()
                .and_then(|key| i64::try_from(key).ok())
                .filter(|key| (TRANSFER..=DEPARTED_AT).contains(key))
                .ok_or_else(|| invalid("unknown claim"))?;
            if claims[(index - 1) as usize].replace(value).is_some() {
                return Err(invalid("a claim given twice"));
            }
        }
        let [
            transfer,
            origin,
            destination,
            robots,
            models,
            issued_at,
            issuer,
            kid,
            expires_at,
            productions,
            departed_at,
        ] = claims;
        let text = |value: Option<Value>, name: &str| match value {
            Some(Value::Text(text)) => Ok(text),
            _ => Err(invalid(&format!("{name} missing or not text"))),
        };
        let country = |value: Option<Value>, name: &str| {
            CountryCode::parse(&text(value, name)?).map_err(|e| invalid(&format!("{name}: {e}")))
        };
        let array = |value: Option<Value>, name: &str| match value {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(invalid(&format!("{name} missing or not an array"))),
        };
        let seconds = |value: Option<Value>, name: &str| match value {
            Some(Value::Integer(seconds)) => i64::try_from(seconds)
                .ok()
                .filter(|seconds| seconds.checked_mul(1_000_000).is_some())
                .map(|seconds| Timestamp::from_parts(seconds, 0))
                .ok_or_else(|| invalid(&format!("{name} out of range"))),
            _ => Err(invalid(&format!("{name} missing or not an integer"))),
        };
        let productions = array(productions, "productions")?
            .into_iter()
            .map(|entry| match entry {
                Value::Array(fields) => match <[Value; 2]>::try_from(fields) {
                    Ok([time, factory]) => Ok(Production {
                        produced_at: match time {
                            Value::Null => None,
                            Value::Integer(micros) => Some(Timestamp::from_micros(
                                i64::try_from(micros)
                                    .map_err(|_| invalid("a production time out of range"))?,
                            )),
                            _ => return Err(invalid("a production time is not an integer")),
                        },
                        factory: match factory {
                            Value::Null => None,
                            Value::Text(factory) => Some(factory),
                            _ => return Err(invalid("a factory is not text")),
                        },
                    }),
                    _ => Err(invalid("a production entry is not [time, factory]")),
                },
                _ => Err(invalid("a production entry is not an array")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let robots = array(robots, "robots")?
            .into_iter()
            .map(|entry| match entry {
                Value::Array(fields) => match <[Value; 3]>::try_from(fields) {
                    Ok(
                        [
                            Value::Text(id),
                            Value::Integer(status),
                            Value::Integer(index),
                        ],
                    ) => Ok(ClearedRobot {
                        robot_id: RobotId::parse(&id)
                            .map_err(|e| invalid(&format!("robot id: {e}")))?,
                        status: status_from_number(i128::from(status))
                            .ok_or_else(|| invalid("a robot status out of range"))?,
                        production: usize::try_from(index)
                            .ok()
                            .and_then(|index| productions.get(index))
                            .cloned()
                            .ok_or_else(|| invalid("a production index out of range"))?,
                    }),
                    _ => Err(invalid("a robot entry is not [code, status, production]")),
                },
                _ => Err(invalid("a robot entry is not an array")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let models = array(models, "models")?
            .into_iter()
            .map(|entry| match entry {
                Value::Array(fields) => match <[Value; 3]>::try_from(fields) {
                    Ok(
                        [
                            Value::Text(prefix),
                            Value::Text(manufacturer_name),
                            Value::Text(model_name),
                        ],
                    ) if prefix.len() == 12 && prefix.is_ascii() => Ok(ModelNames {
                        country: CountryCode::parse(&prefix[..2])
                            .map_err(|e| invalid(&format!("model country: {e}")))?,
                        manufacturer: ManufacturerCode::parse(&prefix[2..6])
                            .map_err(|e| invalid(&format!("model manufacturer: {e}")))?,
                        model: ModelCode::parse(&prefix[6..])
                            .map_err(|e| invalid(&format!("model code: {e}")))?,
                        manufacturer_name,
                        model_name,
                    }),
                    _ => Err(invalid("a model entry is not [code, name, name]")),
                },
                _ => Err(invalid("a model entry is not an array")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let kid = match kid {
            Some(Value::Bytes(bytes)) => {
                KeyId::from_slice(&bytes).ok_or_else(|| invalid("key id is not 8 bytes"))?
            }
            _ => return Err(invalid("key id missing or not bytes")),
        };
        if kid != signed_by {
            return Err(invalid(
                "the claims name another key than the one that signed",
            ));
        }
        let clearance = Self {
            transfer: text(transfer, "transfer")?,
            origin: country(origin, "origin")?,
            destination: country(destination, "destination")?,
            robots,
            models,
            issued_at: seconds(issued_at, "issue time")?,
            issuer_country: country(issuer, "issuer country")?,
            kid,
            expires_at: seconds(expires_at, "expiry")?,
            departed_at: departed_at
                .map(|value| seconds(Some(value), "departure time"))
                .transpose()?,
        };
        clearance.validate()?;
        // Also refuses a production table with entries no robot names, or
        // in another order: one clearance, one encoding.
        if clearance.to_cbor() != payload {
            return Err(CredentialError::NotCanonical);
        }
        Ok(clearance)
    }
}

/// Signs an export clearance. Refuses claims that would not verify: a key
/// other than the one they name, a robot twice, a model without names.
pub fn sign_clearance(key: &SigningKey, clearance: &Clearance) -> Result<Vec<u8>, CredentialError> {
    if clearance.kid != key.kid() {
        return Err(CredentialError::Claims(
            "the claims name another key than the one signing".into(),
        ));
    }
    clearance.validate()?;
    Ok(sign_payload(key, CLEARANCE_TYPE, clearance.to_cbor()))
}

/// Verifies an export clearance with the origin registry's public key.
pub fn verify_clearance(bytes: &[u8], key: &VerifyingKey) -> Result<Clearance, CredentialError> {
    verify_clearance_with(bytes, |_| Some(*key))
}

/// Verifies an export clearance with whichever key `lookup` trusts under
/// its key id, e.g. from a trust list of foreign registries.
pub fn verify_clearance_with(
    bytes: &[u8],
    lookup: impl FnOnce(&KeyId) -> Option<VerifyingKey>,
) -> Result<Clearance, CredentialError> {
    let verified = verify_payload(bytes, CLEARANCE_TYPE, lookup)?;
    Clearance::from_cbor(&verified.payload, verified.kid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ID_CREDENTIAL_TYPE;

    fn robot(model: &str, n: u64) -> RobotId {
        RobotId::issue(
            &"CN".parse().unwrap(),
            &"0001".parse().unwrap(),
            &model.parse().unwrap(),
            n,
        )
    }

    fn names(model: &str) -> ModelNames {
        ModelNames {
            country: "CN".parse().unwrap(),
            manufacturer: "0001".parse().unwrap(),
            model: model.parse().unwrap(),
            manufacturer_name: "Hubei Humanoid Works".into(),
            model_name: format!("SeeLight {model}"),
        }
    }

    fn clearance(key: &SigningKey, count: u64) -> Clearance {
        let robots = (1..=count)
            .map(|n| ClearedRobot {
                robot_id: robot(if n % 2 == 0 { "HX0002" } else { "HX0001" }, n),
                status: if n % 3 == 0 {
                    Status::InService
                } else {
                    Status::InMarket
                },
                production: wuhan(),
            })
            .collect();
        let models = if count > 1 {
            vec![names("HX0001"), names("HX0002")]
        } else {
            vec![names("HX0001")]
        };
        Clearance::new(
            "transfers/0123456789abcdef".into(),
            "CN".parse().unwrap(),
            "DE".parse().unwrap(),
            robots,
            models,
            Timestamp::from_micros(1_764_172_800_654_321),
            Timestamp::from_micros(1_766_764_800_999_999),
            key.kid(),
        )
    }

    /// One batch: most robots of a shipment share their production.
    fn wuhan() -> Production {
        Production {
            produced_at: Some(Timestamp::from_micros(1_764_000_000_123_456)),
            factory: Some("Wuhan line 3".into()),
        }
    }

    #[test]
    fn a_clearance_round_trips_and_stays_small() {
        let key = SigningKey::from_seed(&[5; 32]);
        let claims = clearance(&key, 1_000);
        let signed = sign_clearance(&key, &claims).unwrap();
        // About 34 bytes per robot: the code, its status, its production's
        // index and the framing.
        assert!(signed.len() < 35_000, "{} bytes", signed.len());
        let verified = verify_clearance(&signed, &key.verifying_key()).unwrap();
        assert_eq!(verified, claims);
        assert_eq!(verified.issued_at, Timestamp::from_parts(1_764_172_800, 0));
        assert_eq!(verified.expires_at, Timestamp::from_parts(1_766_764_800, 0));
        assert_eq!(verified.departed_at, None);
        assert_eq!(verified.issuer_country.as_str(), "CN");
        let listed = verified.robots_by_id();
        assert_eq!(listed[&robot("HX0001", 3)].status, Status::InService);
        assert_eq!(
            listed[&robot("HX0001", 3)].production,
            wuhan(),
            "production time to the microsecond, and the factory"
        );
        assert_eq!(
            verified.model_of(&robot("HX0002", 2)).unwrap().model_name,
            "SeeLight HX0002"
        );
        // Deterministic: a replayed clearance can answer the same bytes.
        assert_eq!(signed, sign_clearance(&key, &claims).unwrap());
    }

    #[test]
    fn the_departed_clearance_carries_its_departure_and_productions_per_batch() {
        let key = SigningKey::from_seed(&[5; 32]);
        let mut claims = clearance(&key, 4);
        claims.robots[1].production = Production::default();
        claims.robots[2].production = Production {
            produced_at: None,
            factory: Some("Shenzhen line 1".into()),
        };
        let cleared = sign_clearance(&key, &claims).unwrap();
        let departure = Timestamp::from_micros(1_765_000_000_777_000);
        let departed = claims.clone().departed(departure);
        let signed = sign_clearance(&key, &departed).unwrap();
        assert_ne!(signed, cleared, "the departure is signed");
        let verified = verify_clearance(&signed, &key.verifying_key()).unwrap();
        assert_eq!(verified, departed);
        assert_eq!(
            verified.departed_at,
            Some(Timestamp::from_parts(1_765_000_000, 0))
        );
        assert_eq!(verified.robots[1].production, Production::default());
        assert_eq!(verified.robots[3].production, wuhan());
        assert_eq!(
            verify_clearance(&cleared, &key.verifying_key())
                .unwrap()
                .departed_at,
            None
        );
        assert!(verified.is_valid_at(Timestamp::from_parts(1_766_764_799, 0)));
        assert!(!verified.is_valid_at(verified.expires_at));
    }

    #[test]
    fn changed_bytes_another_key_and_another_type_are_refused() {
        let key = SigningKey::from_seed(&[5; 32]);
        let signed = sign_clearance(&key, &clearance(&key, 3)).unwrap();
        let public = key.verifying_key();
        for position in 0..signed.len() {
            let mut changed = signed.clone();
            changed[position] ^= 0x01;
            assert!(
                verify_clearance(&changed, &public).is_err(),
                "a flipped bit at byte {position} still verifies"
            );
        }
        let other = SigningKey::from_seed(&[6; 32]).verifying_key();
        assert_eq!(
            verify_clearance(&signed, &other),
            Err(CredentialError::UnknownKey(key.kid()))
        );
        // An ID credential is not a clearance, even from the same key.
        let id = crate::sign_id_credential(&key, &robot("HX0001", 1), Timestamp::now());
        assert!(matches!(
            verify_clearance(&id, &public),
            Err(CredentialError::ContentType {
                expected: CLEARANCE_TYPE,
                ..
            })
        ));
        assert!(crate::verify_payload(&signed, ID_CREDENTIAL_TYPE, |_| Some(public)).is_err());
    }

    #[test]
    fn inconsistent_claims_are_neither_signed_nor_accepted() {
        let key = SigningKey::from_seed(&[5; 32]);
        let good = clearance(&key, 2);
        let mut twice = good.clone();
        twice.robots.push(twice.robots[0].clone());
        let mut unnamed = good.clone();
        unnamed.models.pop();
        let mut extra_model = good.clone();
        extra_model.models.push(names("HX0009"));
        let mut recycled = good.clone();
        recycled.robots[0].status = Status::Recycled;
        let mut home = good.clone();
        home.destination = home.origin.clone();
        let mut foreign_issuer = good.clone();
        foreign_issuer.issuer_country = "DE".parse().unwrap();
        let mut empty = good.clone();
        empty.robots.clear();
        empty.models.clear();
        let mut expired_at_issue = good.clone();
        expired_at_issue.expires_at = good.issued_at;
        let departed_before_issue = good
            .clone()
            .departed(Timestamp::from_parts(good.issued_at.to_parts().0 - 1, 0));
        let departed_when_void = good.clone().departed(good.expires_at);
        let mut blank_factory = good.clone();
        blank_factory.robots[0].production.factory = Some(" ".into());
        for bad in [
            twice,
            unnamed,
            extra_model,
            recycled,
            home,
            foreign_issuer,
            empty,
            expired_at_issue,
            departed_before_issue,
            departed_when_void,
            blank_factory,
        ] {
            assert!(
                matches!(sign_clearance(&key, &bad), Err(CredentialError::Claims(_))),
                "{bad:?}"
            );
            // Signed anyway, straight through the envelope: still refused.
            let forged = sign_payload(&key, CLEARANCE_TYPE, bad.to_cbor());
            assert!(
                matches!(
                    verify_clearance(&forged, &key.verifying_key()),
                    Err(CredentialError::Claims(_))
                ),
                "{bad:?}"
            );
        }

        // A production table with an entry no robot names, or in another
        // order, is a second encoding of the same claims.
        let mut bytes = good.to_cbor();
        let Value::Map(mut map) = decode_cbor(&bytes).unwrap() else {
            unreachable!()
        };
        for (key, value) in &mut map {
            if key.as_integer() == Some(PRODUCTIONS.into())
                && let Value::Array(table) = value
            {
                table.push(Value::Array(vec![Value::Null, Value::Null]));
            }
        }
        bytes.clear();
        ciborium::ser::into_writer(&Value::Map(map), &mut bytes).unwrap();
        let padded = sign_payload(&key, CLEARANCE_TYPE, bytes);
        assert_eq!(
            verify_clearance(&padded, &key.verifying_key()),
            Err(CredentialError::NotCanonical)
        );

        let other = SigningKey::from_seed(&[6; 32]);
        assert!(sign_clearance(&other, &good).is_err(), "names another key");
        let wrong_kid = sign_payload(&other, CLEARANCE_TYPE, good.to_cbor());
        assert!(matches!(
            verify_clearance(&wrong_kid, &other.verifying_key()),
            Err(CredentialError::Claims(_))
        ));
    }
}
