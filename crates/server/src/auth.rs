//! Authentication of client keys (SHA-256 lookup, cached briefly and refreshed ahead of expiry)
//! and of the admin key.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
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

/// A record older than this is still used, and read again in the background, so that a key in
/// steady use never waits on the database (and a burst at expiry does not read it many times).
const REFRESH_AFTER: Duration = Duration::from_millis(2500);

/// A key record and the time its read began.
struct Entry {
    key: Arc<ApiKey>,
    read_at: Instant,
    /// A background read of this key is under way.
    refreshing: bool,
}

/// The SHA-256 of a key's secret.
type Digest = [u8; 32];

/// Digest → key record (the digest as bytes: its hex form is made only to read the database).
#[derive(Default)]
pub(crate) struct KeyCache {
    map: Mutex<HashMap<Digest, Entry>>,
    /// Bumped by [`KeyCache::invalidate_all`] (under the map's lock): a read that began before
    /// it must not store what it found after it.
    generation: AtomicU64,
}

/// What the cache holds for a key at a given time.
#[derive(Debug)]
enum Cached {
    Fresh(Arc<ApiKey>),
    /// Usable, and the caller is to read it again in the background (only one caller is told).
    Refresh(Arc<ApiKey>),
    Miss,
}

impl KeyCache {
    pub(crate) fn invalidate_all(&self) {
        let mut map = self.map.lock();
        self.generation.fetch_add(1, Ordering::Relaxed);
        map.clear();
    }

