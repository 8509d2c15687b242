//! The native chat and embeddings requests, built from the canonical ones.
//!
//! Text models go to `text-generation`; `qwen-vl-*` (and the other vision models) go to
//! `multimodal-generation`, where every message's content becomes a list of `{"text"}` /
//! `{"image"}` / `{"video"}` parts. Parameters are copied by name from a fixed list and clamped
//! into DashScope's ranges; OpenAI-only fields (`logit_bias`, `user`, `stream_options`, …) are
//! dropped, because a native upstream either rejects them or ignores them.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use switchyard_types::{ChatMessage, ChatRequest, MessageContent};

use crate::adapter::{ConvertError, EmbeddingsInput, Header, Target, UpstreamRequest, bearer};

/// Path of the text-generation service, under the base URL.
pub(super) const TEXT_PATH: &str = "/services/aigc/text-generation/generation";
/// Path of the multimodal-generation service (vision models).
pub(super) const MULTIMODAL_PATH: &str = "/services/aigc/multimodal-generation/generation";
/// Path of the text-embedding service.
pub(super) const EMBEDDINGS_PATH: &str = "/services/embeddings/text-embedding/text-embedding";

/// The largest `top_p` DashScope accepts: the range is the open interval (0, 1).
const TOP_P_MAX: f64 = 0.999;
/// The smallest `top_p` DashScope accepts.
const TOP_P_MIN: f64 = 0.001;
/// The largest temperature DashScope accepts: the range is [0, 2).
const TEMPERATURE_MAX: f64 = 1.99;
/// Texts per request of `text-embedding-v1` and `-v2`.
const EMBEDDING_V1_V2_MAX_TEXTS: usize = 25;
/// The fixed vector length of `text-embedding-v1` and `-v2`.
const EMBEDDING_V1_V2_DIMENSIONS: u64 = 1536;

/// Request fields copied unchanged into `parameters` (same name, same meaning).
const PASSTHROUGH: &[&str] = &[
    "seed",
    "stop",
    "presence_penalty",
    "repetition_penalty",
    "top_k",
    "response_format",
    "tool_choice",
    "parallel_tool_calls",
    "logprobs",
    "top_logprobs",
    "enable_search",
    "search_options",
    "enable_thinking",
    "thinking_budget",
    "vl_high_resolution_images",
];

/// Message fields kept besides role, content, tool calls and tool call id.
const MESSAGE_EXTRAS: &[&str] = &["name", "partial", "reasoning_content"];

/// True for the models served by the multimodal-generation service.
pub(super) fn is_multimodal(model: &str) -> bool {
    model.starts_with("qvq") || (model.starts_with("qwen") && model.contains("-vl"))
}

/// Builds the chat request.
pub(super) fn chat(
    req: &ChatRequest,
    target: &Target<'_>,
) -> Result<UpstreamRequest, ConvertError> {
    let model = target.upstream_model;
    if model.starts_with("text-embedding") {
        return Err(ConvertError::BadRequest {
            message: format!("{model} is an embeddings model; call /v1/embeddings"),
            param: Some("model".into()),
        });
    }
    let vision = is_multimodal(model);
    let messages = req
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| message(i, m, vision))
        .collect::<Result<Vec<_>, _>>()?;
    let mut parameters = Map::new();
    parameters.insert("result_format".into(), json!("message"));
    if req.is_stream() {
        // Each chunk then carries only the new text; without it every chunk repeats the
        // whole answer so far.
        parameters.insert("incremental_output".into(), json!(true));
    }
    if let Some(t) = number(req, "temperature")? {
        parameters.insert("temperature".into(), json!(t.clamp(0.0, TEMPERATURE_MAX)));
    }
    if let Some(p) = number(req, "top_p")? {
        parameters.insert("top_p".into(), json!(p.clamp(TOP_P_MIN, TOP_P_MAX)));
    }
    match req.output_limit() {
        Some(0) => {
            return Err(ConvertError::BadRequest {
                message: "max_tokens must be at least 1".into(),
                param: Some("max_tokens".into()),
            });
        }
        Some(limit) => {
            parameters.insert("max_tokens".into(), json!(limit));
        }
        None => {}
    }
    if let Some(n) = req.n.filter(|n| *n > 1) {
        parameters.insert("n".into(), json!(n));
    }
    if let Some(tools) = req.tools.as_ref().filter(|t| !t.is_empty()) {
        parameters.insert("tools".into(), Value::Array(tools.clone()));
    }
    for key in PASSTHROUGH {
        if let Some(v) = req.extra.get(*key).filter(|v| !v.is_null()) {
            parameters.insert((*key).to_owned(), v.clone());
        }
    }
    let body = json!({
        "model": model,
        "input": {"messages": messages},
        "parameters": parameters,
    });
    let path = if vision { MULTIMODAL_PATH } else { TEXT_PATH };
    let mut headers = auth_headers(target.key);
    if req.is_stream() {
        headers.push(("x-dashscope-sse".into(), "enable".into()));
        headers.push(("accept".into(), "text/event-stream".into()));
    }
    Ok(UpstreamRequest::post_json(
        url(target.base_url, path),
        headers,
        to_bytes(&body)?,
    ))
}

