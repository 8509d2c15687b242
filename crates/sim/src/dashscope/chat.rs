//! The two generation services: auth, validation, faults and the (streamed) answer.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::answer::{Plan, error_frame, plan, result_frame};
use super::errors::{self, ErrorDirective};
use super::request::{Service, is_vision_model, parse};
use super::{App, admit};
use crate::fault::Fault;
use crate::openai::{non_stream_fault, raw_json_response};
use crate::script::{StreamScript, scripted_body};

/// What a malformed result frame looks like (`Fault::MalformedChunk`).
const MALFORMED_FRAME: &[u8] = b"id:0\nevent:result\n:HTTP_STATUS/200\ndata:{not json\n\n";

/// `POST /api/v1/services/aigc/text-generation/generation`.
pub(super) async fn text_generation(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    generation(app, Service::Text, headers, body).await
}

/// `POST /api/v1/services/aigc/multimodal-generation/generation`.
pub(super) async fn multimodal_generation(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    generation(app, Service::Multimodal, headers, body).await
}

/// True when the request asked for server-sent events (either header will do).
fn wants_stream(headers: &HeaderMap) -> bool {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    header("x-dashscope-sse").is_some_and(|v| v.eq_ignore_ascii_case("enable"))
        || header("accept").is_some_and(|v| v.contains("text/event-stream"))
}

async fn sleep_ms(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// What the request asked the simulator to do wrong, if anything.
enum Trouble {
    Fault(Fault),
    Business(ErrorDirective),
}

async fn generation(app: App, service: Service, headers: HeaderMap, body: Bytes) -> Response {
    let (rid, json) = match admit(&app, &headers, &body) {
        Ok(admitted) => admitted,
        Err(resp) => return *resp,
    };
    let req = match parse(&json, service) {
        Ok(req) => req,
        Err(message) => return errors::invalid(&message, &rid),
    };
    if !app.cfg.knows_model(&req.model) {
        return errors::invalid("Model not exist.", &rid);
    }
    if is_vision_model(&req.model) != (service == Service::Multimodal) {
        return errors::invalid("url error, please check url!", &rid);
    }
    let trouble = match app.sim.take_fault() {
        Some(f) => Some(Trouble::Fault(f)),
        None => match Fault::from_prompt(&req.last_user_text) {
            Some(Ok(f)) => Some(Trouble::Fault(f)),
            Some(Err(e)) => return errors::invalid(&e.to_string(), &rid),
            None => match ErrorDirective::from_prompt(&req.last_user_text) {
                Some(Ok(d)) => Some(Trouble::Business(d)),
                Some(Err(e)) => return errors::invalid(&e, &rid),
                None => None,
            },
        },
    };
    let stream = wants_stream(&headers);
    let mut latency = app.cfg.latency_ms;
    let mut fault = None;
    let mut in_stream_error = None;
    match trouble {
        Some(Trouble::Fault(Fault::Status {
            status,
            body,
            retry_after,
        })) => {
            sleep_ms(latency).await;
            let mut resp = match body {
                Some(raw) => raw_json_response(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    raw,
                ),
                None => errors::for_status(status, &rid),
            };
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return resp;
        }
        Some(Trouble::Fault(Fault::Hang)) => futures::future::pending::<()>().await,
        Some(Trouble::Fault(Fault::Latency { ms })) => latency += ms,
        Some(Trouble::Fault(f)) => fault = Some(f),
        Some(Trouble::Business(d)) => {
            if !stream || d.http.is_some() {
                sleep_ms(latency).await;
                let status = d.http.unwrap_or_else(|| errors::status_of(&d.code));
                return errors::response(status, &d.code, errors::message_of(&d.code), &rid);
            }
            in_stream_error = Some(d);
        }
        None => {}
    }

    let plan = plan(&req, app.cfg.chunks, rid.clone());
    if stream {
        return stream_response(&app, &plan, latency, fault.as_ref(), in_stream_error, &rid);
    }
    sleep_ms(latency).await;
    let json = plan.body().to_string();
    match fault {
        Some(f) => non_stream_fault(&f, json),
        None => raw_json_response(StatusCode::OK, json),
    }
}

fn stream_response(
    app: &App,
    plan: &Plan,
    latency: u64,
    fault: Option<&Fault>,
    error: Option<ErrorDirective>,
    rid: &str,
) -> Response {
    let mut frames: Vec<String> = plan
        .chunks()
        .iter()
        .enumerate()
        .map(|(i, data)| result_frame(i + 1, data))
        .collect();
    if let Some(d) = error {
        frames.truncate(d.after);
        let body = errors::body(&d.code, errors::message_of(&d.code), rid);
        frames.push(error_frame(d.after + 1, errors::status_of(&d.code), &body));
    }
    let script = StreamScript {
        events: frames.into_iter().map(Bytes::from).collect(),
        trailer: None,
        first_delay: Duration::from_millis(latency),
        interval: Duration::from_millis(app.cfg.chunk_interval_ms),
        malformed: Bytes::from_static(MALFORMED_FRAME),
    };
    let body = scripted_body(script.into_steps(fault), Some(app.sim.stream_guard()));
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream;charset=UTF-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
