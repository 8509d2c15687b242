//! OpenAI messages to ERNIE v1 `system` + `messages`.
//!
//! ERNIE wants every system text in the top-level `system` field and a `messages` list whose odd
//! positions (1st, 3rd, …) are `user` or `function` turns and even positions `assistant` turns,
//! starting and ending on the user side, with non-empty contents. The conversion keeps every
//! piece of content:
//!
//! - all `system`/`developer` messages are joined (blank line between) into `system`;
//! - an assistant turn with several tool calls becomes one `assistant` + `function` pair per call
//!   (ERNIE v1 calls one function at a time), each result matched by `tool_call_id`;
//! - consecutive turns of the same role are merged (texts joined with a blank line);
//! - where two turns of the same side cannot be merged (a function result followed by a user
//!   message, two function calls in a row), a short filler turn of the other side is inserted,
//!   and a conversation that starts or ends on the assistant side gets a user filler;
//! - a conversation of system messages only becomes one user message.
//!
//! Images and other media are refused: ERNIE v1 chat endpoints take text only.

use serde_json::{Value, json};
use switchyard_types::{ChatMessage, MessageContent};

use crate::adapter::ConvertError;

/// Inserted before a conversation that starts with an assistant turn.
pub(super) const LEADING_USER_FILLER: &str = "Hello.";
/// Inserted after a conversation that ends with an assistant turn, or between two assistant
/// turns that cannot be merged.
pub(super) const USER_FILLER: &str = "Continue.";
/// Inserted between two user-side turns that cannot be merged.
pub(super) const ASSISTANT_FILLER: &str = "OK.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Assistant,
    Function,
}

impl Role {
    fn user_side(self) -> bool {
        self != Role::Assistant
    }
}

#[derive(Debug, Clone)]
struct Turn {
    role: Role,
    content: String,
    /// The function a `function` turn answers.
    name: Option<String>,
    /// `{name, arguments}` of an assistant turn that calls a function.
    call: Option<Value>,
}

impl Turn {
    fn text(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            name: None,
            call: None,
        }
    }

    fn to_json(&self) -> Value {
        match self.role {
            Role::User => json!({"role": "user", "content": self.content}),
            Role::Function => json!({
                "role": "function",
                "name": self.name.as_deref().unwrap_or("function"),
                "content": self.content,
            }),
            Role::Assistant => {
                let mut v = json!({"role": "assistant", "content": self.content});
                if let Some(call) = &self.call {
                    v["function_call"] = call.clone();
                }
                v
            }
        }
    }
}

fn bad(message: String) -> ConvertError {
    ConvertError::BadRequest {
        message,
        param: Some("messages".to_owned()),
    }
}

/// The text of a message; media parts are refused.
fn text_of(m: &ChatMessage, index: usize) -> Result<String, ConvertError> {
    let Some(content) = &m.content else {
        return Ok(String::new());
    };
    if content.media_parts() > 0 {
        return Err(bad(format!(
            "messages[{index}] has image or other media parts; Qianfan v1 chat models take text only"
        )));
    }
    Ok(match content {
        MessageContent::Text(s) => s.clone(),
        MessageContent::Parts(_) => {
            let mut parts = Vec::new();
            content.for_each_text(|t| parts.push(t.to_owned()));
            parts.join("\n")
        }
    })
}

fn str_field<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// `{name, arguments}` of one OpenAI tool call, with its id.
fn call_of(tc: &Value) -> (Option<String>, Value) {
    let id = str_field(tc, &["id"]).map(str::to_owned);
    let name = str_field(tc, &["function", "name"]).unwrap_or("function");
    let args = match tc.get("function").and_then(|f| f.get("arguments")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "{}".to_owned(),
        Some(other) => other.to_string(),
    };
    (id, json!({"name": name, "arguments": args}))
}

