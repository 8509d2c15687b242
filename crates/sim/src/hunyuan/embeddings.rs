//! `GetEmbedding`: `{"Input": text}` or `{"InputList": [...]}` (at most 50, exactly one of the
//! two) → 1024-dimension vectors (deterministic, from a hash of the text) with
//! `Usage {PromptTokens, TotalTokens}`; `PromptTokens` = Σ max(1, characters / 4).

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use super::EMBEDDING_DIMENSIONS;
use super::errors::{error_response, json_response, request_id, wrap};
use crate::openai::embed;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Data {
    embedding: Vec<f32>,
    index: usize,
    object: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Usage {
    prompt_tokens: u64,
    total_tokens: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    data: Vec<Data>,
    usage: Usage,
    request_id: String,
}

/// The `GetEmbedding` handler (after the signature was verified).
pub(super) fn handle(body: &Value) -> Response {
    let Some(obj) = body.as_object() else {
        return error_response("InvalidParameter", "the request body must be a JSON object");
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "Input" | "InputList"))
    {
        return error_response(
            "UnknownParameter",
            &format!("The parameter `{k}` is not recognized."),
        );
    }
    let texts: Vec<String> = match (obj.get("Input"), obj.get("InputList")) {
        (Some(Value::String(s)), None) if !s.is_empty() => vec![s.clone()],
        (None, Some(Value::Array(list)))
            if !list.is_empty() && list.len() <= 50 && list.iter().all(Value::is_string) =>
        {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        }
        _ => {
            return error_response(
                "InvalidParameter",
                "exactly one of Input (a non-empty string) or InputList (1 to 50 strings) is required",
            );
        }
    };
    let tokens: u64 = texts
        .iter()
        .map(|t| (t.chars().count() as u64 / 4).max(1))
        .sum();
    let answer = Answer {
        data: texts
            .iter()
            .enumerate()
            .map(|(index, t)| Data {
                embedding: embed(t, EMBEDDING_DIMENSIONS),
                index,
                object: "embedding",
            })
            .collect(),
        usage: Usage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
        request_id: request_id(),
    };
    json_response(StatusCode::OK, wrap(answer))
}
