//! Requests-per-minute limits per key, in fixed one-minute windows (per process for now).

use std::sync::Arc;

use foldhash::HashMap;
use parking_lot::Mutex;

/// Counters of the current window per key.
#[derive(Debug, Default, Clone)]
pub struct RateLimiter {
    inner: Arc<Mutex<HashMap<i64, (u64, u64)>>>,
}

impl RateLimiter {
    /// Counts one request of `key_id` at `now_ms`; `Err(seconds)` until the window resets when
    /// the key already made `rpm` requests in this minute.
    pub fn check(&self, key_id: i64, rpm: u64, now_ms: u64) -> Result<(), u64> {
        let window = now_ms / 60_000;
        let mut map = self.inner.lock();
        let entry = map.entry(key_id).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= rpm {
            let reset_ms = (window + 1) * 60_000 - now_ms;
            return Err(reset_ms.div_ceil(1000).max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_window() {
        let r = RateLimiter::default();
        assert!(r.check(1, 2, 0).is_ok());
        assert!(r.check(1, 2, 1000).is_ok());
        assert_eq!(r.check(1, 2, 30_000), Err(30));
        assert!(r.check(2, 2, 30_000).is_ok());
        assert!(r.check(1, 2, 60_000).is_ok());
    }
}
