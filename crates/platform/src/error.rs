//! Errors as AIP-193 wants them: a canonical code, exactly one `ErrorInfo`
//! with an UPPER_SNAKE_CASE reason and the service as its domain, and
//! `BadRequest` field violations for invalid input.

use std::collections::HashMap;
use std::fmt;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// An error on its way to becoming a `tonic::Status`.
#[derive(Debug, Clone)]
pub struct ApiError {
    code: Code,
    reason: &'static str,
    message: String,
    metadata: HashMap<String, String>,
    field_violations: Vec<(String, String)>,
}

impl ApiError {
    pub fn new(code: Code, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            metadata: HashMap::new(),
            field_violations: Vec::new(),
        }
    }

    /// A malformed request field; names the field (request path, e.g.
    /// `robots[3].robot_id`) and what is wrong with it.
    pub fn invalid_argument(field: impl Into<String>, problem: impl fmt::Display) -> Self {
        let field = field.into();
        let problem = problem.to_string();
        Self::new(
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
            format!("{field}: {problem}"),
        )
        .with_metadata("field", field.clone())
        .with_field_violation(field, problem)
    }

    pub fn not_found(reason: &'static str, resource: impl fmt::Display) -> Self {
        let resource = resource.to_string();
        Self::new(Code::NotFound, reason, format!("{resource} not found"))
            .with_metadata("resource", resource)
    }

    pub fn failed_precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(Code::FailedPrecondition, reason, message)
    }

    pub fn already_exists(reason: &'static str, resource: impl fmt::Display) -> Self {
        let resource = resource.to_string();
        Self::new(
            Code::AlreadyExists,
            reason,
            format!("{resource} already exists"),
        )
        .with_metadata("resource", resource)
    }

    /// A dependency (database, another service) did not answer; the caller
    /// may retry.
    pub fn unavailable(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(Code::Unavailable, reason, message)
    }

    /// The same `request_id` was used before with a different request.
    pub fn request_id_reused(request_id: &str) -> Self {
        Self::failed_precondition(
            "REQUEST_ID_REUSED",
            format!("request_id {request_id} was already used for a different request"),
        )
        .with_metadata("request_id", request_id)
    }

    /// Something that should not happen. The cause chain is logged here;
    /// the caller learns nothing of the internals.
    pub fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(Code::Internal, "INTERNAL", "internal error")
    }

    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    pub fn with_field_violation(
        mut self,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        self.field_violations.push((field.into(), problem.into()));
        self
    }

    /// Prefixes field paths, for errors found inside a nested message.
    pub fn within(mut self, prefix: &str) -> Self {
        for (field, _) in &mut self.field_violations {
            *field = format!("{prefix}.{field}");
        }
        if let Some(field) = self.metadata.get_mut("field") {
            *field = format!("{prefix}.{field}");
        }
        if self.code == Code::InvalidArgument {
            self.message = format!("{prefix}.{}", self.message);
        }
        self
    }

    pub fn code(&self) -> Code {
        self.code
    }

    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The status, with `domain` (the service, e.g. `registry.robotid`) in
    /// its `ErrorInfo`.
    pub fn into_status(self, domain: &str) -> Status {
        let mut details = ErrorDetails::with_error_info(self.reason, domain, self.metadata);
        for (field, problem) in self.field_violations {
            details.add_bad_request_violation(field, problem);
        }
        Status::with_error_details(self.code, self.message, details)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Database errors: one that says the database cannot be reached right now
/// (see [`database_unavailable`]) is UNAVAILABLE, which the caller retries;
/// anything else INTERNAL.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if database_unavailable(&error) {
            tracing::warn!(%error, "database unavailable");
            ApiError::unavailable(
                "DATABASE_UNAVAILABLE",
                "the database is unavailable; retry later",
            )
        } else if transaction_conflict(&error) {
            tracing::warn!(%error, "transaction conflict");
            ApiError::new(
                Code::Aborted,
                TRANSACTION_CONFLICT,
                "the write collided with a concurrent one and was rolled back; retry",
            )
        } else {
            ApiError::internal(&error)
        }
    }
}

/// `ErrorInfo.reason` of a write rolled back by a deadlock or a
/// serialization failure: nothing was written, and the same call again is
/// expected to succeed.
pub const TRANSACTION_CONFLICT: &str = "TRANSACTION_CONFLICT";

/// Whether PostgreSQL rolled the transaction back to resolve a conflict
/// with another one (40P01 deadlock detected, 40001 serialization failure).
pub fn transaction_conflict(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(error)
        if error.code().is_some_and(|code| matches!(&*code, "40P01" | "40001")))
}

/// Whether `error` means the database is not there right now — a lost or
/// refused connection, a full pool, or a server that is shutting down or
/// starting up — rather than that the query or the data is wrong.
///
/// A PostgreSQL server that stops or restarts tells each connected client
/// so with an error of its own (`57P01` terminating connection due to
/// administrator command), which arrives as a database error, not as I/O.
pub fn database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => error.code().is_some_and(|code| {
            // Class 08: connection exception; 57P01 admin shutdown, 57P02
            // crash shutdown, 57P03 cannot connect now (starting up or in
            // recovery); 53300 too many connections.
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_the_field_in_error_info_and_bad_request() {
        let status = ApiError::invalid_argument("robot_id", "a robot id has 29 characters")
            .within("robots[2]")
            .into_status("registry.robotid");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("robots[2].robot_id"));
        let details = status.get_error_details();
        let info = details.error_info().unwrap();
        assert_eq!(info.reason, "INVALID_ARGUMENT");
        assert_eq!(info.domain, "registry.robotid");
        assert_eq!(info.metadata["field"], "robots[2].robot_id");
        let violations = &details.bad_request().unwrap().field_violations;
        assert_eq!(violations[0].field, "robots[2].robot_id");
    }

    /// A database error carrying only a SQLSTATE, as PostgreSQL sends one.
    #[derive(Debug)]
    struct Sqlstate(&'static str);

    impl fmt::Display for Sqlstate {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for Sqlstate {}

    impl sqlx::error::DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            "from the server"
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn code_of(error: sqlx::Error) -> Code {
        ApiError::from(error).code()
    }

    #[test]
    fn a_database_going_away_is_unavailable_and_a_bad_query_internal() {
        for sqlstate in ["57P01", "57P02", "57P03", "08006", "08001", "53300"] {
            let error = sqlx::Error::Database(Box::new(Sqlstate(sqlstate)));
            assert_eq!(code_of(error), Code::Unavailable, "{sqlstate}");
        }
        assert_eq!(code_of(sqlx::Error::PoolTimedOut), Code::Unavailable);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(code_of(sqlx::Error::Io(reset)), Code::Unavailable);
        // A syntax error, a unique violation: the query is wrong, retrying
        // will not help.
        for sqlstate in ["42601", "23505"] {
            let error = sqlx::Error::Database(Box::new(Sqlstate(sqlstate)));
            assert_eq!(code_of(error), Code::Internal, "{sqlstate}");
        }
        assert_eq!(code_of(sqlx::Error::RowNotFound), Code::Internal);
    }
}
