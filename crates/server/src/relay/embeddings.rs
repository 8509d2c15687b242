//! `POST /v1/embeddings`: the same admission, billing and failover as chat, without streams.
//!
//! OpenAI-dialect channels get the client's body with only `model` rewritten and answer as they
//! are; native providers go through their adapter, and the gateway builds the OpenAI answer,
//! as base64 of little-endian float32 when the client asked (the SDKs' default).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_core::meter::Metered;
use switchyard_core::routing::Channel;
use switchyard_core::tokens;
use switchyard_providers::{Adapter, EmbeddingsInput, adapter};
use switchyard_types::Usage;

use super::Billing;
use super::failover::{failover, target, with_token};
use super::upstream::{self, Failure};
use crate::error::ApiError;
use crate::gate::{self, RequestId};
use crate::state::AppState;

/// The handler.
pub(crate) async fn embeddings(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    serve(&state, &rid, headers, body, None, Shape::OpenAi, parse).await
}

/// How the answer is written: OpenAI's list, or Gemini's `embedContent` (one) /
/// `batchEmbedContents` (many).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    OpenAi,
    GeminiOne,
    GeminiBatch,
}

/// Runs an embeddings request of any inbound shape; errors in that shape's dialect.
pub(crate) async fn serve(
    state: &AppState,
    rid: &RequestId,
    headers: &HeaderMap,
    body: Body,
    query_key: Option<&str>,
    shape: Shape,
    parse: impl FnOnce(&[u8]) -> Result<Request, ApiError>,
) -> Response {
    let started = Instant::now();
    let mut ctx = gate::Attempt::default();
    let endpoint = if shape == Shape::OpenAi {
        "embeddings"
    } else {
        "embedContent"
    };
    match run(
        state, rid, headers, body, started, &mut ctx, query_key, endpoint, parse,
    )
    .await
    {
        Ok(body) if shape == Shape::OpenAi => crate::dialect::json_response(body),
        Ok(body) => match to_gemini(&body, shape) {
            Ok(v) => crate::dialect::json_response(Bytes::from(v.to_string())),
            Err(e) => crate::dialect::Dialect::Gemini.error(e),
        },
        Err(e) => {
            gate::log_rejection(state, rid, endpoint, &ctx, &e, started);
            if shape == Shape::OpenAi {
                e.into_response()
            } else {
                crate::dialect::Dialect::Gemini.error(e)
            }
        }
    }
}

/// An OpenAI embeddings answer (floats or base64) as Gemini's.
fn to_gemini(body: &[u8], shape: Shape) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::internal("the embeddings answer could not be read"))?;
    let mut vectors = Vec::new();
    for d in v["data"].as_array().into_iter().flatten() {
        let values: Vec<f64> = match &d["embedding"] {
            Value::Array(a) => a.iter().filter_map(Value::as_f64).collect(),
            Value::String(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_default()
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
            _ => Vec::new(),
        };
        vectors.push(json!({"values": values}));
    }
    Ok(match shape {
        Shape::GeminiOne => {
            json!({"embedding": vectors.into_iter().next().unwrap_or(json!({"values": []}))})
        }
        _ => json!({"embeddings": vectors}),
    })
}

/// Reads Gemini's `embedContent` / `batchEmbedContents` body for `model` as an embeddings
/// request (texts of every request's parts; `outputDimensionality` as `dimensions`).
pub(crate) fn parse_gemini(bytes: &[u8], model: &str, shape: Shape) -> Result<Request, ApiError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("The body is not valid JSON: {e}"), None))?;
    let items: Vec<&Value> = if shape == Shape::GeminiBatch {
        v["requests"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    } else {
        vec![&v]
    };
    if items.is_empty() {
        return Err(ApiError::bad_request(
            "`requests` must not be empty.",
            Some("requests"),
        ));
    }
    let mut texts = Vec::new();
    let mut dims = None;
    for it in items {
        let parts = it["content"]["parts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        texts.push(
            parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join(""),
        );
        dims = dims.or(it
            .get("outputDimensionality")
            .or_else(|| it.get("output_dimensionality"))
            .and_then(Value::as_u64));
    }
    let mut raw = json!({"model": model, "input": texts});
    if let Some(d) = dims {
        raw["dimensions"] = json!(d);
    }
    parse(raw.to_string().as_bytes())
}

/// The request, with `input` normalised to texts (token arrays stay raw for pass-through).
pub(crate) struct Request {
    raw: serde_json::Map<String, Value>,
    model: String,
    texts: Option<Arc<[String]>>,
    /// Tokenized only if an upstream reports no usage or the estimate does not fit the quota.
    prompt: Arc<tokens::Prompt>,
    base64: bool,
    dimensions: Option<u64>,
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Request, ApiError> {
    #[derive(Deserialize)]
    struct Known {
        encoding_format: Option<String>,
        dimensions: Option<u64>,
    }
    let raw: serde_json::Map<String, Value> = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            format!("We could not parse the JSON body of your request: {e}"),
            None,
        )
    })?;
    let model = match raw.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => {
            return Err(ApiError::bad_request(
                "you must provide a model parameter",
                Some("model"),
            ));
        }
    };
    // Text inputs are kept (for the request) and counted lazily, from the same copy.
    let of_texts = |texts: Arc<[String]>| {
        (
            Some(texts.clone()),
            tokens::Prompt::texts(model.as_str(), texts),
        )
    };
    let (texts, prompt) = match raw.get("input") {
        Some(Value::String(s)) => of_texts(Arc::from([s.clone()])),
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => of_texts(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        Some(Value::Array(a))
            if !a.is_empty() && a.iter().all(|v| v.is_number() || v.is_array()) =>
        {
            let n = a
                .iter()
                .map(|v| v.as_array().map_or(1, Vec::len) as u64)
                .sum();
            (None, tokens::Prompt::counted(n))
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "`input` must be a string, an array of strings, or token arrays, and not empty.",
                Some("input"),
            ));
        }
        None => {
            return Err(ApiError::bad_request(
                "Missing required parameter: 'input'.",
                Some("input"),
            ));
        }
    };
    let known: Known = serde_json::from_value(Value::Object(raw.clone()))
        .map_err(|e| ApiError::bad_request(format!("Invalid request: {e}"), None))?;
    let base64 = match known.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "`encoding_format` must be `float` or `base64`.",
                Some("encoding_format"),
            ));
        }
    };
    Ok(Request {
        raw,
        model,
        texts,
        prompt: Arc::new(prompt),
        base64,
        dimensions: known.dimensions,
    })
}