    fn lookup(&self, digest: &Digest, now: Instant) -> Cached {
        let mut map = self.map.lock();
        let Some(e) = map.get_mut(digest) else {
            return Cached::Miss;
        };
        let age = now.saturating_duration_since(e.read_at);
        if age >= TTL {
            Cached::Miss
        } else if age >= REFRESH_AFTER && !e.refreshing {
            e.refreshing = true;
            Cached::Refresh(e.key.clone())
        } else {
            Cached::Fresh(e.key.clone())
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Stores what a read that began at `read_at`, in `generation`, found (`None`: no such key
    /// any more), unless the cache was invalidated meanwhile.
    fn store(&self, digest: Digest, found: Option<Arc<ApiKey>>, read_at: Instant, generation: u64) {
        let mut map = self.map.lock();
        if self.generation() != generation {
            return;
        }
        let Some(key) = found else {
            map.remove(&digest);
            return;
        };
        if map.len() > 100_000 {
            map.clear();
        }
        map.insert(
            digest,
            Entry {
                key,
                read_at,
                refreshing: false,
            },
        );
    }

    /// A background read failed: the next request past [`REFRESH_AFTER`] tries again.
    fn refresh_failed(&self, digest: &Digest) {
        if let Some(e) = self.map.lock().get_mut(digest) {
            e.refreshing = false;
        }
    }
}

/// The bearer token of `Authorization: Bearer …` (or `x-api-key`, Anthropic's header, or
/// `x-goog-api-key`, Gemini's).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
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
    let digest = keys::digest(token);
    let cache = &state.inner.keys;
    match cache.lookup(&digest, Instant::now()) {
        Cached::Fresh(k) => return Ok(k),
        Cached::Refresh(k) => {
            refresh(state.clone(), digest);
            return Ok(k);
        }
        Cached::Miss => {}
    }
    let generation = cache.generation();
    let read_at = Instant::now();
    let found = state
        .inner
        .store
        .get_key_by_hash(&keys::hex(&digest))
        .await?;
    let Some(k) = found else {
        return Err(ApiError::unauthorized(format!(
            "Incorrect API key provided: {}.",
            switchyard_core::secret::mask(token)
        )));
    };
    let k = Arc::new(k);
    cache.store(digest, Some(k.clone()), read_at, generation);
    Ok(k)
}

/// Reads a key record again in the background; requests meanwhile use the cached one.
fn refresh(state: AppState, digest: Digest) {
    let generation = state.inner.keys.generation();
    tokio::spawn(async move {
        let cache = &state.inner.keys;
        let read_at = Instant::now();
        match state.inner.store.get_key_by_hash(&keys::hex(&digest)).await {
            Ok(found) => cache.store(digest, found.map(Arc::new), read_at, generation),
            Err(e) => {
                tracing::warn!(error = %e, "refreshing an API key record failed; will retry");
                cache.refresh_failed(&digest);
            }
        }
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A key's digest in the cache.
    const H: Digest = [7; 32];

    fn key(name: &str) -> Arc<ApiKey> {
        Arc::new(ApiKey {
            id: 1,
            name: name.into(),
            key_hash: "h".into(),
            key_prefix: "sk-".into(),
            quota_micros: None,
            used_micros: 0,
            models: None,
            rpm: None,
            expires_at: None,
            revoked: false,
            created_at: chrono::Utc::now(),
        })
    }

    fn name(c: &Cached) -> Option<(&'static str, &str)> {
        match c {
            Cached::Fresh(k) => Some(("fresh", k.name.as_str())),
            Cached::Refresh(k) => Some(("refresh", k.name.as_str())),
            Cached::Miss => None,
        }
    }

    /// Used as read until half its life, then still used while one caller (only one) reads it
    /// again, and not used at all once its life is over.
    #[test]
    fn a_record_is_refreshed_ahead_of_its_expiry_by_one_caller() {
        let cache = KeyCache::default();
        let t0 = Instant::now();
        assert!(name(&cache.lookup(&H, t0)).is_none());
        cache.store(H, Some(key("a")), t0, cache.generation());
        assert_eq!(
            name(&cache.lookup(&H, t0 + Duration::from_secs(2))),
            Some(("fresh", "a"))
        );
        let later = t0 + REFRESH_AFTER;
        assert_eq!(name(&cache.lookup(&H, later)), Some(("refresh", "a")));
        assert_eq!(
            name(&cache.lookup(&H, later)),
            Some(("fresh", "a")),
            "one refresh at a time"
        );
        assert!(name(&cache.lookup(&H, t0 + TTL)).is_none(), "expired");
        // The refresh lands: the new record, with its own read time.
        cache.store(H, Some(key("b")), later, cache.generation());
        let after = later + Duration::from_secs(1);
        assert_eq!(name(&cache.lookup(&H, after)), Some(("fresh", "b")));
    }

    #[test]
    fn a_failed_refresh_is_tried_again_by_the_next_caller() {
        let cache = KeyCache::default();
        let t0 = Instant::now();
        cache.store(H, Some(key("a")), t0, cache.generation());
        let later = t0 + REFRESH_AFTER;
        assert_eq!(name(&cache.lookup(&H, later)), Some(("refresh", "a")));
        cache.refresh_failed(&H);
        assert_eq!(name(&cache.lookup(&H, later)), Some(("refresh", "a")));
    }

    #[test]
    fn a_key_gone_from_the_database_leaves_the_cache() {
        let cache = KeyCache::default();
        let t0 = Instant::now();
        cache.store(H, Some(key("a")), t0, cache.generation());
        cache.store(H, None, t0, cache.generation());
        assert!(name(&cache.lookup(&H, t0)).is_none());
    }

    /// A read that began before the admin API revoked a key must not put the old record back.
    #[test]
    fn a_read_from_before_an_invalidation_is_not_stored() {
        let cache = KeyCache::default();
        let t0 = Instant::now();
        let generation = cache.generation();
        cache.invalidate_all();
        cache.store(H, Some(key("a")), t0, generation);
        assert!(name(&cache.lookup(&H, t0)).is_none());
        cache.store(H, Some(key("b")), t0, cache.generation());
        assert_eq!(name(&cache.lookup(&H, t0)), Some(("fresh", "b")));
    }
}
