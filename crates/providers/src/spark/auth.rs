//! Spark's signed WebSocket URL (iFlytek "general URL authentication").
//!
//! The URL carries three form-encoded query parameters: `authorization`, `date` and `host`.
//! `authorization` is base64 of
//! `api_key="<APIKey>", algorithm="hmac-sha256", headers="host date request-line", signature="<sig>"`
//! where `sig` is base64(HMAC-SHA256(APISecret, "host: <host>\ndate: <date>\nGET <path> HTTP/1.1")).
//! The signed host is the authority the client connects to (with its port when the URL has one),
//! exactly as the official Python demo's `urlparse(url).netloc`. Pure functions: the time comes in.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `date` in RFC 1123 form, always GMT: `Fri, 23 Apr 2021 02:35:47 GMT`.
pub(crate) fn rfc1123(now_unix: u64) -> String {
    let secs = i64::try_from(now_unix).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// base64(HMAC-SHA256(secret, "host: …\ndate: …\n<request_line>")).
pub(crate) fn signature(api_secret: &str, host: &str, date: &str, request_line: &str) -> String {
    let origin = format!("host: {host}\ndate: {date}\n{request_line}");
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = match Hmac::<Sha256>::new_from_slice(api_secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(origin.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// base64 of the `authorization_origin` string in the official (`api_key="…"`) form.
pub(crate) fn authorization(api_key: &str, signature: &str) -> String {
    let origin = format!(
        "api_key=\"{api_key}\", algorithm=\"hmac-sha256\", headers=\"host date request-line\", signature=\"{signature}\""
    );
    B64.encode(origin.as_bytes())
}

/// `application/x-www-form-urlencoded` value encoding (as Python's `urlencode`): unreserved
/// `A-Za-z0-9*-._` stay, space becomes `+`, everything else `%XX`.
pub(crate) fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
    out
}

/// Where to connect: the scheme-less authority that is signed, and the URL without the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `host[:port]` as it appears in the URL.
    pub(crate) host: String,
    /// The path that goes into the request line (`/v3.5/chat`, or with the base URL's prefix).
    pub(crate) path: String,
    /// `ws[s]://host[:port]/path`.
    pub(crate) url: String,
}

/// Joins the channel's base URL and the model's path. `http`/`https` bases become `ws`/`wss`;
/// a base without a scheme is taken as `wss`.
pub(crate) fn endpoint(base_url: &str, path: &str) -> Result<Endpoint, String> {
    let base = base_url.trim().trim_end_matches('/');
    let (scheme, rest) = match base.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => ("wss".to_owned(), base),
    };
    let scheme = match scheme.as_str() {
        "wss" | "https" => "wss",
        "ws" | "http" => "ws",
        other => {
            return Err(format!(
                "unsupported base_url scheme `{other}` (use wss://)"
            ));
        }
    };
    let (host, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if host.is_empty() || host.contains(['?', '#', '@', ' ']) {
        return Err("base_url has no usable host".to_owned());
    }
    let path = format!("{prefix}{path}");
    Ok(Endpoint {
        host: host.to_owned(),
        url: format!("{scheme}://{host}{path}"),
        path,
    })
}

/// The complete signed URL for `GET <endpoint.path>` at `now_unix`.
pub(crate) fn signed_url(ep: &Endpoint, api_key: &str, api_secret: &str, now_unix: u64) -> String {
    let date = rfc1123(now_unix);
    let sig = signature(
        api_secret,
        &ep.host,
        &date,
        &format!("GET {} HTTP/1.1", ep.path),
    );
    format!(
        "{}?authorization={}&date={}&host={}",
        ep.url,
        form_encode(&authorization(api_key, &sig)),
        form_encode(&date),
        form_encode(&ep.host)
    )
}
