//! Embedded schema migrations and their runners.
//!
//! Each backend has its own folder under `crates/store/migrations/<backend>/`
//! with files named `NNNN_name.sql`; a new backend (MySQL) adds a folder and a
//! list here. Pending migrations are applied in version order inside one
//! transaction and recorded in `schema_migrations(version)`, so running them
//! again is a no-op. On PostgreSQL the transaction first takes an advisory
//! lock so two processes starting at once serialise; on SQLite it is a
//! `BEGIN IMMEDIATE` transaction, which takes the write lock up front.

use sqlx::{PgPool, SqlitePool};

use crate::error::{Result, StoreError};
use crate::rows::now_millis;

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// Version number (the `NNNN` prefix of the file name).
    pub(crate) version: i64,
    /// The rest of the file name, without extension.
    pub(crate) name: &'static str,
    /// The SQL script; may contain several statements.
    pub(crate) sql: &'static str,
}

/// SQLite migrations, in version order.
pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "cached_tokens",
        sql: include_str!("../migrations/sqlite/0002_cached_tokens.sql"),
    },
    Migration {
        version: 3,
        name: "drop_created_at_index",
        sql: include_str!("../migrations/sqlite/0003_drop_created_at_index.sql"),
    },
];

/// PostgreSQL migrations, in version order.
pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "cached_tokens",
        sql: include_str!("../migrations/postgres/0002_cached_tokens.sql"),
    },
    Migration {
        version: 3,
        name: "drop_created_at_index",
        sql: include_str!("../migrations/postgres/0003_drop_created_at_index.sql"),
    },
];

/// Key of the PostgreSQL advisory lock held while migrating ("swyd" + "migr").
const PG_LOCK_KEY: i64 = 0x7377_7964_6d69_6772;

const SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
     version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

fn migration_error(m: &Migration) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |source| StoreError::Migration {
        version: m.version,
        name: m.name,
        source,
    }
}

/// Applies pending SQLite migrations through the (single) writer pool.
pub(crate) async fn run_sqlite(pool: &SqlitePool) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::raw_sql(SCHEMA_TABLE).execute(&mut *tx).await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *tx)
        .await?;
    let mut count = 0;
    for m in SQLITE.iter().filter(|m| !applied.contains(&m.version)) {
        sqlx::raw_sql(m.sql)
            .execute(&mut *tx)
            .await
            .map_err(migration_error(m))?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
            .bind(m.version)
            .bind(m.name)
            .bind(now_millis())
            .execute(&mut *tx)
            .await
            .map_err(migration_error(m))?;
        count += 1;
    }
    tx.commit().await?;
    log_applied("sqlite", count, &applied);
    Ok(())
}

/// Applies pending PostgreSQL migrations under a transaction-scoped advisory lock.
pub(crate) async fn run_postgres(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PG_LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(SCHEMA_TABLE).execute(&mut *tx).await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *tx)
        .await?;
    let mut count = 0;
    for m in POSTGRES.iter().filter(|m| !applied.contains(&m.version)) {
        sqlx::raw_sql(m.sql)
            .execute(&mut *tx)
            .await
            .map_err(migration_error(m))?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(migration_error(m))?;
        count += 1;
    }
    tx.commit().await?;
    log_applied("postgres", count, &applied);
    Ok(())
}

fn log_applied(backend: &str, count: usize, already: &[i64]) {
    if count > 0 {
        tracing::info!(backend, count, "applied database migrations");
    }
    let known = match backend {
        "sqlite" => SQLITE,
        _ => POSTGRES,
    };
    let newest_known = known.last().map_or(0, |m| m.version);
    if let Some(newer) = already.iter().copied().filter(|v| *v > newest_known).max() {
        tracing::warn!(
            backend,
            version = newer,
            "database schema is newer than this binary knows"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(list: &[Migration]) {
        assert!(!list.is_empty());
        for pair in list.windows(2) {
            assert!(pair[0].version < pair[1].version, "versions must increase");
        }
        for m in list {
            assert!(!m.sql.trim().is_empty());
            assert!(!m.name.is_empty());
        }
    }

    #[test]
    fn migration_lists_are_ordered_and_non_empty() {
        check(SQLITE);
        check(POSTGRES);
    }

    #[test]
    fn backends_have_the_same_versions() {
        let v = |l: &[Migration]| l.iter().map(|m| (m.version, m.name)).collect::<Vec<_>>();
        assert_eq!(v(SQLITE), v(POSTGRES));
    }
}
