//! Validation of chat bodies the way GLM validates them, and the deterministic answer.
//!
//! Answer text: `"Hello from zhipu <model>: " + <text of the last user message>` (after a `tool`
//! message: `"… tool result: " + <its text>`), cut into `chunks` pieces of (almost) equal
//! character length, one token each. `prompt_tokens` = Σ over messages of (characters of the
//! message's text / 4 + 3), at least 1. With function tools (and a last message that is not a
//! tool result) the answer calls the first function with `{"location":"Paris","unit":"celsius"}`
//! (completion tokens = `chunks`).

use serde_json::Value;

/// Arguments of every simulated tool call.
pub const TOOL_ARGUMENTS: &str = r#"{"location":"Paris","unit":"celsius"}"#;

/// Marker for an injected business error: `sim_error:<code>`.
pub const ERROR_MARKER: &str = "sim_error:";
/// Marker for a v4 finish reason: `sim_finish:sensitive` or `sim_finish:network_error`.
pub const FINISH_MARKER: &str = "sim_finish:";
/// Marker for a v3 stream ending in `event:error` or `event:interrupted`: `sim_event:<kind>`.
pub const EVENT_MARKER: &str = "sim_event:";

/// Splits `text` into exactly `pieces` non-empty parts of (almost) equal character length,
/// padding with `.` when the text is too short.
pub fn split_even(text: &str, pieces: usize) -> Vec<String> {
    let pieces = pieces.max(1);
    let mut chars: Vec<char> = text.chars().collect();
    while chars.len() < pieces {
        chars.push('.');
    }
    let len = chars.len();
    (0..pieces)
        .map(|i| {
            chars[i * len / pieces..(i + 1) * len / pieces]
                .iter()
                .collect()
        })
        .collect()
}

/// The word after `marker` in `text` (`[A-Za-z0-9_]`).
pub(super) fn marker<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let start = text.find(marker)? + marker.len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Text of a `content`: a string, or the `text` parts joined with a space.
pub(super) fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// A rejected body: business code and the field at fault.
#[derive(Debug)]
pub(super) struct Invalid {
    pub(super) code: u32,
    pub(super) message: String,
}

fn invalid(field: &str) -> Invalid {
    Invalid {
        code: 1214,
        message: format!("{field}参数非法。请检查文档。"),
    }
}

fn missing(field: &str) -> Invalid {
    Invalid {
        code: 1213,
        message: format!("未正常接收到{field}参数。"),
    }
}

/// What the answer needs to know about a validated request.
#[derive(Clone, Debug)]
pub(super) struct Chat {
    pub(super) model: String,
    pub(super) stream: bool,
    pub(super) max_tokens: Option<u64>,
    pub(super) tool: Option<String>,
    pub(super) echo: String,
    pub(super) last_user_text: String,
    pub(super) prompt_tokens: u64,
    /// v3 only: deltas (default) or the whole text so far in every `add` event.
    pub(super) incremental: bool,
}

fn prompt_tokens(messages: &[Value]) -> u64 {
    messages
        .iter()
        .map(|m| content_text(m.get("content")).chars().count() as u64 / 4 + 3)
        .sum::<u64>()
        .max(1)
}

/// Checks a sampling parameter: a number in (0, 1), or (0, 1] when `one_ok`.
fn sampling(body: &Value, key: &str, one_ok: bool) -> Result<(), Invalid> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(v) => match v.as_f64() {
            Some(x) if x > 0.0 && (x < 1.0 || (one_ok && x == 1.0)) => Ok(()),
            _ => Err(invalid(key)),
        },
    }
}

fn echo_of(messages: &[Value]) -> (String, String) {
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| content_text(m.get("content")))
        .unwrap_or_default();
    let echo = match messages.last() {
        Some(m) if m.get("role").and_then(Value::as_str) == Some("tool") => {
            format!("tool result: {}", content_text(m.get("content")))
        }
        _ => last_user.clone(),
    };
    (echo, last_user)
}

