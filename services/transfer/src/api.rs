//! The gRPC handlers: convert the request, call customs or the store,
//! convert the answer, map errors. Nothing else.

use std::sync::Arc;

use robotid_domain::code::CountryCode;
use robotid_domain::time::Timestamp;
use robotid_domain::transfer::{TransferId, parse_trusted_key_name};
use robotid_platform::authz;
use robotid_platform::error::ApiError;
use robotid_platform::idempotency::RequestKey;
use robotid_platform::identity::Caller;
use robotid_platform::pagination::{PageLimits, decode_token, encode_token};
use robotid_proto::transfer::v1 as pb;
use robotid_proto::transfer::v1::transfer_service_server::TransferService;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use crate::convert::{
    clearance_request_from_wire, state_filter_from_wire, transfer_to_wire, trusted_from_wire,
    trusted_to_wire,
};
use crate::customs::Customs;
use crate::store::{TransferFilter, TransferStore};

/// `ErrorInfo.domain` of every error this service answers.
pub const ERROR_DOMAIN: &str = "transfer.robotid";

/// A transfer of 1,000 robots is some 50 KB on the wire: pages are kept
/// small enough to stay well under the 4 MB message limit.
const TRANSFER_PAGES: PageLimits = PageLimits {
    default: 20,
    max: 50,
};

pub struct TransferApi {
    store: TransferStore,
    customs: Arc<Customs>,
    home: CountryCode,
    /// Told when the trust list changed (see [`crate::peers`]).
    peers_changed: Arc<Notify>,
}

impl TransferApi {
    pub fn new(
        store: TransferStore,
        customs: Arc<Customs>,
        home: CountryCode,
        peers_changed: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            customs,
            home,
            peers_changed,
        }
    }

    /// Customs act for their own country only, and this service clears the
    /// home country's border: customs of another country are refused
    /// whatever they ask. Other roles the RPC table admitted pass.
    fn customs_scope(&self, caller: &Caller) -> Result<(), Status> {
        authz::require_customs_country(caller, self.home.as_str()).map_err(status)
    }
}

/// Which confirmation a customs call gives.
enum Crossing {
    Departure,
    Arrival,
    Withdrawal,
}

impl TransferApi {
    async fn confirm(
        &self,
        caller: &Caller,
        key: &RequestKey,
        name: &str,
        crossing: Crossing,
    ) -> Result<Response<pb::Transfer>, Status> {
        self.customs_scope(caller)?;
        let id = transfer_id(name)?;
        let by = caller.to_string();
        let transfer = match crossing {
            Crossing::Departure => self.customs.depart(key, &id, &by).await,
            Crossing::Arrival => self.customs.arrive(key, &id, &by).await,
            Crossing::Withdrawal => self.customs.withdraw(key, &id, caller).await,
        }
        .map_err(status)?;
        Ok(Response::new(transfer_to_wire(&transfer)))
    }
}

/// The key that makes a retry of `message` by `caller` safe: its
/// `request_id`, and a fingerprint of the rest (`clear` empties the id in
/// a copy).
fn request_key<T: prost::Message + Clone>(
    caller: &Caller,
    method: &'static str,
    message: &T,
    request_id: &str,
    clear: impl FnOnce(&mut T),
) -> Result<RequestKey, Status> {
    let mut copy = message.clone();
    clear(&mut copy);
    RequestKey::new(caller, method, request_id, &copy).map_err(status)
}

fn status(error: ApiError) -> Status {
    error.into_status(ERROR_DOMAIN)
}

fn transfer_id(name: &str) -> Result<TransferId, Status> {
    TransferId::parse_name(name).ok_or_else(|| {
        status(ApiError::invalid_argument(
            "name",
            "a transfer name, transfers/{16 hex digits}",
        ))
    })
}

fn page_key(scope: &str, token: &str) -> Result<Option<String>, Status> {
    decode_token(scope, token).map_err(status)
}

fn bad_token() -> Status {
    status(ApiError::invalid_argument(
        "page_token",
        "not a page token of this list",
    ))
}

