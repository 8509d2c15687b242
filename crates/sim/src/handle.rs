//! Shared plumbing for every simulator: the observable state ([`SimState`]), the drop guard that
//! classifies streams ([`StreamGuard`]) and the running server ([`SimHandle`]).
//!
//! The server is a small hyper accept loop rather than `axum::serve` so that shutting a simulator
//! down also aborts in-flight connections (including ones parked by [`crate::Fault::Hang`]).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::fault::Fault;

/// Observable, shareable state of one simulator instance (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct SimState {
    inner: Arc<Inner>,
}

/// Request bodies kept for inspection: the most recent ones only, so that a simulator under a
/// long load (the benchmark) does not grow without bound.
const KEPT_REQUESTS: usize = 1000;

#[derive(Debug, Default)]
struct Inner {
    requests: Mutex<VecDeque<Value>>,
    received: AtomicUsize,
    faults: Mutex<VecDeque<Fault>>,
    completed: AtomicUsize,
    cancelled: AtomicUsize,
    faulted: AtomicUsize,
    open_connections: AtomicUsize,
}

impl SimState {
    /// A fresh state with no requests, faults or streams.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a fault for the next chat request (FIFO).
    pub fn push_fault(&self, fault: Fault) {
        self.inner.faults.lock().push_back(fault);
    }

    /// Removes and returns the oldest queued fault.
    pub fn take_fault(&self) -> Option<Fault> {
        self.inner.faults.lock().pop_front()
    }

    /// Number of queued, not yet consumed faults.
    pub fn pending_faults(&self) -> usize {
        self.inner.faults.lock().len()
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.inner.faults.lock().clear();
    }

    /// Records one received request body.
    pub fn record_request(&self, body: Value) {
        self.inner.received.fetch_add(1, Ordering::SeqCst);
        let mut kept = self.inner.requests.lock();
        if kept.len() == KEPT_REQUESTS {
            kept.pop_front();
        }
        kept.push_back(body);
    }

    /// Records raw request bytes and returns them parsed; a body that is not JSON is recorded
    /// as a string and gives `None`.
    pub fn record_json(&self, body: &[u8]) -> Option<Value> {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                self.record_request(v.clone());
                Some(v)
            }
            Err(_) => {
                self.record_request(Value::String(String::from_utf8_lossy(body).into_owned()));
                None
            }
        }
    }

    /// The chat/embeddings request bodies received (the last 1000), in arrival order (including
    /// requests later rejected for auth or validation; a body that is not JSON is recorded as a
    /// string).
    pub fn requests(&self) -> Vec<Value> {
        self.inner.requests.lock().iter().cloned().collect()
    }

    /// Number of request bodies received.
    pub fn request_count(&self) -> usize {
        self.inner.received.load(Ordering::SeqCst)
    }

    /// Streams that were sent to their clean end (after `[DONE]` or the dialect's terminator).
    pub fn completed_streams(&self) -> usize {
        self.inner.completed.load(Ordering::SeqCst)
    }

    /// Streams whose client went away (or whose connection was shut down) before the end.
    pub fn cancelled_streams(&self) -> usize {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Streams ended by an injected fault (reset or malformed chunk); counted in neither
    /// [`Self::completed_streams`] nor [`Self::cancelled_streams`].
    pub fn faulted_streams(&self) -> usize {
        self.inner.faulted.load(Ordering::SeqCst)
    }

    /// TCP connections open now (accepted and not yet closed by either side).
    pub fn open_connections(&self) -> usize {
        self.inner.open_connections.load(Ordering::SeqCst)
    }

    /// A guard to keep inside a streaming body; see [`StreamGuard`].
    pub fn stream_guard(&self) -> StreamGuard {
        StreamGuard {
            state: self.clone(),
            outcome: StreamOutcome::Cancelled,
        }
    }
}

/// How a guarded stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamOutcome {
    /// Dropped before its end (the default while the stream is running).
    Cancelled,
    /// Reached its clean end.
    Completed,
    /// Ended by an injected fault.
    Faulted,
}

