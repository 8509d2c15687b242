//! Semantic checks of a `generateContent` body (after [`super::keys`] accepted its fields),
//! reduced to what the answer needs.
//!
//! Refused as Gemini refuses them (400 `INVALID_ARGUMENT`):
//! - no `contents`, a content without parts, a part without data;
//! - a role other than `user`/`model` ("Please use a valid role: user, model.");
//! - a function-call turn not right after a user turn or function responses, a function-response
//!   turn not right after a function-call turn, and a function-response count different from the
//!   call count it answers;
//! - a `thoughtSignature` the simulator did not issue, and (for `gemini-3*` models) a function
//!   call in the history without one;
//! - inline data that is not base64, a system instruction with anything but text;
//! - `generationConfig` out of range (temperature [0, 2], topP [0, 1], topK ≥ 1,
//!   candidateCount [1, 8], maxOutputTokens ≥ 1, at most 5 stop sequences), thinking budget 0
//!   on 2.5 Pro;
//! - function names outside `[A-Za-z_][A-Za-z0-9_.:-]{0,63}`, OBJECT parameters without
//!   properties, an unknown calling mode, `allowedFunctionNames` without mode `ANY` or naming an
//!   undeclared function, unknown safety categories or thresholds.

use axum::response::Response;
use base64::Engine as _;
use serde_json::Value;

use super::errors::{bad_request, invalid};
use super::keys::get;

/// Signature the simulator attaches to the function calls of thinking models.
pub(crate) fn signature_for(name: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("sim-sig:{name}"))
}

/// A validated request.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub(crate) max_output: Option<u64>,
    pub(crate) stop: Vec<String>,
    pub(crate) candidates: usize,
    /// Functions that may be called (declared, narrowed by `allowedFunctionNames`).
    pub(crate) callable: Vec<String>,
    pub(crate) mode: String,
    pub(crate) thinking_budget: Option<i64>,
    pub(crate) include_thoughts: bool,
    /// Text of the last user turn (searched for `sim_fault:` and `sim_error:`).
    pub(crate) last_user_text: String,
    /// The first function response of the last turn, when it is a function-response turn.
    pub(crate) last_response: Option<Value>,
    pub(crate) prompt_tokens: u64,
}

type Reject = Box<Response>;

fn no(message: &str) -> Reject {
    Box::new(invalid(message))
}

const CATEGORIES: &[&str] = &[
    "HARM_CATEGORY_UNSPECIFIED",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
];
const THRESHOLDS: &[&str] = &[
    "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
    "BLOCK_LOW_AND_ABOVE",
    "BLOCK_MEDIUM_AND_ABOVE",
    "BLOCK_ONLY_HIGH",
    "BLOCK_NONE",
    "OFF",
];
const DATA_FIELDS: &[&str] = &[
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
];

fn parts(content: &Value) -> &[Value] {
    get(content, "parts")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn count(content: &Value, field: &str) -> usize {
    parts(content)
        .iter()
        .filter(|p| get(p, field).is_some())
        .count()
}

fn json_tokens(v: &Value) -> u64 {
    v.to_string().chars().count() as u64 / 4
}

fn part_tokens(p: &Value) -> u64 {
    if let Some(t) = get(p, "text").and_then(Value::as_str) {
        t.chars().count() as u64 / 4
    } else if get(p, "inlineData").is_some() || get(p, "fileData").is_some() {
        258
    } else if let Some(f) = get(p, "functionCall").or_else(|| get(p, "functionResponse")) {
        json_tokens(f)
    } else {
        0
    }
}

fn valid_base64(data: &str) -> bool {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, URL_SAFE].iter().any(|e| e.decode(data).is_ok())
        || [STANDARD_NO_PAD, URL_SAFE_NO_PAD]
            .iter()
            .any(|e| e.decode(data).is_ok())
}

