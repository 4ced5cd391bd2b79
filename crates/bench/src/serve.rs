//! `robotid-bench serve`: the services up on PostgreSQL with a seeded
//! registry, left running for standard load tools (h2load, a Python grpcio
//! client) until Ctrl-C.

use std::path::PathBuf;

use anyhow::Context;
use robotid_topology::{Options, Service, Topology};
use sqlx::postgres::PgPoolOptions;

use crate::report;
use crate::seed::{self, Line, Stage};

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Robots to seed the registry with.
    #[arg(long, default_value_t = 100_000)]
    pub robots: u64,

    /// Where to write `get-robot.bin` (one GetRobot call for `h2load -d`),
    /// `robot-ids.txt` (a sample of seeded codes) and a copy of the PKI.
    #[arg(long, default_value = "robotid-bench-serve")]
    pub out: PathBuf,

    /// The PostgreSQL server on which the databases are made.
    #[arg(
        long,
        env = "TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let options = Options::new(&args.postgres_url).setting("ROBOTID_RATE_LIMIT", 1_000_000);
    let topology = Topology::start(options).await?;
    let registry_db = PgPoolOptions::new()
        .max_connections(2)
        .connect(topology.database_url(Service::Registry)?)
        .await?;
    let mut line = Line::new("CN", crate::MANUFACTURER, "BR0001")?;
    let stride = (args.robots / 10_000).max(1);
    let seeded = seed::seed(
        &registry_db,
        &mut line,
        args.robots,
        Stage::Registered,
        stride,
    )
    .await?;
    seed::settle(&registry_db).await?;
    registry_db.close().await;

    std::fs::create_dir_all(&args.out).with_context(|| format!("making {}", args.out.display()))?;
    let pki = args.out.join("pki");
    std::fs::create_dir_all(&pki)?;
    for entry in std::fs::read_dir(topology.pki_dir())? {
        let entry = entry?;
        std::fs::copy(entry.path(), pki.join(entry.file_name()))?;
    }
    let first = seeded.kept.first().context("no robot seeded")?;
    std::fs::write(
        args.out.join("get-robot.bin"),
        report::get_robot_body(first.as_str()),
    )?;
    let ids: String = seeded
        .kept
        .iter()
        .map(|id| format!("{}\n", id.as_str()))
        .collect();
    std::fs::write(args.out.join("robot-ids.txt"), ids)?;

    let addr = topology.addr(Service::Registry)?;
    let out = args.out.display();
    println!("registry at https://{addr} with {} robots", seeded.robots);
    println!("wrote {out}/get-robot.bin, {out}/robot-ids.txt and {out}/pki/");
    println!();
    println!(
        "h2load -n 200000 -c 4 -m 16 -t 1 --log-file=h2load.log \\\n  \
         -H 'content-type: application/grpc' -H 'te: trailers' -d {out}/get-robot.bin \\\n  \
         https://{addr}/robotid.registry.v1.RegistryService/GetRobot"
    );
    println!(
        "python3 tests/interop/resolve_load.py {addr} {out}/pki {out}/robot-ids.txt --seconds 10 --concurrency 64"
    );
    println!();
    println!("Ctrl-C stops the services and drops their databases.");
    tokio::signal::ctrl_c().await?;
    topology.shutdown().await
}
