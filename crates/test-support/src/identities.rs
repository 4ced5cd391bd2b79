//! The identities of the test PKI, and the answers the authorization table
//! predicts for them: the walks of every RPC × role in each service's tests
//! are generated from `robotid_platform::authz` with these.

use robotid_platform::authz::{Allow, Tier, rpc_allows};
use robotid_platform::identity::Caller;
use tonic::{Code, Status};

/// Every identity of the test PKI — the certificate's name and the URI it
/// carries — plus the anonymous public (no certificate).
pub const IDENTITIES: &[(Option<&str>, &str)] = &[
    (None, ""),
    (Some("regulator"), "robotid://regulator/miit"),
    (Some("manufacturer"), "robotid://manufacturer/0001"),
    (Some("seller"), "robotid://seller/S0001"),
    (
        Some("service-provider"),
        "robotid://service-provider/SP0001",
    ),
    (Some("operator"), "robotid://operator/OP0001"),
    (Some("recycler"), "robotid://recycler/RC0001"),
    (Some("customs"), "robotid://customs/CN-SHA"),
    (Some("police"), "robotid://police/CN-POL"),
    (Some("issuance"), "robotid://service/issuance"),
    (Some("registry"), "robotid://service/registry"),
    (Some("transfer"), "robotid://service/transfer"),
    (Some("peer-registry"), "robotid://registry/DE"),
];

/// The tier an identity of `IDENTITIES` reads a robot of the test (CN)
/// registry in, written out by hand from the README's *Identity and access*: the regulator, this
/// country's customs and police are authorities, and so is the holder of
/// record itself (`holds`: the robot's holder is the identity's
/// organisation); every other certified role is a participant; without a
/// certificate, and a peer's registry, the public.
pub fn expected_tier(identity: Option<&str>, holds: bool) -> Tier {
    match identity {
        // A peer's registry delivers holds; it reads what anyone reads.
        None | Some("peer-registry") => Tier::Public,
        Some("regulator" | "customs" | "police") => Tier::Authority,
        Some(_) if holds => Tier::Authority,
        Some(_) => Tier::Participant,
    }
}

/// The caller a URI names; the anonymous public for `""`.
pub fn caller(uri: &str) -> Caller {
    Caller::from_uri(uri).unwrap_or_else(Caller::anonymous)
}

/// The methods of one service in the table, e.g. `robotid.issuance.v1`.
pub fn rpcs_of(package: &str) -> Vec<(&'static str, &'static [Allow])> {
    let prefix = format!("/{package}.");
    robotid_platform::authz::RPCS
        .iter()
        .filter(|(method, _)| method.starts_with(&prefix))
        .copied()
        .collect()
}

/// Whether the table lets `caller` call `method` at all.
pub fn allowed(method: &str, caller: &Caller) -> bool {
    rpc_allows(method)
        .unwrap_or_else(|| panic!("{method} is not in the table"))
        .iter()
        .any(|allow| allow.admits(caller))
}

/// What a refusal of `caller` is: UNAUTHENTICATED without an identity,
/// PERMISSION_DENIED with one.
pub fn expected_refusal(caller: &Caller) -> Code {
    if caller.is_anonymous() {
        Code::Unauthenticated
    } else {
        Code::PermissionDenied
    }
}

/// Asserts that an allowed call succeeded and a refused one answered the
/// table's refusal.
#[track_caller]
pub fn assert_answer<T: std::fmt::Debug>(
    what: &str,
    who: &str,
    allowed: bool,
    refusal: Code,
    result: Result<T, Status>,
) {
    match (allowed, result) {
        (true, Ok(_)) => {}
        (true, Err(status)) => panic!("{what} as {who:?} should succeed: {status:?}"),
        (false, Ok(answer)) => panic!("{what} as {who:?} should be refused, got {answer:?}"),
        (false, Err(status)) => assert_eq!(status.code(), refusal, "{what} as {who:?}: {status:?}"),
    }
}
