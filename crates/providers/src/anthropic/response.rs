//! A non-stream `Message` as an OpenAI `chat.completion`, plus the pieces the stream converter
//! shares: the `stop_reason` mapping and the usage mapping.
//!
//! Content blocks are read in order: every `text` block is appended to `message.content` (not
//! only the first one), every `tool_use` block becomes a `tool_calls` entry (arguments = the
//! input serialised as JSON), `thinking` blocks go to the non-standard `reasoning_content`.
//! Usage: `prompt_tokens = input_tokens + cache_creation_input_tokens + cache_read_input_tokens`
//! (Anthropic's `input_tokens` excludes both cache kinds), `completion_tokens = output_tokens`,
//! and `prompt_tokens_details.cached_tokens = cache_read_input_tokens`.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_types::Usage;

use super::errors;
use crate::adapter::{ChatOutput, ConvertError, ResponseCtx};

/// Anthropic's usage object (every field optional: `message_delta` carries only some).
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub(crate) struct AnthropicUsage {
    #[serde(default)]
    pub(crate) input_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) output_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Overwrites the fields `newer` carries (all of Anthropic's counts are running totals).
    pub(crate) fn update(&mut self, newer: &AnthropicUsage) {
        let take = |old: &mut Option<u64>, new: Option<u64>| {
            if new.is_some() {
                *old = new;
            }
        };
        take(&mut self.input_tokens, newer.input_tokens);
        take(
            &mut self.cache_creation_input_tokens,
            newer.cache_creation_input_tokens,
        );
        take(
            &mut self.cache_read_input_tokens,
            newer.cache_read_input_tokens,
        );
        take(&mut self.output_tokens, newer.output_tokens);
    }

    /// The OpenAI usage object.
    pub(crate) fn to_openai(self) -> Usage {
        let cached = self.cache_read_input_tokens.unwrap_or(0);
        let prompt =
            self.input_tokens.unwrap_or(0) + self.cache_creation_input_tokens.unwrap_or(0) + cached;
        let mut usage = Usage::new(prompt, self.output_tokens.unwrap_or(0));
        usage.extra.insert(
            "prompt_tokens_details".into(),
            json!({ "cached_tokens": cached }),
        );
        usage
    }
}

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`.
pub(crate) fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn, unknown or missing.
        _ => "stop",
    }
}

/// The chunk and completion id for an Anthropic message id.
pub(crate) fn completion_id(message_id: &str) -> String {
    if message_id.is_empty() {
        "chatcmpl-anthropic".to_owned()
    } else {
        format!("chatcmpl-{message_id}")
    }
}

#[derive(Deserialize)]
struct Message {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    id: String,
    #[serde(default)]
    content: Vec<Value>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default)]
    error: Option<errors::Inner>,
}

/// Converts a 2xx answer; an error object inside it is [`ConvertError::Upstream`].
pub(crate) fn convert(body: &Bytes, ctx: &ResponseCtx<'_>) -> Result<ChatOutput, ConvertError> {
    let msg: Message = serde_json::from_slice(body)
        .map_err(|e| ConvertError::Protocol(format!("Anthropic answer is not a Message: {e}")))?;
    if let Some(inner) = msg.error {
        return Err(ConvertError::Upstream(errors::from_inner(inner, 200)));
    }
    if msg.kind.as_deref().is_some_and(|k| k != "message") {
        return Err(ConvertError::Protocol(format!(
            "Anthropic answer has type `{}`, expected `message`",
            msg.kind.unwrap_or_default()
        )));
    }
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for block in &msg.content {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("thinking") => {
                reasoning.push_str(block.get("thinking").and_then(Value::as_str).unwrap_or(""));
            }
            Some("tool_use") => {
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                tool_calls.push(json!({
                    "id": block.get("id").and_then(Value::as_str).unwrap_or(""),
                    "type": "function",
                    "function": {
                        "name": block.get("name").and_then(Value::as_str).unwrap_or(""),
                        "arguments": input.to_string(),
                    },
                }));
            }
            _ => {}
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), Value::from("assistant"));
    let content = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        Value::from(text.as_str())
    };
    message.insert("content".into(), content);
    message.insert("refusal".into(), Value::Null);
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), Value::from(reasoning.as_str()));
    }
    let text_for_count = msg.usage.is_none().then(|| {
        let mut all = format!("{reasoning}{text}");
        for call in &tool_calls {
            all.push_str(call["function"]["name"].as_str().unwrap_or(""));
            all.push_str(call["function"]["arguments"].as_str().unwrap_or(""));
        }
        all
    });
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    let usage = msg.usage.map(AnthropicUsage::to_openai);
    let mut out = json!({
        "id": completion_id(&msg.id),
        "object": "chat.completion",
        "created": ctx.now_unix,
        "model": ctx.requested_model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(msg.stop_reason.as_deref()),
        }],
    });
    if let Some(u) = &usage {
        out["usage"] = serde_json::to_value(u)
            .map_err(|e| ConvertError::Protocol(format!("cannot serialise usage: {e}")))?;
    }
    let body = serde_json::to_vec(&out)
        .map_err(|e| ConvertError::Protocol(format!("cannot serialise the completion: {e}")))?;
    Ok(ChatOutput {
        body: Bytes::from(body),
        usage,
        text_for_count,
    })
}
