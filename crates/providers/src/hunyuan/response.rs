//! Hunyuan answers → canonical OpenAI JSON: the `Response`-wrapped non-stream body, the
//! `Response.Error` that comes with HTTP 200, non-2xx bodies, and `GetEmbedding` answers.
//!
//! The native frame types here are shared with the stream converter (stream frames have the same
//! fields without the `Response` wrapper).

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_types::Usage;

use super::errors;
use crate::adapter::{ChatOutput, ConvertError, EmbeddingsOutput, ResponseCtx, UpstreamError};

/// `Response.Error`.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct NativeError {
    #[serde(default)]
    pub(super) code: String,
    #[serde(default)]
    pub(super) message: String,
}

/// A mid-stream `ErrorMsg` (`Code` 4000: internal error, 4001: model timeout).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ErrorMsg {
    #[serde(default)]
    pub(super) code: Option<i64>,
    #[serde(default)]
    pub(super) msg: Option<String>,
}

/// `Usage` of a chat answer or frame.
#[derive(Deserialize, Debug, Default, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
pub(super) struct NativeUsage {
    #[serde(default)]
    pub(super) prompt_tokens: u64,
    #[serde(default)]
    pub(super) completion_tokens: u64,
    #[serde(default)]
    pub(super) total_tokens: u64,
}

impl NativeUsage {
    pub(super) fn canonical(self) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            total_tokens: self.total_tokens,
            extra: Map::new(),
        }
    }
}

/// `ToolCalls[]` entry.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct NativeToolCall {
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) index: Option<u32>,
    #[serde(default)]
    pub(super) function: Option<NativeFunction>,
}

/// `ToolCalls[].Function`.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct NativeFunction {
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) arguments: Option<String>,
}

/// `Message` (non-stream) or `Delta` (stream).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct NativeMessage {
    #[serde(default)]
    pub(super) content: Option<String>,
    #[serde(default)]
    pub(super) reasoning_content: Option<String>,
    #[serde(default)]
    pub(super) tool_calls: Option<Vec<NativeToolCall>>,
}

/// One `Choices[]` entry.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct NativeChoice {
    #[serde(default)]
    pub(super) index: Option<u32>,
    #[serde(default)]
    pub(super) message: Option<NativeMessage>,
    #[serde(default)]
    pub(super) delta: Option<NativeMessage>,
    #[serde(default)]
    pub(super) finish_reason: Option<String>,
}

/// The body inside `Response` (non-stream), or a whole stream frame.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct NativeAnswer {
    #[serde(default)]
    pub(super) error: Option<NativeError>,
    #[serde(default)]
    pub(super) error_msg: Option<ErrorMsg>,
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) request_id: Option<String>,
    #[serde(default)]
    pub(super) created: Option<u64>,
    #[serde(default)]
    pub(super) choices: Vec<NativeChoice>,
    #[serde(default)]
    pub(super) usage: Option<NativeUsage>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(rename = "Response")]
    response: T,
}

/// Hunyuan's finish reasons in OpenAI's words (`sensitive`: output moderation stopped it).
/// Unknown values pass through: finish reasons are an open set.
pub(super) fn finish_reason(native: &str) -> String {
    match native {
        "sensitive" => "content_filter".to_owned(),
        "" | "stop" => "stop".to_owned(),
        other => other.to_owned(),
    }
}

fn protocol(what: &str, e: impl std::fmt::Display) -> ConvertError {
    ConvertError::Protocol(format!(
        "Tencent Hunyuan {what} is not in its documented format: {e}"
    ))
}

/// OpenAI `tool_calls` of a whole (non-stream) message.
fn tool_calls(calls: &[NativeToolCall]) -> Vec<Value> {
    calls
        .iter()
        .map(|c| {
            let f = c.function.as_ref();
            json!({
                "id": c.id.clone().unwrap_or_default(),
                "type": "function",
                "function": {
                    "name": f.and_then(|f| f.name.clone()).unwrap_or_default(),
                    "arguments": f.and_then(|f| f.arguments.clone()).unwrap_or_default(),
                }
            })
        })
        .collect()
}

