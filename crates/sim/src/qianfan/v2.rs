//! Simulator of Qianfan v2: `POST /v2/chat/completions`, OpenAI-shaped, with
//! `Authorization: Bearer bce-v3/…`.
//!
//! A missing or different key answers 401 `invalid_iam_token`; a body that is not JSON 400
//! `malformed_json`; no model 400 `invalid_model` ("model is empty"); an unknown model 401
//! `invalid_model` ("No permission to use the model"); no messages 400 `invalid_messages`; for
//! `ernie-*` models a temperature outside (0, 1] or a penalty_score outside [1, 2] 400
//! `invalid_argument`. Answers carry Baidu's `flag: 0` in each choice and `as-…` ids; stream
//! deltas carry no `role`, only the last chunk has a `finish_reason`, usage comes only in a final
//! `choices: []` chunk when `stream_options.include_usage` is set, then `data: [DONE]`. Replies
//! as in [`super::reply`] with `qianfan-v2 <model>`; `sim_error:<code>` sends the v2 error
//! [`super::errors::V2_CODES`] lists; `sim_fault:<spec>` and programmed faults as everywhere.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::errors::{self, json_response};
use super::reply::{Answer, TOOL_ARGUMENTS, error_marker, now_secs, prompt_tokens, request_id};
use crate::fault::Fault;
use crate::handle::{SimHandle, SimState, serve};
use crate::script::{StreamScript, scripted_body};

/// Models served when the config lists none.
pub const DEFAULT_MODELS: &[&str] = &[
    "ernie-4.0-8k",
    "ernie-4.0-turbo-8k",
    "ernie-3.5-8k",
    "ernie-3.5-128k",
    "ernie-speed-8k",
    "ernie-speed-128k",
    "ernie-lite-8k",
    "ernie-tiny-8k",
    "ernie-char-8k",
    "deepseek-v3",
];

/// Configuration of one Qianfan v2 simulator.
#[derive(Clone, Debug)]
pub struct QianfanV2SimConfig {
    /// The only accepted key (`bce-v3/ALTAK-…/…`).
    pub api_key: String,
    /// Known models; empty means [`DEFAULT_MODELS`].
    pub models: Vec<String>,
    /// Delay before the headers (non-stream) or the first chunk (stream).
    pub latency_ms: u64,
    /// Text pieces (tokens) per answer; 0 is treated as 1.
    pub chunks: usize,
    /// Delay between stream chunks.
    pub chunk_interval_ms: u64,
}

impl QianfanV2SimConfig {
    /// A config with 5 chunks, no latency and the default models.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            models: Vec::new(),
            latency_ms: 0,
            chunks: 5,
            chunk_interval_ms: 0,
        }
    }

    fn knows(&self, model: &str) -> bool {
        if self.models.is_empty() {
            DEFAULT_MODELS.contains(&model)
        } else {
            self.models.iter().any(|m| m == model)
        }
    }
}

#[derive(Clone)]
struct App {
    cfg: Arc<QianfanV2SimConfig>,
    sim: SimState,
}

/// Builds the router and its state.
pub fn qianfan_v2_router(cfg: QianfanV2SimConfig) -> (Router, SimState) {
    let sim = SimState::new();
    let app = App {
        cfg: Arc::new(cfg),
        sim: sim.clone(),
    };
    let router = Router::new()
        .route("/v2/chat/completions", post(chat))
        .fallback(|_req: Request| async {
            errors::v2(404, "not_found", "invalid_request_error", "Not Found")
        })
        .with_state(app);
    (router, sim)
}

/// Spawns a v2 simulator on `127.0.0.1:0` (base URL: `origin() + "/v2"`).
pub async fn spawn_qianfan_v2(cfg: QianfanV2SimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    Ok(spawn_qianfan_v2_on(listener, cfg))
}

/// Spawns a v2 simulator on an already bound listener.
pub fn spawn_qianfan_v2_on(listener: TcpListener, cfg: QianfanV2SimConfig) -> SimHandle {
    let (router, state) = qianfan_v2_router(cfg);
    serve(listener, router, state)
}

fn invalid(code: &str, msg: &str) -> Response {
    errors::v2(400, code, "invalid_request_error", msg)
}

