//! Who issues: this deployment's country (the codes' first segment) and its
//! signing key, turning a model's counter into codes and signing them.

use std::sync::Arc;

use robotid_credential::{SigningKey, VerifyingKey, sign_id_credential};
use robotid_domain::catalog::{Allocation, allocate};
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

    /// The next `count` codes of a model from its counter, with the
    /// counter's next value. Pure and quick (no signing): it runs while the
    /// model's row is locked.
    pub fn allocate(
        &self,
        manufacturer: &ManufacturerCode,
        model: &ModelCode,
        next_sequence: u64,
        count: u32,
    ) -> Allocation {
        allocate(&self.country, manufacturer, model, next_sequence, count)
    }

    /// Signs each allocated robot's credential.
    ///
    /// Runs on the blocking pool, in two halves for large batches so that
    /// both cores sign: 10,000 signatures are a few hundred milliseconds of
    /// CPU that must not stall the server's other calls. Ed25519 signatures
    /// are deterministic, so the same robots and time sign to the same bytes.
    pub async fn sign(
        self: &Arc<Self>,
        robots: Vec<(RobotId, u64)>,
        issued_at: Timestamp,
    ) -> Result<Vec<IssuedRobot>, ApiError> {
        const PARALLEL_FROM: usize = 256;
        let mut first = robots;
        let second = if first.len() >= PARALLEL_FROM {
            first.split_off(first.len() / 2)
        } else {
            Vec::new()
        };
        let (first, second) = tokio::join!(
            self.sign_on_blocking_pool(first, issued_at),
            self.sign_on_blocking_pool(second, issued_at)
        );
        let mut signed = first?;
        signed.extend(second?);
        Ok(signed)
    }

    async fn sign_on_blocking_pool(
        self: &Arc<Self>,
        robots: Vec<(RobotId, u64)>,
        issued_at: Timestamp,
    ) -> Result<Vec<IssuedRobot>, ApiError> {
        if robots.is_empty() {
            return Ok(Vec::new());
        }
        let issuer = Arc::clone(self);
        let work = move || {
            robots
                .into_iter()
                .map(|(robot_id, sequence)| IssuedRobot {
                    credential: sign_id_credential(&issuer.key, &robot_id, issued_at),
                    robot_id,
                    sequence,
                })
                .collect()
        };
        match tokio::task::spawn_blocking(work).await {
            Ok(signed) => Ok(signed),
            Err(error) => match error.try_into_panic() {
                // A panic in the pure signing code is a bug: surface it.
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => Err(ApiError::unavailable(
                    "SHUTTING_DOWN",
                    "the service is shutting down; retry",
                )),
            },
        }
    }
}