#[tonic::async_trait]
impl TransferService for TransferApi {
    async fn request_clearance(
        &self,
        request: Request<pb::RequestClearanceRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let caller = Caller::of(&request);
        self.customs_scope(&caller)?;
        let message = request.into_inner();
        let key = request_key(
            &caller,
            "RequestClearance",
            &message,
            &message.request_id,
            |m| m.request_id.clear(),
        )?;
        let clearance =
            clearance_request_from_wire(message, &self.home, &caller).map_err(status)?;
        // Customs file as their own office only.
        authz::require_customs_office(&caller, &clearance.customs_office).map_err(status)?;
        let transfer = self.customs.clear(&key, clearance).await.map_err(status)?;
        Ok(Response::new(transfer_to_wire(&transfer)))
    }

    async fn get_transfer(
        &self,
        request: Request<pb::GetTransferRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let caller = Caller::of(&request);
        self.customs_scope(&caller)?;
        let pb::GetTransferRequest { name } = request.into_inner();
        let id = transfer_id(&name)?;
        let transfer = self
            .store
            .transfer(&id)
            .await
            .map_err(status)?
            .ok_or_else(|| status(ApiError::not_found("TRANSFER_NOT_FOUND", id.name())))?;
        Ok(Response::new(transfer_to_wire(&transfer)))
    }