#[allow(clippy::too_many_arguments)]
async fn run(
    state: &AppState,
    rid: &RequestId,
    headers: &HeaderMap,
    body: Body,
    started: Instant,
    ctx: &mut gate::Attempt,
    query_key: Option<&str>,
    endpoint: &'static str,
    parse: impl FnOnce(&[u8]) -> Result<Request, ApiError>,
) -> Result<Bytes, ApiError> {
    let bytes = gate::read_body(state, body).await?;
    let key = crate::auth::client_key(state, headers, query_key).await?;
    ctx.key_id = Some(key.id);
    let req = parse(&bytes)?;
    let model: Arc<str> = Arc::from(req.model.as_str());
    ctx.model = Some(model.clone());
    gate::admit(state, &key, &req.model)?;
    let routes = state.routes();
    if !routes.serves(&req.model) {
        return Err(ApiError::model_not_found(&req.model));
    }
    let billing = Billing::reserve(
        state,
        key,
        rid,
        endpoint,
        &model,
        (req.prompt.clone(), 0),
        false,
        started,
    )?;
    ctx.billed = true;
    let timeout = Duration::from_millis(state.inner.config.upstream.first_byte_timeout_ms);
    let candidates = routes.candidates(&req.model, gate::now_ms(), &mut rand::rng());
    let req = &req;
    let ((body, usage), _, mut billing) = failover(
        state,
        rid,
        &candidates,
        billing,
        &model,
        |ch, um| async move { try_channel(state, ch, req, &um, timeout).await },
    )
    .await?;
    let m = Metered {
        prompt: usage
            .as_ref()
            .map_or_else(|| req.prompt.exact(), |u| u.prompt_tokens),
        completion: 0,
        cached: 0,
        estimated: usage.is_none(),
    };
    billing.first_token();
    billing.finish(m, 200, None);
    Ok(body)
}

async fn try_channel(
    state: &AppState,
    ch: &Channel,
    req: &Request,
    upstream_model: &str,
    timeout: Duration,
) -> Result<(Bytes, Option<Usage>), Failure> {
    let adapter = adapter(ch.provider);
    if ch.provider.is_openai_dialect() {
        let mut body = req.raw.clone();
        body.insert("model".into(), Value::from(upstream_model));
        let ureq = switchyard_providers::UpstreamRequest::post_json(
            format!("{}/embeddings", ch.base_url.trim_end_matches('/')),
            [switchyard_providers::bearer(ch.key.expose())],
            Bytes::from(Value::Object(body).to_string()),
        );
        let bytes = send(state, adapter, ureq, timeout).await?;
        #[derive(Deserialize)]
        struct Probe {
            usage: Option<Usage>,
        }
        let probe: Probe = serde_json::from_slice(&bytes).map_err(|e| {
            Failure::Protocol(format!("upstream embeddings answer is not JSON: {e}"))
        })?;
        return Ok((bytes, probe.usage));
    }
    let Some(texts) = &req.texts else {
        return Err(Failure::bad_request(
            "token-array input is only accepted for OpenAI-dialect models".into(),
            Some("input".into()),
        ));
    };
    let input = EmbeddingsInput {
        texts,
        dimensions: req.dimensions,
    };
    let input = &input;
    let out = with_token(state, ch, adapter, timeout, |token, now_unix| async move {
        let target = target(ch, upstream_model, token.as_deref(), now_unix);
        let ureq = adapter
            .embeddings_request(input, &target)
            .map_err(super::request_failure)?;
        let bytes = send(state, adapter, ureq, timeout).await?;
        adapter
            .embeddings_response(bytes)
            .map_err(super::convert_failure)
    })
    .await?;
    let data: Vec<Value> = out
        .vectors
        .iter()
        .enumerate()
        .map(
            |(i, v)| json!({"object": "embedding", "index": i, "embedding": encode(v, req.base64)}),
        )
        .collect();
    let prompt = out
        .usage
        .as_ref()
        .map_or_else(|| req.prompt.exact(), |u| u.prompt_tokens);
    let body = json!({
        "object": "list",
        "data": data,
        "model": req.model,
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
    });
    Ok((Bytes::from(body.to_string()), out.usage))
}

/// Floats as JSON numbers, or base64 of little-endian float32.
pub(crate) fn encode(v: &[f32], base64: bool) -> Value {
    if base64 {
        let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
        Value::from(base64::engine::general_purpose::STANDARD.encode(bytes))
    } else {
        Value::from(v.iter().map(|f| f64::from(*f)).collect::<Vec<f64>>())
    }
}

async fn send(
    state: &AppState,
    adapter: &'static dyn Adapter,
    ureq: switchyard_providers::UpstreamRequest,
    timeout: Duration,
) -> Result<Bytes, Failure> {
    let resp = upstream::send(state, ureq, timeout).await?;
    if !resp.status().is_success() {
        return Err(upstream::status_failure(resp, adapter, timeout).await);
    }
    upstream::read_body(resp, timeout).await
}
