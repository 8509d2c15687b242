//! Anthropic error bodies (`{"type":"error","error":{"type","message"},"request_id"}`) as
//! provider-neutral [`UpstreamError`]s with the OpenAI-equivalent status.
//!
//! | Anthropic `error.type`  | HTTP upstream | status here | code                 |
//! |-------------------------|---------------|-------------|----------------------|
//! | `invalid_request_error` | 400 (any 4xx) | 400 / same 4xx | `context_length_exceeded`, `content_filter` or `insufficient_quota` when the message says so |
//! | `authentication_error`  | 401           | 401         | `invalid_api_key`    |
//! | `billing_error`         | 402           | 403         | `insufficient_quota` |
//! | `permission_error`      | 403           | 403         | `permission_denied`  |
//! | `not_found_error`       | 404           | 404         | `model_not_found` when about the model |
//! | `request_too_large`     | 413           | 413         | `request_too_large`  |
//! | `rate_limit_error`      | 429           | 429         | `rate_limit_exceeded`|
//! | `api_error`             | 500           | 500 (or the 5xx given) | —         |
//! | `overloaded_error`      | 529           | 503         | —                    |
//! | `timeout_error`         | 504           | 504         | —                    |
//!
//! Billing problems become 403 rather than 402 so the gateway fails over to another channel (a
//! channel out of credit is the operator's problem, not the client's). Anthropic also reports
//! an exhausted credit balance as a 400 `invalid_request_error` ("Your credit balance is too
//! low…"); that message is recognised and treated the same way.

use serde::Deserialize;

use crate::adapter::UpstreamError;

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    error: Option<Inner>,
}

#[derive(Deserialize)]
pub(crate) struct Inner {
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
}

/// `(status, code)` for an Anthropic error type and message, given the HTTP status it came with
/// (200 for an `error` event inside a stream).
pub(crate) fn classify(kind: &str, message: &str, http: u16) -> (u16, Option<&'static str>) {
    let lower = message.to_ascii_lowercase();
    match kind {
        "invalid_request_error" => {
            if lower.contains("credit balance") {
                (403, Some("insufficient_quota"))
            } else if lower.contains("prompt is too long") || lower.contains("context window") {
                (400, Some("context_length_exceeded"))
            } else if lower.contains("content filtering") {
                (400, Some("content_filter"))
            } else if (400..500).contains(&http) {
                (http, None)
            } else {
                (400, None)
            }
        }
        "authentication_error" => (401, Some("invalid_api_key")),
        "billing_error" => (403, Some("insufficient_quota")),
        "permission_error" => (403, Some("permission_denied")),
        "not_found_error" => (
            404,
            lower.starts_with("model:").then_some("model_not_found"),
        ),
        "request_too_large" => (413, Some("request_too_large")),
        "rate_limit_error" => (429, Some("rate_limit_exceeded")),
        "overloaded_error" => (503, None),
        "timeout_error" => (504, None),
        "api_error" => (
            if (500..600).contains(&http) && http != 529 {
                http
            } else {
                500
            },
            None,
        ),
        _ => (
            match http {
                529 => 503,
                s if s >= 400 => s,
                _ => 502,
            },
            None,
        ),
    }
}

/// The error for an `error` object (from a body or a stream event).
pub(crate) fn from_inner(inner: Inner, http: u16) -> UpstreamError {
    let kind = inner.kind.unwrap_or_default();
    let message = inner
        .message
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("Anthropic error {kind}"));
    let (status, code) = classify(&kind, &message, http);
    UpstreamError {
        status,
        message,
        kind: (!kind.is_empty()).then_some(kind),
        code: code.map(str::to_owned),
    }
}

/// Reads an error answer of any status; a body that is not Anthropic's shape is kept as text.
pub(crate) fn error(status: u16, body: &[u8]) -> UpstreamError {
    if let Ok(Body { error: Some(inner) }) = serde_json::from_slice::<Body>(body) {
        return from_inner(inner, status);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let (mapped, _) = classify("", "", status);
    UpstreamError {
        status: mapped,
        message: if text.is_empty() {
            format!("Anthropic answered with status {status}")
        } else {
            text.chars().take(512).collect()
        },
        kind: None,
        code: None,
    }
}
