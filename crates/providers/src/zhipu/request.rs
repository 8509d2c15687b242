//! Canonical (OpenAI) request → Zhipu request, for the v4 API and the legacy v3 model API.
//!
//! Invariants: every system message reaches the model (in place on v4 text models; folded into
//! the next user turn where the API has no system role: GLM-4V and the v3 `chatglm_*` models);
//! `temperature` and `top_p` always land inside GLM's open interval (0, 1); nothing the
//! provider cannot express is dropped silently when it changes the answer's meaning (images on
//! a text model, tools on a model without tools, `n > 1`): those are refused with a 400.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use switchyard_types::{ChatMessage, ChatRequest, MessageContent};

use super::{Api, ModelKind, auth};
use crate::adapter::{ConvertError, Target, Transport, UpstreamRequest, bearer};

/// Smallest and largest value GLM accepts for `temperature` and `top_p` ((0, 1) open bounds).
pub(super) const MIN_SAMPLING: f64 = 0.01;
/// See [`MIN_SAMPLING`].
pub(super) const MAX_SAMPLING: f64 = 0.99;

fn bad(message: impl Into<String>, param: &str) -> ConvertError {
    ConvertError::BadRequest {
        message: message.into(),
        param: Some(param.to_owned()),
    }
}

/// The base URL without a trailing slash and without an `/api/paas/...` suffix a user may
/// have pasted from the docs.
pub(super) fn origin(base_url: &str) -> &str {
    let base = base_url.trim_end_matches('/');
    for suffix in ["/api/paas/v4", "/api/paas/v3/model-api", "/api/paas/v3"] {
        if let Some(b) = base.strip_suffix(suffix) {
            return b;
        }
    }
    base
}

/// Builds the chat request for `target.upstream_model`.
pub(super) fn build(
    req: &ChatRequest,
    target: &Target<'_>,
) -> Result<UpstreamRequest, ConvertError> {
    let model = target.upstream_model;
    let kind = ModelKind::of(model);
    if kind == ModelKind::Embedding {
        return Err(bad(
            format!("`{model}` is an embeddings model; call /v1/embeddings"),
            "model",
        ));
    }
    if req.choices() > 1 {
        return Err(bad(
            "Zhipu GLM returns one choice per request; `n` must be 1",
            "n",
        ));
    }
    let token = auth::token_for(target.key, target.now_unix)?;
    let origin = origin(target.base_url);
    match kind.api() {
        Api::V4 => {
            let body = v4_body(req, model, kind)?;
            let mut headers = vec![bearer(&token)];
            if req.is_stream() {
                headers.push(("accept".into(), "text/event-stream".into()));
            }
            Ok(UpstreamRequest::post_json(
                format!("{origin}/api/paas/v4/chat/completions"),
                headers,
                to_bytes(&body)?,
            ))
        }
        Api::V3 => {
            let body = v3_body(req)?;
            let (action, accept) = if req.is_stream() {
                ("sse-invoke", "text/event-stream")
            } else {
                ("invoke", "application/json")
            };
            // The v3 model API takes the bare token, without `Bearer ` (SDK 1.x, one-api).
            let mut out = UpstreamRequest::post_json(
                format!("{origin}/api/paas/v3/model-api/{model}/{action}"),
                vec![
                    ("authorization".into(), token.into()),
                    ("accept".into(), accept.into()),
                ],
                to_bytes(&body)?,
            );
            // v3 puts raw answer text right after `data:`: a leading space is text, not framing.
            out.transport = Transport::HttpRawSse;
            Ok(out)
        }
    }
}

fn to_bytes(v: &Value) -> Result<Bytes, ConvertError> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| bad(format!("cannot serialise the request: {e}"), "messages"))
}

/// Writes `temperature` and `top_p` clamped into (0, 1), the way the official SDK does:
/// `temperature <= 0` means greedy decoding (`do_sample: false`, temperature 0.01).
fn sampling(req: &ChatRequest, out: &mut Map<String, Value>, with_do_sample: bool) {
    if let Some(t) = req.extra.get("temperature").and_then(Value::as_f64) {
        if t <= 0.0 && with_do_sample {
            out.insert("do_sample".into(), Value::Bool(false));
        }
        out.insert(
            "temperature".into(),
            json!(t.clamp(MIN_SAMPLING, MAX_SAMPLING)),
        );
    }
    if let Some(p) = req.extra.get("top_p").and_then(Value::as_f64) {
        out.insert("top_p".into(), json!(p.clamp(MIN_SAMPLING, MAX_SAMPLING)));
    }
}

