//! The channel key, the request headers and the Messages URL.
//!
//! Anthropic authenticates with one secret sent as `x-api-key`, plus the API version header.
//! The key is checked for shape only (one part, printable ASCII, no spaces), because a key that
//! cannot travel in a header would otherwise fail deep inside the HTTP client; the error never
//! repeats the key.

use crate::adapter::{ConvertError, Header};

/// The API version Switchyard speaks (the one every SDK defaulted to until 2026).
pub(crate) const API_VERSION: &str = "2023-06-01";

/// Checks the channel key's shape.
pub(crate) fn check_key(key: &str) -> Result<&str, ConvertError> {
    let bad = |why: &str| ConvertError::BadRequest {
        message: format!(
            "the Anthropic channel key is malformed ({why}); expected one API key such as sk-ant-…"
        ),
        param: None,
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(bad("it is empty"));
    }
    if key.contains('|') {
        return Err(bad("it has several `|`-separated parts"));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("it contains spaces or non-ASCII characters"));
    }
    Ok(key)
}

/// The headers of a Messages request (the content type is added by the caller).
pub(crate) fn headers(key: &str) -> Vec<Header> {
    vec![
        ("x-api-key".into(), key.to_owned().into()),
        ("anthropic-version".into(), API_VERSION.into()),
    ]
}

/// `{base}/v1/messages`, accepting a base URL given with or without the `/v1` suffix.
pub(crate) fn messages_url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    format!("{base}/v1/messages")
}
