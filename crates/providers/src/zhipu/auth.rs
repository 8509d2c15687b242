//! The Zhipu credential: an `id.secret` API key turned into the HS256 JWT the service expects.
//!
//! The token is built exactly as the official SDK builds it: header
//! `{"alg":"HS256","sign_type":"SIGN","typ":"JWT"}`, payload
//! `{"api_key":<id>,"exp":<ms>,"timestamp":<ms>}` (milliseconds, not seconds), compact JSON,
//! base64url without padding, signed with the secret's UTF-8 bytes. A fresh token is signed for
//! every request from the injected clock, so a token is never sent expired and nothing is cached.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::adapter::ConvertError;

/// Lifetime of a signed token, as the official SDK uses it (210 s).
pub(super) const TOKEN_TTL_MS: u64 = 210_000;

/// The JWT header, keys sorted the way PyJWT writes them.
const HEADER_JSON: &str = r#"{"alg":"HS256","sign_type":"SIGN","typ":"JWT"}"#;

/// An API key split into its public id and its secret.
#[derive(Clone, Copy)]
pub(super) struct ApiKey<'a> {
    pub(super) id: &'a str,
    pub(super) secret: &'a str,
}

impl std::fmt::Debug for ApiKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("secret", &"***")
            .finish()
    }
}

/// Checks the channel key's `id.secret` shape; the error never contains the secret.
pub(super) fn parse_key(key: &str) -> Result<ApiKey<'_>, ConvertError> {
    let bad = |why: &str| ConvertError::BadRequest {
        message: format!(
            "the Zhipu channel key is malformed: {why} (expected `<id>.<secret>` as issued by open.bigmodel.cn)"
        ),
        param: None,
    };
    let key = key.trim();
    if key.contains('|') {
        return Err(bad("it has several `|`-separated parts, Zhipu takes one"));
    }
    let Some((id, secret)) = key.split_once('.') else {
        return Err(bad("no `.` between id and secret"));
    };
    if id.is_empty() || secret.is_empty() {
        return Err(bad("the id or the secret is empty"));
    }
    if secret.contains('.') {
        return Err(bad("more than one `.`"));
    }
    let clean = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
    };
    if !clean(id) || !clean(secret) {
        return Err(bad("it contains spaces, quotes or non-ASCII characters"));
    }
    Ok(ApiKey { id, secret })
}

/// Signs the token for `key` issued at `now_ms` (Unix milliseconds), valid for `ttl_ms`.
pub(super) fn sign_token(key: ApiKey<'_>, now_ms: u64, ttl_ms: u64) -> String {
    // `id` was checked to hold no quote or backslash, so it needs no JSON escaping.
    let payload = format!(
        r#"{{"api_key":"{}","exp":{},"timestamp":{}}}"#,
        key.id,
        now_ms.saturating_add(ttl_ms),
        now_ms
    );
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER_JSON),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// The token for a request made at `now_unix` (seconds).
pub(super) fn token_for(key: &str, now_unix: u64) -> Result<String, ConvertError> {
    let key = parse_key(key)?;
    Ok(sign_token(key, now_unix.saturating_mul(1000), TOKEN_TTL_MS))
}
