//! The gRPC handlers: convert the request, call the store, convert the
//! answer, map errors. Nothing else.

use robotid_domain::access::AccessDraft;
use robotid_domain::code::{CountryCode, ManufacturerCode, ModelCode, RobotId};
use robotid_domain::history::{ChainVerdict, EventDraft};
use robotid_domain::holder::{Holder, HolderKey};
use robotid_domain::lifecycle::EventKind;
use robotid_domain::time::Timestamp;
use robotid_platform::authz::{self, Tier};
use robotid_platform::error::ApiError;
use robotid_platform::idempotency::RequestKey;
use robotid_platform::identity::Caller;
use robotid_platform::pagination::{PageLimits, decode_token, encode_token};
use robotid_platform::wire::status_to_wire;
use robotid_platform::wire::{identifier, production_to_wire, reported_time, robot_id};
use robotid_proto::registry::v1 as pb;
use robotid_proto::registry::v1::registry_service_server::RegistryService;
use tonic::{Request, Response, Status};
use tonic_types::StatusExt;

use crate::access_log::{self, LogVerdict};
use crate::convert::{
    details_from_wire, event_kind_from_wire, event_to_wire, history_problem_to_wire,
    jurisdiction_to_wire, pseudonymise, recall_to_wire, registration_from_wire, robot_to_wire,
    tier_to_wire,
};
use crate::event_writer::EventWriter;
use crate::store::{EventRequest, RecallDraft, RecallFilter, RegistryStore, WriteError, recall_id};

/// `ErrorInfo.domain` of every error this service answers.
pub const ERROR_DOMAIN: &str = "registry.robotid";

/// At most this many robots per `RegisterRobots`, as many as one
/// `IssueRobotIds` batch.
const MAX_REGISTRATIONS: usize = 10_000;
/// At most this many robots per `CheckEligibility`, one shipment's worth.
const MAX_ELIGIBILITY: usize = 1_000;
const MAX_RECALL_ROBOTS: usize = 10_000;
/// A recall's reason, in characters: one line, as a notice states it.
const MAX_RECALL_REASON: usize = 2_000;
/// At most this many events per `RecordEvents`, one shipment's worth.
const MAX_BATCH_EVENTS: usize = 1_000;

pub struct RegistryApi {
    store: RegistryStore,
    /// `RecordEvent`s go through it, grouped (see `event_writer`).
    events: EventWriter,
    home: CountryCode,
    holder_key: HolderKey,
    /// How far ahead of this clock a reported time may be.
    max_clock_skew: std::time::Duration,
}

impl RegistryApi {
    /// Starts the event writers: call on the runtime that serves.
    pub fn new(store: RegistryStore, home: CountryCode, holder_key: HolderKey) -> Self {
        Self {
            events: EventWriter::start(store.clone()),
            store,
            home,
            holder_key,
            max_clock_skew: std::time::Duration::from_secs(300),
        }
    }

    /// How far ahead of this service's clock a reported time may be
    /// (`--max-clock-skew-seconds`).
    pub fn with_max_clock_skew(mut self, max_clock_skew: std::time::Duration) -> Self {
        self.max_clock_skew = max_clock_skew;
        self
    }
}

fn status(error: ApiError) -> Status {
    error.into_status(ERROR_DOMAIN)
}

fn write_status(error: WriteError) -> Status {
    status(write_error(error))
}

fn write_error(error: WriteError) -> ApiError {
    match error {
        WriteError::RobotNotFound(id) => {
            ApiError::not_found("ROBOT_NOT_FOUND", format!("robots/{id}"))
                .with_metadata("robot_id", id.as_str())
        }
        WriteError::Refused(refusal) => {
            ApiError::failed_precondition(refusal.reason(), refusal.to_string())
        }
        WriteError::BeforeIssue { issued_at } => ApiError::invalid_argument(
            "occur_time",
            "before the robot was issued: nothing happens to a robot before its first event",
        )
        .with_metadata("issue_time_seconds", issued_at.to_parts().0.to_string()),
        WriteError::Conflict(id) => {
            ApiError::already_exists("ROBOT_ALREADY_REGISTERED", format!("robots/{id}"))
                .with_metadata("robot_id", id.as_str())
        }
        WriteError::Api(error) => error,
    }
}

/// The access log names the caller; a service acting for someone else
/// says for whom in the action (` for robotid://customs/CN-SHA`).
fn for_whom(caller: &Caller, actor: &Caller) -> String {
    if actor == caller {
        String::new()
    } else {
        format!(" for {actor}")
    }
}

fn access(caller: &Caller, action: impl Into<String>, robot_id: Option<&RobotId>) -> AccessDraft {
    access_about(caller, action, robot_id.into_iter())
}

/// An access log entry about several robots (a batch): a listing by any of
/// them finds it.
fn access_about<'a>(
    caller: &Caller,
    action: impl Into<String>,
    robots: impl Iterator<Item = &'a RobotId>,
) -> AccessDraft {
    AccessDraft {
        caller: caller.to_string(),
        action: action.into(),
        robots: robots.map(|id| id.as_str().to_owned()).collect(),
        outcome: "OK".into(),
    }
}

/// The public view of a robot, `None` when it is not registered: what
/// `GetRobot(PUBLIC)` answers and what the web card shows, one read for
/// both, so the two never diverge.
pub async fn public_robot(
    store: &RegistryStore,
    id: &RobotId,
) -> Result<Option<pb::Robot>, ApiError> {
    match store.robot(id).await? {
        None => Ok(None),
        Some(robot) => Ok(Some(public_view(store, &robot).await?)),
    }
}

