//! DashScope's native stream to canonical chunks.
//!
//! Native frames are `id:N`, `event:result`, a `:HTTP_STATUS/200` comment and `data:{…}` (no
//! space); there is no `[DONE]`: the chunk whose `finish_reason` is not the string `"null"`
//! ends the answer. Chunks carry `message` (not `delta`) with only the new text, because the
//! request always sets `incremental_output`. Usage is cumulative in every chunk, so each one is
//! reported with replace semantics and never summed. An `event:error` frame (or a chunk holding
//! `code`) is an upstream error, mapped by its code.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use switchyard_sse::Event;

use super::error::NativeError;
use super::response::{
    Choice, Native, NativeMessage, completion_id, content_text, finish, tool_call_text, tool_calls,
};
use crate::adapter::{ConvertError, Emit, ResponseCtx, StreamConverter, StreamStep};

/// Converter state for one stream.
#[derive(Debug)]
pub(super) struct DashScopeStream {
    id: String,
    created: u64,
    model: String,
    /// Choices seen so far: their index and whether they have finished.
    choices: Vec<(u32, bool)>,
}

impl DashScopeStream {
    pub(super) fn new(ctx: &ResponseCtx<'_>) -> Self {
        Self {
            id: String::new(),
            created: ctx.now_unix,
            model: ctx.requested_model.to_owned(),
            choices: Vec::new(),
        }
    }

    /// The canonical chunk of one native choice, `None` when it says nothing new.
    fn chunk(&mut self, position: usize, c: Choice, emit: &mut Emit) -> Option<Value> {
        let index = c.index.unwrap_or(position as u32);
        let first = !self.choices.iter().any(|(i, _)| *i == index);
        let finish_reason = finish(c.finish_reason.as_deref()).map(str::to_owned);
        if first {
            self.choices.push((index, false));
        }
        if finish_reason.is_some()
            && let Some(entry) = self.choices.iter_mut().find(|(i, _)| *i == index)
        {
            entry.1 = true;
        }
        let m = c.message.unwrap_or_default();
        let delta = delta(m, first, emit);
        if delta.is_empty() && finish_reason.is_none() {
            return None;
        }
        Some(json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": index,
                "delta": delta,
                "logprobs": c.logprobs.unwrap_or(Value::Null),
                "finish_reason": finish_reason,
            }],
        }))
    }
}

/// The OpenAI delta of one native message; its text also goes to `emit.text`.
fn delta(m: NativeMessage, first: bool, emit: &mut Emit) -> Map<String, Value> {
    let mut delta = Map::new();
    if first {
        delta.insert("role".into(), json!("assistant"));
    }
    let mut text = String::new();
    content_text(m.content.as_ref(), &mut text);
    emit.text.push_str(&text);
    let calls: Vec<Value> = m
        .tool_calls
        .as_deref()
        .map(|calls| tool_calls(calls, true))
        .unwrap_or_default()
        .into_iter()
        .filter(says_something)
        .collect();
    if !text.is_empty() || (first && calls.is_empty()) {
        delta.insert("content".into(), Value::String(text));
    }
    if let Some(r) = m.reasoning_content.filter(|r| !r.is_empty()) {
        emit.text.push_str(&r);
        delta.insert("reasoning_content".into(), Value::String(r));
    }
    if !calls.is_empty() {
        tool_call_text(&calls, &mut emit.text);
        delta.insert("tool_calls".into(), Value::Array(calls));
    }
    delta
}

/// False for a streamed tool call with no id, no name and no argument text (DashScope sends
/// such empty calls alongside the finish reason).
fn says_something(call: &Value) -> bool {
    let f = call.get("function");
    call.get("id").is_some()
        || f.and_then(|f| f.get("name")).is_some()
        || f.and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .is_some_and(|a| !a.is_empty())
}

fn protocol(e: serde_json::Error) -> ConvertError {
    ConvertError::Protocol(format!("DashScope stream chunk is not valid JSON: {e}"))
}

impl StreamConverter for DashScopeStream {
    fn event(&mut self, ev: &Event, emit: &mut Emit) -> Result<StreamStep, ConvertError> {
        let data = ev.data.trim();
        if ev.event.as_deref() == Some("error") {
            let err: NativeError = serde_json::from_str(data).unwrap_or_default();
            let mut up = err.to_upstream(200);
            if err.code().is_none() && !data.is_empty() {
                up.message = data.chars().take(512).collect();
            }
            return Err(ConvertError::Upstream(up));
        }
        if data.is_empty() {
            return Ok(StreamStep::Continue);
        }
        let native: Native = serde_json::from_str(data).map_err(protocol)?;
        if native.error.code().is_some() {
            return Err(ConvertError::Upstream(native.error.to_upstream(200)));
        }
        if self.id.is_empty() {
            self.id = completion_id(native.request_id.as_deref());
        }
        if let Some(u) = &native.usage {
            emit.usage = Some(u.to_openai());
        }
        let choices = native.output.unwrap_or_default().into_choices();
        for (position, c) in choices.into_iter().enumerate() {
            if let Some(chunk) = self.chunk(position, c, emit) {
                let bytes = serde_json::to_vec(&chunk).map_err(protocol)?;
                emit.chunks.push(Bytes::from(bytes));
            }
        }
        let all_finished =
            !self.choices.is_empty() && self.choices.iter().all(|(_, finished)| *finished);
        Ok(if all_finished {
            StreamStep::Done
        } else {
            StreamStep::Continue
        })
    }

    fn identity(&self) -> (&str, u64, &str) {
        (&self.id, self.created, &self.model)
    }
}
