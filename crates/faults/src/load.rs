//! Load that the faults happen under: callers issuing robots in a loop, as
//! factories do, each retrying a failed call with the same `request_id`
//! (which makes the retry safe) until it is answered, and remembering
//! every answer that came back OK. Each attempt is recorded as the
//! service answered it, so the callers retry themselves, on a bare
//! channel, waiting as every client of the API does
//! (`robotid_platform::client::RetryPolicy`: the server's RetryInfo, else
//! an exponential backoff).

use std::time::{Duration, Instant};

use robotid_platform::client::RetryPolicy;
use robotid_proto::issuance::v1 as issuance;
use robotid_proto::issuance::v1::issuance_service_client::IssuanceServiceClient;
use robotid_topology::{Topology, request_id};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::tally::{Tally, code_name};

/// Longest a caller waits for one answer.
pub const CALL_DEADLINE: Duration = Duration::from_secs(15);
/// After the load is stopped, how long a caller keeps retrying the call it
/// has not had an answer to.
const SETTLE: Duration = Duration::from_secs(30);

/// One call: when it started, how long it took, how it ended.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub started: Instant,
    pub took: Duration,
    pub code: Code,
}

/// The calls that started in `[from, to)`, by code.
pub fn tally_between(calls: &[Call], from: Instant, to: Instant) -> Tally {
    let mut tally = Tally::default();
    for call in calls.iter().filter(|c| c.started >= from && c.started < to) {
        tally.record(call.code, call.took);
    }
    tally
}

/// The first call that started at or after `from` and ended OK: when it
/// ended, measured from `from`.
pub fn first_ok_after(calls: &[Call], from: Instant) -> Option<Duration> {
    calls
        .iter()
        .filter(|c| c.started >= from && c.code == Code::Ok)
        .map(|c| c.started + c.took - from)
        .min()
}

/// An `IssueRobotIds` answered OK.
#[derive(Debug, Clone)]
pub struct Acknowledged {
    pub request_id: String,
    pub robot_ids: Vec<String>,
}

/// What the callers did.
#[derive(Debug, Default)]
pub struct IssueLog {
    pub calls: Vec<Call>,
    pub acknowledged: Vec<Acknowledged>,
    /// Attempts that repeated a request after a failure.
    pub retries: usize,
    /// Requests never answered OK (their outcome is unknown: the robots
    /// may or may not have been issued).
    pub unresolved: usize,
    /// Answers no retry can fix (a bug, or a wrong test).
    pub unexpected: Vec<String>,
}

impl IssueLog {
    fn merge(&mut self, other: IssueLog) {
        self.calls.extend(other.calls);
        self.acknowledged.extend(other.acknowledged);
        self.retries += other.retries;
        self.unresolved += other.unresolved;
        self.unexpected.extend(other.unexpected);
    }

    pub fn robots_acknowledged(&self) -> usize {
        self.acknowledged.iter().map(|a| a.robot_ids.len()).sum()
    }
}

/// Callers issuing robots until stopped.
pub struct IssueLoad {
    stop: watch::Sender<bool>,
    callers: JoinSet<IssueLog>,
}

impl IssueLoad {
    /// `callers` callers as the manufacturer, caller `i` issuing `batch`
    /// robots a call of `models[i % models.len()]`.
    pub async fn start(
        topology: &Topology,
        models: &[String],
        callers: usize,
        batch: i32,
    ) -> anyhow::Result<Self> {
        let (stop, stopped) = watch::channel(false);
        let mut set = JoinSet::new();
        for i in 0..callers {
            let client = IssuanceServiceClient::new(
                topology
                    .channel(robotid_topology::Service::Issuance, Some("manufacturer"))
                    .await?,
            );
            let model = models[i % models.len()].clone();
            set.spawn(issue_until_stopped(client, model, batch, stopped.clone()));
        }
        Ok(Self { stop, callers: set })
    }

    /// Stops the callers; each first settles the request it is on.
    pub async fn stop(mut self) -> anyhow::Result<IssueLog> {
        let _ = self.stop.send(true);
        let mut log = IssueLog::default();
        while let Some(caller) = self.callers.join_next().await {
            log.merge(caller?);
        }
        Ok(log)
    }
}

fn retryable(code: Code) -> bool {
    // UNKNOWN and CANCELLED: the connection died under the call (a killed
    // server); DEADLINE_EXCEEDED: no answer in time.
    matches!(
        code,
        Code::Unavailable
            | Code::ResourceExhausted
            | Code::DeadlineExceeded
            | Code::Unknown
            | Code::Cancelled
    )
}

async fn issue_until_stopped(
    mut client: IssuanceServiceClient<Channel>,
    model: String,
    batch: i32,
    stopped: watch::Receiver<bool>,
) -> IssueLog {
    let mut log = IssueLog::default();
    while !*stopped.borrow() {
        let request = issuance::IssueRobotIdsRequest {
            request_id: request_id("faults"),
            product_model: model.clone(),
            count: batch,
            production: None,
        };
        let mut settle_by = None;
        let mut attempt = 0;
        loop {
            if attempt > 0 {
                log.retries += 1;
            }
            attempt += 1;
            let started = Instant::now();
            let answer = call(&mut client, request.clone()).await;
            let code = answer.as_ref().map_or_else(Status::code, |_| Code::Ok);
            log.calls.push(Call {
                started,
                took: started.elapsed(),
                code,
            });
            match answer {
                Ok(answer) => {
                    let robot_ids: Vec<String> =
                        answer.robots.into_iter().map(|r| r.robot_id).collect();
                    if robot_ids.len() != batch as usize {
                        log.unexpected.push(format!(
                            "{} answered {} robots for {batch}",
                            request.request_id,
                            robot_ids.len()
                        ));
                    }
                    log.acknowledged.push(Acknowledged {
                        request_id: request.request_id.clone(),
                        robot_ids,
                    });
                    break;
                }
                Err(status) if retryable(status.code()) => {
                    if *stopped.borrow() {
                        let settle_by = *settle_by.get_or_insert_with(|| Instant::now() + SETTLE);
                        if Instant::now() > settle_by {
                            log.unresolved += 1;
                            break;
                        }
                    }
                    let retry_delay = robotid_platform::client::retryable(&status).flatten();
                    let wait = RetryPolicy::default()
                        .next_wait(attempt, retry_delay)
                        .unwrap_or(Duration::from_secs(1));
                    tokio::time::sleep(wait).await;
                }
                Err(status) => {
                    log.unexpected.push(format!(
                        "{}: {} {:?}",
                        request.request_id,
                        code_name(status.code()),
                        status.message()
                    ));
                    log.unresolved += 1;
                    break;
                }
            }
        }
    }
    log
}

async fn call(
    client: &mut IssuanceServiceClient<Channel>,
    request: issuance::IssueRobotIdsRequest,
) -> Result<issuance::IssueRobotIdsResponse, Status> {
    let mut request = tonic::Request::new(request);
    request.set_timeout(CALL_DEADLINE);
    match tokio::time::timeout(
        CALL_DEADLINE + Duration::from_secs(1),
        client.issue_robot_ids(request),
    )
    .await
    {
        Ok(answer) => answer.map(tonic::Response::into_inner),
        Err(_) => Err(Status::deadline_exceeded("no answer in time")),
    }
}
