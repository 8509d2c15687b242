//! Fetching `image_url` parts for providers that take images only inline (Anthropic, Gemini).
//!
//! The gateway fetches on the client's behalf, so it guards against being used to probe its own
//! network: the host is resolved once, every resolved address must be public (loopback,
//! private, link-local, unique-local, unspecified, multicast and documentation ranges are
//! refused unless `upstream.image_fetch_allow_private`), and the connection goes to exactly the
//! checked address (no second lookup, so no DNS rebinding). No redirects are followed; the size
//! and time are bounded; the answer must be an image.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use switchyard_types::{ChatRequest, MessageContent};

use crate::error::ApiError;
use crate::state::AppState;

fn refused(message: impl Into<String>) -> ApiError {
    let mut e = ApiError::bad_request(message, Some("messages"));
    e.code = Some("invalid_image_url".into());
    e
}

/// Whether an address is one a client may make the gateway fetch from.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 198 && (o[1] & 0xfe) == 18))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] == 0x2001 && seg[1] == 0x0db8))
        }
    }
}

/// Replaces every http(s) `image_url` in `req` by a `data:` URL.
pub(crate) async fn inline_images(state: &AppState, req: &mut ChatRequest) -> Result<(), ApiError> {
    for m in &mut req.messages {
        let Some(MessageContent::Parts(parts)) = &mut m.content else {
            continue;
        };
        for p in parts.iter_mut() {
            let Some(url) = p.pointer("/image_url/url").and_then(Value::as_str) else {
                continue;
            };
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                continue;
            }
            let data = fetch(state, url).await?;
            if let Some(slot) = p.pointer_mut("/image_url/url") {
                *slot = Value::from(data);
            }
        }
    }
    Ok(())
}

async fn fetch(state: &AppState, url: &str) -> Result<String, ApiError> {
    let cfg = &state.inner.config.upstream;
    let parsed =
        reqwest::Url::parse(url).map_err(|_| refused("The image URL is not a valid URL."))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| refused("The image URL has no host."))?
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let timeout = Duration::from_millis(cfg.image_fetch_timeout_ms);
    let lookup_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        timeout,
        tokio::net::lookup_host((lookup_host.as_str(), port)),
    )
    .await
    .map_err(|_| refused("The image URL's host did not resolve in time."))?
    .map_err(|_| refused("The image URL's host does not resolve."))?
    .collect();
    let Some(addr) = addrs.first().copied() else {
        return Err(refused("The image URL's host does not resolve."));
    };
    if !cfg.image_fetch_allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(refused(
            "The image URL points to a loopback, private or link-local address, which this gateway does not fetch.",
        ));
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .resolve(&lookup_host, addr)
        .build()
        .map_err(|e| ApiError::internal(format!("image client: {e}")))?;
    let mut resp = client
        .get(parsed)
        .send()
        .await
        .map_err(|_| refused("The image URL could not be fetched."))?;
    if !resp.status().is_success() {
        return Err(refused(format!(
            "Fetching the image URL gave HTTP {}.",
            resp.status().as_u16()
        )));
    }
    let mime = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
        .unwrap_or_default();
    if !mime.starts_with("image/") {
        return Err(refused("The image URL did not return an image."));
    }
    let limit = cfg.image_fetch_max_bytes;
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|_| refused("The image download failed."))?
    {
        if body.len() + chunk.len() > limit {
            return Err(refused(format!("The image is larger than {limit} bytes.")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(body)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad}");
        }
        for good in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(good.parse().unwrap()), "{good}");
        }
    }
}
