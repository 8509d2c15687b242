//! Credential and version headers, checked the way the Messages API checks them.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::AnthropicSimConfig;
use super::errors::error_response;

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Checks `x-api-key` (or `Authorization: Bearer`) and then `anthropic-version`.
pub fn check(cfg: &AnthropicSimConfig, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let presented = header_str(headers, "x-api-key")
        .filter(|k| !k.is_empty())
        .or_else(|| {
            header_str(headers, header::AUTHORIZATION.as_str())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|k| !k.is_empty())
        });
    match presented {
        None => {
            return Err(Box::new(error_response(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "x-api-key header is required",
            )));
        }
        Some(key) if key != cfg.api_key => {
            return Err(Box::new(error_response(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "invalid x-api-key",
            )));
        }
        Some(_) => {}
    }
    if header_str(headers, "anthropic-version").is_none_or(str::is_empty) {
        return Err(Box::new(error_response(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "anthropic-version: header is required",
        )));
    }
    Ok(())
}
