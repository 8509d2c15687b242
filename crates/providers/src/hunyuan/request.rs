//! Canonical (OpenAI) request → Hunyuan `ChatCompletions` / `GetEmbedding` request (PascalCase),
//! signed with TC3-HMAC-SHA256.
//!
//! Invariants: every system (and `developer`) message is kept, joined into the one leading
//! `system` message Hunyuan allows; consecutive user (or plain assistant) turns are merged so
//! user and assistant alternate as Hunyuan requires; parameters are clamped into Hunyuan's ranges
//! (`Temperature` [0, 2], `TopP` [0, 1], `Seed` 1..=10000); the body is serialised once and those
//! exact bytes are hashed into the signature.

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value, json};
use switchyard_types::{ChatMessage, ChatRequest, MessageContent};

use super::auth;
use crate::adapter::{ConvertError, EmbeddingsInput, Target, UpstreamRequest};

/// The Cloud API version of Hunyuan.
pub(super) const VERSION: &str = "2023-09-01";
/// The action of a chat request.
pub(super) const CHAT_ACTION: &str = "ChatCompletions";
/// The action of an embeddings request.
pub(super) const EMBEDDING_ACTION: &str = "GetEmbedding";
/// The one embedding size Hunyuan produces.
pub(super) const EMBEDDING_DIMENSIONS: u64 = 1024;
/// Most inputs one `GetEmbedding` call takes.
pub(super) const MAX_EMBEDDING_INPUTS: usize = 50;

/// Snake-case OpenAI-compatible extras Tencent documents, and their native names. Any extra whose
/// name starts with an upper-case letter is passed through unchanged as well.
const EXTRAS: &[(&str, &str)] = &[
    ("enable_enhancement", "EnableEnhancement"),
    ("search_info", "SearchInfo"),
    ("citation", "Citation"),
    ("enable_speed_search", "EnableSpeedSearch"),
    ("force_search_enhancement", "ForceSearchEnhancement"),
    ("enable_thinking", "EnableThinking"),
    ("stream_moderation", "StreamModeration"),
];

/// The upstream model name: the legacy generic `hunyuan` is today's `hunyuan-standard`.
pub(super) fn native_model(upstream_model: &str) -> &str {
    match upstream_model {
        "hunyuan" => "hunyuan-standard",
        other => other,
    }
}

#[derive(Serialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Message {
    role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contents: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Vec<Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Body<'a> {
    model: &'a str,
    messages: Vec<Message>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_tool: Option<Value>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

fn bad(message: impl Into<String>, param: &str) -> ConvertError {
    ConvertError::BadRequest {
        message: message.into(),
        param: Some(param.to_owned()),
    }
}

/// Builds the signed `ChatCompletions` request.
pub(super) fn build(
    req: &ChatRequest,
    target: &Target<'_>,
) -> Result<UpstreamRequest, ConvertError> {
    let body = chat_body(req, target.upstream_model)?;
    signed(target, CHAT_ACTION, body)
}

/// Serialises the native chat body (exposed to the tests).
pub(super) fn chat_body(req: &ChatRequest, upstream_model: &str) -> Result<Vec<u8>, ConvertError> {
    if req.choices() > 1 {
        return Err(bad(
            "Tencent Hunyuan returns one choice only; `n` must be 1",
            "n",
        ));
    }
    let tools = req.tools.as_deref().map(convert_tools).transpose()?;
    let (tool_choice, custom_tool) = tool_choice(req.extra.get("tool_choice"), tools.as_deref())?;
    let body = Body {
        model: native_model(upstream_model),
        messages: messages(&req.messages)?,
        stream: req.is_stream(),
        temperature: number(req.extra.get("temperature")).map(|t| t.clamp(0.0, 2.0)),
        top_p: number(req.extra.get("top_p")).map(|t| t.clamp(0.0, 1.0)),
        seed: req
            .extra
            .get("seed")
            .and_then(Value::as_f64)
            .map(|s| s.clamp(1.0, 10_000.0) as u64),
        stop: stop(req.extra.get("stop"))?,
        tools,
        tool_choice,
        custom_tool,
        extra: extras(&req.extra),
    };
    serde_json::to_vec(&body).map_err(|e| ConvertError::BadRequest {
        message: format!("cannot serialise the request: {e}"),
        param: None,
    })
}

/// Signs `body` for `action` and wraps it into a request.
pub(super) fn signed(
    target: &Target<'_>,
    action: &str,
    body: Vec<u8>,
) -> Result<UpstreamRequest, ConvertError> {
    let creds = auth::credentials(target.key)?;
    let (url, host) = auth::endpoint(target.base_url)?;
    let sig = auth::sign(creds, &host, target.now_unix, &body);
    Ok(UpstreamRequest::post_json(
        url,
        vec![
            ("authorization".into(), sig.authorization.into()),
            ("x-tc-action".into(), action.to_owned().into()),
            ("x-tc-version".into(), VERSION.into()),
            ("x-tc-timestamp".into(), target.now_unix.to_string().into()),
        ],
        Bytes::from(body),
    ))
}