/// Validates a v4 chat body for `model` (already known to exist).
pub(super) fn parse_v4(body: &Value, model: &str) -> Result<Chat, Invalid> {
    let vision = model.starts_with("glm-4v");
    let messages = match body.get("messages") {
        None | Some(Value::Null) => return Err(missing("messages")),
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(_) => return Err(invalid("messages")),
    };
    let mut images = 0;
    for m in messages {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let allowed: &[&str] = if vision {
            &["user", "assistant"]
        } else {
            &["system", "user", "assistant", "tool"]
        };
        if !allowed.contains(&role) {
            return Err(invalid("messages.role"));
        }
        match m.get("content") {
            Some(Value::String(_)) => {}
            None | Some(Value::Null) if role == "assistant" && m.get("tool_calls").is_some() => {}
            Some(Value::Array(parts)) if vision && role == "user" => {
                for p in parts {
                    match p.get("type").and_then(Value::as_str) {
                        Some("text") if p.get("text").is_some_and(Value::is_string) => {}
                        Some("image_url") => {
                            let url = p.pointer("/image_url/url").and_then(Value::as_str);
                            // The service takes an http(s) URL or bare base64, not a data URL.
                            if url.is_none_or(|u| u.is_empty() || u.starts_with("data:")) {
                                return Err(invalid("messages.content.image_url"));
                            }
                            images += 1;
                        }
                        _ => return Err(invalid("messages.content")),
                    }
                }
            }
            _ => return Err(invalid("messages.content")),
        }
    }
    if images > 5 {
        return Err(invalid("messages.content.image_url"));
    }
    sampling(body, "temperature", false)?;
    sampling(body, "top_p", false)?;
    let max_tokens = match body.get("max_tokens") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n >= 1)
                .ok_or_else(|| invalid("max_tokens"))?,
        ),
    };
    match body.get("stop") {
        None | Some(Value::Null) => {}
        // One stop word, as a list.
        Some(Value::Array(s)) if s.len() <= 1 && s.iter().all(Value::is_string) => {}
        Some(_) => return Err(invalid("stop")),
    }
    for key in ["stream", "do_sample"] {
        if body
            .get(key)
            .is_some_and(|v| !v.is_boolean() && !v.is_null())
        {
            return Err(invalid(key));
        }
    }
    let tools = match body.get("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(t)) if !vision => t.clone(),
        Some(_) => return Err(invalid("tools")),
    };
    for t in &tools {
        match t.get("type").and_then(Value::as_str) {
            Some("function") if t.pointer("/function/name").is_some_and(Value::is_string) => {}
            Some("retrieval" | "web_search") => {}
            _ => return Err(invalid("tools")),
        }
    }
    match body.get("tool_choice") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "auto" => {}
        Some(_) => return Err(invalid("tool_choice")),
    }
    let (echo, last_user_text) = echo_of(messages);
    let last_is_tool = messages
        .last()
        .and_then(|m| m.get("role"))
        .and_then(Value::as_str)
        == Some("tool");
    let tool = if last_is_tool {
        None
    } else {
        tools
            .iter()
            .find_map(|t| t.pointer("/function/name").and_then(Value::as_str))
            .map(str::to_owned)
    };
    Ok(Chat {
        model: model.to_owned(),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        max_tokens,
        tool,
        echo,
        last_user_text,
        prompt_tokens: prompt_tokens(messages),
        incremental: true,
    })
}

