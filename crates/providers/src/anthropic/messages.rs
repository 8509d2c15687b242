//! OpenAI `messages` → Anthropic `system` + `messages`.
//!
//! Invariants of the output:
//! - every `system`/`developer` message is kept, wherever it stood, joined in order into the
//!   top-level `system` (Anthropic has no system role inside `messages`);
//! - roles alternate `user`/`assistant`, starting with `user`: consecutive turns of the same role
//!   are merged block by block (nothing is dropped), `tool` messages become `tool_result` blocks
//!   of a user turn, and inside a user turn every `tool_result` comes before any other block (the
//!   API requires the results to open the message that follows the `tool_use`);
//! - a conversation that opens with an assistant turn gets a one-character user turn (`.`) in
//!   front, and the final assistant turn (a prefill) loses trailing whitespace, which the API
//!   refuses;
//! - images must already be `data:` URLs (the gateway fetches http(s) images before adapters run);
//!   they become `base64` image sources with standard base64.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use switchyard_types::{ChatMessage, MessageContent};

use crate::adapter::ConvertError;

/// The converted conversation.
#[derive(Debug)]
pub(crate) struct Conversation {
    /// Every system/developer text, joined with a blank line; `None` when there was none.
    pub(crate) system: Option<String>,
    /// Alternating `{role, content}` messages.
    pub(crate) messages: Vec<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Assistant,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Debug)]
struct Turn {
    role: Role,
    blocks: Vec<Value>,
}

/// Image media types the Messages API accepts.
const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

fn bad(message: String) -> ConvertError {
    ConvertError::BadRequest {
        message,
        param: Some("messages".into()),
    }
}

/// Converts the OpenAI conversation.
pub(crate) fn convert(messages: &[ChatMessage]) -> Result<Conversation, ConvertError> {
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        match m.role.as_str() {
            "system" | "developer" => {
                let text = system_text(m, i)?;
                if !text.is_empty() {
                    system.push(text);
                }
            }
            "user" => push(&mut turns, Role::User, user_blocks(m, i)?),
            "assistant" => push(&mut turns, Role::Assistant, assistant_blocks(m, i)?),
            "tool" => push(&mut turns, Role::User, vec![tool_result(m, i)?]),
            "function" => {
                return Err(bad(format!(
                    "messages[{i}]: the legacy `function` role is not supported for Anthropic; use `tools` and `tool` messages"
                )));
            }
            other => {
                return Err(bad(format!(
                    "messages[{i}]: unknown role `{other}` (expected system, developer, user, assistant or tool)"
                )));
            }
        }
    }
    for t in turns.iter_mut().filter(|t| t.role == Role::User) {
        // Stable: results keep their order, other blocks keep theirs.
        let (mut results, rest): (Vec<Value>, Vec<Value>) = t
            .blocks
            .drain(..)
            .partition(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"));
        results.extend(rest);
        t.blocks = results;
    }
    trim_final_prefill(&mut turns);
    if turns.is_empty() {
        return Err(bad(
            "at least one user or assistant message with content is required".into(),
        ));
    }
    if turns[0].role == Role::Assistant {
        turns.insert(
            0,
            Turn {
                role: Role::User,
                blocks: vec![json!({"type": "text", "text": "."})],
            },
        );
    }
    let messages = turns
        .into_iter()
        .map(|t| json!({"role": t.role.as_str(), "content": content_value(t.blocks)}))
        .collect();
    let system = (!system.is_empty()).then(|| system.join("\n\n"));
    Ok(Conversation { system, messages })
}

/// Appends `blocks` as a turn of `role`, merging with the previous turn of the same role.
fn push(turns: &mut Vec<Turn>, role: Role, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some(last) if last.role == role => last.blocks.extend(blocks),
        _ => turns.push(Turn { role, blocks }),
    }
}

/// A single text block travels as a plain string; anything else as the block list.
fn content_value(mut blocks: Vec<Value>) -> Value {
    let single_text = blocks.len() == 1
        && blocks[0].get("type").and_then(Value::as_str) == Some("text")
        && blocks[0].as_object().is_some_and(|o| o.len() == 2);
    if single_text && let Some(Value::String(text)) = blocks[0].get_mut("text").map(Value::take) {
        return Value::String(text);
    }
    Value::Array(blocks)
}

/// Removes trailing whitespace from a final assistant turn (the API refuses it there).
fn trim_final_prefill(turns: &mut Vec<Turn>) {
    let Some(last) = turns.last_mut() else {
        return;
    };
    if last.role != Role::Assistant {
        return;
    }
    while let Some(block) = last.blocks.last_mut() {
        if block.get("type").and_then(Value::as_str) != Some("text") {
            break;
        }
        let trimmed = block
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim_end()
            .to_owned();
        if trimmed.is_empty() {
            last.blocks.pop();
        } else {
            block["text"] = Value::String(trimmed);
            break;
        }
    }
    if last.blocks.is_empty() {
        turns.pop();
    }
}

fn text_block(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!({"type": "text", "text": text}))
}

fn part_type(part: &Value) -> &str {
    part.get("type").and_then(Value::as_str).unwrap_or("")
}

fn system_text(m: &ChatMessage, i: usize) -> Result<String, ConvertError> {
    match &m.content {
        None => Ok(String::new()),
        Some(MessageContent::Text(s)) => Ok(s.clone()),
        Some(MessageContent::Parts(parts)) => {
            let mut texts = Vec::new();
            for p in parts {
                match part_type(p) {
                    "text" => texts.push(p.get("text").and_then(Value::as_str).unwrap_or("")),
                    other => {
                        return Err(bad(format!(
                            "messages[{i}]: a {} message may only hold text parts, not `{other}`",
                            m.role
                        )));
                    }
                }
            }
            Ok(texts.join("\n"))
        }
    }
}

