//! The upstream HTTP client: hyper's connections, pooled here.
//!
//! hyper-util's pooled client cost about 8.5k instructions per request more than this one on
//! the relay's path (callgrind, 85.9k -> 77.4k): SipHash of the pool key byte by byte at
//! checkout and return, a boxed response future, and a task spawned per HTTP/1 request to wait
//! until the connection could take the next one. Here an origin's pool is found by its
//! authority (foldhash, once), an HTTP/1 connection goes back to its pool when the answer's
//! body ends, and one HTTP/2 connection per origin is shared by every request.
//!
//! What it keeps from hyper-util: a request that was never written on a reused connection
//! (the upstream closed it while idle) is sent again on a new one; idle connections are closed
//! after `IDLE_TIMEOUT` and beyond `max_idle` per origin; HTTP/2 where TLS negotiates it.

use std::pin::Pin;
use std::sync::{Arc, Once, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use foldhash::HashMap;
use http::Uri;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::{Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use parking_lot::{Mutex, RwLock};
use tower_service::Service;

type Request = http::Request<Full<Bytes>>;
type H1 = http1::SendRequest<Full<Bytes>>;
type H2 = http2::SendRequest<Full<Bytes>>;

/// How long an idle connection is kept (hyper-util's default, which this client replaced).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Why a request got no answer.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No connection could be made (DNS, TCP, TLS, or the HTTP/2 handshake).
    Connect(Box<dyn std::error::Error + Send + Sync>),
    /// The connection failed while the request was sent or the answer's head was read.
    Http(hyper::Error),
    /// The URL has no `http` or `https` scheme, or no host.
    Url,
}

pub(crate) struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    connector: HttpsConnector<HttpConnector>,
    /// Pools by authority: `[http, https]`.
    origins: RwLock<HashMap<Box<str>, [Arc<Pool>; 2]>>,
    max_idle: usize,
    /// Starts the task that closes connections idle too long, on the first connection.
    sweeper: Once,
}

/// One origin's connections.
struct Pool {
    /// HTTP/1 connections between requests, the most recently used last.
    idle: Mutex<Vec<Idle>>,
    /// The HTTP/2 connection, shared by every request while it is open.
    h2: Mutex<Option<H2>>,
    /// The origin's `Host` header, made once: each request's is a reference to it.
    host: Option<http::HeaderValue>,
}

struct Idle {
    tx: H1,
    since: Instant,
}

impl Idle {
    /// Still open, and not idle so long that the upstream may be about to close it.
    fn usable(&self, now: Instant) -> bool {
        !self.tx.is_closed() && now.duration_since(self.since) < IDLE_TIMEOUT
    }
}

impl Client {
    pub(crate) fn new(connector: HttpsConnector<HttpConnector>, max_idle: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                connector,
                origins: RwLock::default(),
                max_idle,
                sweeper: Once::new(),
            }),
        }
    }

    /// Sends `req`, whose URI is absolute, and returns the answer's head. Its body hands the
    /// connection back to the pool when it ends.
    pub(crate) async fn request(&self, mut req: Request) -> Result<Response, SendError> {
        let uri = req.uri().clone();
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(SendError::Url),
        };
        let authority = uri.authority().ok_or(SendError::Url)?;
        let pool = self.inner.pool(authority.as_str(), tls);
        let mut fresh = false;
        loop {
            let idle = if fresh { None } else { pool.checkout().await };
            let reused = idle.is_some();
            let conn = match idle {
                Some(conn) => conn,
                // Boxed: the connect and handshake futures are large, and inline they would be
                // copied with every request's future, though most requests never connect.
                None => Box::pin(self.inner.connect(&uri, &pool)).await?,
            };
            let mut failed = match conn {
                Conn::H1(mut tx) => {
                    set_host(&mut req, pool.host.as_ref());
                    origin_form(req.uri_mut());
                    match tx.try_send_request(req).await {
                        Ok(resp) => {
                            let back = Back {
                                tx,
                                pool,
                                max_idle: self.inner.max_idle,
                            };
                            return Ok(resp.map(|body| Pooled::new(body, Some(back))));
                        }
                        Err(e) => e,
                    }
                }
                Conn::H2(mut tx) => match tx.try_send_request(req).await {
                    Ok(resp) => return Ok(resp.map(|body| Pooled::new(body, None))),
                    Err(e) => e,
                },
            };
            match failed.take_message() {
                // Never written: the reused connection had closed. Once more, on a new one.
                Some(unsent) if reused => {
                    req = unsent;
                    *req.uri_mut() = uri.clone();
                    fresh = true;
                }
                _ => return Err(SendError::Http(failed.into_error())),
            }
        }
    }
}

