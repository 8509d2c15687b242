//! `POST …/wenxinworkshop/chat/{endpoint}`: endpoint, token and body checks, faults, the
//! (streamed) answer.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::errors::{self, json_response};
use super::reply::{
    Answer, TOOL_ARGUMENTS, UNSAFE_MARKER, UNSAFE_REPLY, error_marker, now_secs, prompt_tokens,
    request_id,
};
use super::{App, check_token};
use crate::fault::Fault;
use crate::script::{StreamScript, scripted_body};

/// A checked v1 chat request.
struct Chat {
    stream: bool,
    /// Last message's text (a user question or a function result).
    last_text: String,
    last_is_function: bool,
    function: Option<String>,
    max_output_tokens: Option<u64>,
    prompt_tokens: u64,
}

fn invalid(message: impl Into<String>) -> Box<Response> {
    Box::new(errors::v1(336003, &message.into()))
}

fn range(
    body: &Map<String, Value>,
    field: &str,
    ok: impl Fn(f64) -> bool,
    what: &str,
) -> Result<(), Box<Response>> {
    match body.get(field) {
        None => Ok(()),
        Some(v) => match v.as_f64() {
            Some(f) if ok(f) => Ok(()),
            _ => Err(invalid(format!("the value of {field} must be in {what}"))),
        },
    }
}

/// Validates the body the way the service does.
fn check(body: &Map<String, Value>) -> Result<Chat, Box<Response>> {
    let Some(Value::Array(msgs)) = body.get("messages") else {
        return Err(invalid("messages can not be empty"));
    };
    if msgs.is_empty() {
        return Err(invalid("messages can not be empty"));
    }
    if msgs.len() % 2 == 0 {
        return Err(Box::new(errors::v1_code(336006)));
    }
    let mut texts: Vec<&str> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let user_side = matches!(role, "user" | "function");
        if (i % 2 == 0 && !user_side) || (i % 2 == 1 && role != "assistant") {
            // The service reports broken alternation with the odd-length message.
            return Err(Box::new(errors::v1_code(336006)));
        }
        let content = match m.get("content") {
            Some(Value::String(s)) => s.as_str(),
            Some(Value::Null) | None => "",
            Some(_) => return Err(invalid(format!("messages[{i}].content must be a string"))),
        };
        let calls = m.get("function_call").is_some_and(Value::is_object);
        if content.is_empty() && !calls {
            return Err(invalid("message content can not be empty"));
        }
        if role == "function"
            && m.get("name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            return Err(invalid(format!(
                "messages[{i}].name is required for function messages"
            )));
        }
        texts.push(content);
    }
    match body.get("system") {
        None | Some(Value::String(_)) => {}
        Some(_) => return Err(Box::new(errors::v1_code(336104))),
    }
    range(body, "temperature", |t| t > 0.0 && t <= 1.0, "(0, 1.0]")?;
    range(body, "top_p", |t| (0.0..=1.0).contains(&t), "[0, 1.0]")?;
    range(
        body,
        "penalty_score",
        |t| (1.0..=2.0).contains(&t),
        "[1.0, 2.0]",
    )?;
    let max_output_tokens = match body.get("max_output_tokens") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 2 => Some(n),
            _ => {
                return Err(invalid(
                    "the value of max_output_tokens must be in [2, 2048]",
                ));
            }
        },
    };
    if let Some(stop) = body.get("stop") {
        let ok = stop.as_array().is_some_and(|a| {
            a.len() <= 4
                && a.iter()
                    .all(|s| s.as_str().is_some_and(|s| s.chars().count() <= 20))
        });
        if !ok {
            return Err(invalid(
                "stop must be a list of at most 4 strings of at most 20 characters",
            ));
        }
    }
    let function = match body.get("functions") {
        None => None,
        Some(Value::Array(fs)) if !fs.is_empty() => {
            let names: Vec<&str> = fs.iter().filter_map(|f| f.get("name")?.as_str()).collect();
            if names.len() != fs.len() || names.iter().any(|n| n.is_empty()) {
                return Err(invalid("functions[].name is required"));
            }
            let chosen = body
                .get("tool_choice")
                .and_then(|c| c.get("function"))
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str);
            Some(chosen.unwrap_or(names[0]).to_owned())
        }
        Some(_) => return Err(invalid("functions must be a non-empty list")),
    };
    let last = msgs.last().unwrap_or(&Value::Null);
    let system = body.get("system").and_then(Value::as_str);
    Ok(Chat {
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        last_text: texts.last().copied().unwrap_or("").to_owned(),
        last_is_function: last.get("role").and_then(Value::as_str) == Some("function"),
        function,
        max_output_tokens,
        prompt_tokens: prompt_tokens(texts.iter().copied().chain(system)),
    })
}

