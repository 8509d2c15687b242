//! Token usage as OpenAI reports it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Token counts of one request. Detail objects (`prompt_tokens_details`, …) are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Tokens generated.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Their sum, as the upstream reported it.
    #[serde(default)]
    pub total_tokens: u64,
    /// Any other fields, passed through unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Usage {
    /// Usage with the given counts and a total that is their sum.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            extra: Map::new(),
        }
    }

    /// Cached prompt tokens (`prompt_tokens_details.cached_tokens`), 0 when absent.
    pub fn cached_tokens(&self) -> u64 {
        self.extra
            .get("prompt_tokens_details")
            .and_then(|d| d.get("cached_tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }
}