enum Conn {
    H1(H1),
    H2(H2),
}

impl Inner {
    fn pool(&self, authority: &str, tls: bool) -> Arc<Pool> {
        if let Some(pools) = self.origins.read().get(authority) {
            return pools[usize::from(tls)].clone();
        }
        let mut origins = self.origins.write();
        let pools = origins
            .entry(authority.into())
            .or_insert_with(|| [0, 1].map(|_| Arc::new(Pool::new(authority))));
        pools[usize::from(tls)].clone()
    }

    async fn connect(self: &Arc<Self>, uri: &Uri, pool: &Pool) -> Result<Conn, SendError> {
        self.sweeper.call_once(|| {
            tokio::spawn(sweep(Arc::downgrade(self)));
        });
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(SendError::Connect)?;
        let io = connector
            .call(uri.clone())
            .await
            .map_err(SendError::Connect)?;
        if io.connected().is_negotiated_h2() {
            let (tx, conn) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .handshake(io)
                .await
                .map_err(|e| SendError::Connect(e.into()))?;
            tokio::spawn(conn);
            *pool.h2.lock() = Some(tx.clone());
            return Ok(Conn::H2(tx));
        }
        let (tx, conn) = http1::Builder::new()
            // Upstream answers are small JSON bodies and stream events: a 4 KiB read buffer
            // (hyper's default grows from 8 KiB) halves what each open stream holds here.
            .read_buf_exact_size(Some(4096))
            .handshake(io)
            .await
            .map_err(|e| SendError::Connect(e.into()))?;
        tokio::spawn(conn);
        Ok(Conn::H1(tx))
    }
}

impl Pool {
    fn new(authority: &str) -> Self {
        Self {
            idle: Mutex::default(),
            h2: Mutex::default(),
            host: host_value(authority),
        }
    }

    fn h2(&self) -> Option<H2> {
        let mut h2 = self.h2.lock();
        match &*h2 {
            Some(tx) if !tx.is_closed() => Some(tx.clone()),
            Some(_) => {
                *h2 = None;
                None
            }
            None => None,
        }
    }

    /// The open HTTP/2 connection, else the most recently used idle HTTP/1 connection that is
    /// still open. One handed back as its answer ended may not have finished that answer yet:
    /// it is waited for, briefly.
    async fn checkout(&self) -> Option<Conn> {
        if let Some(tx) = self.h2() {
            return Some(Conn::H2(tx));
        }
        loop {
            let idle = self.idle.lock().pop()?;
            if !idle.usable(Instant::now()) {
                continue;
            }
            let mut tx = idle.tx;
            if tx.is_ready() || tx.ready().await.is_ok() {
                return Some(Conn::H1(tx));
            }
        }
    }

    fn put(&self, tx: H1, max_idle: usize) {
        if tx.is_closed() {
            return;
        }
        let mut idle = self.idle.lock();
        if idle.len() < max_idle {
            idle.push(Idle {
                tx,
                since: Instant::now(),
            });
        }
    }

    fn evict(&self, now: Instant) {
        self.idle.lock().retain(|i| i.usable(now));
    }
}

