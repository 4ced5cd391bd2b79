//! Ten times the sustainable rate of IssueRobotIds, offered open-loop (a
//! call every 1/rate seconds, whether or not earlier ones were answered,
//! as independent factories do): the excess must be shed quickly with
//! RESOURCE_EXHAUSTED (or UNAVAILABLE), the calls that are admitted must
//! be answered OK within a second at p99, memory must stay bounded, and
//! throughput must come back when the load drops.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use robotid_proto::issuance::v1 as issuance;
use robotid_proto::issuance::v1::issuance_service_client::IssuanceServiceClient;
use robotid_topology::{Service, Topology, request_id};
use tokio::task::JoinSet;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::load::{Call, tally_between};
use crate::memory::Peaks;
use crate::report::{Report, humantime, mib};

pub struct Settings {
    pub batch: i32,
    /// Closed-loop callers measuring the sustainable rate, and recovery.
    pub callers: usize,
    pub measure: Duration,
    pub overload: Duration,
    /// Offered rate over the sustainable one.
    pub factor: f64,
    /// 99% of the calls shed at the concurrency limit (RESOURCE_EXHAUSTED)
    /// must be answered within this.
    pub shed_within: Duration,
    /// 99% of the calls answered OK must be answered within this: the
    /// services admit only what their databases can serve, so an admitted
    /// call does not wait behind the excess.
    pub ok_within: Duration,
    /// Every call must be answered within this: none may run on towards
    /// the request timeout.
    pub answer_within: Duration,
    /// No service may hold more than this resident.
    pub memory_limit: u64,
}

/// Longest a call of the open-loop load may take: past the services'
/// own request timeout (30 s), so that the server, not the client, ends it.
const OPEN_LOOP_DEADLINE: Duration = Duration::from_secs(40);
/// Connections the open-loop load spreads over (HTTP/2 allows a few
/// hundred streams on each).
const CONNECTIONS: usize = 16;

pub async fn exercise(
    topology: &mut Topology,
    settings: &Settings,
    report: &mut Report,
) -> anyhow::Result<()> {
    let models = vec![
        topology.approve_model("HX0001").await?,
        topology.approve_model("HX0002").await?,
    ];
    // Raw, without the clients' retries: the scenario measures what the
    // service answers, each refusal as it comes.
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        clients.push(IssuanceServiceClient::new(
            topology
                .channel(Service::Issuance, Some("manufacturer"))
                .await?,
        ));
    }

    let calls = closed_loop(&clients, &models, settings, settings.measure).await;
    let sustainable = ok_rate(&calls, settings.measure);
    let mut peaks = Peaks::default();
    peaks.observe(topology);
    report.line(format!(
        "sustainable: {:.1} calls/s ({:.0} robots/s) from {} closed-loop callers issuing {} robots a call \
         (the services' default limits: 8 database connections, 16 calls worked on at once, \
         100 ms wait for a slot, 2000 calls/s per identity); {}",
        sustainable,
        sustainable * f64::from(settings.batch),
        settings.callers,
        settings.batch,
        tally_between(&calls, calls[0].started, Instant::now()).summary()
    ));
    report.line(format!("peak RSS so far: {}", peaks.summary()));
    anyhow::ensure!(
        sustainable > 0.0,
        "no call succeeded at the sustainable rate"
    );

    let offered = sustainable * settings.factor;
    let (calls, not_sent, drained) = open_loop(&clients, &models, settings, offered).await;
    let sent = calls.len();
    let overload = tally_between(&calls, calls[0].started, Instant::now());
    let shed = overload.count(Code::ResourceExhausted) + overload.count(Code::Unavailable);
    peaks.observe(topology);
    report.line(format!(
        "overload: {:.0} calls/s offered for {} ({sent} sent, {not_sent} not sent: client saturated); \
         {:.1} calls/s OK",
        offered,
        humantime(settings.overload),
        overload.count(Code::Ok) as f64 / settings.overload.as_secs_f64(),
    ));
    report.line(format!("overload answers: {}", overload.summary()));
    report.line(format!(
        "in-flight calls all answered {} after the load stopped",
        humantime(drained)
    ));
    report.line(format!("peak RSS: {}", peaks.summary()));
    for code in overload.codes() {
        report.check(
            matches!(code, Code::Ok | Code::ResourceExhausted | Code::Unavailable),
            format!(
                "{} calls answered {code:?} under overload",
                overload.count(code)
            ),
        );
    }
    report.check(
        shed > 0,
        "no call was shed at ten times the sustainable rate",
    );
    match overload.quantile(Code::Ok, 0.99) {
        Some(p99) => {
            report.line(format!(
                "calls answered OK under overload: p50 {}, p99 {} (limit {})",
                humantime(overload.quantile(Code::Ok, 0.5).unwrap_or_default()),
                humantime(p99),
                humantime(settings.ok_within)
            ));
            report.check(
                p99 < settings.ok_within,
                format!(
                    "calls answered OK took {} at p99 under overload (limit {})",
                    humantime(p99),
                    humantime(settings.ok_within)
                ),
            );
        }
        None => report.violation("no call was answered OK under overload"),
    }
    if let Some(p99) = overload.quantile(Code::ResourceExhausted, 0.99) {
        report.check(
            p99 <= settings.shed_within,
            format!(
                "shed calls took {} at p99 (limit {})",
                humantime(p99),
                humantime(settings.shed_within)
            ),
        );
    }
    let codes: Vec<Code> = overload.codes().collect();
    if let Some(slowest) = overload.max_of(&codes) {
        report.check(
            slowest <= settings.answer_within,
            format!(
                "a call took {} to be answered (limit {})",
                humantime(slowest),
                humantime(settings.answer_within)
            ),
        );
    }
    for service in [Service::Issuance, Service::Registry] {
        if let Some(peak) = peaks.of(service) {
            report.check(
                peak <= settings.memory_limit,
                format!(
                    "{service} peaked at {} (limit {})",
                    mib(peak),
                    mib(settings.memory_limit)
                ),
            );
        }
    }

    let calls = closed_loop(&clients, &models, settings, settings.measure).await;
    let recovered = ok_rate(&calls, settings.measure);
    report.line(format!(
        "after the overload: {:.1} calls/s ({:.0}% of sustainable); {}",
        recovered,
        100.0 * recovered / sustainable,
        tally_between(&calls, calls[0].started, Instant::now()).summary()
    ));
    let current: Vec<String> = [Service::Issuance, Service::Registry]
        .iter()
        .filter_map(|s| Some(format!("{s} {}", mib(topology.memory(*s)?.current_bytes))))
        .collect();
    report.line(format!("RSS now: {}", current.join(", ")));
    // The machine drifts 10–20% from minute to minute (PERFORMANCE.md).
    report.check(
        recovered >= 0.5 * sustainable,
        format!(
            "throughput did not recover: {recovered:.1} calls/s against {sustainable:.1} before"
        ),
    );
    Ok(())
}

