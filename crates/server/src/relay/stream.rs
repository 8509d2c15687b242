//! The stream pipeline: wait for the upstream's first chunk (so failover stays possible), then
//! pump upstream events to the client through a bounded channel.
//!
//! The pump sends keep-alive comments while the upstream is silent, ends the stream with an
//! OpenAI error object when the upstream fails, goes idle past the limit, or the shutdown
//! deadline passes, and notices a client that went away (the channel closes), which drops the
//! upstream response and so cancels the upstream request. In every case the usage produced so
//! far is settled once.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use switchyard_core::meter::Meter;
use switchyard_providers::{Emit, ResponseCtx, StreamConverter, StreamStep};
use switchyard_sse::{Event, KEEPALIVE_FRAME};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

use super::billing::{Billing, CLIENT_CLOSED};
use super::source::Events;
use super::upstream::Failure;
use crate::dialect::Encoder;
use crate::error::ApiError;
use crate::state::AppState;

/// An upstream stream whose first chunk has arrived.
pub(crate) struct Started {
    events: Events,
    pub(crate) converter: Box<dyn StreamConverter>,
    pub(crate) meter: Meter,
    first: Vec<Bytes>,
    done: bool,
    idle: Duration,
}

/// Reads until the first canonical chunk; any failure before it may fail over.
pub(crate) async fn start(
    events: Events,
    converter: Box<dyn StreamConverter>,
    ctx: &ResponseCtx<'_>,
    first_byte: Duration,
    idle: Duration,
) -> Result<Started, Failure> {
    let mut s = Started {
        events,
        converter,
        meter: Meter::new(ctx.requested_model),
        first: Vec::new(),
        done: false,
        idle,
    };
    let deadline = Instant::now() + first_byte;
    let mut emit = Emit::default();
    while s.first.is_empty() && !s.done {
        let next = tokio::time::timeout_at(deadline, s.events.next())
            .await
            .map_err(|_| Failure::Timeout("the upstream sent no stream data in time".into()))?;
        match next {
            Some(Ok(batch)) => {
                let mut frames = Vec::new();
                convert(&mut s, &batch, &mut emit, &mut frames)?;
                s.first = frames;
            }
            Some(Err(f)) => return Err(f),
            None => {
                return Err(Failure::Protocol(
                    "the upstream closed the stream before its first chunk".into(),
                ));
            }
        }
    }
    Ok(s)
}

/// Runs events through the converter; appends framed chunks to `frames`.
fn convert(
    s: &mut Started,
    events: &[Event],
    emit: &mut Emit,
    frames: &mut Vec<Bytes>,
) -> Result<(), Failure> {
    for ev in events {
        if s.done {
            break;
        }
        emit.clear();
        let step = s
            .converter
            .event(ev, emit)
            .map_err(super::convert_failure)?;
        if let Some(u) = emit.usage.take() {
            s.meter.report(u);
        }
        if !s.meter.has_report() {
            s.meter.text(&emit.text);
        }
        frames.append(&mut emit.chunks);
        if step == StreamStep::Done {
            s.done = true;
        }
    }
    Ok(())
}

/// Reads the whole stream (for a non-stream client request to a stream-only provider) and
/// returns the canonical chunks, unframed.
pub(crate) async fn drain(mut s: Started) -> Result<(Vec<Bytes>, Started), Failure> {
    let mut chunks: Vec<Bytes> = std::mem::take(&mut s.first);
    let mut emit = Emit::default();
    while !s.done {
        let next = tokio::time::timeout(s.idle, s.events.next())
            .await
            .map_err(|_| Failure::Timeout("the upstream went silent".into()))?;
        match next {
            Some(Ok(batch)) => {
                let mut frames = Vec::new();
                convert(&mut s, &batch, &mut emit, &mut frames)?;
                chunks.extend(frames);
            }
            Some(Err(f)) => return Err(f),
            None => {
                return Err(Failure::Protocol(
                    "the upstream closed the stream before it was complete".into(),
                ));
            }
        }
    }
    Ok((chunks, s))
}

/// How a stream ended.
enum End {
    Complete,
    Failed(Failure),
    IdleTimeout,
    ClientGone,
    Shutdown,
}

