//! Credentials: the v1 `API_KEY|SECRET_KEY` pair exchanged for an OAuth access token, and the
//! v2 `bce-v3/…` bearer key.
//!
//! The token request is the one the official SDK makes (`resources/auth/oauth.py`):
//! `POST <base>/oauth/2.0/token?grant_type=client_credentials&client_id=…&client_secret=…` with
//! an empty body. The answer carries `access_token` and `expires_in` (30 days); a refused pair
//! answers `{"error":"invalid_client","error_description":…}`. Chat answers with error code 110
//! (token invalid) or 111 (token expired) mean the token must be fetched again, which the
//! gateway does once. Error messages never contain the key or the secret.

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use crate::adapter::{
    ConvertError, Method, Target, Token, Transport, UpstreamError, UpstreamRequest,
};

/// Characters left as they are in a query value (RFC 3986 unreserved).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The [`UpstreamError::code`] of error 110, access token invalid.
pub(super) const TOKEN_INVALID: &str = "invalid_access_token";
/// The [`UpstreamError::code`] of error 111, access token expired.
pub(super) const TOKEN_EXPIRED: &str = "expired_access_token";

/// A channel key's two parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pair<'a> {
    /// The application's API Key (OAuth `client_id`).
    pub(super) api_key: &'a str,
    /// The application's Secret Key (OAuth `client_secret`).
    pub(super) secret_key: &'a str,
}

fn bad_key(problem: &str) -> ConvertError {
    ConvertError::BadRequest {
        message: format!("the Qianfan channel key must be written `API_KEY|SECRET_KEY`: {problem}"),
        param: None,
    }
}

/// Splits and checks a v1 channel key.
pub(super) fn pair(key: &str) -> Result<Pair<'_>, ConvertError> {
    let parts: Vec<&str> = key.split('|').collect();
    if parts.len() != 2 {
        return Err(bad_key(&format!(
            "found {} part(s) separated by `|`",
            parts.len()
        )));
    }
    let ok = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok(parts[0]) {
        return Err(bad_key("the API key is empty or contains whitespace"));
    }
    if !ok(parts[1]) {
        return Err(bad_key("the secret key is empty or contains whitespace"));
    }
    Ok(Pair {
        api_key: parts[0],
        secret_key: parts[1],
    })
}

/// Percent-encodes a query value.
pub(super) fn enc(value: &str) -> String {
    utf8_percent_encode(value, QUERY).to_string()
}

/// The OAuth client-credentials request; `None` for a malformed key (the chat request then
/// reports the problem).
pub(super) fn token_request(target: &Target<'_>) -> Option<UpstreamRequest> {
    let p = pair(target.key).ok()?;
    let url = format!(
        "{}/oauth/2.0/token?grant_type=client_credentials&client_id={}&client_secret={}",
        target.base_url.trim_end_matches('/'),
        enc(p.api_key),
        enc(p.secret_key)
    );
    Some(UpstreamRequest {
        method: Method::Post,
        url,
        headers: vec![("accept".into(), "application/json".into())],
        body: Bytes::new(),
        transport: Transport::Http,
    })
}

/// Reads the token answer.
pub(super) fn token_response(status: u16, body: &[u8]) -> Result<Token, UpstreamError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        access_token: Option<String>,
        #[serde(default)]
        expires_in: Option<u64>,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        error_description: Option<String>,
    }
    let parsed: Option<Answer> = serde_json::from_slice(body).ok();
    match parsed {
        Some(Answer {
            access_token: Some(value),
            expires_in,
            error: None,
            ..
        }) if (200..300).contains(&status) && !value.is_empty() => Ok(Token {
            value,
            // 30 days is what the service grants; the SDK assumes the same when unsure.
            ttl_secs: expires_in.unwrap_or(2_592_000),
        }),
        Some(Answer {
            error: Some(error),
            error_description,
            ..
        }) => {
            // A refused client id or secret is a credential problem whatever the status.
            let auth = matches!(error.as_str(), "invalid_client" | "unauthorized_client");
            Err(UpstreamError {
                status: if auth {
                    401
                } else if status >= 400 {
                    status
                } else {
                    400
                },
                message: format!(
                    "Qianfan refused the token request: {error}: {}",
                    error_description.as_deref().unwrap_or("no description")
                ),
                kind: Some("authentication_error".to_owned()),
                code: Some(error),
            })
        }
        _ => Err(UpstreamError {
            status: if status >= 400 { status } else { 502 },
            message: format!(
                "unexpected answer to the Qianfan token request (HTTP {status}): {}",
                String::from_utf8_lossy(&body[..body.len().min(256)])
            ),
            kind: None,
            code: None,
        }),
    }
}

/// Whether the chat answer says the token must be fetched again (error 110 or 111).
pub(super) fn token_rejected(err: &UpstreamError) -> bool {
    matches!(err.code.as_deref(), Some(TOKEN_INVALID | TOKEN_EXPIRED))
}

/// Checks a v2 key: `bce-v3/ALTAK-…/…` (three non-empty `/`-separated parts, no whitespace).
pub(super) fn v2_key(key: &str) -> Result<(), ConvertError> {
    let parts: Vec<&str> = key.split('/').collect();
    let well_formed = parts.len() == 3
        && parts[0] == "bce-v3"
        && parts.iter().all(|p| !p.is_empty())
        && !key.chars().any(|c| c.is_whitespace() || c.is_control());
    if well_formed {
        Ok(())
    } else {
        Err(ConvertError::BadRequest {
            message: "the Qianfan v2 channel key must be an API key written \
                      `bce-v3/ALTAK-…/…`"
                .to_owned(),
            param: None,
        })
    }
}
