//! The Messages request body: conversation ([`super::messages`]) plus parameters.
//!
//! Anthropic refuses unknown top-level fields ("Extra inputs are not permitted"), so the body is
//! built from an allow-list rather than by forwarding the client's JSON: `model`, `max_tokens`
//! (always present: required upstream; defaulted and capped per [`super::models`]), `messages`,
//! `system`, `stop_sequences`, `temperature` (clamped into Anthropic's 0–1), `top_p`, `top_k`
//! (from `extra`), `stream`, `tools`, `tool_choice`, `metadata.user_id` (from `user`) and a
//! client-supplied `thinking` object. OpenAI-only fields (`n` = 1, penalties, `seed`,
//! `logit_bias`, `logprobs`, `response_format`, `stream_options`, …) are dropped; `n > 1` is
//! refused because Anthropic answers with one choice.

use serde_json::{Map, Value, json};
use switchyard_types::ChatRequest;

use super::{messages, models};
use crate::adapter::ConvertError;

fn bad(message: impl Into<String>, param: &str) -> ConvertError {
    ConvertError::BadRequest {
        message: message.into(),
        param: Some(param.to_owned()),
    }
}

/// Builds the request body for `model` (the name Anthropic knows).
pub(crate) fn body(req: &ChatRequest, model: &str) -> Result<Value, ConvertError> {
    if req.choices() > 1 {
        return Err(bad(
            "Anthropic returns one choice per request; `n` must be 1",
            "n",
        ));
    }
    let conv = messages::convert(&req.messages)?;
    let mut out = Map::new();
    out.insert("model".into(), Value::from(model));
    out.insert(
        "max_tokens".into(),
        Value::from(models::max_tokens(model, req.output_limit())),
    );
    out.insert("messages".into(), Value::Array(conv.messages));
    if let Some(system) = conv.system {
        out.insert("system".into(), Value::String(system));
    }
    if let Some(stops) = stop_sequences(req.extra.get("stop"))? {
        out.insert("stop_sequences".into(), stops);
    }
    let temperature = unit_number(req.extra.get("temperature"), "temperature")?;
    let top_p = unit_number(req.extra.get("top_p"), "top_p")?;
    if let Some(t) = temperature {
        out.insert("temperature".into(), Value::from(t));
    }
    // Opus 4.1 and the 4.5 models refuse both at once; the temperature is the one kept.
    if let Some(p) = top_p
        && !(temperature.is_some() && models::one_sampler_only(model))
    {
        out.insert("top_p".into(), Value::from(p));
    }
    if let Some(k) = top_k(req.extra.get("top_k"))? {
        out.insert("top_k".into(), Value::from(k));
    }
    if req.is_stream() {
        out.insert("stream".into(), Value::Bool(true));
    }
    if let Some(tools) = tools(req.tools.as_deref())? {
        let parallel = req
            .extra
            .get("parallel_tool_calls")
            .and_then(Value::as_bool);
        if let Some(choice) = tool_choice(req.extra.get("tool_choice"), parallel)? {
            out.insert("tool_choice".into(), choice);
        }
        out.insert("tools".into(), tools);
    }
    if let Some(user) = req.extra.get("user").and_then(Value::as_str)
        && !user.is_empty()
    {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    if let Some(thinking) = req.extra.get("thinking").filter(|v| v.is_object()) {
        out.insert("thinking".into(), thinking.clone());
    }
    Ok(Value::Object(out))
}

/// `stop` (string or array) as `stop_sequences`; whitespace-only entries are dropped because
/// the API refuses them.
fn stop_sequences(stop: Option<&Value>) -> Result<Option<Value>, ConvertError> {
    let list: Vec<&str> = match stop {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                out.push(item.as_str().ok_or_else(|| {
                    bad("`stop` must be a string or an array of strings", "stop")
                })?);
            }
            out
        }
        Some(_) => {
            return Err(bad(
                "`stop` must be a string or an array of strings",
                "stop",
            ));
        }
    };
    let kept: Vec<Value> = list
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .map(Value::from)
        .collect();
    Ok((!kept.is_empty()).then_some(Value::Array(kept)))
}

/// A number clamped into [0, 1] (OpenAI allows temperature up to 2; Anthropic up to 1).
fn unit_number(v: Option<&Value>, name: &str) -> Result<Option<f64>, ConvertError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let f = v
                .as_f64()
                .ok_or_else(|| bad(format!("`{name}` must be a number"), name))?;
            Ok(Some(f.clamp(0.0, 1.0)))
        }
    }
}

/// `top_k` as a non-negative integer (`20.0` from some SDKs is accepted).
fn top_k(v: Option<&Value>) -> Result<Option<u64>, ConvertError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            if let Some(k) = v.as_u64() {
                return Ok(Some(k));
            }
            match v.as_f64() {
                Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= u32::MAX as f64 => {
                    Ok(Some(f as u64))
                }
                _ => Err(bad("`top_k` must be a non-negative integer", "top_k")),
            }
        }
    }
}

/// OpenAI function tools as Anthropic tools; `None` when there are none.
fn tools(tools: Option<&[Value]>) -> Result<Option<Value>, ConvertError> {
    let Some(tools) = tools.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let kind = tool
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("function");
        if kind != "function" {
            return Err(bad(
                format!("tools[{i}]: only function tools can be sent to Anthropic, not `{kind}`"),
                "tools",
            ));
        }
        let f = tool.get("function").unwrap_or(&Value::Null);
        let name = f.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            return Err(bad(
                format!("tools[{i}].function.name is required"),
                "tools",
            ));
        }
        let mut t = Map::new();
        t.insert("name".into(), Value::from(name));
        if let Some(d) = f.get("description").and_then(Value::as_str) {
            t.insert("description".into(), Value::from(d));
        }
        let schema = match f.get("parameters") {
            Some(p @ Value::Object(_)) => p.clone(),
            _ => json!({"type": "object", "properties": {}}),
        };
        t.insert("input_schema".into(), schema);
        out.push(Value::Object(t));
    }
    Ok(Some(Value::Array(out)))
}

/// `tool_choice` (+ `parallel_tool_calls: false`) as Anthropic's `tool_choice`.
fn tool_choice(
    choice: Option<&Value>,
    parallel: Option<bool>,
) -> Result<Option<Value>, ConvertError> {
    let invalid = || {
        bad(
            "`tool_choice` must be \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":…}}",
            "tool_choice",
        )
    };
    let mut out = match choice {
        None | Some(Value::Null) => json!({"type": "auto"}),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => json!({"type": "auto"}),
            "required" | "any" => json!({"type": "any"}),
            "none" => return Ok(Some(json!({"type": "none"}))),
            _ => return Err(invalid()),
        },
        Some(Value::Object(o)) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(invalid)?;
            json!({"type": "tool", "name": name})
        }
        Some(_) => return Err(invalid()),
    };
    if parallel == Some(false) {
        out["disable_parallel_tool_use"] = Value::Bool(true);
    } else if choice.is_none_or(Value::is_null) {
        // Nothing to say: leave the upstream default.
        return Ok(None);
    }
    Ok(Some(out))
}
