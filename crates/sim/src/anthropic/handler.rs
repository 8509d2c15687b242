//! `POST /v1/messages`: headers, validation, faults and the (streamed) answer.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::errors::{error_response, sim_error, status_error};
use super::{App, auth, reply, validate};
use crate::fault::Fault;
use crate::script::{Step, StreamScript, scripted_body};

/// What `Fault::MalformedChunk` sends in place of an event.
const MALFORMED_EVENT: &[u8] = b"event: content_block_delta\ndata: {not json\n\n";

fn invalid(message: &str) -> Response {
    error_response(StatusCode::BAD_REQUEST, "invalid_request_error", message)
}

async fn sleep_ms(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// The Messages handler.
pub(super) async fn messages(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let json = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => {
            app.sim.record_request(v.clone());
            Some(v)
        }
        Err(_) => {
            app.sim
                .record_request(Value::String(String::from_utf8_lossy(&body).into_owned()));
            None
        }
    };
    if let Err(resp) = auth::check(&app.cfg, &headers) {
        return *resp;
    }
    let Some(json) = json else {
        return invalid("There was an error parsing your request body as JSON");
    };
    let req = match validate::parse(&app.cfg, &json) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let prompt = format!(
        "{} {}",
        req.last_user_text,
        req.last_tool_results.as_deref().unwrap_or("")
    );
    let fault = match app.sim.take_fault() {
        Some(f) => Some(f),
        None => match Fault::from_prompt(&prompt) {
            None => None,
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => return invalid(&e.to_string()),
        },
    };
    let injected = match fault {
        Some(_) => None,
        None => match sim_error(&prompt) {
            None => None,
            Some(Ok(e)) => Some(e),
            Some(Err(msg)) => return invalid(&msg),
        },
    };
    let mut latency = app.cfg.latency_ms;
    match &fault {
        Some(Fault::Status {
            status,
            body,
            retry_after,
        }) => {
            sleep_ms(latency).await;
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = match body {
                Some(raw) => {
                    let mut r = (status, raw.clone()).into_response();
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    r
                }
                None => status_error(status),
            };
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*secs));
            }
            return resp;
        }
        Some(Fault::Hang) => futures::future::pending::<()>().await,
        Some(Fault::Latency { ms }) => latency += ms,
        _ => {}
    }
    if let Some(e) = injected
        && (e.after.is_none() || !req.stream)
    {
        sleep_ms(latency).await;
        return e.response();
    }

    let plan = reply::plan(&app.cfg, &req);
    if req.stream {
        let mut events: Vec<Bytes> = plan.events().into_iter().map(Bytes::from).collect();
        let mut faulted = false;
        if let Some(e) = injected {
            events.truncate(e.after.unwrap_or(0));
            events.push(Bytes::from(e.event()));
            faulted = true;
        }
        let script = StreamScript {
            events,
            trailer: None,
            first_delay: Duration::from_millis(latency),
            interval: Duration::from_millis(app.cfg.chunk_interval_ms),
            malformed: Bytes::from_static(MALFORMED_EVENT),
        };
        let mut steps = script.into_steps(fault.as_ref());
        if faulted {
            steps.insert(0, Step::MarkFaulted);
        }
        let mut resp = Response::new(scripted_body(steps, Some(app.sim.stream_guard())));
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream; charset=utf-8"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return resp;
    }

    sleep_ms(latency).await;
    let json = plan.message().to_string();
    match fault {
        Some(
            ref f @ (Fault::ResetBeforeFirstChunk
            | Fault::ResetMidStream { .. }
            | Fault::MalformedChunk { .. }
            | Fault::HangMidStream { .. }),
        ) => broken_body(f, json),
        _ => {
            let mut r = (StatusCode::OK, json).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
    }
}

/// A non-stream answer broken by a body-level fault: the JSON is cut in two halves and the
/// fault's chunk count is clamped to the first half.
fn broken_body(fault: &Fault, json: String) -> Response {
    let fault = match fault {
        Fault::ResetMidStream { after_chunks } => Fault::ResetMidStream {
            after_chunks: (*after_chunks).min(1),
        },
        Fault::MalformedChunk { after_chunks } => Fault::MalformedChunk {
            after_chunks: (*after_chunks).min(1),
        },
        Fault::HangMidStream { after_chunks } => Fault::HangMidStream {
            after_chunks: (*after_chunks).min(1),
        },
        other => other.clone(),
    };
    let bytes = Bytes::from(json);
    let mid = bytes.len() / 2;
    let script = StreamScript {
        events: vec![bytes.slice(..mid), bytes.slice(mid..)],
        trailer: None,
        first_delay: Duration::ZERO,
        interval: Duration::ZERO,
        malformed: Bytes::from_static(b"{not json"),
    };
    let mut resp = Response::new(scripted_body(script.into_steps(Some(&fault)), None));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