/// The public tier of a robot the store read, with its open recalls'
/// reasons.
pub async fn public_view(
    store: &RegistryStore,
    robot: &robotid_domain::robot::Robot,
) -> Result<pb::Robot, ApiError> {
    let notices = recall_notices(store, robot).await?;
    Ok(robot_to_wire(
        robot,
        pb::RobotView::Public,
        Tier::Public,
        &notices,
    ))
}

/// The open recalls' reasons, for a robot's card; no query for a robot
/// with none.
async fn recall_notices(
    store: &RegistryStore,
    robot: &robotid_domain::robot::Robot,
) -> Result<Vec<crate::convert::RecallNotice>, ApiError> {
    if robot.standing.open_recalls.is_empty() {
        return Ok(Vec::new());
    }
    store.recall_notices(&robot.standing.open_recalls).await
}

impl RegistryApi {
    /// Logs a refused write or read, then answers the refusal. The log is
    /// best effort here: the call fails either way.
    async fn refuse(&self, mut draft: AccessDraft, status: Status) -> Status {
        let reason = status
            .get_details_error_info()
            .map(|info| info.reason)
            .unwrap_or_default();
        draft.outcome = format!("{:?} {reason}", status.code());
        if let Err(error) = self.store.log_access(draft).await {
            tracing::warn!(%error, "could not log a refused call");
        }
        status
    }

    /// Logs a full read before it is answered; no log, no answer.
    async fn log_read(&self, draft: AccessDraft) -> Result<(), Status> {
        self.store.log_access(draft).await.map_err(status)
    }
}

impl RegistryApi {
    /// The event to append, once the caller may record `kind`: its details
    /// checked against the kind; and the holder the call presented (the
    /// keyed hash of `details.current_holder`).
    fn event_draft(
        &self,
        caller: &Caller,
        kind: EventKind,
        details: Option<pb::EventDetails>,
        occurred_at: Option<Timestamp>,
    ) -> Result<(EventDraft, Option<Holder>), ApiError> {
        let (details, presented) = details_from_wire(details, &self.holder_key)?;
        details
            .validate_for(kind)
            .map_err(|e| ApiError::invalid_argument(format!("details.{}", e.field), e.problem))?;
        if presented.is_some() && !authz::takes_holder_reference(kind) {
            return Err(ApiError::invalid_argument(
                "details.current_holder",
                format!("does not apply to {kind}"),
            ));
        }
        let draft = EventDraft {
            kind,
            details,
            occurred_at: occurred_at.unwrap_or_else(Timestamp::now),
            actor: caller.to_string(),
        };
        Ok((draft, presented))
    }
}

/// An event type a caller may ask to record: any but ISSUED (which
/// registration records) and RECALL_ISSUED (which CreateRecall records, so
/// that every recall on a robot is a recall the registry holds).
fn recordable_kind(field: &str, value: i32) -> Result<EventKind, ApiError> {
    let kind = event_kind_from_wire(field, value)?;
    match kind {
        EventKind::Issued => Err(ApiError::invalid_argument(
            field,
            "ISSUED is recorded by RegisterRobots only",
        )),
        EventKind::RecallIssued => Err(ApiError::invalid_argument(
            field,
            "RECALL_ISSUED is recorded by CreateRecall only",
        )),
        kind => Ok(kind),
    }
}

/// The request with its `request_id` cleared, for the fingerprint.
fn without_request_id<T: Clone>(message: &T, clear: impl FnOnce(&mut T)) -> T {
    let mut copy = message.clone();
    clear(&mut copy);
    copy
}

