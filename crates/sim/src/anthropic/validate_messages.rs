//! Validation of `messages`: roles, content blocks and the tool-use/tool-result pairing.
//!
//! The simulator is as strict as the API has ever been (and as Bedrock and Vertex still are):
//! the first message must be `user` and roles must alternate; the 2025 first-party API merges
//! consecutive turns itself, but a gateway that relies on that breaks on the others.

use serde_json::{Map, Value};

use super::validate::{Ids, Reject, image_source, image_tokens};

/// What the rest of the simulator needs from the conversation.
#[derive(Debug)]
pub(super) struct Conv {
    /// Σ (characters / 4 + 3) + image tokens over messages.
    pub(super) message_tokens: u64,
    /// Text blocks of the last user message, joined by spaces.
    pub(super) last_user_text: String,
    /// Text of the last user message's tool results, when it has any.
    pub(super) last_tool_results: Option<String>,
}

fn invalid(message: impl AsRef<str>) -> Reject {
    Box::new(super::errors::error_response(
        axum::http::StatusCode::BAD_REQUEST,
        "invalid_request_error",
        message.as_ref(),
    ))
}

fn extra_keys(obj: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), Reject> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(invalid(format!(
            "{path}.{k}: Extra inputs are not permitted"
        ))),
        None => Ok(()),
    }
}

/// One message after validation.
#[derive(Default)]
struct Msg {
    chars: usize,
    images: u64,
    texts: Vec<String>,
    tool_uses: Vec<String>,
    /// `(block index, tool_use_id, leading)`: leading = before any other kind of block.
    results: Vec<(usize, String, bool)>,
    result_texts: Vec<String>,
    last_text: Option<String>,
}

fn text_of(v: &Value, path: &str) -> Result<String, Reject> {
    match v.get("text") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(invalid("messages: text content blocks must be non-empty")),
        _ => Err(invalid(format!("{path}.text: Field required"))),
    }
}

fn block(
    role: &str,
    b: &Value,
    (path, j): (&str, usize),
    msg: &mut Msg,
    leading: &mut bool,
) -> Result<(), Reject> {
    let obj = b
        .as_object()
        .ok_or_else(|| invalid(format!("{path}: Input should be a valid dictionary")))?;
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
    let only = |want: &str| -> Result<(), Reject> {
        if role == want {
            Ok(())
        } else {
            Err(invalid(format!(
                "{path}: `{kind}` blocks are only allowed in {want} messages"
            )))
        }
    };
    if kind != "tool_result" {
        *leading = false;
    }
    match kind {
        "text" => {
            extra_keys(obj, &["type", "text", "cache_control", "citations"], path)?;
            let t = text_of(b, path)?;
            msg.chars += t.chars().count();
            msg.last_text = Some(t.clone());
            msg.texts.push(t);
        }
        "image" => {
            extra_keys(obj, &["type", "source", "cache_control"], path)?;
            image_source(obj.get("source"), path)?;
            msg.images += 1;
            msg.last_text = None;
        }
        "tool_use" => {
            only("assistant")?;
            extra_keys(obj, &["type", "id", "name", "input", "cache_control"], path)?;
            let id = obj.get("id").and_then(Value::as_str).unwrap_or("");
            if id.is_empty() || obj.get("name").and_then(Value::as_str).is_none() {
                return Err(invalid(format!(
                    "{path}: tool_use blocks need `id` and `name`"
                )));
            }
            let Some(input) = obj.get("input").filter(|i| i.is_object()) else {
                return Err(invalid(format!(
                    "{path}.input: Input should be a valid dictionary"
                )));
            };
            msg.chars += input.to_string().chars().count();
            msg.tool_uses.push(id.to_owned());
            msg.last_text = None;
        }
        "tool_result" => {
            only("user")?;
            extra_keys(
                obj,
                &[
                    "type",
                    "tool_use_id",
                    "content",
                    "is_error",
                    "cache_control",
                ],
                path,
            )?;
            let id = obj.get("tool_use_id").and_then(Value::as_str).unwrap_or("");
            if id.is_empty() {
                return Err(invalid(format!("{path}.tool_use_id: Field required")));
            }
            let mut text = Vec::new();
            match obj.get("content") {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => text.push(s.clone()),
                Some(Value::Array(inner)) => {
                    for (k, ib) in inner.iter().enumerate() {
                        let ipath = format!("{path}.content.{k}");
                        match ib.get("type").and_then(Value::as_str) {
                            Some("text") => text.push(text_of(ib, &ipath)?),
                            Some("image") => {
                                image_source(ib.get("source"), &ipath)?;
                                msg.images += 1;
                            }
                            _ => {
                                return Err(invalid(format!(
                                    "{ipath}: tool_result content blocks must be text or image"
                                )));
                            }
                        }
                    }
                }
                Some(_) => {
                    return Err(invalid(format!(
                        "{path}.content: Input should be a valid string or list"
                    )));
                }
            }
            let joined = text.join(" ");
            msg.chars += joined.chars().count();
            msg.result_texts.push(joined);
            msg.results.push((j, id.to_owned(), *leading));
            msg.last_text = None;
        }
        "thinking" | "redacted_thinking" => {
            only("assistant")?;
            msg.last_text = None;
        }
        other => {
            return Err(invalid(format!(
                "{path}: Input tag '{other}' found using 'type' does not match any of the expected tags: 'text', 'image', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'"
            )));
        }
    }
    Ok(())
}

