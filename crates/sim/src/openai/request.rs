//! Parsing and validation of chat-completion request bodies, with the flavour's limits.

use axum::response::Response;
use serde_json::Value;

use super::Flavor;
use super::errors::{ErrorSpec, error_response, invalid_param};

/// A validated chat request, reduced to what the simulator needs.
#[derive(Clone, Debug)]
pub(super) struct ChatRequest {
    pub(super) model: String,
    pub(super) stream: bool,
    pub(super) include_usage: bool,
    pub(super) n: usize,
    pub(super) max_tokens: Option<u64>,
    /// Function to call, when the answer is a tool call.
    pub(super) tool: Option<String>,
    /// The text the answer echoes.
    pub(super) echo: String,
    /// Text of the last `user` message (searched for `sim_fault:`).
    pub(super) last_user_text: String,
    pub(super) prompt_tokens: u64,
}

/// The text of a message `content`: a string, or the `text` parts of an array joined by spaces.
pub(crate) fn content_text(content: Option<&Value>) -> String {
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

/// A rejected request: the flavour's error response (boxed, it is large).
pub(super) type Reject = Box<Response>;

fn bad(flavor: Flavor, param: &str, code: &str, message: String) -> Reject {
    Box::new(invalid_param(flavor, param, code, message))
}

fn missing(flavor: Flavor, param: &str) -> Reject {
    bad(
        flavor,
        param,
        "missing_required_parameter",
        format!("Missing required parameter: '{param}'."),
    )
}

fn wrong_type(flavor: Flavor, param: &str, expected: &str) -> Reject {
    bad(
        flavor,
        param,
        "invalid_type",
        format!("Invalid type for '{param}': expected {expected}."),
    )
}

/// Reads an optional integer parameter that must be at least `min`.
fn int_param(flavor: Flavor, body: &Value, key: &str, min: u64) -> Result<Option<u64>, Reject> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(i) if i >= min as i64 => Ok(Some(i as u64)),
            Some(i) => Err(bad(
                flavor,
                key,
                "integer_below_min_value",
                format!(
                    "Invalid '{key}': integer below minimum value. Expected a value >= {min}, \
                     but got {i} instead."
                ),
            )),
            None => Err(wrong_type(flavor, key, "an integer")),
        },
    }
}

