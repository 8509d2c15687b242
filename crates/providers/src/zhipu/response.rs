//! Zhipu answers → OpenAI: non-stream completions (v4 and v3), embeddings, and error bodies.
//!
//! Every Zhipu business code is mapped to the status whose gateway behaviour fits it (401 for
//! credentials, 403 for the account, 429 for rate limits and quotas, 400 `content_filter` for
//! moderation, 5xx for the service), whatever HTTP status carried it: the service sends most
//! account and quota problems as 429 and every v3 error inside a 200.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_types::Usage;

use crate::adapter::{ChatOutput, ConvertError, EmbeddingsOutput, ResponseCtx, UpstreamError};

/// How a Zhipu business code is reported: status and OpenAI error code.
pub(super) fn classify(code: &str, http_status: u16) -> (u16, Option<&'static str>) {
    let Ok(n) = code.trim().parse::<u32>() else {
        return (fallback_status(http_status), None);
    };
    match n {
        500 => (500, None),
        1000..=1004 => (401, Some("invalid_api_key")),
        1100 => (500, None),
        1110 | 1111 | 1112 | 1121 => (403, Some("account_deactivated")),
        1113 => (403, Some("insufficient_quota")),
        1120 => (503, None),
        1200 | 1210 | 1212..=1215 => (400, Some("invalid_request")),
        1211 => (404, Some("model_not_found")),
        1220 => (403, Some("permission_denied")),
        1221 | 1222 => (404, Some("not_found")),
        1230 => (500, None),
        1231 => (409, Some("duplicate_request")),
        1234 => (502, Some("upstream_network_error")),
        1261 => (400, Some("context_length_exceeded")),
        1300 => (403, Some("policy_blocked")),
        1301 => (400, Some("content_filter")),
        1302 | 1303 | 1305 | 1313 => (429, Some("rate_limit_exceeded")),
        1304 | 1308 | 1310 => (429, Some("insufficient_quota")),
        1309 => (403, Some("insufficient_quota")),
        1311 => (403, Some("model_not_available")),
        1312 => (503, Some("model_overloaded")),
        _ => (fallback_status(http_status), None),
    }
}

fn fallback_status(http_status: u16) -> u16 {
    if http_status < 400 { 502 } else { http_status }
}

/// Builds the neutral error for a business code and message.
pub(super) fn business_error(code: &str, message: &str, http_status: u16) -> UpstreamError {
    let (status, openai_code) = classify(code, http_status);
    UpstreamError {
        status,
        message: format!("Zhipu error {code}: {message}"),
        kind: None,
        code: openai_code.map(str::to_owned),
    }
}

/// The code of a Zhipu error object: a string in v4, a number in v3.
fn code_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads an error body of either API (v4 `{"error":{code,message}}`, v3 `{code,msg,success}`).
pub(super) fn error(status: u16, body: &[u8]) -> UpstreamError {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if let Some(e) = v.get("error").filter(|e| e.is_object()) {
            let message = e.get("message").and_then(Value::as_str).unwrap_or("");
            if let Some(code) = code_text(e.get("code")) {
                return business_error(&code, message, status);
            }
        }
        if let Some(code) = code_text(v.get("code")) {
            let message = v.get("msg").and_then(Value::as_str).unwrap_or("");
            return business_error(&code, message, status);
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    UpstreamError {
        status: fallback_status(status),
        message: if text.is_empty() {
            format!("Zhipu answered with status {status}")
        } else {
            text.chars().take(512).collect()
        },
        kind: None,
        code: None,
    }
}

/// Maps a GLM finish reason; `network_error` (generation broke off) is an error.
pub(super) fn finish_reason(reason: &str) -> Result<&'static str, UpstreamError> {
    match reason {
        "length" => Ok("length"),
        "tool_calls" => Ok("tool_calls"),
        "sensitive" => Ok("content_filter"),
        "network_error" => Err(UpstreamError {
            status: 502,
            message: "Zhipu stopped the generation with finish_reason `network_error`".into(),
            kind: None,
            code: Some("upstream_network_error".into()),
        }),
        _ => Ok("stop"),
    }
}

/// Reads usage; a v3 answer that gives only `total_tokens` is counted as completion tokens.
pub(super) fn usage_of(v: &Value) -> Option<Usage> {
    let get = |k: &str| v.get(k).and_then(Value::as_u64);
    let total = get("total_tokens");
    let (prompt, completion) = (get("prompt_tokens"), get("completion_tokens"));
    if prompt.is_none() && completion.is_none() && total.is_none() {
        return None;
    }
    let prompt = prompt.unwrap_or(0);
    let completion = completion.unwrap_or_else(|| total.unwrap_or(0).saturating_sub(prompt));
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total.unwrap_or(prompt + completion),
        extra: serde_json::Map::new(),
    })
}

/// Tool calls in OpenAI's shape (arguments always a string).
pub(super) fn tool_call(c: &Value, index: usize) -> Value {
    let args = match c.pointer("/function/arguments") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    json!({
        "index": c.get("index").and_then(Value::as_u64).unwrap_or(index as u64),
        "id": c.get("id").cloned().unwrap_or(Value::Null),
        "type": "function",
        "function": {
            "name": c.pointer("/function/name").cloned().unwrap_or(Value::Null),
            "arguments": args,
        },
    })
}

fn protocol(what: &str, e: impl std::fmt::Display) -> ConvertError {
    ConvertError::Protocol(format!("Zhipu {what} is not in the documented format: {e}"))
}

