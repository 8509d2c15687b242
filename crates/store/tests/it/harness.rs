//! Test harness: runs one scenario against a fresh SQLite file or a fresh
//! PostgreSQL database, and the `store_tests!` / `url_tests!` macros that
//! generate one test per backend for each scenario.

use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use switchyard_store::Store;

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Generates `sqlite::NAME` and `postgres::NAME` tests for scenarios taking a `Store`.
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run_sqlite(super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run_postgres(super::$name).await;
                }
            )*
        }
    };
}

/// Generates `sqlite::NAME` and `postgres::NAME` tests for scenarios taking a URL.
macro_rules! url_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run_sqlite_url(super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run_postgres_url(super::$name).await;
                }
            )*
        }
    };
}

pub(crate) use {store_tests, url_tests};

/// A random 64-bit value (std only: hashes a per-process random seed with a counter).
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    std::collections::hash_map::RandomState::new().hash_one((
        std::process::id(),
        std::time::SystemTime::now(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
    ))
}

/// Runs `f` with the URL of a fresh SQLite file in a temporary directory.
pub(crate) async fn run_sqlite_url<F, Fut>(f: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("switchyard.db").display());
    f(url).await;
    drop(dir);
}

/// Runs `f` with a store on a fresh SQLite file.
pub(crate) async fn run_sqlite<F, Fut>(f: F)
where
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_sqlite_url(|url| with_store(url, f)).await;
}

async fn with_store<F, Fut>(url: String, f: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let store = Store::connect(&url).await.expect("connect");
    f(store.clone()).await;
    store.close().await;
}

/// The admin URL of the test PostgreSQL server.
pub(crate) fn postgres_admin_url() -> String {
    std::env::var("SWITCHYARD_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

/// `url` with its database name replaced by `db`.
pub(crate) fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    format!("{}/{db}{query}", &base[..authority_end])
}

/// Connects to the admin database, or explains how to start PostgreSQL and
/// returns `None` (panics instead when `CI=true`).
async fn admin_connection() -> Option<PgConnection> {
    let url = postgres_admin_url();
    match PgConnection::connect(&url).await {
        Ok(conn) => Some(conn),
        Err(e) => {
            let msg = format!(
                "PostgreSQL not reachable at {} ({e}). Start it with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                 or set SWITCHYARD_TEST_POSTGRES_URL.",
                switchyard_store::redact_url(&url)
            );
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{msg}");
            }
            eprintln!("SKIPPING PostgreSQL test: {msg}");
            None
        }
    }
}

/// Runs `f` with the URL of a freshly created PostgreSQL database, dropped afterwards
/// (also when `f` panics, whose panic is then re-raised).
pub(crate) async fn run_postgres_url<F, Fut>(f: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(mut admin) = admin_connection().await else {
        return;
    };
    let db = format!("sy_{:016x}", random_u64());
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .await
        .expect("create test database");
    let outcome = tokio::spawn(f(with_database(&postgres_admin_url(), &db))).await;
    admin
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
        )))
        .await
        .expect("drop test database");
    admin.close().await.ok();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs `f` with a store on a fresh PostgreSQL database.
pub(crate) async fn run_postgres<F, Fut>(f: F)
where
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_postgres_url(|url| with_store(url, f)).await;
}

/// Number of rows in `schema_migrations`, read with a raw connection.
pub(crate) async fn applied_migrations(url: &str) -> i64 {
    let sql = "SELECT COUNT(*) FROM schema_migrations";
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.expect("sqlite");
        sqlx::query_scalar(sql)
            .fetch_one(&mut c)
            .await
            .expect("count")
    } else {
        let mut c = PgConnection::connect(url).await.expect("postgres");
        sqlx::query_scalar(sql)
            .fetch_one(&mut c)
            .await
            .expect("count")
    }
}

#[test]
fn with_database_replaces_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "sy_1"),
        "postgres://postgres@127.0.0.1:5432/sy_1"
    );
    assert_eq!(
        with_database("postgres://u:p@h:1/test?sslmode=disable", "x"),
        "postgres://u:p@h:1/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