/// Validates `body` the way the flavour's API does.
pub(super) fn parse_chat(flavor: Flavor, body: &Value) -> Result<ChatRequest, Reject> {
    if !body.is_object() {
        return Err(Box::new(error_response(
            flavor,
            axum::http::StatusCode::BAD_REQUEST,
            ErrorSpec::new("The request body must be a JSON object."),
        )));
    }
    let model = match body.get("model") {
        None | Some(Value::Null) => return Err(missing(flavor, "model")),
        Some(Value::String(m)) => m.clone(),
        Some(_) => return Err(wrong_type(flavor, "model", "a string")),
    };
    let messages = match body.get("messages") {
        None | Some(Value::Null) => return Err(missing(flavor, "messages")),
        Some(Value::Array(m)) if m.is_empty() => {
            return Err(bad(
                flavor,
                "messages",
                "empty_array",
                "Invalid 'messages': empty array. Expected an array with minimum length 1, but \
                 got an empty array instead."
                    .to_owned(),
            ));
        }
        Some(Value::Array(m)) => m,
        Some(_) => return Err(wrong_type(flavor, "messages", "an array")),
    };
    for (i, msg) in messages.iter().enumerate() {
        if msg.get("role").and_then(Value::as_str).is_none() {
            return Err(missing(flavor, &format!("messages[{i}].role")));
        }
    }

    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(wrong_type(flavor, "stream", "a boolean")),
    };
    let stream_options = body.get("stream_options").filter(|v| !v.is_null());
    if stream_options.is_some() && !stream {
        return Err(bad(
            flavor,
            "stream_options",
            "invalid_value",
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.".to_owned(),
        ));
    }
    let include_usage = stream_options
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let temperature = match body.get("temperature") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_f64()
                .ok_or_else(|| wrong_type(flavor, "temperature", "a number"))?,
        ),
    };
    let max_temperature = if flavor == Flavor::Moonshot { 1.0 } else { 2.0 };
    if let Some(t) = temperature
        && !(0.0..=max_temperature).contains(&t)
    {
        let (code, bound) = if t < 0.0 {
            (
                "decimal_below_min_value",
                "Expected a value >= 0".to_owned(),
            )
        } else {
            (
                "decimal_above_max_value",
                format!("Expected a value <= {max_temperature}"),
            )
        };
        return Err(bad(
            flavor,
            "temperature",
            code,
            format!("Invalid 'temperature': {bound}, but got {t} instead."),
        ));
    }

    let n = int_param(flavor, body, "n", 1)?.unwrap_or(1);
    let max_n = if flavor == Flavor::Moonshot { 5 } else { 128 };
    if n > max_n {
        return Err(bad(
            flavor,
            "n",
            "integer_above_max_value",
            format!("Invalid 'n': Expected a value <= {max_n}, but got {n} instead."),
        ));
    }
    if flavor == Flavor::Moonshot && n > 1 && temperature.is_some_and(|t| t < 0.001) {
        return Err(bad(
            flavor,
            "n",
            "invalid_value",
            "Invalid request: n must be 1 when temperature is 0".to_owned(),
        ));
    }
    let max_tokens = match int_param(flavor, body, "max_completion_tokens", 1)? {
        Some(m) => Some(m),
        None => int_param(flavor, body, "max_tokens", 1)?,
    };

    let last = messages.last();
    let last_is_tool = last.and_then(|m| m.get("role")).and_then(Value::as_str) == Some("tool");
    let tool = pick_tool(flavor, body, last_is_tool)?;
    let last_user_text = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| content_text(m.get("content")))
        .unwrap_or_default();
    let echo = if last_is_tool {
        let text = content_text(last.and_then(|m| m.get("content")));
        format!("tool result: {text}")
    } else {
        last_user_text.clone()
    };
    let prompt_tokens = messages
        .iter()
        .map(|m| content_text(m.get("content")).chars().count() as u64 / 4 + 3)
        .sum::<u64>()
        .max(1);

    Ok(ChatRequest {
        model,
        stream,
        include_usage,
        n: n as usize,
        max_tokens,
        tool,
        echo,
        last_user_text,
        prompt_tokens,
    })
}

/// The function the answer calls, if any.
fn pick_tool(flavor: Flavor, body: &Value, last_is_tool: bool) -> Result<Option<String>, Reject> {
    let names: Vec<&str> = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t.get("function")?.get("name")?.as_str())
                .collect()
        })
        .unwrap_or_default();
    let choice = body.get("tool_choice").filter(|v| !v.is_null());
    if flavor == Flavor::Moonshot && choice.and_then(Value::as_str) == Some("required") {
        return Err(bad(
            flavor,
            "tool_choice",
            "invalid_value",
            "Invalid request: tool_choice 'required' is not supported".to_owned(),
        ));
    }
    if names.is_empty() || last_is_tool {
        return Ok(None);
    }
    match choice {
        Some(Value::String(s)) if s == "none" => Ok(None),
        Some(Value::Object(obj)) => {
            let named = obj
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str);
            match named {
                Some(name) if names.contains(&name) => Ok(Some(name.to_owned())),
                Some(name) => Err(bad(
                    flavor,
                    "tool_choice",
                    "invalid_value",
                    format!("Invalid 'tool_choice': function `{name}` is not in 'tools'."),
                )),
                None => Ok(names.first().map(|n| (*n).to_owned())),
            }
        }
        _ => Ok(names.first().map(|n| (*n).to_owned())),
    }
}