fn check_part(p: &Value, path: &str, model: &str) -> Result<(), Reject> {
    let data = DATA_FIELDS.iter().filter(|f| get(p, f).is_some()).count();
    if data == 0 {
        return Err(no(&format!(
            "* GenerateContentRequest.{path}.data: required oneof field 'data' must have one initialized field\n"
        )));
    }
    if data > 1 {
        return Err(no(&format!(
            "Invalid value at '{path}' (oneof), oneof field 'data' is already set. Cannot set 'data' more than once"
        )));
    }
    if let Some(blob) = get(p, "inlineData") {
        let b64 = get(blob, "data").and_then(Value::as_str).unwrap_or("");
        if !valid_base64(b64) {
            return Err(Box::new(bad_request(
                Some(&format!("{path}.inline_data.data")),
                &format!(
                    "Invalid value at '{path}.inline_data.data' (TYPE_BYTES), Base64 decoding failed for \"{}\"",
                    b64.chars().take(32).collect::<String>()
                ),
            )));
        }
        if get(blob, "mimeType")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(no(&format!(
                "* GenerateContentRequest.{path}.inline_data.mime_type: mime_type must be specified.\n"
            )));
        }
    }
    if let Some(fc) = get(p, "functionCall") {
        let name = get(fc, "name").and_then(Value::as_str).unwrap_or("");
        match get(p, "thoughtSignature").and_then(Value::as_str) {
            Some(sig) if sig != signature_for(name) => {
                return Err(no("Corrupted thought signature."));
            }
            None if model.starts_with("gemini-3") => {
                return Err(no(&format!(
                    "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:{name}` , position {path}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks `body` for `model`; `Err` is Gemini's 400.
pub(crate) fn generate(body: &Value, model: &str) -> Result<Parsed, Reject> {
    let contents = get(body, "contents")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| no("* GenerateContentRequest.contents: contents is not specified\n"))?;
    let mut out = Parsed {
        candidates: 1,
        mode: "AUTO".into(),
        ..Parsed::default()
    };
    let mut tokens = 0u64;
    for (i, c) in contents.iter().enumerate() {
        let role = get(c, "role").and_then(Value::as_str).unwrap_or("user");
        if role != "user" && role != "model" {
            return Err(no("Please use a valid role: user, model."));
        }
        let ps = parts(c);
        if ps.is_empty() {
            return Err(no(&format!(
                "* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"
            )));
        }
        tokens += 3;
        for (j, p) in ps.iter().enumerate() {
            check_part(p, &format!("contents[{i}].parts[{j}]"), model)?;
            tokens += part_tokens(p);
        }
        let prev = i.checked_sub(1).map(|k| &contents[k]);
        let prev_role = prev.map(|p| get(p, "role").and_then(Value::as_str).unwrap_or("user"));
        let calls = count(c, "functionCall");
        let responses = count(c, "functionResponse");
        if calls > 0
            && !(prev_role == Some("user") && prev.is_some_and(|p| count(p, "functionCall") == 0))
        {
            return Err(no(
                "Please ensure that function call turn comes immediately after a user turn or after a function response turn.",
            ));
        }
        if responses > 0 {
            let asked = prev
                .filter(|_| prev_role == Some("model"))
                .map_or(0, |p| count(p, "functionCall"));
            if asked == 0 {
                return Err(no(
                    "Please ensure that function response turn comes immediately after a function call turn.",
                ));
            }
            if asked != responses {
                return Err(no(
                    "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.",
                ));
            }
        }
        if calls > 0
            && contents
                .get(i + 1)
                .is_some_and(|n| count(n, "functionResponse") != calls)
        {
            return Err(no(
                "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.",
            ));
        }
        if role == "user" {
            out.last_user_text = ps
                .iter()
                .filter_map(|p| get(p, "text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" ");
            out.last_response = ps
                .iter()
                .find_map(|p| get(p, "functionResponse").and_then(|f| get(f, "response")))
                .cloned();
        }
    }
    if let Some(si) = get(body, "systemInstruction") {
        let mut chars = 0u64;
        for (j, p) in parts(si).iter().enumerate() {
            let Some(t) = get(p, "text").and_then(Value::as_str) else {
                return Err(no(&format!(
                    "* GenerateContentRequest.system_instruction.parts[{j}]: only text parts are supported in system instruction.\n"
                )));
            };
            chars += t.chars().count() as u64;
        }
        tokens += 3 + chars / 4;
    }
    out.prompt_tokens = tokens.max(1);
    generation_config(body, model, &mut out)?;
    tools(body, &mut out)?;
    for (i, s) in get(body, "safetySettings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (field, allowed, ty) in [
            ("category", CATEGORIES, "HarmCategory"),
            ("threshold", THRESHOLDS, "HarmBlockThreshold"),
        ] {
            let v = get(s, field).and_then(Value::as_str).unwrap_or("");
            if !allowed.contains(&v) {
                let path = format!("safety_settings[{i}].{field}");
                return Err(Box::new(bad_request(
                    Some(&path),
                    &format!(
                        "Invalid value at '{path}' (type.googleapis.com/google.ai.generativelanguage.v1beta.{ty}), \"{v}\""
                    ),
                )));
            }
        }
    }
    Ok(out)
}

fn range(name: &str, v: f64, lo: f64, hi: f64) -> Result<(), Reject> {
    if v < lo || v > hi {
        return Err(no(&format!(
            "Unable to submit request because it has a {name} value of {v} but the supported range is from {lo} (inclusive) to {hi} (inclusive). Update the value and try again."
        )));
    }
    Ok(())
}

fn generation_config(body: &Value, model: &str, out: &mut Parsed) -> Result<(), Reject> {
    let Some(g) = get(body, "generationConfig") else {
        return Ok(());
    };
    let num = |k: &str| get(g, k).and_then(Value::as_f64);
    if let Some(t) = num("temperature") {
        range("temperature", t, 0.0, 2.0)?;
    }
    if let Some(p) = num("topP") {
        range("topP", p, 0.0, 1.0)?;
    }
    if let Some(k) = num("topK") {
        range("topK", k, 1.0, f64::from(u32::MAX))?;
    }
    if let Some(n) = num("candidateCount") {
        range("candidateCount", n, 1.0, 8.0)?;
        out.candidates = n as usize;
    }
    if let Some(m) = num("maxOutputTokens") {
        if m < 1.0 {
            return Err(no(
                "* GenerateContentRequest.generation_config.max_output_tokens: max_output_tokens must be positive.\n",
            ));
        }
        out.max_output = Some(m as u64);
    }
    if let Some(stops) = get(g, "stopSequences").and_then(Value::as_array) {
        if stops.len() > 5 {
            return Err(no(
                "* GenerateContentRequest.generation_config.stop_sequences: the number of stop_sequences must not exceed 5.\n",
            ));
        }
        out.stop = stops
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    if let Some(t) = get(g, "thinkingConfig") {
        out.thinking_budget = get(t, "thinkingBudget").and_then(Value::as_i64);
        out.include_thoughts = get(t, "includeThoughts").and_then(Value::as_bool) == Some(true);
        if out.thinking_budget == Some(0) && model.starts_with("gemini-2.5-pro") {
            return Err(no(
                "Budget 0 is invalid. This model only works in thinking mode.",
            ));
        }
    }
    Ok(())
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && n.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

fn tools(body: &Value, out: &mut Parsed) -> Result<(), Reject> {
    let mut declared = Vec::new();
    for (i, t) in get(body, "tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (j, d) in get(t, "functionDeclarations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let name = get(d, "name").and_then(Value::as_str).unwrap_or("");
            if !valid_name(name) {
                return Err(no(&format!(
                    "* GenerateContentRequest.tools[{i}].function_declarations[{j}].name: Invalid function name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, or contain underscores, dots, colons and dashes, with a maximum length of 64.\n"
                )));
            }
            if let Some(p) = get(d, "parameters") {
                let is_object = get(p, "type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("object"));
                let empty = get(p, "properties")
                    .and_then(Value::as_object)
                    .is_none_or(serde_json::Map::is_empty);
                if is_object && empty {
                    return Err(no(&format!(
                        "* GenerateContentRequest.tools[{i}].function_declarations[{j}].parameters.properties: should be non-empty for OBJECT type\n"
                    )));
                }
            }
            declared.push(name.to_owned());
        }
    }
    let fcc = get(body, "toolConfig").and_then(|c| get(c, "functionCallingConfig"));
    if let Some(mode) = fcc.and_then(|c| get(c, "mode")).and_then(Value::as_str) {
        if !["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"].contains(&mode) {
            return Err(Box::new(bad_request(
                Some("tool_config.function_calling_config.mode"),
                &format!(
                    "Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), \"{mode}\""
                ),
            )));
        }
        mode.clone_into(&mut out.mode);
    }
    let allowed: Vec<String> = fcc
        .and_then(|c| get(c, "allowedFunctionNames"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if !allowed.is_empty() {
        if out.mode != "ANY" && out.mode != "VALIDATED" {
            return Err(no(
                "* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: allowed_function_names should only be set when the Mode is ANY.\n",
            ));
        }
        if let Some(bad) = allowed.iter().find(|a| !declared.contains(a)) {
            return Err(no(&format!(
                "* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: function `{bad}` is not declared in tools.\n"
            )));
        }
        out.callable = allowed;
    } else {
        out.callable = declared;
    }
    Ok(())
}
