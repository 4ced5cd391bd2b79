//! The export clearance: what the origin registry signs for a shipment its
//! customs cleared, so that the destination can check offline which robots
//! left with the origin's consent and in what state (as a travel document
//! vouches for its holder at the next border).
//!
//! Payload: a CBOR map with small integer keys, as the ID credential has:
//!
//! | key | claim | CBOR |
//! |---|---|---|
//! | 1 | transfer, `transfers/{id}` at the origin | tstr |
//! | 2 | origin country | tstr |
//! | 3 | destination country | tstr |
//! | 4 | cleared robots, each `[identity code, status]` | array of arrays |
//! | 5 | model names, each `[country+manufacturer+model code (12), manufacturer name, model name]` | array of arrays |
//! | 6 | issue time, whole seconds since the Unix epoch | int |
//! | 7 | issuing registry's country | tstr |
//! | 8 | key id of the signing key | bstr (8) |
//!
//! A robot's status is its `robotid.common.v1.RobotStatus` number: 2 in
//! market, 3 in service (only those can be exported). Names go in a table
//! per model rather than per robot: a shipment is usually one or a few
//! models, and 1,000 robots then cost about 33 KB instead of 60.

use std::collections::{BTreeMap, BTreeSet};

use ciborium::Value;
use robotid_domain::code::{CountryCode, ManufacturerCode, ModelCode, RobotId};
use robotid_domain::lifecycle::Status;
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

/// Names in the model table are bounded as the registry bounds them.
const MAX_NAME: usize = 200;

/// One robot the origin cleared for export, in the status it left in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearedRobot {
    pub robot_id: RobotId,
    /// `InMarket` or `InService`.
    pub status: Status,
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

impl Clearance {
    /// The claims for a shipment cleared by the registry of `origin` at
    /// `issued_at` (cut to whole seconds) under key `kid`.
    pub fn new(
        transfer: String,
        origin: CountryCode,
        destination: CountryCode,
        robots: Vec<ClearedRobot>,
        models: Vec<ModelNames>,
        issued_at: Timestamp,
        kid: KeyId,
    ) -> Self {
        Self {
            transfer,
            issuer_country: origin.clone(),
            origin,
            destination,
            robots,
            models,
            issued_at: Timestamp::from_parts(issued_at.to_parts().0, 0),
            kid,
        }
    }

    /// The names of a listed robot's model.
    pub fn model_of(&self, robot_id: &RobotId) -> Option<&ModelNames> {
        let prefix = model_prefix(robot_id);
        self.models.iter().find(|names| names.prefix() == prefix)
    }

    /// The robots by identity code, for checking a shipment against it.
    pub fn robots_by_id(&self) -> BTreeMap<&RobotId, Status> {
        self.robots
            .iter()
            .map(|robot| (&robot.robot_id, robot.status))
            .collect()
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
        let robots = self
            .robots
            .iter()
            .map(|robot| {
                // 0 is no status: a payload carrying it does not verify.
                let status = status_number(robot.status).unwrap_or(0);
                Value::Array(vec![text(robot.robot_id.as_str()), Value::from(status)])
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
        let map = Value::Map(vec![
            (Value::from(TRANSFER), text(&self.transfer)),
            (Value::from(ORIGIN), text(self.origin.as_str())),
            (Value::from(DESTINATION), text(self.destination.as_str())),
            (Value::from(ROBOTS), Value::Array(robots)),
            (Value::from(MODELS), Value::Array(models)),
            (
                Value::from(ISSUED_AT),
                Value::from(self.issued_at.to_parts().0),
            ),
            (
                Value::from(ISSUER_COUNTRY),
                text(self.issuer_country.as_str()),
            ),
            (
                Value::from(KEY_ID),
                Value::Bytes(self.kid.as_bytes().to_vec()),
            ),
        ]);
        let mut bytes = Vec::with_capacity(64 + 33 * self.robots.len());
        ciborium::ser::into_writer(&map, &mut bytes).expect("writing CBOR to memory cannot fail");
        bytes
    }

    /// Parses the payload and checks it as [`Clearance::validate`] does,
    /// and that it names the key that signed it.
    fn from_cbor(payload: &[u8], signed_by: KeyId) -> Result<Self, CredentialError> {
        let invalid = |what: &str| CredentialError::Claims(what.to_owned());
        let Value::Map(entries) = decode_cbor(payload)? else {
            return Err(invalid("not a CBOR map"));
        };
        let mut claims: [Option<Value>; 8] = Default::default();
        for (key, value) in entries {
            let index = key
                .as_integer()
                .and_then(|key| i64::try_from(key).ok())
                .filter(|key| (TRANSFER..=KEY_ID).contains(key))
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
        let robots = array(robots, "robots")?
            .into_iter()
            .map(|entry| match entry {
                Value::Array(fields) => match <[Value; 2]>::try_from(fields) {
                    Ok([Value::Text(id), Value::Integer(status)]) => Ok(ClearedRobot {
                        robot_id: RobotId::parse(&id)
                            .map_err(|e| invalid(&format!("robot id: {e}")))?,
                        status: status_from_number(i128::from(status))
                            .ok_or_else(|| invalid("a robot status out of range"))?,
                    }),
                    _ => Err(invalid("a robot entry is not [code, status]")),
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
        let issued_at = match issued_at {
            Some(Value::Integer(seconds)) => i64::try_from(seconds)
                .map(|seconds| Timestamp::from_parts(seconds, 0))
                .map_err(|_| invalid("issue time out of range"))?,
            _ => return Err(invalid("issue time missing or not an integer")),
        };
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
            issued_at,
            issuer_country: country(issuer, "issuer country")?,
            kid,
        };
        clearance.validate()?;
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
            key.kid(),
        )
    }

    #[test]
    fn a_clearance_round_trips_and_stays_small() {
        let key = SigningKey::from_seed(&[5; 32]);
        let claims = clearance(&key, 1_000);
        let signed = sign_clearance(&key, &claims).unwrap();
        // About 33 bytes per robot: the code, its status and the framing.
        assert!(signed.len() < 35_000, "{} bytes", signed.len());
        let verified = verify_clearance(&signed, &key.verifying_key()).unwrap();
        assert_eq!(verified, claims);
        assert_eq!(verified.issued_at, Timestamp::from_parts(1_764_172_800, 0));
        assert_eq!(verified.issuer_country.as_str(), "CN");
        let listed = verified.robots_by_id();
        assert_eq!(listed[&robot("HX0001", 3)], Status::InService);
        assert_eq!(
            verified.model_of(&robot("HX0002", 2)).unwrap().model_name,
            "SeeLight HX0002"
        );
        // Deterministic: a replayed clearance can answer the same bytes.
        assert_eq!(signed, sign_clearance(&key, &claims).unwrap());
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
        for bad in [
            twice,
            unnamed,
            extra_model,
            recycled,
            home,
            foreign_issuer,
            empty,
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

        let other = SigningKey::from_seed(&[6; 32]);
        assert!(sign_clearance(&other, &good).is_err(), "names another key");
        let wrong_kid = sign_payload(&other, CLEARANCE_TYPE, good.to_cbor());
        assert!(matches!(
            verify_clearance(&wrong_kid, &other.verifying_key()),
            Err(CredentialError::Claims(_))
        ));
    }
}