fn completion(
    id: &str,
    created: u64,
    ctx: &ResponseCtx<'_>,
    message: Value,
    finish: &str,
    usage: Option<&Usage>,
) -> Result<Bytes, ConvertError> {
    let mut body = json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": ctx.requested_model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
    });
    if let Some(u) = usage {
        body["usage"] = json!({
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens,
        });
    }
    serde_json::to_vec(&body)
        .map(Bytes::from)
        .map_err(|e| protocol("answer", e))
}

fn output(body: Bytes, usage: Option<Usage>, text: String) -> ChatOutput {
    ChatOutput {
        body,
        text_for_count: usage.is_none().then_some(text),
        usage,
    }
}

/// A v4 `chat/completions` answer (OpenAI-like, without `object`).
pub(super) fn v4(body: &[u8], ctx: &ResponseCtx<'_>) -> Result<ChatOutput, ConvertError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| protocol("answer", e))?;
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        let body = json!({ "error": e }).to_string();
        return Err(ConvertError::Upstream(error(200, body.as_bytes())));
    }
    let choice = v
        .pointer("/choices/0")
        .ok_or_else(|| protocol("answer", "no choices"))?;
    let finish = finish_reason(
        choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .unwrap_or("stop"),
    )
    .map_err(ConvertError::Upstream)?;
    let msg = choice.get("message").cloned().unwrap_or(Value::Null);
    let content = msg.get("content").and_then(Value::as_str).unwrap_or("");
    let calls: Vec<Value> = msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut t = tool_call(c, i);
                    if let Some(o) = t.as_object_mut() {
                        o.remove("index");
                    }
                    t
                })
                .collect()
        })
        .unwrap_or_default();
    let mut text = content.to_owned();
    let mut message = json!({
        "role": "assistant",
        "content": if content.is_empty() && !calls.is_empty() { Value::Null } else { Value::from(content) },
        "refusal": null,
    });
    if let Some(r) = msg.get("reasoning_content").and_then(Value::as_str) {
        message["reasoning_content"] = Value::from(r);
    }
    if !calls.is_empty() {
        for c in &calls {
            text.push_str(
                c.pointer("/function/name")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            );
            text.push_str(
                c.pointer("/function/arguments")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            );
        }
        message["tool_calls"] = Value::Array(calls);
    }
    let usage = v.get("usage").and_then(usage_of);
    let id = v.get("id").and_then(Value::as_str).unwrap_or("");
    let created = v
        .get("created")
        .and_then(Value::as_u64)
        .unwrap_or(ctx.now_unix);
    let out = completion(id, created, ctx, message, finish, usage.as_ref())?;
    Ok(output(out, usage, text))
}

/// The text of a v3 `content`: by default the service returns it as a JSON string literal.
pub(super) fn unquote(content: &str) -> String {
    let t = content.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        if let Ok(s) = serde_json::from_str::<String>(t) {
            return s;
        }
        return t[1..t.len() - 1].to_owned();
    }
    content.to_owned()
}

#[derive(Deserialize)]
struct V3Answer {
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    data: Option<Value>,
}

/// A v3 `invoke` answer; `success: false` (sent with HTTP 200) is an upstream error.
pub(super) fn v3(body: &[u8], ctx: &ResponseCtx<'_>) -> Result<ChatOutput, ConvertError> {
    let a: V3Answer = serde_json::from_slice(body).map_err(|e| protocol("v3 answer", e))?;
    let code = code_text(a.code.as_ref()).unwrap_or_default();
    if a.success != Some(true) || (!code.is_empty() && code != "200") {
        let code = if code.is_empty() {
            "unknown".to_owned()
        } else {
            code
        };
        return Err(ConvertError::Upstream(business_error(
            &code,
            a.msg.as_deref().unwrap_or(""),
            200,
        )));
    }
    let data = a.data.ok_or_else(|| protocol("v3 answer", "no `data`"))?;
    if let Some(status) = data.get("task_status").and_then(Value::as_str)
        && status != "SUCCESS"
    {
        return Err(ConvertError::Upstream(UpstreamError {
            status: 502,
            message: format!("Zhipu v3 task ended with status {status}"),
            kind: None,
            code: None,
        }));
    }
    let content = data
        .pointer("/choices/0/content")
        .and_then(Value::as_str)
        .map(unquote)
        .ok_or_else(|| protocol("v3 answer", "no `data.choices[0].content`"))?;
    let usage = data.get("usage").and_then(usage_of);
    let id = data
        .get("task_id")
        .or_else(|| data.get("request_id"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let message = json!({"role": "assistant", "content": content, "refusal": null});
    let out = completion(id, ctx.now_unix, ctx, message, "stop", usage.as_ref())?;
    Ok(output(out, usage, content))
}

/// A v4 `embeddings` answer, vectors put in input order.
pub(super) fn embeddings(body: &[u8]) -> Result<EmbeddingsOutput, ConvertError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| protocol("embeddings answer", e))?;
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        let body = json!({ "error": e }).to_string();
        return Err(ConvertError::Upstream(error(200, body.as_bytes())));
    }
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| protocol("embeddings answer", "no `data` list"))?;
    let mut items: Vec<(u64, Vec<f32>)> = Vec::with_capacity(data.len());
    for (i, item) in data.iter().enumerate() {
        let vector = item
            .get("embedding")
            .and_then(Value::as_array)
            .ok_or_else(|| protocol("embeddings answer", "an item without `embedding`"))?
            .iter()
            .map(|x| x.as_f64().map(|f| f as f32))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| protocol("embeddings answer", "a non-numeric embedding value"))?;
        let index = item
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(i as u64);
        items.push((index, vector));
    }
    items.sort_by_key(|(i, _)| *i);
    Ok(EmbeddingsOutput {
        vectors: items.into_iter().map(|(_, v)| v).collect(),
        usage: v.get("usage").and_then(usage_of),
    })
}
