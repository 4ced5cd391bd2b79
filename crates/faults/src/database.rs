//! The database stopped and started again under load: the services must
//! reconnect by themselves, answer UNAVAILABLE (never INTERNAL) meanwhile,
//! and lose nothing they acknowledged.
//!
//! On a PostgreSQL server of its own: the shared one must stay up.

use std::time::{Duration, Instant};

use robotid_proto::issuance::v1 as issuance;
use robotid_proto::registry::v1 as registry;
use robotid_topology::postgres::{PrivatePostgres, StopMode};
use robotid_topology::{Service, Topology, request_id};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::{Code, Status};

use crate::checks;
use crate::load::{CALL_DEADLINE, Call, IssueLoad, first_ok_after, tally_between};
use crate::report::{Report, humantime};
use crate::tally::Tally;

pub struct Settings {
    /// Each outage: how the server is stopped, and for how long.
    pub outages: Vec<(StopMode, Duration)>,
    pub callers: usize,
    pub readers: usize,
    pub batch: i32,
    /// Load before each outage, and after the last.
    pub between: Duration,
}

/// An outage: from the server being down to it being started again.
struct Outage {
    mode: StopMode,
    down: Instant,
    up: Instant,
}

pub async fn exercise(
    topology: &mut Topology,
    postgres: &PrivatePostgres,
    settings: &Settings,
    report: &mut Report,
) -> anyhow::Result<()> {
    report.line(format!(
        "private PostgreSQL on port {}; outages {}; {} callers issuing {} robots a call, {} public readers",
        postgres.port(),
        settings
            .outages
            .iter()
            .map(|(mode, d)| format!("{mode:?} {}", humantime(*d)))
            .collect::<Vec<_>>()
            .join(", "),
        settings.callers,
        settings.batch,
        settings.readers
    ));
    let model = topology.approve_model("HX0001").await?;
    let seed = seed_robots(topology, &model).await?;
    checks::outbox_drained(topology, Duration::from_secs(60)).await?;

    let started = Instant::now();
    let load = IssueLoad::start(topology, &[model], settings.callers, settings.batch).await?;
    let (stop_readers, stopped) = watch::channel(false);
    let mut readers = JoinSet::new();
    for i in 0..settings.readers {
        // Raw, without the clients' retries: the readers record what the
        // registry answers while its database is down.
        let client = registry::registry_service_client::RegistryServiceClient::new(
            topology.channel(Service::Registry, None).await?,
        );
        readers.spawn(read_until_stopped(client, seed.clone(), i, stopped.clone()));
    }
    let mut outages = Vec::new();
    for (mode, length) in &settings.outages {
        tokio::time::sleep(settings.between).await;
        postgres.stop(*mode)?;
        let down = Instant::now();
        tokio::time::sleep(*length).await;
        postgres.start_again()?;
        outages.push(Outage {
            mode: *mode,
            down,
            up: Instant::now(),
        });
    }
    tokio::time::sleep(settings.between).await;
    let log = load.stop().await?;
    let _ = stop_readers.send(true);
    let mut reads = Vec::new();
    while let Some(reader) = readers.join_next().await {
        reads.extend(reader?);
    }
    let ended = Instant::now();

    for (kind, calls) in [("IssueRobotIds", &log.calls), ("GetRobot", &reads)] {
        let all = tally_between(calls, started, ended);
        report.line(format!("{kind}, all calls: {}", all.summary()));
        for code in all.codes() {
            report.check(
                !matches!(code, Code::Internal | Code::Unknown),
                format!("{kind} answered {code:?} around a database restart"),
            );
        }
        for outage in &outages {
            let during = tally_between(calls, outage.down, outage.up);
            report.line(format!(
                "{kind} during the {:?} outage of {}: {}",
                outage.mode,
                humantime(outage.up - outage.down),
                during.summary()
            ));
            check_outage_codes(report, kind, &during);
            match first_ok_after(calls, outage.up) {
                Some(took) => report.line(format!(
                    "{kind}: first OK {} after the database was back",
                    humantime(took)
                )),
                None => report.violation(format!(
                    "{kind} never succeeded again after the {:?} outage",
                    outage.mode
                )),
            }
        }
    }
    for service in [Service::Registry, Service::Issuance] {
        let exited = topology.exited(service)?;
        report.check(
            exited.is_none(),
            format!("{service} exited during the outages ({exited:?})"),
        );
    }
    checks::after_issuing(topology, &log, report).await
}

/// While the database is down a call may only fail as retryable,
/// UNAVAILABLE (an earlier one may still end OK).
fn check_outage_codes(report: &mut Report, kind: &str, during: &Tally) {
    for code in during.codes() {
        report.check(
            matches!(code, Code::Ok | Code::Unavailable),
            format!(
                "{kind} answered {code:?} ({} calls) while the database was down",
                during.count(code)
            ),
        );
    }
}

/// A few robots for the readers to look up.
async fn seed_robots(topology: &Topology, model: &str) -> anyhow::Result<Vec<String>> {
    let robots = topology
        .issuance_as("manufacturer")
        .await?
        .issue_robot_ids(issuance::IssueRobotIdsRequest {
            request_id: request_id("seed"),
            product_model: model.to_owned(),
            count: 50,
            production: None,
        })
        .await?
        .into_inner()
        .robots;
    Ok(robots.into_iter().map(|r| r.robot_id).collect())
}

/// Public look-ups, a few hundred a second per reader (under the
/// per-address rate limit), until stopped.
async fn read_until_stopped(
    mut client: registry::registry_service_client::RegistryServiceClient<tonic::transport::Channel>,
    ids: Vec<String>,
    offset: usize,
    stopped: watch::Receiver<bool>,
) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut next = offset;
    while !*stopped.borrow() {
        let mut request = tonic::Request::new(registry::GetRobotRequest {
            robot_id: ids[next % ids.len()].clone(),
            view: registry::RobotView::Public.into(),
        });
        next += 1;
        request.set_timeout(CALL_DEADLINE);
        let started = Instant::now();
        let answer = tokio::time::timeout(
            CALL_DEADLINE + Duration::from_secs(1),
            client.get_robot(request),
        )
        .await
        .unwrap_or_else(|_| Err(Status::deadline_exceeded("no answer in time")));
        let code = answer.as_ref().map_or_else(Status::code, |_| Code::Ok);
        calls.push(Call {
            started,
            took: started.elapsed(),
            code,
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    calls
}
