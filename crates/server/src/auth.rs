//! Authentication of client keys (SHA-256 lookup, cached briefly) and of the admin key.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use foldhash::HashMap;
use parking_lot::Mutex;
use subtle_eq::ct_eq;
use switchyard_core::keys;
use switchyard_store::ApiKey;

use crate::error::ApiError;
use crate::state::AppState;

/// How long a key record is trusted before it is read again (revocations from another process
/// take effect within this time; revocations through this process's admin API at once).
const TTL: Duration = Duration::from_secs(5);

/// Hash → key record, with the time it was read.
#[derive(Default)]
pub(crate) struct KeyCache {
    map: Mutex<HashMap<String, (Arc<ApiKey>, Instant)>>,
}

impl KeyCache {
    pub(crate) fn invalidate_all(&self) {
        self.map.lock().clear();
    }
}

/// The bearer token of `Authorization: Bearer …` (or `x-api-key`, Anthropic's header, or
/// `x-goog-api-key`, Gemini's).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))?;
        return Some(token.trim()).filter(|t| !t.is_empty());
    }
    ["x-api-key", "x-goog-api-key"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Looks up the client's key; 401 when missing or unknown. Status checks are the caller's.
pub(crate) async fn client_key(
    state: &AppState,
    headers: &HeaderMap,
    query_key: Option<&str>,
) -> Result<Arc<ApiKey>, ApiError> {
    let token = bearer(headers).or(query_key).ok_or_else(|| {
        ApiError::unauthorized(
            "You didn't provide an API key. Send it as `Authorization: Bearer sk-…`.",
        )
    })?;
    let hash = keys::hash(token);
    let cache = &state.inner.keys;
    if let Some((k, at)) = cache.map.lock().get(&hash)
        && at.elapsed() < TTL
    {
        return Ok(k.clone());
    }
    let found = state.inner.store.get_key_by_hash(&hash).await?;
    let Some(k) = found else {
        return Err(ApiError::unauthorized(format!(
            "Incorrect API key provided: {}.",
            switchyard_core::secret::mask(token)
        )));
    };
    let k = Arc::new(k);
    let mut map = cache.map.lock();
    if map.len() > 100_000 {
        map.clear();
    }
    map.insert(hash, (k.clone(), Instant::now()));
    Ok(k)
}

/// Checks the admin key; 401 otherwise.
pub(crate) fn admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = bearer(headers).ok_or_else(|| {
        ApiError::unauthorized("The admin API needs the admin key as a Bearer token.")
    })?;
    if ct_eq(
        keys::hash(token).as_bytes(),
        state.inner.admin_key_hash.as_bytes(),
    ) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("Incorrect admin key."))
    }
}

mod subtle_eq {
    /// Constant-time comparison of two byte strings of public length.
    pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}
