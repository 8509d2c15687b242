//! Sending a request upstream and classifying what went wrong.
//!
//! Every failure is classified by whether another channel may be tried (failover happens only
//! before the first byte reaches the client) and by the status the client finally sees.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls_platform_verifier::Verifier;
use switchyard_core::config::UpstreamConfig;
use switchyard_core::secret::mask;
use switchyard_providers::{Method, UpstreamError, UpstreamRequest};

use super::client::{Client, SendError};
use crate::error::ApiError;
use crate::state::{AppState, StartError};

pub(crate) use super::client::Response;

/// Why an attempt failed.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// TCP/TLS connect failed or the connection was reset.
    Connect(String),
    /// No answer in time.
    Timeout(String),
    /// A non-2xx answer, or an error reported inside a 200.
    Status {
        err: UpstreamError,
        retry_after: Option<u64>,
    },
    /// The answer is not in the provider's format, or the stream ended early.
    Protocol(String),
    /// The gateway is shutting down.
    Shutdown,
    /// The client's request cannot be served as it is (never failed over): the error to send.
    Rejected(Box<ApiError>),
}

impl Failure {
    /// Whether the next channel may be tried.
    pub(crate) fn retryable(&self) -> bool {
        match self {
            Self::Connect(_) | Self::Timeout(_) | Self::Protocol(_) => true,
            // 401/403 from an upstream mean the channel's own credential is refused, never the
            // client's (whose key is not forwarded): another channel may well work.
            Self::Status { err, .. } => {
                matches!(err.status, 401 | 403 | 408 | 409 | 429 | 500..=599)
            }
            Self::Shutdown | Self::Rejected(_) => false,
        }
    }

    /// The error the client sees when this was the last failure.
    pub(crate) fn to_api_error(&self) -> ApiError {
        match self {
            Self::Connect(m) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                Some("upstream_unreachable"),
                format!("upstream unreachable: {m}"),
            ),
            Self::Protocol(m) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                Some("bad_upstream_response"),
                m.clone(),
            ),
            Self::Timeout(m) => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_error",
                Some("upstream_timeout"),
                m.clone(),
            ),
            Self::Shutdown => ApiError::unavailable("the gateway is shutting down"),
            Self::Rejected(e) => (**e).clone(),
            Self::Status { err, retry_after } => {
                let code = err.code.as_deref();
                match err.status {
                    429 => {
                        let mut e = ApiError::rate_limited(
                            retry_after.unwrap_or(1),
                            format!("upstream rate limit: {}", err.message),
                        );
                        e.code = err.code.clone().or(e.code);
                        e
                    }
                    401 | 403 => ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "upstream_error",
                        Some("upstream_auth_failed"),
                        format!(
                            "the upstream refused the channel's credentials: {}",
                            err.message
                        ),
                    ),
                    503 => {
                        let mut e = ApiError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "server_error",
                            code.or(Some("upstream_unavailable")),
                            format!("upstream unavailable: {}", err.message),
                        );
                        e.retry_after = Some(retry_after.unwrap_or(1));
                        e
                    }
                    504 => ApiError::new(
                        StatusCode::GATEWAY_TIMEOUT,
                        "upstream_error",
                        code.or(Some("upstream_timeout")),
                        err.message.clone(),
                    ),
                    500..=599 => ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "upstream_error",
                        code.or(Some("upstream_error")),
                        format!("upstream error: {}", err.message),
                    ),
                    s => {
                        let status = StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_REQUEST);
                        let kind = if status == StatusCode::NOT_FOUND || status.is_client_error() {
                            "invalid_request_error"
                        } else {
                            "upstream_error"
                        };
                        ApiError::new(status, kind, code, err.message.clone())
                    }
                }
            }
        }
    }

    /// A short label for usage rows and logs.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::Connect(_) => "upstream_unreachable",
            Self::Timeout(_) => "upstream_timeout",
            Self::Status { .. } => "upstream_status",
            Self::Protocol(_) => "bad_upstream_response",
            Self::Shutdown => "shutdown",
            Self::Rejected(_) => "invalid_request",
        }
    }

    /// Removes the channel credential from every message.
    pub(crate) fn masked(mut self, key: &str) -> Self {
        let clean = |m: &mut String| {
            if key.len() >= 4 && m.contains(key) {
                *m = m.replace(key, &mask(key));
            }
        };
        match &mut self {
            Self::Connect(m) | Self::Timeout(m) | Self::Protocol(m) => clean(m),
            Self::Status { err, .. } => clean(&mut err.message),
            Self::Shutdown => {}
            Self::Rejected(e) => clean(&mut e.message),
        }
        self
    }
}

/// The pooled HTTP client for every upstream call (`client`), given a URI parsed once per
/// request (no URL normalisation), HTTPS through rustls with the platform's trust store,
/// HTTP/2 where the server offers it by ALPN.
pub(crate) struct Http {
    client: Client,
    /// The same trust (platform roots and `ca_file`) for WebSocket upstreams (Spark), without
    /// ALPN: a WebSocket handshake is HTTP/1.1.
    ws_tls: Arc<rustls::ClientConfig>,
}

