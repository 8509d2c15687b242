//! Prices per model and the cost of a request, in integer micro-USD.
//!
//! Prices are configured in USD per million tokens, which is exactly micro-USD per token; they
//! are held as integer nano-USD per token so that fractional prices (0.15 USD/M) stay exact, and
//! a request's cost is rounded to the nearest micro-USD once, at the end.

use std::collections::BTreeMap;

use foldhash::HashMap;

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
    // Anthropic list prices; cached input is the cache-read price (a tenth of input).
    ("claude-2.0", 8.0, 24.0, None),
    ("claude-2.1", 8.0, 24.0, None),
    ("claude-3-haiku-20240307", 0.25, 1.25, Some(0.03)),
    ("claude-3-haiku-20240229", 0.25, 1.25, Some(0.03)),
    ("claude-3-sonnet-20240229", 3.0, 15.0, Some(0.3)),
    ("claude-3-opus-20240229", 15.0, 75.0, Some(1.5)),
    ("claude-3-5-sonnet-20240620", 3.0, 15.0, Some(0.3)),
    ("claude-3-5-sonnet-20241022", 3.0, 15.0, Some(0.3)),
    ("claude-3-5-haiku-20241022", 0.8, 4.0, Some(0.08)),
    ("claude-3-7-sonnet-20250219", 3.0, 15.0, Some(0.3)),
    ("claude-sonnet-4-20250514", 3.0, 15.0, Some(0.3)),
    ("claude-opus-4-20250514", 15.0, 75.0, Some(1.5)),
    ("claude-opus-4-1-20250805", 15.0, 75.0, Some(1.5)),
    ("claude-sonnet-4-5-20250929", 3.0, 15.0, Some(0.3)),
    ("claude-haiku-4-5-20251001", 1.0, 5.0, Some(0.1)),
    // Google list prices (prompts up to 128k/200k tokens); text-embedding-004 is not charged.
    ("gemini-pro", 0.5, 1.5, None),
    ("gemini-pro-vision", 0.5, 1.5, None),
    ("gemini-1.5-pro", 1.25, 5.0, Some(0.3125)),
    ("gemini-1.5-flash", 0.075, 0.3, Some(0.01875)),
    ("gemini-2.0-flash", 0.1, 0.4, Some(0.025)),
    ("gemini-2.0-flash-lite", 0.075, 0.3, None),
    ("gemini-2.5-pro", 1.25, 10.0, Some(0.125)),
    ("gemini-2.5-flash", 0.3, 2.5, Some(0.03)),
    ("gemini-2.5-flash-lite", 0.1, 0.4, Some(0.01)),
    ("text-embedding-004", 0.0, 0.0, None),
    // Fallback for models with no entry: better an approximate charge than a free model.
    ("*", 1.0, 2.0, None),
];

/// CNY per USD for the providers that price in yuan.
const CNY_PER_USD: f64 = 7.2;