fn missing_results(at: usize, ids: &[String]) -> Reject {
    invalid(format!(
        "messages.{at}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
        ids.join(", ")
    ))
}

/// Validates `messages`.
pub(super) fn conversation(v: Option<&Value>, has_tools: bool) -> Result<Conv, Reject> {
    let Some(items) = v.and_then(Value::as_array) else {
        return Err(invalid("messages: Input should be a valid list"));
    };
    if items.is_empty() {
        return Err(invalid("messages: at least one message is required"));
    }
    let mut tokens = 0u64;
    let mut prev: Option<&str> = None;
    let mut pending: (usize, Vec<String>) = (0, Vec::new());
    let mut tool_blocks = false;
    let mut last_user = Msg::default();
    for (i, m) in items.iter().enumerate() {
        let path = format!("messages.{i}");
        let obj = m
            .as_object()
            .ok_or_else(|| invalid(format!("{path}: Input should be a valid dictionary")))?;
        extra_keys(obj, &["role", "content"], &path)?;
        let role = match obj.get("role").and_then(Value::as_str) {
            Some(r @ ("user" | "assistant")) => r,
            _ => {
                return Err(invalid(format!(
                    "{path}.role: Input should be 'user' or 'assistant'"
                )));
            }
        };
        if i == 0 && role != "user" {
            return Err(invalid(
                "messages: first message must use the \"user\" role",
            ));
        }
        if prev == Some(role) {
            return Err(invalid(format!(
                "messages: roles must alternate between \"user\" and \"assistant\", but found multiple \"{role}\" roles in a row"
            )));
        }
        prev = Some(role);
        let is_final_assistant = role == "assistant" && i + 1 == items.len();
        let mut msg = Msg::default();
        match obj.get("content") {
            Some(Value::String(s)) => {
                if s.is_empty() && !is_final_assistant {
                    return Err(invalid(format!(
                        "{path}: all messages must have non-empty content except for the optional final assistant message"
                    )));
                }
                msg.chars = s.chars().count();
                msg.last_text = Some(s.clone());
                msg.texts.push(s.clone());
            }
            Some(Value::Array(blocks)) => {
                if blocks.is_empty() && !is_final_assistant {
                    return Err(invalid(format!(
                        "{path}: all messages must have non-empty content except for the optional final assistant message"
                    )));
                }
                let mut leading = true;
                for (j, b) in blocks.iter().enumerate() {
                    block(
                        role,
                        b,
                        (&format!("{path}.content.{j}"), j),
                        &mut msg,
                        &mut leading,
                    )?;
                }
            }
            _ => return Err(invalid(format!("{path}.content: Field required"))),
        }
        tool_blocks |= !msg.tool_uses.is_empty() || !msg.results.is_empty();
        if role == "user" {
            for (j, id, _) in &msg.results {
                if !pending.1.contains(id) {
                    return Err(invalid(format!(
                        "{path}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                    )));
                }
            }
            let answered: Ids = msg
                .results
                .iter()
                .filter(|(_, _, leading)| *leading)
                .map(|(_, id, _)| id.clone())
                .collect();
            let missing: Vec<String> = pending
                .1
                .iter()
                .filter(|id| !answered.contains(*id))
                .cloned()
                .collect();
            if !missing.is_empty() {
                return Err(missing_results(pending.0, &missing));
            }
            pending = (i, Vec::new());
        } else {
            pending = (i, msg.tool_uses.clone());
        }
        if is_final_assistant
            && msg
                .last_text
                .as_deref()
                .is_some_and(|t| t.ends_with(char::is_whitespace))
        {
            return Err(invalid(
                "messages: final assistant content cannot end with trailing whitespace",
            ));
        }
        tokens += msg.chars as u64 / 4 + 3 + msg.images * image_tokens();
        if role == "user" {
            last_user = msg;
        }
    }
    if !pending.1.is_empty() {
        return Err(missing_results(pending.0, &pending.1));
    }
    if tool_blocks && !has_tools {
        return Err(invalid(
            "Requests which include `tool_use` or `tool_result` blocks must define tools.",
        ));
    }
    let last_tool_results =
        (!last_user.results.is_empty()).then(|| last_user.result_texts.join(" "));
    Ok(Conv {
        message_tokens: tokens,
        last_user_text: last_user.texts.join(" "),
        last_tool_results,
    })
}
