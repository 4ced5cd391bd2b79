//! What customs ask of the transfer service: clearing a shipment (this
//! module), confirming that it departed or arrived (`crossing`), and
//! withdrawing a clearance or letting it lapse (`lapse`).
//!
//! Every step asks the registry first and stores its outcome here only
//! once the registry answered: an unreachable registry leaves no trace
//! (fail closed), and no robot is cleared without the registry's positive
//! verdict. Each registry write carries a request id derived from the
//! transfer, which is itself derived from the clearance's request id, so a
//! retry after a partial failure (the registry wrote, this service did
//! not) is answered by the registry instead of being done twice. Each
//! names the customs office it is made for, which the registry records as
//! the events' actor.

use std::collections::BTreeMap;
use std::time::Duration;

use robotid_credential::SigningKey;
use robotid_credential::clearance::{Clearance, ClearedRobot, ModelNames, sign_clearance};
use robotid_domain::code::{CountryCode, RobotId};
use robotid_domain::lifecycle::Status;
use robotid_domain::time::Timestamp;
use robotid_domain::transfer::{
    Arrival, Direction, ImportRefusal, RobotDecision, Transfer, TransferId, TransferState,
    TransitionError,
};
use robotid_platform::error::ApiError;
use robotid_platform::idempotency::RequestKey;
use robotid_proto::common::v1::EventType;
use robotid_proto::registry::v1 as registry;
use tonic::Code;

use crate::convert::Verdict;
use crate::origin_proof::OriginProofs;
use crate::registry::{Registry, RegistryError};
use crate::store::{Change, ClearanceUse, Created, TransferStore, Transition};
use crate::trust::TrustList;

/// The registry's reason for a robot already cleared for export.
const EXPORT_PENDING: &str = "EXPORT_PENDING";
/// The registry's reason for a robot it does not know.
const ROBOT_NOT_FOUND: &str = "ROBOT_NOT_FOUND";

/// One robot of a shipment as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentRobot {
    pub robot_id: RobotId,
    /// Imports: the credential from the robot's issuing registry.
    pub credential: Vec<u8>,
}

/// A shipment customs ask to clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearanceRequest {
    pub direction: Direction,
    pub robots: Vec<ShipmentRobot>,
    pub origin: CountryCode,
    pub destination: CountryCode,
    pub declarant: String,
    /// The caller's own office.
    pub customs_office: String,
    pub allow_partial: bool,
    /// Imports: the origin registry's signed export clearance.
    pub origin_clearance: Option<Vec<u8>>,
    /// The authenticated caller, `robotid://customs/CN-SHA`.
    pub requested_by: String,
}

pub struct Customs {
    pub(crate) store: TransferStore,
    pub(crate) registry: Registry,
    pub(crate) key: SigningKey,
    home: CountryCode,
    /// How long an export clearance is good for departure.
    validity: Duration,
    origin_proofs: OriginProofs,
}

/// Where a change of a transfer starts.
pub(crate) enum Begun {
    /// The request was done before: its answer.
    Done(Transfer),
    /// The transfer as it stands now.
    Open(Transfer),
}

/// What a clearance decided.
struct Outcome {
    decisions: Vec<RobotDecision>,
    state: TransferState,
    clearance: Option<Vec<u8>>,
    expires_at: Option<Timestamp>,
    /// Imports that cleared robots: the origin clearance they use up.
    uses: Option<ClearanceUse>,
}

impl Outcome {
    /// Nothing crosses, for the reasons given.
    fn refused(decisions: Vec<RobotDecision>, state: TransferState) -> Self {
        Self {
            decisions,
            state,
            clearance: None,
            expires_at: None,
            uses: None,
        }
    }
}

impl Customs {
    pub fn new(
        store: TransferStore,
        registry: Registry,
        key: SigningKey,
        home: CountryCode,
        validity: Duration,
        origin_proofs: OriginProofs,
    ) -> Self {
        Self {
            store,
            registry,
            key,
            home,
            validity,
            origin_proofs,
        }
    }

