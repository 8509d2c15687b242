//! Anthropic error bodies and the `sim_error:` injection grammar.
//!
//! Body: `{"type":"error","error":{"type":<error type>,"message":…},"request_id":"req_…"}`, with
//! the same id in the `request-id` header.
//!
//! ```text
//! sim_error:<error type>[;after=<N>]
//! ```
//! `<error type>` is one of [`ERROR_TYPES`]. Without `after` (or in a non-stream request) the
//! answer is that error with its HTTP status; with `after=N` a stream sends N events and then
//! `event: error` carrying it (the HTTP status stays 200).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The marker of an injected Anthropic error in a prompt.
pub const ERROR_MARKER: &str = "sim_error:";

/// Every documented error type: `(type, HTTP status, message)`.
pub const ERROR_TYPES: &[(&str, u16, &str)] = &[
    ("invalid_request_error", 400, "Invalid request (simulated)"),
    ("authentication_error", 401, "invalid x-api-key"),
    (
        "billing_error",
        402,
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
    ),
    (
        "permission_error",
        403,
        "Your API key does not have permission to use the specified resource.",
    ),
    (
        "not_found_error",
        404,
        "The requested resource could not be found.",
    ),
    (
        "request_too_large",
        413,
        "Request exceeds the maximum allowed number of bytes.",
    ),
    (
        "rate_limit_error",
        429,
        "Number of request tokens has exceeded your per-minute rate limit",
    ),
    ("api_error", 500, "Internal server error"),
    ("overloaded_error", 529, "Overloaded"),
];

/// The `{"type":"error",…}` body.
pub fn error_body(kind: &str, message: &str, request_id: &str) -> Value {
    json!({
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": request_id,
    })
}

/// An error response with the body and a matching `request-id` header.
pub fn error_response(status: StatusCode, kind: &str, message: &str) -> Response {
    let id = super::request_id();
    let mut resp = (status, error_body(kind, message, &id).to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("request-id", v);
    }
    if kind == "rate_limit_error" {
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        h.insert("x-should-retry", HeaderValue::from_static("true"));
    }
    resp
}

/// The error type and message Anthropic uses for an HTTP status (for `sim_fault:status=N`).
pub fn kind_for_status(status: u16) -> (&'static str, &'static str) {
    if let Some((kind, _, msg)) = ERROR_TYPES.iter().find(|(_, s, _)| *s == status) {
        return (kind, msg);
    }
    match status {
        500..=599 => ("api_error", "Internal server error"),
        _ => ("invalid_request_error", "Request failed (simulated)"),
    }
}

/// The answer to a `Fault::Status` without an explicit body.
pub fn status_error(status: StatusCode) -> Response {
    let (kind, msg) = kind_for_status(status.as_u16());
    error_response(status, kind, msg)
}

/// A parsed `sim_error:` spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimError {
    /// The error type.
    pub kind: &'static str,
    /// Its HTTP status.
    pub status: u16,
    /// Its message.
    pub message: &'static str,
    /// In a stream: events sent before the `error` event.
    pub after: Option<usize>,
}

impl SimError {
    /// The HTTP answer.
    pub fn response(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        error_response(status, self.kind, self.message)
    }

    /// The `event: error` frame.
    pub fn event(&self) -> String {
        let body = json!({"type": "error", "error": {"type": self.kind, "message": self.message}});
        format!("event: error\ndata: {body}\n\n")
    }
}

/// Finds `sim_error:<spec>` in `text`; `None` when absent, `Err` when unparsable.
pub fn sim_error(text: &str) -> Option<Result<SimError, String>> {
    let start = text.find(ERROR_MARKER)? + ERROR_MARKER.len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '=' | ';')))
        .unwrap_or(rest.len());
    let spec = &rest[..end];
    let mut items = spec.split(';');
    let name = items.next().unwrap_or("");
    let Some(&(kind, status, message)) = ERROR_TYPES.iter().find(|(k, _, _)| *k == name) else {
        let known: Vec<&str> = ERROR_TYPES.iter().map(|(k, _, _)| *k).collect();
        return Some(Err(format!(
            "sim_error: unknown error type `{name}` (known: {})",
            known.join(", ")
        )));
    };
    let mut after = None;
    for item in items.filter(|i| !i.is_empty()) {
        match item.split_once('=') {
            Some(("after", n)) => match n.parse::<usize>() {
                Ok(n) => after = Some(n),
                Err(_) => {
                    return Some(Err(format!(
                        "sim_error: `after` needs a non-negative integer in `{spec}`"
                    )));
                }
            },
            _ => return Some(Err(format!("sim_error: unknown item `{item}` in `{spec}`"))),
        }
    }
    Some(Ok(SimError {
        kind,
        status,
        message,
        after,
    }))
}
