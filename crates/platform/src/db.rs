//! Opening a service's database: SQLite (the embedded default) or
//! PostgreSQL, chosen by the URL, through sqlx's `Any` driver so that one
//! store serves both.

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

/// Which engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Self, DbError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(DbError::Scheme(
                url.split(':').next().unwrap_or_default().to_owned(),
            ))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL scheme {0:?} is not supported: use sqlite:// or postgres://")]
    Scheme(String),
    #[error("cannot open the database")]
    Connect(#[source] sqlx::Error),
    #[error("cannot migrate the database")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// A service's database and the engine behind it.
#[derive(Debug, Clone)]
pub struct Database {
    pub pool: AnyPool,
    pub backend: Backend,
}

/// Migrations of one service, one directory per engine.
pub struct Migrations {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
}

impl Migrations {
    /// Every migration exists for both engines under one version, and no
    /// version is used twice (two branches that each added a migration of
    /// the same timestamp would otherwise fail only when a database runs
    /// them, as a unique-constraint error). Each service's tests call it.
    pub fn check(&self) -> Result<(), String> {
        let versions = |migrator: &Migrator| -> Result<Vec<i64>, String> {
            let mut versions: Vec<i64> = migrator.iter().map(|m| m.version).collect();
            let count = versions.len();
            versions.sort_unstable();
            versions.dedup();
            if versions.len() != count {
                return Err(format!("a migration version is used twice: {versions:?}"));
            }
            Ok(versions)
        };
        let (sqlite, postgres) = (versions(self.sqlite)?, versions(self.postgres)?);
        if sqlite != postgres {
            return Err(format!(
                "the engines' migrations differ: SQLite {sqlite:?}, PostgreSQL {postgres:?}"
            ));
        }
        Ok(())
    }
}

impl Database {
    /// Opens the pool and brings the schema up to date.
    ///
    /// SQLite: the file is created if missing, in WAL mode with
    /// `synchronous=FULL` so that an acknowledged write survives a power cut.
    /// PostgreSQL: connections are not pinged before use (`test_before_acquire`
    /// costs ~20% of lookup throughput); a dead one fails its query instead
    /// and the caller gets UNAVAILABLE.
    pub async fn open(
        url: &str,
        max_connections: u32,
        migrations: &Migrations,
    ) -> Result<Self, DbError> {
        install_default_drivers();
        let backend = Backend::of_url(url)?;
        let options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(false);
        let pool = match backend {
            Backend::Sqlite => {
                create_parent_directory(url).map_err(|e| DbError::Connect(sqlx::Error::Io(e)))?;
                let url = sqlite_url_creating_file(url);
                options
                    .after_connect(|connection, _| {
                        Box::pin(async move {
                            connection
                                .execute(
                                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                                )
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
            }
            Backend::Postgres => options.connect(url).await,
        }
        .map_err(DbError::Connect)?;

        let migrator = match backend {
            Backend::Sqlite => migrations.sqlite,
            Backend::Postgres => migrations.postgres,
        };
        migrator.run(&pool).await.map_err(DbError::Migrate)?;
        observe_pool(&pool);
        Ok(Self { pool, backend })
    }
}

/// Connections in use and idle, as the metric
/// `db.client.connections.usage{state}`.
fn observe_pool(pool: &AnyPool) {
    let pool = pool.clone();
    opentelemetry::global::meter("robotid")
        .i64_observable_gauge("db.client.connections.usage")
        .with_description("Database connections in use and idle")
        .with_callback(move |observer| {
            let idle = pool.num_idle() as i64;
            let size = i64::from(pool.size());
            observer.observe(
                size - idle,
                &[opentelemetry::KeyValue::new("state", "used")],
            );
            observer.observe(idle, &[opentelemetry::KeyValue::new("state", "idle")]);
        })
        .build();
}

/// `$first, $first+1, …` for `count` bound parameters: the list of a
/// multi-row statement built per call (`IN (…)`, `VALUES (…)`).
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, …, $columns), ($columns+1, …), …` for `count` rows of a
/// multi-row `VALUES`.
pub fn value_rows(count: usize, columns: usize) -> String {
    (0..count)
        .map(|i| format!("({})", placeholders(i * columns + 1, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The file a `sqlite:` URL names; `None` for other URLs and in-memory
/// databases.
pub fn sqlite_path(url: &str) -> Option<&std::path::Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::Path::new(path))
}

/// A newcomer's `sqlite://robotid-dev/registry.db` works without making the
/// directory first.
fn create_parent_directory(url: &str) -> std::io::Result<()> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => std::fs::create_dir_all(parent),
        _ => Ok(()),
    }
}

/// `sqlite://path` opens read-write but does not create; add `mode=rwc`
/// unless the URL says otherwise.
fn sqlite_url_creating_file(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}
