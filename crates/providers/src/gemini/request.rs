//! The `generateContent` request body: `contents` and `systemInstruction` (from
//! [`super::messages`]), `generationConfig`, `tools` and `toolConfig`.
//!
//! Parameters are clamped into Gemini's ranges rather than refused (temperature [0, 2], topP
//! [0, 1], topK ≥ 1, candidateCount [1, 8], maxOutputTokens ≥ 1, at most 5 stop sequences).
//! OpenAI fields Gemini has no equivalent for (`presence_penalty`, `frequency_penalty`,
//! `logit_bias`, `logprobs`, `parallel_tool_calls`, `user`, `store`, …) are not sent: several
//! models answer 400 to penalties, and the rest have no meaning there.

use serde_json::{Map, Value, json};
use switchyard_types::ChatRequest;

use super::{messages, schema};
use crate::adapter::ConvertError;

/// Most stop sequences Gemini accepts.
const MAX_STOP: usize = 5;
/// Most candidates Gemini generates.
const MAX_CANDIDATES: u64 = 8;

fn bad(param: &str, message: impl Into<String>) -> ConvertError {
    ConvertError::BadRequest {
        message: message.into(),
        param: Some(param.into()),
    }
}

/// The whole request body.
pub(crate) fn body(req: &ChatRequest) -> Result<Value, ConvertError> {
    let conv = messages::convert(&req.messages)?;
    let mut out = Map::new();
    out.insert("contents".into(), conv.contents_json());
    if !conv.system.is_empty() {
        let parts: Vec<Value> = conv.system.iter().map(|t| json!({"text": t})).collect();
        out.insert("systemInstruction".into(), json!({"parts": parts}));
    }
    let config = generation_config(req)?;
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }
    let decls = declarations(req)?;
    if !decls.is_empty() {
        let names: Vec<&str> = decls
            .iter()
            .filter_map(|d| d.get("name").and_then(Value::as_str))
            .collect();
        let (config, keep) = tool_config(req, &names)?;
        let decls: Vec<Value> = match keep {
            Some(allowed) => decls
                .iter()
                .filter(|d| {
                    d.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| allowed.iter().any(|a| a == n))
                })
                .cloned()
                .collect(),
            None => decls,
        };
        out.insert("tools".into(), json!([{ "functionDeclarations": decls }]));
        if let Some(c) = config {
            out.insert("toolConfig".into(), json!({ "functionCallingConfig": c }));
        }
    }
    for key in ["safety_settings", "safetySettings"] {
        if let Some(s) = req.extra.get(key).filter(|v| v.is_array()) {
            out.insert("safetySettings".into(), s.clone());
        }
    }
    Ok(Value::Object(out))
}

fn number(req: &ChatRequest, key: &str) -> Result<Option<f64>, ConvertError> {
    match req.extra.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| bad(key, format!("`{key}` must be a number."))),
    }
}

fn generation_config(req: &ChatRequest) -> Result<Map<String, Value>, ConvertError> {
    let mut c = Map::new();
    if let Some(t) = number(req, "temperature")? {
        c.insert("temperature".into(), json!(t.clamp(0.0, 2.0)));
    }
    if let Some(p) = number(req, "top_p")? {
        c.insert("topP".into(), json!(p.clamp(0.0, 1.0)));
    }
    if let Some(k) = number(req, "top_k")? {
        c.insert("topK".into(), json!(k.round().max(1.0) as u64));
    }
    if let Some(max) = req.output_limit() {
        c.insert("maxOutputTokens".into(), json!(max.max(1)));
    }
    if let Some(n) = req.n {
        c.insert("candidateCount".into(), json!(n.clamp(1, MAX_CANDIDATES)));
    }
    match req.extra.get("stop") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            if !s.is_empty() {
                c.insert("stopSequences".into(), json!([s]));
            }
        }
        Some(Value::Array(list)) => {
            let mut seqs = Vec::new();
            for v in list {
                let s = v.as_str().ok_or_else(|| {
                    bad("stop", "`stop` must be a string or an array of strings.")
                })?;
                if !s.is_empty() && seqs.len() < MAX_STOP {
                    seqs.push(Value::from(s));
                }
            }
            if !seqs.is_empty() {
                c.insert("stopSequences".into(), Value::Array(seqs));
            }
        }
        Some(_) => {
            return Err(bad(
                "stop",
                "`stop` must be a string or an array of strings.",
            ));
        }
    }
    if let Some(seed) = req.extra.get("seed").and_then(Value::as_i64) {
        c.insert("seed".into(), json!(seed));
    }
    if let Some(rf) = req.extra.get("response_format").filter(|v| !v.is_null()) {
        match rf.get("type").and_then(Value::as_str) {
            Some("text") | None => {}
            Some("json_object") => {
                c.insert("responseMimeType".into(), json!("application/json"));
            }
            Some("json_schema") => {
                c.insert("responseMimeType".into(), json!("application/json"));
                if let Some(s) = rf.pointer("/json_schema/schema") {
                    c.insert("responseSchema".into(), schema::to_gemini(s));
                }
            }
            Some(other) => {
                return Err(bad(
                    "response_format",
                    format!("response_format type `{other}` is not supported for Gemini."),
                ));
            }
        }
    }
    Ok(c)
}