    /// Decides a shipment robot by robot and as a whole, records what the
    /// registry must know (exports: EXPORT_CLEARED), then stores it.
    pub async fn clear(
        &self,
        key: &RequestKey,
        request: ClearanceRequest,
    ) -> Result<Transfer, ApiError> {
        if let Some(done) = self.store.done(key).await? {
            return self.stored(done).await;
        }
        let id = TransferId::for_request(&key.caller, &key.request_id);
        let now = Timestamp::now();
        let outcome = match request.direction {
            Direction::Export => self.export(&id, &request, now).await?,
            Direction::Import => self.import(&request, now).await?,
        };
        let uses = outcome.uses.clone();
        let transfer = Transfer {
            id,
            direction: request.direction,
            state: outcome.state,
            origin: request.origin,
            destination: request.destination,
            declarant: request.declarant,
            customs_office: request.customs_office,
            allow_partial: request.allow_partial,
            decisions: outcome.decisions,
            clearance: outcome.clearance,
            requested_by: request.requested_by.clone(),
            expires_at: outcome.expires_at,
            created_at: now,
            updated_at: now,
            updated_by: request.requested_by,
        };
        match self
            .store
            .create(key, transfer.clone(), uses.as_ref())
            .await?
        {
            Created::Stored(transfer) => Ok(*transfer),
            // Another import used the origin's clearance between this
            // one's check and its write: this one is refused after all.
            Created::ClearanceUsed => {
                let reason = ImportRefusal::OriginClearanceUsed.reason();
                let decisions = transfer
                    .decisions
                    .iter()
                    .map(|d| RobotDecision::refused(d.robot_id.clone(), reason))
                    .collect();
                let refused = Transfer {
                    state: TransferState::Refused,
                    decisions,
                    expires_at: None,
                    ..transfer
                };
                match self.store.create(key, refused, None).await? {
                    Created::Stored(transfer) => Ok(*transfer),
                    Created::ClearanceUsed => Err(unexpected("a refusal used a clearance".into())),
                }
            }
        }
    }

    async fn export(
        &self,
        id: &TransferId,
        request: &ClearanceRequest,
        now: Timestamp,
    ) -> Result<Outcome, ApiError> {
        let ids: Vec<RobotId> = request.robots.iter().map(|r| r.robot_id.clone()).collect();
        let verdicts = self
            .registry
            .check(&ids, EventType::ExportCleared)
            .await
            .map_err(unavailable)?;
        let decide = |accept_pending: bool| -> Vec<RobotDecision> {
            ids.iter()
                .zip(&verdicts)
                .map(|(id, verdict)| {
                    if verdict.eligible || (accept_pending && verdict.reason == EXPORT_PENDING) {
                        RobotDecision::cleared(id.clone(), None)
                    } else {
                        RobotDecision::refused(id.clone(), verdict.reason.clone())
                    }
                })
                .collect()
        };

        // Robots already cleared for export may have been cleared by an
        // earlier attempt of this very request whose answer was lost. The
        // registry knows: asked to clear them again under the same request
        // id, it answers what it did then if the robots are the same, and
        // refuses (EXPORT_PENDING) if they were cleared by another transfer.
        if verdicts.iter().any(|v| v.reason == EXPORT_PENDING) {
            let decisions = decide(true);
            let state = TransferState::decide(&decisions, request.allow_partial);
            if state.is_cleared() {
                match self.record_export_cleared(id, request, &decisions).await {
                    Ok(()) => {
                        return self.cleared_export(id, request, decisions, state, &verdicts, now);
                    }
                    Err(RegistryError::Refused { reason, .. }) if reason == EXPORT_PENDING => {}
                    Err(error) => return Err(record_error(error)),
                }
            }
        }

        let (decisions, state) = TransferState::settle(decide(false), request.allow_partial);
        if !state.is_cleared() {
            // Refused as a whole: nothing is recorded for any robot.
            return Ok(Outcome::refused(decisions, state));
        }
        self.record_export_cleared(id, request, &decisions)
            .await
            .map_err(record_error)?;
        self.cleared_export(id, request, decisions, state, &verdicts, now)
    }

    /// EXPORT_CLEARED for every cleared robot, in one registry call.
    async fn record_export_cleared(
        &self,
        id: &TransferId,
        request: &ClearanceRequest,
        decisions: &[RobotDecision],
    ) -> Result<(), RegistryError> {
        let cleared = decisions
            .iter()
            .filter(|d| d.is_cleared())
            .map(|d| &d.robot_id);
        let events = border_events(
            cleared,
            EventType::ExportCleared,
            &request.destination,
            id,
            None,
        );
        self.registry
            .record(
                id.registry_request_id("export-cleared"),
                events,
                &request.requested_by,
            )
            .await
    }