fn v4_body(req: &ChatRequest, model: &str, kind: ModelKind) -> Result<Value, ConvertError> {
    let mut out = Map::new();
    out.insert("model".into(), Value::from(model));
    out.insert(
        "messages".into(),
        Value::Array(v4_messages(&req.messages, kind)?),
    );
    if req.is_stream() {
        out.insert("stream".into(), Value::Bool(true));
    }
    sampling(req, &mut out, true);
    // A client's explicit `do_sample` wins over the one derived from temperature.
    for key in [
        "do_sample",
        "request_id",
        "user_id",
        "response_format",
        "thinking",
        "seed",
    ] {
        if let Some(v) = req.extra.get(key).filter(|v| !v.is_null()) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(limit) = req.output_limit() {
        out.insert("max_tokens".into(), Value::from(limit));
    }
    if let Some(stop) = first_stop(req.extra.get("stop"))? {
        // GLM honours a single stop word, given as a one-element list.
        out.insert("stop".into(), json!([stop]));
    }
    let tools = req.tools.as_deref().unwrap_or_default();
    let choice = req.extra.get("tool_choice").filter(|v| !v.is_null());
    let none = choice.and_then(Value::as_str) == Some("none");
    if !tools.is_empty() && !none {
        if kind == ModelKind::Vision4v {
            return Err(bad(format!("`{model}` does not support tools"), "tools"));
        }
        out.insert("tools".into(), Value::Array(tools.to_vec()));
        // GLM documents only `auto`; `required` and a named function are sent as `auto`.
        out.insert("tool_choice".into(), Value::from("auto"));
    }
    Ok(Value::Object(out))
}

/// The single stop word GLM accepts: a string, or the first string of a list.
fn first_stop(stop: Option<&Value>) -> Result<Option<String>, ConvertError> {
    match stop {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Array(items)) => match items.first() {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad("`stop` must be a string or a list of strings", "stop")),
        },
        Some(_) => Err(bad("`stop` must be a string or a list of strings", "stop")),
    }
}

/// The text of a message's content (parts joined with a newline), refusing media parts.
fn text_only(content: Option<&MessageContent>, model_label: &str) -> Result<String, ConvertError> {
    match content {
        None => Ok(String::new()),
        Some(MessageContent::Text(s)) => Ok(s.clone()),
        Some(MessageContent::Parts(parts)) => {
            let mut texts = Vec::new();
            for p in parts {
                match p.get("type").and_then(Value::as_str) {
                    Some("text") | None => {
                        texts.push(p.get("text").and_then(Value::as_str).unwrap_or_default());
                    }
                    Some(other) => {
                        return Err(bad(
                            format!("{model_label} accepts text only, not `{other}` content parts"),
                            "messages",
                        ));
                    }
                }
            }
            Ok(texts.join("\n"))
        }
    }
}

/// Removes the `data:image/...;base64,` prefix GLM-4V does not accept (the SDK does the same).
fn strip_data_prefix(url: &str) -> &str {
    if url.starts_with("data:") {
        url.split_once("base64,").map_or(url, |(_, data)| data)
    } else {
        url
    }
}

/// Content parts for a vision model: text and image parts, data URLs reduced to bare base64.
fn vision_parts(content: Option<&MessageContent>) -> Vec<Value> {
    match content {
        None => Vec::new(),
        Some(MessageContent::Text(s)) => vec![json!({"type": "text", "text": s})],
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .map(|p| {
                let url = p.pointer("/image_url/url").and_then(Value::as_str);
                match (p.get("type").and_then(Value::as_str), url) {
                    (Some("image_url"), Some(url)) => {
                        json!({"type": "image_url", "image_url": {"url": strip_data_prefix(url)}})
                    }
                    _ => p.clone(),
                }
            })
            .collect(),
    }
}

fn tool_calls_out(calls: &[Value]) -> Vec<Value> {
    calls
        .iter()
        .map(|c| {
            json!({
                "id": c.get("id").cloned().unwrap_or(Value::Null),
                "type": "function",
                "function": {
                    "name": c.pointer("/function/name").cloned().unwrap_or(Value::Null),
                    "arguments": c.pointer("/function/arguments").cloned().unwrap_or(Value::from("")),
                },
            })
        })
        .collect()
}

