//! Native answers to canonical ones: the non-stream `chat.completion`, the embeddings, and the
//! pieces the stream converter shares (native types, usage, content text, tool calls).
//!
//! A 200 answer may still be an error (`{"code","message"}` instead of `output`): that is
//! reported as [`ConvertError::Upstream`], never as an empty completion.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_types::Usage;

use super::error::NativeError;
use crate::adapter::{ChatOutput, ConvertError, EmbeddingsOutput, ResponseCtx};

/// A native chat answer or stream chunk.
#[derive(Debug, Deserialize)]
pub(super) struct Native {
    #[serde(default)]
    pub(super) output: Option<Output>,
    #[serde(default)]
    pub(super) usage: Option<NativeUsage>,
    #[serde(default)]
    pub(super) request_id: Option<String>,
    #[serde(flatten)]
    pub(super) error: NativeError,
}

/// `output`: `choices` with `result_format: "message"`, `text` + `finish_reason` without.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Output {
    #[serde(default)]
    pub(super) choices: Option<Vec<Choice>>,
    #[serde(default)]
    pub(super) text: Option<String>,
    #[serde(default)]
    pub(super) finish_reason: Option<String>,
}

impl Output {
    /// The choices; the legacy shape (`text` + `finish_reason`) is one choice.
    pub(super) fn into_choices(self) -> Vec<Choice> {
        match self.choices {
            Some(choices) => choices,
            None if self.text.is_none() && self.finish_reason.is_none() => Vec::new(),
            None => vec![Choice {
                message: Some(NativeMessage {
                    content: self.text.map(Value::String),
                    ..NativeMessage::default()
                }),
                finish_reason: self.finish_reason,
                ..Choice::default()
            }],
        }
    }
}

/// One choice of `output.choices`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Choice {
    #[serde(default)]
    pub(super) index: Option<u32>,
    #[serde(default)]
    pub(super) message: Option<NativeMessage>,
    #[serde(default)]
    pub(super) finish_reason: Option<String>,
    #[serde(default)]
    pub(super) logprobs: Option<Value>,
}

/// `choices[].message` (in streams too: DashScope has no `delta`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct NativeMessage {
    /// A string for text models, a list of `{"text": …}` parts for vision models.
    #[serde(default)]
    pub(super) content: Option<Value>,
    #[serde(default)]
    pub(super) tool_calls: Option<Vec<Value>>,
    #[serde(default)]
    pub(super) reasoning_content: Option<String>,
}

/// Native usage, cumulative in every stream chunk.
#[derive(Debug, Default, Deserialize)]
pub(super) struct NativeUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    total_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<Value>,
    #[serde(default)]
    output_tokens_details: Option<Value>,
}

impl NativeUsage {
    /// OpenAI usage: `input_tokens` → `prompt_tokens`, `output_tokens` → `completion_tokens`,
    /// cached and reasoning token details kept.
    pub(super) fn to_openai(&self) -> Usage {
        let mut u = Usage::new(self.input_tokens, self.output_tokens);
        if let Some(total) = self.total_tokens {
            u.total_tokens = total;
        }
        if let Some(d) = self
            .prompt_tokens_details
            .as_ref()
            .filter(|d| d.is_object())
        {
            u.extra.insert("prompt_tokens_details".into(), d.clone());
        }
        if let Some(r) = self
            .output_tokens_details
            .as_ref()
            .and_then(|d| d.get("reasoning_tokens"))
        {
            u.extra.insert(
                "completion_tokens_details".into(),
                json!({"reasoning_tokens": r}),
            );
        }
        u
    }
}

/// A finish reason for OpenAI: DashScope's `"null"` string (and an empty one) mean "not yet".
pub(super) fn finish(reason: Option<&str>) -> Option<&str> {
    reason.filter(|r| !r.is_empty() && *r != "null")
}

/// The text of a native content: a string, or the `text` parts of a list joined.
pub(super) fn content_text(content: Option<&Value>, out: &mut String) {
    match content {
        Some(Value::String(s)) => out.push_str(s),
        Some(Value::Array(parts)) => {
            for t in parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
            {
                out.push_str(t);
            }
        }
        _ => {}
    }
}

/// Tool calls in OpenAI's shape: `type` always set, empty `id`/`name` (DashScope's way of
/// saying "same call as before" in streams) removed, and in streams an `index` on every call.
pub(super) fn tool_calls(calls: &[Value], streaming: bool) -> Vec<Value> {
    calls
        .iter()
        .enumerate()
        .map(|(position, call)| {
            let mut call = call.as_object().cloned().unwrap_or_default();
            if call.get("id").and_then(Value::as_str) == Some("") {
                call.remove("id");
            }
            if let Some(f) = call.get_mut("function").and_then(Value::as_object_mut)
                && f.get("name").and_then(Value::as_str) == Some("")
            {
                f.remove("name");
            }
            if streaming {
                call.entry("index").or_insert_with(|| json!(position));
            } else {
                call.remove("index");
            }
            call.entry("type").or_insert_with(|| json!("function"));
            Value::Object(call)
        })
        .collect()
}

