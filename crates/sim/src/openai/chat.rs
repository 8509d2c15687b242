//! `POST /v1/chat/completions`: auth, validation, fault injection and the (streamed) answer.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::chunks::{Meta, completion_body, stream_chunks};
use super::errors::{ErrorSpec, error_response, raw_json_response, status_error};
use super::reply::{completion_id, now_secs, plan};
use super::request::parse_chat;
use super::{App, Flavor, check_auth};
use crate::fault::Fault;
use crate::script::{StreamScript, scripted_body};

/// The body sent in place of a chunk by `Fault::MalformedChunk`.
const MALFORMED_EVENT: &[u8] = b"data: {not json\n\n";

/// Records the body, then parses it (a non-JSON body is recorded as a string).
pub(super) fn record_json(app: &App, body: &Bytes) -> Option<Value> {
    app.sim.record_json(body)
}

/// The 400 for a body that is not JSON.
pub(super) fn unparsable(flavor: Flavor) -> Response {
    error_response(
        flavor,
        StatusCode::BAD_REQUEST,
        ErrorSpec::new(
            "We could not parse the JSON body of your request. (HINT: This likely means you \
             aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but \
             what was sent was not valid JSON.)",
        ),
    )
}

async fn sleep_ms(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// The chat completions handler.
pub(super) async fn chat_completions(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let flavor = app.cfg.flavor;
    let parsed = record_json(&app, &body);
    if let Err(resp) = check_auth(&app, &headers) {
        return *resp;
    }
    let Some(json) = parsed else {
        return unparsable(flavor);
    };
    let req = match parse_chat(flavor, &json) {
        Ok(req) => req,
        Err(resp) => return *resp,
    };
    if !app.cfg.knows_model(&req.model) {
        return super::errors::model_not_found(flavor, &req.model);
    }
    let fault = match app.sim.take_fault() {
        Some(fault) => Some(fault),
        None => match Fault::from_prompt(&req.last_user_text) {
            None => None,
            Some(Ok(fault)) => Some(fault),
            Some(Err(err)) => {
                return error_response(
                    flavor,
                    StatusCode::BAD_REQUEST,
                    ErrorSpec::new(err.to_string()),
                );
            }
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
                Some(raw) => raw_json_response(status, raw.clone()),
                None => status_error(flavor, status),
            };
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*secs));
            }
            return resp;
        }
        Some(Fault::Hang) => {
            tracing::debug!("sim: hanging before headers");
            futures::future::pending::<()>().await;
        }
        Some(Fault::Latency { ms }) => latency += ms,
        _ => {}
    }

    let plan = plan(flavor, &req, app.cfg.chunks);
    let meta = Meta {
        flavor,
        id: completion_id(flavor),
        created: now_secs(),
        model: req.model.clone(),
    };
    if req.stream {
        let events = stream_chunks(&meta, &plan, req.include_usage)
            .into_iter()
            .map(|chunk| Bytes::from(format!("data: {chunk}\n\n")))
            .collect();
        let script = StreamScript {
            events,
            trailer: Some(Bytes::from_static(b"data: [DONE]\n\n")),
            first_delay: Duration::from_millis(latency),
            interval: Duration::from_millis(app.cfg.chunk_interval_ms),
            malformed: Bytes::from_static(MALFORMED_EVENT),
        };
        let body = scripted_body(
            script.into_steps(fault.as_ref()),
            Some(app.sim.stream_guard()),
        );
        let mut resp = Response::new(body);
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream; charset=utf-8"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert("x-accel-buffering", HeaderValue::from_static("no"));
        return resp;
    }

    sleep_ms(latency).await;
    let json = completion_body(&meta, &plan).to_string();
    match fault {
        Some(
            ref f @ (Fault::ResetBeforeFirstChunk
            | Fault::ResetMidStream { .. }
            | Fault::MalformedChunk { .. }
            | Fault::HangMidStream { .. }),
        ) => non_stream_fault(f, json),
        _ => raw_json_response(StatusCode::OK, json),
    }
}

/// A non-stream answer broken by a body-level fault: the JSON is cut in two halves and the
/// fault's chunk count is clamped to the first half.
pub(crate) fn non_stream_fault(fault: &Fault, json: String) -> Response {
    let clamp = |n: &usize| (*n).min(1);
    let fault = match fault {
        Fault::ResetMidStream { after_chunks } => Fault::ResetMidStream {
            after_chunks: clamp(after_chunks),
        },
        Fault::MalformedChunk { after_chunks } => Fault::MalformedChunk {
            after_chunks: clamp(after_chunks),
        },
        Fault::HangMidStream { after_chunks } => Fault::HangMidStream {
            after_chunks: clamp(after_chunks),
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
