//! SQLite backend: one single-connection writer pool plus a small read pool
//! (WAL lets readers run while the writer commits), so writes queue in-process
//! instead of failing with "database is locked".

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Arguments, SqlitePool};

use crate::error::{Result, StoreError, redact_url};
use crate::model::{ApiKey, Channel, NewApiKey, NewChannel, UsageFilter, UsageRecord, UsageRow};
use crate::rows::{
    ApiKeyRow, ChannelRow, USAGE_PARAMS_PER_ROW, UsageLogRow, channel_columns, cost_per_key,
    key_columns, now_millis, to_json, usage_columns, usage_insert_columns,
};

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Number of connections in the read pool of a file database.
const READ_POOL_SIZE: u32 = 4;

/// Multi-row INSERT sizes; a batch is split greedily into these so only four
/// distinct statements exist and the per-connection statement cache always hits.
const CHUNK_SIZES: [usize; 4] = [64, 16, 4, 1];

/// Reader and writer pools (the same single-connection pool for `:memory:`).
#[derive(Clone, Debug)]
pub(crate) struct SqlitePools {
    read: SqlitePool,
    write: SqlitePool,
}

/// Whether a `sqlite:` URL names an in-memory database.
pub(crate) fn is_memory_url(url: &str) -> bool {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (db, query) = rest.split_once('?').unwrap_or((rest, ""));
    db == ":memory:" || query.split('&').any(|p| p == "mode=memory")
}

/// Opens the pools and runs migrations.
pub(crate) async fn connect(url: &str) -> Result<SqlitePools> {
    let connect_err = |source| StoreError::Connect {
        url: redact_url(url),
        source,
    };
    let base = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::InvalidUrl {
            url: redact_url(url),
            reason: e.to_string(),
        })?
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .synchronous(SqliteSynchronous::Normal);

    if is_memory_url(url) {
        // One connection that never expires: every query sees the same database.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(base)
            .await
            .map_err(connect_err)?;
        crate::migrate::run_sqlite(&pool).await?;
        return Ok(SqlitePools {
            read: pool.clone(),
            write: pool,
        });
    }

    // journal_mode is deliberately not a connect option: switching to WAL needs
    // an exclusive lock that SQLite does not wait for, so it is retried below.
    let opts = base.create_if_missing(true);
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(opts.clone())
        .await
        .map_err(connect_err)?;
    enable_wal(&write).await?;
    crate::migrate::run_sqlite(&write).await?;
    let read = SqlitePoolOptions::new()
        .max_connections(READ_POOL_SIZE)
        .connect_with(opts.pragma("query_only", "ON"))
        .await
        .map_err(connect_err)?;
    Ok(SqlitePools { read, write })
}

/// Whether an error is SQLITE_BUSY / SQLITE_LOCKED (any extended code).
fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

/// Puts the database file in WAL mode (persistent), retrying while another
/// process holds a lock, for up to the busy timeout.
async fn enable_wal(pool: &SqlitePool) -> Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match sqlx::query_scalar::<_, String>("PRAGMA journal_mode = WAL")
            .fetch_one(pool)
            .await
        {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                tracing::warn!(
                    mode,
                    "SQLite refused WAL journal mode; continuing without it"
                );
                return Ok(());
            }
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

