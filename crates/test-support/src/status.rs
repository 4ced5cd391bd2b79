//! Assertions on answers: request ids for retries, refusals with their
//! `google.rpc.ErrorInfo` reason.

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// A request id no other call of this test run uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Asserts INVALID_ARGUMENT whose first `BadRequest` field violation (and
/// `ErrorInfo` metadata) names `field`.
#[track_caller]
pub fn assert_invalid<T: std::fmt::Debug>(result: Result<T, Status>, field: &str) -> Status {
    let status = assert_refused(result, Code::InvalidArgument, "INVALID_ARGUMENT");
    let details = status.get_error_details();
    let violations = &details
        .bad_request()
        .expect("BadRequest present")
        .field_violations;
    assert_eq!(violations[0].field, field, "{status:?}");
    status
}

/// Asserts the status code and the `ErrorInfo` reason, which every refusal
/// of a Robot ID service carries under a `*.robotid` domain.
#[track_caller]
pub fn assert_refused<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: Code,
    reason: &str,
) -> Status {
    let status = result.expect_err("the call should have been refused");
    assert_eq!(status.code(), code, "{status:?}");
    let details = status.get_error_details();
    let info = details.error_info().expect("ErrorInfo present");
    assert_eq!(info.reason, reason, "{status:?}");
    assert!(info.domain.ends_with(".robotid"), "{status:?}");
    status
}
