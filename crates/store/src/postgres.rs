//! PostgreSQL backend on a plain `PgPool`. Usage batches are inserted with one
//! `INSERT … SELECT FROM UNNEST(arrays)` statement whatever their size, so the
//! prepared statement is always reused.

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::error::{Result, StoreError, redact_url};
use crate::model::{ApiKey, Channel, NewApiKey, NewChannel, UsageFilter, UsageRecord, UsageRow};
use crate::rows::{
    ApiKeyRow, ChannelRow, UsageLogRow, channel_columns, cost_per_key, key_columns, now_millis,
    to_json, usage_columns, usage_insert_columns,
};

/// Maximum connections in the pool.
const POOL_SIZE: u32 = 10;

/// Opens the pool and runs migrations.
pub(crate) async fn connect(url: &str) -> Result<PgPool> {
    let opts = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
        url: redact_url(url),
        reason: e.to_string(),
    })?;
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(|source| StoreError::Connect {
            url: redact_url(url),
            source,
        })?;
    crate::migrate::run_postgres(&pool).await?;
    Ok(pool)
}

pub(crate) async fn ping(pool: &PgPool) -> Result<()> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

pub(crate) async fn get_setting(pool: &PgPool, key: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await?,
    )
}

pub(crate) async fn set_setting(pool: &PgPool, key: &str, value: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at",
    )
    .bind(key)
    .bind(value)
    .bind(now_millis())
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn set_setting_if_absent(pool: &PgPool, key: &str, value: &str) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(value)
    .bind(now_millis())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn insert_key(pool: &PgPool, new: &NewApiKey) -> Result<ApiKey> {
    let models = new
        .models
        .as_ref()
        .map(|m| to_json("api_keys.models", m))
        .transpose()?;
    let row: ApiKeyRow = sqlx::query_as(concat!(
        "INSERT INTO api_keys (name, key_hash, key_prefix, quota_micros, used_micros, models, \
         rpm, expires_at, revoked, created_at) \
         VALUES ($1, $2, $3, $4, 0, $5, $6, $7, FALSE, $8) RETURNING ",
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
    .fetch_one(pool)
    .await?;
    row.into_model()
}

pub(crate) async fn list_keys(pool: &PgPool) -> Result<Vec<ApiKey>> {
    let rows: Vec<ApiKeyRow> = sqlx::query_as(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys ORDER BY id"
    ))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(ApiKeyRow::into_model).collect()
}

pub(crate) async fn get_key(pool: &PgPool, id: i64) -> Result<Option<ApiKey>> {
    let row: Option<ApiKeyRow> = sqlx::query_as(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(ApiKeyRow::into_model).transpose()
}

pub(crate) async fn get_key_by_hash(pool: &PgPool, key_hash: &str) -> Result<Option<ApiKey>> {
    let row: Option<ApiKeyRow> = sqlx::query_as(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys WHERE key_hash = $1"
    ))
    .bind(key_hash)
    .fetch_optional(pool)
    .await?;
    row.map(ApiKeyRow::into_model).transpose()
}

pub(crate) async fn revoke_key(pool: &PgPool, id: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE api_keys SET revoked = TRUE WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn upsert_channel(pool: &PgPool, ch: &NewChannel) -> Result<Channel> {
    let now = now_millis();
    let row: ChannelRow = sqlx::query_as(concat!(
        "INSERT INTO channels (name, provider, base_url, key, models, model_map, priority, \
         weight, enabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
         ON CONFLICT (name) DO UPDATE SET provider = EXCLUDED.provider, \
         base_url = EXCLUDED.base_url, key = EXCLUDED.key, models = EXCLUDED.models, \
         model_map = EXCLUDED.model_map, priority = EXCLUDED.priority, \
         weight = EXCLUDED.weight, enabled = EXCLUDED.enabled, \
         updated_at = EXCLUDED.updated_at RETURNING ",
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
    .fetch_one(pool)
    .await?;
    row.into_model()
}

pub(crate) async fn list_channels(pool: &PgPool) -> Result<Vec<Channel>> {
    let rows: Vec<ChannelRow> = sqlx::query_as(concat!(
        "SELECT ",
        channel_columns!(),
        " FROM channels ORDER BY id"
    ))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(ChannelRow::into_model).collect()
}

pub(crate) async fn insert_usage_batch(pool: &PgPool, rows: &[UsageRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&UsageRow) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
    let opt = |f: fn(&UsageRow) -> Option<i64>| rows.iter().map(f).collect::<Vec<_>>();
    let text = |f: fn(&UsageRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let opt_text = |f: fn(&UsageRow) -> Option<&str>| rows.iter().map(f).collect::<Vec<_>>();
    let flag = |f: fn(&UsageRow) -> bool| rows.iter().map(f).collect::<Vec<bool>>();

    let mut tx = pool.begin().await?;
    sqlx::query(concat!(
        "INSERT INTO usage_logs (",
        usage_insert_columns!(),
        ") SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], \
         $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], \
         $11::boolean[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], \
         $16::text[], $17::boolean[], $18::bigint[])"
    ))
    .bind(text(|r| &r.request_id))
    .bind(col(|r| r.created_at.timestamp_millis()))
    .bind(opt(|r| r.key_id))
    .bind(opt(|r| r.channel_id))
    .bind(text(|r| &r.endpoint))
    .bind(text(|r| &r.requested_model))
    .bind(opt_text(|r| r.upstream_model.as_deref()))
    .bind(col(|r| r.prompt_tokens))
    .bind(col(|r| r.completion_tokens))
    .bind(col(|r| r.total_tokens))
    .bind(flag(|r| r.estimated))
    .bind(col(|r| r.cost_micros))
    .bind(col(|r| r.latency_ms))
    .bind(opt(|r| r.ttft_ms))
    .bind(col(|r| r.status))
    .bind(opt_text(|r| r.error_code.as_deref()))
    .bind(flag(|r| r.stream))
    .bind(col(|r| r.cached_tokens))
    .execute(&mut *tx)
    .await?;

    let sums = cost_per_key(rows);
    if !sums.is_empty() {
        let (ids, costs): (Vec<i64>, Vec<i64>) = sums.into_iter().unzip();
        if ids.len() > 1 {
            // Lock the key rows in id order first so concurrent batches touching
            // overlapping keys cannot deadlock.
            sqlx::query("SELECT id FROM api_keys WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind(&ids)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE api_keys AS k SET used_micros = k.used_micros + v.cost \
             FROM UNNEST($1::bigint[], $2::bigint[]) AS v(id, cost) WHERE k.id = v.id",
        )
        .bind(&ids)
        .bind(&costs)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn list_usage(pool: &PgPool, filter: &UsageFilter) -> Result<Vec<UsageRecord>> {
    // Parameters are numbered in the order key_id, before_id, limit in every variant.
    let sql = match (filter.key_id, filter.before_id) {
        (None, None) => concat!(
            "SELECT ",
            usage_columns!(),
            " FROM usage_logs ORDER BY id DESC LIMIT $1"
        ),
        (Some(_), None) => concat!(
            "SELECT ",
            usage_columns!(),
            " FROM usage_logs WHERE key_id = $1 ORDER BY id DESC LIMIT $2"
        ),
        (None, Some(_)) => concat!(
            "SELECT ",
            usage_columns!(),
            " FROM usage_logs WHERE id < $1 ORDER BY id DESC LIMIT $2"
        ),
        (Some(_), Some(_)) => concat!(
            "SELECT ",
            usage_columns!(),
            " FROM usage_logs WHERE key_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        ),
    };
    let mut q = sqlx::query_as::<_, UsageLogRow>(sql);
    if let Some(key) = filter.key_id {
        q = q.bind(key);
    }
    if let Some(before) = filter.before_id {
        q = q.bind(before);
    }
    let rows = q.bind(filter.effective_limit()).fetch_all(pool).await?;
    rows.into_iter().map(UsageLogRow::into_model).collect()
}
