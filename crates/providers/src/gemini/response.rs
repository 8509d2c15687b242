//! A non-stream `generateContent` answer to an OpenAI `chat.completion`.
//!
//! Each candidate becomes one choice (its `index`, else its position): text parts joined as
//! `content`, thought parts as `reasoning_content`, each whole `functionCall` one `tool_calls`
//! entry with a generated `call_…` id (see [`super::ids`]) and `arguments` as a JSON string;
//! `finish_reason` is `tool_calls` whenever calls are present. A prompt Gemini blocked (no
//! candidates, `promptFeedback.blockReason`) is a 400 `content_filter`; an `error` member in a
//! 200 is the mapped upstream error.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::{ids, wire};
use crate::adapter::{ChatOutput, ConvertError, ResponseCtx};

/// Converts the body.
pub(crate) fn convert(body: &[u8], ctx: &ResponseCtx<'_>) -> Result<ChatOutput, ConvertError> {
    let resp = wire::parse(body)?;
    if resp.candidates.is_empty() {
        if let Some(reason) = resp
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.as_deref())
        {
            return Err(wire::blocked(reason));
        }
        return Err(ConvertError::Protocol(
            "Gemini answered without candidates".into(),
        ));
    }
    let mut choices = Vec::with_capacity(resp.candidates.len());
    let mut all_text = String::new();
    for (pos, cand) in resp.candidates.iter().enumerate() {
        let mut text = String::new();
        let mut thoughts = String::new();
        let mut calls = Vec::new();
        for part in cand.content.iter().flat_map(|c| c.parts.iter()) {
            if let Some(fc) = &part.function_call {
                let args = fc.arguments();
                all_text.push_str(&fc.name);
                all_text.push_str(&args);
                calls.push(json!({
                    "id": ids::call_id(part.thought_signature.as_deref()),
                    "type": "function",
                    "function": {"name": fc.name, "arguments": args},
                }));
            } else if let Some(t) = &part.text {
                if part.thought == Some(true) {
                    thoughts.push_str(t);
                } else {
                    text.push_str(t);
                }
            }
        }
        all_text.push_str(&text);
        let mut message = Map::new();
        message.insert("role".into(), json!("assistant"));
        let content = if text.is_empty() && !calls.is_empty() {
            Value::Null
        } else {
            Value::from(text)
        };
        message.insert("content".into(), content);
        message.insert("refusal".into(), Value::Null);
        if !thoughts.is_empty() {
            message.insert("reasoning_content".into(), Value::from(thoughts));
        }
        let finish = wire::finish_reason(cand.finish_reason.as_deref(), !calls.is_empty());
        if !calls.is_empty() {
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        choices.push(json!({
            "index": cand.index.unwrap_or(pos as u32),
            "message": message,
            "logprobs": null,
            "finish_reason": finish,
        }));
    }
    let usage = resp
        .usage_metadata
        .as_ref()
        .map(wire::UsageMetadata::to_usage);
    let mut out = Map::new();
    out.insert(
        "id".into(),
        Value::from(ids::completion_id(resp.response_id.as_deref())),
    );
    out.insert("object".into(), json!("chat.completion"));
    out.insert("created".into(), json!(ctx.now_unix));
    out.insert("model".into(), json!(ctx.requested_model));
    out.insert("choices".into(), Value::Array(choices));
    if let Some(u) = &usage {
        out.insert("usage".into(), wire::usage_json(u));
    }
    let body = serde_json::to_vec(&Value::Object(out))
        .map_err(|e| ConvertError::Protocol(format!("cannot serialise the completion: {e}")))?;
    Ok(ChatOutput {
        body: Bytes::from(body),
        text_for_count: usage.is_none().then_some(all_text),
        usage,
    })
}
