//! Validation of native generation requests, with DashScope's limits: `input.messages` with
//! roles system/user/assistant/tool; string content on the text service, a list of
//! `{"text"|"image"|"video"|"audio"}` parts on the multimodal service; `top_p` in the open
//! interval (0, 1), `temperature` in [0, 2), `max_tokens` ≥ 1, `n` in 1..=4. Every violation is a
//! 400 `InvalidParameter` whose message names the field.

use serde_json::Value;

use crate::openai::content_text;

/// Tokens counted for each image part of a vision prompt.
pub(super) const TOKENS_PER_IMAGE: u64 = 64;

/// Which generation service was called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Service {
    /// `aigc/text-generation/generation`.
    Text,
    /// `aigc/multimodal-generation/generation`.
    Multimodal,
}

/// True for the models the multimodal service serves.
pub(super) fn is_vision_model(model: &str) -> bool {
    model.starts_with("qvq") || (model.starts_with("qwen") && model.contains("-vl"))
}

/// A validated request, reduced to what the answer needs.
#[derive(Clone, Debug)]
pub(super) struct ChatRequest {
    pub(super) model: String,
    pub(super) vision: bool,
    pub(super) incremental: bool,
    pub(super) message_format: bool,
    pub(super) n: usize,
    pub(super) max_tokens: Option<u64>,
    /// The function the answer calls, when it is a tool call.
    pub(super) tool: Option<String>,
    /// The text the answer echoes.
    pub(super) echo: String,
    /// Text of the last `user` message (searched for fault directives).
    pub(super) last_user_text: String,
    pub(super) prompt_tokens: u64,
    pub(super) image_tokens: u64,
}

fn num(params: &Value, key: &str) -> Result<Option<f64>, String> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("parameters.{key} must be a number")),
    }
}

fn int(
    params: &Value,
    key: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, String> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(format!(
                "Range of {key} should be [{}, {}]",
                range.start(),
                range.end()
            )),
        },
    }
}

/// Checks one message's content for `service`; returns the number of image parts.
fn check_content(i: usize, m: &Value, service: Service) -> Result<u64, String> {
    let content = m.get("content");
    match service {
        Service::Text => match content {
            Some(Value::String(_)) => Ok(0),
            _ => Err(format!(
                "input.messages[{i}].content must be a string for this model"
            )),
        },
        Service::Multimodal => {
            let Some(Value::Array(parts)) = content else {
                return Err(format!("input.messages[{i}].content must be a list"));
            };
            let mut images = 0;
            for p in parts {
                let keys: Vec<&str> = p
                    .as_object()
                    .map(|o| o.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                match keys.as_slice() {
                    ["image"] => images += 1,
                    ["text"] | ["video"] | ["audio"] => {}
                    _ => {
                        return Err(format!(
                            "input.messages[{i}].content: each item holds one of text, image, \
                             video or audio, got {p}"
                        ));
                    }
                }
            }
            Ok(images)
        }
    }
}

/// Validates a generation body sent to `service`.
pub(super) fn parse(body: &Value, service: Service) -> Result<ChatRequest, String> {
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => return Err("Model not specified.".to_owned()),
    };
    let messages = match body.get("input").and_then(|i| i.get("messages")) {
        Some(Value::Array(m)) if !m.is_empty() => m,
        _ => return Err("input.messages is required and must not be empty".to_owned()),
    };
    let mut image_tokens = 0;
    let mut prompt_tokens = 0;
    for (i, m) in messages.iter().enumerate() {
        match m.get("role").and_then(Value::as_str) {
            Some("system" | "user" | "assistant" | "tool") => {}
            _ => {
                return Err(format!(
                    "input.messages[{i}].role must be one of system, user, assistant, tool"
                ));
            }
        }
        image_tokens += check_content(i, m, service)? * TOKENS_PER_IMAGE;
        prompt_tokens += content_text(m.get("content")).chars().count() as u64 / 4 + 3;
    }
    let params = body.get("parameters").cloned().unwrap_or(Value::Null);
    if !(params.is_null() || params.is_object()) {
        return Err("parameters must be an object".to_owned());
    }
    let message_format = match params.get("result_format") {
        None | Some(Value::Null) => false,
        Some(Value::String(f)) if f == "message" => true,
        Some(Value::String(f)) if f == "text" => false,
        Some(other) => {
            return Err(format!(
                "result_format must be text or message, got {other}"
            ));
        }
    };
    let incremental = match params.get("incremental_output") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("incremental_output must be a boolean".to_owned()),
    };
    if let Some(t) = num(&params, "temperature")?
        && !(0.0..2.0).contains(&t)
    {
        return Err(format!(
            "Range of temperature should be [0.0, 2.0), got {t}"
        ));
    }
    if let Some(p) = num(&params, "top_p")?
        && !(p > 0.0 && p < 1.0)
    {
        return Err(format!("Range of top_p should be (0.0, 1.0), got {p}"));
    }
    let max_tokens = int(&params, "max_tokens", 1..=u64::from(u32::MAX))?;
    let n = int(&params, "n", 1..=4)?.unwrap_or(1) as usize;
    let last = messages.last();
    let last_is_tool = last.and_then(|m| m.get("role")).and_then(Value::as_str) == Some("tool");
    let tool = pick_tool(&params, last_is_tool)?;
    let last_user_text = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| content_text(m.get("content")))
        .unwrap_or_default();
    let echo = if last_is_tool {
        format!(
            "tool result: {}",
            content_text(last.and_then(|m| m.get("content")))
        )
    } else {
        last_user_text.clone()
    };
    Ok(ChatRequest {
        model,
        vision: service == Service::Multimodal,
        incremental,
        message_format,
        n,
        max_tokens,
        tool,
        echo,
        last_user_text,
        prompt_tokens: (prompt_tokens + image_tokens).max(1),
        image_tokens,
    })
}

/// The function the answer calls, if any.
fn pick_tool(params: &Value, last_is_tool: bool) -> Result<Option<String>, String> {
    let names: Vec<&str> = match params.get("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tools)) => tools
            .iter()
            .map(|t| {
                t.get("function")
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| "each tool needs function.name".to_owned())
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("parameters.tools must be a list".to_owned()),
    };
    if names.is_empty() || last_is_tool {
        return Ok(None);
    }
    match params.get("tool_choice") {
        None | Some(Value::Null) => Ok(names.first().map(|n| (*n).to_owned())),
        Some(Value::String(s)) if s == "none" => Ok(None),
        Some(Value::String(s)) if s == "auto" => Ok(names.first().map(|n| (*n).to_owned())),
        Some(Value::Object(o)) => match o
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
        {
            Some(name) if names.contains(&name) => Ok(Some(name.to_owned())),
            _ => Err("tool_choice names a function that is not in tools".to_owned()),
        },
        Some(other) => Err(format!(
            "tool_choice must be auto, none or a function, got {other}"
        )),
    }
}
