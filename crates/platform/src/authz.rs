//! Who may call what: one declarative table for every RPC of every service,
//! and for each event type of `RecordEvent`, plus the scope rules (a
//! manufacturer acts under its own code, customs for its own country).
//!
//! The access layer enforces the RPC table before a request is decoded;
//! handlers enforce what depends on the request's content (event type,
//! view, scope) with the functions below. Tests walk these tables.

use robotid_domain::lifecycle::EventKind;

use crate::error::ApiError;
use crate::identity::{Caller, Role};

/// One kind of caller a rule admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    /// Anyone, identified or not.
    Public,
    Role(Role),
    /// One Robot ID service, by its organisation name (`issuance`, …).
    Service(&'static str),
}

impl Allow {
    pub fn admits(self, caller: &Caller) -> bool {
        match self {
            Allow::Public => true,
            Allow::Role(role) => caller.role == role,
            Allow::Service(name) => caller.role == Role::Service && caller.organization == name,
        }
    }
}

use Allow::{Public, Role as R, Service as S};

/// Every identified role that takes part in a robot's life.
const PARTICIPANTS: &[Allow] = &[
    R(Role::Regulator),
    R(Role::Manufacturer),
    R(Role::Seller),
    R(Role::ServiceProvider),
    R(Role::Operator),
    R(Role::Recycler),
    R(Role::Customs),
    S("issuance"),
    S("registry"),
    S("transfer"),
];

/// The RPC table: full method path and who may call it.
pub const RPCS: &[(&str, &[Allow])] = &[
    // Registry.
    (
        "/robotid.registry.v1.RegistryService/RegisterRobots",
        &[S("issuance"), S("transfer")],
    ),
    // The public card is for anyone; the full view is checked per request.
    ("/robotid.registry.v1.RegistryService/GetRobot", &[Public]),
    (
        "/robotid.registry.v1.RegistryService/RecordEvent",
        &[
            R(Role::Regulator),
            R(Role::Manufacturer),
            R(Role::Seller),
            R(Role::ServiceProvider),
            R(Role::Operator),
            R(Role::Recycler),
            S("transfer"),
        ],
    ),
    // Border events of a whole shipment at once.
    (
        "/robotid.registry.v1.RegistryService/RecordEvents",
        &[S("transfer")],
    ),
    (
        "/robotid.registry.v1.RegistryService/ListEvents",
        PARTICIPANTS,
    ),
    (
        "/robotid.registry.v1.RegistryService/VerifyHistory",
        PARTICIPANTS,
    ),
    (
        "/robotid.registry.v1.RegistryService/CreateRecall",
        &[R(Role::Regulator), R(Role::Manufacturer)],
    ),
    (
        "/robotid.registry.v1.RegistryService/CheckEligibility",
        &[S("transfer"), R(Role::Regulator)],
    ),
    (
        "/robotid.registry.v1.RegistryService/ListAccessLog",
        &[R(Role::Regulator)],
    ),
    (
        "/robotid.registry.v1.RegistryService/VerifyAccessLog",
        &[R(Role::Regulator)],
    ),
    // Issuance.
    (
        "/robotid.issuance.v1.IssuanceService/CreateManufacturer",
        &[R(Role::Regulator)],
    ),
    (
        "/robotid.issuance.v1.IssuanceService/GetManufacturer",
        PARTICIPANTS,
    ),
    (
        "/robotid.issuance.v1.IssuanceService/ListManufacturers",
        PARTICIPANTS,
    ),
    (
        "/robotid.issuance.v1.IssuanceService/CreateProductModel",
        &[R(Role::Regulator), R(Role::Manufacturer)],
    ),
    (
        "/robotid.issuance.v1.IssuanceService/ApproveProductModel",
        &[R(Role::Regulator)],
    ),
    (
        "/robotid.issuance.v1.IssuanceService/GetProductModel",
        PARTICIPANTS,
    ),
    (
        "/robotid.issuance.v1.IssuanceService/ListProductModels",
        PARTICIPANTS,
    ),
    (
        "/robotid.issuance.v1.IssuanceService/IssueRobotIds",
        &[R(Role::Manufacturer)],
    ),
    // Transfer.
    (
        "/robotid.transfer.v1.TransferService/RequestClearance",
        &[R(Role::Customs)],
    ),
    (
        "/robotid.transfer.v1.TransferService/GetTransfer",
        &[R(Role::Customs), R(Role::Regulator)],
    ),
    (
        "/robotid.transfer.v1.TransferService/ListTransfers",
        &[R(Role::Customs), R(Role::Regulator)],
    ),
    (
        "/robotid.transfer.v1.TransferService/ConfirmDeparture",
        &[R(Role::Customs)],
    ),
    (
        "/robotid.transfer.v1.TransferService/ConfirmArrival",
        &[R(Role::Customs)],
    ),
    // The office that asked for the clearance, or the regulator (checked
    // per request).
    (
        "/robotid.transfer.v1.TransferService/WithdrawClearance",
        &[R(Role::Customs), R(Role::Regulator)],
    ),
    (
        "/robotid.transfer.v1.TransferService/AddTrustedRegistry",
        &[R(Role::Regulator)],
    ),
    (
        "/robotid.transfer.v1.TransferService/ListTrustedRegistries",
        PARTICIPANTS,
    ),
    (
        "/robotid.transfer.v1.TransferService/RevokeTrustedRegistry",
        &[R(Role::Regulator)],
    ),
];

