//! Who may call what: one declarative table for every RPC of every service,
//! and for each event type of `RecordEvent`, plus the scope rules (a
//! manufacturer acts under its own code in its own country, customs and
//! police for their own country) and the tiers of what a caller sees of a
//! robot.
//!
//! The access layer enforces the RPC table before a request is decoded;
//! handlers enforce what depends on the request's content (event type,
//! view, scope) with the functions below, and the store what depends on the
//! robot (its holder, who reported it stolen) once it holds the robot's
//! lock. Tests walk these tables.

use robotid_domain::code::{CountryCode, RobotId};
use robotid_domain::holder::Holder;
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
    /// The robot's holder of record, whatever its role: for an organisation
    /// holder, a caller whose certificate names that organisation
    /// (`robotid://operator/ACME` holds what `ACME` holds); for a private
    /// holder, a call that presents the holder's reference
    /// (`EventDetails.current_holder`) whose keyed hash matches.
    CurrentHolder,
    /// Whoever reported the robot stolen: the same role and organisation.
    Flagger,
    /// The role, on a robot that no one holds of record yet (its first
    /// sale, from the market).
    Unheld(Role),
}

/// What decides, beyond the caller's role, whether it may record an event
/// on one robot: the robot's holder and theft report, and what the call
/// presents for the holder.
#[derive(Debug, Clone, Copy, Default)]
pub struct Custody<'a> {
    pub holder: Option<&'a Holder>,
    /// `robotid://ROLE/ORG` of whoever reported the robot stolen, while it
    /// is.
    pub stolen_by: Option<&'a str>,
    /// The keyed hash of the holder reference the call presented.
    pub presented_holder: Option<&'a Holder>,
}

impl Allow {
    /// Whether the rule admits `caller`, knowing nothing of a robot (as on
    /// a robot no one holds nor reported stolen).
    pub fn admits(self, caller: &Caller) -> bool {
        self.admits_on(caller, &Custody::default())
    }

    /// Whether the rule admits `caller` on a robot in `custody`.
    pub fn admits_on(self, caller: &Caller, custody: &Custody<'_>) -> bool {
        match self {
            Allow::Public => true,
            Allow::Role(role) => caller.role == role,
            Allow::Service(name) => caller.role == Role::Service && caller.organization == name,
            Allow::CurrentHolder => {
                !caller.is_anonymous()
                    && match custody.holder {
                        None => false,
                        Some(Holder::Organization(organization)) => {
                            caller.organization == *organization
                        }
                        Some(private @ Holder::Private(_)) => {
                            custody.presented_holder == Some(private)
                        }
                    }
            }
            Allow::Flagger => {
                !caller.is_anonymous() && custody.stolen_by == Some(caller.to_string().as_str())
            }
            Allow::Unheld(role) => caller.role == role && custody.holder.is_none(),
        }
    }

    /// Whether the rule could admit `caller` on some robot.
    fn may_admit(self, caller: &Caller) -> bool {
        match self {
            Allow::CurrentHolder | Allow::Flagger => !caller.is_anonymous(),
            Allow::Unheld(role) => caller.role == role,
            other => other.admits(caller),
        }
    }
}

use Allow::{CurrentHolder, Flagger, Public, Role as R, Service as S, Unheld};

