//! The ID credential: what a registry signs for every robot it issues, so
//! that anyone holding the registry's public key can check, offline, that
//! the code is genuine (as border control checks a passport chip).
//!
//! Payload: a CBOR map with small integer keys, as CWT (RFC 8392) does, to
//! keep the whole credential QR-sized (about 180 bytes):
//!
//! | key | claim | CBOR |
//! |---|---|---|
//! | 1 | identity code, canonical 29 characters | tstr |
//! | 2 | manufacturer code | tstr |
//! | 3 | product model code | tstr |
//! | 4 | issue time, whole seconds since the Unix epoch | int |
//! | 5 | issuing registry's country | tstr |
//! | 6 | key id of the signing key | bstr (8) |

use ciborium::Value;
use robotid_domain::code::{CountryCode, ManufacturerCode, ModelCode, RobotId};
use robotid_domain::time::Timestamp;

use crate::cose::{CredentialError, decode_cbor, sign_payload, verify_payload};
use crate::key::{KeyId, SigningKey, VerifyingKey};

/// The COSE content type of an ID credential.
pub const ID_CREDENTIAL_TYPE: &str = "application/robotid-id+cbor";

const ROBOT_ID: i64 = 1;
const MANUFACTURER: i64 = 2;
const MODEL: i64 = 3;
const ISSUED_AT: i64 = 4;
const ISSUER_COUNTRY: i64 = 5;
const KEY_ID: i64 = 6;

/// The claims of an ID credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdCredential {
    pub robot_id: RobotId,
    pub manufacturer: ManufacturerCode,
    pub model: ModelCode,
    /// Whole seconds: the credential states the issue date, and a second's
    /// precision costs fewer bytes than the microseconds stored elsewhere.
    pub issued_at: Timestamp,
    pub issuer_country: CountryCode,
    pub kid: KeyId,
}

impl IdCredential {
    /// The claims for `robot_id`, issued by the registry of its country at
    /// `issued_at` (cut to whole seconds) under key `kid`.
    pub fn new(robot_id: &RobotId, issued_at: Timestamp, kid: KeyId) -> Self {
        Self {
            manufacturer: robot_id.manufacturer(),
            model: robot_id.model(),
            issuer_country: robot_id.country(),
            robot_id: robot_id.clone(),
            issued_at: whole_seconds(issued_at),
            kid,
        }
    }

    fn to_cbor(&self) -> Vec<u8> {
        let text = |key: i64, value: &str| (Value::from(key), Value::Text(value.to_owned()));
        let map = Value::Map(vec![
            text(ROBOT_ID, self.robot_id.as_str()),
            text(MANUFACTURER, self.manufacturer.as_str()),
            text(MODEL, self.model.as_str()),
            (
                Value::from(ISSUED_AT),
                Value::from(self.issued_at.to_parts().0),
            ),
            text(ISSUER_COUNTRY, self.issuer_country.as_str()),
            (
                Value::from(KEY_ID),
                Value::Bytes(self.kid.as_bytes().to_vec()),
            ),
        ]);
        let mut bytes = Vec::with_capacity(80);
        ciborium::ser::into_writer(&map, &mut bytes).expect("writing CBOR to memory cannot fail");
        bytes
    }

    /// Parses the payload and checks that its claims agree with each other
    /// and with the key that signed them.
    fn from_cbor(payload: &[u8], signed_by: KeyId) -> Result<Self, CredentialError> {
        let invalid = |what: &str| CredentialError::Claims(what.to_owned());
        let Value::Map(entries) = decode_cbor(payload)? else {
            return Err(invalid("not a CBOR map"));
        };
        let mut claims: [Option<Value>; 6] = Default::default();
        for (key, value) in entries {
            let index = key
                .as_integer()
                .and_then(|key| i64::try_from(key).ok())
                .filter(|key| (ROBOT_ID..=KEY_ID).contains(key))
                .ok_or_else(|| invalid("unknown claim"))?;
            let slot = &mut claims[(index - 1) as usize];
            if slot.replace(value).is_some() {
                return Err(invalid("a claim given twice"));
            }
        }
        let [robot_id, manufacturer, model, issued_at, country, kid] = claims;
        let text = |value: Option<Value>, name: &str| match value {
            Some(Value::Text(text)) => Ok(text),
            _ => Err(invalid(&format!("{name} missing or not text"))),
        };
        let robot_id = RobotId::parse(&text(robot_id, "robot id")?)
            .map_err(|e| invalid(&format!("robot id: {e}")))?;
        let manufacturer = ManufacturerCode::parse(&text(manufacturer, "manufacturer")?)
            .map_err(|e| invalid(&format!("manufacturer: {e}")))?;
        let model = ModelCode::parse(&text(model, "model")?)
            .map_err(|e| invalid(&format!("model: {e}")))?;
        let issuer_country = CountryCode::parse(&text(country, "issuer country")?)
            .map_err(|e| invalid(&format!("issuer country: {e}")))?;
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
        let credential = Self {
            robot_id,
            manufacturer,
            model,
            issued_at,
            issuer_country,
            kid,
        };
        if credential != Self::new(&credential.robot_id, issued_at, signed_by) {
            return Err(invalid(
                "the claims disagree with the code's segments or the signing key",
            ));
        }
        if credential.to_cbor() != payload {
            return Err(CredentialError::NotCanonical);
        }
        Ok(credential)
    }
}

