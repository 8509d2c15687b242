//! Zhipu streams → canonical `chat.completion.chunk` payloads.
//!
//! v4: `data: {json}` chunks that repeat `delta.role` every time, carry no `object`, send tool
//! calls whole, put usage on the last chunk only and end with `data: [DONE]`; errors arrive as
//! `data: {"error":…}` or as `finish_reason: "network_error"`.
//! v3 (`sse-invoke`): `event:add` frames whose `data:` is raw answer text (several `data:` lines
//! are one text with newlines), `event:finish` ends the stream (its `meta:` line carries usage,
//! which the SSE decoder does not pass on), `event:error` / `event:interrupted` carry a message.
//!
//! Invariants: one id/created/model on every chunk (the model is the one the client asked for);
//! `role` only on a choice's first delta; every tool-call delta has `index`, and `id`, `type` and
//! `function.name` only on its first fragment; usage is reported with replace semantics, never
//! emitted as a chunk.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use switchyard_sse::Event;

use super::response::{business_error, finish_reason, tool_call, usage_of};
use crate::adapter::{ConvertError, Emit, ResponseCtx, StreamConverter, StreamStep, UpstreamError};

fn protocol(e: impl std::fmt::Display) -> ConvertError {
    ConvertError::Protocol(format!(
        "Zhipu stream chunk is not in the documented format: {e}"
    ))
}

/// State shared by both dialects: identity and the per-choice first-delta bookkeeping.
#[derive(Debug)]
struct Identity {
    id: String,
    created: u64,
    model: String,
    /// Choice indexes whose first delta (with `role`) was sent.
    roles_sent: Vec<u64>,
    /// `(choice, tool index)` pairs whose first fragment was sent.
    tools_started: Vec<(u64, u64)>,
}

impl Identity {
    fn new(ctx: &ResponseCtx<'_>) -> Self {
        Self {
            id: String::new(),
            created: ctx.now_unix,
            model: ctx.requested_model.to_owned(),
            roles_sent: Vec::new(),
            tools_started: Vec::new(),
        }
    }

    fn chunk(&self, choices: Vec<Value>) -> Result<Bytes, ConvertError> {
        let v = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        });
        serde_json::to_vec(&v).map(Bytes::from).map_err(protocol)
    }

    /// A delta object with `role` when it is the choice's first.
    fn delta(&mut self, index: u64) -> Map<String, Value> {
        let mut d = Map::new();
        if !self.roles_sent.contains(&index) {
            self.roles_sent.push(index);
            d.insert("role".into(), Value::from("assistant"));
            d.insert("content".into(), Value::from(""));
        }
        d
    }
}

/// The v4 converter.
#[derive(Debug)]
pub(super) struct V4Stream {
    ident: Identity,
}

impl V4Stream {
    pub(super) fn new(ctx: &ResponseCtx<'_>) -> Self {
        Self {
            ident: Identity::new(ctx),
        }
    }

    fn choice(&mut self, c: &Value, emit: &mut Emit) -> Result<Value, ConvertError> {
        let index = c.get("index").and_then(Value::as_u64).unwrap_or(0);
        let mut delta = self.ident.delta(index);
        let src = c.get("delta").cloned().unwrap_or(Value::Null);
        if let Some(text) = src
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            emit.text.push_str(text);
            delta.insert("content".into(), Value::from(text));
        }
        if let Some(r) = src
            .get("reasoning_content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            delta.insert("reasoning_content".into(), Value::from(r));
        }
        if let Some(calls) = src.get("tool_calls").and_then(Value::as_array) {
            let mut out = Vec::with_capacity(calls.len());
            for (pos, call) in calls.iter().enumerate() {
                let mut t = tool_call(call, pos);
                let tool_index = t.get("index").and_then(Value::as_u64).unwrap_or(pos as u64);
                let name = t
                    .pointer("/function/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let args = t
                    .pointer("/function/arguments")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                emit.text.push_str(name);
                emit.text.push_str(args);
                if self.ident.tools_started.contains(&(index, tool_index)) {
                    t = json!({"index": tool_index, "function": {"arguments": args}});
                } else {
                    self.ident.tools_started.push((index, tool_index));
                }
                out.push(t);
            }
            if !out.is_empty() {
                delta.insert("tool_calls".into(), Value::Array(out));
            }
        }
        let finish = match c.get("finish_reason").and_then(Value::as_str) {
            Some(r) => Value::from(finish_reason(r).map_err(ConvertError::Upstream)?),
            None => Value::Null,
        };
        Ok(json!({"index": index, "delta": delta, "logprobs": null, "finish_reason": finish}))
    }
}

