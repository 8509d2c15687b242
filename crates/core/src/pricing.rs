//! Prices per model and the cost of a request, in integer micro-USD.
//!
//! Prices are configured in USD per million tokens, which is exactly micro-USD per token; they
//! are held as integer nano-USD per token so that fractional prices (0.15 USD/M) stay exact, and
//! a request's cost is rounded to the nearest micro-USD once, at the end.

use std::collections::{BTreeMap, HashMap};

use crate::config::PriceConfig;

/// Price of one model, nano-USD per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    /// Prompt tokens.
    pub input_nanos: u64,
    /// Completion tokens.
    pub output_nanos: u64,
    /// Cached prompt tokens.
    pub cached_input_nanos: u64,
}

impl Price {
    fn from_usd_per_mtok(p: &PriceConfig) -> Self {
        let nanos = |usd: f64| (usd * 1000.0).round().max(0.0) as u64;
        Self {
            input_nanos: nanos(p.input),
            output_nanos: nanos(p.output),
            cached_input_nanos: nanos(p.cached_input.unwrap_or(p.input)),
        }
    }

    /// Cost in micro-USD; `cached` is the part of `prompt` that was served from cache.
    pub fn cost_micros(&self, prompt: u64, completion: u64, cached: u64) -> i64 {
        let cached = cached.min(prompt);
        let nanos = u128::from(prompt - cached) * u128::from(self.input_nanos)
            + u128::from(cached) * u128::from(self.cached_input_nanos)
            + u128::from(completion) * u128::from(self.output_nanos);
        i64::try_from((nanos + 500) / 1000).unwrap_or(i64::MAX)
    }
}

/// Default prices (USD per million tokens: input, output, cached input) for the seed models.
/// Moonshot and StepFun list prices in CNY; these are converted at about 7.2 CNY per USD.
const DEFAULTS: &[(&str, f64, f64, Option<f64>)] = &[
    ("gpt-3.5-turbo", 0.5, 1.5, None),
    ("gpt-3.5-turbo-16k", 3.0, 4.0, None),
    ("gpt-4", 30.0, 60.0, None),
    ("gpt-4-32k", 60.0, 120.0, None),
    ("gpt-4-turbo", 10.0, 30.0, None),
    ("gpt-4o", 2.5, 10.0, Some(1.25)),
    ("gpt-4o-mini", 0.15, 0.6, Some(0.075)),
    ("text-embedding-ada-002", 0.1, 0.0, None),
    ("text-embedding-3-small", 0.02, 0.0, None),
    ("text-embedding-3-large", 0.13, 0.0, None),
    ("moonshot-v1-8k", 1.67, 1.67, None),
    ("moonshot-v1-32k", 3.33, 3.33, None),
    ("moonshot-v1-128k", 8.33, 8.33, None),
    ("step-1-8k", 0.69, 2.78, None),
    ("step-1-32k", 2.08, 9.72, None),
    ("step-1-128k", 5.56, 27.78, None),
    ("step-1-256k", 13.89, 55.56, None),
    ("step-1-flash", 0.14, 0.56, None),
    ("step-2-16k", 5.28, 16.67, None),
    ("step-1v-8k", 0.69, 2.78, None),
    ("step-1v-32k", 2.08, 9.72, None),
    // Fallback for models with no entry: better an approximate charge than a free model.
    ("*", 1.0, 2.0, None),
];

/// The price table: defaults overlaid with `[prices]` from the config.
#[derive(Debug, Clone)]
pub struct PriceTable {
    prices: HashMap<String, Price>,
}

impl PriceTable {
    /// Defaults, then the configured entries (which replace defaults of the same name).
    pub fn new(configured: &BTreeMap<String, PriceConfig>) -> Self {
        let mut prices: HashMap<String, Price> = DEFAULTS
            .iter()
            .map(|&(m, input, output, cached_input)| {
                (
                    m.to_owned(),
                    Price::from_usd_per_mtok(&PriceConfig {
                        input,
                        output,
                        cached_input,
                    }),
                )
            })
            .collect();
        for (m, p) in configured {
            prices.insert(m.clone(), Price::from_usd_per_mtok(p));
        }
        Self { prices }
    }

    /// The price of the requested model, else of the upstream model, else the `*` fallback.
    pub fn lookup(&self, requested: &str, upstream: Option<&str>) -> Price {
        self.prices
            .get(requested)
            .or_else(|| upstream.and_then(|u| self.prices.get(u)))
            .or_else(|| self.prices.get("*"))
            .copied()
            .unwrap_or(Price {
                input_nanos: 0,
                output_nanos: 0,
                cached_input_nanos: 0,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_are_exact_integers() {
        let t = PriceTable::new(&BTreeMap::new());
        // gpt-4: 30 USD/M in, 60 USD/M out → 30 and 60 micro-USD per token.
        assert_eq!(t.lookup("gpt-4", None).cost_micros(1000, 500, 0), 60_000);
        // gpt-4o-mini: 0.15 and 0.6 USD/M; 7 prompt tokens = 1.05 µUSD, rounding once at the end.
        assert_eq!(t.lookup("gpt-4o-mini", None).cost_micros(7, 0, 0), 1);
        assert_eq!(
            t.lookup("gpt-4o-mini", None)
                .cost_micros(1_000_000, 1_000_000, 0),
            750_000
        );
        // cached tokens at the cached price
        assert_eq!(t.lookup("gpt-4o", None).cost_micros(1000, 0, 1000), 1250);
    }

    #[test]
    fn config_overrides_and_fallbacks() {
        let mut cfg = BTreeMap::new();
        cfg.insert(
            "gpt-4".to_owned(),
            PriceConfig {
                input: 1.0,
                output: 2.0,
                cached_input: None,
            },
        );
        cfg.insert(
            "*".to_owned(),
            PriceConfig {
                input: 0.0,
                output: 0.0,
                cached_input: None,
            },
        );
        let t = PriceTable::new(&cfg);
        assert_eq!(t.lookup("gpt-4", None).cost_micros(10, 10, 0), 30);
        assert_eq!(t.lookup("alias", Some("gpt-4")).cost_micros(10, 10, 0), 30);
        assert_eq!(t.lookup("unknown", None).cost_micros(10, 10, 0), 0);
    }
}
