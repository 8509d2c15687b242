//! `:streamGenerateContent?alt=sse` events to OpenAI `chat.completion.chunk`s.
//!
//! Gemini sends one `GenerateContentResponse` per event with incremental text, whole function
//! calls, and cumulative `usageMetadata` (the last chunk carries the full count); there is no
//! `[DONE]`, the connection just closes. So:
//! - each candidate of an event becomes one chunk for its choice (OpenAI's `n > 1` shape);
//!   the first delta of each choice carries `role: "assistant"`, once;
//! - each `functionCall` becomes one tool-call delta with its own `index` (0, 1, … per choice),
//!   a generated `call_…` id, `type`, `name` and the whole `arguments`;
//! - a candidate's `finishReason` goes, mapped (and `tool_calls` when the choice made calls), on
//!   a chunk of its own with `delta: {}` after the event's content, as OpenAI sends it (the
//!   openai-python stream helper reads `finish_reason` before the same chunk's `tool_calls`);
//!   the stream is [`StreamStep::Done`] once every choice seen has finished;
//! - usage is reported on every event that carries it (replace semantics: it is cumulative);
//! - a blocked prompt is a 400 `content_filter`, an `error` event the mapped upstream error.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use switchyard_sse::Event;

use super::{ids, wire};
use crate::adapter::{ConvertError, Emit, ResponseCtx, StreamConverter, StreamStep};

#[derive(Debug, Default)]
struct Choice {
    index: u32,
    role_sent: bool,
    calls: u32,
    finished: bool,
}

/// Converter state for one stream.
#[derive(Debug)]
pub(crate) struct GeminiStream {
    id: String,
    created: u64,
    model: String,
    choices: Vec<Choice>,
}

impl GeminiStream {
    pub(crate) fn new(ctx: &ResponseCtx<'_>) -> Self {
        Self {
            id: String::new(),
            created: ctx.now_unix,
            model: ctx.requested_model.to_owned(),
            choices: Vec::new(),
        }
    }

    fn choice(&mut self, index: u32) -> &mut Choice {
        let pos = match self.choices.iter().position(|c| c.index == index) {
            Some(p) => p,
            None => {
                self.choices.push(Choice {
                    index,
                    ..Choice::default()
                });
                self.choices.len() - 1
            }
        };
        &mut self.choices[pos]
    }

    fn chunk(&self, index: u32, delta: Map<String, Value>, finish: Option<&str>) -> Bytes {
        let v = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": index,
                "delta": delta,
                "logprobs": null,
                "finish_reason": finish,
            }],
        });
        Bytes::from(v.to_string())
    }
}

impl StreamConverter for GeminiStream {
    fn event(&mut self, ev: &Event, emit: &mut Emit) -> Result<StreamStep, ConvertError> {
        let data = ev.data.trim();
        if data.is_empty() {
            return Ok(StreamStep::Continue);
        }
        if data == "[DONE]" {
            return Ok(StreamStep::Done);
        }
        let resp = wire::parse(data.as_bytes())?;
        if self.id.is_empty() {
            self.id = ids::completion_id(resp.response_id.as_deref());
        }
        if let Some(u) = &resp.usage_metadata {
            emit.usage = Some(u.to_usage());
        }
        if resp.candidates.is_empty() {
            if let Some(reason) = resp
                .prompt_feedback
                .as_ref()
                .and_then(|f| f.block_reason.as_deref())
            {
                return Err(wire::blocked(reason));
            }
            return Ok(StreamStep::Continue);
        }
        let mut any_finish = false;
        for (pos, cand) in resp.candidates.iter().enumerate() {
            let index = cand.index.unwrap_or(pos as u32);
            let mut delta = Map::new();
            let mut text = String::new();
            let mut thoughts = String::new();
            let mut calls = Vec::new();
            let st = self.choice(index);
            for part in cand.content.iter().flat_map(|c| c.parts.iter()) {
                if let Some(fc) = &part.function_call {
                    let args = fc.arguments();
                    emit.text.push_str(&fc.name);
                    emit.text.push_str(&args);
                    calls.push(json!({
                        "index": st.calls,
                        "id": ids::call_id(part.thought_signature.as_deref()),
                        "type": "function",
                        "function": {"name": fc.name, "arguments": args},
                    }));
                    st.calls += 1;
                } else if let Some(t) = &part.text {
                    if part.thought == Some(true) {
                        thoughts.push_str(t);
                    } else {
                        text.push_str(t);
                    }
                }
            }
            emit.text.push_str(&text);
            if !st.role_sent {
                delta.insert("role".into(), json!("assistant"));
                st.role_sent = true;
                if text.is_empty() && calls.is_empty() {
                    delta.insert("content".into(), json!(""));
                }
            }
            if !text.is_empty() {
                delta.insert("content".into(), Value::from(text));
            }
            if !thoughts.is_empty() {
                delta.insert("reasoning_content".into(), Value::from(thoughts));
            }
            if !calls.is_empty() {
                delta.insert("tool_calls".into(), Value::Array(calls));
            }
            let finish = match cand.finish_reason.as_deref() {
                Some(r) if !st.finished => {
                    st.finished = true;
                    any_finish = true;
                    Some(wire::finish_reason(Some(r), st.calls > 0))
                }
                _ => None,
            };
            // The finish reason always travels in a chunk of its own with an empty delta, as
            // OpenAI sends it: the openai-python stream helper looks at `finish_reason` before
            // the same chunk's `tool_calls`, and would never announce the finished arguments.
            if !delta.is_empty() {
                let chunk = self.chunk(index, delta, None);
                emit.chunks.push(chunk);
            }
            if finish.is_some() {
                let chunk = self.chunk(index, Map::new(), finish);
                emit.chunks.push(chunk);
            }
        }
        if any_finish && self.choices.iter().all(|c| c.finished) {
            return Ok(StreamStep::Done);
        }
        Ok(StreamStep::Continue)
    }

    fn identity(&self) -> (&str, u64, &str) {
        (&self.id, self.created, &self.model)
    }
}
