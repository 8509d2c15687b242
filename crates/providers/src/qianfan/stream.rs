//! Qianfan v1 streams: `data: {…}` events, each a whole chat object whose `result` holds only the
//! new text, ending with the `is_end: true` object (no `[DONE]`).
//!
//! The `is_end` object may carry the last piece of text as well as the final usage, and may carry
//! a `function_call`. Usage in earlier chunks is not trusted (it is sometimes cumulative,
//! sometimes `completion_tokens: 0`), so usage is reported only from the `is_end` chunk. An
//! `error_code` in any event ends the stream with the mapped error.

use bytes::Bytes;
use serde_json::{Value, json};
use switchyard_sse::Event;

use super::response::{Answer, call_id, finish_reason};
use crate::adapter::{ConvertError, Emit, ResponseCtx, StreamConverter, StreamStep};

/// Converter state for one v1 stream.
#[derive(Debug)]
pub(super) struct V1Stream {
    id: String,
    created: u64,
    model: String,
    role_sent: bool,
    calls: usize,
    need_clear_history: bool,
}

impl V1Stream {
    pub(super) fn new(ctx: &ResponseCtx<'_>) -> Self {
        Self {
            id: String::new(),
            created: ctx.now_unix,
            model: ctx.requested_model.to_owned(),
            role_sent: false,
            calls: 0,
            need_clear_history: false,
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Bytes {
        let v = json!({
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
        Bytes::from(v.to_string())
    }
}

impl StreamConverter for V1Stream {
    fn event(&mut self, ev: &Event, emit: &mut Emit) -> Result<StreamStep, ConvertError> {
        let data = ev.data.trim();
        if data.is_empty() {
            return Ok(StreamStep::Continue);
        }
        if data == "[DONE]" {
            return Ok(StreamStep::Done);
        }
        let a = Answer::parse(data.as_bytes())?;
        if self.id.is_empty() {
            self.id = a.id.clone().unwrap_or_else(|| "as-qianfan".to_owned());
            if let Some(c) = a.created {
                self.created = c;
            }
        }
        self.need_clear_history |= a.need_clear_history.unwrap_or(false);
        let text = a.result.as_deref().unwrap_or("");
        if !text.is_empty() || (!self.role_sent && a.function_call.is_none()) {
            let mut delta = json!({"content": text});
            if !self.role_sent {
                delta["role"] = json!("assistant");
                self.role_sent = true;
            }
            emit.chunks.push(self.chunk(delta, None));
            emit.text.push_str(text);
        }
        if let Some(fc) = &a.function_call {
            let args = fc.arguments_text();
            let mut delta = json!({"tool_calls": [{
                "index": self.calls,
                "id": call_id(&self.id, self.calls),
                "type": "function",
                "function": {"name": fc.name, "arguments": args},
            }]});
            if !self.role_sent {
                delta["role"] = json!("assistant");
                delta["content"] = Value::Null;
                self.role_sent = true;
            }
            self.calls += 1;
            emit.chunks.push(self.chunk(delta, None));
            emit.text.push_str(&fc.name);
            emit.text.push_str(&args);
        }
        if !a.is_end.unwrap_or(false) {
            return Ok(StreamStep::Continue);
        }
        if let Some(u) = a.usage {
            emit.usage = Some(u);
        }
        let finish = finish_reason(
            a.finish_reason.as_deref(),
            self.need_clear_history,
            self.calls > 0,
            a.is_truncated.unwrap_or(false),
        );
        emit.chunks.push(self.chunk(json!({}), Some(finish)));
        Ok(StreamStep::Done)
    }

    fn identity(&self) -> (&str, u64, &str) {
        (&self.id, self.created, &self.model)
    }
}