/// Closes idle connections past `IDLE_TIMEOUT`, until the client is dropped.
async fn sweep(inner: Weak<Inner>) {
    let mut tick = tokio::time::interval(IDLE_TIMEOUT / 3);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let pools: Vec<Arc<Pool>> = inner.origins.read().values().flatten().cloned().collect();
        drop(inner);
        let now = Instant::now();
        for pool in pools {
            pool.evict(now);
        }
    }
}

/// An upstream answer whose body has not been read yet.
pub(crate) type Response = http::Response<Pooled>;

/// Where an HTTP/1 connection goes once its answer is read.
struct Back {
    tx: H1,
    pool: Arc<Pool>,
    max_idle: usize,
}

/// An answer's body; at its end the connection returns to its pool. Dropped before its end, it
/// takes the connection with it (hyper closes a connection whose answer was not read).
pub(crate) struct Pooled {
    body: Incoming,
    back: Option<Back>,
}

impl Pooled {
    fn new(body: Incoming, back: Option<Back>) -> Self {
        let mut pooled = Self { body, back };
        if pooled.body.is_end_stream() {
            pooled.release();
        }
        pooled
    }

    fn release(&mut self) {
        if let Some(Back { tx, pool, max_idle }) = self.back.take() {
            pool.put(tx, max_idle);
        }
    }
}

impl Body for Pooled {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.release(),
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => self.release(),
            Poll::Ready(Some(Err(_))) => self.back = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The `Host` of an authority: without its user info, which must not go out.
fn host_value(authority: &str) -> Option<http::HeaderValue> {
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    http::HeaderValue::from_str(host).ok()
}

/// Sets `Host` unless the adapter set it (a signature may cover it).
fn set_host(req: &mut Request, host: Option<&http::HeaderValue>) {
    if let Some(host) = host {
        req.headers_mut()
            .entry(http::header::HOST)
            .or_insert_with(|| host.clone());
    }
}

/// HTTP/1 requests carry only the path and query.
fn origin_form(uri: &mut Uri) {
    if uri.scheme().is_none() {
        return;
    }
    *uri = match uri.path_and_query() {
        Some(pq) if pq.as_str() != "/" => {
            let mut parts = http::uri::Parts::default();
            parts.path_and_query = Some(pq.clone());
            Uri::from_parts(parts).unwrap_or_default()
        }
        _ => Uri::default(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_of(url: &str, given: Option<&str>) -> Option<String> {
        let mut b = http::Request::builder().uri(url);
        if let Some(h) = given {
            b = b.header("host", h);
        }
        let mut req = b.body(Full::new(Bytes::new())).unwrap();
        let host = host_value(req.uri().authority().unwrap().as_str());
        set_host(&mut req, host.as_ref());
        let all: Vec<_> = req.headers().get_all("host").iter().collect();
        assert!(all.len() <= 1, "one Host header at most: {all:?}");
        all.first().map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn host_is_the_authority_without_credentials_unless_given() {
        assert_eq!(
            host_of("http://127.0.0.1:8080/v1/x", None).as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            host_of("https://api.example.com/v1", None).as_deref(),
            Some("api.example.com")
        );
        // A signature may cover the adapter's own Host: it is kept.
        assert_eq!(
            host_of("https://hunyuan.example.com/", Some("signed.example.com")).as_deref(),
            Some("signed.example.com")
        );
        // User info never goes out in Host.
        assert_eq!(
            host_of("http://user:pw@example.com:81/", None).as_deref(),
            Some("example.com:81")
        );
    }

    #[test]
    fn http1_requests_carry_the_path_and_query_only() {
        let mut uri: Uri = "http://h:1/v1/chat?x=1".parse().unwrap();
        origin_form(&mut uri);
        assert_eq!(uri.to_string(), "/v1/chat?x=1");
        let mut root: Uri = "https://h".parse().unwrap();
        origin_form(&mut root);
        assert_eq!(root.to_string(), "/");
    }
}