    /// The outcome of a cleared export, with its signed clearance: each
    /// robot in the status and with the production the registry holds,
    /// good for departure until `now` plus the validity.
    fn cleared_export(
        &self,
        id: &TransferId,
        request: &ClearanceRequest,
        decisions: Vec<RobotDecision>,
        state: TransferState,
        verdicts: &[Verdict],
        now: Timestamp,
    ) -> Result<Outcome, ApiError> {
        let mut robots = Vec::new();
        let mut models: BTreeMap<String, ModelNames> = BTreeMap::new();
        for (decision, verdict) in decisions.iter().zip(verdicts) {
            if !decision.is_cleared() {
                continue;
            }
            let id = &decision.robot_id;
            let status = verdict
                .status
                .filter(|s| matches!(s, Status::InMarket | Status::InService))
                .ok_or_else(|| {
                    unexpected(format!("cleared robot {id} has no exportable status"))
                })?;
            robots.push(ClearedRobot {
                robot_id: id.clone(),
                status,
                production: verdict.production.clone(),
            });
            // One name per model: the first robot's, should they differ.
            models
                .entry(id.as_str()[..12].to_owned())
                .or_insert_with(|| ModelNames {
                    country: id.country(),
                    manufacturer: id.manufacturer(),
                    model: id.model(),
                    manufacturer_name: verdict.manufacturer_name.clone(),
                    model_name: verdict.model_name.clone(),
                });
        }
        let validity = i64::try_from(self.validity.as_micros()).unwrap_or(i64::MAX);
        let claims = Clearance::new(
            id.name(),
            self.home.clone(),
            request.destination.clone(),
            robots,
            models.into_values().collect(),
            now,
            Timestamp::from_micros(now.as_micros().saturating_add(validity)),
            self.key.kid(),
        );
        let clearance = sign_clearance(&self.key, &claims).map_err(|e| ApiError::internal(&e))?;
        Ok(Outcome {
            decisions,
            state,
            clearance: Some(clearance),
            expires_at: Some(claims.expires_at),
            uses: None,
        })
    }