#[tonic::async_trait]
impl RegistryService for RegistryApi {
    async fn register_robots(
        &self,
        request: Request<pb::RegisterRobotsRequest>,
    ) -> Result<Response<pb::RegisterRobotsResponse>, Status> {
        let caller = Caller::of(&request);
        let message = request.into_inner();
        let key = RequestKey::new(
            &caller,
            "RegisterRobots",
            &message.request_id,
            &without_request_id(&message, |m| m.request_id.clear()),
        )
        .map_err(status)?;
        let pb::RegisterRobotsRequest {
            request_id: _,
            robots,
            on_behalf_of,
        } = message;
        let actor =
            authz::acting_for(&caller, &on_behalf_of, self.home.as_str()).map_err(status)?;
        if robots.is_empty() || robots.len() > MAX_REGISTRATIONS {
            return Err(status(ApiError::invalid_argument(
                "robots",
                format!("1 to {MAX_REGISTRATIONS} robots per call"),
            )));
        }
        let now = Timestamp::now();
        let registrations = robots
            .into_iter()
            .enumerate()
            .map(|(i, robot)| {
                registration_from_wire(
                    &format!("robots[{i}]"),
                    robot,
                    &self.home,
                    self.max_clock_skew,
                )
                .map(|(registration, occurred_at)| (registration, occurred_at.unwrap_or(now)))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(status)?;
        robotid_platform::rpc_telemetry::record_robot_count(registrations.len());
        let draft = access_about(
            &caller,
            format!(
                "RegisterRobots({}){}",
                registrations.len(),
                for_whom(&caller, &actor)
            ),
            registrations
                .iter()
                .map(|(registration, _)| &registration.robot_id),
        );
        let outcome = match self
            .store
            .register(&key, registrations, actor.to_string(), draft.clone())
            .await
        {
            Ok(outcome) => outcome,
            Err(error) => return Err(self.refuse(draft, write_status(error)).await),
        };
        Ok(Response::new(pb::RegisterRobotsResponse {
            registered_count: outcome.registered as i32,
            already_registered_count: outcome.already_registered as i32,
        }))
    }

    async fn get_robot(
        &self,
        request: Request<pb::GetRobotRequest>,
    ) -> Result<Response<pb::Robot>, Status> {
        let caller = Caller::of(&request);
        let pb::GetRobotRequest { robot_id: id, view } = request.into_inner();
        let view = match pb::RobotView::try_from(view) {
            Ok(pb::RobotView::Unspecified | pb::RobotView::Public) => pb::RobotView::Public,
            Ok(pb::RobotView::Full) => pb::RobotView::Full,
            Err(_) => return Err(status(ApiError::invalid_argument("view", "unknown view"))),
        };
        let id = robot_id("robot_id", &id, &self.home).map_err(status)?;
        if view == pb::RobotView::Full {
            let draft = access(&caller, "GetRobot(FULL)", Some(&id));
            if let Err(error) = authz::require_full_view(&caller, &self.home, &id) {
                return Err(self.refuse(draft, status(error)).await);
            }
            self.log_read(draft).await?;
        }
        if view != pb::RobotView::Full {
            return public_robot(&self.store, &id)
                .await
                .map_err(status)?
                .map(Response::new)
                .ok_or_else(|| write_status(WriteError::RobotNotFound(id)));
        }
        let robot = self
            .store
            .robot(&id)
            .await
            .map_err(status)?
            .ok_or_else(|| write_status(WriteError::RobotNotFound(id)))?;
        let tier = authz::tier(&caller, &self.home, robot.standing.holder.as_ref());
        let notices = recall_notices(&self.store, &robot).await.map_err(status)?;
        let mut wire = robot_to_wire(&robot, view, tier, &notices);
        if tier >= Tier::Participant {
            wire.head_log_index = self.store.head_log_index(&robot).await.map_err(status)?;
        }
        Ok(Response::new(wire))
    }

    async fn record_event(
        &self,
        request: Request<pb::RecordEventRequest>,
    ) -> Result<Response<pb::Event>, Status> {
        let caller = Caller::of(&request);
        let message = request.into_inner();
        let key = RequestKey::new(
            &caller,
            "RecordEvent",
            &message.request_id,
            &without_request_id(&message, |m| {
                m.request_id.clear();
                pseudonymise(&mut m.details, &self.holder_key);
            }),
        )
        .map_err(status)?;
        let pb::RecordEventRequest {
            request_id: _,
            robot_id: id,
            r#type,
            details,
            occur_time,
        } = message;
        let id = robot_id("robot_id", &id, &self.home).map_err(status)?;
        let kind = recordable_kind("type", r#type).map_err(status)?;
        let draft = access(&caller, format!("RecordEvent({kind})"), Some(&id));
        if let Err(error) = authz::require_event(&caller, kind, &self.home, &id) {
            return Err(self.refuse(draft, status(error)).await);
        }
        let occurred_at = occur_time
            .as_ref()
            .map(|time| reported_time("occur_time", time, self.max_clock_skew))
            .transpose()
            .map_err(status)?;
        let (event, presented_holder) = self
            .event_draft(&caller, kind, details, occurred_at)
            .map_err(status)?;
        let request = EventRequest {
            key,
            robot_id: id,
            draft: event,
            access: draft.clone(),
            caller,
            presented_holder,
        };
        let event = match self.events.record(request).await {
            Ok(event) => event,
            Err(error) => return Err(self.refuse(draft, write_status(error)).await),
        };
        // The caller recorded it: it sees what it wrote.
        Ok(Response::new(event_to_wire(&event, Tier::Authority)))
    }

    async fn record_events(
        &self,
        request: Request<pb::RecordEventsRequest>,
    ) -> Result<Response<pb::RecordEventsResponse>, Status> {
        let caller = Caller::of(&request);
        let message = request.into_inner();
        let key = RequestKey::new(
            &caller,
            "RecordEvents",
            &message.request_id,
            &without_request_id(&message, |m| {
                m.request_id.clear();
                for event in &mut m.events {
                    pseudonymise(&mut event.details, &self.holder_key);
                }
            }),
        )
        .map_err(status)?;
        let pb::RecordEventsRequest {
            request_id: _,
            events,
            on_behalf_of,
        } = message;
        let actor =
            authz::acting_for(&caller, &on_behalf_of, self.home.as_str()).map_err(status)?;
        if events.is_empty() || events.len() > MAX_BATCH_EVENTS {
            return Err(status(ApiError::invalid_argument(
                "events",
                format!("1 to {MAX_BATCH_EVENTS} events per call"),
            )));
        }
        // The robots are known once the events are read: the entry names
        // them below.
        let mut draft = access(
            &caller,
            format!(
                "RecordEvents({}){}",
                events.len(),
                for_whom(&caller, &actor)
            ),
            None,
        );
        let mut drafts = Vec::with_capacity(events.len());
        for (i, event) in events.into_iter().enumerate() {
            let field = format!("events[{i}]");
            let pb::RecordEventRequest {
                request_id,
                robot_id: id,
                r#type,
                details,
                occur_time,
            } = event;
            if !request_id.is_empty() {
                return Err(status(
                    ApiError::invalid_argument(
                        "request_id",
                        "leave empty: the batch's request_id covers every event",
                    )
                    .within(&field),
                ));
            }
            let id = robot_id("robot_id", &id, &self.home).map_err(|e| status(e.within(&field)))?;
            let kind = recordable_kind("type", r#type).map_err(|e| status(e.within(&field)))?;
            draft.robots.push(id.as_str().to_owned());
            if let Err(error) = authz::require_event(&caller, kind, &self.home, &id) {
                let error = error.with_metadata("robot_id", id.as_str());
                return Err(self.refuse(draft, status(error)).await);
            }
            let occurred_at = occur_time
                .as_ref()
                .map(|time| reported_time("occur_time", time, self.max_clock_skew))
                .transpose()
                .map_err(|e| status(e.within(&field)))?;
            // A batch presents no holder: `current_holder` applies to no
            // border event, and event_draft refuses it for them.
            let (event, _) = self
                .event_draft(&actor, kind, details, occurred_at)
                .map_err(|e| status(e.within(&field)))?;
            drafts.push((id, event));
        }
        let robots: Vec<RobotId> = drafts.iter().map(|(id, _)| id.clone()).collect();
        match self
            .store
            .record_events(&key, &caller, drafts, draft.clone())
            .await
        {
            Ok(events) => Ok(Response::new(pb::RecordEventsResponse {
                events: events
                    .iter()
                    .map(|event| event_to_wire(event, Tier::Authority))
                    .collect(),
            })),
            Err((place, error)) => {
                let mut error = write_error(error);
                if let Some(i) = place {
                    error = error
                        .within(&format!("events[{i}]"))
                        .with_metadata("robot_id", robots[i].as_str());
                }
                Err(self.refuse(draft, status(error)).await)
            }
        }
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let caller = Caller::of(&request);
        let pb::ListEventsRequest {
            robot_id: id,
            page_size,
            page_token,
        } = request.into_inner();
        let id = robot_id("robot_id", &id, &self.home).map_err(status)?;
        let size = PageLimits::STANDARD.size(page_size).map_err(status)?;
        let draft = access(&caller, "ListEvents", Some(&id));
        if let Err(error) = authz::require_robot_scope(&caller, &self.home, &id) {
            return Err(self.refuse(draft, status(error)).await);
        }
        let scope = format!("robots/{id}/events");
        let after = match decode_token(&scope, &page_token).map_err(status)? {
            None => 0,
            Some(key) => key.parse::<u64>().map_err(|_| {
                status(ApiError::invalid_argument(
                    "page_token",
                    "not a page token of this list",
                ))
            })?,
        };
        let Some(robot) = self.store.robot(&id).await.map_err(status)? else {
            return Err(write_status(WriteError::RobotNotFound(id)));
        };
        let tier = authz::tier(&caller, &self.home, robot.standing.holder.as_ref());
        self.log_read(draft).await?;
        // One more than asked tells whether another page follows.
        let mut events = self
            .store
            .events(&id, after, size + 1)
            .await
            .map_err(status)?;
        let next_page_token = if events.len() > size as usize {
            events.truncate(size as usize);
            let last = events.last().map(|e| e.sequence).unwrap_or(after);
            encode_token(&scope, &last.to_string())
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListEventsResponse {
            events: events
                .iter()
                .map(|event| event_to_wire(event, tier))
                .collect(),
            next_page_token,
            tier: tier_to_wire(tier).into(),
        }))
    }

    async fn verify_history(
        &self,
        request: Request<pb::VerifyHistoryRequest>,
    ) -> Result<Response<pb::VerifyHistoryResponse>, Status> {
        let caller = Caller::of(&request);
        let pb::VerifyHistoryRequest { robot_id: id } = request.into_inner();
        let id = robot_id("robot_id", &id, &self.home).map_err(status)?;
        let draft = access(&caller, "VerifyHistory", Some(&id));
        if let Err(error) = authz::require_robot_scope(&caller, &self.home, &id) {
            return Err(self.refuse(draft, status(error)).await);
        }
        self.log_read(draft).await?;
        let verdict = self
            .store
            .verify(&id)
            .await
            .map_err(status)?
            .ok_or_else(|| write_status(WriteError::RobotNotFound(id)))?;
        let response = match verdict {
            ChainVerdict::Intact { event_count, head } => pb::VerifyHistoryResponse {
                intact: true,
                event_count: event_count as i64,
                head_hash: head.to_hex(),
                first_broken_sequence: 0,
                problem: String::new(),
                problem_kind: pb::HistoryProblem::Unspecified.into(),
            },
            ChainVerdict::Broken {
                sequence,
                kind,
                problem,
            } => pb::VerifyHistoryResponse {
                intact: false,
                event_count: 0,
                head_hash: String::new(),
                first_broken_sequence: sequence as i64,
                problem,
                problem_kind: history_problem_to_wire(kind).into(),
            },
        };
        Ok(Response::new(response))
    }

    async fn create_recall(
        &self,
        request: Request<pb::CreateRecallRequest>,
    ) -> Result<Response<pb::Recall>, Status> {
        let caller = Caller::of(&request);
        let message = request.into_inner();
        let key = RequestKey::new(
            &caller,
            "CreateRecall",
            &message.request_id,
            &without_request_id(&message, |m| m.request_id.clear()),
        )
        .map_err(status)?;
        let pb::CreateRecallRequest {
            request_id: _,
            manufacturer_code,
            model_code,
            robot_ids,
            reason,
            country_code,
        } = message;
        let country = if country_code.is_empty() {
            self.home.clone()
        } else {
            CountryCode::parse(&country_code)
                .map_err(|e| status(ApiError::invalid_argument("country_code", e)))?
        };
        let manufacturer = ManufacturerCode::parse(&manufacturer_code)
            .map_err(|e| status(ApiError::invalid_argument("manufacturer_code", e)))?;
        let draft = access(
            &caller,
            format!("CreateRecall({country}{manufacturer_code}/{model_code})"),
            None,
        );
        if let Err(error) =
            authz::require_model_scope(&caller, &self.home, &country, manufacturer.as_str())
        {
            return Err(self.refuse(draft, status(error)).await);
        }
        let model = ModelCode::parse(&model_code)
            .map_err(|e| status(ApiError::invalid_argument("model_code", e)))?;
        identifier("reason", &reason, MAX_RECALL_REASON).map_err(status)?;
        if robot_ids.len() > MAX_RECALL_ROBOTS {
            return Err(status(ApiError::invalid_argument(
                "robot_ids",
                format!("at most {MAX_RECALL_ROBOTS}; leave empty to recall the whole model"),
            )));
        }
        let mut listed = Vec::with_capacity(robot_ids.len());
        let mut seen = std::collections::HashSet::with_capacity(robot_ids.len());
        for (i, value) in robot_ids.iter().enumerate() {
            let field = format!("robot_ids[{i}]");
            let id = robot_id(&field, value, &self.home).map_err(status)?;
            if id.country() != country || id.manufacturer() != manufacturer || id.model() != model {
                return Err(status(ApiError::invalid_argument(
                    field,
                    "not a robot of the recalled model",
                )));
            }
            // A robot listed twice is recalled once.
            if seen.insert(id.clone()) {
                listed.push(id);
            }
        }
        let recall = RecallDraft {
            country,
            manufacturer,
            model,
            robot_ids: listed,
            reason,
        };
        let recall = match self.store.create_recall(&key, recall, draft.clone()).await {
            Ok(recall) => recall,
            Err(error) => return Err(self.refuse(draft, write_status(error)).await),
        };
        Ok(Response::new(recall_to_wire(&recall)))
    }

    async fn list_recalls(
        &self,
        request: Request<pb::ListRecallsRequest>,
    ) -> Result<Response<pb::ListRecallsResponse>, Status> {
        let caller = Caller::of(&request);
        let pb::ListRecallsRequest {
            page_size,
            page_token,
            country_code,
            manufacturer_code,
            model_code,
        } = request.into_inner();
        let size = PageLimits::STANDARD.size(page_size).map_err(status)?;
        let mut filter = RecallFilter {
            country: non_empty_code("country_code", &country_code, CountryCode::parse)
                .map_err(status)?,
            manufacturer: non_empty_code(
                "manufacturer_code",
                &manufacturer_code,
                ManufacturerCode::parse,
            )
            .map_err(status)?,
            model: non_empty_code("model_code", &model_code, ModelCode::parse).map_err(status)?,
        };
        if filter.model.is_some() && filter.manufacturer.is_none() {
            return Err(status(ApiError::invalid_argument(
                "model_code",
                "a model is named within its manufacturer: give manufacturer_code too",
            )));
        }
        // A manufacturer lists its own recalls: of its code, in its country.
        if caller.role == robotid_platform::identity::Role::Manufacturer {
            let own = ManufacturerCode::parse(&caller.organization)
                .map_err(|_| status(authz::denied(&caller, "list recalls")))?;
            let country = filter
                .country
                .get_or_insert_with(|| self.home.clone())
                .clone();
            let manufacturer = filter.manufacturer.get_or_insert(own).clone();
            authz::require_model_scope(&caller, &self.home, &country, manufacturer.as_str())
                .map_err(status)?;
        }
        let scope = format!(
            "recalls/{}/{}/{}",
            country_code, manufacturer_code, model_code
        );
        let before = page_before(&scope, &page_token).map_err(status)?;
        let mut rows = self
            .store
            .recalls(&filter, before, size + 1)
            .await
            .map_err(status)?;
        let next_page_token = next_page_before(&scope, &mut rows, size);
        Ok(Response::new(pb::ListRecallsResponse {
            recalls: rows
                .iter()
                .map(|(_, recall)| recall_to_wire(recall))
                .collect(),
            next_page_token,
        }))
    }

    async fn get_recall(
        &self,
        request: Request<pb::GetRecallRequest>,
    ) -> Result<Response<pb::Recall>, Status> {
        let caller = Caller::of(&request);
        let pb::GetRecallRequest { name } = request.into_inner();
        let id = recall_id(&name).ok_or_else(|| {
            status(ApiError::invalid_argument(
                "name",
                "a recall name, `recalls/{id}`",
            ))
        })?;
        let not_found = || status(ApiError::not_found("RECALL_NOT_FOUND", &name));
        let recall = self
            .store
            .recall(id)
            .await
            .map_err(status)?
            .ok_or_else(not_found)?;
        authz::require_model_scope(
            &caller,
            &self.home,
            &recall.country,
            recall.manufacturer.as_str(),
        )
        .map_err(status)?;
        Ok(Response::new(recall_to_wire(&recall)))
    }

    async fn check_eligibility(
        &self,
        request: Request<pb::CheckEligibilityRequest>,
    ) -> Result<Response<pb::CheckEligibilityResponse>, Status> {
        let caller = Caller::of(&request);
        let pb::CheckEligibilityRequest {
            robot_ids,
            intended_event,
            verify_history,
        } = request.into_inner();
        if robot_ids.is_empty() || robot_ids.len() > MAX_ELIGIBILITY {
            return Err(status(ApiError::invalid_argument(
                "robot_ids",
                format!("1 to {MAX_ELIGIBILITY} robots per call"),
            )));
        }
        let intended = event_kind_from_wire("intended_event", intended_event).map_err(status)?;
        let ids = robot_ids
            .iter()
            .enumerate()
            .map(|(i, value)| robot_id(&format!("robot_ids[{i}]"), value, &self.home))
            .collect::<Result<Vec<_>, _>>()
            .map_err(status)?;
        robotid_platform::rpc_telemetry::record_robot_count(ids.len());
        self.log_read(access(
            &caller,
            format!("CheckEligibility({})", ids.len()),
            None,
        ))
        .await?;
        let robots = self.store.robots(&ids).await.map_err(status)?;
        let chains = if verify_history {
            Some(self.store.verify_many(&robots).await.map_err(status)?)
        } else {
            None
        };
        let verdicts = ids
            .iter()
            .map(|id| {
                let Some(index) = robots.iter().position(|robot| robot.robot_id == *id) else {
                    return pb::EligibilityVerdict {
                        robot_id: id.as_str().to_owned(),
                        eligible: false,
                        reason: "ROBOT_NOT_FOUND".into(),
                        ..pb::EligibilityVerdict::default()
                    };
                };
                let robot = &robots[index];
                let broken = chains
                    .as_ref()
                    .is_some_and(|chains| matches!(chains[index], ChainVerdict::Broken { .. }));
                // A broken history first: the robot's record is then not to
                // be believed, whatever it says.
                let state = robot.standing.state;
                let reason = match state.apply(intended) {
                    _ if broken => "HISTORY_BROKEN",
                    Err(refusal) => refusal.reason(),
                    Ok(_) => "",
                };
                pb::EligibilityVerdict {
                    robot_id: id.as_str().to_owned(),
                    eligible: reason.is_empty(),
                    reason: reason.to_owned(),
                    status: status_to_wire(state.status).into(),
                    jurisdiction: jurisdiction_to_wire(state.jurisdiction).into(),
                    manufacturer_name: robot.manufacturer_name.clone(),
                    model_name: robot.model_name.clone(),
                    production: Some(production_to_wire(&robot.production)),
                }
            })
            .collect();
        Ok(Response::new(pb::CheckEligibilityResponse { verdicts }))
    }

    async fn list_access_log(
        &self,
        request: Request<pb::ListAccessLogRequest>,
    ) -> Result<Response<pb::ListAccessLogResponse>, Status> {
        let caller = Caller::of(&request);
        let pb::ListAccessLogRequest {
            page_size,
            page_token,
            robot_id: filter,
        } = request.into_inner();
        let size = PageLimits::STANDARD.size(page_size).map_err(status)?;
        let filter = if filter.is_empty() {
            None
        } else {
            Some(robot_id("robot_id", &filter, &self.home).map_err(status)?)
        };
        let scope = format!(
            "accessLog/{}",
            filter.as_ref().map(RobotId::as_str).unwrap_or("-")
        );
        let before = page_before(&scope, &page_token).map_err(status)?;
        self.log_read(access(&caller, "ListAccessLog", filter.as_ref()))
            .await?;
        let pool = &self.store.database().pool;
        let mut rows =
            access_log::list(pool, filter.as_ref().map(RobotId::as_str), before, size + 1)
                .await
                .map_err(status)?;
        let next_page_token = next_page_before(&scope, &mut rows, size);
        let entries = rows
            .into_iter()
            .map(|(_, entry)| pb::AccessLogEntry {
                shard: entry.shard as i32,
                sequence: entry.sequence as i64,
                access_time: Some(robotid_platform::wire::timestamp_to_wire(entry.at)),
                caller: entry.caller,
                action: entry.action,
                robot_id: entry.robot_id.unwrap_or_default(),
                outcome: entry.outcome,
                previous_hash: entry.previous_hash.to_hex(),
                hash: entry.hash.to_hex(),
                robot_count: entry.batch.map_or(0, |batch| batch.count as i64),
            })
            .collect();
        Ok(Response::new(pb::ListAccessLogResponse {
            entries,
            next_page_token,
        }))
    }

    async fn verify_access_log(
        &self,
        _request: Request<pb::VerifyAccessLogRequest>,
    ) -> Result<Response<pb::VerifyAccessLogResponse>, Status> {
        let mut verdict = access_log::verify(&self.store.database().pool)
            .await
            .map_err(status)?;
        // Intact chains may still be truncated ones: compare the heads with
        // the newest anchor in the transparency log.
        if let (LogVerdict::Intact { .. }, Some(log)) = (&verdict, self.store.log()) {
            let mut connection = log.pool().acquire().await.map_err(|e| status(e.into()))?;
            if let Some(found) = crate::log::verify::access_log(&mut connection)
                .await
                .map_err(|e| status(e.into()))?
            {
                verdict = LogVerdict::Broken {
                    shard: found.shard,
                    sequence: found.sequence,
                    problem: found.problem,
                };
            }
        }
        Ok(Response::new(match verdict {
            LogVerdict::Intact { entries } => pb::VerifyAccessLogResponse {
                intact: true,
                entry_count: entries as i64,
                ..Default::default()
            },
            LogVerdict::Broken {
                shard,
                sequence,
                problem,
            } => pb::VerifyAccessLogResponse {
                intact: false,
                entry_count: 0,
                broken_shard: shard as i32,
                broken_sequence: sequence as i64,
                problem,
            },
        }))
    }

    async fn get_checkpoint(
        &self,
        _request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::Checkpoint>, Status> {
        let signed = self.latest_checkpoint().await?;
        let checkpoint = signed.checkpoint();
        Ok(Response::new(pb::Checkpoint {
            signed_note: signed.to_string(),
            origin: checkpoint.origin().to_owned(),
            tree_size: checkpoint.size(),
            root_hash: checkpoint.root().to_vec(),
        }))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::InclusionProof>, Status> {
        let pb::GetInclusionProofRequest {
            log_index,
            tree_size,
        } = request.into_inner();
        let latest = self.latest_checkpoint().await?;
        let size = tree_size_at_most(tree_size, latest.checkpoint().size(), "tree_size")?;
        if log_index >= size {
            return Err(status(ApiError::invalid_argument(
                "log_index",
                format!("{log_index} is not below the tree size {size}"),
            )));
        }
        let log = self.transparency_log()?;
        let (hashes, entry) = log.inclusion_proof(log_index, size).await.map_err(status)?;
        let checkpoint = self.checkpoint_of_size(size, latest).await?;
        Ok(Response::new(pb::InclusionProof {
            log_index,
            tree_size: size,
            hashes: hashes.iter().map(|hash| hash.to_vec()).collect(),
            entry,
            checkpoint,
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::ConsistencyProof>, Status> {
        let pb::GetConsistencyProofRequest {
            first_tree_size,
            second_tree_size,
        } = request.into_inner();
        let latest = self.latest_checkpoint().await?;
        let second = tree_size_at_most(
            second_tree_size,
            latest.checkpoint().size(),
            "second_tree_size",
        )?;
        if first_tree_size > second {
            return Err(status(ApiError::invalid_argument(
                "first_tree_size",
                format!("{first_tree_size} is above the second tree size {second}"),
            )));
        }
        let log = self.transparency_log()?;
        let hashes = log
            .consistency_proof(first_tree_size, second)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ConsistencyProof {
            first_tree_size,
            second_tree_size: second,
            hashes: hashes.iter().map(|hash| hash.to_vec()).collect(),
        }))
    }

    async fn get_proof_bundle(
        &self,
        request: Request<pb::GetProofBundleRequest>,
    ) -> Result<Response<pb::ProofBundle>, Status> {
        let pb::GetProofBundleRequest { robot_id: id } = request.into_inner();
        let id = robot_id("robot_id", &id, &self.home).map_err(status)?;
        let robot = self
            .store
            .robot(&id)
            .await
            .map_err(status)?
            .ok_or_else(|| write_status(WriteError::RobotNotFound(id)))?;
        let bundle = crate::web::proof::bundle_of(&self.store, &robot, None)
            .await
            .map_err(status)?;
        Ok(Response::new(bundle))
    }

    async fn put_peer(
        &self,
        request: Request<pb::PutPeerRequest>,
    ) -> Result<Response<pb::Peer>, Status> {
        let caller = Caller::of(&request);
        let pb::PutPeerRequest { peer } = request.into_inner();
        let peer = peer.ok_or_else(|| status(ApiError::invalid_argument("peer", "required")))?;
        let peer =
            crate::convert::peer_from_wire(peer, &self.home, &caller.to_string(), Timestamp::now())
                .map_err(status)?;
        let mut connection = self.connection().await?;
        crate::witness::store::put_peer(&mut connection, &peer)
            .await
            .map_err(|e| status(e.into()))?;
        Ok(Response::new(crate::convert::peer_to_wire(&peer)))
    }

    async fn list_peers(
        &self,
        _request: Request<pb::ListPeersRequest>,
    ) -> Result<Response<pb::ListPeersResponse>, Status> {
        let mut connection = self.connection().await?;
        let peers = crate::witness::store::peers(&mut connection)
            .await
            .map_err(|e| status(e.into()))?;
        Ok(Response::new(pb::ListPeersResponse {
            peers: peers.iter().map(crate::convert::peer_to_wire).collect(),
        }))
    }

    async fn list_fork_evidence(
        &self,
        _request: Request<pb::ListForkEvidenceRequest>,
    ) -> Result<Response<pb::ListForkEvidenceResponse>, Status> {
        let mut connection = self.connection().await?;
        let forks = crate::witness::store::forks(&mut connection)
            .await
            .map_err(|e| status(e.into()))?;
        Ok(Response::new(pb::ListForkEvidenceResponse {
            evidence: forks
                .into_iter()
                .map(
                    |(origin, kind, cosigned_size, cosigned_root, request, received_at)| {
                        pb::ForkEvidence {
                            origin,
                            kind,
                            cosigned_size,
                            cosigned_root,
                            request: String::from_utf8_lossy(&request).into_owned(),
                            receive_time: Some(robotid_platform::wire::timestamp_to_wire(
                                Timestamp::from_micros(received_at),
                            )),
                        }
                    },
                )
                .collect(),
        }))
    }

    async fn deliver_hold(
        &self,
        request: Request<pb::DeliverHoldRequest>,
    ) -> Result<Response<pb::DeliverHoldResponse>, Status> {
        let caller = Caller::of(&request);
        let message = request.into_inner();
        // A retry may carry a newer checkpoint: the proof is not part of
        // what the hold id stands for.
        let fingerprint = pb::DeliverHoldRequest {
            proof: String::new(),
            ..message.clone()
        };
        let key = RequestKey::new(&caller, "DeliverHold", &message.hold_id, &fingerprint)
            .map_err(status)?;
        let hold = crate::convert::hold_from_wire(message, &self.home).map_err(status)?;
        let draft = access(
            &caller,
            format!("DeliverHold({})", hold.kind),
            Some(&hold.robot_id),
        );
        // The access layer admitted a registry; only an active peer's
        // holds are recorded, each proven by its log.
        let mut connection = self.connection().await?;
        let peer = crate::witness::store::peers(&mut connection)
            .await
            .map_err(|e| status(e.into()))?
            .into_iter()
            .find(|peer| peer.active && peer.country == caller.organization);
        drop(connection);
        let Some(peer) = peer else {
            let refusal = ApiError::new(
                tonic::Code::PermissionDenied,
                "NOT_A_PEER",
                format!("{caller} is not the registry of an active peer on the trust list"),
            );
            return Err(self.refuse(draft, status(refusal)).await);
        };
        if let Err(error) = crate::holds::verify(&hold, &peer) {
            return Err(self.refuse(draft, status(error)).await);
        }
        match self
            .store
            .apply_peer_hold(&key, &caller, &self.home, hold, draft.clone())
            .await
        {
            Ok(event) => Ok(Response::new(pb::DeliverHoldResponse {
                event: format!("robots/{}/events/{}", event.robot_id, event.sequence),
            })),
            Err(error) => Err(self.refuse(draft, write_status(error)).await),
        }
    }

    async fn list_clone_alarms(
        &self,
        _request: Request<pb::ListCloneAlarmsRequest>,
    ) -> Result<Response<pb::ListCloneAlarmsResponse>, Status> {
        let mut connection = self.connection().await?;
        let alarms = crate::holds::clones::alarms(&mut connection)
            .await
            .map_err(|e| status(e.into()))?;
        Ok(Response::new(pb::ListCloneAlarmsResponse {
            alarms: alarms
                .into_iter()
                .map(|alarm| pb::CloneAlarm {
                    robot_id: alarm.robot_id,
                    peer_country: alarm.peer,
                    hold_id: alarm.hold_id,
                    raised_by: alarm.raised_by,
                    reason: alarm.reason,
                    detect_time: Some(robotid_platform::wire::timestamp_to_wire(
                        Timestamp::from_micros(alarm.detected_at),
                    )),
                })
                .collect(),
        }))
    }
}

impl RegistryApi {
    /// A connection of the registry's pool, for the witness's tables.
    async fn connection(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, Status> {
        self.store
            .database()
            .pool
            .acquire()
            .await
            .map_err(|e| status(e.into()))
    }

    pub(crate) fn transparency_log(&self) -> Result<&crate::log::TransparencyLog, Status> {
        self.store.log().ok_or_else(|| {
            status(ApiError::failed_precondition(
                "NO_TRANSPARENCY_LOG",
                "this registry runs without a transparency log (--log-key-file unset)",
            ))
        })
    }

    async fn latest_checkpoint(&self) -> Result<robotid_tlog::SignedCheckpoint, Status> {
        self.transparency_log()?
            .checkpoint()
            .await
            .map_err(status)?
            .ok_or_else(|| {
                status(ApiError::unavailable(
                    "NO_CHECKPOINT_YET",
                    "the log has not signed its first checkpoint; retry in a second",
                ))
            })
    }

    /// The signed checkpoint of `size`: the newest, or the one kept.
    async fn checkpoint_of_size(
        &self,
        size: u64,
        latest: robotid_tlog::SignedCheckpoint,
    ) -> Result<String, Status> {
        if latest.checkpoint().size() == size {
            return Ok(latest.to_string());
        }
        let log = self.transparency_log()?;
        let note = log.checkpoint_note(size).await.map_err(status)?;
        Ok(note.unwrap_or_default())
    }
}

/// `requested`, or the newest checkpoint's size for 0; never beyond it.
fn tree_size_at_most(requested: u64, latest: u64, field: &str) -> Result<u64, Status> {
    match requested {
        0 => Ok(latest),
        size if size <= latest => Ok(size),
        size => Err(status(
            ApiError::new(
                tonic::Code::OutOfRange,
                "BEYOND_CHECKPOINT",
                format!("{field} {size} is beyond the newest checkpoint's size {latest}"),
            )
            .with_field_violation(field, "beyond the newest checkpoint"),
        )),
    }
}

/// An optional code field: empty is absent, anything else must parse.
fn non_empty_code<T, E: std::fmt::Display>(
    field: &str,
    value: &str,
    parse: fn(&str) -> Result<T, E>,
) -> Result<Option<T>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    parse(value)
        .map(Some)
        .map_err(|e| ApiError::invalid_argument(field, e))
}

/// Where a page of a list ordered by descending id starts: below the id a
/// token names, or at the top.
fn page_before(scope: &str, page_token: &str) -> Result<i64, ApiError> {
    match decode_token(scope, page_token)? {
        None => Ok(i64::MAX),
        Some(key) => key
            .parse::<i64>()
            .map_err(|_| ApiError::invalid_argument("page_token", "not a page token of this list")),
    }
}

/// Cuts `rows` (one more than `size` were asked for) to the page, and the
/// token of the next page: empty when this one is the last.
fn next_page_before<T>(scope: &str, rows: &mut Vec<(i64, T)>, size: u32) -> String {
    if rows.len() <= size as usize {
        return String::new();
    }
    rows.truncate(size as usize);
    rows.last()
        .map(|(id, _)| encode_token(scope, &id.to_string()))
        .unwrap_or_default()
}
