//! kill -9 of issuance and the registry, alternately, while factories issue
//! robots; then nothing acknowledged may be missing or doubled.

use std::time::Duration;

use robotid_topology::{Options, Service, Topology};
use tonic::Code;

use crate::checks;
use crate::load::{IssueLoad, tally_between};
use crate::memory::Peaks;
use crate::report::{Report, humantime};

pub struct Settings {
    pub kills: usize,
    pub callers: usize,
    pub batch: i32,
    /// Load between one restart and the next kill.
    pub between_kills: Duration,
}

/// Issuance and the registry; issuance redelivers soon after the registry
/// is back, so the outbox drains quickly.
pub fn options(base: Options) -> Options {
    base.services(&[Service::Registry, Service::Issuance])
        .service_setting(Service::Issuance, "ROBOTID_RELAY_MAX_BACKOFF_MS", 1000)
}

pub async fn exercise(
    topology: &mut Topology,
    settings: &Settings,
    report: &mut Report,
) -> anyhow::Result<()> {
    report.line(format!(
        "{} kills, alternating issuance and registry, {} between; {} callers issuing {} robots a call",
        settings.kills,
        humantime(settings.between_kills),
        settings.callers,
        settings.batch
    ));
    let models = vec![
        topology.approve_model("HX0001").await?,
        topology.approve_model("HX0002").await?,
    ];
    let started = std::time::Instant::now();
    let load = IssueLoad::start(topology, &models, settings.callers, settings.batch).await?;
    let mut peaks = Peaks::default();
    let mut restarts: Vec<(Service, Duration)> = Vec::new();
    for kill in 0..settings.kills {
        tokio::time::sleep(settings.between_kills).await;
        peaks.observe(topology);
        let target = if kill % 2 == 0 {
            Service::Issuance
        } else {
            Service::Registry
        };
        topology.kill(target)?;
        let took = topology.restart(target).await?;
        restarts.push((target, took));
    }
    tokio::time::sleep(settings.between_kills).await;
    peaks.observe(topology);
    let log = load.stop().await?;
    let ended = std::time::Instant::now();

    let tally = tally_between(&log.calls, started, ended);
    report.line(format!("IssueRobotIds calls: {}", tally.summary()));
    for service in [Service::Issuance, Service::Registry] {
        let times: Vec<Duration> = restarts
            .iter()
            .filter(|(s, _)| *s == service)
            .map(|(_, took)| *took)
            .collect();
        if let (Some(min), Some(max)) = (times.iter().min(), times.iter().max()) {
            let mean = times.iter().sum::<Duration>() / times.len() as u32;
            report.line(format!(
                "{service}: killed {} times; restart to SERVING min {} mean {} max {}",
                times.len(),
                humantime(*min),
                humantime(mean),
                humantime(*max)
            ));
        }
    }
    report.line(format!("peak RSS per process: {}", peaks.summary()));
    for code in tally.codes() {
        report.check(
            matches!(
                code,
                Code::Ok | Code::Unavailable | Code::Unknown | Code::Cancelled
            ),
            format!("IssueRobotIds answered {code:?} under kill -9 (only OK or the retryable codes of a dying connection may be)"),
        );
    }
    report.check(
        log.unexpected.is_empty(),
        format!(
            "unexpected answers: {}",
            crate::report::cases(&log.unexpected)
        ),
    );
    checks::after_issuing(topology, &log, report).await
}
