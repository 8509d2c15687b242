//! Validation of a Messages request, refusing what the real API refuses (with its wording where
//! it is known from public reports; see `docs/providers/anthropic.md`).

use std::collections::HashSet;

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::errors::error_response;
use super::{AnthropicSimConfig, Model};

/// A refused request (boxed: responses are large).
pub(super) type Reject = Box<Response>;

/// What the answer depends on.
#[derive(Clone, Debug)]
pub(super) struct Parsed {
    pub(super) model: String,
    pub(super) max_tokens: u64,
    pub(super) stream: bool,
    pub(super) stop_sequences: Vec<String>,
    pub(super) tools: Vec<String>,
    pub(super) choice: Choice,
    pub(super) parallel: bool,
    /// Text blocks of the last message (when it is a user message), joined by spaces.
    pub(super) last_user_text: String,
    /// The text of the last message's tool results, when it has any.
    pub(super) last_tool_results: Option<String>,
    pub(super) input_tokens: u64,
}

/// `tool_choice`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Choice {
    Auto,
    Any,
    Tool(String),
    None,
}

const TOP_LEVEL: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "system",
    "stop_sequences",
    "temperature",
    "top_p",
    "top_k",
    "stream",
    "tools",
    "tool_choice",
    "metadata",
    "thinking",
    "service_tier",
];
const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];
const IMAGE_TOKENS: u64 = 85;

fn invalid(message: impl AsRef<str>) -> Reject {
    Box::new(error_response(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        message.as_ref(),
    ))
}

fn extra_keys(obj: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), Reject> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(invalid(format!(
            "{path}{k}: Extra inputs are not permitted"
        ))),
        None => Ok(()),
    }
}

fn unit_range(body: &Map<String, Value>, key: &str) -> Result<Option<f64>, Reject> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(f) if f < 0.0 => Err(invalid(format!(
                "{key}: Input should be greater than or equal to 0"
            ))),
            Some(f) if f > 1.0 => Err(invalid(format!(
                "{key}: Input should be less than or equal to 1"
            ))),
            Some(f) => Ok(Some(f)),
            None => Err(invalid(format!("{key}: Input should be a valid number"))),
        },
    }
}

/// Validates `body` against `cfg`.
pub(super) fn parse(cfg: &AnthropicSimConfig, body: &Value) -> Result<Parsed, Reject> {
    let Some(obj) = body.as_object() else {
        return Err(invalid("The request body must be a JSON object"));
    };
    extra_keys(obj, TOP_LEVEL, "")?;
    let model_name = match obj.get("model") {
        Some(Value::String(m)) => m.clone(),
        Some(_) => return Err(invalid("model: Input should be a valid string")),
        None => return Err(invalid("model: Field required")),
    };
    if !obj.contains_key("messages") {
        return Err(invalid("messages: Field required"));
    }
    let max_tokens = match obj.get("max_tokens") {
        None => return Err(invalid("max_tokens: Field required")),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 => n as u64,
            Some(_) => {
                return Err(invalid(
                    "max_tokens: Input should be greater than or equal to 1",
                ));
            }
            None => return Err(invalid("max_tokens: Input should be a valid integer")),
        },
    };
    let Some(model) = cfg.model(&model_name) else {
        return Err(Box::new(error_response(
            StatusCode::NOT_FOUND,
            "not_found_error",
            &format!("model: {model_name}"),
        )));
    };
    if max_tokens > model.max_output {
        return Err(invalid(format!(
            "max_tokens: {max_tokens} > {}, which is the maximum allowed number of output tokens for {model_name}",
            model.max_output
        )));
    }
    sampling(obj, model)?;
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("stream: Input should be a valid boolean")),
    };
    let stop_sequences = stop_sequences(obj.get("stop_sequences"))?;
    let system_chars = system(obj.get("system"))?;
    let (tools, tools_chars) = tools(obj.get("tools"))?;
    let (choice, parallel) = tool_choice(obj.get("tool_choice"), &tools)?;
    metadata(obj.get("metadata"))?;
    thinking(obj.get("thinking"), max_tokens)?;
    let conv = super::validate_messages::conversation(obj.get("messages"), !tools.is_empty())?;
    let input_tokens =
        (conv.message_tokens + system_chars as u64 / 4 + tools_chars as u64 / 4).max(1);
    Ok(Parsed {
        model: model_name,
        max_tokens,
        stream,
        stop_sequences,
        tools,
        choice,
        parallel,
        last_user_text: conv.last_user_text,
        last_tool_results: conv.last_tool_results,
        input_tokens,
    })
}

