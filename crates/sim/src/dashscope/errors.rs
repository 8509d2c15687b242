//! DashScope error bodies (`{"code","message","request_id"}`), the status each code comes with,
//! and the `sim_dashscope_error:` prompt directive.
//!
//! # `sim_dashscope_error:` grammar
//!
//! ```text
//! spec := CODE (";" item)*          CODE: DashScope's code, such as Throttling.RateQuota
//! item := "after=" N                stream: N result chunks before the `event:error` frame
//!       | "http=" STATUS            the HTTP status of the answer (200 = error inside a 200)
//! ```
//!
//! Without `http`, a non-stream request gets the code's usual status, and a stream gets HTTP
//! 200 with `after` result chunks (default 0) and then an `event:error` frame whose comment line
//! carries the code's status (`:HTTP_STATUS/429`). With `http`, streams and non-streams alike get
//! a plain JSON error with that status.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::openai::raw_json_response;

/// The marker that introduces the directive inside a prompt.
pub const ERROR_MARKER: &str = "sim_dashscope_error:";

/// A parsed `sim_dashscope_error:` directive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ErrorDirective {
    pub(super) code: String,
    pub(super) after: usize,
    pub(super) http: Option<u16>,
}

impl ErrorDirective {
    /// Finds and parses the directive in `text`; `Some(Err)` for a malformed one.
    pub(super) fn from_prompt(text: &str) -> Option<Result<Self, String>> {
        let start = text.find(ERROR_MARKER)? + ERROR_MARKER.len();
        let rest = &text[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '=' | ';' | '.')))
            .unwrap_or(rest.len());
        let spec = rest[..end].trim_end_matches('.');
        let mut items = spec.split(';');
        let code = items.next().unwrap_or("").to_owned();
        if code.is_empty() || code.contains('=') {
            return Some(Err(format!(
                "{ERROR_MARKER} needs a code first in `{spec}`"
            )));
        }
        let mut out = Self {
            code,
            after: 0,
            http: None,
        };
        for item in items.filter(|i| !i.is_empty()) {
            let parsed = match item.split_once('=') {
                Some(("after", n)) => n.parse().map(|n| out.after = n).is_ok(),
                Some(("http", s)) => s
                    .parse::<u16>()
                    .ok()
                    .filter(|s| (200..=599).contains(s))
                    .map(|s| out.http = Some(s))
                    .is_some(),
                _ => false,
            };
            if !parsed {
                return Some(Err(format!("{ERROR_MARKER} bad item `{item}` in `{spec}`")));
            }
        }
        Some(Ok(out))
    }
}

/// The HTTP status DashScope answers `code` with.
pub(super) fn status_of(code: &str) -> u16 {
    match code {
        "InvalidApiKey" => 401,
        // The official status-code page lists arrears as 400.
        "Arrearage" | "InvalidParameter" | "DataInspectionFailed" => 400,
        "Model.NotExist" => 404,
        "ServiceUnavailable" => 503,
        "RequestTimeOut" => 504,
        c if c.starts_with("Throttling") => 429,
        c if c.starts_with("AccessDenied") => 403,
        c if c.starts_with("InternalError") => 500,
        _ => 400,
    }
}

/// DashScope's message for `code` (best known wording; generic otherwise).
pub(super) fn message_of(code: &str) -> &'static str {
    match code {
        "InvalidApiKey" => "Invalid API-key provided.",
        "Throttling" => "Requests throttling triggered.",
        "Throttling.RateQuota" => "Requests rate limit exceeded, please try again later.",
        "Throttling.AllocationQuota" => {
            "Allocated quota exceeded, please increase your quota limit."
        }
        "Arrearage" => "Access denied, please make sure your account is in good standing.",
        "DataInspectionFailed" => "Input or output data may contain inappropriate content.",
        "AccessDenied" => "Access denied.",
        "AccessDenied.Unpurchased" => {
            "Access to model denied. Please make sure you are eligible for using the model."
        }
        "Model.NotExist" => "Model not exist.",
        "InvalidParameter" => {
            "Required parameter(s) missing or invalid, please check the request parameters."
        }
        "ServiceUnavailable" => "The service is temporarily unavailable, please try again later.",
        "RequestTimeOut" => "Request timed out, please try again later.",
        _ => "An internal error has occured, please try again later or contact service support.",
    }
}

/// An error body.
pub(super) fn body(code: &str, message: &str, request_id: &str) -> String {
    json!({"code": code, "message": message, "request_id": request_id}).to_string()
}

/// A JSON error answer with `status`.
pub(super) fn response(status: u16, code: &str, message: &str, request_id: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    raw_json_response(status, body(code, message, request_id))
}

/// A 400 `InvalidParameter` with `message`.
pub(super) fn invalid(message: &str, request_id: &str) -> Response {
    response(400, "InvalidParameter", message, request_id)
}

/// The answer to a programmed `Fault::Status` without a body: the code usual for `status`.
pub(super) fn for_status(status: u16, request_id: &str) -> Response {
    let code = match status {
        400 => "InvalidParameter",
        401 => "InvalidApiKey",
        403 => "AccessDenied",
        404 => "Model.NotExist",
        429 => "Throttling.RateQuota",
        503 => "ServiceUnavailable",
        504 => "RequestTimeOut",
        _ => "InternalError",
    };
    let message = if status == 400 {
        "Request failed (simulated)."
    } else {
        message_of(code)
    };
    response(status, code, message, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_directives() {
        let d = |t: &str| ErrorDirective::from_prompt(t);
        assert_eq!(
            d("hi sim_dashscope_error:Throttling.RateQuota;after=2. bye"),
            Some(Ok(ErrorDirective {
                code: "Throttling.RateQuota".into(),
                after: 2,
                http: None
            }))
        );
        assert_eq!(
            d("sim_dashscope_error:DataInspectionFailed;http=200"),
            Some(Ok(ErrorDirective {
                code: "DataInspectionFailed".into(),
                after: 0,
                http: Some(200)
            }))
        );
        assert_eq!(d("nothing here"), None);
        for bad in [
            "sim_dashscope_error:",
            "sim_dashscope_error:after=1",
            "sim_dashscope_error:X;after=z",
            "sim_dashscope_error:X;http=99",
            "sim_dashscope_error:X;boom=1",
        ] {
            assert!(matches!(d(bad), Some(Err(_))), "{bad}");
        }
    }

    #[test]
    fn statuses_follow_the_status_code_page() {
        assert_eq!(status_of("InvalidApiKey"), 401);
        assert_eq!(status_of("Throttling.AllocationQuota"), 429);
        assert_eq!(status_of("Arrearage"), 400);
        assert_eq!(status_of("AccessDenied.Unpurchased"), 403);
        assert_eq!(status_of("InternalError.Algo"), 500);
    }
}