fn v4_messages(messages: &[ChatMessage], kind: ModelKind) -> Result<Vec<Value>, ConvertError> {
    let label = "this GLM model";
    let mut out = Vec::with_capacity(messages.len());
    // GLM-4V has no system role: system texts wait for the next user turn.
    let mut pending_system: Vec<String> = Vec::new();
    for m in messages {
        match m.role.as_str() {
            "system" | "developer" => {
                let text = text_only(m.content.as_ref(), "a system message")?;
                if kind == ModelKind::Vision4v {
                    pending_system.push(text);
                } else {
                    out.push(json!({"role": "system", "content": text}));
                }
            }
            "user" => {
                let content = match kind {
                    ModelKind::Text => Value::from(text_only(m.content.as_ref(), label)?),
                    ModelKind::Vision4v => {
                        let mut parts = vision_parts(m.content.as_ref());
                        if !pending_system.is_empty() {
                            let sys = std::mem::take(&mut pending_system).join("\n\n");
                            parts.insert(0, json!({"type": "text", "text": sys}));
                        }
                        Value::Array(parts)
                    }
                    _ => match &m.content {
                        Some(MessageContent::Parts(_)) => {
                            Value::Array(vision_parts(m.content.as_ref()))
                        }
                        other => Value::from(text_only(other.as_ref(), label)?),
                    },
                };
                out.push(json!({"role": "user", "content": content}));
            }
            "assistant" => {
                let mut msg = Map::new();
                msg.insert("role".into(), Value::from("assistant"));
                if let Some(c) = &m.content {
                    msg.insert("content".into(), Value::from(text_only(Some(c), label)?));
                }
                if let Some(calls) = m.tool_calls.as_deref().filter(|c| !c.is_empty()) {
                    msg.insert("tool_calls".into(), Value::Array(tool_calls_out(calls)));
                }
                out.push(Value::Object(msg));
            }
            "tool" => {
                let mut msg = Map::new();
                msg.insert("role".into(), Value::from("tool"));
                msg.insert(
                    "content".into(),
                    Value::from(text_only(m.content.as_ref(), label)?),
                );
                if let Some(id) = &m.tool_call_id {
                    msg.insert("tool_call_id".into(), Value::from(id.as_str()));
                }
                out.push(Value::Object(msg));
            }
            other => {
                return Err(bad(
                    format!("message role `{other}` is not supported by Zhipu GLM"),
                    "messages",
                ));
            }
        }
    }
    if !pending_system.is_empty() {
        let sys = pending_system.join("\n\n");
        out.push(json!({"role": "user", "content": [{"type": "text", "text": sys}]}));
    }
    Ok(out)
}

fn v3_body(req: &ChatRequest) -> Result<Value, ConvertError> {
    let label = "the v3 chatglm models";
    if req.tools.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(bad(format!("{label} do not support tools"), "tools"));
    }
    let mut prompt = Vec::with_capacity(req.messages.len());
    // v3 knows only `user` and `assistant`: system texts open the next user turn.
    let mut pending_system: Vec<String> = Vec::new();
    for m in &req.messages {
        let text = text_only(m.content.as_ref(), label)?;
        match m.role.as_str() {
            "system" | "developer" => pending_system.push(text),
            "user" => {
                let content = if pending_system.is_empty() {
                    text
                } else {
                    let mut sys = std::mem::take(&mut pending_system).join("\n\n");
                    sys.push_str("\n\n");
                    sys.push_str(&text);
                    sys
                };
                prompt.push(json!({"role": "user", "content": content}));
            }
            "assistant" if m.tool_calls.as_deref().is_none_or(<[Value]>::is_empty) => {
                prompt.push(json!({"role": "assistant", "content": text}));
            }
            other => {
                return Err(bad(
                    format!(
                        "{label} accept only system, user and assistant text messages (got `{other}` or a tool call)"
                    ),
                    "messages",
                ));
            }
        }
    }
    if !pending_system.is_empty() {
        prompt.push(json!({"role": "user", "content": pending_system.join("\n\n")}));
    }
    let mut out = Map::new();
    out.insert("prompt".into(), Value::Array(prompt));
    sampling(req, &mut out, false);
    if let Some(id) = req.extra.get("request_id").filter(|v| v.is_string()) {
        out.insert("request_id".into(), id.clone());
    }
    if req.is_stream() {
        // Deltas, not the whole text so far (also the service default).
        out.insert("incremental".into(), Value::Bool(true));
    }
    Ok(Value::Object(out))
}
