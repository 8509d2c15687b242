//! `ChatCompletions`: validation the way Hunyuan documents it, fault injection, and the answer.
//!
//! Validation (each failure is an HTTP-200 `Response.Error`): the body is a JSON object whose
//! fields are all `ChatCompletionsRequest` parameters (`UnknownParameter` otherwise, which catches
//! snake_case bodies); `Model` is present (`MissingParameter`) and known
//! (`InvalidParameterValue.Model`); `Messages` has 1..=40 entries, roles `system` (first only),
//! `user`, `assistant`, `tool`, user (or a run of tools) and assistant alternating, starting with
//! `user` and ending with `user` or `tool`, `Content` non-empty (except an assistant turn with
//! `ToolCalls`, or a user turn with `Contents`); `Temperature` in [0, 2], `TopP` in [0, 1], `Seed`
//! in 1..=10000, `Tools[].Function.Parameters` a JSON *string*, `ToolChoice` one of
//! `none|auto|custom` (`custom` needs `CustomTool`) — all `InvalidParameter`.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::errors::{canned_message, code_for_status, error_json, error_response, json_response};
use super::frames::{Answer, Plan, TOOL_ARGUMENTS, completion_body, split_even, stream_events};
use super::sign::Refusal;
use super::{App, TOOL_MODELS, now_secs};
use crate::fault::Fault;
use crate::script::{StreamScript, scripted_body};

/// The marker of a Tencent error injected from the prompt.
pub const SIM_ERROR_MARKER: &str = "sim_error:";

const FIELDS: &[&str] = &[
    "Model",
    "Messages",
    "Stream",
    "StreamModeration",
    "TopP",
    "Temperature",
    "EnableEnhancement",
    "Tools",
    "ToolChoice",
    "CustomTool",
    "SearchInfo",
    "Citation",
    "EnableSpeedSearch",
    "EnableMultimedia",
    "EnableDeepSearch",
    "Seed",
    "ForceSearchEnhancement",
    "Stop",
    "EnableRecommendedQuestions",
    "EnableDeepRead",
    "WebSearchOptions",
    "TopicChoice",
    "EnableThinking",
];
const MESSAGE_FIELDS: &[&str] = &[
    "Role",
    "Content",
    "Contents",
    "ToolCallId",
    "ToolCalls",
    "FileIDs",
    "ReasoningContent",
];

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal {
        code: "InvalidParameter",
        message: message.into(),
    }
}

/// A validated request.
#[derive(Debug)]
struct ChatReq {
    model: String,
    stream: bool,
    /// The function to call, when the model honours tools and should call one.
    tool: Option<String>,
    last_user_text: String,
    echo: String,
    prompt_tokens: u64,
}

fn message_text(m: &Map<String, Value>) -> String {
    if let Some(Value::String(s)) = m.get("Content") {
        return s.clone();
    }
    m.get("Contents")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("Text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn check_unknown(obj: &Map<String, Value>, known: &[&str]) -> Result<(), Refusal> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(Refusal {
            code: "UnknownParameter",
            message: format!("The parameter `{k}` is not recognized."),
        }),
        None => Ok(()),
    }
}

fn range(obj: &Map<String, Value>, name: &str, lo: f64, hi: f64) -> Result<(), Refusal> {
    match obj.get(name) {
        None => Ok(()),
        Some(v) => match v.as_f64() {
            None => Err(invalid(format!("{name} must be a number"))),
            Some(f) if f > hi => Err(invalid(format!("{name} must be {hi} or less"))),
            Some(f) if f < lo => Err(invalid(format!("{name} must be {lo} or more"))),
            Some(_) => Ok(()),
        },
    }
}

