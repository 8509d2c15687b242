//! Spark errors: the `header.code` table of error frames, and handshake refusals.
//!
//! Error frames arrive inside an upgraded (101) connection, so the status the gateway acts on
//! comes from [`code_error`]: content moderation is a 400 `content_filter`, authorisation and
//! quota problems 403, rate and concurrency limits 429, overload 503, engine faults 5xx.
//! Handshake refusals are plain HTTP answers with `{"message": …}` bodies (401/403).

use serde::Deserialize;

use crate::adapter::UpstreamError;

/// `(status, OpenAI-style code, what it means)` for one Spark `header.code`.
pub(crate) fn classify(code: i64) -> (u16, &'static str, &'static str) {
    match code {
        10000..=10002 => (
            502,
            "upstream_error",
            "WebSocket error on the provider side",
        ),
        10003 => (400, "invalid_request", "malformed request frame"),
        10004 => (
            400,
            "invalid_request",
            "request frame failed schema validation",
        ),
        10005 => (400, "invalid_request", "invalid parameter value"),
        10006 => (
            429,
            "rate_limit_exceeded",
            "this user is already connected elsewhere",
        ),
        10007 => (
            429,
            "rate_limit_exceeded",
            "the previous question is still being answered",
        ),
        10008 => (503, "upstream_unavailable", "provider capacity exhausted"),
        10009..=10011 => (502, "upstream_error", "provider engine connection error"),
        10012 => (500, "upstream_error", "provider engine internal error"),
        10013 => (
            400,
            "content_filter",
            "input rejected by content moderation",
        ),
        10014 => (
            400,
            "content_filter",
            "output withheld by content moderation",
        ),
        10015 => (403, "account_blocked", "app_id is blacklisted"),
        10016 => (
            403,
            "insufficient_quota",
            "app_id not authorised (version not enabled, no tokens left or concurrency over licence)",
        ),
        10017 => (500, "upstream_error", "clearing history failed"),
        10019 => (
            400,
            "content_filter",
            "conversation tends towards prohibited content",
        ),
        10021 => (400, "content_filter", "input review failed"),
        10110 => (503, "upstream_unavailable", "provider busy"),
        10163 => (
            400,
            "invalid_request",
            "engine parameter schema check failed",
        ),
        10222 => (502, "upstream_error", "provider engine network error"),
        10907 => (
            400,
            "context_length_exceeded",
            "too many tokens in history and question",
        ),
        11200 => (
            403,
            "insufficient_quota",
            "app_id not licensed for this function or over its volume",
        ),
        11201 => (429, "rate_limit_exceeded", "daily request limit exceeded"),
        11202 => (
            429,
            "rate_limit_exceeded",
            "per-second request limit exceeded",
        ),
        11203 => (429, "rate_limit_exceeded", "concurrency limit exceeded"),
        11500 => (401, "invalid_api_key", "authentication failed"),
        11501 => (400, "invalid_request", "empty request data"),
        _ => (502, "upstream_error", "unknown Spark error code"),
    }
}

/// The [`UpstreamError`] for an error frame's `header.code` and `header.message`.
pub(crate) fn code_error(code: i64, message: &str) -> UpstreamError {
    let (status, openai_code, meaning) = classify(code);
    let detail = if message.is_empty() { meaning } else { message };
    UpstreamError {
        status,
        message: format!("Spark error {code}: {detail}"),
        kind: Some(
            match status {
                400 => "invalid_request_error",
                401 | 403 => "authentication_error",
                429 => "rate_limit_error",
                _ => "server_error",
            }
            .to_owned(),
        ),
        code: Some(openai_code.to_owned()),
    }
}

#[derive(Deserialize)]
struct FrameHeader {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    header: Option<FrameHeader>,
    #[serde(default)]
    message: Option<String>,
}

/// Reads a non-101 handshake answer (`{"message":"HMAC signature does not match"}`), or an
/// error frame if the gateway hands one over.
pub(crate) fn error(status: u16, body: &[u8]) -> UpstreamError {
    match serde_json::from_slice::<Probe>(body) {
        Ok(Probe {
            header: Some(h), ..
        }) if h.code != 0 => code_error(h.code, &h.message),
        Ok(Probe {
            message: Some(m), ..
        }) => UpstreamError {
            status,
            message: m,
            kind: None,
            code: None,
        },
        _ => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            UpstreamError {
                status,
                message: if text.is_empty() {
                    format!("Spark handshake refused with status {status}")
                } else {
                    text.chars().take(512).collect()
                },
                kind: None,
                code: None,
            }
        }
    }
}
