//! A failed call, as a person or a script needs it: the gRPC status code,
//! the message, and the `ErrorInfo` reason with its metadata.

use tonic::Status;
use tonic_types::StatusExt;

/// `FAILED_PRECONDITION`, as the gRPC spec and `grpcurl` name codes.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// What a refusal said.
pub struct Failure {
    pub code: &'static str,
    pub message: String,
    pub reason: Option<String>,
    pub metadata: Vec<(String, String)>,
    pub field_violations: Vec<(String, String)>,
}

impl Failure {
    pub fn of(status: &Status) -> Self {
        let details = status.get_error_details();
        let (reason, mut metadata) = match details.error_info() {
            Some(info) => (
                Some(info.reason.clone()),
                info.metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Vec<_>>(),
            ),
            None => (None, Vec::new()),
        };
        metadata.sort();
        let field_violations = details
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|v| (v.field.clone(), v.description.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            code: code_name(status.code()),
            message: status.message().to_owned(),
            reason,
            metadata,
            field_violations,
        }
    }

    /// One line, then the details: `robotid: FAILED_PRECONDITION (RECALL_OPEN): …`.
    pub fn text(&self) -> String {
        let mut out = match &self.reason {
            Some(reason) if reason != self.code => {
                format!("robotid: {} ({reason}): {}\n", self.code, self.message)
            }
            _ => format!("robotid: {}: {}\n", self.code, self.message),
        };
        // Field violations name the field themselves; metadata repeats it.
        if self.field_violations.is_empty() {
            for (key, value) in &self.metadata {
                out.push_str(&format!("  {key}: {value}\n"));
            }
        }
        for (field, description) in &self.field_violations {
            out.push_str(&format!("  field {field}: {description}\n"));
        }
        out
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "reason": self.reason,
                "metadata": self
                    .metadata
                    .iter()
                    .map(|(key, value)| (key.clone(), serde_json::Value::from(value.as_str())))
                    .collect::<serde_json::Map<_, _>>(),
                "field_violations": self.field_violations.iter().map(|(field, description)| {
                    serde_json::json!({ "field": field, "description": description })
                }).collect::<Vec<_>>(),
            }
        })
    }
}

/// Prints a failed command on stderr (as JSON with --json); the caller
/// exits non-zero.
pub fn report(error: &anyhow::Error, json: bool) {
    match error.downcast_ref::<Status>() {
        Some(status) => {
            let failure = Failure::of(status);
            if json {
                eprintln!("{}", failure.json());
            } else {
                eprint!("{}", failure.text());
            }
        }
        None => {
            if json {
                eprintln!(
                    "{}",
                    serde_json::json!({ "error": { "message": format!("{error:#}") } })
                );
            } else {
                eprintln!("robotid: {error:#}");
            }
        }
    }
}