fn sampling(obj: &Map<String, Value>, model: Model) -> Result<(), Reject> {
    let temperature = unit_range(obj, "temperature")?;
    let top_p = unit_range(obj, "top_p")?;
    if model.one_sampler && temperature.is_some() && top_p.is_some() {
        return Err(invalid(
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
        ));
    }
    match obj.get("top_k") {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_u64().is_some() => Ok(()),
        Some(_) => Err(invalid("top_k: Input should be a valid integer")),
    }
}

fn stop_sequences(v: Option<&Value>) -> Result<Vec<String>, Reject> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Some(items) = v.as_array() else {
        return Err(invalid("stop_sequences: Input should be a valid list"));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(s) = item.as_str() else {
            return Err(invalid(format!(
                "stop_sequences.{i}: Input should be a valid string"
            )));
        };
        if s.trim().is_empty() {
            return Err(invalid(
                "stop_sequences: each stop sequence must contain non-whitespace",
            ));
        }
        out.push(s.to_owned());
    }
    Ok(out)
}

/// Validates `system`; returns its character count.
fn system(v: Option<&Value>) -> Result<usize, Reject> {
    match v {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) => Ok(s.chars().count()),
        Some(Value::Array(blocks)) => {
            let mut chars = 0;
            for (i, b) in blocks.iter().enumerate() {
                let obj = b.as_object().ok_or_else(|| {
                    invalid(format!("system.{i}: Input should be a valid dictionary"))
                })?;
                extra_keys(
                    obj,
                    &["type", "text", "cache_control", "citations"],
                    &format!("system.{i}."),
                )?;
                let text = match (obj.get("type"), obj.get("text")) {
                    (Some(Value::String(t)), Some(Value::String(text))) if t == "text" => text,
                    _ => {
                        return Err(invalid(format!(
                            "system.{i}: system blocks must be text blocks"
                        )));
                    }
                };
                if text.is_empty() {
                    return Err(invalid("system: text content blocks must be non-empty"));
                }
                chars += text.chars().count();
            }
            Ok(chars)
        }
        Some(_) => Err(invalid(
            "system: Input should be a valid string or list of text blocks",
        )),
    }
}

/// Validates `tools`; returns their names and the character count of their JSON.
fn tools(v: Option<&Value>) -> Result<(Vec<String>, usize), Reject> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok((Vec::new(), 0));
    };
    let Some(items) = v.as_array() else {
        return Err(invalid("tools: Input should be a valid list"));
    };
    let mut names = Vec::new();
    for (i, t) in items.iter().enumerate() {
        let obj = t
            .as_object()
            .ok_or_else(|| invalid(format!("tools.{i}: Input should be a valid dictionary")))?;
        extra_keys(
            obj,
            &[
                "name",
                "description",
                "input_schema",
                "type",
                "cache_control",
            ],
            &format!("tools.{i}.custom."),
        )?;
        if obj.get("type").is_some_and(|t| t != "custom") {
            return Err(invalid(format!(
                "tools.{i}: only custom (client) tools are simulated"
            )));
        }
        let name = obj.get("name").and_then(Value::as_str).unwrap_or("");
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(invalid(format!(
                "tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            )));
        }
        match obj.get("input_schema") {
            None => {
                return Err(invalid(format!(
                    "tools.{i}.custom.input_schema: Field required"
                )));
            }
            Some(s) if s.get("type").and_then(Value::as_str) != Some("object") => {
                return Err(invalid(format!(
                    "tools.{i}.custom.input_schema.type: Input should be 'object'"
                )));
            }
            Some(_) => {}
        }
        if names.iter().any(|n| n == name) {
            return Err(invalid("tools: Tool names must be unique."));
        }
        names.push(name.to_owned());
    }
    Ok((names, v.to_string().chars().count()))
}

fn tool_choice(v: Option<&Value>, tools: &[String]) -> Result<(Choice, bool), Reject> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok((Choice::Auto, true));
    };
    if tools.is_empty() {
        return Err(invalid(
            "tool_choice: tool_choice may only be specified while providing tools.",
        ));
    }
    let obj = v
        .as_object()
        .ok_or_else(|| invalid("tool_choice: Input should be a valid dictionary"))?;
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
    let allowed: &[&str] = match kind {
        "auto" | "any" => &["type", "disable_parallel_tool_use"],
        "tool" => &["type", "name", "disable_parallel_tool_use"],
        "none" => &["type"],
        _ => {
            return Err(invalid(format!(
                "tool_choice: Input tag '{kind}' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
            )));
        }
    };
    extra_keys(obj, allowed, &format!("tool_choice.{kind}."))?;
    let parallel = match obj.get("disable_parallel_tool_use") {
        None => true,
        Some(Value::Bool(b)) => !b,
        Some(_) => {
            return Err(invalid(format!(
                "tool_choice.{kind}.disable_parallel_tool_use: Input should be a valid boolean"
            )));
        }
    };
    let choice = match kind {
        "auto" => Choice::Auto,
        "any" => Choice::Any,
        "none" => Choice::None,
        _ => {
            let name = obj.get("name").and_then(Value::as_str).unwrap_or("");
            if !tools.iter().any(|t| t == name) {
                return Err(invalid(format!(
                    "tool_choice.tool.name: Tool '{name}' not found in provided tools"
                )));
            }
            Choice::Tool(name.to_owned())
        }
    };
    Ok((choice, parallel))
}