/// Who may record each event type (beyond the RPC table). A manufacturer
/// only for its own robots: see [`require_event`].
pub fn event_allows(kind: EventKind) -> &'static [Allow] {
    use EventKind as E;
    match kind {
        // Only registration records these.
        E::Issued => &[],
        E::ReleasedToMarket => &[R(Role::Manufacturer), R(Role::Regulator)],
        E::Sold => &[R(Role::Seller), R(Role::Manufacturer)],
        E::OwnershipTransferred => &[R(Role::Seller), R(Role::Operator)],
        E::Deployed => &[R(Role::Operator), R(Role::Seller), R(Role::Manufacturer)],
        E::MaintenancePerformed | E::ComponentReplaced | E::FirmwareUpdated => &[
            R(Role::ServiceProvider),
            R(Role::Manufacturer),
            R(Role::Operator),
        ],
        E::IncidentReported => &[
            R(Role::Operator),
            R(Role::ServiceProvider),
            R(Role::Manufacturer),
            R(Role::Regulator),
        ],
        E::RecallIssued => &[R(Role::Regulator), R(Role::Manufacturer)],
        E::RecallRemedied => &[
            R(Role::Manufacturer),
            R(Role::ServiceProvider),
            R(Role::Regulator),
        ],
        E::ReportedStolen | E::Recovered => {
            &[R(Role::Operator), R(Role::Seller), R(Role::Regulator)]
        }
        // Border crossings are recorded by the transfer service, which
        // customs call; it alone cancels a clearance (on expiry or when
        // customs withdraw it).
        E::ExportCleared | E::Exported | E::Imported | E::ExportClearanceCancelled => {
            &[S("transfer")]
        }
        E::Decommissioned => &[
            R(Role::Operator),
            R(Role::Recycler),
            R(Role::Manufacturer),
            R(Role::Regulator),
        ],
        E::Recycled => &[R(Role::Recycler)],
    }
}

/// Who may read a robot's full record; a manufacturer only its own.
pub const FULL_VIEW: &[Allow] = PARTICIPANTS;

/// The rule for an RPC; `None` for methods outside the table (health,
/// reflection), which are open.
pub fn rpc_allows(path: &str) -> Option<&'static [Allow]> {
    RPCS.iter()
        .find(|(method, _)| *method == path)
        .map(|(_, allows)| *allows)
}

/// UNAUTHENTICATED for an anonymous caller, PERMISSION_DENIED otherwise.
pub fn denied(caller: &Caller, what: &str) -> ApiError {
    if caller.is_anonymous() {
        ApiError::new(
            tonic::Code::Unauthenticated,
            "IDENTITY_REQUIRED",
            format!("{what} needs a client certificate naming a robotid:// identity"),
        )
    } else {
        ApiError::new(
            tonic::Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
            format!("{caller} may not {what}"),
        )
        .with_metadata("caller", caller.to_string())
    }
}

fn admitted(allows: &[Allow], caller: &Caller) -> bool {
    allows.iter().any(|allow| allow.admits(caller))
}

/// A manufacturer acts only under its own manufacturer code.
pub fn require_manufacturer_scope(
    caller: &Caller,
    manufacturer_code: &str,
) -> Result<(), ApiError> {
    if caller.role == Role::Manufacturer && caller.organization != manufacturer_code {
        return Err(ApiError::new(
            tonic::Code::PermissionDenied,
            "OUT_OF_SCOPE",
            format!(
                "{caller} acts only for manufacturer {}",
                caller.organization
            ),
        )
        .with_metadata("manufacturer_code", manufacturer_code));
    }
    Ok(())
}

/// Customs act only for their own country: the organisation of a customs
/// identity starts with its country code (`CN-SHA`).
pub fn require_customs_country(caller: &Caller, country: &str) -> Result<(), ApiError> {
    if caller.role == Role::Customs && !caller.organization.starts_with(&format!("{country}-")) {
        return Err(ApiError::new(
            tonic::Code::PermissionDenied,
            "OUT_OF_SCOPE",
            format!("{caller} acts only for its own country, not {country}"),
        )
        .with_metadata("country_code", country));
    }
    Ok(())
}

/// Customs act only as themselves: a customs caller files and withdraws
/// only as the office its certificate names (`CN-SHA`). Other roles the
/// RPC table admitted pass.
pub fn require_customs_office(caller: &Caller, office: &str) -> Result<(), ApiError> {
    if caller.role == Role::Customs && caller.organization != office {
        return Err(ApiError::new(
            tonic::Code::PermissionDenied,
            "OUT_OF_SCOPE",
            format!(
                "{caller} acts only as customs office {}, not {office}",
                caller.organization
            ),
        )
        .with_metadata("customs_office", office));
    }
    Ok(())
}