fn check_messages(msgs: &[Value]) -> Result<(), Refusal> {
    if msgs.is_empty() || msgs.len() > 40 {
        return Err(invalid("Messages must have between 1 and 40 entries"));
    }
    let mut prev: Option<&str> = None;
    for (i, m) in msgs.iter().enumerate() {
        let obj = m
            .as_object()
            .ok_or_else(|| invalid(format!("Messages[{i}] must be an object")))?;
        check_unknown(obj, MESSAGE_FIELDS)?;
        let role = obj.get("Role").and_then(Value::as_str).unwrap_or("");
        let has_calls = obj
            .get("ToolCalls")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty());
        let has_parts = obj
            .get("Contents")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty());
        if obj.get("Content").is_some_and(|c| !c.is_string()) {
            return Err(invalid(format!("Messages[{i}].Content must be a string")));
        }
        let content_empty = obj
            .get("Content")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if content_empty && !(role == "assistant" && has_calls) && !(role == "user" && has_parts) {
            return Err(invalid(format!("Messages[{i}].Content must not be empty")));
        }
        let ok = matches!(
            (prev, role),
            (None, "system")
                | (None | Some("system"), "user")
                | (Some("user" | "tool"), "assistant")
                | (Some("assistant"), "user" | "tool")
                | (Some("tool"), "tool")
        );
        if !ok {
            return Err(invalid(format!(
                "Messages[{i}].Role `{role}` is out of order: a leading optional system, then user \
                 (or tool) and assistant alternating, starting with user"
            )));
        }
        prev = Some(role);
    }
    match prev {
        Some("user" | "tool") => Ok(()),
        _ => Err(invalid("the last message must be a user or tool message")),
    }
}

