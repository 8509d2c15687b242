//! Qianfan v1 answers: the chat object (non-stream, and each stream chunk), embeddings.
//!
//! A chat answer is `{id, object, created, result, is_truncated, need_clear_history,
//! finish_reason, usage, function_call?}`; an error is `{error_code, error_msg}` with HTTP 200,
//! checked first. Finish reasons map `normal`/`stop` → `stop`, `length` → `length`,
//! `content_filter` → `content_filter`, `function_call` → `tool_calls`; an answer flagged
//! `need_clear_history` (the input or output was judged unsafe) finishes with `content_filter`,
//! and a truncated `normal` answer with `length`. The client sees the model it asked for.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_types::Usage;

use super::errors;
use crate::adapter::{ChatOutput, ConvertError, EmbeddingsOutput, ResponseCtx};

/// ERNIE's `function_call`.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct FunctionCall {
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) arguments: Option<Value>,
}

impl FunctionCall {
    /// The arguments as the JSON text OpenAI clients expect.
    pub(super) fn arguments_text(&self) -> String {
        match &self.arguments {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => "{}".to_owned(),
            Some(other) => other.to_string(),
        }
    }
}

/// One v1 chat object (a whole answer, or one stream chunk).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Answer {
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) created: Option<u64>,
    #[serde(default)]
    pub(super) result: Option<String>,
    #[serde(default)]
    pub(super) is_end: Option<bool>,
    #[serde(default)]
    pub(super) is_truncated: Option<bool>,
    #[serde(default)]
    pub(super) need_clear_history: Option<bool>,
    #[serde(default)]
    pub(super) finish_reason: Option<String>,
    #[serde(default)]
    pub(super) function_call: Option<FunctionCall>,
    #[serde(default)]
    pub(super) usage: Option<Usage>,
    #[serde(default)]
    pub(super) error_code: Option<Value>,
    #[serde(default)]
    pub(super) error_msg: Option<String>,
}

impl Answer {
    /// Parses a chat object; an error body is [`ConvertError::Upstream`].
    pub(super) fn parse(body: &[u8]) -> Result<Self, ConvertError> {
        let a: Answer = serde_json::from_slice(body).map_err(|e| {
            ConvertError::Protocol(format!("Qianfan answer is not a chat object: {e}"))
        })?;
        if let Some(code) = &a.error_code
            && let Some(err) = errors::v1_from(code, a.error_msg.as_deref())
        {
            return Err(ConvertError::Upstream(err));
        }
        Ok(a)
    }
}

/// The OpenAI finish reason.
pub(super) fn finish_reason(
    raw: Option<&str>,
    need_clear_history: bool,
    called: bool,
    truncated: bool,
) -> &'static str {
    if need_clear_history {
        return "content_filter";
    }
    match raw {
        Some("content_filter") => "content_filter",
        Some("length") => "length",
        Some("function_call" | "tool_calls") => "tool_calls",
        _ if called => "tool_calls",
        Some("normal") | None if truncated => "length",
        _ => "stop",
    }
}

/// The id clients see for the tool call of answer `id`.
pub(super) fn call_id(id: &str, index: usize) -> String {
    format!("call_{id}_{index}")
}

/// The `usage` object clients see.
pub(super) fn usage_json(u: &Usage) -> Value {
    json!({
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
    })
}

/// Converts a non-stream chat answer.
pub(super) fn chat(body: &[u8], ctx: &ResponseCtx<'_>) -> Result<ChatOutput, ConvertError> {
    let a = Answer::parse(body)?;
    let id = a.id.clone().unwrap_or_else(|| "as-qianfan".to_owned());
    let text = a.result.clone().unwrap_or_default();
    let mut message = json!({"role": "assistant", "content": text, "refusal": null});
    if let Some(fc) = &a.function_call {
        message["tool_calls"] = json!([{
            "id": call_id(&id, 0),
            "type": "function",
            "function": {"name": fc.name, "arguments": fc.arguments_text()},
        }]);
        if text.is_empty() {
            message["content"] = Value::Null;
        }
    }
    let finish = finish_reason(
        a.finish_reason.as_deref(),
        a.need_clear_history.unwrap_or(false),
        a.function_call.is_some(),
        a.is_truncated.unwrap_or(false),
    );
    let mut out = json!({
        "id": id,
        "object": "chat.completion",
        "created": a.created.unwrap_or(ctx.now_unix),
        "model": ctx.requested_model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish,
        }],
    });
    if let Some(u) = &a.usage {
        out["usage"] = usage_json(u);
    }
    let text_for_count = a.usage.is_none().then(|| {
        let mut t = text;
        if let Some(fc) = &a.function_call {
            t.push_str(&fc.name);
            t.push_str(&fc.arguments_text());
        }
        t
    });
    Ok(ChatOutput {
        body: Bytes::from(out.to_string()),
        usage: a.usage,
        text_for_count,
    })
}

/// Converts an embeddings answer (vectors in input order).
pub(super) fn embeddings(body: &[u8]) -> Result<crate::adapter::EmbeddingsOutput, ConvertError> {
    #[derive(Deserialize)]
    struct Item {
        #[serde(default)]
        index: usize,
        embedding: Vec<f32>,
    }
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        data: Option<Vec<Item>>,
        #[serde(default)]
        usage: Option<Usage>,
        #[serde(default)]
        error_code: Option<Value>,
        #[serde(default)]
        error_msg: Option<String>,
    }
    let a: Answer = serde_json::from_slice(body).map_err(|e| {
        ConvertError::Protocol(format!("Qianfan answer is not an embedding list: {e}"))
    })?;
    if let Some(code) = &a.error_code
        && let Some(err) = errors::v1_from(code, a.error_msg.as_deref())
    {
        return Err(ConvertError::Upstream(err));
    }
    let mut data = a
        .data
        .ok_or_else(|| ConvertError::Protocol("Qianfan embedding list has no `data`".into()))?;
    data.sort_by_key(|d| d.index);
    Ok(EmbeddingsOutput {
        vectors: data.into_iter().map(|d| d.embedding).collect(),
        usage: a.usage,
    })
}