impl SqlitePools {
    pub(crate) async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        sqlx::query("SELECT 1").execute(&self.write).await?;
        Ok(())
    }

    pub(crate) async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    pub(crate) async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    pub(crate) async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(now_millis())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub(crate) async fn set_setting_if_absent(&self, key: &str, value: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .bind(now_millis())
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn insert_key(&self, new: &NewApiKey) -> Result<ApiKey> {
        let models = new
            .models
            .as_ref()
            .map(|m| to_json("api_keys.models", m))
            .transpose()?;
        let row: ApiKeyRow = sqlx::query_as(concat!(
            "INSERT INTO api_keys (name, key_hash, key_prefix, quota_micros, used_micros, models, \
             rpm, expires_at, revoked, created_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?, 0, ?) RETURNING ",
            key_columns!()
        ))
        .bind(&new.name)
        .bind(&new.key_hash)
        .bind(&new.key_prefix)
        .bind(new.quota_micros)
        .bind(models)
        .bind(new.rpm)
        .bind(new.expires_at.map(|t| t.timestamp_millis()))
        .bind(now_millis())
        .fetch_one(&self.write)
        .await?;
        row.into_model()
    }

    pub(crate) async fn list_keys(&self) -> Result<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys ORDER BY id"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(ApiKeyRow::into_model).collect()
    }

    pub(crate) async fn get_key(&self, id: i64) -> Result<Option<ApiKey>> {
        let row: Option<ApiKeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        row.map(ApiKeyRow::into_model).transpose()
    }

    pub(crate) async fn get_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        let row: Option<ApiKeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE key_hash = ?"
        ))
        .bind(key_hash)
        .fetch_optional(&self.read)
        .await?;
        row.map(ApiKeyRow::into_model).transpose()
    }

    pub(crate) async fn revoke_key(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE api_keys SET revoked = 1 WHERE id = ?")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn upsert_channel(&self, ch: &NewChannel) -> Result<Channel> {
        let now = now_millis();
        let row: ChannelRow = sqlx::query_as(concat!(
            "INSERT INTO channels (name, provider, base_url, key, models, model_map, priority, \
             weight, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET provider = excluded.provider, \
             base_url = excluded.base_url, key = excluded.key, models = excluded.models, \
             model_map = excluded.model_map, priority = excluded.priority, \
             weight = excluded.weight, enabled = excluded.enabled, \
             updated_at = excluded.updated_at RETURNING ",
            channel_columns!()
        ))
        .bind(&ch.name)
        .bind(&ch.provider)
        .bind(&ch.base_url)
        .bind(&ch.key)
        .bind(to_json("channels.models", &ch.models)?)
        .bind(to_json("channels.model_map", &ch.model_map)?)
        .bind(ch.priority)
        .bind(ch.weight)
        .bind(ch.enabled)
        .bind(now)
        .bind(now)
        .fetch_one(&self.write)
        .await?;
        row.into_model()
    }

    pub(crate) async fn list_channels(&self) -> Result<Vec<Channel>> {
        let rows: Vec<ChannelRow> = sqlx::query_as(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM channels ORDER BY id"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(ChannelRow::into_model).collect()
    }

    pub(crate) async fn insert_usage_batch(&self, rows: &[UsageRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let mut rest = rows;
        for (slot, &size) in CHUNK_SIZES.iter().enumerate() {
            while rest.len() >= size {
                let (chunk, tail) = rest.split_at(size);
                // Arguments sized once: binding row by row grew the vector a dozen times.
                let mut args = SqliteArguments::default();
                Arguments::reserve(&mut args, size * USAGE_PARAMS_PER_ROW, 0);
                for r in chunk {
                    add_usage_row(&mut args, r).map_err(sqlx::Error::Encode)?;
                }
                sqlx::query_with(insert_sql(slot), args)
                    .execute(&mut *tx)
                    .await?;
                rest = tail;
            }
        }
        for (key_id, cost) in cost_per_key(rows) {
            sqlx::query("UPDATE api_keys SET used_micros = used_micros + ? WHERE id = ?")
                .bind(cost)
                .bind(key_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn list_usage(&self, filter: &UsageFilter) -> Result<Vec<UsageRecord>> {
        // Placeholders appear in the order key_id, before_id, limit in every variant.
        let sql = match (filter.key_id, filter.before_id) {
            (None, None) => concat!(
                "SELECT ",
                usage_columns!(),
                " FROM usage_logs ORDER BY id DESC LIMIT ?"
            ),
            (Some(_), None) => concat!(
                "SELECT ",
                usage_columns!(),
                " FROM usage_logs WHERE key_id = ? ORDER BY id DESC LIMIT ?"
            ),
            (None, Some(_)) => concat!(
                "SELECT ",
                usage_columns!(),
                " FROM usage_logs WHERE id < ? ORDER BY id DESC LIMIT ?"
            ),
            (Some(_), Some(_)) => concat!(
                "SELECT ",
                usage_columns!(),
                " FROM usage_logs WHERE key_id = ? AND id < ? ORDER BY id DESC LIMIT ?"
            ),
        };
        let mut q = sqlx::query_as::<_, UsageLogRow>(sql);
        if let Some(key) = filter.key_id {
            q = q.bind(key);
        }
        if let Some(before) = filter.before_id {
            q = q.bind(before);
        }
        let rows = q
            .bind(filter.effective_limit())
            .fetch_all(&self.read)
            .await?;
        rows.into_iter().map(UsageLogRow::into_model).collect()
    }
}

/// Appends one usage row's values, in `usage_insert_columns!` order.
fn add_usage_row(args: &mut SqliteArguments, r: &UsageRow) -> std::result::Result<(), BoxDynError> {
    // Text is bound as `Arc<str>`, shared with the row; `&str` or `&String` would be copied.
    Arguments::add(args, r.request_id.clone())?;
    Arguments::add(args, r.created_at.timestamp_millis())?;
    Arguments::add(args, r.key_id)?;
    Arguments::add(args, r.channel_id)?;
    Arguments::add(args, r.endpoint.clone())?;
    Arguments::add(args, r.requested_model.clone())?;
    Arguments::add(args, r.upstream_model.clone())?;
    Arguments::add(args, r.prompt_tokens)?;
    Arguments::add(args, r.completion_tokens)?;
    Arguments::add(args, r.total_tokens)?;
    Arguments::add(args, r.estimated)?;
    Arguments::add(args, r.cost_micros)?;
    Arguments::add(args, r.latency_ms)?;
    Arguments::add(args, r.ttft_ms)?;
    Arguments::add(args, r.status)?;
    Arguments::add(args, r.error_code.as_deref().map(Arc::<str>::from))?;
    Arguments::add(args, r.stream)?;
    Arguments::add(args, r.cached_tokens)
}

/// The multi-row INSERT for `CHUNK_SIZES[slot]` rows, built once per process.
fn insert_sql(slot: usize) -> &'static str {
    static SQL: [OnceLock<String>; CHUNK_SIZES.len()] =
        [const { OnceLock::new() }; CHUNK_SIZES.len()];
    SQL[slot].get_or_init(|| {
        let one = format!("({})", vec!["?"; USAGE_PARAMS_PER_ROW].join(", "));
        let values = vec![one; CHUNK_SIZES[slot]].join(", ");
        format!(
            "INSERT INTO usage_logs ({}) VALUES {values}",
            usage_insert_columns!()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_memory_urls() {
        assert!(is_memory_url("sqlite::memory:"));
        assert!(is_memory_url("sqlite://:memory:"));
        assert!(is_memory_url("sqlite://?mode=memory"));
        assert!(!is_memory_url("sqlite://data/sy.db"));
        assert!(!is_memory_url("sqlite:///tmp/x.db?mode=rwc"));
    }

    #[test]
    fn insert_sql_has_right_placeholder_count() {
        for (slot, size) in CHUNK_SIZES.iter().enumerate() {
            let sql = insert_sql(slot);
            assert_eq!(sql.matches('?').count(), size * USAGE_PARAMS_PER_ROW);
            assert!(std::ptr::eq(sql, insert_sql(slot)), "built once");
        }
    }
}
