//! Token usage as OpenAI reports it.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Token counts of one request. Detail objects (`prompt_tokens_details`, …) are kept in `extra`.
///
/// Read by a hand-written visitor: serde's `flatten` buffers every field into an intermediate
/// tree first, which made reading usage the costliest step of relaying a non-stream answer.
/// A count that is `null` reads as 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Their sum, as the upstream reported it.
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

/// A key of a usage object: one of the three counts, or anything else.
enum Field {
    Prompt,
    Completion,
    Total,
    Other(String),
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "prompt_tokens" => Field::Prompt,
                    "completion_tokens" => Field::Completion,
                    "total_tokens" => Field::Total,
                    other => Field::Other(other.to_owned()),
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de> Deserialize<'de> for Usage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Usage;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a usage object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Usage, A::Error> {
                let mut u = Usage::default();
                while let Some(key) = map.next_key::<Field>()? {
                    let slot = match key {
                        Field::Prompt => &mut u.prompt_tokens,
                        Field::Completion => &mut u.completion_tokens,
                        Field::Total => &mut u.total_tokens,
                        Field::Other(name) => {
                            u.extra.insert(name, map.next_value()?);
                            continue;
                        }
                    };
                    *slot = map.next_value::<Option<u64>>()?.unwrap_or(0);
                }
                Ok(u)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_counts_and_keeps_the_rest() {
        let u: Usage = serde_json::from_str(
            r#"{"prompt_tokens":7,"completion_tokens":null,"total_tokens":9,
                "prompt_tokens_details":{"cached_tokens":3},"x":"y"}"#,
        )
        .unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (7, 0, 9)
        );
        assert_eq!(u.cached_tokens(), 3);
        assert_eq!(u.extra.get("x"), Some(&Value::from("y")));
        // Written back with the same fields.
        let back = serde_json::to_value(&u).unwrap();
        assert_eq!(back["prompt_tokens_details"]["cached_tokens"], 3);
        assert_eq!(back["total_tokens"], 9);
        // A missing count is 0; a count of the wrong type is an error.
        let u: Usage = serde_json::from_str(r#"{"total_tokens":4}"#).unwrap();
        assert_eq!(
            u,
            Usage {
                total_tokens: 4,
                ..Usage::default()
            }
        );
        assert!(serde_json::from_str::<Usage>(r#"{"prompt_tokens":"7"}"#).is_err());
    }
}
