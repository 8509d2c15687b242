//! Credential checks the way open.bigmodel.cn does them: the `Authorization` header carries an
//! HS256 JWT (with or without `Bearer `) whose header says `sign_type: SIGN`, whose payload names
//! the key id in `api_key` and expires at `exp` **milliseconds**; the signature is recomputed
//! with the key's secret. The v4 API also takes the raw `id.secret` key as a bearer token (what
//! the current official SDK sends); the v3 model API takes only the JWT.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Signs a token the way the official SDK does (header keys sorted as PyJWT writes them).
pub fn sign_jwt(api_key: &str, timestamp_ms: u64, exp_ms: u64) -> String {
    let (id, secret) = api_key.split_once('.').unwrap_or((api_key, ""));
    let header = r#"{"alg":"HS256","sign_type":"SIGN","typ":"JWT"}"#;
    let payload = serde_json::json!({"api_key": id, "exp": exp_ms, "timestamp": timestamp_ms});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac(secret, &input)))
}

fn mac(secret: &str, input: &str) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(input.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Which API checks the credential (the v3 model API predates raw-key auth).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Api {
    V4,
    V3,
}

/// Checks the `Authorization` value against `api_key` at `now_ms`; the error is a business
/// code (1000–1004).
pub(super) fn check(
    authorization: Option<&str>,
    api_key: &str,
    api: Api,
    now_ms: u64,
) -> Result<(), u32> {
    let Some(value) = authorization.map(str::trim).filter(|v| !v.is_empty()) else {
        return Err(1001);
    };
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or(value)
        .trim();
    if api == Api::V4 && token == api_key {
        return Ok(());
    }
    let (id, secret) = api_key.split_once('.').unwrap_or((api_key, ""));
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err(1002);
    };
    let decode = |part: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    let (Some(header), Some(payload)) = (decode(h), decode(p)) else {
        return Err(1002);
    };
    if header.get("alg").and_then(Value::as_str) != Some("HS256")
        || header.get("sign_type").and_then(Value::as_str) != Some("SIGN")
    {
        return Err(1002);
    }
    let (Some(presented_id), Some(exp)) = (
        payload.get("api_key").and_then(Value::as_str),
        payload.get("exp").and_then(Value::as_u64),
    ) else {
        return Err(1002);
    };
    if payload.get("timestamp").and_then(Value::as_u64).is_none() {
        return Err(1002);
    }
    if presented_id != id {
        return Err(1000);
    }
    let Ok(sig) = URL_SAFE_NO_PAD.decode(s) else {
        return Err(1002);
    };
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(format!("{h}.{p}").as_bytes());
    if m.verify_slice(&sig).is_err() {
        return Err(1004);
    }
    // `exp` is milliseconds: a token written in seconds is long expired.
    if exp <= now_ms {
        return Err(1003);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef.SecretSecretSecr";

    #[test]
    fn known_answer_vector() {
        assert_eq!(
            sign_jwt(KEY, 1_700_000_000_000, 1_700_000_210_000),
            "eyJhbGciOiJIUzI1NiIsInNpZ25fdHlwZSI6IlNJR04iLCJ0eXAiOiJKV1QifQ.eyJhcGlfa2V5IjoiMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYiLCJleHAiOjE3MDAwMDAyMTAwMDAsInRpbWVzdGFtcCI6MTcwMDAwMDAwMDAwMH0.bTTGeoDtOi7PUaVGpuRQlYddGdctEMFp3E2xC3f5cfM"
        );
    }

    #[test]
    fn checks() {
        let now = 1_700_000_100_000;
        let good = sign_jwt(KEY, 1_700_000_000_000, 1_700_000_210_000);
        assert_eq!(
            check(Some(&format!("Bearer {good}")), KEY, Api::V4, now),
            Ok(())
        );
        assert_eq!(check(Some(&good), KEY, Api::V3, now), Ok(()));
        assert_eq!(
            check(Some(&format!("Bearer {KEY}")), KEY, Api::V4, now),
            Ok(())
        );
        assert_eq!(check(Some(KEY), KEY, Api::V3, now), Err(1002));
        assert_eq!(check(None, KEY, Api::V4, now), Err(1001));
        assert_eq!(
            check(Some(&good), KEY, Api::V4, 1_700_000_210_000),
            Err(1003)
        );
        let other_secret = sign_jwt("0123456789abcdef0123456789abcdef.wrong", 1, now + 1);
        assert_eq!(check(Some(&other_secret), KEY, Api::V4, now), Err(1004));
        let other_id = sign_jwt("someoneelse.SecretSecretSecr", 1, now + 1);
        assert_eq!(check(Some(&other_id), KEY, Api::V4, now), Err(1000));
        let seconds = sign_jwt(KEY, 1_700_000_000, 1_700_000_210);
        assert_eq!(check(Some(&seconds), KEY, Api::V4, now), Err(1003));
        assert_eq!(check(Some("Bearer a.b"), KEY, Api::V4, now), Err(1002));
    }
}
