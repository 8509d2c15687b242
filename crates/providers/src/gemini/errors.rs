//! Gemini error bodies, `{"error":{"code","message","status","details"}}` (sometimes wrapped in
//! a one-element array), mapped to the status an OpenAI client should see.
//!
//! | Gemini `status` | HTTP | OpenAI status | code |
//! |---|---|---|---|
//! | `INVALID_ARGUMENT` with reason `API_KEY_INVALID` ("API key not valid") | 400 | 401 | `invalid_api_key` |
//! | `UNAUTHENTICATED` | 401 | 401 | `invalid_api_key` |
//! | `INVALID_ARGUMENT` (token limit exceeded) | 400 | 400 | `context_length_exceeded` |
//! | `INVALID_ARGUMENT`, `OUT_OF_RANGE` | 400 | 400 | `invalid_argument` |
//! | `FAILED_PRECONDITION` (region not supported, billing needed) | 400 | 403 | `unsupported_country_region_territory` / `billing_required` |
//! | `PERMISSION_DENIED` | 403 | 403 | `permission_denied` |
//! | `NOT_FOUND` | 404 | 404 | `model_not_found` |
//! | `ABORTED`, `ALREADY_EXISTS` | 409 | 409 | `conflict` |
//! | `RESOURCE_EXHAUSTED` | 429 | 429 | `rate_limit_exceeded` |
//! | `UNIMPLEMENTED` | 501 | 400 | `unsupported` |
//! | `INTERNAL`, `UNKNOWN`, `DATA_LOSS`, `CANCELLED` | 500 | 502 | `upstream_error` |
//! | `UNAVAILABLE` | 503 | 503 | `upstream_unavailable` |
//! | `DEADLINE_EXCEEDED` | 504 | 504 | `upstream_timeout` |
//!
//! `FAILED_PRECONDITION` becomes 403 because it is the channel's account, not the client's
//! request, that is at fault (and 403 lets the gateway try another channel).

use serde_json::Value;

use crate::adapter::UpstreamError;

fn inner(v: &Value) -> Option<&Value> {
    match v {
        Value::Array(list) => list.first().and_then(|e| e.get("error")),
        other => other.get("error"),
    }
}

/// Seconds to wait from a `google.rpc.RetryInfo` detail (`"retryDelay": "7s"`, fractions
/// rounded up), for the client's `Retry-After`.
pub(crate) fn retry_delay(body: &[u8]) -> Option<u64> {
    let v: Value = serde_json::from_slice(body).ok()?;
    inner(&v)?
        .get("details")?
        .as_array()?
        .iter()
        .filter_map(|d| d.get("retryDelay")?.as_str()?.strip_suffix('s'))
        .find_map(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| (s.ceil() as u64).max(1))
}

/// The `reason` of the first `google.rpc.ErrorInfo` detail.
fn reason(err: &Value) -> Option<&str> {
    err.get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|d| d.get("reason").and_then(Value::as_str))
}

/// `(OpenAI status, code)` for a Gemini status string.
pub(crate) fn classify(status: &str, reason: Option<&str>, message: &str) -> (u16, &'static str) {
    let lower = message.to_ascii_lowercase();
    if reason == Some("API_KEY_INVALID")
        || lower.contains("api key not valid")
        || lower.contains("api key not found")
        || lower.contains("api key expired")
    {
        return (401, "invalid_api_key");
    }
    match status {
        "UNAUTHENTICATED" => (401, "invalid_api_key"),
        "INVALID_ARGUMENT" | "OUT_OF_RANGE" => {
            if lower.contains("token count") && lower.contains("exceeds") {
                (400, "context_length_exceeded")
            } else {
                (400, "invalid_argument")
            }
        }
        "FAILED_PRECONDITION" => {
            if lower.contains("location") || lower.contains("country") || lower.contains("region") {
                (403, "unsupported_country_region_territory")
            } else {
                (403, "billing_required")
            }
        }
        "PERMISSION_DENIED" => (403, "permission_denied"),
        "NOT_FOUND" => (404, "model_not_found"),
        "ABORTED" | "ALREADY_EXISTS" => (409, "conflict"),
        "RESOURCE_EXHAUSTED" => (429, "rate_limit_exceeded"),
        "UNIMPLEMENTED" => (400, "unsupported"),
        "UNAVAILABLE" => (503, "upstream_unavailable"),
        "DEADLINE_EXCEEDED" => (504, "upstream_timeout"),
        _ => (502, "upstream_error"),
    }
}

/// The gRPC status string that goes with an HTTP status, when the body gave none.
fn status_for(http: u16) -> &'static str {
    match http {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// Reads an error answer of HTTP status `http`.
pub(crate) fn map(http: u16, body: &[u8]) -> UpstreamError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let Some(err) = parsed.as_ref().and_then(inner) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let message = if text.is_empty() {
            format!("Gemini answered HTTP {http}")
        } else {
            text.chars().take(512).collect()
        };
        let (status, code) = classify(status_for(http), None, &message);
        return UpstreamError {
            status: if http < 400 { 502 } else { status },
            message,
            kind: None,
            code: Some(code.into()),
        };
    };
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| format!("Gemini answered HTTP {http}"), str::to_owned);
    let grpc = err
        .get("status")
        .and_then(Value::as_str)
        .map_or_else(|| status_for(http).to_owned(), str::to_owned);
    let (status, code) = classify(&grpc, reason(err), &message);
    UpstreamError {
        status,
        message,
        kind: Some(grpc),
        code: Some(code.into()),
    }
}

#[cfg(test)]
mod retry_tests {
    use super::retry_delay;

    #[test]
    fn retry_info_becomes_whole_seconds() {
        let body = |d: &str| {
            format!(
                r#"{{"error":{{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{{"@type":"type.googleapis.com/google.rpc.QuotaFailure"}},{{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"{d}"}}]}}}}"#
            )
        };
        assert_eq!(retry_delay(body("7s").as_bytes()), Some(7));
        assert_eq!(retry_delay(body("30.25s").as_bytes()), Some(31));
        assert_eq!(retry_delay(body("0s").as_bytes()), Some(1));
        assert_eq!(retry_delay(body("soon").as_bytes()), None);
        assert_eq!(retry_delay(br#"{"error":{"code":429}}"#), None);
        assert_eq!(retry_delay(b"not json"), None);
    }
}
