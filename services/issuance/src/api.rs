//! The gRPC handlers: convert the request, call the store, convert the
//! answer, map errors. Nothing else.

use std::sync::Arc;

use robotid_domain::catalog::{MAX_BATCH, admissible_manufacturer, admissible_model};
use robotid_domain::code::{ManufacturerCode, ModelCode};
use robotid_domain::time::Timestamp;
use robotid_platform::authz::require_manufacturer_scope;
use robotid_platform::error::ApiError;
use robotid_platform::idempotency::RequestKey;
use robotid_platform::identity::Caller;
use robotid_platform::pagination::{PageLimits, decode_token, encode_token};
use robotid_platform::rpc_telemetry;
use robotid_platform::wire::{production_from_request, timestamp_to_wire};
use robotid_proto::issuance::v1 as pb;
use robotid_proto::issuance::v1::issuance_service_server::IssuanceService;
use tokio::sync::Notify;
use tonic::{Code, Request, Response, Status};

use crate::convert::{
    approval_filter_from_wire, invalid, issued_to_wire, manufacturer_from_wire,
    manufacturer_to_wire, model_from_wire, model_to_wire, parse_manufacturer_name,
    parse_model_name,
};
use crate::issuer::Issuer;
use crate::store::{IssuanceStore, IssueDraft, ModelFilter, WriteError};

/// `ErrorInfo.domain` of every error this service answers.
pub const ERROR_DOMAIN: &str = "issuance.robotid";

pub struct IssuanceApi {
    store: IssuanceStore,
    issuer: Arc<Issuer>,
    /// Wakes the outbox relay after each issuance.
    relay: Arc<Notify>,
    /// How far ahead of this clock a reported time may be.
    max_clock_skew: std::time::Duration,
}