    /// The origin's clearance of an import, if it is one to import on:
    /// signed by a trusted key of the origin for a shipment to this
    /// country, unexpired, departed, and not used by an import here before.
    async fn origin_clearance(
        &self,
        request: &ClearanceRequest,
        trust: &TrustList,
        now: Timestamp,
    ) -> Result<Result<Clearance, ImportRefusal>, ApiError> {
        let Some(bytes) = request.origin_clearance.as_deref() else {
            return Ok(Err(ImportRefusal::OriginClearanceMissing));
        };
        let clearance = match trust.verify_clearance(bytes, &request.origin, &self.home) {
            Ok(clearance) => clearance,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if !clearance.is_valid_at(now) {
            return Ok(Err(ImportRefusal::OriginClearanceExpired));
        }
        if clearance.departed_at.is_none() {
            return Ok(Err(ImportRefusal::OriginClearanceNotDeparted));
        }
        let used = self
            .store
            .clearance_used_by(&clearance.issuer_country, &clearance.transfer)
            .await?;
        if used.is_some() {
            return Ok(Err(ImportRefusal::OriginClearanceUsed));
        }
        Ok(Ok(clearance))
    }

    async fn import(
        &self,
        request: &ClearanceRequest,
        now: Timestamp,
    ) -> Result<Outcome, ApiError> {
        let trust = TrustList::new(self.store.trusted_keys().await?, now);
        let origin_clearance = self.origin_clearance(request, &trust, now).await?;
        let listed = match &origin_clearance {
            Ok(clearance) => clearance.robots_by_id(),
            Err(_) => BTreeMap::new(),
        };
        let ids: Vec<RobotId> = request.robots.iter().map(|r| r.robot_id.clone()).collect();
        // Which robots this registry knows already (a robot coming back),
        // and whether they are abroad and intact, in one call.
        let verdicts = self
            .registry
            .check(&ids, EventType::Imported)
            .await
            .map_err(unavailable)?;
        let mut decisions: Vec<RobotDecision> = request
            .robots
            .iter()
            .zip(&verdicts)
            .map(|(robot, verdict)| {
                let stated = match &origin_clearance {
                    Err(refusal) => Err(refusal.origin_clearance_reason()),
                    Ok(clearance) => listed
                        .get(&robot.robot_id)
                        .map(|cleared| (*cleared, clearance.model_of(&robot.robot_id)))
                        .ok_or(ImportRefusal::NotInOriginClearance.reason()),
                };
                self.import_decision(robot, verdict, &trust, stated)
            })
            .collect();
        if let Ok(clearance) = &origin_clearance {
            self.check_origin_log(&mut decisions, clearance, &trust)
                .await;
        }
        let (decisions, state) = TransferState::settle(decisions, request.allow_partial);
        let clearance = match origin_clearance {
            Ok(clearance) if state.is_cleared() => clearance,
            _ => return Ok(Outcome::refused(decisions, state)),
        };
        Ok(Outcome {
            decisions,
            state,
            clearance: None,
            expires_at: Some(clearance.expires_at),
            uses: Some(ClearanceUse {
                issuer_country: clearance.issuer_country.clone(),
                transfer: clearance.transfer.clone(),
                kid: clearance.kid.to_string(),
            }),
        })
    }

    /// One robot of an import. A foreign robot needs its credential
    /// recognised; every robot, foreign or coming home, needs to be listed
    /// in the origin's clearance (so the origin vouched that it left
    /// neither stolen, recalled nor at the end of its life). Then the
    /// registry tells whether it is new here or coming back; a robot it
    /// holds at home already is refused (one robot, one home).
    fn import_decision(
        &self,
        robot: &ShipmentRobot,
        verdict: &Verdict,
        trust: &TrustList,
        stated: Result<(&ClearedRobot, Option<&ModelNames>), &'static str>,
    ) -> RobotDecision {
        let id = robot.robot_id.clone();
        let foreign = id.country() != self.home;
        let verified_by = if foreign {
            match trust.verify_credential(&id, &robot.credential) {
                Ok(claims) => trust.public_key(&claims.kid),
                Err(refusal) => return RobotDecision::refused(id, refusal.reason()),
            }
        } else {
            None
        };
        let (cleared, names) = match stated {
            Err(reason) => return RobotDecision::refused(id, reason),
            Ok(stated) => stated,
        };
        if verdict.eligible {
            return RobotDecision::cleared(id, Some(Arrival::Return));
        }
        if !foreign || verdict.reason != ROBOT_NOT_FOUND {
            return RobotDecision::refused(id, verdict.reason.clone());
        }
        // New here: in the status its origin cleared it in, under the
        // origin's names (the clearance names every model it lists), with
        // its production.
        let (manufacturer_name, model_name) = match names {
            Some(names) => (names.manufacturer_name.clone(), names.model_name.clone()),
            None => (
                id.manufacturer().as_str().to_owned(),
                id.model().as_str().to_owned(),
            ),
        };
        RobotDecision::cleared(
            id,
            Some(Arrival::Register {
                status: cleared.status,
                manufacturer_name,
                model_name,
                production: cleared.production.clone(),
                credential: robot.credential.clone(),
                credential_key: verified_by.unwrap_or_default(),
            }),
        )
    }

    /// The robots that would clear, checked against the origin's own log:
    /// each needs the origin's proof that its newest event is this export,
    /// under a checkpoint this deployment's witness cosigned.
    async fn check_origin_log(
        &self,
        decisions: &mut [RobotDecision],
        clearance: &Clearance,
        trust: &TrustList,
    ) {
        let clearing: Vec<usize> = (0..decisions.len())
            .filter(|&i| decisions[i].is_cleared())
            .collect();
        let ids: Vec<RobotId> = clearing
            .iter()
            .map(|&i| decisions[i].robot_id.clone())
            .collect();
        let log = trust.log_of(&clearance.kid, &clearance.issuer_country);
        let proofs = self
            .origin_proofs
            .check(log, &ids, clearance.issued_at)
            .await;
        for (i, proof) in clearing.into_iter().zip(proofs) {
            if let Err(refusal) = proof {
                let id = decisions[i].robot_id.clone();
                decisions[i] = RobotDecision::refused(id, refusal.reason());
            }
        }
    }

    /// Where a change of transfer `id` under request `key` starts.
    pub(crate) async fn begin(&self, key: &RequestKey, id: &TransferId) -> Result<Begun, ApiError> {
        match self.store.done(key).await? {
            Some(done) => Ok(Begun::Done(self.stored(done).await?)),
            None => Ok(Begun::Open(self.transfer(id).await?)),
        }
    }

    pub(crate) async fn transfer(&self, id: &TransferId) -> Result<Transfer, ApiError> {
        self.store
            .transfer(id)
            .await?
            .ok_or_else(|| ApiError::not_found("TRANSFER_NOT_FOUND", id.name()))
    }

    /// The transfer a completed request stored.
    pub(crate) async fn stored(&self, id: String) -> Result<Transfer, ApiError> {
        let id = TransferId::from_stored(id);
        self.store
            .transfer(&id)
            .await?
            .ok_or_else(|| unexpected(format!("request result names missing {}", id.name())))
    }

    /// Stores the confirmed state, unless another call moved the transfer
    /// first: then its answer is what this step says of the state it found.
    pub(crate) async fn finish(
        &self,
        key: &RequestKey,
        transfer: &Transfer,
        change: Change<'_>,
        step: impl Fn(TransferState) -> Result<TransferState, TransitionError>,
    ) -> Result<Transfer, ApiError> {
        match self.store.transition(key, &transfer.id, change).await? {
            Transition::Done(transfer) => Ok(transfer),
            Transition::Moved(current) => Err(match step(current.state) {
                Err(error) => transition_error(error),
                Ok(_) => ApiError::new(
                    Code::Aborted,
                    "CONCURRENT_CHANGE",
                    "the transfer changed while this call ran; retry",
                ),
            }),
        }
    }
}

/// One border event per robot, naming the other country and the transfer
/// (and, for a cancelled clearance, why).
pub(crate) fn border_events<'a>(
    robots: impl Iterator<Item = &'a RobotId>,
    kind: EventType,
    country: &CountryCode,
    transfer: &TransferId,
    note: Option<&str>,
) -> Vec<registry::RecordEventRequest> {
    robots
        .map(|robot_id| registry::RecordEventRequest {
            request_id: String::new(),
            robot_id: robot_id.as_str().to_owned(),
            r#type: kind.into(),
            details: Some(registry::EventDetails {
                country_code: country.as_str().to_owned(),
                reference: transfer.name(),
                note: note.unwrap_or_default().to_owned(),
                ..registry::EventDetails::default()
            }),
            occur_time: None,
        })
        .collect()
}