/// `functionDeclarations` from `tools` (or the legacy `functions`).
fn declarations(req: &ChatRequest) -> Result<Vec<Value>, ConvertError> {
    fn push(out: &mut Vec<Value>, f: &Value, param: &str) -> Result<(), ConvertError> {
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| bad(param, "every function needs a name."))?;
        let mut d = Map::new();
        d.insert("name".into(), Value::from(name));
        if let Some(desc) = f.get("description").and_then(Value::as_str) {
            d.insert("description".into(), Value::from(desc));
        }
        if let Some(p) = f.get("parameters").filter(|p| !p.is_null()) {
            let converted = schema::to_gemini(p);
            if !schema::is_empty_object(&converted) {
                d.insert("parameters".into(), converted);
            }
        }
        out.push(Value::Object(d));
        Ok(())
    }
    let mut out = Vec::new();
    for (i, t) in req.tools.iter().flatten().enumerate() {
        match t.get("type").and_then(Value::as_str) {
            Some("function") | None => {
                let f = t
                    .get("function")
                    .ok_or_else(|| bad("tools", format!("tools[{i}] has no function.")))?;
                push(&mut out, f, "tools")?;
            }
            Some(other) => {
                return Err(bad(
                    "tools",
                    format!("tools[{i}]: tool type `{other}` is not supported for Gemini."),
                ));
            }
        }
    }
    if out.is_empty()
        && let Some(fs) = req.extra.get("functions").and_then(Value::as_array)
    {
        for f in fs {
            push(&mut out, f, "functions")?;
        }
    }
    Ok(out)
}

/// `functionCallingConfig` from `tool_choice` (or `function_call`), and the subset of functions
/// to declare when `allowed_tools` in `auto` mode narrows them (Gemini allows
/// `allowedFunctionNames` only with mode `ANY`).
fn tool_config(
    req: &ChatRequest,
    names: &[&str],
) -> Result<(Option<Value>, Option<Vec<String>>), ConvertError> {
    let (choice, param) = match req.extra.get("tool_choice").filter(|v| !v.is_null()) {
        Some(c) => (c, "tool_choice"),
        None => match req.extra.get("function_call").filter(|v| !v.is_null()) {
            Some(c) => (c, "function_call"),
            None => return Ok((None, None)),
        },
    };
    let known = |n: &str| -> Result<String, ConvertError> {
        if names.contains(&n) {
            Ok(n.to_owned())
        } else {
            Err(bad(
                param,
                format!("{param} names the function `{n}`, which is not among the tools."),
            ))
        }
    };
    let config = match choice {
        Value::String(s) => match s.as_str() {
            "auto" => json!({"mode": "AUTO"}),
            "none" => json!({"mode": "NONE"}),
            "required" | "any" => json!({"mode": "ANY"}),
            other => {
                return Err(bad(
                    param,
                    format!("{param} `{other}` is not one of none, auto, required."),
                ));
            }
        },
        Value::Object(o) => {
            if o.get("type").and_then(Value::as_str) == Some("allowed_tools") {
                let mode = o
                    .get("allowed_tools")
                    .and_then(|a| a.get("mode"))
                    .and_then(Value::as_str)
                    .unwrap_or("auto");
                let mut allowed = Vec::new();
                for t in o
                    .get("allowed_tools")
                    .and_then(|a| a.get("tools"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let n = t
                        .pointer("/function/name")
                        .or_else(|| t.get("name"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad(param, "allowed_tools entries need a function name."))?;
                    allowed.push(known(n)?);
                }
                return Ok(match mode {
                    "required" => (
                        Some(json!({"mode": "ANY", "allowedFunctionNames": allowed})),
                        None,
                    ),
                    _ => (Some(json!({"mode": "AUTO"})), Some(allowed)),
                });
            }
            let n = o
                .get("function")
                .and_then(|f| f.get("name"))
                .or_else(|| o.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| bad(param, format!("{param} object needs a function name.")))?;
            json!({"mode": "ANY", "allowedFunctionNames": [known(n)?]})
        }
        _ => {
            return Err(bad(
                param,
                format!("{param} must be a string or an object."),
            ));
        }
    };
    Ok((Some(config), None))
}
