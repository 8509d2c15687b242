//! The canonical request as Spark's single request frame, plus the model table and key format.
//!
//! Invariants: every system (and `developer`) message is kept — merged, in order, into one
//! leading `system` turn on the versions that accept the role (Max, Max-32K, 4.0 Ultra) and into
//! a leading `user` turn answered by `assistant: "Okay"` on the others; parameters are clamped
//! into Spark's ranges; content is always a string; tools become `payload.functions.text` on the
//! versions that support function calling and are refused elsewhere.

use serde_json::{Map, Value, json};
use switchyard_types::{ChatMessage, ChatRequest};

use crate::adapter::ConvertError;

/// One Spark version: where it lives and what it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Version {
    /// URL path below the host.
    pub(crate) path: &'static str,
    /// `parameter.chat.domain`.
    pub(crate) domain: &'static str,
    /// Upper bound of `max_tokens`.
    pub(crate) max_tokens: u64,
    /// Accepts `role: "system"`.
    pub(crate) system_role: bool,
    /// Accepts `payload.functions`.
    pub(crate) functions: bool,
}

const LITE: Version = Version {
    path: "/v1.1/chat",
    domain: "lite",
    max_tokens: 4096,
    system_role: false,
    functions: false,
};
const V2: Version = Version {
    path: "/v2.1/chat",
    domain: "generalv2",
    max_tokens: 8192,
    system_role: false,
    functions: false,
};
const PRO: Version = Version {
    path: "/v3.1/chat",
    domain: "generalv3",
    max_tokens: 8192,
    system_role: false,
    functions: true,
};
const PRO_128K: Version = Version {
    path: "/chat/pro-128k",
    domain: "pro-128k",
    max_tokens: 4096,
    system_role: false,
    functions: false,
};
const MAX: Version = Version {
    path: "/v3.5/chat",
    domain: "generalv3.5",
    max_tokens: 8192,
    system_role: true,
    functions: true,
};
const MAX_32K: Version = Version {
    path: "/chat/max-32k",
    domain: "max-32k",
    max_tokens: 8192,
    system_role: true,
    functions: true,
};
const ULTRA: Version = Version {
    path: "/v4.0/chat",
    domain: "4.0Ultra",
    max_tokens: 8192,
    system_role: true,
    functions: true,
};

/// The version behind an upstream model name: the `SparkDesk-vX.Y` names, one-api's
/// `Spark-Lite`-style names, or the bare `domain` string.
pub(crate) fn version(model: &str) -> Option<Version> {
    Some(match model {
        "SparkDesk-v1.1" | "Spark-Lite" | "lite" => LITE,
        "SparkDesk-v2.1" | "generalv2" => V2,
        "SparkDesk-v3.1" | "Spark-Pro" | "generalv3" => PRO,
        "SparkDesk-v3.1-128K" | "Spark-Pro-128K" | "pro-128k" => PRO_128K,
        "SparkDesk-v3.5" | "Spark-Max" | "generalv3.5" => MAX,
        "SparkDesk-v3.5-32K" | "Spark-Max-32K" | "max-32k" => MAX_32K,
        "SparkDesk-v4.0" | "Spark-4.0-Ultra" | "4.0Ultra" => ULTRA,
        _ => return None,
    })
}

/// The three parts of a channel key `APP_ID|API_KEY|API_SECRET`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Credentials<'a> {
    pub(crate) app_id: &'a str,
    pub(crate) api_key: &'a str,
    pub(crate) api_secret: &'a str,
}

/// Splits and checks the key; the error never repeats it.
pub(crate) fn credentials(key: &str) -> Result<Credentials<'_>, ConvertError> {
    let parts: Vec<&str> = key.split('|').map(str::trim).collect();
    let bad = |why: String| ConvertError::BadRequest {
        message: format!(
            "the Spark channel key must be APP_ID|API_KEY|API_SECRET (three non-empty parts separated by `|`): {why}"
        ),
        param: None,
    };
    match parts.as_slice() {
        [app_id, api_key, api_secret] => {
            if let Some(i) = parts.iter().position(|p| p.is_empty()) {
                let name = ["APP_ID", "API_KEY", "API_SECRET"][i];
                return Err(bad(format!("{name} is empty")));
            }
            Ok(Credentials {
                app_id,
                api_key,
                api_secret,
            })
        }
        _ => Err(bad(format!("found {} part(s)", parts.len()))),
    }
}

fn bad_request(message: impl Into<String>, param: &str) -> ConvertError {
    ConvertError::BadRequest {
        message: message.into(),
        param: Some(param.to_owned()),
    }
}

/// The text of a message: strings as they are, text parts joined with `\n`; media is refused.
fn text_of(msg: &ChatMessage, index: usize) -> Result<String, ConvertError> {
    let Some(content) = &msg.content else {
        return Ok(String::new());
    };
    if content.media_parts() > 0 {
        return Err(bad_request(
            "Spark chat models take text only; image, audio and file parts are not supported",
            &format!("messages[{index}].content"),
        ));
    }
    let mut parts = Vec::new();
    content.for_each_text(|t| parts.push(t.to_owned()));
    Ok(parts.join("\n"))
}