fn ok_rate(calls: &[Call], over: Duration) -> f64 {
    calls.iter().filter(|c| c.code == Code::Ok).count() as f64 / over.as_secs_f64()
}

fn request(model: &str, batch: i32) -> tonic::Request<issuance::IssueRobotIdsRequest> {
    let mut request = tonic::Request::new(issuance::IssueRobotIdsRequest {
        request_id: request_id("overload"),
        product_model: model.to_owned(),
        count: batch,
        production: None,
    });
    request.set_timeout(OPEN_LOOP_DEADLINE);
    request
}

async fn timed_call(mut client: IssuanceServiceClient<Channel>, model: String, batch: i32) -> Call {
    let started = Instant::now();
    let answer = tokio::time::timeout(
        OPEN_LOOP_DEADLINE + Duration::from_secs(1),
        client.issue_robot_ids(request(&model, batch)),
    )
    .await
    .unwrap_or_else(|_| Err(Status::deadline_exceeded("no answer in time")));
    Call {
        started,
        took: started.elapsed(),
        code: answer.map_or_else(|s| s.code(), |_| Code::Ok),
    }
}

/// `settings.callers` callers, each calling again as soon as answered.
async fn closed_loop(
    clients: &[IssuanceServiceClient<Channel>],
    models: &[String],
    settings: &Settings,
    duration: Duration,
) -> Vec<Call> {
    let until = Instant::now() + duration;
    let mut set = JoinSet::new();
    for i in 0..settings.callers {
        let client = clients[i % clients.len()].clone();
        let model = models[i % models.len()].clone();
        let batch = settings.batch;
        set.spawn(async move {
            let mut calls = Vec::new();
            while Instant::now() < until {
                calls.push(timed_call(client.clone(), model.clone(), batch).await);
            }
            calls
        });
    }
    let mut calls = Vec::new();
    while let Some(done) = set.join_next().await {
        calls.extend(done.expect("a caller task"));
    }
    calls.sort_by_key(|c| c.started);
    calls
}

/// Calls at `rate` a second for `settings.overload`, each on its own task,
/// at most `MAX_IN_FLIGHT` outstanding (past that a call is not sent and
/// counted). Returns the calls, how many were not sent, and how long the
/// last ones took to be answered after the load stopped.
async fn open_loop(
    clients: &[IssuanceServiceClient<Channel>],
    models: &[String],
    settings: &Settings,
    rate: f64,
) -> (Vec<Call>, usize, Duration) {
    const MAX_IN_FLIGHT: usize = 8_192;
    const TICK: Duration = Duration::from_millis(10);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut set = JoinSet::new();
    let mut not_sent = 0;
    let mut sent = 0usize;
    let start = Instant::now();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while start.elapsed() < settings.overload {
        ticker.tick().await;
        let due = (rate * start.elapsed().as_secs_f64()) as usize;
        while sent < due {
            sent += 1;
            if in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT {
                not_sent += 1;
                continue;
            }
            let client = clients[sent % clients.len()].clone();
            let model = models[sent % models.len()].clone();
            let in_flight = in_flight.clone();
            in_flight.fetch_add(1, Ordering::Relaxed);
            let batch = settings.batch;
            set.spawn(async move {
                let call = timed_call(client, model, batch).await;
                in_flight.fetch_sub(1, Ordering::Relaxed);
                call
            });
        }
    }
    let stopped = Instant::now();
    let mut calls = Vec::with_capacity(sent);
    while let Some(done) = set.join_next().await {
        calls.push(done.expect("a call task"));
    }
    calls.sort_by_key(|c| c.started);
    (calls, not_sent, stopped.elapsed())
}
