//! The floors: what a bare server does on this machine, measured in the
//! same run as the services so that the ratios compare like with like.
//!
//! - A: a bare tonic server, with the services' rustls mutual TLS, answering
//!   `GetRobot` with a fixed robot (the gRPC round-trip limit);
//! - B: the same server answering `GetRobot` with one primary-key `SELECT`
//!   on the registry's own `robots` table through a plain sqlx `PgPool`
//!   (the lookup limit);
//! - C: plain sqlx inserts of the rows the registry writes, into scratch
//!   copies of its tables (the write limit), see [`insert_single`] and
//!   [`insert_batches`].
//!
//! A and B run in a child process (`robotid-bench serve-floor`), as the
//! services do, so that the load generator shares the machine with them
//! the same way.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use robotid_domain::code::RobotId;
use robotid_domain::history::{EventDetails, EventDraft};
use robotid_domain::lifecycle::{EventKind, Status};
use robotid_domain::standing::Standing;
use robotid_domain::time::Timestamp;
use robotid_platform::tls::TlsArgs;
use robotid_proto::common::v1 as common;
use robotid_proto::registry::v1 as pb;
use robotid_proto::registry::v1::registry_service_server::{
    RegistryService, RegistryServiceServer,
};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status as RpcStatus};

use crate::load::{self, Measurement, Until};
use crate::seed::{self, Line, Stage};

/// Which floor server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FloorKind {
    /// A: a fixed answer.
    Echo,
    /// B: one primary-key SELECT.
    Select,
    /// W: a bare axum server on plain HTTP/1.1 answering a fixed page the
    /// size of a card (the public web card's limit).
    Page,
}

/// The page floor W answers: as large as a robot's HTML card.
const FIXED_PAGE_BYTES: usize = 3_500;

/// `robotid-bench serve-floor`: the floor server's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeFloorArgs {
    #[arg(long, value_enum)]
    pub kind: FloorKind,
    /// A PKI directory (`ca.crt`, `registry.{crt,key}`): the server serves
    /// with the registry's certificate, as the registry does.
    #[arg(long)]
    pub pki: PathBuf,
    /// The registry database, for `select`.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Connections in the pool, as the registry has.
    #[arg(long, default_value_t = 8)]
    pub connections: u32,
}

