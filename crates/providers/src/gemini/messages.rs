//! OpenAI messages to Gemini `systemInstruction` and `contents`.
//!
//! Invariants of the output (each one is a 400 from Gemini otherwise):
//! - every `system`/`developer` message is kept, in order, as one text part of
//!   `systemInstruction` (never only the first);
//! - roles are only `user` and `model`, and consecutive turns of the same role are merged, so
//!   roles alternate without any content being dropped;
//! - an assistant turn's `tool_calls` become `functionCall` parts, and the `tool` messages that
//!   answer them become exactly as many `functionResponse` parts, in call order, in the `user`
//!   turn right after it; `functionResponse.response` is always an object;
//! - images and audio travel as `inlineData` (the gateway has already turned http(s) image URLs
//!   into `data:` URLs; one that is still a URL is refused);
//! - a Gemini thought signature that came back inside a tool call id (see [`super::ids`]) is put
//!   back on its `functionCall` part.

use serde_json::{Map, Value, json};
use switchyard_types::{ChatMessage, MessageContent};

use super::ids;
use crate::adapter::ConvertError;

/// The converted conversation.
#[derive(Debug, Default)]
pub(crate) struct Converted {
    /// Text of every system/developer message, in order.
    pub(crate) system: Vec<String>,
    /// `(role, parts)` turns, alternating.
    pub(crate) contents: Vec<(&'static str, Vec<Value>)>,
}

impl Converted {
    fn push(&mut self, role: &'static str, parts: Vec<Value>) {
        if parts.is_empty() {
            return;
        }
        match self.contents.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(parts),
            _ => self.contents.push((role, parts)),
        }
    }

    /// The `contents` array.
    pub(crate) fn contents_json(&self) -> Value {
        Value::Array(
            self.contents
                .iter()
                .map(|(role, parts)| json!({"role": role, "parts": parts}))
                .collect(),
        )
    }
}

fn bad(message: impl Into<String>) -> ConvertError {
    ConvertError::BadRequest {
        message: message.into(),
        param: Some("messages".into()),
    }
}

/// Tool calls of the last assistant turn still waiting for their results.
struct Open {
    /// `(id, name)` in call order.
    calls: Calls,
    /// The `functionResponse` part of each call, once its `tool` message came.
    answers: Vec<Option<Value>>,
}

impl Open {
    /// Emits the `user` turn with every answer, or refuses when one is missing.
    fn close(self, out: &mut Converted) -> Result<(), ConvertError> {
        let mut parts = Vec::with_capacity(self.answers.len());
        for ((id, _), answer) in self.calls.iter().zip(self.answers) {
            match answer {
                Some(p) => parts.push(p),
                None => {
                    return Err(bad(format!(
                        "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {id}"
                    )));
                }
            }
        }
        out.push("user", parts);
        Ok(())
    }
}

