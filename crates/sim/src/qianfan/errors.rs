//! Qianfan error bodies, exactly as the service sends them.
//!
//! v1 (`wenxinworkshop`): HTTP 200, `Content-Type: application/json`, body
//! `{"error_code":N,"error_msg":"…"}` (model-side errors also carry the request `id`), even for
//! streaming requests. v2: the HTTP status of Baidu's v2 error table and
//! `{"error":{"code","message","type"},"id":"as-…"}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::reply::request_id;

/// Every v1 error code the simulator can send, with Baidu's message (error-code page,
/// length-limit page, the SDK's `APIErrorCode`).
pub const V1_CODES: &[(i64, &str)] = &[
    (1, "Unknown error"),
    (2, "Service temporarily unavailable"),
    (3, "Unsupported openapi method"),
    (4, "Open api request limit reached"),
    (6, "No permission to access data"),
    (13, "Get service token failed"),
    (14, "IAM Certification failed"),
    (15, "app not exists or create failed"),
    (17, "Open api daily request limit reached"),
    (18, "Open api qps request limit reached"),
    (19, "Open api total request limit reached"),
    (100, "Invalid parameter"),
    (110, "Access token invalid or no longer valid"),
    (111, "Access token expired"),
    (336000, "Internal error"),
    (336001, "Invalid Argument"),
    (336002, "Invalid JSON"),
    (336003, "Invalid parameter"),
    (336004, "Permission error"),
    (336005, "API name not exist"),
    (336006, "the length of messages must be an odd number"),
    (336007, "the max length of current question is 8000"),
    (336100, "try again later"),
    (336101, "invalid HTTP method"),
    (
        336102,
        "the number of data received this minute has exceeded the limit",
    ),
    (336103, "Prompt tokens too long"),
    (336104, "Invalid argument system"),
    (336105, "Invalid argument user_setting"),
    (336501, "Rate limit reached for RPM"),
    (336502, "Rate limit reached for TPM"),
];

/// Codes answered before a request reaches a model (no request `id` in the body).
const GATEWAY_CODES: &[i64] = &[3, 4, 6, 13, 14, 15, 17, 18, 19, 100, 110, 111];

/// Baidu's message for a v1 code.
pub fn v1_message(code: i64) -> Option<&'static str> {
    V1_CODES.iter().find(|(c, _)| *c == code).map(|(_, m)| *m)
}

/// A JSON response with a raw body.
pub(super) fn json_response(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The v1 error `code` with `message` (HTTP 200).
pub(super) fn v1(code: i64, message: &str) -> Response {
    v1_with_status(StatusCode::OK, code, message)
}

/// The v1 error `code` with Baidu's own message (HTTP 200).
pub(super) fn v1_code(code: i64) -> Response {
    v1(code, v1_message(code).unwrap_or("Unknown error"))
}

/// A v1 error body under another HTTP status (programmed `Fault::Status`).
pub(super) fn v1_with_status(status: StatusCode, code: i64, message: &str) -> Response {
    let body = if GATEWAY_CODES.contains(&code) {
        json!({"error_code": code, "error_msg": message})
    } else {
        json!({"error_code": code, "error_msg": message, "id": request_id()})
    };
    json_response(status, body.to_string())
}

/// The v1 code a bare HTTP status fault carries.
pub(super) fn v1_code_for_status(status: u16) -> i64 {
    match status {
        401 => 110,
        403 => 6,
        404 => 3,
        429 => 18,
        503 => 336100,
        400 => 336003,
        _ => 336000,
    }
}

/// Every v2 error the simulator can send: `(code, HTTP status, type, message)` from Baidu's v2
/// error table.
pub const V2_CODES: &[(&str, u16, &str, &str)] = &[
    (
        "malformed_json",
        400,
        "invalid_request_error",
        "Invalid Argument",
    ),
    (
        "invalid_messages",
        400,
        "invalid_request_error",
        "invalid messages",
    ),
    (
        "characters_too_long",
        400,
        "invalid_request_error",
        "the max input characters is 20000",
    ),
    (
        "tokens_too_long",
        400,
        "invalid_request_error",
        "Prompt tokens too long",
    ),
    (
        "invalid_argument",
        400,
        "invalid_request_error",
        "Invalid Argument",
    ),
    (
        "image_url_unsafe",
        400,
        "unsafe_request",
        "the content of image_url.url is unsafe",
    ),
    (
        "invalid_iam_token",
        401,
        "invalid_request_error",
        "IAM Certification failed",
    ),
    (
        "no_parameter_permission",
        401,
        "access_denied",
        "no parameter permission",
    ),
    (
        "invalid_model",
        401,
        "invalid_request_error",
        "No permission to use the model",
    ),
    (
        "account_overdue",
        403,
        "invalid_request_error",
        "Account is in arrears",
    ),
    (
        "rpm_rate_limit_exceeded",
        429,
        "rate_limit_exceeded",
        "Rate limit reached for RPM",
    ),
    (
        "tpm_rate_limit_exceeded",
        429,
        "rate_limit_exceeded",
        "Rate limit reached for TPM",
    ),
    ("internal_error", 500, "internal_error", "Internal error"),
    (
        "server_high_load",
        503,
        "server_error",
        "server high load, please try again later",
    ),
];

/// The v2 error `code` (its documented status, type and message).
pub(super) fn v2_code(code: &str) -> Option<Response> {
    let (c, status, kind, msg) = V2_CODES.iter().find(|(c, ..)| *c == code)?;
    Some(v2(*status, c, kind, msg))
}

/// A v2 error body.
pub(super) fn v2(status: u16, code: &str, kind: &str, message: &str) -> Response {
    let body = json!({
        "error": {"code": code, "message": message, "type": kind},
        "id": request_id(),
    });
    json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body.to_string(),
    )
}
