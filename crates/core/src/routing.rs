//! Choosing channels for a model: highest priority first, weighted random among equals, and
//! channels in cooldown (after repeated failures) only after the healthy ones.
//!
//! A single failure never takes a channel out: only `failure_threshold` consecutive failures
//! put it in cooldown, and a success resets the count. Disabled channels are not in the table.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use foldhash::HashMap;
use rand::Rng;
use switchyard_providers::Provider;

use crate::Secret;

/// One routable channel.
#[derive(Debug)]
pub struct Channel {
    /// Database id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Provider kind.
    pub provider: Provider,
    /// Base URL.
    pub base_url: String,
    /// Upstream credential.
    pub key: Secret,
    /// Models served.
    pub models: Vec<String>,
    /// Requested → upstream model names.
    pub model_map: BTreeMap<String, String>,
    /// Higher first.
    pub priority: i64,
    /// Share among equal priority.
    pub weight: i64,
    consecutive_failures: AtomicU32,
    cooldown_until_ms: AtomicU64,
}

impl Channel {
    /// A channel with a clean health record.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: i64,
        name: String,
        provider: Provider,
        base_url: String,
        key: Secret,
        models: Vec<String>,
        model_map: BTreeMap<String, String>,
        priority: i64,
        weight: i64,
    ) -> Self {
        Self {
            id,
            name,
            provider,
            base_url,
            key,
            models,
            model_map,
            priority,
            weight: weight.max(1),
            consecutive_failures: AtomicU32::new(0),
            cooldown_until_ms: AtomicU64::new(0),
        }
    }

    /// The upstream name of `model` on this channel.
    pub fn upstream_model<'a>(&'a self, model: &'a str) -> &'a str {
        self.model_map.get(model).map_or(model, String::as_str)
    }

    /// Records a success: the failure count starts again.
    pub fn record_success(&self) {
        self.consecutive_failures.store(0, Ordering::Relaxed);
        self.cooldown_until_ms.store(0, Ordering::Relaxed);
    }

    /// Records a failure; the `threshold`-th in a row starts a cooldown of `cooldown_ms`.
    pub fn record_failure(&self, now_ms: u64, threshold: u32, cooldown_ms: u64) {
        let n = self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= threshold {
            self.cooldown_until_ms
                .store(now_ms + cooldown_ms, Ordering::Relaxed);
        }
    }

    /// True while in cooldown.
    pub fn cooling(&self, now_ms: u64) -> bool {
        self.cooldown_until_ms.load(Ordering::Relaxed) > now_ms
    }
}

/// Model → channels that serve it.
#[derive(Debug, Default)]
pub struct RouteTable {
    by_model: HashMap<String, Vec<Arc<Channel>>>,
    models: Vec<String>,
}

impl RouteTable {
    /// Builds the table from enabled channels.
    pub fn new(channels: Vec<Channel>) -> Self {
        let mut by_model: HashMap<String, Vec<Arc<Channel>>> = HashMap::default();
        for ch in channels {
            let ch = Arc::new(ch);
            for m in &ch.models {
                by_model.entry(m.clone()).or_default().push(ch.clone());
            }
        }
        let mut models: Vec<String> = by_model.keys().cloned().collect();
        models.sort();
        Self { by_model, models }
    }

    /// Every routable model name, sorted.
    pub fn models(&self) -> &[String] {
        &self.models
    }

    /// Whether any channel serves `model`.
    pub fn serves(&self, model: &str) -> bool {
        self.by_model.contains_key(model)
    }

    /// Candidate channels for `model` in the order they should be tried.
    pub fn candidates(
        &self,
        model: &str,
        now_ms: u64,
        rng: &mut impl Rng,
    ) -> Cow<'_, [Arc<Channel>]> {
        let list = match self.by_model.get(model).map(Vec::as_slice) {
            None => return Cow::Borrowed(&[]),
            // One channel has one order: no random draw, and no list to make.
            Some(only @ [_]) => return Cow::Borrowed(only),
            Some(list) => list,
        };
        // Weighted random order (Efraimidis–Spirakis): key = u^(1/w), larger first.
        let mut keyed: Vec<(bool, i64, f64, Arc<Channel>)> = list
            .iter()
            .map(|c| {
                let u: f64 = rng.random_range(f64::EPSILON..1.0);
                (
                    c.cooling(now_ms),
                    c.priority,
                    u.powf(1.0 / c.weight as f64),
                    c.clone(),
                )
            })
            .collect();
        keyed.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(b.1.cmp(&a.1))
                .then(b.2.partial_cmp(&a.2).unwrap_or(std::cmp::Ordering::Equal))
        });
        Cow::Owned(keyed.into_iter().map(|k| k.3).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn ch(id: i64, priority: i64, weight: i64) -> Channel {
        Channel::new(
            id,
            format!("c{id}"),
            Provider::OpenAi,
            "http://x".into(),
            Secret::new("k"),
            vec!["m".into()],
            BTreeMap::new(),
            priority,
            weight,
        )
    }

    #[test]
    fn priority_then_weight() {
        let t = RouteTable::new(vec![ch(1, 0, 1), ch(2, 10, 1), ch(3, 10, 3)]);
        let mut rng = StdRng::seed_from_u64(7);
        let mut first3 = 0;
        for _ in 0..4000 {
            let c = t.candidates("m", 0, &mut rng);
            assert_eq!(c.len(), 3);
            assert_eq!(c[2].id, 1, "lowest priority last");
            if c[0].id == 3 {
                first3 += 1;
            }
        }
        // weight 3 vs 1: expected share 0.75
        assert!((2800..3200).contains(&first3), "{first3}");
        assert!(t.candidates("other", 0, &mut rng).is_empty());
    }

    #[test]
    fn cooldown_after_threshold_only() {
        let t = RouteTable::new(vec![ch(1, 10, 1), ch(2, 0, 1)]);
        let mut rng = StdRng::seed_from_u64(1);
        let first = t.candidates("m", 0, &mut rng)[0].clone();
        assert_eq!(first.id, 1);
        first.record_failure(1000, 3, 30_000);
        first.record_failure(1000, 3, 30_000);
        assert_eq!(
            t.candidates("m", 1000, &mut rng)[0].id,
            1,
            "two failures keep it first"
        );
        first.record_failure(1000, 3, 30_000);
        assert_eq!(
            t.candidates("m", 1000, &mut rng)[0].id,
            2,
            "third failure: cooldown"
        );
        assert_eq!(
            t.candidates("m", 31_001, &mut rng)[0].id,
            1,
            "cooldown over"
        );
        first.record_success();
        assert!(!first.cooling(1000));
    }
}
