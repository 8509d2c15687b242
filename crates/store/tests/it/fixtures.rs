//! Builders for test records.

use chrono::{DateTime, Utc};
use switchyard_store::{NewApiKey, UsageRow};

/// A timestamp from unix milliseconds (what the store preserves).
pub(crate) fn ms(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).expect("valid millis")
}

/// A key with only the required fields.
pub(crate) fn plain_key(name: &str) -> NewApiKey {
    NewApiKey {
        name: name.to_owned(),
        key_hash: format!("{:064x}", crate::harness::random_u64()),
        key_prefix: "sk-sy-ab".to_owned(),
        quota_micros: None,
        models: None,
        rpm: None,
        expires_at: None,
    }
}

/// The `i`-th usage row, charged to `key_id`.
pub(crate) fn usage_row(i: i64, key_id: Option<i64>, cost_micros: i64) -> UsageRow {
    UsageRow {
        request_id: format!("req-{i}").into(),
        created_at: ms(1_700_000_000_000 + i),
        key_id,
        channel_id: if i % 2 == 0 { Some(i % 5) } else { None },
        endpoint: "/v1/chat/completions".into(),
        requested_model: "gpt-4o-mini".into(),
        upstream_model: (i % 3 == 0).then(|| "gpt-4o-mini-2024-07-18".into()),
        prompt_tokens: 10 + i,
        cached_tokens: i % 3,
        completion_tokens: 20 + i,
        total_tokens: 30 + 2 * i,
        estimated: i % 4 == 0,
        cost_micros,
        latency_ms: 100 + i,
        ttft_ms: (i % 2 == 1).then_some(7 + i),
        status: if i % 7 == 0 { 502 } else { 200 },
        error_code: (i % 7 == 0).then(|| "upstream_error".to_owned()),
        stream: i % 2 == 1,
    }
}
