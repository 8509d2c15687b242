//! Building Qianfan v1 requests: chat (`…/wenxinworkshop/chat/<endpoint>`) and embeddings
//! (`…/wenxinworkshop/embeddings/<endpoint>`), both with `?access_token=`.
//!
//! Parameters are brought into ERNIE's ranges instead of being refused: `temperature` into
//! (0, 1] (0 becomes [`TEMPERATURE_MIN`]), `top_p` into [0, 1], `penalty_score` into [1, 2]
//! (derived from a positive `frequency_penalty`/`presence_penalty` when not given: p ↦ 1 + p/2),
//! `max_output_tokens` (from `max_completion_tokens`/`max_tokens`) at least 2. A `stop` list
//! beyond ERNIE's limits (4 items of at most 20 characters) and `n > 1` are refused, since
//! clamping them would change the answer. Fields ERNIE does not know are not forwarded, except
//! ERNIE's own (`disable_search`, `enable_citation`, …).

use bytes::Bytes;
use serde_json::{Map, Value, json};
use switchyard_types::ChatRequest;

use super::auth::{enc, pair};
use super::messages;
use super::models::{chat_endpoint, embedding, is_embedding_model};
use crate::adapter::{ConvertError, EmbeddingsInput, Target, UpstreamRequest};

/// The path prefix of every v1 model API.
pub(super) const API_PREFIX: &str = "/rpc/2.0/ai_custom/v1/wenxinworkshop";

/// What a temperature of 0 (or below) becomes: ERNIE refuses 0.
pub(super) const TEMPERATURE_MIN: f64 = 0.01;

/// ERNIE request fields forwarded when the client sends them.
const NATIVE_FIELDS: &[&str] = &[
    "disable_search",
    "enable_citation",
    "enable_trace",
    "user_setting",
    "min_output_tokens",
    "enable_system_memory",
    "system_memory_id",
    "extra_parameters",
];

fn bad(message: impl Into<String>, param: &str) -> ConvertError {
    ConvertError::BadRequest {
        message: message.into(),
        param: Some(param.to_owned()),
    }
}

/// The access token, or a failure that makes the gateway try another channel.
fn token<'a>(target: &Target<'a>) -> Result<&'a str, ConvertError> {
    target
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ConvertError::Protocol("no Qianfan access token was obtained".to_owned()))
}

fn number(extra: &Map<String, Value>, field: &str) -> Result<Option<f64>, ConvertError> {
    match extra.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| bad(format!("`{field}` must be a number"), field)),
    }
}

/// `stop` as ERNIE's list (at most 4 strings of at most 20 characters).
fn stop_list(v: &Value) -> Result<Option<Vec<String>>, ConvertError> {
    let list: Vec<String> = match v {
        Value::Null => return Ok(None),
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad("`stop` must hold strings", "stop"))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad("`stop` must be a string or a list of strings", "stop")),
    };
    if list.len() > 4 {
        return Err(bad(
            format!(
                "Qianfan accepts at most 4 stop sequences ({} given)",
                list.len()
            ),
            "stop",
        ));
    }
    if let Some(long) = list.iter().find(|s| s.chars().count() > 20) {
        return Err(bad(
            format!(
                "Qianfan stop sequences are at most 20 characters ({} given)",
                long.chars().count()
            ),
            "stop",
        ));
    }
    Ok((!list.is_empty()).then_some(list))
}

/// OpenAI `tools` (and legacy `functions`) as ERNIE `functions`, with `tool_choice`; `None`
/// when the client said the model must not call any.
fn functions(req: &ChatRequest, body: &mut Map<String, Value>) {
    let choice = req
        .extra
        .get("tool_choice")
        .or_else(|| req.extra.get("function_call"));
    if matches!(choice, Some(Value::String(s)) if s == "none") {
        return;
    }
    let mut list: Vec<Value> = req
        .tools
        .iter()
        .flatten()
        .filter(|t| t.get("type").and_then(Value::as_str).unwrap_or("function") == "function")
        .filter_map(|t| t.get("function"))
        .map(|f| {
            let mut out = Map::new();
            for k in ["name", "description", "parameters"] {
                if let Some(v) = f.get(k).filter(|v| !v.is_null()) {
                    out.insert(k.to_owned(), v.clone());
                }
            }
            Value::Object(out)
        })
        .collect();
    if let Some(Value::Array(legacy)) = req.extra.get("functions") {
        list.extend(legacy.iter().cloned());
    }
    if list.is_empty() {
        return;
    }
    body.insert("functions".to_owned(), Value::Array(list));
    let named = match choice {
        Some(Value::Object(o)) => o
            .get("function")
            .and_then(|f| f.get("name"))
            .or_else(|| o.get("name"))
            .and_then(Value::as_str),
        _ => None,
    };
    if let Some(name) = named {
        body.insert(
            "tool_choice".to_owned(),
            json!({"type": "function", "function": {"name": name}}),
        );
    }
}

