//! Spark's URL signature, checked the way iFlytek's gateway (a Kong `hmac-auth` variant) does.
//!
//! Order and answers of the checks (HTTP, before any upgrade), from the official
//! "WebSocket general URL authentication" page:
//! 1. no `authorization` parameter → 401 `{"message":"Unauthorized"}`;
//! 2. `date` missing, unparsable or more than the allowed skew (300 s) away → 403
//!    `{"message":"HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication"}`;
//! 3. `authorization` not decodable, fields missing, unknown `api_key`, another algorithm or
//!    header list → 401 `{"message":"HMAC signature cannot be verified"}`;
//! 4. signature over `host: <host>\ndate: <date>\nGET <path> HTTP/1.1` different → 401
//!    `{"message":"HMAC signature does not match"}`.
//!
//! The signed host is the `host` parameter, which must also equal the `Host` header the client
//! sent (the host it actually connected to, port included). Both the official
//! `api_key="…"` form and one-api's `hmac username="…"` form are accepted.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a handshake is refused: HTTP status and the `message` of the JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status (401 or 403).
    pub status: u16,
    /// The `message` field.
    pub message: &'static str,
}

/// No `authorization` parameter.
pub const UNAUTHORIZED: &str = "Unauthorized";
/// Unparsable authorization or unknown key.
pub const CANNOT_VERIFY: &str = "HMAC signature cannot be verified";
/// Wrong signature.
pub const NO_MATCH: &str = "HMAC signature does not match";
/// Date missing or out of the allowed skew.
pub const BAD_DATE: &str = "HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication";