/// Converts a 200 `ChatCompletions` answer (an error inside it is [`ConvertError::Upstream`]).
pub(super) fn chat(body: &[u8], ctx: &ResponseCtx<'_>) -> Result<ChatOutput, ConvertError> {
    let env: Envelope<NativeAnswer> =
        serde_json::from_slice(body).map_err(|e| protocol("answer", e))?;
    let ans = env.response;
    if let Some(err) = ans.error {
        return Err(ConvertError::Upstream(errors::upstream_error(
            &err.code,
            &err.message,
        )));
    }
    if ans.choices.is_empty() {
        return Err(protocol("answer", "it has no Choices"));
    }
    let mut text_for_count = String::new();
    let choices: Vec<Value> = ans
        .choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let msg = c.message.as_ref();
            let content = msg.and_then(|m| m.content.clone()).unwrap_or_default();
            let calls = msg.and_then(|m| m.tool_calls.as_deref()).filter(|c| !c.is_empty());
            text_for_count.push_str(&content);
            let mut message = json!({
                "role": "assistant",
                "content": if content.is_empty() && calls.is_some() { Value::Null } else { Value::from(content) },
                "refusal": null,
            });
            if let Some(r) = msg.and_then(|m| m.reasoning_content.as_deref()).filter(|r| !r.is_empty()) {
                message["reasoning_content"] = Value::from(r);
                text_for_count.push_str(r);
            }
            if let Some(calls) = calls {
                let calls = tool_calls(calls);
                text_for_count.push_str(&Value::from(calls.clone()).to_string());
                message["tool_calls"] = Value::from(calls);
            }
            let finish = c.finish_reason.as_deref().unwrap_or("stop");
            json!({
                "index": c.index.unwrap_or(i as u32),
                "message": message,
                "logprobs": null,
                "finish_reason": finish_reason(finish),
            })
        })
        .collect();
    let usage = ans.usage.map(NativeUsage::canonical);
    let id = ans.id.or(ans.request_id).unwrap_or_default();
    let out = json!({
        "id": id,
        "object": "chat.completion",
        "created": ans.created.unwrap_or(ctx.now_unix),
        "model": ctx.requested_model,
        "choices": choices,
        "usage": usage.as_ref().map_or(Value::Null, |u| json!({
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens,
        })),
    });
    let body = serde_json::to_vec(&out).map_err(|e| protocol("answer", e))?;
    Ok(ChatOutput {
        body: Bytes::from(body),
        text_for_count: usage.is_none().then_some(text_for_count),
        usage,
    })
}

/// Reads a non-2xx answer: a `Response.Error` when there is one, the raw text otherwise.
pub(super) fn error(status: u16, body: &[u8]) -> UpstreamError {
    if let Ok(env) = serde_json::from_slice::<Envelope<NativeAnswer>>(body)
        && let Some(err) = env.response.error
    {
        return errors::upstream_error(&err.code, &err.message);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    UpstreamError {
        status,
        message: if text.is_empty() {
            format!("Tencent Hunyuan answered HTTP {status}")
        } else {
            text.chars().take(512).collect()
        },
        kind: None,
        code: None,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EmbeddingAnswer {
    #[serde(default)]
    error: Option<NativeError>,
    #[serde(default)]
    data: Vec<EmbeddingData>,
    #[serde(default)]
    usage: Option<EmbeddingUsage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EmbeddingData {
    #[serde(default)]
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EmbeddingUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    total_tokens: u64,
}

/// Converts a 200 `GetEmbedding` answer; vectors come back in input order.
pub(super) fn embeddings(body: &[u8]) -> Result<EmbeddingsOutput, ConvertError> {
    let env: Envelope<EmbeddingAnswer> =
        serde_json::from_slice(body).map_err(|e| protocol("embedding answer", e))?;
    let ans = env.response;
    if let Some(err) = ans.error {
        return Err(ConvertError::Upstream(errors::upstream_error(
            &err.code,
            &err.message,
        )));
    }
    if ans.data.is_empty() {
        return Err(protocol("embedding answer", "it has no Data"));
    }
    let mut data: Vec<(usize, Vec<f32>)> = ans
        .data
        .into_iter()
        .enumerate()
        .map(|(i, d)| (d.index.unwrap_or(i), d.embedding))
        .collect();
    data.sort_by_key(|(i, _)| *i);
    Ok(EmbeddingsOutput {
        vectors: data.into_iter().map(|(_, v)| v).collect(),
        usage: ans.usage.map(|u| Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: 0,
            total_tokens: u.total_tokens,
            extra: Map::new(),
        }),
    })
}
