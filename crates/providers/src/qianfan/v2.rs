//! Qianfan v2 (`https://qianfan.baidubce.com/v2`): OpenAI-shaped chat completions with
//! `Authorization: Bearer bce-v3/…`.
//!
//! The request is the client's, with `model` rewritten, ERNIE's ranges applied to `ernie-*`
//! models (`temperature` in (0, 1], `penalty_score` in [1, 2]) and, for streams,
//! `stream_options.include_usage` forced on: v2 reports stream usage only in that final
//! `choices: []` chunk, which is read here and never forwarded (the gateway adds its own).
//! Answers are re-serialised so that clients see the model they asked for, `normal` finish
//! reasons become `stop`, the first delta of each choice carries `role`, and Baidu's extra
//! choice fields (`flag`, `ban_round`, `is_end`, `need_clear_history`) are dropped
//! (`need_clear_history: true` finishes with `content_filter`). Error bodies are read with the
//! OpenAI dialect's reader and refined by [`super::errors::v2_refine`].

use bytes::Bytes;
use serde_json::{Map, Value, json};
use switchyard_sse::Event;
use switchyard_types::{ChatRequest, StreamOptions, Usage};

use super::errors::v2_refine;
use super::request::TEMPERATURE_MIN;
use crate::adapter::{
    ChatOutput, ConvertError, Emit, ResponseCtx, StreamConverter, StreamStep, Target,
    UpstreamError, UpstreamRequest, bearer,
};

/// Choice fields Baidu adds that OpenAI clients do not know.
const BAIDU_CHOICE_FIELDS: &[&str] = &["flag", "ban_round", "is_end", "need_clear_history"];

/// Builds the v2 chat request.
pub(super) fn request(
    req: &ChatRequest,
    target: &Target<'_>,
) -> Result<UpstreamRequest, ConvertError> {
    super::auth::v2_key(target.key)?;
    let mut out = req.clone();
    out.model = target.upstream_model.to_owned();
    if out.is_stream() {
        out.stream_options
            .get_or_insert_with(StreamOptions::default)
            .include_usage = Some(true);
    }
    if out.model.to_ascii_lowercase().starts_with("ernie") {
        clamp(&mut out.extra, "temperature", TEMPERATURE_MIN, 1.0);
        clamp(&mut out.extra, "penalty_score", 1.0, 2.0);
    }
    clamp(&mut out.extra, "top_p", 0.0, 1.0);
    let body = serde_json::to_vec(&out).map_err(|e| ConvertError::BadRequest {
        message: format!("cannot serialise request: {e}"),
        param: None,
    })?;
    Ok(UpstreamRequest::post_json(
        format!("{}/chat/completions", target.base_url.trim_end_matches('/')),
        [bearer(target.key)],
        Bytes::from(body),
    ))
}

fn clamp(extra: &mut Map<String, Value>, field: &str, lo: f64, hi: f64) {
    if let Some(v) = extra.get_mut(field)
        && let Some(f) = v.as_f64()
    {
        *v = json!(f.clamp(lo, hi));
    }
}

/// Reads a v2 error body (`status` 0: the error came inside a 200 answer).
pub(super) fn error(status: u16, body: &[u8]) -> UpstreamError {
    let base = crate::openai::error_body(if status == 0 { 502 } else { status }, body);
    v2_refine(base, status)
}

fn protocol(e: serde_json::Error) -> ConvertError {
    ConvertError::Protocol(format!("Qianfan v2 answer is not valid JSON: {e}"))
}

/// The error inside an otherwise successful answer, if any.
fn inline_error(v: &Value, raw: &[u8]) -> Option<ConvertError> {
    v.get("error")
        .filter(|e| e.is_object())
        .map(|_| ConvertError::Upstream(error(0, raw)))
}

/// Drops Baidu's extra choice fields and normalises `finish_reason`.
fn clean_choice(c: &mut Map<String, Value>) {
    let unsafe_flag = c.get("need_clear_history").and_then(Value::as_bool) == Some(true);
    for k in BAIDU_CHOICE_FIELDS {
        c.remove(*k);
    }
    let fixed = match c.get("finish_reason") {
        Some(Value::String(s)) if s == "normal" => Some(json!("stop")),
        Some(Value::String(s)) if s.is_empty() => Some(Value::Null),
        _ => None,
    };
    if let Some(f) = fixed {
        c.insert("finish_reason".to_owned(), f);
    }
    c.entry("finish_reason").or_insert(Value::Null);
    if unsafe_flag && c.get("finish_reason").is_some_and(|f| !f.is_null()) {
        c.insert("finish_reason".to_owned(), json!("content_filter"));
    }
}