/// Appends a tool call's name and argument text (for local counting).
pub(super) fn tool_call_text(calls: &[Value], out: &mut String) {
    for f in calls.iter().filter_map(|c| c.get("function")) {
        for key in ["name", "arguments"] {
            out.push_str(f.get(key).and_then(Value::as_str).unwrap_or(""));
        }
    }
}

/// The OpenAI id of an answer: `chatcmpl-<request_id>`, as DashScope's compatible mode does.
pub(super) fn completion_id(request_id: Option<&str>) -> String {
    format!("chatcmpl-{}", request_id.unwrap_or("dashscope"))
}

fn protocol(what: &str, e: serde_json::Error) -> ConvertError {
    ConvertError::Protocol(format!(
        "DashScope {what} is not in its documented format: {e}"
    ))
}

/// Converts a non-stream answer.
pub(super) fn chat(body: &[u8], ctx: &ResponseCtx<'_>) -> Result<ChatOutput, ConvertError> {
    let native: Native = serde_json::from_slice(body).map_err(|e| protocol("answer", e))?;
    if native.error.code().is_some() {
        return Err(ConvertError::Upstream(native.error.to_upstream(200)));
    }
    let choices = native.output.map(Output::into_choices).unwrap_or_default();
    if choices.is_empty() {
        return Err(ConvertError::Protocol(
            "DashScope answer has neither an answer in `output` nor an error code".into(),
        ));
    }
    let usage = native.usage.as_ref().map(NativeUsage::to_openai);
    let mut all_text = String::new();
    let choices: Vec<Value> = choices
        .into_iter()
        .enumerate()
        .map(|(position, c)| {
            let m = c.message.unwrap_or_default();
            let mut text = String::new();
            content_text(m.content.as_ref(), &mut text);
            all_text.push_str(&text);
            let mut message = Map::new();
            message.insert("role".into(), json!("assistant"));
            let calls = m.tool_calls.filter(|c| !c.is_empty());
            let content = if text.is_empty() && calls.is_some() {
                Value::Null
            } else {
                Value::String(text)
            };
            message.insert("content".into(), content);
            // OpenAI's schema requires `refusal` on every message.
            message.insert("refusal".into(), Value::Null);
            if let Some(r) = m.reasoning_content.filter(|r| !r.is_empty()) {
                all_text.push_str(&r);
                message.insert("reasoning_content".into(), Value::String(r));
            }
            if let Some(calls) = calls {
                tool_call_text(&calls, &mut all_text);
                message.insert("tool_calls".into(), Value::Array(tool_calls(&calls, false)));
            }
            json!({
                "index": c.index.unwrap_or(position as u32),
                "message": message,
                "finish_reason": finish(c.finish_reason.as_deref()).unwrap_or("stop"),
                "logprobs": c.logprobs.unwrap_or(Value::Null),
            })
        })
        .collect();
    let mut out = json!({
        "id": completion_id(native.request_id.as_deref()),
        "object": "chat.completion",
        "created": ctx.now_unix,
        "model": ctx.requested_model,
        "choices": choices,
    });
    if let Some(u) = &usage {
        out["usage"] = serde_json::to_value(u).map_err(|e| protocol("usage", e))?;
    }
    let body = serde_json::to_vec(&out).map_err(|e| protocol("answer", e))?;
    Ok(ChatOutput {
        body: Bytes::from(body),
        text_for_count: usage.is_none().then_some(all_text),
        usage,
    })
}

/// Converts an embeddings answer: vectors put back in input order by `text_index`.
pub(super) fn embeddings(body: &[u8]) -> Result<EmbeddingsOutput, ConvertError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        output: Option<EmbOutput>,
        #[serde(default)]
        usage: Option<EmbUsage>,
        #[serde(flatten)]
        error: NativeError,
    }
    #[derive(Deserialize)]
    struct EmbOutput {
        embeddings: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        text_index: usize,
        embedding: Vec<f32>,
    }
    #[derive(Deserialize)]
    struct EmbUsage {
        total_tokens: u64,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| protocol("embeddings", e))?;
    if answer.error.code().is_some() {
        return Err(ConvertError::Upstream(answer.error.to_upstream(200)));
    }
    let Some(output) = answer.output else {
        return Err(ConvertError::Protocol(
            "DashScope embeddings answer has no `output`".into(),
        ));
    };
    let mut items = output.embeddings;
    items.sort_by_key(|i| i.text_index);
    if items
        .iter()
        .enumerate()
        .any(|(i, item)| item.text_index != i)
    {
        return Err(ConvertError::Protocol(
            "DashScope embeddings answer skips or repeats a text_index".into(),
        ));
    }
    Ok(EmbeddingsOutput {
        vectors: items.into_iter().map(|i| i.embedding).collect(),
        usage: answer.usage.map(|u| Usage::new(u.total_tokens, 0)),
    })
}
