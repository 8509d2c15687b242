//! The native inbound endpoints: Anthropic's `POST /v1/messages` and Gemini's
//! `POST /v1beta/models/{model}:generateContent` / `:streamGenerateContent` (also under `/v1`,
//! which google-genai 3.x uses). Requests convert to the canonical form and run through the same
//! relay as OpenAI requests (same admission, failover, billing and usage rows); answers and
//! errors come back in the caller's dialect.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, Request, State};
use axum::response::Response;
use serde_json::Value;
use switchyard_providers::inbound::{anthropic, gemini};

use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::gate::RequestId;
use crate::relay::embeddings::{self, Shape};
use crate::relay::{Inbound, handle};
use crate::state::AppState;

fn json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("The body is not valid JSON: {e}"), None))
}

/// `POST /v1/messages`.
pub(crate) async fn messages(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let inbound = Inbound {
        endpoint: "messages",
        dialect: Dialect::Anthropic,
        key: None,
    };
    handle(&state, &rid, headers, body, inbound, |bytes, _| {
        anthropic::request_to_chat(&json_body(bytes)?).map_err(|m| ApiError::bad_request(m, None))
    })
    .await
}

/// `POST /v1beta/models/{model}:{method}` (and `/v1/models/…`).
pub(crate) async fn generate(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Path(target): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let (model, method) = target.split_once(':').unwrap_or((target.as_str(), ""));
    let embed_shape = match method {
        "embedContent" => Some(Shape::GeminiOne),
        "batchEmbedContents" => Some(Shape::GeminiBatch),
        _ => None,
    };
    if let Some(shape) = embed_shape {
        let model = model.to_owned();
        return embeddings::serve(
            &state,
            &rid,
            headers,
            body,
            query.get("key").map(String::as_str),
            shape,
            move |bytes| embeddings::parse_gemini(bytes, &model, shape),
        )
        .await;
    }
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => {
            return Dialect::Gemini.error(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("unknown_method"),
                format!("Unknown method `{method}`: use generateContent, streamGenerateContent, embedContent or batchEmbedContents."),
            ));
        }
    };
    let model = model.to_owned();
    let inbound = Inbound {
        endpoint: "generateContent",
        dialect: Dialect::Gemini,
        key: query.get("key").cloned(),
    };
    handle(&state, &rid, headers, body, inbound, move |bytes, _| {
        gemini::request_to_chat(&json_body(bytes)?, &model, stream)
            .map_err(|m| ApiError::bad_request(m, None))
    })
    .await
}