fn number(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64).filter(|f| f.is_finite())
}

fn stop(v: Option<&Value>) -> Result<Option<Vec<String>>, ConvertError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad("`stop` must be a string or a list of strings", "stop"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|l| (!l.is_empty()).then_some(l)),
        Some(_) => Err(bad("`stop` must be a string or a list of strings", "stop")),
    }
}

fn extras(extra: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in extra {
        if k.starts_with(|c: char| c.is_ascii_uppercase()) {
            out.insert(k.clone(), v.clone());
        } else if let Some((_, native)) = EXTRAS.iter().find(|(snake, _)| snake == k) {
            out.insert((*native).to_owned(), v.clone());
        }
    }
    out
}

/// OpenAI `tools` → Hunyuan `Tools` (`Parameters` is a JSON *string*).
fn convert_tools(tools: &[Value]) -> Result<Vec<Value>, ConvertError> {
    tools
        .iter()
        .map(|t| {
            let kind = t.get("type").and_then(Value::as_str).unwrap_or("function");
            let f = t
                .get("function")
                .filter(|_| kind == "function")
                .ok_or_else(|| {
                    bad(
                        format!("Tencent Hunyuan supports function tools only, not `{kind}`"),
                        "tools",
                    )
                })?;
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| bad("every tool needs a function name", "tools"))?;
            let params = f
                .get("parameters")
                .filter(|p| !p.is_null())
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
            let mut func = Map::new();
            func.insert("Name".into(), Value::from(name));
            if let Some(d) = f.get("description").and_then(Value::as_str) {
                func.insert("Description".into(), Value::from(d));
            }
            func.insert("Parameters".into(), Value::from(params.to_string()));
            Ok(json!({"Type": "function", "Function": func}))
        })
        .collect()
}

/// OpenAI `tool_choice` → (`ToolChoice`, `CustomTool`). `required` has no Hunyuan equivalent and
/// becomes `auto`; a named function becomes `custom` with that tool.
fn tool_choice(
    choice: Option<&Value>,
    tools: Option<&[Value]>,
) -> Result<(Option<&'static str>, Option<Value>), ConvertError> {
    let Some(choice) = choice.filter(|c| !c.is_null()) else {
        return Ok((None, None));
    };
    if tools.is_none() {
        return Ok((None, None));
    }
    match choice {
        Value::String(s) => match s.as_str() {
            "none" => Ok((Some("none"), None)),
            "auto" | "required" => Ok((Some("auto"), None)),
            other => Err(bad(format!("unknown tool_choice `{other}`"), "tool_choice")),
        },
        Value::Object(o) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| bad("tool_choice needs function.name", "tool_choice"))?;
            let tool = tools
                .into_iter()
                .flatten()
                .find(|t| t["Function"]["Name"] == name)
                .ok_or_else(|| {
                    bad(
                        format!("tool_choice names `{name}`, which is not in tools"),
                        "tool_choice",
                    )
                })?;
            Ok((Some("custom"), Some(tool.clone())))
        }
        _ => Err(bad(
            "tool_choice must be a string or an object",
            "tool_choice",
        )),
    }
}

/// Converts the conversation; see the module docs for the invariants.
fn messages(msgs: &[ChatMessage]) -> Result<Vec<Message>, ConvertError> {
    let mut system: Vec<String> = Vec::new();
    let mut out: Vec<Message> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let param = format!("messages[{i}].content");
        match m.role.as_str() {
            "system" | "developer" => {
                let text = plain_text(m.content.as_ref());
                if !text.is_empty() {
                    system.push(text);
                }
            }
            "user" => {
                let (content, contents) = user_content(m.content.as_ref(), &param)?;
                push_merged(
                    &mut out,
                    Message {
                        role: "user".into(),
                        content,
                        contents,
                        ..Message::default()
                    },
                );
            }
            "assistant" => {
                let text = plain_text(m.content.as_ref());
                let calls = m.tool_calls.as_deref().filter(|c| !c.is_empty());
                let tool_calls = calls.map(|c| c.iter().map(native_tool_call).collect());
                let content = (!text.is_empty() || tool_calls.is_none()).then_some(text);
                push_merged(
                    &mut out,
                    Message {
                        role: "assistant".into(),
                        content,
                        tool_calls,
                        ..Message::default()
                    },
                );
            }
            "tool" | "function" => out.push(Message {
                role: "tool".into(),
                content: Some(plain_text(m.content.as_ref())),
                tool_call_id: m.tool_call_id.clone(),
                ..Message::default()
            }),
            other => {
                return Err(bad(
                    format!("unknown message role `{other}`"),
                    &format!("messages[{i}].role"),
                ));
            }
        }
    }
    if !system.is_empty() {
        out.insert(
            0,
            Message {
                role: "system".into(),
                content: Some(system.join("\n\n")),
                ..Message::default()
            },
        );
    }
    Ok(out)
}

