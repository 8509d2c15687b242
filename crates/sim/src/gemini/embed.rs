//! `:embedContent` and `:batchEmbedContents`.
//!
//! Every request of a batch must name the model of the URL as `models/<id>`; its `content`
//! needs at least one text part. Values: [`DIMENSIONS`] floats (or `outputDimensionality`,
//! 1..=[`DIMENSIONS`]) from a hash of the text, unit length. No usage is reported (the Gemini
//! API sends none for embeddings).
//!
//! Faults: a programmed `Fault::Status`, or `sim_error:<CODE>` in any input text.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::errors::{self, invalid, json_response};
use super::keys::{self, get};
use super::{App, ERROR_MARKER};
use crate::fault::Fault;

/// Size of a text-embedding-004 vector.
pub(crate) const DIMENSIONS: usize = 768;

fn one(req: &Value, path: &str) -> Result<Vec<f32>, Box<Response>> {
    let text: Vec<&str> = get(req, "content")
        .and_then(|c| get(c, "parts"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| get(p, "text").and_then(Value::as_str))
        .collect();
    if text.is_empty() {
        return Err(Box::new(invalid(&format!(
            "* {path}.content.parts: contents.parts must not be empty.\n"
        ))));
    }
    let dims = match get(req, "outputDimensionality").and_then(Value::as_u64) {
        None => DIMENSIONS,
        Some(d) if (1..=DIMENSIONS as u64).contains(&d) => d as usize,
        Some(d) => {
            return Err(Box::new(invalid(&format!(
                "* {path}.output_dimensionality: output_dimensionality must be between 1 and {DIMENSIONS}, got {d}.\n"
            ))));
        }
    };
    Ok(crate::openai::embed(&text.join(" "), dims))
}

/// A programmed `Fault::Status`, or `sim_error:<CODE>` in any text of the body.
fn injected(app: &App, body: &Value) -> Option<Response> {
    if let Some(Fault::Status { status, .. }) = app.sim.take_fault() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Some(errors::status_response(status));
    }
    let text = body.to_string();
    let start = text.find(ERROR_MARKER)? + ERROR_MARKER.len();
    let code: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_uppercase() || *c == '_')
        .collect();
    Some(
        errors::injected_response(&code)
            .unwrap_or_else(|| invalid(&format!("sim_error: unknown code `{code}`"))),
    )
}

/// Handles both methods for `model`.
pub(crate) fn handle(app: &App, model: &str, method: &str, body: &Value) -> Response {
    if let Some(resp) = injected(app, body) {
        return resp;
    }
    let want = format!("models/{model}");
    if method == "embedContent" {
        if let Err(r) = keys::check(body, keys::EMBED, "") {
            return *r;
        }
        return match one(body, "EmbedContentRequest") {
            Ok(v) => json_response(StatusCode::OK, &json!({"embedding": {"values": v}})),
            Err(r) => *r,
        };
    }
    if let Err(r) = keys::check(body, &keys::BATCH_EMBED, "") {
        return *r;
    }
    let Some(requests) = get(body, "requests")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
    else {
        return invalid("* BatchEmbedContentsRequest.requests: requests must not be empty.\n");
    };
    let mut out = Vec::with_capacity(requests.len());
    for (i, r) in requests.iter().enumerate() {
        let named = get(r, "model").and_then(Value::as_str).unwrap_or("");
        if named != want {
            return invalid(&format!(
                "* BatchEmbedContentsRequest.requests[{i}].model: the model `{named}` does not match the model of the batch `{want}`.\n"
            ));
        }
        match one(r, &format!("BatchEmbedContentsRequest.requests[{i}]")) {
            Ok(v) => out.push(json!({"values": v})),
            Err(resp) => return *resp,
        }
    }
    json_response(StatusCode::OK, &json!({"embeddings": out}))
}
