//! Databases for tests: every test gets its own — a temporary SQLite file,
//! or a fresh PostgreSQL database when `TEST_DATABASE_URL` names a server.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod catalog;
pub mod http;
pub mod identities;
pub mod keys;
pub mod process;
pub mod python;
pub mod reflection;
pub mod spans;
pub mod status;
pub mod tls;

pub use status::{assert_invalid, assert_refused, unique};

use std::io::Write;
use std::sync::Once;

use sqlx::{Connection, Executor, PgConnection};

/// Set (to anything) where the PostgreSQL suite must run, as in CI: a test
/// that would skip it fails instead.
pub const REQUIRE_POSTGRES: &str = "ROBOTID_REQUIRE_POSTGRES";
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    /// Holds the SQLite file's directory until the test ends.
    dir: Option<tempfile::TempDir>,
    /// The server URL and database name to drop at the end.
    postgres: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self {
            url,
            backend: Backend::Sqlite,
            dir: Some(dir),
            postgres: None,
        }
    }

    /// A fresh database on the server `TEST_DATABASE_URL` names, or `None`
    /// (said on the terminal) when it is not set.
    pub async fn postgres() -> Option<Self> {
        let Ok(server) = std::env::var(TEST_DATABASE_URL) else {
            if std::env::var_os(REQUIRE_POSTGRES).is_some() {
                panic!(
                    "{REQUIRE_POSTGRES} is set but {TEST_DATABASE_URL} is not: the PostgreSQL suite must run"
                );
            }
            announce_skip();
            return None;
        };
        Some(
            Self::postgres_on(&server)
                .await
                .unwrap_or_else(|e| panic!("{TEST_DATABASE_URL}={server}: {e}")),
        )
    }

    /// A fresh database on the PostgreSQL server `server` names (any
    /// database on it), dropped when this value is.
    pub async fn postgres_on(server: &str) -> Result<Self, sqlx::Error> {
        let name = format!("robotid_test_{}", random_suffix());
        let mut admin = PgConnection::connect(server).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        admin.close().await.ok();
        Ok(Self {
            url: replace_database(server, &name),
            backend: Backend::Postgres,
            dir: None,
            postgres: Some((server.to_owned(), name)),
        })
    }

    /// A fresh database on the same engine, for another service of the
    /// same test.
    pub async fn same_engine(&self) -> TestDb {
        match self.backend {
            Backend::Sqlite => TestDb::sqlite(),
            Backend::Postgres => TestDb::postgres().await.expect("PostgreSQL is configured"),
        }
    }

    /// A directory that lives as long as this database (SQLite only).
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(|d| d.path())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside any runtime guarantee: use a small one of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio_runtime();
            runtime.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&server).await {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                }
            });
        })
        .join();
    }
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime to drop the test database")
}

fn announce_skip() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Straight to the terminal: the test harness captures println!.
        let _ = writeln!(
            std::io::stderr(),
            "note: PostgreSQL tests skipped (set {TEST_DATABASE_URL}=postgres://… to run them)"
        );
    });
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `postgres://user@host:port/db?x` with `db` replaced by `name`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Runs each named `async fn(TestDb)` as two tests, `sqlite::NAME` and
/// `postgres::NAME`: one conformance suite for both stores.
#[macro_export]
macro_rules! each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::TestDb::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::TestDb::postgres().await {
                        super::$name(db).await
                    }
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://h/test?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://h", "x"), "postgres://h/x");
    }
}