fn text_of(m: &Value) -> String {
    match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

async fn chat(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    app.sim.record_request(
        parsed
            .clone()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned())),
    );
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented != Some(app.cfg.api_key.as_str()) {
        return errors::v2_code("invalid_iam_token")
            .unwrap_or_else(|| invalid("invalid_iam_token", ""));
    }
    let Some(req) = parsed.filter(Value::is_object) else {
        return invalid("malformed_json", "Invalid Argument");
    };
    let model = req.get("model").and_then(Value::as_str).unwrap_or("");
    if model.is_empty() {
        return invalid("invalid_model", "model is empty");
    }
    if !app.cfg.knows(model) {
        return errors::v2_code("invalid_model").unwrap_or_else(|| invalid("invalid_model", ""));
    }
    let msgs = match req.get("messages").and_then(Value::as_array) {
        Some(m) if !m.is_empty() => m,
        _ => return invalid("invalid_messages", "messages can not be empty"),
    };
    if model.starts_with("ernie") {
        let out = |f: &str, lo: f64, hi: f64, open: bool| {
            req.get(f)
                .and_then(Value::as_f64)
                .is_some_and(|v| v > hi || v < lo || (open && v <= lo))
        };
        if out("temperature", 0.0, 1.0, true) || out("penalty_score", 1.0, 2.0, false) {
            return invalid(
                "invalid_argument",
                "temperature must be in (0, 1.0] and penalty_score in [1.0, 2.0]",
            );
        }
    }
    let last = msgs.last().unwrap_or(&Value::Null);
    let last_role = last.get("role").and_then(Value::as_str).unwrap_or("");
    let last_text = text_of(last);
    let user_text = if last_role == "user" {
        last_text.as_str()
    } else {
        ""
    };
    if let Some(code) = error_marker(user_text) {
        return errors::v2_code(code).unwrap_or_else(|| {
            invalid(
                "invalid_argument",
                &format!("sim_error: unknown code `{code}`"),
            )
        });
    }
    let fault = match app.sim.take_fault() {
        Some(f) => Some(f),
        None => match Fault::from_prompt(user_text) {
            None => None,
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => return invalid("invalid_argument", &e.to_string()),
        },
    };
    let mut latency = app.cfg.latency_ms;
    match &fault {
        Some(Fault::Status {
            status,
            body,
            retry_after,
        }) => {
            tokio::time::sleep(Duration::from_millis(latency)).await;
            let mut resp = match body {
                Some(raw) => json_response(
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    raw.clone(),
                ),
                None => {
                    let code = match status {
                        401 => "invalid_iam_token",
                        403 => "account_overdue",
                        429 => "rpm_rate_limit_exceeded",
                        503 => "server_high_load",
                        400 => "invalid_argument",
                        _ => "internal_error",
                    };
                    let (_, _, kind, msg) = errors::V2_CODES
                        .iter()
                        .find(|(c, ..)| *c == code)
                        .copied()
                        .unwrap_or(("internal_error", 500, "internal_error", "Internal error"));
                    errors::v2(*status, code, kind, msg)
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
    let chunks = app.cfg.chunks;
    let tools = req
        .get("tools")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty());
    let tool_choice = req.get("tool_choice");
    let answer = match tools {
        Some(t) if last_role == "user" && tool_choice.and_then(Value::as_str) != Some("none") => {
            let named = tool_choice
                .and_then(|c| c.get("function"))
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str);
            let first = t[0]
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str);
            Answer::call(named.or(first).unwrap_or("function"), chunks)
        }
        _ => {
            let echo = if last_role == "tool" {
                format!("tool result: {last_text}")
            } else {
                last_text.clone()
            };
            let max = req
                .get("max_completion_tokens")
                .or_else(|| req.get("max_tokens"))
                .and_then(Value::as_u64);
            Answer::text(
                &format!("Hello from qianfan-v2 {model}: {echo}"),
                chunks,
                max,
            )
        }
    };
    let texts: Vec<String> = msgs.iter().map(text_of).collect();
    let prompt = prompt_tokens(texts.iter().map(String::as_str));
    let meta = Meta {
        id: request_id(),
        created: now_secs(),
        model: model.to_owned(),
        prompt,
        call_id: format!("call_{}", request_id()),
    };
    if req.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        let include_usage = req
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let events: Vec<Bytes> = stream_chunks(&meta, &answer, include_usage)
            .into_iter()
            .map(|c| Bytes::from(format!("data: {c}\n\n")))
            .collect();
        let script = StreamScript {
            events,
            trailer: Some(Bytes::from_static(b"data: [DONE]\n\n")),
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
        return resp;
    }
    tokio::time::sleep(Duration::from_millis(latency)).await;
    json_response(StatusCode::OK, whole(&meta, &answer).to_string())
}

struct Meta {
    id: String,
    created: u64,
    model: String,
    prompt: u64,
    call_id: String,
}

fn usage(meta: &Meta, answer: &Answer) -> Value {
    let c = answer.tokens();
    json!({"prompt_tokens": meta.prompt, "completion_tokens": c, "total_tokens": meta.prompt + c})
}

fn finish(answer: &Answer) -> &'static str {
    match answer {
        Answer::Call { .. } => "tool_calls",
        Answer::Text {
            truncated: true, ..
        } => "length",
        Answer::Text { .. } => "stop",
    }
}

fn whole(meta: &Meta, answer: &Answer) -> Value {
    let message = match answer {
        Answer::Text { pieces, .. } => json!({"role": "assistant", "content": pieces.concat()}),
        Answer::Call { name, .. } => json!({"role": "assistant", "content": "", "tool_calls": [{
            "id": meta.call_id, "type": "function",
            "function": {"name": name, "arguments": TOOL_ARGUMENTS}}]}),
    };
    json!({
        "id": meta.id, "object": "chat.completion", "created": meta.created, "model": meta.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish(answer), "flag": 0}],
        "usage": usage(meta, answer),
    })
}

fn stream_chunks(meta: &Meta, answer: &Answer, include_usage: bool) -> Vec<Value> {
    let chunk = |choices: Value| {
        json!({"id": meta.id, "object": "chat.completion.chunk", "created": meta.created,
            "model": meta.model, "choices": choices})
    };
    let mut out = Vec::new();
    match answer {
        Answer::Text { pieces, .. } => {
            for p in pieces {
                out.push(chunk(
                    json!([{"index": 0, "delta": {"content": p}, "flag": 0}]),
                ));
            }
        }
        Answer::Call { name, fragments } => {
            out.push(chunk(
                json!([{"index": 0, "delta": {"content": "", "tool_calls": [{
                "index": 0, "id": meta.call_id, "type": "function",
                "function": {"name": name, "arguments": ""}}]}, "flag": 0}]),
            ));
            for f in fragments {
                out.push(chunk(json!([{"index": 0, "delta": {"tool_calls": [{
                    "index": 0, "function": {"arguments": f}}]}, "flag": 0}])));
            }
        }
    }
    out.push(chunk(
        json!([{"index": 0, "delta": {"content": ""}, "finish_reason": finish(answer), "flag": 0}]),
    ));
    if include_usage {
        let mut u = chunk(json!([]));
        u["usage"] = usage(meta, answer);
        out.push(u);
    }
    out
}
