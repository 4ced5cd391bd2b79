//! The identity-code parser under `cargo fuzz` (`fuzz/run.sh`).

use std::path::Path;
use std::process::Command;

use crate::report::Report;

pub fn run(seconds: u64, report: &mut Report) -> anyhow::Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()?;
    let script = workspace.join("fuzz/run.sh");
    report.line(format!(
        "{} {seconds} (the parse_robot_id target, libFuzzer with AddressSanitizer)",
        script.display()
    ));
    let output = Command::new("bash")
        .arg(&script)
        .arg(seconds.to_string())
        .output()?;
    let text = String::from_utf8_lossy(&output.stderr);
    // libFuzzer ends with "Done N runs in S second(s)".
    let done = text
        .lines()
        .rev()
        .find(|l| l.starts_with("Done ") || l.contains("stat::number_of_executed_units"))
        .unwrap_or("no summary line");
    report.line(format!("libFuzzer: {done}"));
    if !output.status.success() {
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        report.violation(format!(
            "fuzz/run.sh failed ({}):\n{}",
            output.status,
            tail.join("\n")
        ));
    }
    Ok(())
}