/// Every identified role that takes part in a robot's life.
const PARTICIPANTS: &[Allow] = &[
    R(Role::Regulator),
    R(Role::Manufacturer),
    R(Role::Seller),
    R(Role::ServiceProvider),
    R(Role::Operator),
    R(Role::Recycler),
    R(Role::Customs),
    R(Role::Police),
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
            R(Role::Police),
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
        "/robotid.registry.v1.RegistryService/ListRecalls",
        &[R(Role::Regulator), R(Role::Manufacturer)],
    ),
    (
        "/robotid.registry.v1.RegistryService/GetRecall",
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
    // The transparency log is public, as at `{web}/log/`.
    (
        "/robotid.registry.v1.RegistryService/GetCheckpoint",
        &[Public],
    ),
    (
        "/robotid.registry.v1.RegistryService/GetInclusionProof",
        &[Public],
    ),
    (
        "/robotid.registry.v1.RegistryService/GetConsistencyProof",
        &[Public],
    ),
    (
        "/robotid.registry.v1.RegistryService/GetProofBundle",
        &[Public],
    ),
    (
        "/robotid.registry.v1.RegistryService/PutPeer",
        &[S("transfer")],
    ),
    (
        "/robotid.registry.v1.RegistryService/ListPeers",
        &[R(Role::Regulator), S("transfer")],
    ),
    (
        "/robotid.registry.v1.RegistryService/ListForkEvidence",
        &[R(Role::Regulator)],
    ),
    // A peer country's registry delivers the holds that cross borders;
    // the handler admits only an active peer's, and checks each hold
    // against the peer's log.
    (
        "/robotid.registry.v1.RegistryService/DeliverHold",
        &[R(Role::Registry)],
    ),
    (
        "/robotid.registry.v1.RegistryService/ListCloneAlarms",
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
/// only for its own robots, customs and police only in their own country:
/// see [`require_event`]; the entries that depend on the robot (its holder,
/// its theft report): see [`require_custody`].
pub fn event_allows(kind: EventKind) -> &'static [Allow] {
    use EventKind as E;
    match kind {
        // Only registration records ISSUED, only CreateRecall RECALL_ISSUED.
        E::Issued | E::RecallIssued => &[],
        E::ReleasedToMarket => &[R(Role::Manufacturer), R(Role::Regulator)],
        // A robot on the market has no holder yet: a seller (or its
        // manufacturer) sells it. Once someone holds it, only the holder
        // sells it on (or hands it over), or the regulator.
        E::Sold => &[
            Unheld(Role::Seller),
            Unheld(Role::Manufacturer),
            CurrentHolder,
            R(Role::Regulator),
        ],
        E::OwnershipTransferred => &[Unheld(Role::Seller), CurrentHolder, R(Role::Regulator)],
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
        E::RecallRemedied => &[
            R(Role::Manufacturer),
            R(Role::ServiceProvider),
            R(Role::Regulator),
        ],
        // As on the GSMA IMEI blocklist: only the flagger (or the
        // regulator) lifts a flag.
        E::ReportedStolen => &[R(Role::Regulator), R(Role::Police), CurrentHolder],
        E::Recovered => &[R(Role::Regulator), Flagger],
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

/// Who may read a robot's full record; a manufacturer only its own. What
/// of it each sees: [`tier`].
pub const FULL_VIEW: &[Allow] = PARTICIPANTS;

/// How much of a robot a caller sees (EU Battery Passport, Annex XIII):
/// each tier sees what the ones before it see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// The card: anyone.
    Public,
    /// The technical record and history, without holders: any certified
    /// role.
    Participant,
    /// Everything, the holder pseudonym included.
    Authority,
}

/// The tier `caller` reads a robot of this registry (`home`) in, given its
/// holder of record: the regulator, this country's customs and police, and
/// the holder itself (an organisation holder, by its certificate's
/// organisation) are authorities; every other certified role is a
/// participant. (A private holder has no certificate: the seller that keeps
/// its reference reads as a participant.)
pub fn tier(caller: &Caller, home: &CountryCode, holder: Option<&Holder>) -> Tier {
    let holds = matches!(holder, Some(Holder::Organization(organization)) if caller.organization == *organization);
    match caller.role {
        // A peer's registry delivers holds; it reads what anyone reads.
        Role::Public | Role::Registry => Tier::Public,
        Role::Regulator => Tier::Authority,
        Role::Customs | Role::Police if national(caller) == Some(home.as_str()) => Tier::Authority,
        _ if holds => Tier::Authority,
        _ => Tier::Participant,
    }
}

/// The country a customs or police identity acts for: the prefix of its
/// organisation (`CN-SHA`, `CN-POL`).
fn national(caller: &Caller) -> Option<&str> {
    match caller.role {
        Role::Customs | Role::Police => caller
            .organization
            .split_once('-')
            .map(|(country, _)| country),
        _ => None,
    }
}

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

/// A manufacturer acts only under its own manufacturer code, and only for
/// robots of its deployment's country: its certificate is of that
/// deployment's CA, so `robotid://manufacturer/0001` of Germany's PKI is
/// DE0001, and CN0001 robots (even those now in Germany) are not its own.
pub fn require_robot_scope(
    caller: &Caller,
    home: &CountryCode,
    robot: &RobotId,
) -> Result<(), ApiError> {
    require_model_scope(
        caller,
        home,
        &robot.country(),
        robot.manufacturer().as_str(),
    )
}

/// As [`require_robot_scope`], for a manufacturer code of a country's
/// codes (a recall of a model).
pub fn require_model_scope(
    caller: &Caller,
    home: &CountryCode,
    country: &CountryCode,
    manufacturer_code: &str,
) -> Result<(), ApiError> {
    if caller.role == Role::Manufacturer && country != home {
        return Err(ApiError::new(
            tonic::Code::PermissionDenied,
            "OUT_OF_SCOPE",
            format!(
                "{caller} acts only for manufacturer {home}{}, not for robots of {country}",
                caller.organization
            ),
        )
        .with_metadata("country_code", country.as_str())
        .with_metadata("manufacturer_code", manufacturer_code));
    }
    require_manufacturer_scope(caller, manufacturer_code)
}

/// Police act only in their own country, as customs do.
fn require_police_country(caller: &Caller, home: &CountryCode) -> Result<(), ApiError> {
    if caller.role == Role::Police && national(caller) != Some(home.as_str()) {
        return Err(ApiError::new(
            tonic::Code::PermissionDenied,
            "OUT_OF_SCOPE",
            format!("{caller} acts only for its own country, not {home}"),
        )
        .with_metadata("country_code", home.as_str()));
    }
    Ok(())
}

/// A manufacturer acts only under its own manufacturer code (of the
/// deployment's own country, where the code is not given: issuance issues
/// only there).
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

/// May `caller` record `kind` on `robot` in this registry (`home`), as
/// far as the request tells? What the robot decides: [`require_custody`].
pub fn require_event(
    caller: &Caller,
    kind: EventKind,
    home: &CountryCode,
    robot: &RobotId,
) -> Result<(), ApiError> {
    if !event_allows(kind)
        .iter()
        .any(|allow| allow.may_admit(caller))
    {
        return Err(denied(caller, &format!("record {kind}")));
    }
    require_robot_scope(caller, home, robot)?;
    require_police_country(caller, home)
}

/// May `caller` record `kind` on a robot in `custody`? Checked once the
/// robot is locked, after [`require_event`].
pub fn require_custody(
    caller: &Caller,
    kind: EventKind,
    custody: &Custody<'_>,
) -> Result<(), ApiError> {
    let allows = event_allows(kind);
    if allows.iter().any(|allow| allow.admits_on(caller, custody)) {
        return Ok(());
    }
    let refusal = if allows.contains(&Flagger) {
        let flagger = custody.stolen_by.unwrap_or("nobody");
        ApiError::new(
            tonic::Code::PermissionDenied,
            "NOT_FLAGGER",
            format!(
                "only the one who reported the robot stolen ({flagger}) or the regulator may record {kind}"
            ),
        )
    } else if custody.holder.is_some() {
        ApiError::new(
            tonic::Code::PermissionDenied,
            "NOT_HOLDER",
            format!(
                "{caller} is not the robot's holder of record: {kind} is recorded by its holder \
                 (a private holder's, with its reference in details.current_holder) or the regulator"
            ),
        )
    } else {
        ApiError::new(
            tonic::Code::PermissionDenied,
            "NOT_HOLDER",
            format!("the robot has no holder of record, so {caller} may not record {kind} on it"),
        )
    };
    Err(refusal.with_metadata("caller", caller.to_string()))
}

/// Whether `kind` may be recorded by a call that presents the current
/// holder's reference.
pub fn takes_holder_reference(kind: EventKind) -> bool {
    event_allows(kind).contains(&CurrentHolder)
}

/// May `caller` read the full record of `robot` in this registry (`home`)?
/// What of it: [`tier`].
pub fn require_full_view(
    caller: &Caller,
    home: &CountryCode,
    robot: &RobotId,
) -> Result<(), ApiError> {
    if !admitted(FULL_VIEW, caller) {
        return Err(denied(caller, "read a robot's full record"));
    }
    require_robot_scope(caller, home, robot)
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

    fn robot(country: &str, manufacturer: &str) -> RobotId {
        RobotId::issue(
            &country.parse().unwrap(),
            &manufacturer.parse().unwrap(),
            &"HX0001".parse().unwrap(),
            1,
        )
    }

    #[test]
    fn scope_rules() {
        let cn: CountryCode = "CN".parse().unwrap();
        let de: CountryCode = "DE".parse().unwrap();
        let own = caller("robotid://manufacturer/0001");
        let (cn1, cn2) = (robot("CN", "0001"), robot("CN", "0002"));
        assert!(require_event(&own, EventKind::ReleasedToMarket, &cn, &cn1).is_ok());
        assert_eq!(
            require_event(&own, EventKind::ReleasedToMarket, &cn, &cn2)
                .unwrap_err()
                .reason(),
            "OUT_OF_SCOPE"
        );
        // Germany's manufacturer 0001 is DE0001: a CN0001 robot in Germany
        // is not its own.
        assert_eq!(
            require_event(&own, EventKind::ReleasedToMarket, &de, &cn1)
                .unwrap_err()
                .reason(),
            "OUT_OF_SCOPE"
        );
        assert!(require_full_view(&own, &de, &cn1).is_err());
        assert!(require_full_view(&own, &de, &robot("DE", "0001")).is_ok());
        assert_eq!(
            require_event(&own, EventKind::Recycled, &cn, &cn1)
                .unwrap_err()
                .code(),
            tonic::Code::PermissionDenied
        );
        assert_eq!(
            require_event(&Caller::anonymous(), EventKind::Sold, &cn, &cn1)
                .unwrap_err()
                .code(),
            tonic::Code::Unauthenticated
        );
        let customs = caller("robotid://customs/CN-SHA");
        assert!(require_customs_country(&customs, "CN").is_ok());
        assert!(require_customs_country(&customs, "DE").is_err());
        assert!(require_customs_office(&customs, "CN-SHA").is_ok());
        assert_eq!(
            require_customs_office(&customs, "CN-PEK")
                .unwrap_err()
                .reason(),
            "OUT_OF_SCOPE"
        );
        assert!(require_customs_office(&caller("robotid://regulator/miit"), "CN-PEK").is_ok());
        let police = caller("robotid://police/CN-POL");
        assert!(require_event(&police, EventKind::ReportedStolen, &cn, &cn1).is_ok());
        assert_eq!(
            require_event(&police, EventKind::ReportedStolen, &de, &cn1)
                .unwrap_err()
                .reason(),
            "OUT_OF_SCOPE"
        );
        assert!(require_full_view(&caller("robotid://regulator/miit"), &cn, &cn2).is_ok());
        assert!(require_full_view(&Caller::anonymous(), &cn, &cn1).is_err());
    }

    #[test]
    fn only_the_holder_hands_over_and_only_the_flagger_unflags() {
        let acme = Holder::Organization("ACME".into());
        let private = Holder::Private("ab".repeat(32));
        let seller = caller("robotid://seller/S0001");
        let held_by_acme = Custody {
            holder: Some(&acme),
            ..Custody::default()
        };
        assert!(require_custody(&seller, EventKind::Sold, &Custody::default()).is_ok());
        let refused = require_custody(&seller, EventKind::Sold, &held_by_acme).unwrap_err();
        assert_eq!(refused.reason(), "NOT_HOLDER");
        assert!(
            require_custody(
                &caller("robotid://operator/ACME"),
                EventKind::OwnershipTransferred,
                &held_by_acme
            )
            .is_ok()
        );
        let held_privately = |presented| Custody {
            holder: Some(&private),
            presented_holder: presented,
            ..Custody::default()
        };
        let other = Holder::Private("cd".repeat(32));
        assert!(require_custody(&seller, EventKind::Sold, &held_privately(Some(&private))).is_ok());
        assert!(require_custody(&seller, EventKind::Sold, &held_privately(Some(&other))).is_err());
        assert!(require_custody(&seller, EventKind::Sold, &held_privately(None)).is_err());

        // A seller can no longer flag a robot, even one in the factory.
        assert_eq!(
            require_custody(&seller, EventKind::ReportedStolen, &Custody::default())
                .unwrap_err()
                .reason(),
            "NOT_HOLDER"
        );
        let flagged = Custody {
            stolen_by: Some("robotid://police/CN-POL"),
            ..Custody::default()
        };
        assert!(
            require_custody(
                &caller("robotid://police/CN-POL"),
                EventKind::Recovered,
                &flagged
            )
            .is_ok()
        );
        assert!(
            require_custody(
                &caller("robotid://regulator/miit"),
                EventKind::Recovered,
                &flagged
            )
            .is_ok()
        );
        for other in ["robotid://police/CN-OTHER", "robotid://operator/OP0001"] {
            assert_eq!(
                require_custody(&caller(other), EventKind::Recovered, &flagged)
                    .unwrap_err()
                    .reason(),
                "NOT_FLAGGER"
            );
        }
    }

    #[test]
    fn tiers() {
        let cn: CountryCode = "CN".parse().unwrap();
        let acme = Holder::Organization("ACME".into());
        let tier_of = |uri: &str| tier(&caller(uri), &cn, Some(&acme));
        assert_eq!(tier(&Caller::anonymous(), &cn, None), Tier::Public);
        assert_eq!(tier_of("robotid://regulator/miit"), Tier::Authority);
        assert_eq!(tier_of("robotid://customs/CN-SHA"), Tier::Authority);
        assert_eq!(tier_of("robotid://customs/DE-HAM"), Tier::Participant);
        assert_eq!(tier_of("robotid://police/CN-POL"), Tier::Authority);
        assert_eq!(tier_of("robotid://operator/ACME"), Tier::Authority);
        assert_eq!(tier_of("robotid://operator/OP0001"), Tier::Participant);
        assert_eq!(tier_of("robotid://service/transfer"), Tier::Participant);
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
    }
}