/// Whom the transfer service acts for when it writes to the registry of
/// `country`: `on_behalf_of` must name a customs office of that country
/// (`robotid://customs/CN-SHA`) or the regulator, and only the transfer
/// service may name anyone. Empty: the caller acts for itself. Returns the
/// identity to record as the actor.
pub fn acting_for(caller: &Caller, on_behalf_of: &str, country: &str) -> Result<Caller, ApiError> {
    if on_behalf_of.is_empty() {
        return Ok(caller.clone());
    }
    if !Allow::Service("transfer").admits(caller) {
        return Err(ApiError::new(
            tonic::Code::PermissionDenied,
            "ON_BEHALF_OF_NOT_ALLOWED",
            format!("{caller} may not act on behalf of another identity"),
        )
        .with_metadata("caller", caller.to_string()));
    }
    let invalid = || {
        ApiError::invalid_argument(
            "on_behalf_of",
            format!(
                "robotid://customs/{country}-OFFICE (a customs office of {country}) or                  robotid://regulator/ORG"
            ),
        )
    };
    let actor = Caller::from_uri(on_behalf_of).ok_or_else(invalid)?;
    let of_country = match actor.role {
        Role::Customs => require_customs_country(&actor, country).is_ok(),
        Role::Regulator => true,
        _ => false,
    };
    if !of_country {
        return Err(invalid());
    }
    Ok(actor)
}

/// May `caller` record `kind` on a robot of `manufacturer_code`?
pub fn require_event(
    caller: &Caller,
    kind: EventKind,
    manufacturer_code: &str,
) -> Result<(), ApiError> {
    if !admitted(event_allows(kind), caller) {
        return Err(denied(caller, &format!("record {kind}")));
    }
    require_manufacturer_scope(caller, manufacturer_code)
}

/// May `caller` read the full record of a robot of `manufacturer_code`?
pub fn require_full_view(caller: &Caller, manufacturer_code: &str) -> Result<(), ApiError> {
    if !admitted(FULL_VIEW, caller) {
        return Err(denied(caller, "read a robot's full record"));
    }
    require_manufacturer_scope(caller, manufacturer_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(uri: &str) -> Caller {
        Caller::from_uri(uri).unwrap()
    }

    #[test]
    fn the_rpc_table_names_each_method_once() {
        let mut methods: Vec<&str> = RPCS.iter().map(|(m, _)| *m).collect();
        methods.sort();
        methods.dedup();
        assert_eq!(methods.len(), RPCS.len());
    }

    #[test]
    fn scope_rules() {
        let own = caller("robotid://manufacturer/0001");
        assert!(require_event(&own, EventKind::ReleasedToMarket, "0001").is_ok());
        assert_eq!(
            require_event(&own, EventKind::ReleasedToMarket, "0002")
                .unwrap_err()
                .reason(),
            "OUT_OF_SCOPE"
        );
        assert_eq!(
            require_event(&own, EventKind::Recycled, "0001")
                .unwrap_err()
                .code(),
            tonic::Code::PermissionDenied
        );
        assert_eq!(
            require_event(&Caller::anonymous(), EventKind::Sold, "0001")
                .unwrap_err()
                .code(),
            tonic::Code::Unauthenticated
        );
        let customs = caller("robotid://customs/CN-SHA");
        assert!(require_customs_country(&customs, "CN").is_ok());
        assert!(require_customs_country(&customs, "DE").is_err());
        assert!(require_full_view(&caller("robotid://regulator/miit"), "0002").is_ok());
        assert!(require_customs_office(&customs, "CN-SHA").is_ok());
        assert_eq!(
            require_customs_office(&customs, "CN-PEK")
                .unwrap_err()
                .reason(),
            "OUT_OF_SCOPE"
        );
        assert!(require_customs_office(&caller("robotid://regulator/miit"), "CN-PEK").is_ok());
    }

    #[test]
    fn only_the_transfer_service_acts_for_customs_of_its_country() {
        let transfer = caller("robotid://service/transfer");
        assert_eq!(
            acting_for(&transfer, "robotid://customs/CN-SHA", "CN").unwrap(),
            caller("robotid://customs/CN-SHA")
        );
        assert_eq!(
            acting_for(&transfer, "", "CN").unwrap(),
            transfer,
            "no one named: the caller itself"
        );
        assert!(acting_for(&transfer, "robotid://regulator/miit", "CN").is_ok());
        for bad in [
            "robotid://customs/DE-HAM",
            "robotid://seller/S0001",
            "robotid://service/issuance",
            "customs/CN-SHA",
        ] {
            assert_eq!(
                acting_for(&transfer, bad, "CN").unwrap_err().code(),
                tonic::Code::InvalidArgument,
                "{bad}"
            );
        }
        for other in ["robotid://service/issuance", "robotid://regulator/miit"] {
            assert_eq!(
                acting_for(&caller(other), "robotid://customs/CN-SHA", "CN")
                    .unwrap_err()
                    .code(),
                tonic::Code::PermissionDenied,
                "{other}"
            );
        }
        assert!(require_full_view(&Caller::anonymous(), "0001").is_err());
    }
}
