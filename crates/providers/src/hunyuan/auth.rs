//! Tencent Cloud API 3.0 credentials and the TC3-HMAC-SHA256 signature.
//!
//! The channel key is `SECRET_ID|SECRET_KEY` (one-api's `APP_ID|SECRET_ID|SECRET_KEY` is accepted
//! too; the numeric AppId is not used by API 3.0). The signature covers the `content-type` and
//! `host` headers, exactly like the official SDKs; `host` is the authority the HTTP client will
//! actually send (the base URL's host, plus its port unless it is the scheme's default), so the
//! same code signs for `hunyuan.tencentcloudapi.com` and for a simulator on `127.0.0.1:PORT`.
//! Every intermediate value is kept in [`Tc3`] so tests can compare each one byte for byte.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::adapter::ConvertError;

/// The Cloud API service name that goes into the credential scope.
pub(super) const SERVICE: &str = "hunyuan";
/// The signing algorithm's name.
pub(super) const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The content type every request is sent (and signed) with.
pub(super) const CONTENT_TYPE: &str = "application/json";
/// The headers covered by the signature, in canonical order.
pub(super) const SIGNED_HEADERS: &str = "content-type;host";

/// A SecretId/SecretKey pair taken from the channel key.
#[derive(Clone, Copy)]
pub(super) struct Credentials<'a> {
    pub(super) secret_id: &'a str,
    pub(super) secret_key: &'a str,
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"***")
            .finish()
    }
}

fn bad_key(message: &str) -> ConvertError {
    ConvertError::BadRequest {
        message: format!(
            "the Tencent Hunyuan channel key is malformed: {message} (expected SECRET_ID|SECRET_KEY)"
        ),
        param: None,
    }
}

/// Splits the channel key. The error never repeats the key.
pub(super) fn credentials(key: &str) -> Result<Credentials<'_>, ConvertError> {
    let parts: Vec<&str> = key.trim().split('|').map(str::trim).collect();
    let (secret_id, secret_key) = match parts.as_slice() {
        [id, secret] => (*id, *secret),
        // one-api's format: APP_ID|SECRET_ID|SECRET_KEY.
        [app_id, id, secret]
            if !app_id.is_empty() && app_id.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (*id, *secret)
        }
        _ => {
            return Err(bad_key(&format!(
                "it has {} `|`-separated parts",
                parts.len()
            )));
        }
    };
    if secret_id.is_empty() {
        return Err(bad_key("the SecretId is empty"));
    }
    if secret_key.is_empty() {
        return Err(bad_key("the SecretKey is empty"));
    }
    if secret_id
        .chars()
        .chain(secret_key.chars())
        .any(char::is_whitespace)
    {
        return Err(bad_key("it contains whitespace"));
    }
    Ok(Credentials {
        secret_id,
        secret_key,
    })
}

/// The request URL (API 3.0 always posts to `/`) and the `host` value to sign.
pub(super) fn endpoint(base_url: &str) -> Result<(String, String), ConvertError> {
    let bad = || ConvertError::BadRequest {
        message: format!("the channel's base_url `{base_url}` is not an absolute http(s) URL"),
        param: None,
    };
    let base = base_url.trim().trim_end_matches('/');
    let uri: http::Uri = base.parse().map_err(|_| bad())?;
    let scheme = uri.scheme_str().ok_or_else(bad)?;
    let default_port = match scheme {
        "https" => 443,
        "http" => 80,
        _ => return Err(bad()),
    };
    let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(bad)?;
    let host = match uri.port_u16() {
        Some(p) if p != default_port => format!("{host}:{p}"),
        _ => host.to_owned(),
    };
    Ok((format!("{base}/"), host.to_ascii_lowercase()))
}

/// Every step of one TC3-HMAC-SHA256 signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Tc3 {
    /// Lower-case hex SHA-256 of the body bytes.
    pub(super) payload_hash: String,
    /// `POST\n/\n\n<canonical headers>\n<signed headers>\n<payload hash>`.
    pub(super) canonical_request: String,
    /// `YYYY-MM-DD` (UTC) of the timestamp.
    pub(super) date: String,
    /// `TC3-HMAC-SHA256\n<timestamp>\n<scope>\n<hash of the canonical request>`.
    pub(super) string_to_sign: String,
    /// Lower-case hex HMAC of the string to sign.
    pub(super) signature: String,
    /// The `Authorization` header value.
    pub(super) authorization: String,
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The UTC calendar date of a Unix timestamp, `YYYY-MM-DD`.
pub(super) fn utc_date(unix: u64) -> String {
    let secs = i64::try_from(unix).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "1970-01-01".to_owned())
}

/// Signs a `POST /` with `body` for `host` at `timestamp`.
pub(super) fn sign(creds: Credentials<'_>, host: &str, timestamp: u64, body: &[u8]) -> Tc3 {
    let payload_hash = sha256_hex(body);
    let canonical_request = format!(
        "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{host}\n\n{SIGNED_HEADERS}\n{payload_hash}"
    );
    let date = utc_date(timestamp);
    let scope = format!("{date}/{SERVICE}/tc3_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{timestamp}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac(
        format!("TC3{}", creds.secret_key).as_bytes(),
        date.as_bytes(),
    );
    let k_service = hmac(&k_date, SERVICE.as_bytes());
    let k_signing = hmac(&k_service, b"tc3_request");
    let signature = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}",
        creds.secret_id
    );
    Tc3 {
        payload_hash,
        canonical_request,
        date,
        string_to_sign,
        signature,
        authorization,
    }
}