/// An assistant turn that only called tools, written as text (Spark history is text only).
fn calls_as_text(calls: &[Value]) -> String {
    calls
        .iter()
        .filter_map(|c| c.get("function"))
        .map(|f| {
            let name = f.get("name").and_then(Value::as_str).unwrap_or("");
            let args = f.get("arguments").and_then(Value::as_str).unwrap_or("{}");
            format!("function_call {name}({args})")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn turn(role: &str, content: String) -> Value {
    json!({"role": role, "content": content})
}

/// `payload.message.text`.
fn messages(req: &ChatRequest, v: Version) -> Result<Vec<Value>, ConvertError> {
    let mut system = Vec::new();
    let mut turns = Vec::new();
    for (i, msg) in req.messages.iter().enumerate() {
        let text = text_of(msg, i)?;
        match msg.role.as_str() {
            "system" | "developer" => system.push(text),
            "user" => turns.push(turn("user", text)),
            "assistant" => {
                let text = match (&msg.tool_calls, text.is_empty()) {
                    (Some(calls), true) if !calls.is_empty() => calls_as_text(calls),
                    _ => text,
                };
                turns.push(turn("assistant", text));
            }
            // Spark has no tool role: a tool result goes back as a user turn.
            "tool" | "function" => {
                let id = msg
                    .tool_call_id
                    .as_deref()
                    .or_else(|| msg.extra.get("name").and_then(Value::as_str))
                    .unwrap_or("");
                turns.push(turn("user", format!("tool result ({id}): {text}")));
            }
            other => {
                return Err(bad_request(
                    format!("unsupported message role `{other}`"),
                    &format!("messages[{i}].role"),
                ));
            }
        }
    }
    let mut out = Vec::with_capacity(turns.len() + 2);
    if !system.is_empty() {
        let merged = system.join("\n\n");
        if v.system_role {
            out.push(turn("system", merged));
        } else {
            out.push(turn("user", merged));
            out.push(turn("assistant", "Okay".to_owned()));
        }
    }
    out.extend(turns);
    if out.is_empty() {
        return Err(bad_request("messages must not be empty", "messages"));
    }
    Ok(out)
}

/// `payload.functions.text`: the `function` objects of the request's function tools.
fn functions(req: &ChatRequest, v: Version, model: &str) -> Result<Option<Value>, ConvertError> {
    let Some(tools) = req.tools.as_ref().filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if req.extra.get("tool_choice").and_then(Value::as_str) == Some("none") {
        return Ok(None);
    }
    if !v.functions {
        return Err(bad_request(
            format!(
                "{model} does not support function calling (Pro, Max, Max-32K and 4.0 Ultra do)"
            ),
            "tools",
        ));
    }
    let mut list = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        match tool.get("type").and_then(Value::as_str) {
            Some("function") | None => {}
            // Built-in tools of other providers have no Spark equivalent.
            Some(_) => continue,
        }
        let f = tool
            .get("function")
            .filter(|f| f.get("name").and_then(Value::as_str).is_some())
            .ok_or_else(|| {
                bad_request(
                    "a function tool needs function.name",
                    &format!("tools[{i}]"),
                )
            })?;
        let mut out = Map::new();
        for key in ["name", "description", "parameters"] {
            if let Some(v) = f.get(key) {
                out.insert(key.to_owned(), v.clone());
            }
        }
        list.push(Value::Object(out));
    }
    Ok((!list.is_empty()).then(|| json!({ "text": list })))
}

/// `parameter.chat`.
fn chat_parameters(req: &ChatRequest, v: Version) -> Result<Value, ConvertError> {
    let mut chat = Map::new();
    chat.insert("domain".into(), Value::from(v.domain));
    if let Some(t) = req.extra.get("temperature").and_then(Value::as_f64) {
        // OpenAI allows [0, 2]; Spark (0, 1].
        chat.insert("temperature".into(), Value::from(t.clamp(0.01, 1.0)));
    }
    if let Some(max) = req.output_limit() {
        chat.insert("max_tokens".into(), Value::from(max.clamp(1, v.max_tokens)));
    }
    if let Some(k) = req.extra.get("top_k").and_then(Value::as_f64) {
        chat.insert("top_k".into(), Value::from((k.round() as i64).clamp(1, 6)));
    }
    Ok(Value::Object(chat))
}

/// Builds the one request frame.
pub(crate) fn frame(
    req: &ChatRequest,
    v: Version,
    model: &str,
    app_id: &str,
) -> Result<Value, ConvertError> {
    if req.choices() > 1 {
        return Err(bad_request(
            "Spark returns a single choice; n must be 1",
            "n",
        ));
    }
    let mut header = Map::new();
    header.insert("app_id".into(), Value::from(app_id));
    if let Some(user) = req.extra.get("user").and_then(Value::as_str) {
        // `uid` is limited to 32 characters.
        let uid: String = user.chars().take(32).collect();
        if !uid.is_empty() {
            header.insert("uid".into(), Value::from(uid));
        }
    }
    let mut payload = Map::new();
    payload.insert("message".into(), json!({ "text": messages(req, v)? }));
    if let Some(f) = functions(req, v, model)? {
        payload.insert("functions".into(), f);
    }
    Ok(json!({
        "header": header,
        "parameter": { "chat": chat_parameters(req, v)? },
        "payload": payload,
    }))
}