fn whole_seconds(time: Timestamp) -> Timestamp {
    Timestamp::from_parts(time.to_parts().0, 0)
}

/// Signs the ID credential of `robot_id`, issued at `issued_at`.
pub fn sign_id_credential(key: &SigningKey, robot_id: &RobotId, issued_at: Timestamp) -> Vec<u8> {
    let claims = IdCredential::new(robot_id, issued_at, key.kid());
    sign_payload(key, ID_CREDENTIAL_TYPE, claims.to_cbor())
}

/// Verifies an ID credential with the issuing registry's public key alone.
pub fn verify_id_credential(
    bytes: &[u8],
    key: &VerifyingKey,
) -> Result<IdCredential, CredentialError> {
    verify_id_credential_with(bytes, |_| Some(*key))
}

/// Verifies an ID credential with whichever key `lookup` trusts under the
/// credential's key id, e.g. from a trust list of foreign registries.
pub fn verify_id_credential_with(
    bytes: &[u8],
    lookup: impl FnOnce(&KeyId) -> Option<VerifyingKey>,
) -> Result<IdCredential, CredentialError> {
    let verified = verify_payload(bytes, ID_CREDENTIAL_TYPE, lookup)?;
    IdCredential::from_cbor(&verified.payload, verified.kid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn robot() -> RobotId {
        RobotId::issue(
            &"CN".parse().unwrap(),
            &"0001".parse().unwrap(),
            &"HX0001".parse().unwrap(),
            42,
        )
    }

    fn issued_at() -> Timestamp {
        Timestamp::from_micros(1_764_172_800_123_456)
    }

    #[test]
    fn a_credential_round_trips_and_is_qr_sized() {
        let key = SigningKey::from_seed(&[3; 32]);
        let credential = sign_id_credential(&key, &robot(), issued_at());
        assert!(credential.len() < 200, "{} bytes", credential.len());
        let claims = verify_id_credential(&credential, &key.verifying_key()).unwrap();
        assert_eq!(claims.robot_id, robot());
        assert_eq!(claims.manufacturer.as_str(), "0001");
        assert_eq!(claims.model.as_str(), "HX0001");
        assert_eq!(claims.issuer_country.as_str(), "CN");
        assert_eq!(claims.issued_at, Timestamp::from_parts(1_764_172_800, 0));
        assert_eq!(claims.kid, key.kid());
    }

    #[test]
    fn every_single_byte_change_is_refused() {
        let key = SigningKey::from_seed(&[3; 32]).verifying_key();
        let signer = SigningKey::from_seed(&[3; 32]);
        let credential = sign_id_credential(&signer, &robot(), issued_at());
        for position in 0..credential.len() {
            for value in 0..=u8::MAX {
                if value == credential[position] {
                    continue;
                }
                let mut changed = credential.clone();
                changed[position] = value;
                assert!(
                    verify_id_credential(&changed, &key).is_err(),
                    "byte {position} set to {value:#04x} still verifies"
                );
            }
        }
        // Cut short or lengthened, too.
        for len in 0..credential.len() {
            assert!(verify_id_credential(&credential[..len], &key).is_err());
        }
    }

    #[test]
    fn another_key_is_refused_and_a_trust_list_finds_the_right_one() {
        let signer = SigningKey::from_seed(&[3; 32]);
        let other = SigningKey::from_seed(&[4; 32]);
        let credential = sign_id_credential(&signer, &robot(), issued_at());
        assert_eq!(
            verify_id_credential(&credential, &other.verifying_key()),
            Err(CredentialError::UnknownKey(signer.kid()))
        );
        let trusted = [other.verifying_key(), signer.verifying_key()];
        let claims = verify_id_credential_with(&credential, |kid| {
            trusted.iter().find(|key| key.kid() == *kid).copied()
        })
        .unwrap();
        assert_eq!(claims.kid, signer.kid());
    }

    #[test]
    fn claims_that_contradict_the_code_or_key_are_refused() {
        let key = SigningKey::from_seed(&[3; 32]);
        let mut claims = IdCredential::new(&robot(), issued_at(), key.kid());
        claims.model = "HX0002".parse().unwrap();
        let forged = sign_payload(&key, ID_CREDENTIAL_TYPE, claims.to_cbor());
        assert!(matches!(
            verify_id_credential(&forged, &key.verifying_key()),
            Err(CredentialError::Claims(_))
        ));

        let other = SigningKey::from_seed(&[4; 32]);
        let claims = IdCredential::new(&robot(), issued_at(), other.kid());
        let wrong_kid = sign_payload(&key, ID_CREDENTIAL_TYPE, claims.to_cbor());
        assert!(matches!(
            verify_id_credential(&wrong_kid, &key.verifying_key()),
            Err(CredentialError::Claims(_))
        ));
    }
}