/// Converts the whole conversation.
pub(crate) fn convert(messages: &[ChatMessage]) -> Result<Converted, ConvertError> {
    let mut out = Converted::default();
    let mut open: Option<Open> = None;
    for (i, m) in messages.iter().enumerate() {
        if m.role == "tool" {
            let Some(o) = open.as_mut() else {
                return Err(bad(format!(
                    "messages[{i}]: a message with role 'tool' must be a response to a preceding message with 'tool_calls'."
                )));
            };
            let id = m.tool_call_id.as_deref().unwrap_or("");
            let Some(slot) = o.calls.iter().position(|(cid, _)| cid == id) else {
                return Err(bad(format!(
                    "messages[{i}]: tool_call_id `{id}` does not answer a tool call of the preceding assistant message."
                )));
            };
            let name = o.calls[slot].1.clone();
            o.answers[slot] = Some(function_response(&name, m.content.as_ref()));
            continue;
        }
        if let Some(o) = open.take() {
            o.close(&mut out)?;
        }
        match m.role.as_str() {
            "system" | "developer" => {
                let text = system_text(m.content.as_ref(), i)?;
                if !text.is_empty() {
                    out.system.push(text);
                }
            }
            "user" => {
                let parts = user_parts(m.content.as_ref(), i)?;
                out.push("user", parts);
            }
            "assistant" => {
                let (parts, calls) = assistant_parts(m, i)?;
                out.push("model", parts);
                if !calls.is_empty() {
                    let n = calls.len();
                    open = Some(Open {
                        calls,
                        answers: vec![None; n],
                    });
                }
            }
            "function" => {
                // Legacy function result: answers the legacy `function_call` by name.
                let name = m.extra.get("name").and_then(Value::as_str).ok_or_else(|| {
                    bad(format!(
                        "messages[{i}]: a 'function' message needs a 'name'."
                    ))
                })?;
                out.push("user", vec![function_response(name, m.content.as_ref())]);
            }
            other => {
                return Err(bad(format!(
                    "messages[{i}]: unknown role `{other}` (expected system, developer, user, assistant or tool)."
                )));
            }
        }
    }
    if let Some(o) = open.take() {
        o.close(&mut out)?;
    }
    if out.contents.is_empty() && !out.system.is_empty() {
        // Gemini needs at least one turn: the instructions become the user's turn.
        let parts = out.system.drain(..).map(|t| json!({"text": t})).collect();
        out.push("user", parts);
    }
    if out.contents.is_empty() {
        return Err(bad(
            "messages must contain at least one message with content.",
        ));
    }
    Ok(out)
}

fn system_text(content: Option<&MessageContent>, i: usize) -> Result<String, ConvertError> {
    match content {
        None => Ok(String::new()),
        Some(MessageContent::Text(s)) => Ok(s.clone()),
        Some(MessageContent::Parts(parts)) => {
            let mut texts = Vec::new();
            for p in parts {
                match p.get("text").and_then(Value::as_str) {
                    Some(t) => texts.push(t),
                    None => {
                        return Err(bad(format!(
                            "messages[{i}]: system messages may hold only text parts for Gemini."
                        )));
                    }
                }
            }
            Ok(texts.join("\n"))
        }
    }
}

fn text_part(t: &str) -> Option<Value> {
    (!t.is_empty()).then(|| json!({"text": t}))
}

fn user_parts(content: Option<&MessageContent>, i: usize) -> Result<Vec<Value>, ConvertError> {
    match content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(s)) => Ok(text_part(s).into_iter().collect()),
        Some(MessageContent::Parts(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, p) in parts.iter().enumerate() {
                if let Some(part) = content_part(p, i, j)? {
                    out.push(part);
                }
            }
            Ok(out)
        }
    }
}

fn content_part(p: &Value, i: usize, j: usize) -> Result<Option<Value>, ConvertError> {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("text");
    match kind {
        "text" | "input_text" => Ok(p.get("text").and_then(Value::as_str).and_then(text_part)),
        "image_url" => {
            let url = p
                .pointer("/image_url/url")
                .or_else(|| p.get("image_url"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    bad(format!(
                        "messages[{i}].content[{j}]: image_url.url is missing."
                    ))
                })?;
            inline_from_data_url(url, i, j).map(Some)
        }
        "input_audio" => {
            let data = p.pointer("/input_audio/data").and_then(Value::as_str);
            let format = p.pointer("/input_audio/format").and_then(Value::as_str);
            match (data, format) {
                (Some(d), Some(f)) => Ok(Some(json!({
                    "inlineData": {"mimeType": format!("audio/{f}"), "data": d}
                }))),
                _ => Err(bad(format!(
                    "messages[{i}].content[{j}]: input_audio needs data and format."
                ))),
            }
        }
        "file" => match p.pointer("/file/file_data").and_then(Value::as_str) {
            Some(url) => inline_from_data_url(url, i, j).map(Some),
            None => Err(bad(format!(
                "messages[{i}].content[{j}]: only inline files (file.file_data as a data: URL) can be sent to Gemini."
            ))),
        },
        other => Err(bad(format!(
            "messages[{i}].content[{j}]: content part type `{other}` is not supported for Gemini."
        ))),
    }
}

