//! `POST /api/v1/services/embeddings/text-embedding/text-embedding`.
//!
//! Body `{"model","input":{"texts":[…]},"parameters":{"text_type","dimension"}}`. Vectors are
//! [`crate::openai::embed`] of each text (so tests can recompute them): 1536 floats for
//! `text-embedding-v1`/`-v2` (at most 25 texts, no `dimension`), `dimension` (default 1024) for
//! `-v3`/`-v4` (at most 10 texts). Answer `{"output":{"embeddings":[{"text_index","embedding"}]},
//! "usage":{"total_tokens"},"request_id"}`, with `total_tokens` = Σ max(1, characters / 4).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{App, admit, errors};
use crate::openai::{embed, raw_json_response};

/// Vector length of `text-embedding-v1` and `-v2`.
pub const V1_V2_DIMENSIONS: usize = 1536;

/// `(texts per request, default dimension, allowed dimensions)` of a known model.
fn limits(model: &str) -> Option<(usize, usize, &'static [usize])> {
    match model {
        "text-embedding-v1" | "text-embedding-v2" => Some((25, V1_V2_DIMENSIONS, &[])),
        "text-embedding-v3" => Some((10, 1024, &[1024, 768, 512, 256, 128, 64])),
        "text-embedding-v4" => Some((10, 1024, &[2048, 1536, 1024, 768, 512, 256, 128, 64])),
        _ => None,
    }
}

/// The handler.
pub(super) async fn text_embedding(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (rid, json) = match admit(&app, &headers, &body) {
        Ok(admitted) => admitted,
        Err(resp) => return *resp,
    };
    match answer(&app, &json, &rid) {
        Ok(body) => raw_json_response(StatusCode::OK, body.to_string()),
        Err(message) => errors::invalid(&message, &rid),
    }
}

fn answer(app: &App, json: &Value, rid: &str) -> Result<Value, String> {
    let model = json
        .get("model")
        .and_then(Value::as_str)
        .ok_or("Model not specified.")?;
    let (max_texts, default_dim, dims) = limits(model)
        .filter(|_| app.cfg.knows_model(model))
        .ok_or("Model not exist.")?;
    let texts: Vec<&str> = match json.get("input").and_then(|i| i.get("texts")) {
        Some(Value::Array(t)) if !t.is_empty() => t
            .iter()
            .map(|t| t.as_str().filter(|s| !s.is_empty()))
            .collect::<Option<_>>()
            .ok_or("input.texts must hold non-empty strings")?,
        _ => return Err("input.texts is required and must not be empty".to_owned()),
    };
    if texts.len() > max_texts {
        return Err(format!(
            "batch size is invalid, it should not be larger than {max_texts}.: input.contents"
        ));
    }
    let params = json.get("parameters").cloned().unwrap_or(Value::Null);
    match params.get("text_type").and_then(Value::as_str) {
        None | Some("query" | "document") => {}
        Some(other) => return Err(format!("text_type must be query or document, not {other}")),
    }
    let dimension = match params.get("dimension") {
        None | Some(Value::Null) => default_dim,
        Some(d) => d
            .as_u64()
            .map(|d| d as usize)
            .filter(|d| dims.contains(d))
            .ok_or_else(|| format!("dimension {d} is not supported by {model}"))?,
    };
    let mut tokens = 0u64;
    let embeddings: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            tokens += (t.chars().count() as u64 / 4).max(1);
            json!({"text_index": i, "embedding": embed(t, dimension)})
        })
        .collect();
    Ok(json!({
        "output": {"embeddings": embeddings},
        "usage": {"total_tokens": tokens},
        "request_id": rid,
    }))
}
