//! What a scenario did and found, printed as it goes.

use std::time::{Duration, Instant};

/// One scenario's findings.
pub struct Report {
    name: &'static str,
    started: Instant,
    violations: Vec<String>,
    skipped: bool,
}

/// A finished scenario.
pub struct Finished {
    pub name: &'static str,
    pub took: Duration,
    pub violations: Vec<String>,
    pub skipped: bool,
}

impl Report {
    pub fn new(name: &'static str) -> Self {
        println!("\n== {name}");
        Self {
            name,
            started: Instant::now(),
            violations: Vec::new(),
            skipped: false,
        }
    }

    /// Not run, for the reason given.
    pub fn skip(&mut self, why: impl AsRef<str>) {
        self.line(why);
        self.skipped = true;
    }

    /// Something measured or done.
    pub fn line(&mut self, text: impl AsRef<str>) {
        println!("   {}", text.as_ref());
    }

    /// An invariant that does not hold.
    pub fn violation(&mut self, text: impl Into<String>) {
        let text = text.into();
        println!("   VIOLATED: {text}");
        self.violations.push(text);
    }

    /// `what` is a violation unless `holds`.
    pub fn check(&mut self, holds: bool, what: impl Into<String>) {
        if !holds {
            self.violation(what);
        }
    }

    pub fn failed(&self) -> bool {
        !self.violations.is_empty()
    }

    pub fn finish(self) -> Finished {
        let took = self.started.elapsed();
        let verdict = if self.skipped {
            "skipped".to_owned()
        } else if self.violations.is_empty() {
            "passed".to_owned()
        } else {
            format!("FAILED ({} violations)", self.violations.len())
        };
        println!("   {} {verdict} in {:.0} s", self.name, took.as_secs_f64());
        Finished {
            name: self.name,
            took,
            violations: self.violations,
            skipped: self.skipped,
        }
    }
}

/// How many `cases` there are and the first few of them: a violation about
/// thousands of robots stays one readable line.
pub fn cases(cases: &[String]) -> String {
    const SHOWN: usize = 5;
    let first: Vec<&str> = cases.iter().take(SHOWN).map(String::as_str).collect();
    if cases.len() > SHOWN {
        format!(
            "{} cases; the first {SHOWN}: {}",
            cases.len(),
            first.join("; ")
        )
    } else {
        format!("{} cases: {}", cases.len(), first.join("; "))
    }
}

/// `1.25 s`, `84 ms`.
pub fn humantime(duration: Duration) -> String {
    if duration >= Duration::from_secs(1) {
        format!("{:.2} s", duration.as_secs_f64())
    } else {
        format!("{:.0} ms", duration.as_secs_f64() * 1e3)
    }
}

/// `37.2 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_cases_are_counted_and_only_the_first_few_shown() {
        let many: Vec<String> = (0..65_000).map(|i| format!("robot {i}")).collect();
        let line = cases(&many);
        assert!(
            line.starts_with("65000 cases; the first 5: robot 0; robot 1;"),
            "{line}"
        );
        assert!(line.len() < 200, "{line}");
        assert_eq!(cases(&["one".into()]), "1 cases: one");
    }
}