/// The handler.
pub(super) async fn chat(
    State(app): State<App>,
    Path(endpoint): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    app.sim.record_request(
        parsed
            .clone()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned())),
    );
    if !app.cfg.knows_endpoint(&endpoint) {
        return errors::v1_code(3);
    }
    if let Err(resp) = check_token(&app, q.get("access_token")) {
        return *resp;
    }
    let Some(Value::Object(obj)) = parsed else {
        return errors::v1_code(336002);
    };
    let req = match check(&obj) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let user_text = if req.last_is_function {
        ""
    } else {
        req.last_text.as_str()
    };
    if let Some(code) = error_marker(user_text) {
        return match code
            .parse::<i64>()
            .ok()
            .filter(|c| errors::v1_message(*c).is_some())
        {
            Some(c) => errors::v1_code(c),
            None => errors::v1(
                336003,
                &format!("sim_error: unknown Qianfan error code `{code}`"),
            ),
        };
    }
    let fault = match app.sim.take_fault() {
        Some(f) => Some(f),
        None => match Fault::from_prompt(user_text) {
            None => None,
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => return errors::v1(336003, &e.to_string()),
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
                Some(raw) => json_response(status, raw.clone()),
                None => {
                    let code = errors::v1_code_for_status(status.as_u16());
                    errors::v1_with_status(status, code, errors::v1_message(code).unwrap_or(""))
                }
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
    let unsafe_answer = user_text.contains(UNSAFE_MARKER);
    let answer = match &req.function {
        Some(name) if !req.last_is_function && !unsafe_answer => Answer::call(name, app.cfg.chunks),
        _ if unsafe_answer => Answer::text(UNSAFE_REPLY, 1, None),
        _ => {
            let echo = if req.last_is_function {
                format!("tool result: {}", req.last_text)
            } else {
                req.last_text.clone()
            };
            let text = format!("Hello from qianfan {endpoint}: {echo}");
            Answer::text(&text, app.cfg.chunks, req.max_output_tokens)
        }
    };
    let meta = Meta {
        id: request_id(),
        created: now_secs(),
        prompt: req.prompt_tokens,
        unsafe_answer,
    };
    if req.stream {
        let events = stream_events(&meta, &answer)
            .into_iter()
            .map(|v| Bytes::from(format!("data: {v}\n\n")))
            .collect();
        let script = StreamScript {
            events,
            trailer: None,
            first_delay: Duration::from_millis(latency),
            interval: Duration::from_millis(app.cfg.chunk_interval_ms),
            malformed: Bytes::from_static(b"data: {not json\n\n"),
        };
        let body = scripted_body(
            script.into_steps(fault.as_ref()),
            Some(app.sim.stream_guard()),
        );
        let mut resp = Response::new(body);
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return resp;
    }
    sleep_ms(latency).await;
    let json = whole(&meta, &answer).to_string();
    match fault {
        Some(
            Fault::ResetBeforeFirstChunk
            | Fault::ResetMidStream { .. }
            | Fault::MalformedChunk { .. }
            | Fault::HangMidStream { .. },
        ) => {
            let bytes = Bytes::from(json);
            let mid = bytes.len() / 2;
            let script = StreamScript {
                events: vec![bytes.slice(..mid), bytes.slice(mid..)],
                trailer: None,
                first_delay: Duration::ZERO,
                interval: Duration::ZERO,
                malformed: Bytes::from_static(b"{not json"),
            };
            let clamped = match fault {
                Some(Fault::ResetMidStream { .. }) => Fault::ResetMidStream { after_chunks: 1 },
                Some(Fault::MalformedChunk { .. }) => Fault::MalformedChunk { after_chunks: 1 },
                Some(Fault::HangMidStream { .. }) => Fault::HangMidStream { after_chunks: 1 },
                _ => Fault::ResetBeforeFirstChunk,
            };
            let mut resp = Response::new(scripted_body(script.into_steps(Some(&clamped)), None));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        _ => json_response(StatusCode::OK, json),
    }
}

async fn sleep_ms(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

struct Meta {
    id: String,
    created: u64,
    prompt: u64,
    unsafe_answer: bool,
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

fn object(meta: &Meta) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("id".into(), json!(meta.id));
    o.insert("object".into(), json!("chat.completion"));
    o.insert("created".into(), json!(meta.created));
    o
}

fn finish(answer: &Answer) -> &'static str {
    match answer {
        Answer::Call { .. } => "function_call",
        Answer::Text {
            truncated: true, ..
        } => "length",
        Answer::Text { .. } => "normal",
    }
}

fn function_call(name: &str) -> Value {
    json!({"name": name, "thoughts": "The user asked about the weather; calling the tool.", "arguments": TOOL_ARGUMENTS})
}

/// The non-stream answer.
fn whole(meta: &Meta, answer: &Answer) -> Value {
    let mut o = object(meta);
    let text = match answer {
        Answer::Text { pieces, .. } => pieces.concat(),
        Answer::Call { .. } => String::new(),
    };
    o.insert("result".into(), json!(text));
    o.insert("is_truncated".into(), json!(false));
    o.insert("need_clear_history".into(), json!(meta.unsafe_answer));
    if meta.unsafe_answer {
        o.insert("ban_round".into(), json!(-1));
    }
    o.insert("finish_reason".into(), json!(finish(answer)));
    if let Answer::Call { name, .. } = answer {
        o.insert("function_call".into(), function_call(name));
    }
    o.insert("usage".into(), usage(meta.prompt, answer.tokens()));
    Value::Object(o)
}

/// The stream events: one per piece, the last one `is_end` with the real usage; a function call
/// is one `is_end` event.
fn stream_events(meta: &Meta, answer: &Answer) -> Vec<Value> {
    let pieces: Vec<String> = match answer {
        Answer::Text { pieces, .. } => pieces.clone(),
        Answer::Call { .. } => vec![String::new()],
    };
    let n = pieces.len();
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let end = i + 1 == n;
            let mut o = object(meta);
            o.insert("sentence_id".into(), json!(i));
            o.insert("is_end".into(), json!(end));
            o.insert("is_truncated".into(), json!(false));
            o.insert("result".into(), json!(piece));
            o.insert("need_clear_history".into(), json!(meta.unsafe_answer));
            if meta.unsafe_answer {
                o.insert("ban_round".into(), json!(-1));
            }
            o.insert(
                "finish_reason".into(),
                json!(if end { finish(answer) } else { "normal" }),
            );
            if end && let Answer::Call { name, .. } = answer {
                o.insert("function_call".into(), function_call(name));
            }
            let completion = if end { answer.tokens() } else { 0 };
            o.insert("usage".into(), usage(meta.prompt, completion));
            Value::Object(o)
        })
        .collect()
}
