//! `:generateContent`, `:streamGenerateContent` and `:countTokens`: validation, fault
//! injection and the (streamed) answer.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::errors::{self, json_response};
use super::reply;
use super::{App, ERROR_MARKER, Framing, keys, validate};
use crate::fault::Fault;
use crate::script::{StreamScript, scripted_body};

/// An injected `sim_error:` request.
#[derive(Debug, PartialEq, Eq)]
enum Injected {
    /// An error answer (or, with `Some(n)` in a stream, an error event after `n` events).
    Error(String, Option<usize>),
    /// A 200 whose prompt was blocked.
    PromptBlocked,
    /// A 200 whose candidate was stopped by a filter.
    Filtered(&'static str),
}

fn parse_injected(text: &str) -> Option<Result<Injected, String>> {
    let start = text.find(ERROR_MARKER)? + ERROR_MARKER.len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '@'))
        .unwrap_or(rest.len());
    let spec = &rest[..end];
    let (code, after) = match spec.split_once('@') {
        Some((c, n)) => match n.parse::<usize>() {
            Ok(n) => (c, Some(n)),
            Err(_) => return Some(Err(format!("sim_error: bad event count in `{spec}`"))),
        },
        None => (spec, None),
    };
    Some(match code {
        "PROMPT_BLOCKED" => Ok(Injected::PromptBlocked),
        "SAFETY" => Ok(Injected::Filtered("SAFETY")),
        "RECITATION" => Ok(Injected::Filtered("RECITATION")),
        c if errors::injected(c).is_some() => Ok(Injected::Error(c.to_owned(), after)),
        other => Err(format!("sim_error: unknown code `{other}`")),
    })
}

async fn sleep_ms(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

fn sse_event(v: &Value, framing: Framing) -> Bytes {
    Bytes::from(format!("data: {v}{}", framing.terminator()))
}

/// The handler of the three chat methods.
pub(crate) async fn handle(
    app: &App,
    model: &str,
    method: &str,
    alt_sse: bool,
    body: &Value,
) -> Response {
    if let Err(resp) = keys::check(body, &keys::GENERATE_REQUEST, "") {
        return *resp;
    }
    let req = match validate::generate(body, model) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    if method == "countTokens" {
        return json_response(
            StatusCode::OK,
            &json!({"totalTokens": req.prompt_tokens,
                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": req.prompt_tokens}]}),
        );
    }
    let fault = match app.sim.take_fault() {
        Some(f) => Some(f),
        None => match Fault::from_prompt(&req.last_user_text) {
            None => None,
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => return errors::invalid(&e.to_string()),
        },
    };
    let injected = match parse_injected(&req.last_user_text) {
        None => None,
        Some(Ok(i)) => Some(i),
        Some(Err(e)) => return errors::invalid(&e),
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
                    let mut r = Response::new(axum::body::Body::from(raw.clone()));
                    *r.status_mut() = status;
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json; charset=UTF-8"),
                    );
                    r
                }
                None => errors::status_response(status),
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
    let stream = method == "streamGenerateContent";
    if let Some(Injected::Error(code, after)) = &injected
        && !(stream && after.is_some())
    {
        sleep_ms(latency).await;
        return errors::injected_response(code).unwrap_or_else(|| errors::invalid(code));
    }
    let plan = reply::plan(model, &req, app.cfg.chunks, app.cfg.cached_tokens);
    let mut chunks = match &injected {
        Some(Injected::PromptBlocked) => vec![reply::blocked(&plan)],
        Some(Injected::Filtered(reason)) => vec![reply::filtered(&plan, reason)],
        _ => plan.chunks(),
    };
    if !stream {
        sleep_ms(latency).await;
        let whole = match &injected {
            Some(Injected::PromptBlocked | Injected::Filtered(_)) => chunks.remove(0),
            _ => plan.whole(),
        };
        return match &fault {
            Some(
                f @ (Fault::ResetBeforeFirstChunk
                | Fault::ResetMidStream { .. }
                | Fault::MalformedChunk { .. }
                | Fault::HangMidStream { .. }),
            ) => broken_json(f, &whole),
            _ => json_response(StatusCode::OK, &whole),
        };
    }
    if let Some(Injected::Error(code, Some(n))) = &injected {
        chunks.truncate(*n);
        if let Some(e) = errors::injected_body(code) {
            chunks.push(e);
        }
    }
    stream_response(app, chunks, alt_sse, latency, fault.as_ref())
}

fn stream_response(
    app: &App,
    chunks: Vec<Value>,
    alt_sse: bool,
    latency: u64,
    fault: Option<&Fault>,
) -> Response {
    let framing = app.cfg.framing;
    let (events, trailer, malformed, content_type) = if alt_sse {
        (
            chunks.iter().map(|c| sse_event(c, framing)).collect(),
            None,
            Bytes::from(format!("data: {{not json{}", framing.terminator())),
            "text/event-stream",
        )
    } else {
        // Without alt=sse Google streams one JSON array, element by element.
        let events = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let text = serde_json::to_string_pretty(c).unwrap_or_else(|_| c.to_string());
                Bytes::from(if i == 0 {
                    format!("[{text}")
                } else {
                    format!("\n,\r\n{text}")
                })
            })
            .collect();
        (
            events,
            Some(Bytes::from_static(b"]")),
            Bytes::from_static(b"\n,\r\n{not json"),
            "application/json; charset=UTF-8",
        )
    };
    let script = StreamScript {
        events,
        trailer,
        first_delay: Duration::from_millis(latency),
        interval: Duration::from_millis(app.cfg.chunk_interval_ms),
        malformed,
    };
    let body = scripted_body(script.into_steps(fault), Some(app.sim.stream_guard()));
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// A non-stream answer broken by a body-level fault: the JSON is cut in two halves.
fn broken_json(fault: &Fault, whole: &Value) -> Response {
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
    let bytes = Bytes::from(serde_json::to_string_pretty(whole).unwrap_or_default());
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
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::{Injected, parse_injected};

    #[test]
    fn parses_injected_codes() {
        assert_eq!(
            parse_injected("x sim_error:RESOURCE_EXHAUSTED."),
            Some(Ok(Injected::Error("RESOURCE_EXHAUSTED".into(), None)))
        );
        assert_eq!(
            parse_injected("sim_error:INTERNAL@2"),
            Some(Ok(Injected::Error("INTERNAL".into(), Some(2))))
        );
        assert_eq!(
            parse_injected("sim_error:PROMPT_BLOCKED"),
            Some(Ok(Injected::PromptBlocked))
        );
        assert_eq!(
            parse_injected("sim_error:SAFETY"),
            Some(Ok(Injected::Filtered("SAFETY")))
        );
        assert!(matches!(parse_injected("sim_error:NOPE"), Some(Err(_))));
        assert!(matches!(
            parse_injected("sim_error:INTERNAL@x"),
            Some(Err(_))
        ));
        assert_eq!(parse_injected("nothing"), None);
    }
}