/// Serves a floor until killed; prints `listening ADDR` once bound.
pub async fn serve(args: ServeFloorArgs) -> anyhow::Result<()> {
    if args.kind == FloorKind::Page {
        return serve_page().await;
    }
    let tls = TlsArgs::from_dir(&args.pki, "registry")
        .load()?
        .context("the floor server needs the PKI")?;
    let pool = match args.kind {
        FloorKind::Echo | FloorKind::Page => None,
        FloorKind::Select => {
            let url = args
                .database_url
                .as_deref()
                .context("--database-url is required for the select floor")?;
            // Best case for a pool: no ping before each use.
            Some(
                PgPoolOptions::new()
                    .max_connections(args.connections)
                    .test_before_acquire(false)
                    .connect(url)
                    .await?,
            )
        }
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    // The same as the services: TLS with optional client certificates,
    // no Nagle delay.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    println!("listening {addr}");
    Server::builder()
        .tls_config(tls.server_config())?
        .add_service(RegistryServiceServer::new(FloorRegistry { pool }))
        .serve_with_incoming(incoming)
        .await?;
    Ok(())
}

/// Floor W: bare axum, as the registry's public listener uses it, without
/// its middleware, answering one fixed page.
async fn serve_page() -> anyhow::Result<()> {
    let page: &'static str = Box::leak("x".repeat(FIXED_PAGE_BYTES).into_boxed_str());
    let app = axum::Router::new().route(
        "/r/{code}",
        axum::routing::get(move || async move {
            (
                [(http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                page,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    println!("listening {}", listener.local_addr()?);
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}

/// A floor server running as a child process; killed when dropped.
pub struct FloorProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl FloorProcess {
    pub fn start(
        kind: FloorKind,
        pki: &Path,
        database_url: Option<&str>,
        connections: u32,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .arg("serve-floor")
            .arg("--kind")
            .arg(match kind {
                FloorKind::Echo => "echo",
                FloorKind::Select => "select",
                FloorKind::Page => "page",
            })
            .arg("--pki")
            .arg(pki)
            .arg("--connections")
            .arg(connections.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = database_url {
            command.arg("--database-url").arg(url);
        }
        let mut child = command.spawn().context("starting the floor server")?;
        let stdout = child.stdout.take().context("the floor server's stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let addr = match line.trim().strip_prefix("listening ") {
            Some(addr) => addr.parse()?,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!("the {kind:?} floor server did not start: {line:?}");
            }
        };
        Ok(Self { child, addr })
    }
}

impl Drop for FloorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct FloorRegistry {
    pool: Option<PgPool>,
}

/// The public card of a robot of the benchmark, for the echo floor: the
/// same size as the registry's answers.
fn fixed_robot() -> pb::Robot {
    pb::Robot {
        robot_id: "CN0001BR00010000000000000001G".into(),
        display_id: "CN-0001-BR0001-0000000000000001G".into(),
        country_code: "CN".into(),
        manufacturer_code: "0001".into(),
        model_code: "BR0001".into(),
        serial: "0000000000000001G".into(),
        manufacturer_name: "Bench Robotics 0001".into(),
        model_name: "Bench Model BR0001".into(),
        status: common::RobotStatus::Registered.into(),
        production: Some(common::Production {
            production_time: Some(prost_types::Timestamp {
                seconds: 1_764_000_000,
                nanos: 0,
            }),
            factory: String::new(),
        }),
        view: pb::RobotView::Public.into(),
        ..pb::Robot::default()
    }
}

const SELECT_PUBLIC: &str = "SELECT robot_id, manufacturer_name, model_name, produced_at, \
     status, recalled, open_recalls FROM robots WHERE robot_id = $1";

impl FloorRegistry {
    async fn select(pool: &PgPool, robot_id: &str) -> Result<pb::Robot, RpcStatus> {
        let row = sqlx::query(SELECT_PUBLIC)
            .bind(robot_id)
            .fetch_optional(pool)
            .await
            .map_err(|e| RpcStatus::unavailable(e.to_string()))?
            .ok_or_else(|| RpcStatus::not_found(robot_id.to_owned()))?;
        let read = |e: sqlx::Error| RpcStatus::internal(e.to_string());
        let status: String = row.try_get("status").map_err(read)?;
        let produced_at: Option<i64> = row.try_get("produced_at").map_err(read)?;
        let id: String = row.try_get("robot_id").map_err(read)?;
        Ok(pb::Robot {
            country_code: id[..2].into(),
            manufacturer_code: id[2..6].into(),
            model_code: id[6..12].into(),
            serial: id[12..].into(),
            display_id: format!("{}-{}-{}-{}", &id[..2], &id[2..6], &id[6..12], &id[12..]),
            robot_id: id,
            manufacturer_name: row.try_get("manufacturer_name").map_err(read)?,
            model_name: row.try_get("model_name").map_err(read)?,
            status: match Status::parse(&status) {
                Some(Status::InMarket) => common::RobotStatus::InMarket,
                _ => common::RobotStatus::Registered,
            }
            .into(),
            recalled: row.try_get::<i64, _>("recalled").map_err(read)? != 0,
            production: Some(common::Production {
                production_time: produced_at.map(|micros| {
                    let (seconds, nanos) = Timestamp::from_micros(micros).to_parts();
                    prost_types::Timestamp { seconds, nanos }
                }),
                factory: String::new(),
            }),
            open_recall: row
                .try_get::<String, _>("open_recalls")
                .map_err(read)?
                .split(',')
                .next()
                .unwrap_or_default()
                .to_owned(),
            view: pb::RobotView::Public.into(),
            ..pb::Robot::default()
        })
    }
}

fn floor_only<T>() -> Result<Response<T>, RpcStatus> {
    Err(RpcStatus::unimplemented(
        "the floor server answers GetRobot only",
    ))
}

#[tonic::async_trait]
impl RegistryService for FloorRegistry {
    async fn get_robot(
        &self,
        request: Request<pb::GetRobotRequest>,
    ) -> Result<Response<pb::Robot>, RpcStatus> {
        match &self.pool {
            None => Ok(Response::new(fixed_robot())),
            Some(pool) => {
                let robot_id = request.into_inner().robot_id;
                Ok(Response::new(Self::select(pool, &robot_id).await?))
            }
        }
    }

    async fn register_robots(
        &self,
        _: Request<pb::RegisterRobotsRequest>,
    ) -> Result<Response<pb::RegisterRobotsResponse>, RpcStatus> {
        floor_only()
    }

    async fn record_event(
        &self,
        _: Request<pb::RecordEventRequest>,
    ) -> Result<Response<pb::Event>, RpcStatus> {
        floor_only()
    }

    async fn record_events(
        &self,
        _: Request<pb::RecordEventsRequest>,
    ) -> Result<Response<pb::RecordEventsResponse>, RpcStatus> {
        floor_only()
    }

    async fn list_events(
        &self,
        _: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, RpcStatus> {
        floor_only()
    }

    async fn verify_history(
        &self,
        _: Request<pb::VerifyHistoryRequest>,
    ) -> Result<Response<pb::VerifyHistoryResponse>, RpcStatus> {
        floor_only()
    }

    async fn create_recall(
        &self,
        _: Request<pb::CreateRecallRequest>,
    ) -> Result<Response<pb::Recall>, RpcStatus> {
        floor_only()
    }

    async fn check_eligibility(
        &self,
        _: Request<pb::CheckEligibilityRequest>,
    ) -> Result<Response<pb::CheckEligibilityResponse>, RpcStatus> {
        floor_only()
    }

    async fn list_access_log(
        &self,
        _: Request<pb::ListAccessLogRequest>,
    ) -> Result<Response<pb::ListAccessLogResponse>, RpcStatus> {
        floor_only()
    }

    async fn verify_access_log(
        &self,
        _: Request<pb::VerifyAccessLogRequest>,
    ) -> Result<Response<pb::VerifyAccessLogResponse>, RpcStatus> {
        floor_only()
    }

    async fn get_checkpoint(
        &self,
        _: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::Checkpoint>, RpcStatus> {
        floor_only()
    }

    async fn get_inclusion_proof(
        &self,
        _: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::InclusionProof>, RpcStatus> {
        floor_only()
    }

    async fn get_consistency_proof(
        &self,
        _: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::ConsistencyProof>, RpcStatus> {
        floor_only()
    }

    async fn get_proof_bundle(
        &self,
        _: Request<pb::GetProofBundleRequest>,
    ) -> Result<Response<pb::ProofBundle>, RpcStatus> {
        floor_only()
    }

    async fn put_peer(
        &self,
        _: Request<pb::PutPeerRequest>,
    ) -> Result<Response<pb::Peer>, RpcStatus> {
        floor_only()
    }

    async fn list_peers(
        &self,
        _: Request<pb::ListPeersRequest>,
    ) -> Result<Response<pb::ListPeersResponse>, RpcStatus> {
        floor_only()
    }

    async fn list_fork_evidence(
        &self,
        _: Request<pb::ListForkEvidenceRequest>,
    ) -> Result<Response<pb::ListForkEvidenceResponse>, RpcStatus> {
        floor_only()
    }

    async fn deliver_hold(
        &self,
        _: Request<pb::DeliverHoldRequest>,
    ) -> Result<Response<pb::DeliverHoldResponse>, RpcStatus> {
        floor_only()
    }

    async fn list_clone_alarms(
        &self,
        _: Request<pb::ListCloneAlarmsRequest>,
    ) -> Result<Response<pb::ListCloneAlarmsResponse>, RpcStatus> {
        floor_only()
    }

    async fn list_recalls(
        &self,
        _: Request<pb::ListRecallsRequest>,
    ) -> Result<Response<pb::ListRecallsResponse>, RpcStatus> {
        floor_only()
    }

    async fn get_recall(
        &self,
        _: Request<pb::GetRecallRequest>,
    ) -> Result<Response<pb::Recall>, RpcStatus> {
        floor_only()
    }
}

const INSERT_EVENT: &str = "INSERT INTO events (robot_id, sequence, kind, holder_kind, holder, \
     country, recall, note, component, firmware_version, reference, occurred_at, recorded_at, \
     actor, status_after, version, previous_hash, hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";

/// Floor C, single rows: one MAINTENANCE_PERFORMED event row per
/// transaction (autocommit), each on its own robot, from `workers`
/// connections: the one row a `RecordEvent` must write.
pub async fn insert_single(
    scratch: &PgPool,
    workers: usize,
    duration: Duration,
) -> anyhow::Result<Measurement> {
    // The events table has no foreign key: the robots need not exist.
    let line = Line::new("CN", crate::MANUFACTURER, "FS0001")?;
    let pool = scratch.clone();
    let now = Timestamp::now();
    let measured = load::run(workers, Until::Elapsed(duration), move |_, index| {
        let pool = pool.clone();
        let robot_id = RobotId::issue(&line.country, &line.manufacturer, &line.model, index + 1);
        async move {
            let event = EventDraft {
                kind: EventKind::MaintenancePerformed,
                details: EventDetails {
                    note: Some("brake pads replaced".into()),
                    ..EventDetails::default()
                },
                occurred_at: now,
                actor: "robotid://service-provider/SP0001".into(),
            }
            .seal(
                robot_id,
                2,
                robotid_domain::history::Digest::GENESIS,
                now,
                &Standing::issued(),
            );
            sqlx::query(INSERT_EVENT)
                .bind(event.robot_id.as_str())
                .bind(event.sequence as i64)
                .bind(event.kind.as_str())
                .bind(None::<&str>)
                .bind(None::<&str>)
                .bind(None::<&str>)
                .bind(None::<&str>)
                .bind(event.details.note.as_deref())
                .bind(None::<&str>)
                .bind(None::<&str>)
                .bind(None::<&str>)
                .bind(event.occurred_at.as_micros())
                .bind(event.recorded_at.as_micros())
                .bind(&event.actor)
                .bind(event.status_after.as_str())
                .bind(i64::from(event.version))
                .bind(&event.previous_hash.0[..])
                .bind(&event.hash.0[..])
                .execute(&pool)
                .await
                .map(|_| 1)
                .map_err(|e| e.to_string())
        }
    })
    .await;
    Ok(measured)
}

const INSERT_ROBOTS_UNNEST: &str = "INSERT INTO robots (manufacturer_code, model_code, robot_id, \
     manufacturer_name, model_name, produced_at, factory, status, recalled, stolen, jurisdiction, \
     holder_kind, holder, open_recalls, stolen_by, origin_country, issued_at, event_count, \
     head_hash, registered_at, updated_at) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
     $6::bigint[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], \
     $13::text[], $14::text[], $15::text[], $16::text[], $17::bigint[], $18::bigint[], \
     $19::bytea[], $20::bigint[], $21::bigint[])";

const INSERT_EVENTS_UNNEST: &str = "INSERT INTO events (robot_id, sequence, kind, holder_kind, \
     holder, country, recall, note, component, firmware_version, reference, occurred_at, \
     recorded_at, actor, status_after, version, previous_hash, hash) \
     SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], \
     $13::bigint[], $14::text[], $15::text[], $16::bigint[], $17::bytea[], $18::bytea[])";

/// Floor C, batches: transactions of `batch` registrations, each a robot
/// row and its ISSUED event row, as two prepared `INSERT … SELECT FROM
/// UNNEST` statements; `workers` at once, each on its own model so that
/// keys ascend as issuance's do. Counts robots.
pub async fn insert_batches(
    scratch: &PgPool,
    workers: usize,
    batch: usize,
    duration: Duration,
) -> anyhow::Result<Measurement> {
    let mut lines = Vec::new();
    for worker in 0..workers {
        lines.push(tokio::sync::Mutex::new(Line::new(
            "CN",
            crate::MANUFACTURER,
            &format!("FB000{worker}"),
        )?));
    }
    let lines = std::sync::Arc::new(lines);
    let pool = scratch.clone();
    let measured = load::run(workers, Until::Elapsed(duration), move |worker, _| {
        let pool = pool.clone();
        let lines = std::sync::Arc::clone(&lines);
        async move {
            let rows = {
                let mut line = lines[worker].lock().await;
                seed::registrations(&mut line, batch, Stage::Registered)
            }
            .map_err(|e| e.to_string())?;
            insert_registrations(&pool, &rows)
                .await
                .map(|()| batch as u64)
                .map_err(|e| e.to_string())
        }
    })
    .await;
    Ok(measured)
}

async fn insert_registrations(
    pool: &PgPool,
    rows: &[(
        robotid_domain::robot::Robot,
        Vec<robotid_domain::history::Event>,
    )],
) -> Result<(), sqlx::Error> {
    let robots: Vec<_> = rows.iter().map(|(robot, _)| robot).collect();
    let events: Vec<_> = rows.iter().flat_map(|(_, events)| events).collect();
    let text =
        |f: &dyn Fn(&robotid_domain::robot::Robot) -> Option<String>| -> Vec<Option<String>> {
            robots.iter().map(|r| f(r)).collect()
        };
    let mut tx = pool.begin().await?;
    sqlx::query(INSERT_ROBOTS_UNNEST)
        .bind(text(&|r| {
            Some(r.robot_id.manufacturer().as_str().to_owned())
        }))
        .bind(text(&|r| Some(r.robot_id.model().as_str().to_owned())))
        .bind(text(&|r| Some(r.robot_id.as_str().to_owned())))
        .bind(text(&|r| Some(r.manufacturer_name.clone())))
        .bind(text(&|r| Some(r.model_name.clone())))
        .bind(
            robots
                .iter()
                .map(|r| r.production.produced_at.map(Timestamp::as_micros))
                .collect::<Vec<_>>(),
        )
        .bind(text(&|r| r.production.factory.clone()))
        .bind(text(&|r| Some(r.standing.state.status.as_str().to_owned())))
        .bind(
            robots
                .iter()
                .map(|r| i64::from(r.standing.state.holds.recalls))
                .collect::<Vec<_>>(),
        )
        .bind(
            robots
                .iter()
                .map(|r| i64::from(r.standing.state.holds.stolen))
                .collect::<Vec<_>>(),
        )
        .bind(text(&|r| {
            Some(r.standing.state.jurisdiction.as_str().to_owned())
        }))
        .bind(text(&|_| None))
        .bind(text(&|_| None))
        .bind(text(&|r| Some(r.standing.open_recalls.join(","))))
        .bind(text(&|r| r.standing.stolen_by.clone()))
        .bind(text(&|r| r.origin_country.clone()))
        .bind(
            robots
                .iter()
                .map(|r| r.issued_at.as_micros())
                .collect::<Vec<_>>(),
        )
        .bind(
            robots
                .iter()
                .map(|r| r.event_count as i64)
                .collect::<Vec<_>>(),
        )
        .bind(
            robots
                .iter()
                .map(|r| r.head_hash.0.to_vec())
                .collect::<Vec<_>>(),
        )
        .bind(
            robots
                .iter()
                .map(|r| r.registered_at.as_micros())
                .collect::<Vec<_>>(),
        )
        .bind(
            robots
                .iter()
                .map(|r| r.updated_at.as_micros())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;
    let event_text =
        |f: &dyn Fn(&robotid_domain::history::Event) -> Option<String>| -> Vec<Option<String>> {
            events.iter().map(|e| f(e)).collect()
        };
    sqlx::query(INSERT_EVENTS_UNNEST)
        .bind(event_text(&|e| Some(e.robot_id.as_str().to_owned())))
        .bind(events.iter().map(|e| e.sequence as i64).collect::<Vec<_>>())
        .bind(event_text(&|e| Some(e.kind.as_str().to_owned())))
        .bind(event_text(&|_| None))
        .bind(event_text(&|_| None))
        .bind(event_text(&|e| e.details.country.clone()))
        .bind(event_text(&|e| e.details.recall.clone()))
        .bind(event_text(&|e| e.details.note.clone()))
        .bind(event_text(&|e| e.details.component.clone()))
        .bind(event_text(&|e| e.details.firmware_version.clone()))
        .bind(event_text(&|e| e.details.reference.clone()))
        .bind(
            events
                .iter()
                .map(|e| e.occurred_at.as_micros())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.recorded_at.as_micros())
                .collect::<Vec<_>>(),
        )
        .bind(event_text(&|e| Some(e.actor.clone())))
        .bind(event_text(&|e| Some(e.status_after.as_str().to_owned())))
        .bind(
            events
                .iter()
                .map(|e| i64::from(e.version))
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.previous_hash.0.to_vec())
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|e| e.hash.0.to_vec()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
