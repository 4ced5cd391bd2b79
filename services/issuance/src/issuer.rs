//! Who issues: this deployment's country (the codes' first segment) and its
//! signing key, turning a model's counter into signed codes.

use std::sync::Arc;

use robotid_credential::{SigningKey, VerifyingKey, sign_id_credential};
use robotid_domain::catalog::allocate;
use robotid_domain::code::{CountryCode, ManufacturerCode, ModelCode, RobotId};
use robotid_domain::time::Timestamp;
use robotid_platform::error::ApiError;

/// One issued robot as issuance records and returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedRobot {
    pub robot_id: RobotId,
    pub sequence: u64,
    /// COSE_Sign1, see [`robotid_credential::IdCredential`].
    pub credential: Vec<u8>,
}

#[derive(Debug)]
pub struct Issuer {
    country: CountryCode,
    key: SigningKey,
}

impl Issuer {
    pub fn new(country: CountryCode, key: SigningKey) -> Self {
        Self { country, key }
    }

    pub fn country(&self) -> &CountryCode {
        &self.country
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Allocates `count` codes of a model from its counter and signs each
    /// one's credential; returns them with the counter's next value.
    ///
    /// Runs on the blocking pool: 10,000 signatures are a few hundred
    /// milliseconds of CPU that must not stall the server's other calls.
    pub async fn issue(
        self: &Arc<Self>,
        manufacturer: &ManufacturerCode,
        model: &ModelCode,
        next_sequence: u64,
        count: u32,
        issued_at: Timestamp,
    ) -> Result<(Vec<IssuedRobot>, u64), ApiError> {
        let issuer = Arc::clone(self);
        let (manufacturer, model) = (manufacturer.clone(), model.clone());
        let work = move || {
            let allocation = allocate(&issuer.country, &manufacturer, &model, next_sequence, count);
            let robots = allocation
                .robots
                .into_iter()
                .map(|(robot_id, sequence)| IssuedRobot {
                    credential: sign_id_credential(&issuer.key, &robot_id, issued_at),
                    robot_id,
                    sequence,
                })
                .collect();
            (robots, allocation.next_sequence)
        };
        match tokio::task::spawn_blocking(work).await {
            Ok(issued) => Ok(issued),
            Err(error) => match error.try_into_panic() {
                // A panic in the pure allocation code is a bug: surface it.
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => Err(ApiError::unavailable(
                    "SHUTTING_DOWN",
                    "the service is shutting down; retry",
                )),
            },
        }
    }
}