impl StreamConverter for V4Stream {
    fn event(&mut self, ev: &Event, emit: &mut Emit) -> Result<StreamStep, ConvertError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            return Ok(StreamStep::Done);
        }
        if data.is_empty() {
            return Ok(StreamStep::Continue);
        }
        let v: Value = serde_json::from_str(data).map_err(protocol)?;
        if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
            let body = json!({ "error": e }).to_string();
            return Err(ConvertError::Upstream(super::response::error(
                502,
                body.as_bytes(),
            )));
        }
        if ev.event.as_deref() == Some("error") {
            return Err(ConvertError::Upstream(UpstreamError {
                status: 502,
                message: format!("Zhipu stream error: {data}"),
                kind: None,
                code: None,
            }));
        }
        if self.ident.id.is_empty() {
            if let Some(id) = v.get("id").and_then(Value::as_str) {
                self.ident.id = id.to_owned();
            }
            if let Some(created) = v.get("created").and_then(Value::as_u64) {
                self.ident.created = created;
            }
        }
        if let Some(u) = v.get("usage").and_then(usage_of) {
            emit.usage = Some(u);
        }
        let choices = v
            .get("choices")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if choices.is_empty() {
            return Ok(StreamStep::Continue);
        }
        let mut out = Vec::with_capacity(choices.len());
        for c in &choices {
            out.push(self.choice(c, emit)?);
        }
        emit.chunks.push(self.ident.chunk(out)?);
        Ok(StreamStep::Continue)
    }

    fn identity(&self) -> (&str, u64, &str) {
        (&self.ident.id, self.ident.created, &self.ident.model)
    }
}

/// The v3 (`sse-invoke`) converter.
#[derive(Debug)]
pub(super) struct V3Stream {
    ident: Identity,
}

impl V3Stream {
    pub(super) fn new(ctx: &ResponseCtx<'_>) -> Self {
        let mut ident = Identity::new(ctx);
        ident.id = format!("chatcmpl-zhipu-{}", ctx.now_unix);
        Self { ident }
    }
}

impl StreamConverter for V3Stream {
    fn event(&mut self, ev: &Event, emit: &mut Emit) -> Result<StreamStep, ConvertError> {
        match ev.event.as_deref() {
            Some("add") => {
                let mut delta = self.ident.delta(0);
                if !ev.data.is_empty() {
                    emit.text.push_str(&ev.data);
                    delta.insert("content".into(), Value::from(ev.data.as_str()));
                }
                let choice =
                    json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": null});
                emit.chunks.push(self.ident.chunk(vec![choice])?);
                Ok(StreamStep::Continue)
            }
            Some("finish") => {
                // Usage travels on this event's `meta:` line.
                if let Some(meta) = ev.meta.as_deref()
                    && let Ok(v) = serde_json::from_str::<Value>(meta)
                    && let Some(u) = v.get("usage")
                {
                    emit.usage = super::response::usage_of(u);
                }
                let delta = self.ident.delta(0);
                let choice =
                    json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": "stop"});
                emit.chunks.push(self.ident.chunk(vec![choice])?);
                Ok(StreamStep::Done)
            }
            Some(kind @ ("error" | "interrupted")) => Err(ConvertError::Upstream(UpstreamError {
                status: 502,
                message: format!("Zhipu v3 stream {kind}: {}", ev.data.trim()),
                kind: None,
                code: Some(format!("upstream_{kind}")),
            })),
            _ => {
                // A JSON error body where a stream was expected (v3 reports errors with 200).
                if let Ok(v) = serde_json::from_str::<Value>(ev.data.trim())
                    && v.get("success") == Some(&Value::Bool(false))
                {
                    let code = match v.get("code") {
                        Some(Value::Number(n)) => n.to_string(),
                        Some(Value::String(s)) => s.clone(),
                        _ => "unknown".to_owned(),
                    };
                    let msg = v.get("msg").and_then(Value::as_str).unwrap_or("");
                    return Err(ConvertError::Upstream(business_error(&code, msg, 200)));
                }
                Ok(StreamStep::Continue)
            }
        }
    }

    fn identity(&self) -> (&str, u64, &str) {
        (&self.ident.id, self.ident.created, &self.ident.model)
    }
}