/// Default prices in CNY per million tokens (input, output) for the Chinese providers' seed
/// models, from their published price lists (2024 price cuts; Spark sells token packages, so
/// its figures are approximate). Models a provider offers free are free here too.
const DEFAULTS_CNY: &[(&str, f64, f64)] = &[
    ("qwen-turbo", 0.3, 0.6),
    ("qwen-plus", 0.8, 2.0),
    ("qwen-max", 20.0, 60.0),
    ("qwen-max-1201", 20.0, 60.0),
    ("qwen-max-longcontext", 40.0, 120.0),
    ("qwen-vl-plus", 1.5, 4.5),
    ("text-embedding-v1", 0.7, 0.0),
    ("text-embedding-v2", 0.7, 0.0),
    ("ERNIE-4.0-8K", 30.0, 90.0),
    ("ERNIE-Bot-4", 30.0, 90.0),
    ("ERNIE-4.0-Turbo-8K", 20.0, 60.0),
    ("ERNIE-3.5-8K", 0.8, 2.0),
    ("ERNIE-3.5-128K", 0.8, 2.0),
    ("ERNIE-Bot", 0.8, 2.0),
    ("ERNIE-Bot-8K", 0.8, 2.0),
    ("ERNIE-Speed-8K", 0.0, 0.0),
    ("ERNIE-Speed-128K", 0.0, 0.0),
    ("ERNIE-Speed-Pro-128K", 0.3, 0.6),
    ("ERNIE-Lite-8K", 0.0, 0.0),
    ("ERNIE-Lite-8K-0922", 8.0, 8.0),
    ("ERNIE-Tiny-8K", 0.0, 0.0),
    ("ERNIE-Bot-turbo", 0.0, 0.0),
    ("ERNIE-Character-8K", 4.0, 8.0),
    ("Embedding-V1", 0.5, 0.0),
    ("bge-large-zh", 0.5, 0.0),
    ("bge-large-en", 0.5, 0.0),
    ("tao-8k", 0.5, 0.0),
    ("glm-4", 100.0, 100.0),
    ("glm-4v", 50.0, 50.0),
    ("glm-3-turbo", 1.0, 1.0),
    ("chatglm_turbo", 5.0, 5.0),
    ("chatglm_pro", 10.0, 10.0),
    ("chatglm_std", 5.0, 5.0),
    ("chatglm_lite", 2.0, 2.0),
    ("embedding-2", 0.5, 0.0),
    ("hunyuan", 100.0, 100.0),
    ("hunyuan-lite", 0.0, 0.0),
    ("hunyuan-standard", 0.8, 2.0),
    ("hunyuan-pro", 30.0, 100.0),
    ("hunyuan-embedding", 0.7, 0.0),
    ("SparkDesk-v1.1", 0.0, 0.0),
    ("SparkDesk-v2.1", 18.0, 18.0),
    ("SparkDesk-v3.1", 18.0, 18.0),
    ("SparkDesk-v3.5", 18.0, 18.0),
    ("SparkDesk-v4.0", 70.0, 70.0),
];

/// The price table: defaults overlaid with `[prices]` from the config.
#[derive(Debug, Clone)]
pub struct PriceTable {
    prices: HashMap<String, Price>,
}

impl PriceTable {
    /// Defaults, then the configured entries (which replace defaults of the same name).
    pub fn new(configured: &BTreeMap<String, PriceConfig>) -> Self {
        let in_usd = DEFAULTS_CNY
            .iter()
            .map(|&(m, input, output)| (m, input / CNY_PER_USD, output / CNY_PER_USD, None));
        let mut prices: HashMap<String, Price> = DEFAULTS
            .iter()
            .copied()
            .chain(in_usd)
            .map(|(m, input, output, cached_input)| {
                let p = PriceConfig {
                    input,
                    output,
                    cached_input,
                };
                (m.to_owned(), Price::from_usd_per_mtok(&p))
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
    fn every_default_model_of_every_provider_has_its_own_price() {
        let t = PriceTable::new(&BTreeMap::new());
        let fallback = t.lookup("no-such-model", None);
        // qwen-turbo: 0.3 CNY/M in → 0.3/7.2 = 0.041667 USD/M, held as 42 nano-USD per token.
        assert_eq!(
            t.lookup("qwen-turbo", None).cost_micros(1_000_000, 0, 0),
            42_000
        );
        // claude-3-haiku: cache reads at 0.03 USD/M.
        let haiku = t.lookup("claude-3-haiku-20240307", None);
        assert_eq!(haiku.cost_micros(1_000_000, 0, 1_000_000), 30_000);
        assert_eq!(
            t.lookup("ERNIE-Speed-8K", None).cost_micros(1000, 1000, 0),
            0
        );
        for m in [
            "qwen-max",
            "ERNIE-4.0-8K",
            "glm-4",
            "hunyuan-pro",
            "SparkDesk-v3.5",
            "claude-sonnet-4-5-20250929",
            "gemini-2.5-flash",
        ] {
            assert_ne!(t.lookup(m, None), fallback, "{m} has no default price");
        }
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
