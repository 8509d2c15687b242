//! Flavour-shaped error bodies.
//!
//! - OpenAI: `{"error":{"message","type","param","code"}}` (all four keys, `param`/`code` may be
//!   null).
//! - Moonshot: `{"error":{"message","type"}}` (no `param`/`code`), Moonshot type strings.
//! - StepFun: `{"error":{"message","type"}}` (shape UNVERIFIED upstream; OpenAI type strings).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Flavor;

/// The fields of one error before flavour shaping.
#[derive(Clone, Debug)]
pub(super) struct ErrorSpec {
    message: String,
    kind: String,
    param: Option<String>,
    code: Option<String>,
}

impl ErrorSpec {
    pub(super) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: "invalid_request_error".to_owned(),
            param: None,
            code: None,
        }
    }

    pub(super) fn kind(mut self, kind: &str) -> Self {
        kind.clone_into(&mut self.kind);
        self
    }

    pub(super) fn param(mut self, param: &str) -> Self {
        self.param = Some(param.to_owned());
        self
    }

    pub(super) fn code(mut self, code: &str) -> Self {
        self.code = Some(code.to_owned());
        self
    }

    fn body(&self, flavor: Flavor) -> Value {
        match flavor {
            Flavor::OpenAi => json!({"error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }}),
            Flavor::Moonshot | Flavor::StepFun => json!({"error": {
                "message": self.message,
                "type": self.kind,
            }}),
        }
    }
}

/// A JSON error response with the flavour's body.
pub(super) fn error_response(flavor: Flavor, status: StatusCode, spec: ErrorSpec) -> Response {
    raw_json_response(status, spec.body(flavor).to_string())
}

/// A response with a raw JSON body.
pub(crate) fn raw_json_response(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// `sk-ab***yz`: never the whole key.
pub(super) fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 8 {
        return "***".to_owned();
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}***{tail}")
}

/// The 401 for a missing or wrong key.
pub(super) fn auth_error(flavor: Flavor, presented: Option<&str>) -> Response {
    let spec = match (flavor, presented) {
        (Flavor::OpenAi, None) | (Flavor::OpenAi, Some("")) => ErrorSpec::new(
            "You didn't provide an API key. You need to provide your API key in an Authorization \
             header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password \
             field (with blank username) if you're accessing the API from your browser and are \
             prompted for a username and password. You can obtain an API key from \
             https://platform.openai.com/account/api-keys.",
        ),
        (Flavor::OpenAi, Some(key)) => ErrorSpec::new(format!(
            "Incorrect API key provided: {}. You can find your API key at \
             https://platform.openai.com/account/api-keys.",
            mask_key(key)
        ))
        .code("invalid_api_key"),
        (Flavor::Moonshot, _) => {
            ErrorSpec::new("Invalid Authentication").kind("invalid_authentication_error")
        }
        (Flavor::StepFun, _) => {
            ErrorSpec::new("Incorrect API key provided").kind("invalid_api_key")
        }
    };
    error_response(flavor, StatusCode::UNAUTHORIZED, spec)
}

/// The 404 for a model not in the configured list.
pub(super) fn model_not_found(flavor: Flavor, model: &str) -> Response {
    let spec = match flavor {
        Flavor::Moonshot => {
            ErrorSpec::new(format!("Not found the model {model} or Permission denied"))
                .kind("resource_not_found_error")
        }
        Flavor::OpenAi | Flavor::StepFun => ErrorSpec::new(format!(
            "The model `{model}` does not exist or you do not have access to it."
        ))
        .code("model_not_found"),
    };
    error_response(flavor, StatusCode::NOT_FOUND, spec)
}

/// A 400 `invalid_request_error` naming the offending parameter.
pub(super) fn invalid_param(flavor: Flavor, param: &str, code: &str, message: String) -> Response {
    error_response(
        flavor,
        StatusCode::BAD_REQUEST,
        ErrorSpec::new(message).param(param).code(code),
    )
}

/// The default error body of `status` for a `Fault::Status` without an explicit body.
pub(super) fn status_error(flavor: Flavor, status: StatusCode) -> Response {
    let code = status.as_u16();
    let spec = match (flavor, code) {
        (Flavor::Moonshot, _) => {
            let (kind, msg) = match code {
                400 => ("invalid_request_error", "Invalid request (simulated)"),
                401 => ("invalid_authentication_error", "Invalid Authentication"),
                403 => (
                    "exceeded_current_quota_error",
                    "Your account is suspended, please check your plan and billing details",
                ),
                404 => ("resource_not_found_error", "Not found (simulated)"),
                429 => (
                    "rate_limit_reached_error",
                    "Your account request reached max request, please try again later",
                ),
                503 => (
                    "engine_overloaded_error",
                    "The engine is currently overloaded, please try again later",
                ),
                c if c >= 500 => ("server_error", "Internal server error (simulated)"),
                _ => ("invalid_request_error", "Request failed (simulated)"),
            };
            ErrorSpec::new(msg).kind(kind)
        }
        (_, 400) => ErrorSpec::new("Bad request (simulated)."),
        (_, 401) => {
            ErrorSpec::new("Incorrect API key provided (simulated).").code("invalid_api_key")
        }
        (_, 403) => ErrorSpec::new("Country, region, or territory not supported")
            .code("unsupported_country_region_territory"),
        (_, 404) => ErrorSpec::new("Not found (simulated).").code("model_not_found"),
        (_, 429) => {
            ErrorSpec::new("Rate limit reached for requests (simulated). Please try again in 1s.")
                .kind("requests")
                .code("rate_limit_exceeded")
        }
        (_, 503) => ErrorSpec::new("The engine is currently overloaded, please try again later.")
            .kind("server_error"),
        (_, c) if c >= 500 => ErrorSpec::new(
            "The server had an error while processing your request. Sorry about that!",
        )
        .kind("server_error"),
        (_, _) => ErrorSpec::new(format!("Request failed with status {code} (simulated).")),
    };
    error_response(flavor, status, spec)
}
