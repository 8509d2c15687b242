//! Backend-neutral raw row shapes (plain integers, strings and JSON text) and
//! their conversion to and from the public model types.
//!
//! Both backends select the same column lists (see the `*_columns!` macros),
//! so one `FromRow` derive serves SQLite and PostgreSQL alike.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::error::{Result, StoreError};
use crate::model::{ApiKey, Channel, UsageRecord, UsageRow};

/// Column list of `api_keys`, in [`ApiKeyRow`] order.
macro_rules! key_columns {
    () => {
        "id, name, key_hash, key_prefix, quota_micros, used_micros, models, rpm, \
         expires_at, revoked, created_at"
    };
}

/// Column list of `channels`, in [`ChannelRow`] order.
macro_rules! channel_columns {
    () => {
        "id, name, provider, base_url, key, models, model_map, priority, weight, \
         enabled, created_at, updated_at"
    };
}

/// Insertable column list of `usage_logs` (everything but `id`).
macro_rules! usage_insert_columns {
    () => {
        "request_id, created_at, key_id, channel_id, endpoint, requested_model, \
         upstream_model, prompt_tokens, completion_tokens, total_tokens, estimated, \
         cost_micros, latency_ms, ttft_ms, status, error_code, stream, cached_tokens"
    };
}

/// Column list of `usage_logs`, in [`UsageLogRow`] order.
macro_rules! usage_columns {
    () => {
        concat!("id, ", $crate::rows::usage_insert_columns!())
    };
}

pub(crate) use {channel_columns, key_columns, usage_columns, usage_insert_columns};

/// Number of bind parameters per usage row in a multi-row INSERT.
pub(crate) const USAGE_PARAMS_PER_ROW: usize = 18;

/// Current time as unix milliseconds.
pub(crate) fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

/// Converts stored unix milliseconds to a timestamp.
pub(crate) fn from_millis(what: &'static str, ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt {
        what,
        detail: format!("timestamp {ms} out of range"),
    })
}

/// Serialises a value to JSON text for a TEXT column.
pub(crate) fn to_json<T: serde::Serialize>(what: &'static str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

fn from_json<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

/// Raw `api_keys` row.
#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    id: i64,
    name: String,
    key_hash: String,
    key_prefix: String,
    quota_micros: Option<i64>,
    used_micros: i64,
    models: Option<String>,
    rpm: Option<i64>,
    expires_at: Option<i64>,
    revoked: bool,
    created_at: i64,
}

impl ApiKeyRow {
    /// Decodes JSON and timestamps.
    pub(crate) fn into_model(self) -> Result<ApiKey> {
        Ok(ApiKey {
            id: self.id,
            name: self.name,
            key_hash: self.key_hash,
            key_prefix: self.key_prefix,
            quota_micros: self.quota_micros,
            used_micros: self.used_micros,
            models: self
                .models
                .as_deref()
                .map(|t| from_json("api_keys.models", t))
                .transpose()?,
            rpm: self.rpm,
            expires_at: self
                .expires_at
                .map(|ms| from_millis("api_keys.expires_at", ms))
                .transpose()?,
            revoked: self.revoked,
            created_at: from_millis("api_keys.created_at", self.created_at)?,
        })
    }
}

/// Raw `channels` row.
#[derive(sqlx::FromRow)]
pub(crate) struct ChannelRow {
    id: i64,
    name: String,
    provider: String,
    base_url: String,
    key: String,
    models: String,
    model_map: String,
    priority: i64,
    weight: i64,
    enabled: bool,
    created_at: i64,
    updated_at: i64,
}

impl ChannelRow {
    /// Decodes JSON and timestamps.
    pub(crate) fn into_model(self) -> Result<Channel> {
        let model_map: BTreeMap<String, String> = from_json("channels.model_map", &self.model_map)?;
        Ok(Channel {
            id: self.id,
            name: self.name,
            provider: self.provider,
            base_url: self.base_url,
            key: self.key,
            models: from_json("channels.models", &self.models)?,
            model_map,
            priority: self.priority,
            weight: self.weight,
            enabled: self.enabled,
            created_at: from_millis("channels.created_at", self.created_at)?,
            updated_at: from_millis("channels.updated_at", self.updated_at)?,
        })
    }
}

/// Raw `usage_logs` row.
#[derive(sqlx::FromRow)]
pub(crate) struct UsageLogRow {
    id: i64,
    request_id: String,
    created_at: i64,
    key_id: Option<i64>,
    channel_id: Option<i64>,
    endpoint: String,
    requested_model: String,
    upstream_model: Option<String>,
    prompt_tokens: i64,
    completion_tokens: i64,
    total_tokens: i64,
    estimated: bool,
    cost_micros: i64,
    latency_ms: i64,
    ttft_ms: Option<i64>,
    status: i64,
    error_code: Option<String>,
    stream: bool,
    cached_tokens: i64,
}

impl UsageLogRow {
    /// Decodes the timestamp.
    pub(crate) fn into_model(self) -> Result<UsageRecord> {
        Ok(UsageRecord {
            id: self.id,
            row: UsageRow {
                request_id: self.request_id.into(),
                created_at: from_millis("usage_logs.created_at", self.created_at)?,
                key_id: self.key_id,
                channel_id: self.channel_id,
                endpoint: self.endpoint.into(),
                requested_model: self.requested_model.into(),
                upstream_model: self.upstream_model.map(Into::into),
                prompt_tokens: self.prompt_tokens,
                cached_tokens: self.cached_tokens,
                completion_tokens: self.completion_tokens,
                total_tokens: self.total_tokens,
                estimated: self.estimated,
                cost_micros: self.cost_micros,
                latency_ms: self.latency_ms,
                ttft_ms: self.ttft_ms,
                status: self.status,
                error_code: self.error_code,
                stream: self.stream,
            },
        })
    }
}

/// Sums `cost_micros` per key (rows without a key and zero costs are skipped),
/// ordered by key id so concurrent writers lock rows in the same order.
pub(crate) fn cost_per_key(rows: &[UsageRow]) -> BTreeMap<i64, i64> {
    let mut sums = BTreeMap::new();
    for row in rows {
        if let Some(key_id) = row.key_id
            && row.cost_micros != 0
        {
            *sums.entry(key_id).or_insert(0i64) += row.cost_micros;
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_columns_match_param_count() {
        assert_eq!(
            usage_insert_columns!().split(',').count(),
            USAGE_PARAMS_PER_ROW
        );
        assert!(usage_columns!().starts_with("id, request_id,"));
    }

    #[test]
    fn millis_roundtrip_and_range() {
        let t = from_millis("t", 1_700_000_000_123).unwrap();
        assert_eq!(t.timestamp_millis(), 1_700_000_000_123);
        assert!(matches!(
            from_millis("t", i64::MAX),
            Err(StoreError::Corrupt { what: "t", .. })
        ));
    }

    #[test]
    fn bad_json_is_corrupt_error() {
        let r: Result<Vec<String>> = from_json("x", "not json");
        assert!(matches!(r, Err(StoreError::Corrupt { what: "x", .. })));
    }
}
