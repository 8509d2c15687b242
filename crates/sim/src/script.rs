//! Scripted response bodies: a list of [`Step`]s (wait, send, abort, hang) played out as a
//! streaming body, with fault injection applied generically so every dialect reuses it.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;

use crate::fault::Fault;
use crate::handle::StreamGuard;

/// Shortest pause before an abort, so hyper flushes everything sent so far (headers included)
/// before it tears the connection down.
const FLUSH_PAUSE: Duration = Duration::from_millis(15);

/// One step of a scripted body.
#[derive(Clone, Debug)]
pub enum Step {
    /// Sleep before the next step.
    Wait(Duration),
    /// Send these bytes as one body frame.
    Send(Bytes),
    /// Record the stream as faulted (no output).
    MarkFaulted,
    /// Fail the body so hyper aborts the connection (truncated body on the client side).
    Abort,
    /// Stop producing output forever while keeping the connection open.
    Hang,
}

/// The ingredients of a stream before faults are applied.
#[derive(Clone, Debug, Default)]
pub struct StreamScript {
    /// Data events (each already framed, e.g. `data: {...}\n\n`).
    pub events: Vec<Bytes>,
    /// Bytes sent after the last event on a clean end (e.g. `data: [DONE]\n\n`).
    pub trailer: Option<Bytes>,
    /// Delay before the first event.
    pub first_delay: Duration,
    /// Delay between events.
    pub interval: Duration,
    /// What a malformed event looks like in this dialect (e.g. `data: {not json\n\n`).
    pub malformed: Bytes,
}

impl StreamScript {
    /// Turns the script into steps, applying a body-level fault (`Status`, `Hang` and `Latency`
    /// are handled before the body exists and are ignored here).
    pub fn into_steps(self, fault: Option<&Fault>) -> Vec<Step> {
        let mut steps = vec![Step::Wait(self.first_delay)];
        let (cut, tail): (usize, Vec<Step>) = match fault {
            Some(Fault::ResetBeforeFirstChunk) => (0, abort()),
            Some(Fault::ResetMidStream { after_chunks }) => (*after_chunks, abort()),
            Some(Fault::MalformedChunk { after_chunks }) => (
                *after_chunks,
                vec![Step::MarkFaulted, Step::Send(self.malformed.clone())],
            ),
            Some(Fault::HangMidStream { after_chunks }) => {
                (*after_chunks, vec![Step::Wait(FLUSH_PAUSE), Step::Hang])
            }
            _ => {
                let mut tail = Vec::new();
                if let Some(trailer) = self.trailer.clone() {
                    tail.push(Step::Send(trailer));
                }
                (usize::MAX, tail)
            }
        };
        for (i, event) in self.events.into_iter().enumerate() {
            if i >= cut {
                break;
            }
            if i > 0 {
                steps.push(Step::Wait(self.interval));
            }
            steps.push(Step::Send(event));
        }
        steps.extend(tail);
        steps
    }
}

fn abort() -> Vec<Step> {
    vec![Step::MarkFaulted, Step::Wait(FLUSH_PAUSE), Step::Abort]
}

/// Plays `steps` as a response body. The guard (if any) is marked complete when the steps run
/// out, faulted on [`Step::MarkFaulted`], and left cancelled if the body is dropped early.
pub fn scripted_body(steps: Vec<Step>, guard: Option<StreamGuard>) -> Body {
    let stream = futures::stream::unfold(
        (steps.into_iter(), guard),
        |(mut steps, mut guard)| async move {
            loop {
                match steps.next() {
                    None => {
                        if let Some(g) = guard.as_mut() {
                            g.complete();
                        }
                        return None;
                    }
                    Some(Step::Wait(d)) => {
                        if !d.is_zero() {
                            tokio::time::sleep(d).await;
                        }
                    }
                    Some(Step::Send(bytes)) => return Some((Ok(bytes), (steps, guard))),
                    Some(Step::MarkFaulted) => {
                        if let Some(g) = guard.as_mut() {
                            g.fault();
                        }
                    }
                    Some(Step::Abort) => {
                        let err = std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "switchyard-sim: injected connection reset",
                        );
                        // Empty the script so a (non-hyper) consumer that polls again sees the end.
                        let rest = Vec::new().into_iter();
                        return Some((Err(err), (rest, guard)));
                    }
                    Some(Step::Hang) => futures::future::pending::<()>().await,
                }
            }
        },
    );
    Body::from_stream(stream)
}
