//! Recognising foreign registries' signatures offline, as border control
//! checks a passport chip against the document signers it trusts: the key
//! must be on the trust list, within its validity, not revoked, and trusted
//! for the country the signed object speaks for.

use robotid_credential::clearance::{Clearance, verify_clearance_with};
use robotid_credential::{
    CredentialError, IdCredential, KeyId, VerifyingKey, verify_id_credential_with,
};
use robotid_domain::code::{CountryCode, RobotId};
use robotid_domain::time::Timestamp;
use robotid_domain::transfer::{ImportRefusal, TrustedKey, TrustedLog};

/// The trust list as it stood when a request began.
pub struct TrustList {
    keys: Vec<TrustedKey>,
    now: Timestamp,
}

/// A signature that does not verify, or a malformed object, is invalid
/// whichever key it claims; a key id the list does not hold is unknown.
fn refusal(error: CredentialError) -> ImportRefusal {
    match error {
        CredentialError::UnknownKey(_) => ImportRefusal::UnknownKey,
        _ => ImportRefusal::CredentialInvalid,
    }
}

impl TrustList {
    pub fn new(keys: Vec<TrustedKey>, now: Timestamp) -> Self {
        Self { keys, now }
    }

    fn key(&self, kid: &KeyId) -> Option<&TrustedKey> {
        let kid = kid.to_string();
        self.keys.iter().find(|key| key.kid == kid)
    }

    fn lookup(&self) -> impl Fn(&KeyId) -> Option<VerifyingKey> + '_ {
        |kid| {
            self.key(kid)
                .and_then(|key| VerifyingKey::from_bytes(&key.public_key).ok())
        }
    }

    /// The raw public key the list holds under `kid`.
    pub fn public_key(&self, kid: &KeyId) -> Option<Vec<u8>> {
        self.key(kid).map(|key| key.public_key.to_vec())
    }

    /// The log to check an import from `country` against: the one the
    /// entry of `kid` (the key that signed its clearance) names, else the
    /// one another usable entry of that country names.
    pub fn log_of(&self, kid: &KeyId, country: &CountryCode) -> Option<&TrustedLog> {
        self.key(kid).and_then(|key| key.log.as_ref()).or_else(|| {
            self.keys
                .iter()
                .filter(|key| key.country == *country && key.usable_at(self.now).is_ok())
                .find_map(|key| key.log.as_ref())
        })
    }

    /// The signing key's standing, once its signature verified: usable
    /// now, and trusted for the country the object speaks for.
    fn standing(&self, kid: &KeyId, country: &CountryCode) -> Result<(), ImportRefusal> {
        let key = self.key(kid).ok_or(ImportRefusal::UnknownKey)?;
        key.usable_at(self.now)?;
        if key.country != *country {
            return Err(ImportRefusal::CountryMismatch);
        }
        Ok(())
    }

    /// A foreign robot's credential from its issuing registry: signed by a
    /// trusted key of the country its code names, and about this robot.
    pub fn verify_credential(
        &self,
        robot_id: &RobotId,
        credential: &[u8],
    ) -> Result<IdCredential, ImportRefusal> {
        if credential.is_empty() {
            return Err(ImportRefusal::CredentialMissing);
        }
        let country = robot_id.country();
        if !self.keys.iter().any(|key| key.country == country) {
            return Err(ImportRefusal::UntrustedCountry);
        }
        let claims = verify_id_credential_with(credential, self.lookup()).map_err(refusal)?;
        // The claims' country is the code's country segment (the credential
        // refuses anything else), so this checks the code against the signer.
        self.standing(&claims.kid, &claims.issuer_country)?;
        if claims.robot_id != *robot_id {
            return Err(ImportRefusal::CredentialMismatch);
        }
        Ok(claims)
    }

    /// The origin registry's export clearance of this shipment.
    pub fn verify_clearance(
        &self,
        clearance: &[u8],
        origin: &CountryCode,
        destination: &CountryCode,
    ) -> Result<Clearance, ImportRefusal> {
        if !self.keys.iter().any(|key| key.country == *origin) {
            return Err(ImportRefusal::UntrustedCountry);
        }
        let claims = verify_clearance_with(clearance, self.lookup()).map_err(refusal)?;
        self.standing(&claims.kid, &claims.issuer_country)?;
        if claims.origin != *origin || claims.destination != *destination {
            return Err(ImportRefusal::ShipmentMismatch);
        }
        Ok(claims)
    }
}
