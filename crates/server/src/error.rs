//! The boundary error type: owns the HTTP status, the OpenAI error JSON and `Retry-After`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use switchyard_types::ErrorBody;

/// An error answered to the client as `{"error":{message,type,param,code}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human-readable message (never contains a credential).
    pub message: String,
    /// OpenAI error `type`.
    pub kind: &'static str,
    /// OpenAI error `param`.
    pub param: Option<String>,
    /// OpenAI error `code`.
    pub code: Option<String>,
    /// Seconds for the `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// Any status with the given type and code.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            param: None,
            code: code.map(str::to_owned),
            retry_after: None,
        }
    }

    /// 400 for a bad parameter.
    pub fn bad_request(message: impl Into<String>, param: Option<&str>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            message,
        );
        e.param = param.map(str::to_owned);
        e
    }

    /// 401 for a missing or unknown key.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            Some("invalid_api_key"),
            message,
        )
    }

    /// 403 with a code.
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        let kind = if code == "insufficient_quota" {
            "insufficient_quota"
        } else {
            "permission_error"
        };
        Self::new(StatusCode::FORBIDDEN, kind, Some(code), message)
    }

    /// 404 for a model no channel serves.
    pub fn model_not_found(model: &str) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("model_not_found"),
            format!("The model `{model}` does not exist or you do not have access to it."),
        );
        e.param = Some("model".into());
        e
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after: u64, message: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "requests",
            Some("rate_limit_exceeded"),
            message,
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }

    /// 500 for a gateway fault.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            None,
            message,
        )
    }

    /// 503 while shutting down or without a database.
    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            Some("service_unavailable"),
            message,
        );
        e.retry_after = Some(1);
        e
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(
            self.message.clone(),
            self.kind,
            self.param.as_deref(),
            self.code.as_deref(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, self.body().to_json()).into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

impl From<switchyard_store::StoreError> for ApiError {
    fn from(e: switchyard_store::StoreError) -> Self {
        tracing::error!(error = %e, "database error");
        Self::unavailable("the gateway's database is unavailable")
    }
}
