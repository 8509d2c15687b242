//! Server-side TC3-HMAC-SHA256 verification, recomputed from the request exactly as received.
//!
//! Order of checks (each failure is a Tencent `Response.Error` code): the `Authorization` header
//! must parse (`AuthFailure.InvalidAuthorization`); `X-TC-Timestamp` must be within the allowed
//! skew of the simulator's clock (`AuthFailure.SignatureExpire`); the SecretId must be known
//! (`AuthFailure.SecretIdNotFound`); the credential scope must be `<UTC date of the timestamp>/
//! hunyuan/tc3_request`, the signed headers must include `content-type` and `host`, and the
//! signature over the canonical request (signed headers taken from the actual request, names and
//! values lower-cased and trimmed; SHA-256 of the exact body bytes) must match
//! (`AuthFailure.SignatureFailure`).

use axum::http::{HeaderMap, Uri};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::HunyuanSimConfig;

/// A refused request: Tencent error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) code: &'static str,
    pub(super) message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

const SIGNATURE_FAILURE: &str =
    "The provided credentials could not be validated. Please check your signature is correct.";

/// The parts of a TC3 `Authorization` header.
struct Authorization<'a> {
    secret_id: &'a str,
    date: &'a str,
    service: &'a str,
    terminator: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix("TC3-HMAC-SHA256 ")?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim) {
        let (k, v) = part.split_once('=')?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => return None,
        }
    }
    let mut scope = credential?.split('/');
    let auth = Authorization {
        secret_id: scope.next()?,
        date: scope.next()?,
        service: scope.next()?,
        terminator: scope.next()?,
        signed_headers: signed?,
        signature: signature?,
    };
    if scope.next().is_some() || auth.secret_id.is_empty() {
        return None;
    }
    Some(auth)
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `YYYY-MM-DD` (UTC) of a Unix timestamp.
pub(super) fn utc_date(unix: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(unix).unwrap_or(i64::MAX), 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The hex signature a client holding `secret_key` must have sent.
pub(super) fn expected_signature(
    secret_key: &str,
    date: &str,
    timestamp: u64,
    canonical_request: &str,
) -> String {
    let string_to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{date}/hunyuan/tc3_request\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac(&k_date, b"hunyuan");
    let k_signing = hmac(&k_service, b"tc3_request");
    hex::encode(hmac(&k_signing, string_to_sign.as_bytes()))
}

/// Verifies the request's signature at simulator time `now`.
pub(super) fn verify(
    cfg: &HunyuanSimConfig,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: u64,
) -> Result<(), Refusal> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let auth = header("authorization")
        .and_then(parse_authorization)
        .ok_or_else(|| {
            refuse(
                "AuthFailure.InvalidAuthorization",
                "Authorization header format error, it should be like \
                 `TC3-HMAC-SHA256 Credential=<SecretId>/<Date>/<Service>/tc3_request, \
                 SignedHeaders=<headers>, Signature=<signature>`.",
            )
        })?;
    let timestamp: u64 = header("x-tc-timestamp")
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| {
            refuse(
                "MissingParameter",
                "The request is missing a required parameter `Timestamp`.",
            )
        })?;
    if timestamp.abs_diff(now) > cfg.max_skew_secs {
        return Err(refuse(
            "AuthFailure.SignatureExpire",
            format!(
                "Signature expired, the request timestamp {timestamp} differs from the server \
                 time {now} by more than {} seconds.",
                cfg.max_skew_secs
            ),
        ));
    }
    let Some((_, secret_key)) = cfg.credentials.iter().find(|(id, _)| id == auth.secret_id) else {
        return Err(refuse(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.",
        ));
    };
    if auth.date != utc_date(timestamp)
        || auth.service != "hunyuan"
        || auth.terminator != "tc3_request"
    {
        return Err(refuse("AuthFailure.SignatureFailure", SIGNATURE_FAILURE));
    }
    let names: Vec<&str> = auth.signed_headers.split(';').collect();
    if !names.contains(&"content-type") || !names.contains(&"host") {
        return Err(refuse("AuthFailure.SignatureFailure", SIGNATURE_FAILURE));
    }
    let mut canonical_headers = String::new();
    for name in &names {
        if name.is_empty() || *name != name.to_ascii_lowercase() {
            return Err(refuse("AuthFailure.SignatureFailure", SIGNATURE_FAILURE));
        }
        let value = header(name)
            .ok_or_else(|| refuse("AuthFailure.SignatureFailure", SIGNATURE_FAILURE))?;
        canonical_headers.push_str(&format!("{name}:{}\n", value.trim().to_ascii_lowercase()));
    }
    let canonical_request = format!(
        "POST\n{}\n{}\n{canonical_headers}\n{}\n{}",
        uri.path(),
        uri.query().unwrap_or(""),
        auth.signed_headers,
        sha256_hex(body)
    );
    let want = expected_signature(secret_key, auth.date, timestamp, &canonical_request);
    let given = auth.signature.as_bytes();
    let same = given.len() == want.len()
        && given
            .iter()
            .zip(want.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(refuse("AuthFailure.SignatureFailure", SIGNATURE_FAILURE))
    }
}