/// Converts a non-stream answer.
pub(super) fn response(body: &[u8], ctx: &ResponseCtx<'_>) -> Result<ChatOutput, ConvertError> {
    let mut v: Value = serde_json::from_slice(body).map_err(protocol)?;
    if let Some(e) = inline_error(&v, body) {
        return Err(e);
    }
    let usage: Option<Usage> = v
        .get("usage")
        .filter(|u| u.is_object())
        .and_then(|u| serde_json::from_value(u.clone()).ok());
    let mut text = String::new();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("model".to_owned(), json!(ctx.requested_model));
        for c in obj
            .get_mut("choices")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            clean_choice(c);
            if let Some(m) = c.get("message") {
                text.push_str(m.get("content").and_then(Value::as_str).unwrap_or(""));
                if let Some(t) = m.get("tool_calls") {
                    text.push_str(&t.to_string());
                }
            }
        }
    }
    Ok(ChatOutput {
        body: Bytes::from(v.to_string()),
        text_for_count: usage.is_none().then_some(text),
        usage,
    })
}

/// Converter state for one v2 stream.
#[derive(Debug)]
pub(super) struct V2Stream {
    id: String,
    created: u64,
    model: String,
    roles_sent: Vec<u64>,
}

impl V2Stream {
    pub(super) fn new(ctx: &ResponseCtx<'_>) -> Self {
        Self {
            id: String::new(),
            created: ctx.now_unix,
            model: ctx.requested_model.to_owned(),
            roles_sent: Vec::new(),
        }
    }
}

impl StreamConverter for V2Stream {
    fn event(&mut self, ev: &Event, emit: &mut Emit) -> Result<StreamStep, ConvertError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            return Ok(StreamStep::Done);
        }
        if data.is_empty() {
            return Ok(StreamStep::Continue);
        }
        let mut v: Value = serde_json::from_str(data).map_err(protocol)?;
        if let Some(e) = inline_error(&v, data.as_bytes()) {
            return Err(e);
        }
        let Some(obj) = v.as_object_mut() else {
            return Err(ConvertError::Protocol(
                "Qianfan v2 chunk is not an object".into(),
            ));
        };
        if self.id.is_empty() {
            if let Some(id) = obj.get("id").and_then(Value::as_str) {
                self.id = id.to_owned();
            }
            if let Some(c) = obj.get("created").and_then(Value::as_u64) {
                self.created = c;
            }
        }
        if let Some(u) = obj.remove("usage").filter(|u| u.is_object())
            && let Ok(u) = serde_json::from_value::<Usage>(u)
        {
            emit.usage = Some(u);
        }
        let choices = obj.get_mut("choices").and_then(Value::as_array_mut);
        let Some(choices) = choices.filter(|c| !c.is_empty()) else {
            // The usage-only chunk: read above, never forwarded.
            return Ok(StreamStep::Continue);
        };
        for c in choices.iter_mut().filter_map(Value::as_object_mut) {
            clean_choice(c);
            c.remove("usage");
            let index = c.get("index").and_then(Value::as_u64).unwrap_or(0);
            let first = !self.roles_sent.contains(&index);
            if let Some(d) = c.get_mut("delta").and_then(Value::as_object_mut) {
                if first {
                    d.insert("role".to_owned(), json!("assistant"));
                } else {
                    d.remove("role");
                }
                emit.text
                    .push_str(d.get("content").and_then(Value::as_str).unwrap_or(""));
                for tc in d
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let f = tc.get("function");
                    for k in ["name", "arguments"] {
                        emit.text.push_str(
                            f.and_then(|f| f.get(k))
                                .and_then(Value::as_str)
                                .unwrap_or(""),
                        );
                    }
                }
            }
            if first {
                self.roles_sent.push(index);
            }
        }
        obj.insert("id".to_owned(), json!(self.id));
        obj.insert("created".to_owned(), json!(self.created));
        obj.insert("model".to_owned(), json!(self.model));
        obj.insert("object".to_owned(), json!("chat.completion.chunk"));
        emit.chunks.push(Bytes::from(v.to_string()));
        Ok(StreamStep::Continue)
    }

    fn identity(&self) -> (&str, u64, &str) {
        (&self.id, self.created, &self.model)
    }
}