/// The v1 chat request.
pub(super) fn chat(
    req: &ChatRequest,
    target: &Target<'_>,
) -> Result<UpstreamRequest, ConvertError> {
    let model = target.upstream_model;
    if is_embedding_model(model) {
        return Err(bad(
            format!("`{model}` is an embeddings model; use /v1/embeddings"),
            "model",
        ));
    }
    let endpoint = chat_endpoint(model).ok_or_else(|| {
        bad(
            format!("`{model}` is not a Qianfan model or endpoint name"),
            "model",
        )
    })?;
    pair(target.key)?;
    let token = token(target)?;
    if req.choices() > 1 {
        return Err(bad("Qianfan returns one choice only; `n` must be 1", "n"));
    }
    let (system, msgs) = messages::convert(&req.messages)?;
    let x = &req.extra;
    let mut body = Map::new();
    body.insert("messages".to_owned(), Value::Array(msgs));
    if let Some(s) = system {
        body.insert("system".to_owned(), Value::String(s));
    }
    if req.is_stream() {
        body.insert("stream".to_owned(), Value::Bool(true));
    }
    if let Some(t) = number(x, "temperature")? {
        body.insert(
            "temperature".to_owned(),
            json!(t.clamp(TEMPERATURE_MIN, 1.0)),
        );
    }
    if let Some(p) = number(x, "top_p")? {
        body.insert("top_p".to_owned(), json!(p.clamp(0.0, 1.0)));
    }
    let penalty = match number(x, "penalty_score")? {
        Some(p) => Some(p),
        None => number(x, "frequency_penalty")?
            .or(number(x, "presence_penalty")?)
            .map(|p| 1.0 + p.max(0.0) / 2.0),
    };
    if let Some(p) = penalty {
        body.insert("penalty_score".to_owned(), json!(p.clamp(1.0, 2.0)));
    }
    let limit = req
        .output_limit()
        .or_else(|| x.get("max_output_tokens").and_then(Value::as_u64));
    if let Some(n) = limit {
        body.insert("max_output_tokens".to_owned(), json!(n.max(2)));
    }
    if let Some(list) = x.get("stop").map(stop_list).transpose()?.flatten() {
        body.insert("stop".to_owned(), json!(list));
    }
    if let Some(user) = x
        .get("user")
        .or_else(|| x.get("user_id"))
        .and_then(Value::as_str)
    {
        body.insert("user_id".to_owned(), json!(user));
    }
    functions(req, &mut body);
    match x.get("response_format") {
        Some(Value::Object(o)) => match o.get("type").and_then(Value::as_str) {
            Some("json_object" | "json_schema") => {
                body.insert("response_format".to_owned(), json!("json_object"));
            }
            Some("text") => {
                body.insert("response_format".to_owned(), json!("text"));
            }
            _ => {}
        },
        Some(Value::String(s)) => {
            body.insert("response_format".to_owned(), json!(s));
        }
        _ => {}
    }
    for k in NATIVE_FIELDS {
        if let Some(v) = x.get(*k).filter(|v| !v.is_null()) {
            body.insert((*k).to_owned(), v.clone());
        }
    }
    let bytes = serde_json::to_vec(&Value::Object(body)).map_err(|e| ConvertError::BadRequest {
        message: format!("cannot serialise request: {e}"),
        param: None,
    })?;
    Ok(UpstreamRequest::post_json(
        format!(
            "{}{API_PREFIX}/chat/{endpoint}?access_token={}",
            target.base_url.trim_end_matches('/'),
            enc(token)
        ),
        Vec::new(),
        Bytes::from(bytes),
    ))
}

/// The v1 embeddings request.
pub(super) fn embeddings(
    input: &EmbeddingsInput<'_>,
    target: &Target<'_>,
) -> Result<UpstreamRequest, ConvertError> {
    let model = target.upstream_model;
    let (endpoint, batch, dims) = embedding(model).ok_or_else(|| {
        bad(
            format!("`{model}` is not a Qianfan embeddings model"),
            "model",
        )
    })?;
    pair(target.key)?;
    let token = token(target)?;
    if input.texts.is_empty() {
        return Err(bad("`input` must not be empty", "input"));
    }
    if input.texts.len() > batch {
        return Err(bad(
            format!(
                "`{model}` embeds at most {batch} text(s) per request ({} given)",
                input.texts.len()
            ),
            "input",
        ));
    }
    if let Some(d) = input.dimensions.filter(|d| *d != dims) {
        return Err(bad(
            format!(
                "`{model}` returns {dims}-dimensional vectors; `dimensions` {d} is not available"
            ),
            "dimensions",
        ));
    }
    let body = json!({"input": input.texts});
    Ok(UpstreamRequest::post_json(
        format!(
            "{}{API_PREFIX}/embeddings/{endpoint}?access_token={}",
            target.base_url.trim_end_matches('/'),
            enc(token)
        ),
        Vec::new(),
        Bytes::from(body.to_string()),
    ))
}
