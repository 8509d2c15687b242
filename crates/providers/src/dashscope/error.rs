//! DashScope errors: `{"code","message","request_id"}`, read the same way whether they come as
//! an HTTP error, inside a 200 answer, or as an `event:error` frame of a stream.
//!
//! The status is decided by `code`, not by the HTTP status (DashScope answers an unknown model
//! with 400 `InvalidParameter`, arrears with 400, and in-stream errors with 200). Codes that mean
//! "this channel cannot serve" (bad key, arrears, no access) become 401/403 so the gateway fails
//! over; throttling becomes 429; moderation becomes a 400 with the OpenAI code `content_filter`.

use serde::Deserialize;

use crate::adapter::UpstreamError;

/// A native error body (also the shape of an in-stream error frame).
#[derive(Debug, Default, Deserialize)]
pub(super) struct NativeError {
    /// DashScope's error code, such as `InvalidApiKey`.
    #[serde(default)]
    pub(super) code: Option<String>,
    /// Its message.
    #[serde(default)]
    pub(super) message: Option<String>,
}

impl NativeError {
    /// The code, when the body carries a non-empty one (success bodies have none).
    pub(super) fn code(&self) -> Option<&str> {
        self.code.as_deref().filter(|c| !c.is_empty())
    }

    /// The error in provider-neutral terms; `http` is the status it came with (200 in-band).
    pub(super) fn to_upstream(&self, http: u16) -> UpstreamError {
        let code = self.code().unwrap_or("");
        let message = self
            .message
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| format!("DashScope error {code}"));
        let (status, openai_code) = classify(code, &message, http);
        let known = |c: &str| (!c.is_empty()).then(|| c.to_owned());
        UpstreamError {
            status,
            message,
            kind: known(code),
            code: known(openai_code.unwrap_or(code)),
        }
    }
}

/// Status and OpenAI error code for a DashScope code (`None`: keep DashScope's code).
fn classify(code: &str, message: &str, http: u16) -> (u16, Option<&'static str>) {
    let family = |name: &str| code == name || code.starts_with(&format!("{name}."));
    match code {
        "InvalidApiKey" => (401, Some("invalid_api_key")),
        // The account is overdue: this channel cannot serve, another one may.
        "Arrearage" => (403, Some("insufficient_quota")),
        _ if family("AccessDenied") => (403, None),
        _ if code.starts_with("Throttling") => (429, Some("rate_limit_exceeded")),
        _ if family("DataInspectionFailed") => (400, Some("content_filter")),
        "Model.NotExist" | "ModelNotFound" => (404, Some("model_not_found")),
        "InvalidParameter" if message.to_ascii_lowercase().contains("model not exist") => {
            (404, Some("model_not_found"))
        }
        _ if family("InvalidParameter") => (400, Some("invalid_parameter")),
        "InternalError" => (500, None),
        "ServiceUnavailable" => (503, None),
        "RequestTimeOut" | "GatewayTimeout" => (504, None),
        // Anything else keeps its HTTP status; an unknown error inside a 200 is the upstream's.
        _ if http >= 400 => (http, None),
        _ => (500, None),
    }
}

/// Reads an error answer (non-2xx); a body that is not DashScope's shape is read as OpenAI's
/// (the compatible mode) or kept as text.
pub(super) fn from_body(status: u16, body: &[u8]) -> UpstreamError {
    match serde_json::from_slice::<NativeError>(body) {
        Ok(e) if e.code().is_some() => e.to_upstream(status),
        _ => crate::openai::error_body(status, body),
    }
}