impl Http {
    /// A client whose TCP connect gives up after `connect_timeout_ms`, trusting the operating
    /// system's roots and the certificates of the PEM file `ca_file`, and keeping at most
    /// `pool_max_idle_per_host` idle connections to each upstream host.
    pub(crate) fn new(cfg: &UpstreamConfig) -> Result<Self, StartError> {
        let connect_timeout = Duration::from_millis(cfg.connect_timeout_ms);
        let extra_roots = match cfg.ca_file.as_deref() {
            None => Vec::new(),
            Some(path) => {
                let roots = CertificateDer::pem_file_iter(path)
                    .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                    .map_err(|e| StartError::Tls(format!("upstream.ca_file `{path}`: {e}")))?;
                if roots.is_empty() {
                    return Err(StartError::Tls(format!(
                        "upstream.ca_file `{path}` holds no certificate"
                    )));
                }
                roots
            }
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls_error = |e: rustls::Error| StartError::Tls(e.to_string());
        let verifier =
            Verifier::new_with_extra_roots(extra_roots, provider.clone()).map_err(tls_error)?;
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let ws_tls = Arc::new(tls.clone());
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(tcp);
        let client = Client::new(connector, cfg.pool_max_idle_per_host);
        Ok(Self { client, ws_tls })
    }

    /// TLS settings for `wss://` upstreams.
    pub(crate) fn ws_tls(&self) -> Arc<rustls::ClientConfig> {
        self.ws_tls.clone()
    }
}

/// Sends `req` and waits for the response headers until `timeout`.
pub(crate) async fn send(
    state: &AppState,
    req: UpstreamRequest,
    timeout: Duration,
) -> Result<Response, Failure> {
    let request = http_request(req)
        .map_err(|e| Failure::Protocol(format!("the upstream request is not valid HTTP: {e}")))?;
    match tokio::time::timeout(timeout, state.inner.http.client.request(request)).await {
        Err(_) => Err(Failure::Timeout(format!(
            "no response from upstream within {} ms",
            timeout.as_millis()
        ))),
        Ok(Err(SendError::Connect(e))) => Err(Failure::Connect(chain(&*e))),
        Ok(Err(SendError::Http(e))) => Err(connection_failure(&e)),
        Ok(Err(SendError::Url)) => Err(Failure::Protocol(
            "the upstream URL needs an http or https scheme and a host".into(),
        )),
        Ok(Ok(r)) => Ok(r),
    }
}

/// `req` as an HTTP request, its parts set directly: `http::request::Builder` moves itself
/// through every call, a copy of the whole request each time. The error leaves the URL out:
/// some providers put credentials in the query string (Qianfan's secret key and access token).
fn http_request(req: UpstreamRequest) -> Result<http::Request<Full<Bytes>>, http::Error> {
    let (method, body) = match req.method {
        Method::Post => (http::Method::POST, req.body),
        Method::Get => (http::Method::GET, Bytes::new()),
    };
    let mut request = http::Request::new(Full::new(body));
    *request.method_mut() = method;
    *request.uri_mut() = http::Uri::try_from(req.url)?;
    let headers = request.headers_mut();
    for (k, v) in req.headers {
        headers.append(
            http::HeaderName::from_bytes(k.as_bytes())?,
            header_value(v)?,
        );
    }
    Ok(request)
}

/// A header value: static text is referred to, not copied.
fn header_value(v: Cow<'static, str>) -> Result<http::HeaderValue, http::Error> {
    Ok(match v {
        // The test `from_static` asserts (it panics on anything else).
        Cow::Borrowed(s) if s.bytes().all(|b| (32..127).contains(&b) || b == b'\t') => {
            http::HeaderValue::from_static(s)
        }
        Cow::Borrowed(s) => http::HeaderValue::from_str(s)?,
        Cow::Owned(s) => http::HeaderValue::try_from(s)?,
    })
}

/// An error and its causes, one line (hyper's errors never hold the URL or the headers).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A connection that broke after it was established (while sending or reading an answer).
pub(crate) fn connection_failure(e: &dyn std::error::Error) -> Failure {
    Failure::Protocol(format!("upstream connection failed: {}", chain(e)))
}

/// Reads an answer's whole body within `timeout`.
pub(crate) async fn read_body(resp: Response, timeout: Duration) -> Result<Bytes, Failure> {
    match tokio::time::timeout(timeout, resp.into_body().collect()).await {
        Err(_) => Err(Failure::Timeout(
            "upstream answer did not complete in time".into(),
        )),
        Ok(Err(e)) => Err(connection_failure(&e)),
        Ok(Ok(b)) => Ok(b.to_bytes()),
    }
}

/// Reads an error answer (at most 64 KiB kept) and turns it into a failure.
pub(crate) async fn status_failure(
    resp: Response,
    adapter: &dyn switchyard_providers::Adapter,
    timeout: Duration,
) -> Failure {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|s| s.ceil().max(1.0) as u64);
    let body = match read_body(resp, timeout).await {
        Ok(b) => b.slice(..b.len().min(64 * 1024)),
        Err(_) => Bytes::new(),
    };
    Failure::Status {
        err: adapter.error(status, &body),
        retry_after: retry_after.or_else(|| adapter.retry_after(&body)),
    }
}

impl Failure {
    /// A 400 for a request this provider cannot take.
    pub(crate) fn bad_request(message: String, param: Option<String>) -> Self {
        Self::Rejected(Box::new(ApiError::bad_request(message, param.as_deref())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_of_any_text_are_checked_not_panicked_on() {
        let v = |s: Cow<'static, str>| header_value(s).map(|v| v.as_bytes().to_vec()).ok();
        assert_eq!(
            v("application/json".into()).as_deref(),
            Some(&b"application/json"[..])
        );
        assert_eq!(v("a\tb".into()).as_deref(), Some(&b"a\tb"[..]));
        // Not visible ASCII: `from_static` would panic; taken as text like any other value.
        assert_eq!(v("é".into()).as_deref(), Some("é".as_bytes()));
        assert_eq!(v("a\nb".into()), None);
        assert_eq!(v(String::from("a\rb").into()), None);
        assert_eq!(
            v(String::from("Bearer k").into()).as_deref(),
            Some(&b"Bearer k"[..])
        );
    }
}
