//! The admin API (admin key as Bearer): keys, usage and channels.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_core::keys;
use switchyard_store::{ApiKey, NewApiKey, Store, UsageFilter};

use crate::error::ApiError;
use crate::state::AppState;

/// `POST /admin/keys` body (and the CLI's `keys create` flags).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// A label.
    pub name: String,
    /// Quota in USD; none means unlimited.
    #[serde(default)]
    pub quota_usd: Option<f64>,
    /// Allowed models; none means all.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Requests per minute; none means unlimited.
    #[serde(default)]
    pub rpm: Option<i64>,
    /// Expiry time.
    #[serde(default)]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Creates a key; returns the record and the key itself (shown only this once).
pub async fn create_key(store: &Store, req: CreateKey) -> Result<(ApiKey, String), ApiError> {
    if req.name.trim().is_empty() {
        return Err(ApiError::bad_request(
            "`name` must not be empty.",
            Some("name"),
        ));
    }
    let quota_micros = match req.quota_usd {
        Some(q) if !q.is_finite() || q < 0.0 => {
            return Err(ApiError::bad_request(
                "`quota_usd` must be a non-negative number.",
                Some("quota_usd"),
            ));
        }
        Some(q) => Some((q * 1_000_000.0).round() as i64),
        None => None,
    };
    if req.rpm.is_some_and(|r| r < 1) {
        return Err(ApiError::bad_request(
            "`rpm` must be at least 1.",
            Some("rpm"),
        ));
    }
    let key = keys::generate();
    let rec = store
        .insert_key(&NewApiKey {
            name: req.name,
            key_hash: keys::hash(&key),
            key_prefix: keys::prefix(&key),
            quota_micros,
            models: req.models.filter(|m| !m.is_empty()),
            rpm: req.rpm,
            expires_at: req.expires_at,
        })
        .await?;
    Ok((rec, key))
}

/// The public view of a key record.
pub fn key_json(k: &ApiKey) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "key_prefix": k.key_prefix,
        "quota_usd": k.quota_micros.map(|q| q as f64 / 1e6),
        "used_usd": k.used_micros as f64 / 1e6,
        "models": k.models,
        "rpm": k.rpm,
        "expires_at": k.expires_at,
        "revoked": k.revoked,
        "created_at": k.created_at,
    })
}

pub(crate) async fn post_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    crate::auth::admin(&state, &headers)?;
    let req: CreateKey = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Invalid key request: {e}"), None))?;
    let (rec, key) = create_key(&state.inner.store, req).await?;
    let mut v = key_json(&rec);
    v["key"] = Value::String(key);
    Ok((StatusCode::CREATED, Json(v)))
}

pub(crate) async fn list_keys(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    crate::auth::admin(&state, &headers)?;
    let keys = state.inner.store.list_keys().await?;
    let data: Vec<Value> = keys.iter().map(key_json).collect();
    Ok(Json(json!({"object": "list", "data": data})))
}

pub(crate) async fn delete_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    crate::auth::admin(&state, &headers)?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request("The key id must be an integer.", Some("id")))?;
    if !state.inner.store.revoke_key(id).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("key_not_found"),
            format!("No key with id {id}."),
        ));
    }
    state.inner.keys.invalidate_all();
    Ok(Json(json!({"id": id, "revoked": true})))
}

#[derive(Deserialize)]
pub(crate) struct UsageQuery {
    key_id: Option<String>,
    limit: Option<String>,
    before_id: Option<String>,
}

fn int_param(v: Option<&str>, name: &str) -> Result<Option<i64>, ApiError> {
    v.map(|s| {
        s.parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("`{name}` must be an integer."), Some(name)))
    })
    .transpose()
}

pub(crate) async fn usage(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<UsageQuery>,
) -> Result<Json<Value>, ApiError> {
    crate::auth::admin(&state, &headers)?;
    let filter = UsageFilter {
        key_id: int_param(q.key_id.as_deref(), "key_id")?,
        limit: int_param(q.limit.as_deref(), "limit")?,
        before_id: int_param(q.before_id.as_deref(), "before_id")?,
    };
    let rows = state.inner.store.list_usage(&filter).await?;
    Ok(Json(json!({"object": "list", "data": rows})))
}

pub(crate) async fn channels(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    crate::auth::admin(&state, &headers)?;
    let data: Vec<Value> = state
        .inner
        .store
        .list_channels()
        .await?
        .into_iter()
        .map(|c| {
            json!({
                "id": c.id, "name": c.name, "provider": c.provider, "base_url": c.base_url,
                "key": switchyard_core::secret::mask(&c.key), "models": c.models,
                "model_map": c.model_map, "priority": c.priority, "weight": c.weight, "enabled": c.enabled,
            })
        })
        .collect();
    Ok(Json(json!({"object": "list", "data": data})))
}
