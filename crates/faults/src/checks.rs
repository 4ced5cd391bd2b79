//! What must hold after the faults, read from the services' own databases
//! and asked of the registry.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use robotid_proto::registry::v1 as registry;
use robotid_topology::{Service, Topology};
use sqlx::{PgPool, Row};
use tokio::task::JoinSet;

use crate::load::{Acknowledged, IssueLog};
use crate::report::{Report, cases, humantime};

/// After issuing under faults: what the callers saw, the outbox drains,
/// and everything acknowledged is stored exactly once.
pub async fn after_issuing(
    topology: &Topology,
    log: &IssueLog,
    report: &mut Report,
) -> anyhow::Result<()> {
    report.line(format!(
        "{} requests acknowledged ({} robots), {} retries, {} unresolved",
        log.acknowledged.len(),
        log.robots_acknowledged(),
        log.retries,
        log.unresolved
    ));
    report.check(
        log.unexpected.is_empty(),
        format!("unexpected answers: {}", cases(&log.unexpected)),
    );
    report.check(
        !log.acknowledged.is_empty(),
        "no IssueRobotIds was acknowledged at all",
    );
    let drained = outbox_drained(topology, Duration::from_secs(120)).await?;
    report.line(format!(
        "outbox drained {} after the load stopped",
        humantime(drained)
    ));
    acknowledged_robots_stored(topology, &log.acknowledged, report).await
}

/// Waits until issuance's outbox is empty (every issued robot delivered to
/// the registry); how long that took.
pub async fn outbox_drained(topology: &Topology, within: Duration) -> anyhow::Result<Duration> {
    let pool = connect(topology, Service::Issuance).await?;
    let started = Instant::now();
    loop {
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
            .fetch_one(&pool)
            .await?;
        if pending == 0 {
            pool.close().await;
            return Ok(started.elapsed());
        }
        anyhow::ensure!(
            started.elapsed() < within,
            "{pending} robots still in issuance's outbox after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn connect(topology: &Topology, service: Service) -> anyhow::Result<PgPool> {
    Ok(sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(topology.database_url(service)?)
        .await?)
}

/// Every acknowledged robot is in issuance's and the registry's databases
/// exactly once, with one ISSUED event; no serial was handed out twice;
/// the registry holds exactly what issuance issued; every acknowledged
/// robot's history verifies.
pub async fn acknowledged_robots_stored(
    topology: &Topology,
    acknowledged: &[Acknowledged],
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut owner: HashMap<&str, &str> = HashMap::new();
    for ack in acknowledged {
        for id in &ack.robot_ids {
            if let Some(first) = owner.insert(id, &ack.request_id) {
                report.violation(format!(
                    "{id} was answered to two requests, {first} and {}",
                    ack.request_id
                ));
            }
        }
    }

    let issuance = connect(topology, Service::Issuance).await?;
    let issued: Vec<String> = sqlx::query_scalar("SELECT robot_id FROM issued_robots")
        .fetch_all(&issuance)
        .await?;
    let serials_twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT b.manufacturer_code, b.model_code, r.sequence \
         FROM issued_robots r JOIN batches b ON b.id = r.batch_id \
         GROUP BY 1, 2, 3 HAVING count(*) > 1) twice",
    )
    .fetch_one(&issuance)
    .await?;
    // A call cut off between reserving its serials and writing its robots
    // leaves its batch RESERVED until the call is retried.
    let reserved: i64 = sqlx::query_scalar("SELECT count(*) FROM batches WHERE state = 'RESERVED'")
        .fetch_one(&issuance)
        .await?;
    issuance.close().await;
    let registry = connect(topology, Service::Registry).await?;
    let registered: Vec<String> = sqlx::query_scalar("SELECT robot_id FROM robots")
        .fetch_all(&registry)
        .await?;
    let mut issued_events: HashMap<String, i64> = HashMap::new();
    for row in sqlx::query(
        "SELECT robot_id, count(*) AS n FROM events WHERE kind = 'ISSUED' GROUP BY robot_id",
    )
    .fetch_all(&registry)
    .await?
    {
        issued_events.insert(row.try_get("robot_id")?, row.try_get("n")?);
    }
    registry.close().await;

    let issued_set: HashSet<&str> = issued.iter().map(String::as_str).collect();
    let registered_set: HashSet<&str> = registered.iter().map(String::as_str).collect();
    report.line(format!(
        "databases: issuance {} robots, registry {} robots; {} acknowledged; \
         {reserved} batches reserved and never finished (calls cut off, not retried)",
        issued.len(),
        registered.len(),
        owner.len()
    ));
    report.check(
        serials_twice == 0,
        format!("{serials_twice} sequence numbers issued twice within a model"),
    );
    let missing_issuance = owner.keys().filter(|id| !issued_set.contains(*id)).count();
    let missing_registry = owner
        .keys()
        .filter(|id| !registered_set.contains(*id))
        .count();
    report.check(
        missing_issuance == 0,
        format!("{missing_issuance} acknowledged robots missing from issuance's database"),
    );
    report.check(
        missing_registry == 0,
        format!("{missing_registry} acknowledged robots missing from the registry"),
    );
    let not_once = owner
        .keys()
        .filter(|id| issued_events.get(**id).copied() != Some(1))
        .count();
    report.check(
        not_once == 0,
        format!("{not_once} acknowledged robots without exactly one ISSUED event"),
    );
    let unknown = registered_set.difference(&issued_set).count();
    report.check(
        unknown == 0,
        format!("{unknown} robots in the registry that issuance never issued"),
    );
    let undelivered = issued_set.difference(&registered_set).count();
    report.check(
        undelivered == 0,
        format!("{undelivered} issued robots never reached the registry"),
    );

    let ids: Vec<String> = owner.keys().map(|id| (*id).to_owned()).collect();
    let broken = histories_broken(topology, ids).await?;
    report.check(
        broken.is_empty(),
        format!("histories that do not verify: {}", cases(&broken)),
    );
    report.line(format!(
        "VerifyHistory: {} acknowledged histories intact",
        owner.len() - broken.len()
    ));
    Ok(())
}

/// Asks VerifyHistory of every robot in `ids` (as the regulator, a few at
/// a time); the ones that are not intact, with the problem.
async fn histories_broken(topology: &Topology, ids: Vec<String>) -> anyhow::Result<Vec<String>> {
    let client = topology.registry_as("regulator").await?;
    let chunks: Vec<Vec<String>> = ids
        .chunks(ids.len().div_ceil(8).max(1))
        .map(<[String]>::to_vec)
        .collect();
    let mut set = JoinSet::new();
    for chunk in chunks {
        let mut client = client.clone();
        set.spawn(async move {
            let mut broken = Vec::new();
            for id in chunk {
                let verdict = client
                    .verify_history(registry::VerifyHistoryRequest {
                        robot_id: id.clone(),
                    })
                    .await;
                match verdict {
                    Ok(v) if v.get_ref().intact && v.get_ref().event_count == 1 => {}
                    Ok(v) => broken.push(format!("{id}: {:?}", v.into_inner())),
                    Err(status) => broken.push(format!("{id}: {status:?}")),
                }
            }
            broken
        });
    }
    let mut broken = Vec::new();
    while let Some(chunk) = set.join_next().await {
        broken.extend(chunk?);
    }
    Ok(broken)
}
