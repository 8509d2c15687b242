//! Anthropic's named stream events as canonical `chat.completion.chunk`s.
//!
//! | event                         | chunk                                                   |
//! |-------------------------------|---------------------------------------------------------|
//! | `message_start`               | `delta:{role:"assistant",content:""}`; id, usage noted  |
//! | `content_block_start` text    | the block's initial text, if any                        |
//! | `content_block_start` tool_use| `tool_calls:[{index:k,id,type,function:{name,arguments:""}}]` |
//! | `content_block_delta`         | `content` / `tool_calls[{index:k,function:{arguments}}]` / `reasoning_content` |
//! | `message_delta`               | `delta:{}` + mapped `finish_reason`; usage replaced      |
//! | `message_stop`                | nothing; the stream is [`StreamStep::Done`] (no `[DONE]` upstream) |
//! | `ping`, `content_block_stop`  | nothing                                                 |
//! | `error`                       | [`ConvertError::Upstream`] with the mapped status        |
//!
//! Invariants: one id/created/model for every chunk (`model` = the requested name), `role`
//! only in the first chunk, tool-call deltas always carry `index` = the ordinal of the tool
//! block among tool blocks (not Anthropic's block index), `id`/`type`/`name` only in a call's
//! first fragment, `finish_reason` only on the last chunk. Usage is the running total
//! (`message_delta` counts are cumulative) and is replaced, never added; no usage-only chunk and
//! no `[DONE]` are produced here.

use std::collections::HashMap;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_sse::Event;

use super::errors;
use super::response::{AnthropicUsage, completion_id, finish_reason};
use crate::adapter::{ConvertError, Emit, ResponseCtx, StreamConverter, StreamStep};

#[derive(Deserialize)]
struct Frame {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    message: Option<StartMessage>,
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    content_block: Option<Value>,
    #[serde(default)]
    delta: Option<Value>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default)]
    error: Option<errors::Inner>,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

/// Converter state for one answer.
#[derive(Debug)]
pub(crate) struct AnthropicStream {
    id: String,
    created: u64,
    model: String,
    role_sent: bool,
    /// Anthropic block index → OpenAI tool-call index.
    tools: HashMap<u64, u32>,
    usage: AnthropicUsage,
    finished: bool,
}

