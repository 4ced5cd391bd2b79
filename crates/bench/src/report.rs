//! Printing figures, ratios and targets, and the request body standard
//! load tools send.

use prost::Message;
use robotid_proto::registry::v1 as registry;

use crate::load::Measurement;

/// Prints one measured line: throughput, latency, errors, and the ratio to
/// its floor when it has one.
pub fn line(name: &str, unit: &str, measured: &Measurement, floor: Option<(&str, f64)>) {
    let ratio = match floor {
        Some((floor_name, rate)) if rate > 0.0 => {
            format!("  {:5.1}% of {floor_name}", 100.0 * measured.rate() / rate)
        }
        _ => String::new(),
    };
    println!(
        "{name:<34} {:>10.0} {unit}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  \
         ({} calls, {} errors, {:.1} s){ratio}",
        measured.rate(),
        measured.p50_ms(),
        measured.p99_ms(),
        measured.max_ms(),
        measured.calls,
        measured.errors,
        measured.elapsed.as_secs_f64(),
    );
    if let Some(error) = &measured.first_error {
        println!("{:<34} first error: {error}", "");
    }
}

/// One target of issue 8 and whether this run met it.
pub struct Target {
    pub what: String,
    pub figure: String,
    pub goal: String,
    pub met: bool,
}

impl Target {
    pub fn new(
        what: impl Into<String>,
        figure: impl Into<String>,
        goal: impl Into<String>,
        met: bool,
    ) -> Self {
        Self {
            what: what.into(),
            figure: figure.into(),
            goal: goal.into(),
            met,
        }
    }
}

/// The targets as a Markdown table.
pub fn targets(targets: &[Target]) {
    println!();
    println!("| target | figure | goal | met |");
    println!("|---|---|---|---|");
    for target in targets {
        println!(
            "| {} | {} | {} | {} |",
            target.what,
            target.figure,
            target.goal,
            if target.met { "yes" } else { "**no**" }
        );
    }
}

/// A `GetRobot` public-view call as gRPC frames it on the wire: a zero
/// compression flag, the message length big-endian in four bytes, then
/// the encoded message. `h2load -d` sends this file as the request body.
pub fn get_robot_body(robot_id: &str) -> Vec<u8> {
    let message = registry::GetRobotRequest {
        robot_id: robot_id.to_owned(),
        view: registry::RobotView::Public.into(),
    }
    .encode_to_vec();
    let mut body = Vec::with_capacity(5 + message.len());
    body.push(0);
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(&message);
    body
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_one_length_prefixed_message() {
        let body = get_robot_body("CN0001BR00010000000000000001G");
        assert_eq!(body[0], 0);
        let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        assert_eq!(length, body.len() - 5);
        let decoded = registry::GetRobotRequest::decode(&body[5..]).unwrap();
        assert_eq!(decoded.robot_id, "CN0001BR00010000000000000001G");
        assert_eq!(decoded.view(), registry::RobotView::Public);
    }
}
