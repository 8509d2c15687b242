//! Google's error bodies: `{"error":{"code","message","status","details"?}}`, pretty-printed
//! (two-space indent) as Google sends them, with `application/json; charset=UTF-8`.
//!
//! The HTTP status decides the gRPC status string (400 `INVALID_ARGUMENT`, 401
//! `UNAUTHENTICATED`, 403 `PERMISSION_DENIED`, 404 `NOT_FOUND`, 429 `RESOURCE_EXHAUSTED`, 500
//! `INTERNAL`, 503 `UNAVAILABLE`, 504 `DEADLINE_EXCEEDED`), except where a code says otherwise
//! (`FAILED_PRECONDITION` and `API_KEY_INVALID` are 400s).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A JSON response, pretty-printed as Google's front end does.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let text = serde_json::to_string_pretty(body).unwrap_or_else(|_| body.to_string());
    let mut resp = (status, format!("{text}\n")).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    resp
}

/// The gRPC status string Google uses for an HTTP status.
pub fn grpc_status(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// The error object (without the outer `error` key).
pub(crate) fn error_object(code: u16, status: &str, message: &str, details: Vec<Value>) -> Value {
    let mut e = json!({"code": code, "message": message, "status": status});
    if !details.is_empty() {
        e["details"] = Value::Array(details);
    }
    e
}

/// An error answer whose status string follows from the HTTP status.
pub(crate) fn google(status: StatusCode, message: &str, details: Vec<Value>) -> Response {
    let code = status.as_u16();
    json_response(
        status,
        &json!({"error": error_object(code, grpc_status(code), message, details)}),
    )
}

/// An error answer with an explicit status string.
pub(crate) fn google_with(
    status: StatusCode,
    grpc: &str,
    message: &str,
    details: Vec<Value>,
) -> Response {
    json_response(
        status,
        &json!({"error": error_object(status.as_u16(), grpc, message, details)}),
    )
}

/// A 400 `INVALID_ARGUMENT` with a `BadRequest` field violation.
pub(crate) fn bad_request(field: Option<&str>, message: &str) -> Response {
    let mut violation = json!({"description": message});
    if let Some(f) = field {
        violation["field"] = Value::from(f);
    }
    google(
        StatusCode::BAD_REQUEST,
        message,
        vec![json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [violation],
        })],
    )
}

/// A plain 400 `INVALID_ARGUMENT` (the semantic checks carry no details).
pub(crate) fn invalid(message: &str) -> Response {
    google(StatusCode::BAD_REQUEST, message, Vec::new())
}

/// The 400 for a body that is not JSON.
pub(crate) fn invalid_json(body: &[u8]) -> Response {
    let first = String::from_utf8_lossy(body).chars().next().unwrap_or(' ');
    bad_request(
        None,
        &format!("Invalid JSON payload received. Unexpected token.\n{first}\n^"),
    )
}

/// The 404 for a model that does not exist or does not serve `method`.
pub(crate) fn model_not_found(model: &str, version: &str, method: &str) -> Response {
    google(
        StatusCode::NOT_FOUND,
        &format!(
            "models/{model} is not found for API version {version}, or is not supported for {method}. Call ListModels to see the list of available models and their supported methods."
        ),
        Vec::new(),
    )
}

fn error_info(reason: &str) -> Value {
    json!({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    })
}

/// The 400 Google answers for a key it does not know.
pub(crate) fn api_key_invalid() -> Response {
    let message = "API key not valid. Please pass a valid API key.";
    google(
        StatusCode::BAD_REQUEST,
        message,
        vec![
            error_info("API_KEY_INVALID"),
            json!({
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": message,
            }),
        ],
    )
}

/// One injectable error: `(HTTP status, gRPC status, message, details)`.
pub fn injected(code: &str) -> Option<(u16, &'static str, &'static str, Vec<Value>)> {
    Some(match code {
        "RESOURCE_EXHAUSTED" => (
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
            vec![
                json!({
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    }],
                }),
                json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}),
            ],
        ),
        "API_KEY_INVALID" => (
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            vec![error_info("API_KEY_INVALID")],
        ),
        "INVALID_ARGUMENT" => (
            400,
            "INVALID_ARGUMENT",
            "Request contains an invalid argument.",
            Vec::new(),
        ),
        "FAILED_PRECONDITION" => (
            400,
            "FAILED_PRECONDITION",
            "User location is not supported for the API use.",
            Vec::new(),
        ),
        "PERMISSION_DENIED" => (
            403,
            "PERMISSION_DENIED",
            "Your API key was reported as leaked. Please use another API key.",
            Vec::new(),
        ),
        "NOT_FOUND" => (
            404,
            "NOT_FOUND",
            "Requested entity was not found.",
            Vec::new(),
        ),
        "UNAUTHENTICATED" => (
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            vec![error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED")],
        ),
        "INTERNAL" => (
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
            Vec::new(),
        ),
        "UNAVAILABLE" => (
            503,
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
            Vec::new(),
        ),
        "DEADLINE_EXCEEDED" => (
            504,
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
            Vec::new(),
        ),
        _ => return None,
    })
}

/// The answer for an injected error code.
pub(crate) fn injected_response(code: &str) -> Option<Response> {
    let (http, grpc, message, details) = injected(code)?;
    let status = StatusCode::from_u16(http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Some(google_with(status, grpc, message, details))
}

/// The JSON body of an injected error (for a mid-stream `data:` event).
pub(crate) fn injected_body(code: &str) -> Option<Value> {
    let (http, grpc, message, details) = injected(code)?;
    Some(json!({"error": error_object(http, grpc, message, details)}))
}

/// Google's body for a bare status (a `sim_fault:status=N`).
pub(crate) fn status_response(status: StatusCode) -> Response {
    let code = status.as_u16();
    let by_code = match code {
        400 => injected("INVALID_ARGUMENT"),
        401 => injected("UNAUTHENTICATED"),
        403 => injected("PERMISSION_DENIED"),
        404 => injected("NOT_FOUND"),
        429 => injected("RESOURCE_EXHAUSTED"),
        500 => injected("INTERNAL"),
        503 => injected("UNAVAILABLE"),
        504 => injected("DEADLINE_EXCEEDED"),
        _ => None,
    };
    match by_code {
        Some((_, grpc, message, details)) => google_with(status, grpc, message, details),
        None => google(
            status,
            &format!("Simulated failure with HTTP status {code}."),
            Vec::new(),
        ),
    }
}