/// Decodes an `application/x-www-form-urlencoded` query into pairs (`+` is a space).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// base64(HMAC-SHA256(secret, "host: …\ndate: …\nGET <path> HTTP/1.1")).
pub fn signature(api_secret: &str, host: &str, date: &str, request_line: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(api_secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(format!("host: {host}\ndate: {date}\n{request_line}").as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// RFC 1123 date of a Unix time (`Fri, 23 Apr 2021 02:35:47 GMT`).
pub fn rfc1123(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// A correctly signed client URL (`ws://host/path?authorization=…&date=…&host=…`), for tests
/// and demos. `host` is signed exactly as given.
pub fn client_url(
    scheme: &str,
    host: &str,
    path: &str,
    api_key: &str,
    api_secret: &str,
    unix: i64,
) -> String {
    let date = rfc1123(unix);
    let sig = signature(api_secret, host, &date, &format!("GET {path} HTTP/1.1"));
    let origin = format!(
        "api_key=\"{api_key}\", algorithm=\"hmac-sha256\", headers=\"host date request-line\", signature=\"{sig}\""
    );
    format!(
        "{scheme}://{host}{path}?authorization={}&date={}&host={}",
        form_encode(&B64.encode(origin)),
        form_encode(&date),
        form_encode(host)
    )
}

/// Reads `k="v"` pairs of an authorization origin (with or without the `hmac ` prefix).
fn fields(origin: &str) -> Vec<(String, String)> {
    let origin = origin.trim();
    let origin = origin.strip_prefix("hmac ").unwrap_or(origin);
    let mut out = Vec::new();
    let mut rest = origin;
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_owned();
        let after = &rest[eq + 2..];
        let Some(end) = after.find('"') else { break };
        out.push((key, after[..end].to_owned()));
        rest = &after[end + 1..];
    }
    out
}

/// What the simulator knows to check a handshake.
#[derive(Clone, Copy, Debug)]
pub struct Expect<'a> {
    /// The one known API key.
    pub api_key: &'a str,
    /// Its secret.
    pub api_secret: &'a str,
    /// Allowed clock skew in seconds.
    pub skew_secs: u64,
    /// The simulator's current Unix time.
    pub now: i64,
}

/// Checks one handshake: `path` of the request line, its decoded query, and the `Host` header.
pub fn verify(
    expect: &Expect<'_>,
    path: &str,
    query: &[(String, String)],
    host_header: Option<&str>,
) -> Result<(), Refusal> {
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let refuse = |status, message| Err(Refusal { status, message });
    let Some(authorization) = get("authorization").filter(|a| !a.is_empty()) else {
        return refuse(401, UNAUTHORIZED);
    };
    let Some(date) = get("date") else {
        return refuse(403, BAD_DATE);
    };
    match chrono::DateTime::parse_from_rfc2822(date) {
        Ok(t) if t.timestamp().abs_diff(expect.now) <= expect.skew_secs => {}
        _ => return refuse(403, BAD_DATE),
    }
    let Some(origin) = B64
        .decode(authorization.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
    else {
        return refuse(401, CANNOT_VERIFY);
    };
    let f = fields(&origin);
    let field = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let key = field("api_key").or_else(|| field("username"));
    let (Some(key), Some(sig)) = (key, field("signature")) else {
        return refuse(401, CANNOT_VERIFY);
    };
    if key != expect.api_key
        || field("algorithm") != Some("hmac-sha256")
        || field("headers") != Some("host date request-line")
    {
        return refuse(401, CANNOT_VERIFY);
    }
    let Some(host) = get("host") else {
        return refuse(401, CANNOT_VERIFY);
    };
    if host_header.is_some_and(|h| !h.eq_ignore_ascii_case(host)) {
        return refuse(401, NO_MATCH);
    }
    let Ok(presented) = B64.decode(sig) else {
        return refuse(401, NO_MATCH);
    };
    let mut mac = match Hmac::<Sha256>::new_from_slice(expect.api_secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return refuse(401, CANNOT_VERIFY),
    };
    mac.update(format!("host: {host}\ndate: {date}\nGET {path} HTTP/1.1").as_bytes());
    match mac.verify_slice(&presented) {
        Ok(()) => Ok(()),
        Err(_) => refuse(401, NO_MATCH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_vector() {
        assert_eq!(rfc1123(1_619_145_347), "Fri, 23 Apr 2021 02:35:47 GMT");
        assert_eq!(
            signature(
                "apisecretXXXXXXXXXXXXXXXXXXXXXXX",
                "api.xf-yun.com",
                "Fri, 23 Apr 2021 02:35:47 GMT",
                "POST /v1/private/s782b4996 HTTP/1.1"
            ),
            "1jwQbIAKmQE7JwIH0IDxiC1pejrlN+VpHXDWOFVy5NM="
        );
    }

    #[test]
    fn verifies_its_own_url_and_rejects_changes() {
        let url = client_url(
            "wss",
            "spark-api.xf-yun.com",
            "/v3.5/chat",
            "k",
            "s",
            1_619_145_347,
        );
        let query = parse_query(url.split_once('?').map(|(_, q)| q).unwrap_or(""));
        let expect = Expect {
            api_key: "k",
            api_secret: "s",
            skew_secs: 300,
            now: 1_619_145_347 + 299,
        };
        let host = Some("spark-api.xf-yun.com");
        assert_eq!(verify(&expect, "/v3.5/chat", &query, host), Ok(()));
        let wrong = |e: Result<(), Refusal>| e.err().map(|r| (r.status, r.message));
        assert_eq!(
            wrong(verify(&expect, "/v3.1/chat", &query, host)),
            Some((401, NO_MATCH))
        );
        assert_eq!(
            wrong(verify(
                &Expect {
                    api_secret: "x",
                    ..expect
                },
                "/v3.5/chat",
                &query,
                host
            )),
            Some((401, NO_MATCH))
        );
        assert_eq!(
            wrong(verify(
                &Expect {
                    api_key: "other",
                    ..expect
                },
                "/v3.5/chat",
                &query,
                host
            )),
            Some((401, CANNOT_VERIFY))
        );
        assert_eq!(
            wrong(verify(
                &Expect {
                    now: 1_619_145_347 + 301,
                    ..expect
                },
                "/v3.5/chat",
                &query,
                host
            )),
            Some((403, BAD_DATE))
        );
        assert_eq!(
            wrong(verify(&expect, "/v3.5/chat", &query, Some("127.0.0.1:1"))),
            Some((401, NO_MATCH))
        );
        assert_eq!(
            wrong(verify(&expect, "/v3.5/chat", &[], host)),
            Some((401, UNAUTHORIZED))
        );
    }

    #[test]
    fn reads_both_authorization_forms() {
        let a = fields(
            r#"api_key="k1", algorithm="hmac-sha256", headers="host date request-line", signature="s=""#,
        );
        assert_eq!(a[0], ("api_key".into(), "k1".into()));
        assert_eq!(a[3], ("signature".into(), "s=".into()));
        let b = fields(
            r#"hmac username="k2", algorithm="hmac-sha256", headers="host date request-line", signature="x""#,
        );
        assert_eq!(b[0], ("username".into(), "k2".into()));
        assert_eq!(b.len(), 4);
    }
}