fn metadata(v: Option<&Value>) -> Result<(), Reject> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let obj = v
        .as_object()
        .ok_or_else(|| invalid("metadata: Input should be a valid dictionary"))?;
    extra_keys(obj, &["user_id"], "metadata.")?;
    match obj.get("user_id") {
        None | Some(Value::Null | Value::String(_)) => Ok(()),
        Some(_) => Err(invalid("metadata.user_id: Input should be a valid string")),
    }
}

fn thinking(v: Option<&Value>, max_tokens: u64) -> Result<(), Reject> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(());
    };
    match v.get("type").and_then(Value::as_str) {
        Some("disabled") => Ok(()),
        Some("enabled") => match v.get("budget_tokens").and_then(Value::as_u64) {
            Some(b) if b < 1024 => Err(invalid(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
            )),
            Some(b) if b >= max_tokens => Err(invalid(
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size",
            )),
            Some(_) => Ok(()),
            None => Err(invalid("thinking.enabled.budget_tokens: Field required")),
        },
        _ => Err(invalid(
            "thinking: Input tag found using 'type' does not match any of the expected tags: 'disabled', 'enabled'",
        )),
    }
}

/// Checks an image block's source (base64 with a supported type, or an http(s) URL).
pub(super) fn image_source(source: Option<&Value>, path: &str) -> Result<(), Reject> {
    let Some(src) = source.and_then(Value::as_object) else {
        return Err(invalid(format!("{path}.source: Field required")));
    };
    match src.get("type").and_then(Value::as_str) {
        Some("base64") => {
            extra_keys(
                src,
                &["type", "media_type", "data"],
                &format!("{path}.source.base64."),
            )?;
            let mime = src.get("media_type").and_then(Value::as_str).unwrap_or("");
            if !IMAGE_TYPES.contains(&mime) {
                return Err(invalid(format!(
                    "{path}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
                )));
            }
            let data = src.get("data").and_then(Value::as_str).unwrap_or("");
            if data.is_empty() || STANDARD.decode(data).is_err() {
                return Err(invalid(format!(
                    "{path}.source.base64.data: The image data is not valid base64."
                )));
            }
            Ok(())
        }
        Some("url") => match src.get("url").and_then(Value::as_str) {
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => Ok(()),
            _ => Err(invalid(format!("{path}.source.url.url: invalid URL"))),
        },
        _ => Err(invalid(format!(
            "{path}.source: Input tag found using 'type' does not match any of the expected tags: 'base64', 'url'"
        ))),
    }
}

/// Tokens an image counts for.
pub(super) const fn image_tokens() -> u64 {
    IMAGE_TOKENS
}

/// `tool_use` ids, for the ordering checks.
pub(super) type Ids = HashSet<String>;
