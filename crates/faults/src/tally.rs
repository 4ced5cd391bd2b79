//! Outcomes of calls: how many ended with each status code, and how long
//! they took.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use tonic::Code;

/// Calls by status code, with their latencies.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    by_code: BTreeMap<i32, Vec<Duration>>,
}

impl Tally {
    pub fn record(&mut self, code: Code, took: Duration) {
        self.by_code.entry(code as i32).or_default().push(took);
    }

    pub fn merge(&mut self, other: &Tally) {
        for (code, latencies) in &other.by_code {
            self.by_code
                .entry(*code)
                .or_default()
                .extend_from_slice(latencies);
        }
    }

    pub fn count(&self, code: Code) -> usize {
        self.by_code.get(&(code as i32)).map_or(0, Vec::len)
    }

    pub fn total(&self) -> usize {
        self.by_code.values().map(Vec::len).sum()
    }

    pub fn codes(&self) -> impl Iterator<Item = Code> + '_ {
        self.by_code.keys().map(|&code| Code::from(code))
    }

    /// The `q` quantile (0..=1) of the latencies of calls ending `code`.
    pub fn quantile(&self, code: Code, q: f64) -> Option<Duration> {
        let mut latencies = self.by_code.get(&(code as i32))?.clone();
        latencies.sort_unstable();
        let index = ((latencies.len() - 1) as f64 * q).round() as usize;
        latencies.get(index).copied()
    }

    /// The longest of the calls ending with any of `codes`.
    pub fn max_of(&self, codes: &[Code]) -> Option<Duration> {
        codes
            .iter()
            .filter_map(|code| self.by_code.get(&(*code as i32)))
            .flatten()
            .max()
            .copied()
    }

    /// `OK 812 (p50 4.1 ms, p99 20.3 ms, max 31.0 ms); UNAVAILABLE 3 (…)`.
    pub fn summary(&self) -> String {
        if self.by_code.is_empty() {
            return "no calls".into();
        }
        let mut out = String::new();
        for code in self.codes() {
            if !out.is_empty() {
                out.push_str("; ");
            }
            let _ = write!(
                out,
                "{} {} (p50 {}, p99 {}, max {})",
                code_name(code),
                self.count(code),
                millis(self.quantile(code, 0.5)),
                millis(self.quantile(code, 0.99)),
                millis(self.quantile(code, 1.0)),
            );
        }
        out
    }
}

fn millis(duration: Option<Duration>) -> String {
    duration.map_or("-".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
}

/// `UNAVAILABLE`, as gRPC writes codes.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_counts_are_per_code() {
        let mut tally = Tally::default();
        for ms in 1..=100 {
            tally.record(Code::Ok, Duration::from_millis(ms));
        }
        tally.record(Code::Unavailable, Duration::from_millis(7));
        assert_eq!(tally.count(Code::Ok), 100);
        assert_eq!(tally.total(), 101);
        assert_eq!(
            tally.quantile(Code::Ok, 0.5),
            Some(Duration::from_millis(51))
        );
        assert_eq!(
            tally.quantile(Code::Ok, 1.0),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            tally.max_of(&[Code::Unavailable, Code::ResourceExhausted]),
            Some(Duration::from_millis(7))
        );
        assert!(tally.summary().starts_with("OK 100 (p50 51.0 ms"));
    }
}