impl IssuanceApi {
    pub fn new(store: IssuanceStore, issuer: Arc<Issuer>, relay: Arc<Notify>) -> Self {
        Self {
            store,
            issuer,
            relay,
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
    status(match error {
        WriteError::ManufacturerNotFound(code) => {
            ApiError::not_found("MANUFACTURER_NOT_FOUND", format!("manufacturers/{code}"))
        }
        WriteError::ManufacturerExists(code) => ApiError::already_exists(
            "MANUFACTURER_ALREADY_EXISTS",
            format!("manufacturers/{code}"),
        ),
        WriteError::ModelNotFound(name) => ApiError::not_found("PRODUCT_MODEL_NOT_FOUND", name),
        WriteError::ModelExists(name) => {
            ApiError::already_exists("PRODUCT_MODEL_ALREADY_EXISTS", name)
        }
        WriteError::NotApproved(name) => ApiError::failed_precondition(
            "PRODUCT_MODEL_NOT_APPROVED",
            format!("{name} is not approved: no code, no market access"),
        )
        .with_metadata("product_model", name),
        WriteError::Exhausted(name) => ApiError::new(
            Code::ResourceExhausted,
            "SERIALS_EXHAUSTED",
            format!("{name} has no serials left"),
        )
        .with_metadata("product_model", name),
        WriteError::Api(error) => error,
    })
}

/// The request with its `request_id` cleared, for the fingerprint.
fn without_request_id<T: Clone>(message: &T, clear: impl FnOnce(&mut T)) -> T {
    let mut copy = message.clone();
    clear(&mut copy);
    copy
}

/// Page after `after`, one more than asked to tell whether another follows.
fn next_page<T>(
    mut items: Vec<T>,
    size: u32,
    scope: &str,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, String) {
    if items.len() > size as usize {
        items.truncate(size as usize);
        let token = items
            .last()
            .map(|last| encode_token(scope, &key(last)))
            .unwrap_or_default();
        (items, token)
    } else {
        (items, String::new())
    }
}

fn not_a_token() -> ApiError {
    ApiError::invalid_argument("page_token", "not a page token of this list")
}

#[tonic::async_trait]
impl IssuanceService for IssuanceApi {
    async fn create_manufacturer(
        &self,
        request: Request<pb::CreateManufacturerRequest>,
    ) -> Result<Response<pb::Manufacturer>, Status> {
        let caller = Caller::of(&request);
        let message = request.into_inner();
        let key = RequestKey::new(
            &caller,
            "CreateManufacturer",
            &message.request_id,
            &without_request_id(&message, |m| m.request_id.clear()),
        )
        .map_err(status)?;
        let pb::CreateManufacturerRequest {
            request_id: _,
            manufacturer,
        } = message;
        let manufacturer =
            manufacturer_from_wire(manufacturer, Timestamp::now()).map_err(status)?;
        admissible_manufacturer(self.issuer.country(), &manufacturer.code)
            .map_err(|e| status(invalid("manufacturer", e)))?;
        let created = self
            .store
            .create_manufacturer(&key, manufacturer)
            .await
            .map_err(write_status)?;
        Ok(Response::new(manufacturer_to_wire(&created)))
    }

    async fn get_manufacturer(
        &self,
        request: Request<pb::GetManufacturerRequest>,
    ) -> Result<Response<pb::Manufacturer>, Status> {
        let pb::GetManufacturerRequest { name } = request.into_inner();
        let code = parse_manufacturer_name("name", &name).map_err(status)?;
        let manufacturer = self
            .store
            .manufacturer(&code)
            .await
            .map_err(status)?
            .ok_or_else(|| write_status(WriteError::ManufacturerNotFound(code)))?;
        Ok(Response::new(manufacturer_to_wire(&manufacturer)))
    }

    async fn list_manufacturers(
        &self,
        request: Request<pb::ListManufacturersRequest>,
    ) -> Result<Response<pb::ListManufacturersResponse>, Status> {
        let pb::ListManufacturersRequest {
            page_size,
            page_token,
        } = request.into_inner();
        let size = PageLimits::STANDARD.size(page_size).map_err(status)?;
        const SCOPE: &str = "manufacturers";
        let after = decode_token(SCOPE, &page_token)
            .map_err(status)?
            .unwrap_or_default();
        let manufacturers = self
            .store
            .manufacturers(&after, size + 1)
            .await
            .map_err(status)?;
        let (manufacturers, next_page_token) =
            next_page(manufacturers, size, SCOPE, |m| m.code.as_str().to_owned());
        Ok(Response::new(pb::ListManufacturersResponse {
            manufacturers: manufacturers.iter().map(manufacturer_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn create_product_model(
        &self,
        request: Request<pb::CreateProductModelRequest>,
    ) -> Result<Response<pb::ProductModel>, Status> {
        let caller = Caller::of(&request);
        let message = request.into_inner();
        let key = RequestKey::new(
            &caller,
            "CreateProductModel",
            &message.request_id,
            &without_request_id(&message, |m| m.request_id.clear()),
        )
        .map_err(status)?;
        let pb::CreateProductModelRequest {
            request_id: _,
            parent,
            product_model,
        } = message;
        let parent = parse_manufacturer_name("parent", &parent).map_err(status)?;
        // The access layer admitted the role; a manufacturer declares only
        // its own models.
        require_manufacturer_scope(&caller, parent.as_str()).map_err(status)?;
        let model = model_from_wire(&parent, product_model, Timestamp::now()).map_err(status)?;
        admissible_model(self.issuer.country(), &model.manufacturer, &model.model)
            .map_err(|e| status(invalid("product_model", e)))?;
        let created = self
            .store
            .create_model(&key, model)
            .await
            .map_err(write_status)?;
        Ok(Response::new(model_to_wire(&created)))
    }

    async fn approve_product_model(
        &self,
        request: Request<pb::ApproveProductModelRequest>,
    ) -> Result<Response<pb::ProductModel>, Status> {
        let caller = Caller::of(&request);
        let message = request.into_inner();
        let key = RequestKey::new(
            &caller,
            "ApproveProductModel",
            &message.request_id,
            &without_request_id(&message, |m| m.request_id.clear()),
        )
        .map_err(status)?;
        let pb::ApproveProductModelRequest {
            request_id: _,
            name,
        } = message;
        let (manufacturer, model) = parse_model_name("name", &name).map_err(status)?;
        let approved = self
            .store
            .approve_model(&key, &manufacturer, &model)
            .await
            .map_err(write_status)?;
        Ok(Response::new(model_to_wire(&approved)))
    }

    async fn get_product_model(
        &self,
        request: Request<pb::GetProductModelRequest>,
    ) -> Result<Response<pb::ProductModel>, Status> {
        let pb::GetProductModelRequest { name } = request.into_inner();
        let (manufacturer, model) = parse_model_name("name", &name).map_err(status)?;
        let found = self
            .store
            .model(&manufacturer, &model)
            .await
            .map_err(status)?
            .ok_or_else(|| write_status(WriteError::ModelNotFound(name)))?;
        Ok(Response::new(model_to_wire(&found)))
    }

    async fn list_product_models(
        &self,
        request: Request<pb::ListProductModelsRequest>,
    ) -> Result<Response<pb::ListProductModelsResponse>, Status> {
        let pb::ListProductModelsRequest {
            parent,
            page_size,
            page_token,
            approval_state,
        } = request.into_inner();
        let manufacturer = if parent == "manufacturers/-" {
            None
        } else {
            Some(parse_manufacturer_name("parent", &parent).map_err(|_| {
                status(ApiError::invalid_argument(
                    "parent",
                    "`manufacturers/{code}`, or `manufacturers/-` for every manufacturer",
                ))
            })?)
        };
        let approval =
            approval_filter_from_wire("approval_state", approval_state).map_err(status)?;
        let size = PageLimits::STANDARD.size(page_size).map_err(status)?;
        // The token is bound to the parent and the filter it was made for.
        let scope = format!(
            "{parent}/productModels?approval={}",
            approval.map_or("", |a| a.as_str())
        );
        let after = match decode_token(&scope, &page_token).map_err(status)? {
            None => None,
            Some(key) => {
                let (m, p) = key.split_once('/').ok_or_else(|| status(not_a_token()))?;
                Some((
                    ManufacturerCode::parse(m).map_err(|_| status(not_a_token()))?,
                    ModelCode::parse(p).map_err(|_| status(not_a_token()))?,
                ))
            }
        };
        if let Some(code) = &manufacturer
            && self
                .store
                .manufacturer(code)
                .await
                .map_err(status)?
                .is_none()
        {
            return Err(write_status(WriteError::ManufacturerNotFound(code.clone())));
        }
        let filter = ModelFilter {
            manufacturer,
            approval,
        };
        let models = self
            .store
            .models(&filter, after, size + 1)
            .await
            .map_err(status)?;
        let (models, next_page_token) = next_page(models, size, &scope, |m| {
            format!("{}/{}", m.manufacturer, m.model)
        });
        Ok(Response::new(pb::ListProductModelsResponse {
            product_models: models.iter().map(model_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn issue_robot_ids(
        &self,
        request: Request<pb::IssueRobotIdsRequest>,
    ) -> Result<Response<pb::IssueRobotIdsResponse>, Status> {
        let caller = Caller::of(&request);
        let message = request.into_inner();
        let key = RequestKey::new(
            &caller,
            "IssueRobotIds",
            &message.request_id,
            &without_request_id(&message, |m| m.request_id.clear()),
        )
        .map_err(status)?;
        let pb::IssueRobotIdsRequest {
            request_id: _,
            product_model,
            count,
            production,
        } = message;
        let (manufacturer, model) =
            parse_model_name("product_model", &product_model).map_err(status)?;
        require_manufacturer_scope(&caller, manufacturer.as_str()).map_err(status)?;
        let count = u32::try_from(count)
            .ok()
            .filter(|count| (1..=MAX_BATCH).contains(count))
            .ok_or_else(|| {
                status(ApiError::invalid_argument(
                    "count",
                    format!("1 to {MAX_BATCH} robots per call"),
                ))
            })?;
        let production = production_from_request("production", production, self.max_clock_skew)
            .map_err(status)?;
        rpc_telemetry::record_robot_count(count as usize);
        let draft = IssueDraft {
            manufacturer,
            model,
            count,
            production,
            actor: caller.to_string(),
            traceparent: rpc_telemetry::current_traceparent(),
        };
        let batch = self
            .store
            .issue(&key, &draft, &self.issuer)
            .await
            .map_err(write_status)?;
        // A replay wakes the relay too: harmless, and it may find rows a
        // crash left behind.
        self.relay.notify_one();
        Ok(Response::new(pb::IssueRobotIdsResponse {
            robots: batch.robots.iter().map(issued_to_wire).collect(),
            issue_time: Some(timestamp_to_wire(batch.issued_at)),
        }))
    }
}
