//! `POST /v1/embeddings`: deterministic vectors derived from a hash of each input.
//!
//! Each input (a string, or a token array rendered as its JSON text) seeds an FNV-1a hash that
//! drives a splitmix64 generator; the `dimensions` (default 8) values in [-1, 1) are normalised
//! to unit length. `encoding_format:"base64"` returns the base64 of the little-endian `f32`
//! bytes, as the official SDKs expect.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};

use super::chat::{record_json, unparsable};
use super::errors::{invalid_param, model_not_found, raw_json_response};
use super::{App, check_auth};

/// Vector length when the request gives no `dimensions`.
pub const DEFAULT_DIMENSIONS: usize = 8;

/// The deterministic embedding of `text`.
pub fn embed(text: &str, dimensions: usize) -> Vec<f32> {
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let raw: Vec<f32> = (0..dimensions)
        .map(|_| (next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0)
        .collect();
    let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        raw.iter().map(|x| x / norm).collect()
    } else {
        raw
    }
}

fn inputs(input: &Value) -> Option<Vec<String>> {
    match input {
        Value::String(s) if !s.is_empty() => Some(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => {
            if items.iter().all(Value::is_number) {
                return Some(vec![input.to_string()]);
            }
            items
                .iter()
                .map(|item| match item {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Array(tokens)
                        if !tokens.is_empty() && tokens.iter().all(Value::is_number) =>
                    {
                        Some(item.to_string())
                    }
                    _ => None,
                })
                .collect()
        }
        _ => None,
    }
}

/// The embeddings handler.
pub(super) async fn embeddings(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let flavor = app.cfg.flavor;
    let parsed = record_json(&app, &body);
    if let Err(resp) = check_auth(&app, &headers) {
        return *resp;
    }
    let Some(json) = parsed else {
        return unparsable(flavor);
    };
    let missing = |p: &str| {
        invalid_param(
            flavor,
            p,
            "missing_required_parameter",
            format!("Missing required parameter: '{p}'."),
        )
    };
    let Some(model) = json.get("model").and_then(Value::as_str) else {
        return missing("model");
    };
    let Some(input) = json.get("input").filter(|v| !v.is_null()) else {
        return missing("input");
    };
    if !app.cfg.knows_model(model) {
        return model_not_found(flavor, model);
    }
    let Some(texts) = inputs(input) else {
        return invalid_param(
            flavor,
            "input",
            "invalid_value",
            "'$.input' is invalid. Please check the API reference: \
             https://platform.openai.com/docs/api-reference."
                .to_owned(),
        );
    };
    let base64 = match json.get("encoding_format").and_then(|v| v.as_str()) {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return invalid_param(
                flavor,
                "encoding_format",
                "invalid_value",
                format!(
                    "Invalid value for 'encoding_format': '{other}'. Expected 'float' or 'base64'."
                ),
            );
        }
    };
    let dimensions = match json.get("dimensions").filter(|v| !v.is_null()) {
        None => DEFAULT_DIMENSIONS,
        Some(v) => match v.as_u64() {
            Some(d) if (1..=4096).contains(&d) => d as usize,
            _ => {
                return invalid_param(
                    flavor,
                    "dimensions",
                    "invalid_value",
                    "Invalid 'dimensions': expected an integer between 1 and 4096.".to_owned(),
                );
            }
        },
    };
    let mut prompt_tokens = 0u64;
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(index, text)| {
            prompt_tokens += (text.chars().count() as u64 / 4).max(1);
            let vector = embed(text, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let body = json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    });
    raw_json_response(StatusCode::OK, body.to_string())
}