/// Converts the conversation: `(system, messages)`.
pub(super) fn convert(msgs: &[ChatMessage]) -> Result<(Option<String>, Vec<Value>), ConvertError> {
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    let mut i = 0;
    while i < msgs.len() {
        let m = &msgs[i];
        match m.role.as_str() {
            "system" | "developer" => {
                let t = text_of(m, i)?;
                if !t.trim().is_empty() {
                    system.push(t);
                }
            }
            "user" => turns.push(Turn::text(Role::User, text_of(m, i)?)),
            "assistant" => {
                let text = text_of(m, i)?;
                let calls: Vec<&Value> = m.tool_calls.iter().flatten().collect();
                if calls.is_empty() {
                    let mut t = Turn::text(Role::Assistant, text);
                    t.call = m
                        .extra
                        .get("function_call")
                        .filter(|v| !v.is_null())
                        .cloned();
                    turns.push(t);
                } else {
                    // Results that follow, by call id.
                    let mut j = i + 1;
                    let mut results: Vec<(Option<String>, Option<String>, String)> = Vec::new();
                    while j < msgs.len() && msgs[j].role == "tool" {
                        let name = msgs[j].extra.get("name").and_then(Value::as_str);
                        results.push((
                            msgs[j].tool_call_id.clone(),
                            name.map(str::to_owned),
                            text_of(&msgs[j], j)?,
                        ));
                        j += 1;
                    }
                    for (k, tc) in calls.iter().enumerate() {
                        let (id, call) = call_of(tc);
                        let name = str_field(&call, &["name"]).unwrap_or("function").to_owned();
                        let mut t = Turn::text(
                            Role::Assistant,
                            if k == 0 { text.clone() } else { String::new() },
                        );
                        t.call = Some(call);
                        turns.push(t);
                        let pos = results
                            .iter()
                            .position(|(rid, _, _)| id.is_some() && *rid == id);
                        if let Some(pos) = pos {
                            let (_, _, content) = results.remove(pos);
                            let mut r = Turn::text(Role::Function, content);
                            r.name = Some(name);
                            turns.push(r);
                        }
                    }
                    // Results that match no call are kept as plain function turns.
                    for (_, name, content) in results {
                        let mut r = Turn::text(Role::Function, content);
                        r.name = name;
                        turns.push(r);
                    }
                    i = j;
                    continue;
                }
            }
            "tool" | "function" => {
                let mut r = Turn::text(Role::Function, text_of(m, i)?);
                r.name = m
                    .extra
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                turns.push(r);
            }
            other => {
                return Err(bad(format!(
                    "messages[{i}] has role `{other}`, which Qianfan v1 cannot express"
                )));
            }
        }
        i += 1;
    }
    let system = (!system.is_empty()).then(|| system.join("\n\n"));
    if turns.is_empty() {
        // Only system messages: they become the question itself.
        return match system {
            Some(s) => Ok((None, vec![Turn::text(Role::User, s).to_json()])),
            None => Err(bad("messages must contain at least one message".to_owned())),
        };
    }
    let turns = alternate(turns);
    Ok((system, turns.iter().map(Turn::to_json).collect()))
}

/// Merges and fills so that turns alternate user side / assistant side, user side first and last.
fn alternate(turns: Vec<Turn>) -> Vec<Turn> {
    let mut out: Vec<Turn> = Vec::with_capacity(turns.len() + 2);
    for t in turns {
        let Some(last) = out.last_mut() else {
            if t.role == Role::Assistant {
                out.push(Turn::text(Role::User, LEADING_USER_FILLER));
            }
            out.push(t);
            continue;
        };
        if last.role.user_side() != t.role.user_side() {
            out.push(t);
            continue;
        }
        let mergeable = last.role == t.role
            && match t.role {
                Role::User => true,
                Role::Assistant => last.call.is_none() || t.call.is_none(),
                Role::Function => false,
            };
        if mergeable {
            match (last.content.is_empty(), t.content.is_empty()) {
                (_, true) => {}
                (true, false) => last.content = t.content,
                (false, false) => {
                    last.content.push_str("\n\n");
                    last.content.push_str(&t.content);
                }
            }
            if last.call.is_none() {
                last.call = t.call;
            }
        } else {
            let filler = if t.role.user_side() {
                Turn::text(Role::Assistant, ASSISTANT_FILLER)
            } else {
                Turn::text(Role::User, USER_FILLER)
            };
            out.push(filler);
            out.push(t);
        }
    }
    if out.last().is_some_and(|t| t.role == Role::Assistant) {
        out.push(Turn::text(Role::User, USER_FILLER));
    }
    out
}
