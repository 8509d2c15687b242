//! What every API request passes through: the request id, the body limit, key admission, and
//! the usage row of a request refused before it was billed.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::future::RouteFuture;
use bytes::Bytes;
use futures::future::Either;
use switchyard_store::{ApiKey, UsageRow};

use crate::error::ApiError;
use crate::state::AppState;

/// The request's id: the client's `x-request-id`, or a new UUIDv7.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) Arc<str>);

/// The request id's header, named once (a name given as text is parsed on every use).
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The service every request enters: it gives the request its id, sends chat completions
/// straight to their handler and everything else through the router, and echoes the id on
/// the response.
///
/// Not an axum `from_fn` middleware, which boxes its future and clones the inner service on
/// every request; and the hot endpoint skips the router's per-request work (its route lookup,
/// matched-path extension, service clone and boxed futures).
#[derive(Clone)]
pub struct App {
    pub(crate) router: axum::Router,
    pub(crate) state: AppState,
}

/// A handler's answer, boxed.
type Direct = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<B> tower_service::Service<http::Request<B>> for App
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = WithRequestId<Either<RouteFuture<Infallible>, Direct>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let (rid, header) = request_id(req.headers());
        let inner =
            if req.method() == http::Method::POST && req.uri().path() == "/v1/chat/completions" {
                let state = self.state.clone();
                let req = req.map(Body::new);
                Either::Right(Box::pin(async move {
                    Ok(crate::relay::chat_completions_for(&state, &rid, req).await)
                }) as Direct)
            } else {
                req.extensions_mut().insert(rid);
                Either::Left(tower_service::Service::call(&mut self.router, req))
            };
        WithRequestId { inner, header }
    }
}

/// The client's `x-request-id` when it is usable (1 to 200 visible ASCII characters), or a new
/// UUIDv7; and the header value to echo.
fn request_id(headers: &http::HeaderMap) -> (RequestId, Option<HeaderValue>) {
    let given = headers
        .get(&X_REQUEST_ID)
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .and_then(|v| Some((Arc::from(v.to_str().ok()?), v.clone())));
    let (id, header) = given.map_or_else(
        || {
            let mut buf = uuid::Uuid::encode_buffer();
            let id = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut buf);
            (Arc::from(&*id), HeaderValue::from_str(id).ok())
        },
        |(id, v)| (id, Some(v)),
    );
    (RequestId(id), header)
}

pin_project_lite::pin_project! {
    /// The answer's future, and the request id to put on its response.
    pub struct WithRequestId<F> {
        #[pin]
        inner: F,
        header: Option<HeaderValue>,
    }
}

impl<F, E> Future for WithRequestId<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = std::task::ready!(this.inner.poll(cx))?;
        if let Some(v) = this.header.take() {
            res.headers_mut().insert(X_REQUEST_ID, v);
        }
        Poll::Ready(Ok(res))
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Reads the body up to the configured limit (413 above it).
pub(crate) async fn read_body(state: &AppState, body: Body) -> Result<Bytes, ApiError> {
    let limit = state.inner.config.server.max_body_bytes;
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            Some("request_too_large"),
            format!("The request body is larger than this gateway accepts ({limit} bytes)."),
        )
    })
}

/// Key status, expiry, model allow-list and rate limit.
pub(crate) fn admit(state: &AppState, key: &ApiKey, model: &str) -> Result<(), ApiError> {
    if key.revoked {
        return Err(ApiError::forbidden(
            "key_revoked",
            "This API key has been revoked.",
        ));
    }
    if key.expires_at.is_some_and(|t| t <= chrono::Utc::now()) {
        return Err(ApiError::forbidden(
            "key_expired",
            "This API key has expired.",
        ));
    }
    if let Some(models) = &key.models
        && !models.iter().any(|m| m == model)
    {
        let mut e = ApiError::forbidden(
            "model_not_allowed",
            format!("This API key may not use the model `{model}`."),
        );
        e.param = Some("model".into());
        return Err(e);
    }
    if let Some(rpm) = key.rpm.filter(|r| *r > 0)
        && let Err(secs) = state.inner.limiter.check(key.id, rpm as u64, now_ms())
    {
        return Err(ApiError::rate_limited(
            secs,
            format!("Rate limit reached: this key allows {rpm} requests per minute."),
        ));
    }
    Ok(())
}

/// What is known of a request before it was billed.
#[derive(Debug, Default)]
pub(crate) struct Attempt {
    pub(crate) key_id: Option<i64>,
    pub(crate) model: Option<Arc<str>>,
    pub(crate) stream: bool,
    /// A [`crate::relay::Billing`] took over the usage row.
    pub(crate) billed: bool,
}

/// Writes the usage row of a request refused before billing (400/401/403/404/413/429).
pub(crate) fn log_rejection(
    state: &AppState,
    rid: &RequestId,
    endpoint: &str,
    a: &Attempt,
    e: &ApiError,
    started: Instant,
) {
    if a.billed {
        return;
    }
    state.inner.usage.record(UsageRow {
        request_id: rid.0.clone(),
        created_at: chrono::Utc::now(),
        key_id: a.key_id,
        channel_id: None,
        endpoint: endpoint.into(),
        requested_model: a.model.clone().unwrap_or_else(|| "".into()),
        upstream_model: None,
        prompt_tokens: 0,
        cached_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        estimated: false,
        cost_micros: 0,
        latency_ms: started.elapsed().as_millis() as i64,
        ttft_ms: None,
        status: i64::from(e.status.as_u16()),
        error_code: e.code.clone(),
        stream: a.stream,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a usable `x-request-id` the id is a new UUIDv7, and the header echoes it.
    #[test]
    fn a_request_without_a_usable_id_gets_a_uuid_v7() {
        let mut given = http::HeaderMap::new();
        given.insert(X_REQUEST_ID, HeaderValue::from_static("req-1"));
        let (id, header) = request_id(&given);
        assert_eq!(&*id.0, "req-1");
        assert_eq!(header.unwrap(), "req-1");

        let mut too_long = http::HeaderMap::new();
        too_long.insert(
            X_REQUEST_ID,
            HeaderValue::from_str(&"x".repeat(201)).unwrap(),
        );
        for headers in [http::HeaderMap::new(), too_long] {
            let (id, header) = request_id(&headers);
            let uuid = uuid::Uuid::parse_str(&id.0).expect("a UUID");
            assert_eq!(uuid.get_version_num(), 7);
            assert_eq!(id.0.len(), 36, "hyphenated: {}", id.0);
            assert_eq!(header.unwrap(), &*id.0);
        }
    }
}