/// Appends `m`, merging it into the previous message when both are user turns or both are plain
/// assistant turns (Hunyuan rejects two user or two assistant messages in a row).
fn push_merged(out: &mut Vec<Message>, m: Message) {
    let Some(prev) = out.last_mut() else {
        out.push(m);
        return;
    };
    let mergeable = prev.role == m.role
        && (m.role == "user" || (prev.tool_calls.is_none() && m.tool_calls.is_none()));
    if !mergeable {
        out.push(m);
        return;
    }
    match (prev.contents.take(), m.contents) {
        (None, None) => {
            let a = prev.content.take().unwrap_or_default();
            let b = m.content.unwrap_or_default();
            prev.content = Some(match (a.is_empty(), b.is_empty()) {
                (true, _) => b,
                (_, true) => a,
                _ => format!("{a}\n\n{b}"),
            });
        }
        (a, b) => {
            let mut parts = a.unwrap_or_else(|| text_parts(prev.content.take()));
            parts.extend(b.unwrap_or_else(|| text_parts(m.content)));
            prev.contents = Some(parts);
            prev.content = None;
        }
    }
}

fn text_parts(text: Option<String>) -> Vec<Value> {
    text.filter(|t| !t.is_empty())
        .map(|t| vec![json!({"Type": "text", "Text": t})])
        .unwrap_or_default()
}

/// The text of a message (text parts joined with a newline).
fn plain_text(content: Option<&MessageContent>) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if let Some(MessageContent::Text(s)) = content {
        return s.clone();
    }
    if let Some(MessageContent::Parts(p)) = content {
        parts.extend(
            p.iter()
                .filter_map(|v| v.get("text").and_then(Value::as_str)),
        );
    }
    parts.join("\n")
}

/// A user turn: plain `Content`, or `Contents` when it carries images.
fn user_content(
    content: Option<&MessageContent>,
    param: &str,
) -> Result<(Option<String>, Option<Vec<Value>>), ConvertError> {
    let parts = match content {
        None => return Ok((Some(String::new()), None)),
        Some(MessageContent::Text(s)) => return Ok((Some(s.clone()), None)),
        Some(MessageContent::Parts(parts)) => parts,
    };
    if parts
        .iter()
        .all(|p| p.get("type").and_then(Value::as_str) == Some("text"))
    {
        return Ok((Some(plain_text(content)), None));
    }
    let native = parts
        .iter()
        .map(|p| match p.get("type").and_then(Value::as_str) {
            Some("text") => {
                Ok(json!({"Type": "text", "Text": p.get("text").cloned().unwrap_or(Value::Null)}))
            }
            Some("image_url") => {
                let url = p
                    .get("image_url")
                    .and_then(|i| i.get("url").or(Some(i)))
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("image_url needs a url", param))?;
                Ok(json!({"Type": "image_url", "ImageUrl": {"Url": url}}))
            }
            other => Err(bad(
                format!(
                    "Tencent Hunyuan accepts text and image_url parts, not `{}`",
                    other.unwrap_or("?")
                ),
                param,
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((None, Some(native)))
}

/// One OpenAI assistant `tool_calls` entry → Hunyuan `ToolCalls` entry.
fn native_tool_call(call: &Value) -> Value {
    let f = &call["function"];
    json!({
        "Id": call.get("id").cloned().unwrap_or(Value::Null),
        "Type": "function",
        "Function": {
            "Name": f.get("name").cloned().unwrap_or(Value::Null),
            "Arguments": f.get("arguments").cloned().unwrap_or_else(|| Value::from("{}")),
        }
    })
}

/// Builds the signed `GetEmbedding` request: `Input` for one text, `InputList` for several.
pub(super) fn embeddings(
    input: &EmbeddingsInput<'_>,
    target: &Target<'_>,
) -> Result<UpstreamRequest, ConvertError> {
    if let Some(d) = input.dimensions.filter(|d| *d != EMBEDDING_DIMENSIONS) {
        return Err(bad(
            format!("Tencent Hunyuan embeddings have {EMBEDDING_DIMENSIONS} dimensions, not {d}"),
            "dimensions",
        ));
    }
    let body = match input.texts {
        [] => return Err(bad("`input` must not be empty", "input")),
        [one] => json!({"Input": one}),
        many if many.len() > MAX_EMBEDDING_INPUTS => {
            return Err(bad(
                format!("Tencent Hunyuan embeds at most {MAX_EMBEDDING_INPUTS} texts per request"),
                "input",
            ));
        }
        many => json!({"InputList": many}),
    };
    signed(target, EMBEDDING_ACTION, body.to_string().into_bytes())
}