/// Validates a v3 body (`prompt` of user/assistant text turns).
pub(super) fn parse_v3(body: &Value, model: &str, stream: bool) -> Result<Chat, Invalid> {
    let prompt = match body.get("prompt") {
        None | Some(Value::Null) => return Err(missing("prompt")),
        Some(Value::Array(p)) if !p.is_empty() => p,
        Some(_) => return Err(invalid("prompt")),
    };
    for m in prompt {
        let role_ok = matches!(
            m.get("role").and_then(Value::as_str),
            Some("user" | "assistant")
        );
        if !role_ok || !m.get("content").is_some_and(Value::is_string) {
            return Err(invalid("prompt"));
        }
    }
    // v3 documents temperature in (0, 1] and top_p in (0, 1).
    sampling(body, "temperature", true)?;
    sampling(body, "top_p", false)?;
    let incremental = match body.get("incremental") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("incremental")),
    };
    let (echo, last_user_text) = echo_of(prompt);
    Ok(Chat {
        model: model.to_owned(),
        stream,
        max_tokens: None,
        tool: None,
        echo,
        last_user_text,
        prompt_tokens: prompt_tokens(prompt),
        incremental,
    })
}

/// The planned answer.
#[derive(Clone, Debug)]
pub(super) struct Plan {
    /// Text pieces (empty for a tool call).
    pub(super) pieces: Vec<String>,
    /// `(name, arguments)` of the tool call, if any.
    pub(super) tool: Option<(String, String)>,
    pub(super) finish: &'static str,
    pub(super) prompt_tokens: u64,
    pub(super) completion_tokens: u64,
}

/// Builds the answer for `chat`, `chunks` pieces long.
pub(super) fn plan(chat: &Chat, chunks: usize) -> Plan {
    let chunks = chunks.max(1);
    if let Some(name) = &chat.tool {
        return Plan {
            pieces: Vec::new(),
            tool: Some((name.clone(), TOOL_ARGUMENTS.to_owned())),
            finish: "tool_calls",
            prompt_tokens: chat.prompt_tokens,
            completion_tokens: chunks as u64,
        };
    }
    let text = format!("Hello from zhipu {}: {}", chat.model, chat.echo);
    let mut pieces = split_even(&text, chunks);
    let mut finish = "stop";
    if let Some(max) = chat.max_tokens
        && (max as usize) < pieces.len()
    {
        pieces.truncate(max as usize);
        finish = "length";
    }
    Plan {
        completion_tokens: pieces.len() as u64,
        pieces,
        tool: None,
        finish,
        prompt_tokens: chat.prompt_tokens,
    }
}

/// A 19-digit id like the service's numeric ids.
pub(super) fn numeric_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let first = char::from(b'1' + rng.random_range(0..9u8));
    let rest: String = (0..18)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    format!("{first}{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markers_and_splits() {
        assert_eq!(marker("x sim_error:1301.", ERROR_MARKER), Some("1301"));
        assert_eq!(marker("nothing", ERROR_MARKER), None);
        assert_eq!(split_even("abcd", 3).concat(), "abcd");
        assert_eq!(split_even("ab", 3), vec!["a", "b", "."]);
    }

    #[test]
    fn v4_validation() {
        let ok = json!({"messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}],"temperature":0.5,"stop":["x"]});
        assert!(parse_v4(&ok, "glm-4").is_ok());
        for bad in [
            json!({"messages":[]}),
            json!({"messages":[{"role":"user","content":"hi"}],"temperature":1}),
            json!({"messages":[{"role":"user","content":"hi"}],"temperature":0}),
            json!({"messages":[{"role":"user","content":"hi"}],"top_p":1.0}),
            json!({"messages":[{"role":"user","content":"hi"}],"stop":"x"}),
            json!({"messages":[{"role":"user","content":"hi"}],"stop":["a","b"]}),
            json!({"messages":[{"role":"user","content":"hi"}],"tool_choice":"required"}),
            json!({"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}),
        ] {
            assert!(parse_v4(&bad, "glm-4").is_err(), "{bad}");
        }
        let sys =
            json!({"messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}]});
        assert!(
            parse_v4(&sys, "glm-4v").is_err(),
            "GLM-4V has no system role"
        );
        let data_url = json!({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]});
        assert!(parse_v4(&data_url, "glm-4v").is_err());
        let bare = json!({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"AAAA"}},{"type":"text","text":"what"}]}]});
        assert_eq!(parse_v4(&bare, "glm-4v").unwrap().echo, "what");
    }
}