/// Text and image blocks of user content (also used inside tool results).
fn media_blocks(content: &MessageContent, i: usize) -> Result<Vec<Value>, ConvertError> {
    match content {
        MessageContent::Text(s) => Ok(text_block(s).into_iter().collect()),
        MessageContent::Parts(parts) => {
            let mut blocks = Vec::new();
            for p in parts {
                match part_type(p) {
                    "text" => {
                        blocks.extend(text_block(
                            p.get("text").and_then(Value::as_str).unwrap_or(""),
                        ));
                    }
                    "image_url" => {
                        let url = match p.get("image_url") {
                            Some(Value::String(u)) => u.as_str(),
                            Some(obj) => obj.get("url").and_then(Value::as_str).unwrap_or(""),
                            None => "",
                        };
                        blocks.push(image_block(url, i)?);
                    }
                    other => {
                        return Err(bad(format!(
                            "messages[{i}]: content parts of type `{other}` are not supported for Anthropic (text and image_url are)"
                        )));
                    }
                }
            }
            Ok(blocks)
        }
    }
}

fn user_blocks(m: &ChatMessage, i: usize) -> Result<Vec<Value>, ConvertError> {
    match &m.content {
        None => Ok(Vec::new()),
        Some(c) => media_blocks(c, i),
    }
}

fn assistant_blocks(m: &ChatMessage, i: usize) -> Result<Vec<Value>, ConvertError> {
    let mut blocks = Vec::new();
    match &m.content {
        None => {}
        Some(MessageContent::Text(s)) => blocks.extend(text_block(s)),
        Some(MessageContent::Parts(parts)) => {
            for p in parts {
                let key = match part_type(p) {
                    "text" => "text",
                    "refusal" => "refusal",
                    other => {
                        return Err(bad(format!(
                            "messages[{i}]: an assistant message may only hold text, not `{other}`"
                        )));
                    }
                };
                blocks.extend(text_block(p.get(key).and_then(Value::as_str).unwrap_or("")));
            }
        }
    }
    for (j, call) in m.tool_calls.iter().flatten().enumerate() {
        let id = call.get("id").and_then(Value::as_str).unwrap_or("");
        let function = call.get("function");
        let name = function
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if id.is_empty() || name.is_empty() {
            return Err(bad(format!(
                "messages[{i}].tool_calls[{j}]: `id` and `function.name` are required"
            )));
        }
        let arguments = function
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .unwrap_or("");
        // Anthropic wants an object; arguments that are empty or not a JSON object become {}.
        let input = match serde_json::from_str::<Value>(arguments) {
            Ok(v @ Value::Object(_)) => v,
            _ => Value::Object(Map::new()),
        };
        blocks.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
    }
    Ok(blocks)
}

fn tool_result(m: &ChatMessage, i: usize) -> Result<Value, ConvertError> {
    let id = m.tool_call_id.as_deref().unwrap_or("");
    if id.is_empty() {
        return Err(bad(format!(
            "messages[{i}]: a tool message needs `tool_call_id`"
        )));
    }
    let mut block = json!({"type": "tool_result", "tool_use_id": id});
    match &m.content {
        None => {}
        Some(MessageContent::Text(s)) if s.is_empty() => {}
        Some(MessageContent::Text(s)) => block["content"] = Value::String(s.clone()),
        Some(c) => {
            let inner = media_blocks(c, i)?;
            if !inner.is_empty() {
                block["content"] = Value::Array(inner);
            }
        }
    }
    Ok(block)
}

/// A `data:<mime>;base64,<data>` URL as an Anthropic image block.
fn image_block(url: &str, i: usize) -> Result<Value, ConvertError> {
    let url = url.trim();
    let Some(rest) = url.strip_prefix("data:") else {
        let scheme = url.split(':').next().unwrap_or("").to_ascii_lowercase();
        return Err(bad(if scheme == "http" || scheme == "https" {
            format!(
                "messages[{i}]: image URLs must be resolved to data: URLs before they reach the Anthropic adapter"
            )
        } else {
            format!("messages[{i}]: an image_url must be a data: URL (base64) for Anthropic")
        }));
    };
    let Some((meta, data)) = rest.split_once(',') else {
        return Err(bad(format!(
            "messages[{i}]: malformed data: URL in image_url"
        )));
    };
    let Some(mime) = meta.strip_suffix(";base64") else {
        return Err(bad(format!(
            "messages[{i}]: image data: URLs must be base64-encoded"
        )));
    };
    let mut mime = mime.trim().to_ascii_lowercase();
    if mime == "image/jpg" {
        mime = "image/jpeg".to_owned();
    }
    if !IMAGE_TYPES.contains(&mime.as_str()) {
        return Err(bad(format!(
            "messages[{i}]: image type `{mime}` is not supported by Anthropic (jpeg, png, gif, webp are)"
        )));
    }
    let data = standard_base64(data)
        .ok_or_else(|| bad(format!("messages[{i}]: the image data is not valid base64")))?;
    Ok(json!({
        "type": "image",
        "source": {"type": "base64", "media_type": mime, "data": data},
    }))
}

/// The data as standard, padded base64 (URL-safe or unpadded input is re-encoded).
fn standard_base64(data: &str) -> Option<String> {
    let clean: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if clean.is_empty() {
        return None;
    }
    if STANDARD.decode(&clean).is_ok() {
        return Some(clean);
    }
    [&STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(&clean).ok())
        .map(|bytes| STANDARD.encode(bytes))
}
