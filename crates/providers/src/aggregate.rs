//! Builds one `chat.completion` from canonical stream chunks, for providers that only stream
//! (a non-stream client request is then streamed upstream and aggregated here).

use serde_json::{Map, Value, json};
use switchyard_types::Usage;

#[derive(Debug, Default)]
struct Choice {
    content: String,
    has_content: bool,
    tool_calls: Vec<Map<String, Value>>,
    finish_reason: Option<String>,
}

/// Accumulates chunks.
#[derive(Debug, Default)]
pub struct Aggregator {
    choices: Vec<Choice>,
}

impl Aggregator {
    /// Adds one canonical chunk (JSON). Chunks that are not JSON objects are ignored.
    pub fn push(&mut self, chunk: &[u8]) {
        let Ok(v) = serde_json::from_slice::<Value>(chunk) else {
            return;
        };
        for c in v["choices"].as_array().into_iter().flatten() {
            let index = c["index"].as_u64().unwrap_or(0) as usize;
            if self.choices.len() <= index {
                self.choices.resize_with(index + 1, Choice::default);
            }
            let choice = &mut self.choices[index];
            let delta = &c["delta"];
            if let Some(t) = delta["content"].as_str() {
                choice.content.push_str(t);
                choice.has_content = true;
            }
            for tc in delta["tool_calls"].as_array().into_iter().flatten() {
                let i = tc["index"].as_u64().unwrap_or(0) as usize;
                if choice.tool_calls.len() <= i {
                    choice.tool_calls.resize_with(i + 1, Map::new);
                }
                merge_tool_call(&mut choice.tool_calls[i], tc);
            }
            if let Some(f) = c["finish_reason"].as_str() {
                choice.finish_reason = Some(f.to_owned());
            }
        }
    }

    /// The completion, with `usage` as metered.
    pub fn finish(self, id: &str, created: u64, model: &str, usage: &Usage) -> Value {
        let choices: Vec<Value> = self
            .choices
            .into_iter()
            .enumerate()
            .map(|(index, c)| {
                let mut message = json!({
                    "role": "assistant",
                    "content": if c.has_content || c.tool_calls.is_empty() { Value::from(c.content) } else { Value::Null },
                    "refusal": null,
                });
                if !c.tool_calls.is_empty() {
                    message["tool_calls"] = Value::Array(c.tool_calls.into_iter().map(Value::Object).collect());
                }
                json!({
                    "index": index,
                    "message": message,
                    "logprobs": null,
                    "finish_reason": c.finish_reason.unwrap_or_else(|| "stop".to_owned()),
                })
            })
            .collect();
        json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": choices,
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.prompt_tokens + usage.completion_tokens,
            },
        })
    }
}

fn merge_tool_call(acc: &mut Map<String, Value>, delta: &Value) {
    for key in ["id", "type"] {
        if let Some(v) = delta.get(key).filter(|v| !v.is_null()) {
            acc.insert(key.to_owned(), v.clone());
        }
    }
    let f = acc
        .entry("function")
        .or_insert_with(|| json!({"name": "", "arguments": ""}));
    if let (Some(f), Some(df)) = (f.as_object_mut(), delta.get("function")) {
        for key in ["name", "arguments"] {
            if let Some(s) = df.get(key).and_then(Value::as_str) {
                let cur = f.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
                f.insert(key.to_owned(), Value::from(cur + s));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_tool_calls_are_assembled() {
        let mut a = Aggregator::default();
        for c in [
            json!({"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}),
            json!({"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}),
            json!({"choices":[{"index":1,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get","arguments":""}}]},"finish_reason":null}]}),
            json!({"choices":[{"index":1,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]},"finish_reason":null}]}),
            json!({"choices":[{"index":1,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},"finish_reason":"tool_calls"}]}),
            json!({"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}),
        ] {
            a.push(c.to_string().as_bytes());
        }
        let v = a.finish("id1", 7, "m", &Usage::new(3, 4));
        assert_eq!(v["choices"][0]["message"]["content"], "Hello");
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        let tc = &v["choices"][1]["message"]["tool_calls"][0];
        assert_eq!(tc["id"], "call_1");
        assert_eq!(tc["function"]["name"], "get");
        assert_eq!(tc["function"]["arguments"], "{\"a\":1}");
        assert_eq!(v["choices"][1]["message"]["content"], Value::Null);
        assert_eq!(v["usage"]["total_tokens"], 7);
        assert_eq!(v["object"], "chat.completion");
    }
}