pub(crate) fn registry_unavailable(message: &str) -> ApiError {
    tracing::warn!(%message, "registry unavailable");
    ApiError::unavailable(
        "REGISTRY_UNAVAILABLE",
        "the registry cannot be reached: nothing was decided or recorded; retry later",
    )
}

/// A failed eligibility check: nothing to decide on.
fn unavailable(error: RegistryError) -> ApiError {
    match error {
        RegistryError::Unavailable(message) => registry_unavailable(&message),
        refused => ApiError::internal(&refused),
    }
}

/// A failed EXPORT_CLEARED batch. A lifecycle refusal means a robot
/// changed between the check and the write (a recall, a theft report):
/// retrying decides again on what the registry says then.
fn record_error(error: RegistryError) -> ApiError {
    match error {
        RegistryError::Unavailable(message) => registry_unavailable(&message),
        RegistryError::Refused {
            code: Code::FailedPrecondition,
            reason,
            robot_id,
            message,
        } if reason != "REQUEST_ID_REUSED" => ApiError::new(
            Code::Aborted,
            "ELIGIBILITY_CHANGED",
            format!(
                "a robot changed while the shipment was cleared ({message}); retry to decide again"
            ),
        )
        .with_metadata("robot_id", robot_id.unwrap_or_default())
        .with_metadata("registry_reason", reason),
        RegistryError::Refused {
            reason, message, ..
        } if reason == "REQUEST_ID_REUSED" => ApiError::failed_precondition(
            "CLEARANCE_CONFLICT",
            format!(
                "an earlier attempt of this request cleared other robots at the registry ({message}); \
                 the regulator must resolve it"
            ),
        ),
        refused => ApiError::internal(&refused),
    }
}

/// A failed departure or arrival write at the registry.
pub(crate) fn confirm_error(error: RegistryError) -> ApiError {
    match error {
        RegistryError::Unavailable(message) => registry_unavailable(&message),
        RegistryError::Refused {
            code: Code::FailedPrecondition | Code::AlreadyExists,
            reason,
            robot_id,
            message,
        } => ApiError::failed_precondition(
            "REGISTRY_REFUSED",
            format!("the registry refused: {message}"),
        )
        .with_metadata("robot_id", robot_id.unwrap_or_default())
        .with_metadata("registry_reason", reason),
        refused => ApiError::internal(&refused),
    }
}

pub(crate) fn transition_error(error: TransitionError) -> ApiError {
    ApiError::failed_precondition(error.reason(), error.to_string())
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Unexpected(String);

pub(crate) fn unexpected(what: String) -> ApiError {
    ApiError::internal(&Unexpected(what))
}