/// `data:<mime>;base64,<data>` to an `inlineData` part.
fn inline_from_data_url(url: &str, i: usize, j: usize) -> Result<Value, ConvertError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return Err(bad(format!(
            "messages[{i}].content[{j}]: image URLs must be fetched before they reach Gemini; send the image as a data: URL."
        )));
    }
    let rest = url.strip_prefix("data:").ok_or_else(|| {
        bad(format!(
            "messages[{i}].content[{j}]: the URL must be a data: URL (data:<mime>;base64,<data>)."
        ))
    })?;
    let (meta, data) = rest.split_once(',').ok_or_else(|| {
        bad(format!(
            "messages[{i}].content[{j}]: the data: URL has no data."
        ))
    })?;
    let mut fields = meta.split(';');
    let mime = fields.next().unwrap_or("").trim();
    if !fields.any(|f| f.trim().eq_ignore_ascii_case("base64")) {
        return Err(bad(format!(
            "messages[{i}].content[{j}]: the data: URL must be base64-encoded."
        )));
    }
    if mime.is_empty() {
        return Err(bad(format!(
            "messages[{i}].content[{j}]: the data: URL has no media type."
        )));
    }
    let data: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if data.is_empty() {
        return Err(bad(format!(
            "messages[{i}].content[{j}]: the data: URL is empty."
        )));
    }
    Ok(json!({"inlineData": {"mimeType": mime, "data": data}}))
}

/// `(id, name)` of each tool call of an assistant turn.
type Calls = Vec<(String, String)>;

/// Parts of an assistant turn and its tool calls.
fn assistant_parts(m: &ChatMessage, i: usize) -> Result<(Vec<Value>, Calls), ConvertError> {
    let mut parts = Vec::new();
    match &m.content {
        None => {}
        Some(MessageContent::Text(s)) => parts.extend(text_part(s)),
        Some(MessageContent::Parts(ps)) => {
            for p in ps {
                let t = p
                    .get("text")
                    .or_else(|| p.get("refusal"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                parts.extend(text_part(t));
            }
        }
    }
    let mut calls = Vec::new();
    for (k, tc) in m.tool_calls.iter().flatten().enumerate() {
        let id = tc
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let name = tc
            .pointer("/function/name")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                bad(format!(
                    "messages[{i}].tool_calls[{k}]: function.name is missing."
                ))
            })?
            .to_owned();
        let args = parse_args(tc.pointer("/function/arguments"), i, k)?;
        let mut part = Map::new();
        part.insert("functionCall".into(), json!({"name": name, "args": args}));
        let sig = tc
            .pointer("/extra_content/google/thought_signature")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| ids::signature_from_id(&id));
        if let Some(sig) = sig {
            part.insert("thoughtSignature".into(), Value::from(sig));
        }
        parts.push(Value::Object(part));
        calls.push((id, name));
    }
    if let Some(fc) = m.extra.get("function_call").filter(|v| !v.is_null()) {
        let name = fc
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("messages[{i}].function_call: name is missing.")))?;
        let args = parse_args(fc.get("arguments"), i, 0)?;
        parts.push(json!({"functionCall": {"name": name, "args": args}}));
    }
    Ok((parts, calls))
}

/// Tool-call arguments (a JSON string) as the object Gemini wants.
fn parse_args(raw: Option<&Value>, i: usize, k: usize) -> Result<Value, ConvertError> {
    match raw {
        None | Some(Value::Null) => Ok(json!({})),
        Some(Value::Object(o)) => Ok(Value::Object(o.clone())),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(json!({})),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => Ok(Value::Object(o)),
            Ok(other) => Ok(json!({"value": other})),
            Err(_) => Err(bad(format!(
                "messages[{i}].tool_calls[{k}]: function.arguments is not valid JSON."
            ))),
        },
        Some(other) => Ok(json!({"value": other})),
    }
}

/// A `functionResponse` part; the response is the tool's JSON object, or `{"content": text}`.
fn function_response(name: &str, content: Option<&MessageContent>) -> Value {
    let text = match content {
        None => String::new(),
        Some(MessageContent::Text(s)) => s.clone(),
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(o)) => Value::Object(o),
        _ => json!({"content": text}),
    };
    json!({"functionResponse": {"name": name, "response": response}})
}