/// Lives inside a streaming response body; when dropped it bumps the counter matching its
/// outcome. A body dropped by hyper because the client went away is still `Cancelled`.
#[derive(Debug)]
pub struct StreamGuard {
    state: SimState,
    outcome: StreamOutcome,
}

impl StreamGuard {
    /// Marks the stream as finished cleanly (unless a fault was already recorded).
    pub fn complete(&mut self) {
        if self.outcome != StreamOutcome::Faulted {
            self.outcome = StreamOutcome::Completed;
        }
    }

    /// Marks the stream as ended by an injected fault.
    pub fn fault(&mut self) {
        self.outcome = StreamOutcome::Faulted;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let counter = match self.outcome {
            StreamOutcome::Cancelled => &self.state.inner.cancelled,
            StreamOutcome::Completed => &self.state.inner.completed,
            StreamOutcome::Faulted => &self.state.inner.faulted,
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

/// A running simulator. Dropping it (or calling [`SimHandle::shutdown`]) stops the listener and
/// aborts every open connection.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    state: SimState,
    stop: watch::Sender<bool>,
}

impl SimHandle {
    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT/v1`, the base URL an OpenAI client expects.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://IP:PORT` without a path.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The shared observable state.
    pub fn state(&self) -> &SimState {
        &self.state
    }

    /// Queues a fault for the next chat request (FIFO).
    pub fn push_fault(&self, fault: Fault) {
        self.state.push_fault(fault);
    }

    /// Every chat/embeddings request body received, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.state.requests()
    }

    /// Number of request bodies received.
    pub fn request_count(&self) -> usize {
        self.state.request_count()
    }

    /// TCP connections open now.
    pub fn open_connections(&self) -> usize {
        self.state.open_connections()
    }

    /// Streams sent to their clean end.
    pub fn completed_streams(&self) -> usize {
        self.state.completed_streams()
    }

    /// Streams whose client went away before the end.
    pub fn cancelled_streams(&self) -> usize {
        self.state.cancelled_streams()
    }

    /// Streams ended by an injected fault.
    pub fn faulted_streams(&self) -> usize {
        self.state.faulted_streams()
    }

    /// Stops accepting and aborts all connections. Idempotent; also done on drop.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Serves `router` on `listener` in a background task and returns its handle.
pub fn serve(listener: TcpListener, router: Router, state: SimState) -> SimHandle {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let (stop, stop_rx) = watch::channel(false);
    tokio::spawn(accept_loop(listener, router, state.clone(), stop_rx));
    SimHandle { addr, state, stop }
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    state: SimState,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let service = TowerToHyperService::new(router.clone());
                    let open = OpenConnection::new(&state);
                    conns.spawn(async move {
                        let _open = open;
                        let conn = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            // WebSocket simulators (Spark) take the connection over after a 101.
                            .with_upgrades();
                        if let Err(err) = conn.await {
                            tracing::debug!(%err, "sim connection ended with an error");
                        }
                    });
                }
                Err(err) => {
                    tracing::warn!(%err, "sim accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            },
        }
    }
    conns.abort_all();
    tracing::debug!("sim server stopped");
}

/// Counts a connection in [`SimState::open_connections`] while it lives (aborted ones too).
struct OpenConnection(SimState);

impl OpenConnection {
    fn new(state: &SimState) -> Self {
        state.inner.open_connections.fetch_add(1, Ordering::SeqCst);
        Self(state.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.inner.open_connections.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod kept_tests {
    use super::*;

    #[test]
    fn only_the_latest_bodies_are_kept_but_all_are_counted() {
        let s = SimState::new();
        for i in 0..KEPT_REQUESTS + 5 {
            s.record_request(Value::from(i));
        }
        assert_eq!(s.request_count(), KEPT_REQUESTS + 5);
        let kept = s.requests();
        assert_eq!(kept.len(), KEPT_REQUESTS);
        assert_eq!(kept[0], Value::from(5));
        assert_eq!(kept.last(), Some(&Value::from(KEPT_REQUESTS + 4)));
    }
}
