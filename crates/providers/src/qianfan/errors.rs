//! Qianfan error bodies mapped to OpenAI-equivalent statuses and codes.
//!
//! v1 answers errors with HTTP 200 and `{"error_code":N,"error_msg":"…"}` (chat, embeddings and
//! streams alike), so every v1 answer is checked for `error_code` before anything else. The
//! codes are Baidu's documented list (error-code page, `qianfan` SDK `consts.APIErrorCode`,
//! ERNIE-SDK `QianfanLegacyBackend.handle_response`, the length-limit page for 336007/336103);
//! see `docs/providers/qianfan.md` for the sources. v2 answers real HTTP statuses with an
//! OpenAI-shaped `{"error":{"code","message","type"}}`; its string codes are refined the same
//! way (content refusals become 400 `content_filter`).

use serde::Deserialize;
use serde_json::Value;

use super::auth::{TOKEN_EXPIRED, TOKEN_INVALID};
use crate::adapter::UpstreamError;

/// `(status, OpenAI error type, OpenAI error code)` for a documented v1 error code.
fn v1_class(code: i64) -> (u16, &'static str, &'static str) {
    match code {
        // Credentials. 110/111 make the gateway fetch a new token once.
        110 => (401, "authentication_error", TOKEN_INVALID),
        111 => (401, "authentication_error", TOKEN_EXPIRED),
        13 | 14 | 100 => (401, "authentication_error", "invalid_credentials"),
        6 | 336004 => (403, "permission_error", "permission_denied"),
        // Limits: per second, per minute (RPM/TPM), per day, in total.
        18 | 336501 | 336502 => (429, "rate_limit_error", "rate_limit_exceeded"),
        17 | 19 => (429, "insufficient_quota", "insufficient_quota"),
        // Overload and transient service problems.
        2 | 4 | 15 | 336100 => (503, "server_error", "server_overloaded"),
        1 | 336000 | 500000 => (500, "server_error", "internal_error"),
        // The endpoint (that is, the model) does not exist.
        3 | 336005 => (404, "invalid_request_error", "model_not_found"),
        // Input too long: 336007 by characters, 336103 by tokens.
        336007 | 336103 => (400, "invalid_request_error", "context_length_exceeded"),
        336001 | 336002 | 336003 | 336006 | 336101 | 336102 | 336104 | 336105 => {
            (400, "invalid_request_error", "invalid_request")
        }
        _ => (502, "upstream_error", "upstream_error"),
    }
}

/// The error for a v1 `error_code`/`error_msg` pair.
pub(super) fn v1(code: i64, msg: &str) -> UpstreamError {
    let (status, kind, oai) = v1_class(code);
    let msg = if msg.trim().is_empty() {
        "no message"
    } else {
        msg.trim()
    };
    UpstreamError {
        status,
        message: format!("{msg} (Qianfan error_code {code})"),
        kind: Some(kind.to_owned()),
        code: Some(oai.to_owned()),
    }
}

#[derive(Deserialize)]
struct V1Body {
    #[serde(default)]
    error_code: Option<Value>,
    #[serde(default)]
    error_msg: Option<String>,
}

/// The v1 error inside `body`, if it is one (`error_code` present and not 0).
pub(super) fn v1_in(body: &[u8]) -> Option<UpstreamError> {
    let b: V1Body = serde_json::from_slice(body).ok()?;
    v1_from(b.error_code.as_ref()?, b.error_msg.as_deref())
}

/// The v1 error described by an `error_code` value and message, unless the code is 0.
pub(super) fn v1_from(code: &Value, msg: Option<&str>) -> Option<UpstreamError> {
    let n = match code {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (n != 0).then(|| v1(n, msg.unwrap_or("")))
}

/// Reads a non-2xx v1 answer: a Baidu error body if there is one, the status otherwise.
pub(super) fn v1_status(status: u16, body: &[u8]) -> UpstreamError {
    if let Some(e) = v1_in(body) {
        return e;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    UpstreamError {
        status,
        message: if text.is_empty() {
            format!("upstream status {status}")
        } else {
            text.chars().take(512).collect()
        },
        kind: None,
        code: None,
    }
}

/// Refines a v2 error read from an OpenAI-shaped body (`status` is the HTTP status, or 0 when
/// the error came inside a 200 answer).
pub(super) fn v2_refine(mut e: UpstreamError, status: u16) -> UpstreamError {
    let code = e.code.clone().unwrap_or_default();
    let kind = e.kind.clone().unwrap_or_default();
    let mapped = if kind == "unsafe_request" || code.contains("unsafe") || code == "content_filter"
    {
        Some((400, "content_filter"))
    } else {
        match code.as_str() {
            "invalid_iam_token" | "invalid_api_key" | "access_denied" => Some((401, code.as_str())),
            "account_overdue" | "arrearage" => Some((403, "insufficient_quota")),
            "rpm_rate_limit_exceeded" | "tpm_rate_limit_exceeded" | "rate_limit_exceeded" => {
                Some((429, "rate_limit_exceeded"))
            }
            "server_high_load" | "server_overloaded" => Some((503, "server_overloaded")),
            "internal_error" => Some((500, "internal_error")),
            "tokens_too_long" | "characters_too_long" => Some((400, "context_length_exceeded")),
            _ => None,
        }
    };
    match mapped {
        Some((s, c)) => {
            e.status = s;
            e.code = Some(c.to_owned());
        }
        None if status == 0 => e.status = 502,
        None => {}
    }
    e
}