impl AnthropicStream {
    pub(crate) fn new(ctx: &ResponseCtx<'_>) -> Self {
        Self {
            id: completion_id(""),
            created: ctx.now_unix,
            model: ctx.requested_model.to_owned(),
            role_sent: false,
            tools: HashMap::new(),
            usage: AnthropicUsage::default(),
            finished: false,
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

    fn text(&mut self, text: &str, emit: &mut Emit) {
        if text.is_empty() {
            return;
        }
        emit.text.push_str(text);
        let mut d = Map::new();
        d.insert("content".into(), Value::from(text));
        let c = self.chunk(d, None);
        emit.chunks.push(c);
    }

    fn reasoning(&mut self, text: &str, emit: &mut Emit) {
        if text.is_empty() {
            return;
        }
        emit.text.push_str(text);
        let mut d = Map::new();
        d.insert("reasoning_content".into(), Value::from(text));
        let c = self.chunk(d, None);
        emit.chunks.push(c);
    }

    fn tool_delta(&mut self, call: Value, emit: &mut Emit) {
        let mut d = Map::new();
        d.insert("tool_calls".into(), Value::Array(vec![call]));
        let c = self.chunk(d, None);
        emit.chunks.push(c);
    }

    fn block_start(&mut self, index: u64, block: &Value, emit: &mut Emit) {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => self.text(
                block.get("text").and_then(Value::as_str).unwrap_or(""),
                emit,
            ),
            Some("thinking") => {
                self.reasoning(
                    block.get("thinking").and_then(Value::as_str).unwrap_or(""),
                    emit,
                );
            }
            Some("tool_use") => {
                let k = self.tools.len() as u32;
                self.tools.insert(index, k);
                let name = block.get("name").and_then(Value::as_str).unwrap_or("");
                // The real API starts with `input: {}` and streams the JSON; a non-empty input
                // (some relays send it whole) becomes the first fragment's arguments.
                let arguments = match block.get("input") {
                    Some(Value::Object(o)) if !o.is_empty() => Value::Object(o.clone()).to_string(),
                    _ => String::new(),
                };
                emit.text.push_str(name);
                emit.text.push_str(&arguments);
                self.tool_delta(
                    json!({
                        "index": k,
                        "id": block.get("id").and_then(Value::as_str).unwrap_or(""),
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    }),
                    emit,
                );
            }
            _ => {}
        }
    }

    fn block_delta(&mut self, index: u64, delta: &Value, emit: &mut Emit) {
        let field = |k: &str| delta.get(k).and_then(Value::as_str).unwrap_or("");
        match delta.get("type").and_then(Value::as_str) {
            Some("text_delta") => self.text(field("text"), emit),
            Some("thinking_delta") => self.reasoning(field("thinking"), emit),
            Some("input_json_delta") => {
                let fragment = field("partial_json");
                let Some(&k) = self.tools.get(&index) else {
                    return;
                };
                if fragment.is_empty() {
                    return;
                }
                emit.text.push_str(fragment);
                self.tool_delta(
                    json!({"index": k, "function": {"arguments": fragment}}),
                    emit,
                );
            }
            // signature_delta, citations_delta and future kinds carry nothing for OpenAI.
            _ => {}
        }
    }

    fn finish(&mut self, stop_reason: Option<&str>, emit: &mut Emit) {
        if self.finished {
            return;
        }
        self.finished = true;
        let c = self.chunk(Map::new(), Some(finish_reason(stop_reason)));
        emit.chunks.push(c);
    }
}

impl StreamConverter for AnthropicStream {
    fn event(&mut self, ev: &Event, emit: &mut Emit) -> Result<StreamStep, ConvertError> {
        let data = ev.data.trim();
        if data.is_empty() {
            return Ok(StreamStep::Continue);
        }
        let frame: Frame = serde_json::from_str(data).map_err(|e| {
            ConvertError::Protocol(format!("Anthropic stream event is not valid JSON: {e}"))
        })?;
        let kind = frame.kind.as_deref().or(ev.event.as_deref()).unwrap_or("");
        match kind {
            "message_start" => {
                if let Some(m) = frame.message {
                    if !m.id.is_empty() {
                        self.id = completion_id(&m.id);
                    }
                    if let Some(u) = m.usage {
                        self.usage.update(&u);
                        emit.usage = Some(self.usage.to_openai());
                    }
                }
                if !self.role_sent {
                    let c = self.chunk(Map::new(), None);
                    emit.chunks.push(c);
                }
            }
            "content_block_start" => {
                if let Some(block) = &frame.content_block {
                    self.block_start(frame.index.unwrap_or(0), block, emit);
                }
            }
            "content_block_delta" => {
                if let Some(delta) = &frame.delta {
                    self.block_delta(frame.index.unwrap_or(0), delta, emit);
                }
            }
            "message_delta" => {
                if let Some(u) = &frame.usage {
                    self.usage.update(u);
                    emit.usage = Some(self.usage.to_openai());
                }
                let stop = frame
                    .delta
                    .as_ref()
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str);
                if stop.is_some() {
                    self.finish(stop, emit);
                }
            }
            "message_stop" => {
                self.finish(None, emit);
                return Ok(StreamStep::Done);
            }
            "error" => {
                let inner = frame.error.unwrap_or(errors::Inner {
                    kind: None,
                    message: Some(data.chars().take(512).collect()),
                });
                return Err(ConvertError::Upstream(errors::from_inner(inner, 200)));
            }
            // ping, content_block_stop and event kinds added later.
            _ => {}
        }
        Ok(StreamStep::Continue)
    }

    fn identity(&self) -> (&str, u64, &str) {
        (&self.id, self.created, &self.model)
    }
}
