//! API-key checks the way Google's front end answers them.
//!
//! - `x-goog-api-key: <key>` or `?key=<key>` (the header wins when both are present);
//! - the right key passes;
//! - a wrong key: 400 `INVALID_ARGUMENT`, "API key not valid. Please pass a valid API key.",
//!   with an `ErrorInfo` of reason `API_KEY_INVALID` (Google does not answer 401 here);
//! - no key but `Authorization: Bearer …`: 401 `UNAUTHENTICATED` (the Gemini API wants an
//!   OAuth token there, not an API key);
//! - nothing at all: 403 `PERMISSION_DENIED`, "Method doesn't allow unregistered callers".

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::errors;

/// The key the client presented, if any.
pub fn presented<'a>(headers: &'a HeaderMap, query: &'a [(String, String)]) -> Option<&'a str> {
    headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            query
                .iter()
                .find(|(k, _)| k == "key")
                .map(|(_, v)| v.as_str())
        })
}

/// Checks the request's credentials against `expected`.
pub(crate) fn check(
    expected: &str,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Result<(), Box<Response>> {
    match presented(headers, query) {
        Some(k) if k == expected => Ok(()),
        Some(_) => Err(Box::new(errors::api_key_invalid())),
        None if headers.contains_key("authorization") => {
            let (http, grpc, message, details) = errors::injected("UNAUTHENTICATED").unwrap_or((
                401,
                "UNAUTHENTICATED",
                "",
                Vec::new(),
            ));
            let status = StatusCode::from_u16(http).unwrap_or(StatusCode::UNAUTHORIZED);
            Err(Box::new(errors::google_with(
                status, grpc, message, details,
            )))
        }
        None => Err(Box::new(errors::google(
            StatusCode::FORBIDDEN,
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
            vec![json!({
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "CREDENTIALS_MISSING",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            })],
        ))),
    }
}
