//! Quota pre-authorisation: reserve an estimate before forwarding, settle the exact cost once.
//!
//! The ledger holds, per key, what has been spent and what is reserved by requests in flight.
//! A reservation is refused when `used + reserved + amount > limit`, so a burst of concurrent
//! requests cannot overspend. Each [`Reservation`] is settled exactly once: `settle` consumes
//! it, and dropping an unsettled one releases the hold without charging.
//!
//! The ledger is per process (decision 7 in ARCHITECTURE.md moves it to Redis for many
//! instances). It learns a key's spent amount from the database the first time it sees the key.

use std::sync::Arc;

use foldhash::HashMap;
use parking_lot::Mutex;

#[derive(Debug, Default)]
struct Budget {
    used: i64,
    reserved: i64,
}

/// Spend and holds of every key seen by this process.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    inner: Arc<Mutex<HashMap<i64, Budget>>>,
}

/// The key cannot cover the reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaExceeded {
    /// Quota left, micro-USD (never negative).
    pub remaining_micros: i64,
}

/// A hold on a key's quota.
#[derive(Debug)]
#[must_use = "a reservation must be settled"]
pub struct Reservation {
    ledger: Ledger,
    key_id: i64,
    amount: i64,
    settled: bool,
}

impl Ledger {
    /// Reserves `amount` micro-USD for `key_id`, whose quota is `limit` (None: unlimited) and
    /// whose stored spend is `stored_used` (read only the first time the key is seen).
    pub fn reserve(
        &self,
        key_id: i64,
        limit: Option<i64>,
        stored_used: i64,
        amount: i64,
    ) -> Result<Reservation, QuotaExceeded> {
        let amount = amount.max(0);
        let mut map = self.inner.lock();
        let b = map.entry(key_id).or_insert_with(|| Budget {
            used: stored_used,
            reserved: 0,
        });
        if let Some(limit) = limit {
            let committed = b.used.saturating_add(b.reserved);
            // A key already at or over its quota is refused even for a zero estimate.
            if committed >= limit || committed.saturating_add(amount) > limit {
                return Err(QuotaExceeded {
                    remaining_micros: (limit - committed).max(0),
                });
            }
        }
        b.reserved += amount;
        Ok(Reservation {
            ledger: self.clone(),
            key_id,
            amount,
            settled: false,
        })
    }

    /// Spent micro-USD of a key as this process knows it.
    pub fn used(&self, key_id: i64) -> Option<i64> {
        self.inner.lock().get(&key_id).map(|b| b.used)
    }
}

impl Reservation {
    /// The amount held.
    pub fn amount(&self) -> i64 {
        self.amount
    }

    /// Releases the hold and charges `actual` micro-USD.
    pub fn settle(mut self, actual: i64) {
        self.finish(actual.max(0));
    }

    fn finish(&mut self, charge: i64) {
        if self.settled {
            return;
        }
        self.settled = true;
        let mut map = self.ledger.inner.lock();
        if let Some(b) = map.get_mut(&self.key_id) {
            b.reserved -= self.amount;
            b.used += charge;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.finish(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_bound_concurrent_spend() {
        let l = Ledger::default();
        let a = l.reserve(1, Some(100), 10, 40).unwrap();
        let b = l.reserve(1, Some(100), 999, 40).unwrap(); // stored_used read only once
        assert_eq!(
            l.reserve(1, Some(100), 0, 40).unwrap_err(),
            QuotaExceeded {
                remaining_micros: 10
            }
        );
        a.settle(5);
        drop(b); // released, nothing charged
        assert_eq!(l.used(1), Some(15));
        let c = l.reserve(1, Some(100), 0, 85).unwrap();
        c.settle(200); // actual beyond the estimate is still charged
        assert_eq!(l.used(1), Some(215));
        assert!(l.reserve(1, Some(100), 0, 0).is_err());
        assert!(l.reserve(2, None, 0, 1_000_000).is_ok());
    }
}