    async fn list_transfers(
        &self,
        request: Request<pb::ListTransfersRequest>,
    ) -> Result<Response<pb::ListTransfersResponse>, Status> {
        let caller = Caller::of(&request);
        self.customs_scope(&caller)?;
        let pb::ListTransfersRequest {
            page_size,
            page_token,
            state,
            customs_office,
            country_code,
        } = request.into_inner();
        let size = TRANSFER_PAGES.size(page_size).map_err(status)?;
        let state = state_filter_from_wire(state).map_err(status)?;
        let country = if country_code.is_empty() {
            String::new()
        } else {
            CountryCode::parse(&country_code)
                .map_err(|e| status(ApiError::invalid_argument("country_code", e)))?
                .as_str()
                .to_owned()
        };
        let filter = TransferFilter {
            state,
            customs_office,
            country,
        };
        // A token is valid for the filters it was made under only.
        let scope = format!(
            "transfers?state={}&office={}&country={}",
            filter.state.map(|s| s.as_str()).unwrap_or(""),
            filter.customs_office,
            filter.country
        );
        let before = match page_key(&scope, &page_token)? {
            None => i64::MAX,
            Some(key) => key.parse::<i64>().map_err(|_| bad_token())?,
        };
        // One more than asked tells whether another page follows.
        let mut rows = self
            .store
            .list(&filter, before, size + 1)
            .await
            .map_err(status)?;
        let next_page_token = if rows.len() > size as usize {
            rows.truncate(size as usize);
            rows.last()
                .map(|(seq, _)| encode_token(&scope, &seq.to_string()))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListTransfersResponse {
            transfers: rows.iter().map(|(_, t)| transfer_to_wire(t)).collect(),
            next_page_token,
        }))
    }

    async fn confirm_departure(
        &self,
        request: Request<pb::ConfirmDepartureRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let caller = Caller::of(&request);
        let message = request.into_inner();
        let key = request_key(
            &caller,
            "ConfirmDeparture",
            &message,
            &message.request_id,
            |m| m.request_id.clear(),
        )?;
        let pb::ConfirmDepartureRequest {
            request_id: _,
            name,
        } = message;
        self.confirm(&caller, &key, &name, Crossing::Departure)
            .await
    }

    async fn confirm_arrival(
        &self,
        request: Request<pb::ConfirmArrivalRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let caller = Caller::of(&request);
        let message = request.into_inner();
        let key = request_key(
            &caller,
            "ConfirmArrival",
            &message,
            &message.request_id,
            |m| m.request_id.clear(),
        )?;
        let pb::ConfirmArrivalRequest {
            request_id: _,
            name,
        } = message;
        self.confirm(&caller, &key, &name, Crossing::Arrival).await
    }

    async fn withdraw_clearance(
        &self,
        request: Request<pb::WithdrawClearanceRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let caller = Caller::of(&request);
        let message = request.into_inner();
        let key = request_key(
            &caller,
            "WithdrawClearance",
            &message,
            &message.request_id,
            |m| m.request_id.clear(),
        )?;
        let pb::WithdrawClearanceRequest {
            request_id: _,
            name,
        } = message;
        self.confirm(&caller, &key, &name, Crossing::Withdrawal)
            .await
    }

    async fn add_trusted_registry(
        &self,
        request: Request<pb::AddTrustedRegistryRequest>,
    ) -> Result<Response<pb::TrustedRegistry>, Status> {
        let caller = Caller::of(&request);
        let message = request.into_inner();
        let key = request_key(
            &caller,
            "AddTrustedRegistry",
            &message,
            &message.request_id,
            |m| m.request_id.clear(),
        )?;
        let pb::AddTrustedRegistryRequest {
            request_id: _,
            trusted_registry,
        } = message;
        let trusted = trusted_registry
            .ok_or_else(|| ApiError::invalid_argument("trusted_registry", "required"))
            .and_then(|trusted| trusted_from_wire(trusted, &self.home, Timestamp::now(), &caller))
            .map_err(|e| status(e.within("trusted_registry")))?;
        let name = trusted.name();
        let added = self
            .store
            .add_trusted(&key, trusted)
            .await
            .map_err(status)?
            .ok_or_else(|| status(ApiError::already_exists("TRUSTED_REGISTRY_EXISTS", &name)))?;
        self.peers_changed.notify_one();
        Ok(Response::new(trusted_to_wire(&added)))
    }

    async fn list_trusted_registries(
        &self,
        request: Request<pb::ListTrustedRegistriesRequest>,
    ) -> Result<Response<pb::ListTrustedRegistriesResponse>, Status> {
        let pb::ListTrustedRegistriesRequest {
            page_size,
            page_token,
        } = request.into_inner();
        let size = PageLimits::STANDARD.size(page_size).map_err(status)?;
        const SCOPE: &str = "trustedRegistries";
        let after = match page_key(SCOPE, &page_token)? {
            None => (String::new(), String::new()),
            Some(key) => {
                let (country, kid) = key.split_once('-').ok_or_else(bad_token)?;
                (country.to_owned(), kid.to_owned())
            }
        };
        let mut keys = self
            .store
            .list_trusted((&after.0, &after.1), size + 1)
            .await
            .map_err(status)?;
        let next_page_token = if keys.len() > size as usize {
            keys.truncate(size as usize);
            keys.last()
                .map(|key| encode_token(SCOPE, &format!("{}-{}", key.country, key.kid)))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListTrustedRegistriesResponse {
            trusted_registries: keys.iter().map(trusted_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn revoke_trusted_registry(
        &self,
        request: Request<pb::RevokeTrustedRegistryRequest>,
    ) -> Result<Response<pb::TrustedRegistry>, Status> {
        let caller = Caller::of(&request);
        let message = request.into_inner();
        let key = request_key(
            &caller,
            "RevokeTrustedRegistry",
            &message,
            &message.request_id,
            |m| m.request_id.clear(),
        )?;
        let pb::RevokeTrustedRegistryRequest {
            request_id: _,
            name,
        } = message;
        let (country, kid) = parse_trusted_key_name(&name).ok_or_else(|| {
            status(ApiError::invalid_argument(
                "name",
                "trustedRegistries/{country}-{16 hex digits}",
            ))
        })?;
        let revoked = self
            .store
            .revoke_trusted(&key, &country, &kid, &caller.to_string())
            .await
            .map_err(status)?
            .ok_or_else(|| status(ApiError::not_found("TRUSTED_REGISTRY_NOT_FOUND", &name)))?;
        self.peers_changed.notify_one();
        Ok(Response::new(trusted_to_wire(&revoked)))
    }
}