/// The name of a `Tools[]` entry, checking its shape.
fn tool_name(t: &Value) -> Result<&str, Refusal> {
    let f = t
        .get("Function")
        .filter(|_| t.get("Type").and_then(Value::as_str) == Some("function"));
    let f = f.ok_or_else(|| invalid("Tools[].Type must be function and Function is required"))?;
    let params = f.get("Parameters").and_then(Value::as_str).ok_or_else(|| {
        invalid("Tools[].Function.Parameters must be a string holding a JSON schema")
    })?;
    if serde_json::from_str::<Value>(params).is_err() {
        return Err(invalid("Tools[].Function.Parameters is not valid JSON"));
    }
    f.get("Name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("Tools[].Function.Name is required"))
}

fn parse(app: &App, body: &Value) -> Result<ChatReq, Refusal> {
    let obj = body
        .as_object()
        .ok_or_else(|| invalid("the request body must be a JSON object"))?;
    check_unknown(obj, FIELDS)?;
    let model = obj
        .get("Model")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal {
            code: "MissingParameter",
            message: "The request is missing a required parameter `Model`.".into(),
        })?;
    if !app.cfg.knows_model(model) {
        return Err(Refusal {
            code: "InvalidParameterValue.Model",
            message: format!("模型不存在。The model `{model}` does not exist."),
        });
    }
    let msgs = obj
        .get("Messages")
        .and_then(Value::as_array)
        .ok_or_else(|| Refusal {
            code: "MissingParameter",
            message: "The request is missing a required parameter `Messages`.".into(),
        })?;
    check_messages(msgs)?;
    if obj.get("Stream").is_some_and(|s| !s.is_boolean()) {
        return Err(invalid("Stream must be a boolean"));
    }
    range(obj, "Temperature", 0.0, 2.0)?;
    range(obj, "TopP", 0.0, 1.0)?;
    if let Some(seed) = obj.get("Seed")
        && !seed.as_u64().is_some_and(|s| (1..=10_000).contains(&s))
    {
        return Err(invalid("Seed must be an integer between 1 and 10000"));
    }
    if let Some(stop) = obj.get("Stop")
        && !stop
            .as_array()
            .is_some_and(|s| s.iter().all(Value::is_string))
    {
        return Err(invalid("Stop must be a list of strings"));
    }
    let tools = obj
        .get("Tools")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names = tools.iter().map(tool_name).collect::<Result<Vec<_>, _>>()?;
    let choice = obj
        .get("ToolChoice")
        .and_then(Value::as_str)
        .unwrap_or("auto");
    let custom = match choice {
        "none" | "auto" => None,
        "custom" => Some(
            obj.get("CustomTool")
                .ok_or_else(|| invalid("CustomTool is required when ToolChoice is custom"))
                .and_then(tool_name)?,
        ),
        other => {
            return Err(invalid(format!(
                "ToolChoice `{other}` is not one of none, auto, custom"
            )));
        }
    };
    let last = msgs.last().and_then(Value::as_object);
    let last_role = last
        .and_then(|m| m.get("Role"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let tool = (!names.is_empty()
        && TOOL_MODELS.contains(&model)
        && choice != "none"
        && last_role != "tool")
        .then(|| custom.unwrap_or(names[0]).to_owned());
    let texts: Vec<(String, String)> = msgs
        .iter()
        .filter_map(Value::as_object)
        .map(|m| {
            let role = m
                .get("Role")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            (role, message_text(m))
        })
        .collect();
    let last_user_text = texts
        .iter()
        .rev()
        .find(|(r, _)| r == "user")
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    let echo = match texts.last() {
        Some((r, t)) if r == "tool" => format!("tool result: {t}"),
        _ => last_user_text.clone(),
    };
    let prompt_tokens = texts
        .iter()
        .map(|(_, t)| t.chars().count() as u64 / 4 + 3)
        .sum::<u64>()
        .max(1);
    Ok(ChatReq {
        model: model.to_owned(),
        stream: obj.get("Stream").and_then(Value::as_bool).unwrap_or(false),
        tool,
        last_user_text,
        echo,
        prompt_tokens,
    })
}

/// The `<Code>` after `sim_error:` in `text`, if any.
pub(super) fn sim_error(text: &str) -> Option<&str> {
    let start = text.find(SIM_ERROR_MARKER)? + SIM_ERROR_MARKER.len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(rest.len());
    // A trailing full stop ends the sentence, not the code.
    Some(rest[..end].trim_end_matches('.')).filter(|c| !c.is_empty())
}

async fn sleep_ms(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// The `ChatCompletions` handler (after the signature was verified).
pub(super) async fn handle(app: &App, body: &Value) -> Response {
    let req = match parse(app, body) {
        Ok(r) => r,
        Err(r) => return error_response(r.code, &r.message),
    };
    let fault = match app.sim.take_fault() {
        Some(f) => Some(f),
        None => match Fault::from_prompt(&req.last_user_text) {
            None => None,
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => return error_response("InvalidParameter", &e.to_string()),
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
            let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let text = body.clone().unwrap_or_else(|| {
                let c = code_for_status(*status);
                error_json(c, &canned_message(c))
            });
            let mut resp = json_response(code, text);
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
    let mut finish = "stop";
    let mut error_msg = None;
    match sim_error(&req.last_user_text) {
        None => {}
        Some("sensitive") => finish = "sensitive",
        Some(c @ ("stream4000" | "stream4001")) => {
            let code = if c == "stream4001" { 4001 } else { 4000 };
            if !req.stream {
                let native = if code == 4001 {
                    "FailedOperation.EngineRequestTimeout"
                } else {
                    "InternalError"
                };
                return error_response(native, &canned_message(native));
            }
            error_msg = Some(code);
        }
        Some(code) => {
            sleep_ms(latency).await;
            return error_response(code, &canned_message(code));
        }
    }
    let answer = match &req.tool {
        Some(name) => Answer::Tool {
            id: format!("call_{}", uuid::Uuid::new_v4().simple()),
            name: name.clone(),
            fragments: split_even(TOOL_ARGUMENTS, app.cfg.chunks.max(2)),
        },
        None => {
            let text = format!("Hello from hunyuan {}: {}", req.model, req.echo);
            let mut pieces = split_even(&text, app.cfg.chunks);
            if finish == "sensitive" {
                pieces.truncate(pieces.len().div_ceil(2));
            }
            Answer::Text { pieces, finish }
        }
    };
    let plan = Plan {
        answer,
        prompt_tokens: req.prompt_tokens,
        id: uuid::Uuid::new_v4().to_string(),
        created: now_secs(),
        error_msg,
    };
    if req.stream {
        let script = StreamScript {
            events: stream_events(&plan),
            trailer: None,
            first_delay: Duration::from_millis(latency),
            interval: Duration::from_millis(app.cfg.chunk_interval_ms),
            malformed: Bytes::from_static(b"data: {not json\n\n"),
        };
        let mut guard = Some(app.sim.stream_guard());
        if error_msg.is_some()
            && let Some(g) = guard.as_mut()
        {
            g.fault();
        }
        let mut resp = Response::new(scripted_body(script.into_steps(fault.as_ref()), guard));
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if let Ok(v) = HeaderValue::from_str(&plan.id) {
            h.insert("x-tc-requestid", v);
        }
        return resp;
    }
    sleep_ms(latency).await;
    let json = completion_body(&plan);
    match fault {
        Some(
            ref f @ (Fault::ResetBeforeFirstChunk
            | Fault::ResetMidStream { .. }
            | Fault::MalformedChunk { .. }
            | Fault::HangMidStream { .. }),
        ) => broken_json(f, json),
        _ => json_response(StatusCode::OK, json),
    }
}

/// A non-stream answer broken by a body-level fault: the JSON is sent in two halves and the
/// fault's chunk count is clamped to the first half.
fn broken_json(fault: &Fault, json: String) -> Response {
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
