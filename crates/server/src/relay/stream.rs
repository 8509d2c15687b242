//! The stream pipeline: wait for the upstream's first chunk (so failover stays possible), then
//! relay upstream events to the client as the response body (`Relay`).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use switchyard_core::meter::Meter;
use switchyard_providers::{Emit, ResponseCtx, StreamConverter, StreamStep};
use switchyard_sse::{Event, KEEPALIVE_FRAME};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;

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

/// Builds the SSE response. Its body converts upstream events as the client's connection asks
/// for them: no task or channel sits between the two connections.
pub(crate) fn respond(
    state: &AppState,
    mut s: Started,
    mut billing: Billing,
    mut encoder: Box<dyn Encoder>,
) -> Response {
    let keepalive = Duration::from_secs(state.inner.config.server.keepalive_secs.max(1));
    billing.first_token();
    // The first chunks are the start of the body itself, so that they leave with the headers.
    let mut out = Vec::new();
    for f in std::mem::take(&mut s.first) {
        encoder.chunk(&f, &mut out);
    }
    let now = Instant::now();
    let relay = Relay {
        timer: Box::pin(tokio::time::sleep_until(now + keepalive.min(s.idle))),
        last_event: now,
        last_beat: now,
        keepalive,
        shutdown: Box::pin(state.inner.deadline.clone().cancelled_owned()),
        s,
        billing: Some(billing),
        encoder,
        emit: Emit::default(),
        frames: Vec::new(),
        out,
        sent: 0,
    };
    let mut res = Response::new(Body::from_stream(relay));
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

/// The body of a streamed answer.
///
/// It sends keep-alive comments while the upstream is silent and ends the stream with an error
/// event when the upstream fails, goes idle past the limit, or the shutdown deadline passes.
/// A client that goes away drops it, which drops the upstream response and so cancels the
/// upstream request. In every case the usage produced so far is settled once (`billing` is
/// taken by the first settlement; `Drop` settles a stream the client left).
///
/// One timer serves both the keep-alive and the idle limit: an upstream event only records
/// when it came, and the timer, when it fires, works out which of the two is due and re-arms
/// for the next.
struct Relay {
    s: Started,
    billing: Option<Billing>,
    encoder: Box<dyn Encoder>,
    emit: Emit,
    /// Canonical chunks converted from the current batch.
    frames: Vec<Bytes>,
    /// Encoded frames; `out[sent..]` are still to go.
    out: Vec<Bytes>,
    sent: usize,
    timer: Pin<Box<Sleep>>,
    last_event: Instant,
    /// The later of the last upstream event and the last keep-alive sent.
    last_beat: Instant,
    keepalive: Duration,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Relay {
    fn encode_frames(&mut self) {
        for f in self.frames.drain(..) {
            self.encoder.chunk(&f, &mut self.out);
        }
    }

    /// Ends the stream: stops reading the upstream, queues the closing frames and settles.
    fn end(&mut self, end: End) {
        let Some(billing) = self.billing.take() else {
            return;
        };
        // Dropping the upstream body cancels the upstream request.
        self.s.events = futures::stream::empty().boxed();
        if !matches!(end, End::ClientGone) {
            // Chunks converted before a failure in the same batch still reach the client.
            self.encode_frames();
        }
        let metered = self.s.meter.finish(|| billing.local_prompt());
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
            let frame = self.encoder.error(&err);
            self.out.push(frame);
        } else if status == 200 {
            self.encoder
                .finish(self.s.converter.identity(), &metered, &mut self.out);
        }
        billing.finish(metered, status, code);
    }

    /// Reads what is ready from the upstream, the shutdown signal and the timer; `Pending`
    /// when none of them has anything.
    fn advance(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.s.done {
            self.end(End::Complete);
            return Poll::Ready(());
        }
        if self.shutdown.as_mut().poll(cx).is_ready() {
            self.end(End::Shutdown);
            return Poll::Ready(());
        }
        match self.s.events.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(batch))) => {
                self.last_event = Instant::now();
                self.last_beat = self.last_event;
                match convert(&mut self.s, &batch, &mut self.emit, &mut self.frames) {
                    Ok(()) => self.encode_frames(),
                    Err(f) => self.end(End::Failed(f)),
                }
                return Poll::Ready(());
            }
            Poll::Ready(Some(Err(f))) => {
                self.end(End::Failed(f));
                return Poll::Ready(());
            }
            Poll::Ready(None) => {
                self.end(End::Failed(Failure::Protocol(
                    "the upstream closed the stream before it was complete".into(),
                )));
                return Poll::Ready(());
            }
            Poll::Pending => {}
        }
        while self.timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            let idle_at = self.last_event + self.s.idle;
            if now >= idle_at {
                self.end(End::IdleTimeout);
                return Poll::Ready(());
            }
            let mut beat_at = self.last_beat + self.keepalive;
            if now >= beat_at {
                self.out.push(Bytes::from_static(KEEPALIVE_FRAME));
                self.last_beat = now;
                beat_at = now + self.keepalive;
            }
            self.timer.as_mut().reset(idle_at.min(beat_at));
            if self.sent < self.out.len() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }
}

impl Stream for Relay {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(f) = this.out.get_mut(this.sent) {
                let f = std::mem::take(f);
                this.sent += 1;
                if this.sent == this.out.len() {
                    this.out.clear();
                    this.sent = 0;
                }
                return Poll::Ready(Some(Ok(f)));
            }
            if this.billing.is_none() {
                return Poll::Ready(None);
            }
            std::task::ready!(this.advance(cx));
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // Dropped before its end: the client went away.
        self.end(End::ClientGone);
    }
}
