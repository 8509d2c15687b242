//! `POST …/wenxinworkshop/embeddings/{endpoint}`: `{"input":[texts]}` → an `embedding_list`.
//!
//! Limits per endpoint from [`super::EMBEDDING_ENDPOINTS`] (batch size, characters per text);
//! vectors are the OpenAI simulator's deterministic unit vectors of the endpoint's dimensions;
//! `prompt_tokens` per text = max(1, characters / 4).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::errors::{self, json_response};
use super::reply::{now_secs, request_id};
use super::{App, EMBEDDING_ENDPOINTS, check_token};
use crate::openai::embed;

/// The handler.
pub(super) async fn embeddings(
    State(app): State<App>,
    Path(endpoint): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    app.sim.record_request(
        parsed
            .clone()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned())),
    );
    let Some(&(_, batch, dims, max_chars)) =
        EMBEDDING_ENDPOINTS.iter().find(|(e, ..)| *e == endpoint)
    else {
        return errors::v1_code(3);
    };
    if let Err(resp) = check_token(&app, q.get("access_token")) {
        return *resp;
    }
    let Some(parsed) = parsed else {
        return errors::v1_code(336002);
    };
    let texts: Option<Vec<&str>> = parsed
        .get("input")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect());
    let Some(texts) = texts.filter(|t| !t.is_empty()) else {
        return errors::v1(336003, "input can not be empty");
    };
    if parsed.get("input").and_then(Value::as_array).map(Vec::len) != Some(texts.len()) {
        return errors::v1(336003, "input must be a list of strings");
    }
    if texts.len() > batch {
        return errors::v1(336003, &format!("the max number of input texts is {batch}"));
    }
    if texts
        .iter()
        .any(|t| t.is_empty() || t.chars().count() > max_chars)
    {
        return errors::v1(
            336003,
            &format!("each input text must be 1 to {max_chars} characters"),
        );
    }
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "embedding": embed(t, dims), "index": i}))
        .collect();
    let tokens: u64 = texts
        .iter()
        .map(|t| (t.chars().count() as u64 / 4).max(1))
        .sum();
    json_response(
        StatusCode::OK,
        json!({
            "id": request_id(),
            "object": "embedding_list",
            "created": now_secs(),
            "data": data,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })
        .to_string(),
    )
}
