//! Hunyuan stream frames → canonical `chat.completion.chunk` payloads.
//!
//! Hunyuan sends `data: {…}` frames without the `Response` wrapper: `Choices[].Delta` holds the
//! increment, `Usage` is *cumulative* in every frame (reported as the latest total, never summed),
//! and the frame whose `FinishReason` is non-empty is the last one (there is no `[DONE]`).
//! Tool-call fragments are merged by `Id` (as Tencent documents) and re-indexed the OpenAI way:
//! the first fragment of a call carries `index`, `id`, `type` and `function.name`, later ones only
//! `index` and `function.arguments`. A mid-stream `ErrorMsg`, or a `Response.Error` body, ends the
//! stream with [`ConvertError::Upstream`].

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_sse::Event;

use super::errors;
use super::response::{NativeAnswer, NativeToolCall, finish_reason};
use crate::adapter::{ConvertError, Emit, ResponseCtx, StreamConverter, StreamStep};

#[derive(Deserialize)]
struct Frame {
    #[serde(default, rename = "Response")]
    wrapped: Option<NativeAnswer>,
    #[serde(flatten)]
    answer: NativeAnswer,
}

/// One tool call seen in the stream.
#[derive(Debug)]
struct SeenCall {
    choice: u32,
    key: String,
    index: usize,
}

/// Converter state for one stream.
#[derive(Debug)]
pub(super) struct HunyuanStream {
    id: String,
    created: u64,
    model: String,
    now: u64,
    started: bool,
    roles_sent: Vec<u32>,
    calls: Vec<SeenCall>,
}

impl HunyuanStream {
    pub(super) fn new(ctx: &ResponseCtx<'_>) -> Self {
        Self {
            id: String::new(),
            created: ctx.now_unix,
            model: ctx.requested_model.to_owned(),
            now: ctx.now_unix,
            started: false,
            roles_sent: Vec::new(),
            calls: Vec::new(),
        }
    }

    /// OpenAI fragments for the native tool-call deltas of choice `choice`.
    fn tool_fragments(
        &mut self,
        choice: u32,
        calls: &[NativeToolCall],
        text: &mut String,
    ) -> Vec<Value> {
        let mut out = Vec::new();
        for call in calls {
            let f = call.function.as_ref();
            let name = f.and_then(|f| f.name.as_deref()).unwrap_or("");
            let args = f.and_then(|f| f.arguments.as_deref()).unwrap_or("");
            let key = match (call.id.as_deref().filter(|i| !i.is_empty()), call.index) {
                (Some(id), _) => id.to_owned(),
                (None, Some(i)) => format!("#{i}"),
                // No identity at all: a continuation of this choice's latest call, if any.
                (None, None) => self
                    .calls
                    .iter()
                    .rev()
                    .find(|c| c.choice == choice)
                    .map_or_else(|| "#0".to_owned(), |c| c.key.clone()),
            };
            let known = self
                .calls
                .iter()
                .find(|c| c.choice == choice && c.key == key);
            text.push_str(args);
            match known {
                Some(seen) => {
                    if !args.is_empty() {
                        out.push(json!({"index": seen.index, "function": {"arguments": args}}));
                    }
                }
                None => {
                    let index = self.calls.iter().filter(|c| c.choice == choice).count();
                    let id = call
                        .id
                        .clone()
                        .filter(|i| !i.is_empty())
                        .unwrap_or_else(|| format!("call_{}_{index}", self.id));
                    text.push_str(name);
                    out.push(json!({
                        "index": index,
                        "id": id,
                        "type": "function",
                        "function": {"name": name, "arguments": args},
                    }));
                    self.calls.push(SeenCall { choice, key, index });
                }
            }
        }
        out
    }

    fn chunk(
        &self,
        index: u32,
        delta: Map<String, Value>,
        finish: Option<String>,
    ) -> Result<Bytes, ConvertError> {
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
        serde_json::to_vec(&v)
            .map(Bytes::from)
            .map_err(|e| ConvertError::Protocol(format!("cannot serialise a chunk: {e}")))
    }
}

impl StreamConverter for HunyuanStream {
    fn event(&mut self, ev: &Event, emit: &mut Emit) -> Result<StreamStep, ConvertError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            return Ok(StreamStep::Done);
        }
        if data.is_empty() {
            return Ok(StreamStep::Continue);
        }
        let frame: Frame = serde_json::from_str(data).map_err(|e| {
            ConvertError::Protocol(format!(
                "Tencent Hunyuan stream frame is not valid JSON: {e}"
            ))
        })?;
        let ans = frame.wrapped.unwrap_or(frame.answer);
        if let Some(err) = ans.error {
            return Err(ConvertError::Upstream(errors::upstream_error(
                &err.code,
                &err.message,
            )));
        }
        if let Some(em) = ans
            .error_msg
            .filter(|e| e.code.is_some() || e.msg.is_some())
        {
            return Err(ConvertError::Upstream(errors::stream_error(
                em.code.unwrap_or(4000),
                em.msg.as_deref().unwrap_or(""),
            )));
        }
        if !self.started {
            self.started = true;
            self.id = ans
                .id
                .clone()
                .or(ans.request_id.clone())
                .unwrap_or_default();
            self.created = ans.created.unwrap_or(self.now);
        }
        if let Some(u) = ans.usage {
            emit.usage = Some(u.canonical());
        }
        let mut done = false;
        for (i, choice) in ans.choices.iter().enumerate() {
            let index = choice.index.unwrap_or(i as u32);
            let native = choice.delta.as_ref().or(choice.message.as_ref());
            let mut delta = Map::new();
            if let Some(t) = native
                .and_then(|d| d.reasoning_content.as_deref())
                .filter(|t| !t.is_empty())
            {
                delta.insert("reasoning_content".into(), Value::from(t));
                emit.text.push_str(t);
            }
            if let Some(t) = native
                .and_then(|d| d.content.as_deref())
                .filter(|t| !t.is_empty())
            {
                delta.insert("content".into(), Value::from(t));
                emit.text.push_str(t);
            }
            if let Some(calls) = native
                .and_then(|d| d.tool_calls.as_deref())
                .filter(|c| !c.is_empty())
            {
                let frags = self.tool_fragments(index, calls, &mut emit.text);
                if !frags.is_empty() {
                    delta.insert("tool_calls".into(), Value::from(frags));
                }
            }
            let finish = choice
                .finish_reason
                .as_deref()
                .filter(|f| !f.is_empty())
                .map(finish_reason);
            if delta.is_empty() && finish.is_none() {
                continue;
            }
            if !self.roles_sent.contains(&index) {
                self.roles_sent.push(index);
                delta.insert("role".into(), Value::from("assistant"));
            }
            done |= finish.is_some();
            emit.chunks.push(self.chunk(index, delta, finish)?);
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