/// Builds the embeddings request.
pub(super) fn embeddings(
    input: &EmbeddingsInput<'_>,
    target: &Target<'_>,
) -> Result<UpstreamRequest, ConvertError> {
    let model = target.upstream_model;
    if input.texts.is_empty() || input.texts.iter().any(String::is_empty) {
        return Err(ConvertError::BadRequest {
            message: "input must hold at least one non-empty text".into(),
            param: Some("input".into()),
        });
    }
    let mut body = json!({"model": model, "input": {"texts": input.texts}});
    if matches!(model, "text-embedding-v1" | "text-embedding-v2") {
        if input.texts.len() > EMBEDDING_V1_V2_MAX_TEXTS {
            return Err(ConvertError::BadRequest {
                message: format!(
                    "{model} embeds at most {EMBEDDING_V1_V2_MAX_TEXTS} texts per request, got {}",
                    input.texts.len()
                ),
                param: Some("input".into()),
            });
        }
        if let Some(d) = input
            .dimensions
            .filter(|d| *d != EMBEDDING_V1_V2_DIMENSIONS)
        {
            return Err(ConvertError::BadRequest {
                message: format!(
                    "{model} always returns {EMBEDDING_V1_V2_DIMENSIONS} dimensions, not {d}"
                ),
                param: Some("dimensions".into()),
            });
        }
    } else if let Some(d) = input.dimensions {
        body["parameters"] = json!({"dimension": d});
    }
    Ok(UpstreamRequest::post_json(
        url(target.base_url, EMBEDDINGS_PATH),
        auth_headers(target.key),
        to_bytes(&body)?,
    ))
}

/// `Authorization: Bearer <key>`; a key written `sk-…|ws-…` also names the workspace
/// (`X-DashScope-WorkSpace`, needed by sub-account keys).
fn auth_headers(key: &str) -> Vec<Header> {
    let (key, workspace) = match key.split_once('|') {
        Some((k, ws)) => (k.trim(), Some(ws.trim())),
        None => (key, None),
    };
    let mut headers = vec![bearer(key)];
    if let Some(ws) = workspace.filter(|ws| !ws.is_empty()) {
        headers.push(("x-dashscope-workspace".into(), ws.to_owned().into()));
    }
    headers
}

fn url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

fn to_bytes(body: &Value) -> Result<Bytes, ConvertError> {
    serde_json::to_vec(body)
        .map(Bytes::from)
        .map_err(|e| ConvertError::BadRequest {
            message: format!("cannot serialise request: {e}"),
            param: None,
        })
}

/// A numeric parameter from the request's extra fields (`null` counts as absent).
fn number(req: &ChatRequest, key: &str) -> Result<Option<f64>, ConvertError> {
    match req.extra.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| ConvertError::BadRequest {
                message: format!("{key} must be a number"),
                param: Some(key.to_owned()),
            }),
    }
}

/// One message in DashScope's shape.
fn message(i: usize, m: &ChatMessage, vision: bool) -> Result<Value, ConvertError> {
    let role = match m.role.as_str() {
        "developer" => "system",
        "function" => "tool",
        other => other,
    };
    let content = if vision {
        Value::Array(vision_parts(i, m.content.as_ref())?)
    } else {
        Value::String(flat_text(i, m.content.as_ref())?)
    };
    let mut out = Map::new();
    out.insert("role".into(), json!(role));
    out.insert("content".into(), content);
    if let Some(calls) = &m.tool_calls {
        out.insert("tool_calls".into(), Value::Array(calls.clone()));
    }
    if let Some(id) = &m.tool_call_id {
        out.insert("tool_call_id".into(), json!(id));
    }
    for key in MESSAGE_EXTRAS {
        if let Some(v) = m.extra.get(*key).filter(|v| !v.is_null()) {
            out.insert((*key).to_owned(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

fn unsupported_part(i: usize, what: &str) -> ConvertError {
    ConvertError::BadRequest {
        message: format!("messages[{i}]: {what}"),
        param: Some(format!("messages[{i}].content")),
    }
}

/// Content for a text model: a string; text parts are joined, anything else is refused.
fn flat_text(i: usize, content: Option<&MessageContent>) -> Result<String, ConvertError> {
    match content {
        None => Ok(String::new()),
        Some(MessageContent::Text(s)) => Ok(s.clone()),
        Some(c @ MessageContent::Parts(_)) => {
            if c.media_parts() > 0 {
                return Err(unsupported_part(
                    i,
                    "this model reads text only; send images to a qwen-vl model",
                ));
            }
            let mut text = String::new();
            c.for_each_text(|t| {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(t);
            });
            Ok(text)
        }
    }
}

/// Content for a vision model: `[{"text"}, {"image"}, {"video"}]`.
fn vision_parts(i: usize, content: Option<&MessageContent>) -> Result<Vec<Value>, ConvertError> {
    match content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(s)) => Ok(vec![json!({"text": s})]),
        Some(MessageContent::Parts(parts)) => parts.iter().map(|p| vision_part(i, p)).collect(),
    }
}

fn vision_part(i: usize, part: &Value) -> Result<Value, ConvertError> {
    let kind = part.get("type").and_then(Value::as_str);
    let url_of = |field: &str| {
        part.get(field).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            other => other.get("url").and_then(Value::as_str).map(str::to_owned),
        })
    };
    let converted = match kind {
        Some("text") => part.get("text").map(|t| json!({"text": t})),
        Some("image_url") => url_of("image_url").map(|u| json!({"image": u})),
        Some("video_url") => url_of("video_url").map(|u| json!({"video": u})),
        Some(other) => {
            return Err(unsupported_part(
                i,
                &format!("content parts of type `{other}` are not supported by DashScope"),
            ));
        }
        // Already native (`{"image": …}`): kept as it is.
        None => ["text", "image", "video"]
            .iter()
            .any(|k| part.get(*k).is_some())
            .then(|| part.clone()),
    };
    converted.ok_or_else(|| unsupported_part(i, "a content part is malformed"))
}