/// Builds the SSE response and spawns the pump.
pub(crate) fn respond(
    state: &AppState,
    mut s: Started,
    mut billing: Billing,
    mut encoder: Box<dyn Encoder>,
) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(32);
    let keepalive = Duration::from_secs(state.inner.config.server.keepalive_secs.max(1));
    let deadline = state.inner.deadline.clone();
    billing.first_token();
    // The first chunks are the start of the body itself, so that they leave with the headers
    // (one write) instead of waiting for the pump task to be scheduled.
    let mut first = Vec::new();
    for f in std::mem::take(&mut s.first) {
        encoder.chunk(&f, &mut first);
    }
    state
        .inner
        .tasks
        .spawn(pump(s, tx, billing, encoder, keepalive, deadline));
    let body = Body::from_stream(
        futures::stream::iter(first)
            .chain(ReceiverStream::new(rx))
            .map(Ok::<_, Infallible>),
    );
    let mut res = Response::new(body);
    *res.status_mut() = StatusCode::OK;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}

async fn pump(
    mut s: Started,
    tx: mpsc::Sender<Bytes>,
    billing: Billing,
    mut encoder: Box<dyn Encoder>,
    keepalive: Duration,
    deadline: tokio_util::sync::CancellationToken,
) {
    let mut emit = Emit::default();
    let mut frames = std::mem::take(&mut s.first);
    let mut idle_at = Instant::now() + s.idle;
    let mut ticker = tokio::time::interval_at(Instant::now() + keepalive, keepalive);
    let mut out = Vec::new();
    let end = 'outer: loop {
        for f in frames.drain(..) {
            encoder.chunk(&f, &mut out);
        }
        for f in out.drain(..) {
            if tx.send(f).await.is_err() {
                break 'outer End::ClientGone;
            }
        }
        if s.done {
            break End::Complete;
        }
        tokio::select! {
            biased;
            _ = tx.closed() => break End::ClientGone,
            _ = deadline.cancelled() => break End::Shutdown,
            next = tokio::time::timeout_at(idle_at, s.events.next()) => match next {
                Err(_) => break End::IdleTimeout,
                Ok(Some(Ok(batch))) => {
                    idle_at = Instant::now() + s.idle;
                    ticker.reset();
                    if let Err(f) = convert(&mut s, &batch, &mut emit, &mut frames) {
                        break End::Failed(f);
                    }
                }
                Ok(Some(Err(f))) => break End::Failed(f),
                Ok(None) => {
                    break End::Failed(Failure::Protocol(
                        "the upstream closed the stream before it was complete".into(),
                    ));
                }
            },
            _ = ticker.tick() => {
                if tx.send(Bytes::from_static(KEEPALIVE_FRAME)).await.is_err() {
                    break End::ClientGone;
                }
            }
        }
    };
    // Stop reading from the upstream now: dropping the body cancels the upstream request.
    drop(std::mem::replace(
        &mut s.events,
        futures::stream::empty().boxed(),
    ));
    if !matches!(end, End::ClientGone) {
        // Chunks converted before a failure in the same batch still reach the client.
        for f in frames.drain(..) {
            encoder.chunk(&f, &mut out);
        }
        for f in out.drain(..) {
            let _ = tx.send(f).await;
        }
    }
    let metered = s.meter.finish(billing.local_prompt());
    let (status, code, error) = match end {
        End::Complete => (200, None, None),
        End::ClientGone => (CLIENT_CLOSED, Some("client_closed"), None),
        End::IdleTimeout => (
            504,
            Some("upstream_timeout"),
            Some(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_error",
                Some("upstream_timeout"),
                "the upstream went silent for longer than the idle timeout",
            )),
        ),
        End::Shutdown => (
            503,
            Some("shutdown"),
            Some(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                Some("service_unavailable"),
                "the gateway is shutting down; the stream was ended",
            )),
        ),
        End::Failed(f) => {
            let e = f.to_api_error();
            (e.status.as_u16(), Some(f.label()), Some(e))
        }
    };
    if let Some(err) = error {
        let _ = tx.send(encoder.error(&err)).await;
    } else if status == 200 {
        encoder.finish(s.converter.identity(), &metered, &mut out);
        for f in out.drain(..) {
            let _ = tx.send(f).await;
        }
    }
    billing.finish(metered, status, code);
}
