//! Spark's response frames as canonical `chat.completion.chunk`s.
//!
//! Every WebSocket text message is one frame: `header.code` (non-zero = error, the socket then
//! closes), `header.status` 0/1/2 (2 = last frame), incremental text in
//! `payload.choices.text[].content`, a `function_call` in place of text when the model calls a
//! function, and usage only in the last frame (`payload.usage.text`). Invariants kept here: the
//! same id/created/model on every chunk, `role` once, tool-call deltas always with `index` (and
//! the id/type/name in their only fragment), `finish_reason` only on the last chunk, usage
//! reported as the provider's total (it comes once), never a usage-only chunk or `[DONE]`.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_sse::Event;
use switchyard_types::Usage;

use super::response::code_error;
use crate::adapter::{ConvertError, Emit, ResponseCtx, StreamConverter, StreamStep};

#[derive(Deserialize)]
struct Frame {
    header: Header,
    #[serde(default)]
    payload: Option<Payload>,
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    sid: String,
    #[serde(default)]
    status: i64,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    choices: Option<Choices>,
    #[serde(default)]
    usage: Option<UsageBox>,
}

#[derive(Deserialize)]
struct Choices {
    #[serde(default)]
    status: i64,
    #[serde(default)]
    text: Vec<TextItem>,
}

#[derive(Deserialize)]
struct TextItem {
    #[serde(default)]
    content: String,
    #[serde(default)]
    function_call: Option<FunctionCall>,
}

#[derive(Deserialize)]
struct FunctionCall {
    #[serde(default)]
    name: String,
    #[serde(default)]
    arguments: Value,
}

#[derive(Deserialize)]
struct UsageBox {
    #[serde(default)]
    text: Option<SparkUsage>,
}

#[derive(Deserialize)]
struct SparkUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    total_tokens: Option<u64>,
}

/// Converter state for one answer.
#[derive(Debug)]
pub(crate) struct SparkStream {
    id: String,
    created: u64,
    model: String,
    role_sent: bool,
    tool_calls: u32,
}

impl SparkStream {
    pub(crate) fn new(ctx: &ResponseCtx<'_>) -> Self {
        Self {
            id: String::new(),
            created: ctx.now_unix,
            model: ctx.requested_model.to_owned(),
            role_sent: false,
            tool_calls: 0,
        }
    }

    fn chunk(&mut self, mut delta: Map<String, Value>, finish: Option<&str>) -> Bytes {
        if !self.role_sent {
            self.role_sent = true;
            delta.insert("role".into(), Value::from("assistant"));
            delta.entry("content").or_insert_with(|| Value::from(""));
        }
        let body = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "delta": delta,
                "logprobs": null,
                "finish_reason": finish,
            }],
        });
        Bytes::from(body.to_string())
    }

    /// A synthetic but stable call id derived from the session id.
    fn call_id(&self, index: u32) -> String {
        let sid: String = self
            .id
            .trim_start_matches("chatcmpl-")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        if index == 0 {
            format!("call_{sid}")
        } else {
            format!("call_{sid}_{index}")
        }
    }
}

fn protocol(e: serde_json::Error) -> ConvertError {
    ConvertError::Protocol(format!("Spark frame is not valid JSON: {e}"))
}

impl StreamConverter for SparkStream {
    fn event(&mut self, ev: &Event, emit: &mut Emit) -> Result<StreamStep, ConvertError> {
        let data = ev.data.trim();
        if data.is_empty() {
            return Ok(StreamStep::Continue);
        }
        let frame: Frame = serde_json::from_str(data).map_err(protocol)?;
        if frame.header.code != 0 {
            return Err(ConvertError::Upstream(code_error(
                frame.header.code,
                &frame.header.message,
            )));
        }
        if self.id.is_empty() {
            self.id = if frame.header.sid.is_empty() {
                "chatcmpl-spark".to_owned()
            } else {
                format!("chatcmpl-{}", frame.header.sid)
            };
        }
        let payload = frame.payload;
        let (choices, usage) = match payload {
            Some(p) => (p.choices, p.usage.and_then(|u| u.text)),
            None => (None, None),
        };
        let done = frame.header.status == 2 || choices.as_ref().is_some_and(|c| c.status == 2);

        let mut content = String::new();
        let mut calls = Vec::new();
        for item in choices.map(|c| c.text).unwrap_or_default() {
            content.push_str(&item.content);
            if let Some(fc) = item.function_call {
                let args = match fc.arguments {
                    Value::String(s) => s,
                    Value::Null => "{}".to_owned(),
                    other => other.to_string(),
                };
                calls.push((fc.name, args));
            }
        }

        if !content.is_empty() {
            emit.text.push_str(&content);
            let finish = (done && calls.is_empty()).then_some("stop");
            let mut delta = Map::new();
            delta.insert("content".into(), Value::from(content));
            let c = self.chunk(delta, finish);
            emit.chunks.push(c);
        }
        let had_calls = !calls.is_empty();
        for (name, args) in calls {
            emit.text.push_str(&name);
            emit.text.push_str(&args);
            let index = self.tool_calls;
            self.tool_calls += 1;
            let call = json!({
                "index": index,
                "id": self.call_id(index),
                "type": "function",
                "function": {"name": name, "arguments": args},
            });
            let mut delta = Map::new();
            delta.insert("tool_calls".into(), Value::Array(vec![call]));
            let c = self.chunk(delta, None);
            emit.chunks.push(c);
        }
        if done {
            if had_calls || self.tool_calls > 0 {
                let c = self.chunk(Map::new(), Some("tool_calls"));
                emit.chunks.push(c);
            } else if emit.chunks.is_empty() {
                let c = self.chunk(Map::new(), Some("stop"));
                emit.chunks.push(c);
            }
        }
        if let Some(u) = usage {
            let mut out = Usage::new(u.prompt_tokens, u.completion_tokens);
            if let Some(total) = u.total_tokens {
                out.total_tokens = total;
            }
            emit.usage = Some(out);
        }
        Ok(if done {
            StreamStep::Done
        } else {
            StreamStep::Continue
        })
    }

    fn identity(&self) -> (&str, u64, &str) {
        (&self.id, self.created, &self.model)
    }
}
