//! Public record types read from and written to the store.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// A stored API key. Only the SHA-256 hex hash of the secret is ever kept.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApiKey {
    /// Database id.
    pub id: i64,
    /// Human readable label.
    pub name: String,
    /// Lowercase hex SHA-256 of the full key; unique.
    pub key_hash: String,
    /// First characters of the key, shown in listings so users can recognise it.
    pub key_prefix: String,
    /// Spending limit in micro-dollars; `None` means unlimited.
    pub quota_micros: Option<i64>,
    /// Spent so far in micro-dollars (maintained by [`crate::Store::insert_usage_batch`]).
    pub used_micros: i64,
    /// Allowed model names; `None` means every model.
    pub models: Option<Vec<String>>,
    /// Requests-per-minute limit; `None` means unlimited.
    pub rpm: Option<i64>,
    /// Expiry instant; `None` means never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether the key was revoked.
    pub revoked: bool,
    /// Creation instant (millisecond precision).
    pub created_at: DateTime<Utc>,
}

/// Fields needed to create an [`ApiKey`].
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Human readable label.
    pub name: String,
    /// Lowercase hex SHA-256 of the full key.
    pub key_hash: String,
    /// First characters of the key.
    pub key_prefix: String,
    /// Spending limit in micro-dollars; `None` means unlimited.
    pub quota_micros: Option<i64>,
    /// Allowed model names; `None` means every model.
    pub models: Option<Vec<String>>,
    /// Requests-per-minute limit; `None` means unlimited.
    pub rpm: Option<i64>,
    /// Expiry instant; `None` means never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// An upstream account. Deliberately not `Serialize`: it holds the upstream secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// Database id.
    pub id: i64,
    /// Unique name; upserts are keyed on it.
    pub name: String,
    /// Provider kind (e.g. `openai`, `anthropic`).
    pub provider: String,
    /// Base URL of the upstream API.
    pub base_url: String,
    /// Upstream API key (secret).
    pub key: String,
    /// Models served by this channel.
    pub models: Vec<String>,
    /// Requested model name to upstream model name.
    pub model_map: BTreeMap<String, String>,
    /// Higher priority channels are tried first.
    pub priority: i64,
    /// Relative weight among channels of equal priority.
    pub weight: i64,
    /// Disabled channels are never routed to.
    pub enabled: bool,
    /// Creation instant (millisecond precision); kept across upserts.
    pub created_at: DateTime<Utc>,
    /// Last upsert instant (millisecond precision).
    pub updated_at: DateTime<Utc>,
}

/// Fields needed to create or update a [`Channel`].
#[derive(Debug, Clone)]
pub struct NewChannel {
    /// Unique name; an existing channel with this name is updated in place.
    pub name: String,
    /// Provider kind.
    pub provider: String,
    /// Base URL of the upstream API.
    pub base_url: String,
    /// Upstream API key (secret).
    pub key: String,
    /// Models served by this channel.
    pub models: Vec<String>,
    /// Requested model name to upstream model name.
    pub model_map: BTreeMap<String, String>,
    /// Higher priority channels are tried first.
    pub priority: i64,
    /// Relative weight among channels of equal priority.
    pub weight: i64,
    /// Disabled channels are never routed to.
    pub enabled: bool,
}

/// One request's usage, as written by the batching usage writer. Its text is shared (`Arc`)
/// with the request that made it, and bound to the insert without a copy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UsageRow {
    /// Gateway request id.
    pub request_id: Arc<str>,
    /// When the request started (stored with millisecond precision).
    pub created_at: DateTime<Utc>,
    /// Key that made the request, if any; its `used_micros` is charged `cost_micros`.
    pub key_id: Option<i64>,
    /// Channel that served the request, if any.
    pub channel_id: Option<i64>,
    /// API endpoint, e.g. `/v1/chat/completions`.
    pub endpoint: Arc<str>,
    /// Model name the client asked for.
    pub requested_model: Arc<str>,
    /// Model name sent upstream.
    pub upstream_model: Option<Arc<str>>,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// The part of `prompt_tokens` the provider served from its cache (billed at the cached
    /// price).
    pub cached_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// Total tokens.
    pub total_tokens: i64,
    /// Whether token counts were estimated locally rather than reported upstream.
    pub estimated: bool,
    /// Cost in micro-dollars.
    pub cost_micros: i64,
    /// Total latency in milliseconds.
    pub latency_ms: i64,
    /// Time to first token in milliseconds (streaming only).
    pub ttft_ms: Option<i64>,
    /// HTTP status returned to the client.
    pub status: i64,
    /// Machine readable error code, if the request failed.
    pub error_code: Option<String>,
    /// Whether the response was streamed.
    pub stream: bool,
}

/// A stored [`UsageRow`] with its database id.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UsageRecord {
    /// Database id; increases with insertion order.
    pub id: i64,
    /// The logged row.
    #[serde(flatten)]
    pub row: UsageRow,
}

/// Filter for [`crate::Store::list_usage`].
#[derive(Debug, Clone, Default)]
pub struct UsageFilter {
    /// Only rows of this key.
    pub key_id: Option<i64>,
    /// Maximum rows returned: default 100, clamped to `1..=1000`.
    pub limit: Option<i64>,
    /// Only rows with `id < before_id` (keyset pagination).
    pub before_id: Option<i64>,
}

impl UsageFilter {
    /// Default number of rows returned when `limit` is `None`.
    pub const DEFAULT_LIMIT: i64 = 100;
    /// Largest accepted `limit`.
    pub const MAX_LIMIT: i64 = 1000;

    /// The limit actually applied: `limit` or 100, clamped to `1..=1000`.
    pub fn effective_limit(&self) -> i64 {
        self.limit
            .unwrap_or(Self::DEFAULT_LIMIT)
            .clamp(1, Self::MAX_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_clamps() {
        let f = |limit| UsageFilter {
            limit,
            ..Default::default()
        };
        assert_eq!(f(None).effective_limit(), 100);
        assert_eq!(f(Some(5)).effective_limit(), 5);
        assert_eq!(f(Some(0)).effective_limit(), 1);
        assert_eq!(f(Some(-3)).effective_limit(), 1);
        assert_eq!(f(Some(5000)).effective_limit(), 1000);
    }

    #[test]
    fn usage_record_serializes_flat() {
        let rec = UsageRecord {
            id: 7,
            row: UsageRow {
                request_id: "r".into(),
                created_at: DateTime::from_timestamp_millis(0).unwrap_or_default(),
                key_id: None,
                channel_id: Some(2),
                endpoint: "/v1/chat/completions".into(),
                requested_model: "m".into(),
                upstream_model: None,
                prompt_tokens: 1,
                cached_tokens: 0,
                completion_tokens: 2,
                total_tokens: 3,
                estimated: false,
                cost_micros: 4,
                latency_ms: 5,
                ttft_ms: None,
                status: 200,
                error_code: None,
                stream: true,
            },
        };
        let v = serde_json::to_value(&rec).unwrap();
        assert_eq!(v["id"], 7);
        assert_eq!(v["request_id"], "r");
        assert_eq!(v["channel_id"], 2);
        assert!(v.get("row").is_none());
    }
}
