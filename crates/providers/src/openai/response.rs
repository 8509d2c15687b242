//! Non-stream answers and error bodies of the OpenAI dialect.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use switchyard_types::Usage;

use crate::adapter::{ChatOutput, ConvertError, UpstreamError};

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    choices: Vec<ChoiceProbe>,
}

#[derive(Deserialize)]
struct ChoiceProbe {
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    message: Option<MessageProbe>,
}

#[derive(Deserialize)]
struct MessageProbe {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Value>,
}

/// Reads usage from the answer. OpenAI's own answers pass through byte for byte; other
/// flavours' answers get the fields OpenAI's schema requires and they omit (`logprobs`,
/// `message.refusal`), and lose the non-standard `choices[].usage`.
pub(super) fn convert(body: Bytes, repair: bool) -> Result<ChatOutput, ConvertError> {
    let body = if repair { complete(body)? } else { body };
    let not_chat = |e: serde_json::Error| {
        ConvertError::Protocol(format!("upstream answer is not a chat completion: {e}"))
    };
    // Nearly every answer has usage: read only the counts billing needs (the choices and the
    // detail objects are skipped, not built; the body goes on unchanged).
    #[derive(Deserialize)]
    struct UsageOnly {
        #[serde(default)]
        usage: Option<Counts>,
    }
    #[derive(Deserialize)]
    struct Counts {
        #[serde(default)]
        prompt_tokens: Option<u64>,
        #[serde(default)]
        completion_tokens: Option<u64>,
        #[serde(default)]
        total_tokens: Option<u64>,
        #[serde(default)]
        prompt_tokens_details: Option<Cached>,
    }
    #[derive(Deserialize)]
    struct Cached {
        #[serde(default)]
        cached_tokens: Option<u64>,
    }
    if let Some(c) = serde_json::from_slice::<UsageOnly>(&body)
        .map_err(not_chat)?
        .usage
    {
        let mut usage = Usage::new(
            c.prompt_tokens.unwrap_or(0),
            c.completion_tokens.unwrap_or(0),
        );
        usage.total_tokens = c.total_tokens.unwrap_or(usage.total_tokens);
        if let Some(n) = c.prompt_tokens_details.and_then(|d| d.cached_tokens) {
            usage.extra.insert(
                "prompt_tokens_details".into(),
                serde_json::json!({ "cached_tokens": n }),
            );
        }
        return Ok(ChatOutput {
            body,
            usage: Some(usage),
            text_for_count: None,
        });
    }
    let probe: Probe = serde_json::from_slice(&body).map_err(not_chat)?;
    let usage = probe
        .usage
        .or_else(|| probe.choices.iter().find_map(|c| c.usage.clone()));
    let text_for_count = if usage.is_none() {
        let mut text = String::new();
        for c in &probe.choices {
            if let Some(m) = &c.message {
                text.push_str(m.content.as_deref().unwrap_or(""));
                if let Some(t) = &m.tool_calls {
                    text.push_str(&t.to_string());
                }
            }
        }
        Some(text)
    } else {
        None
    };
    Ok(ChatOutput {
        body,
        usage,
        text_for_count,
    })
}

fn complete(body: Bytes) -> Result<Bytes, ConvertError> {
    let mut v: Value = serde_json::from_slice(&body).map_err(|e| {
        ConvertError::Protocol(format!("upstream answer is not a chat completion: {e}"))
    })?;
    let mut usage_inside = None;
    for c in v["choices"].as_array_mut().into_iter().flatten() {
        let Some(c) = c.as_object_mut() else { continue };
        if let Some(u) = c.remove("usage") {
            usage_inside.get_or_insert(u);
        }
        c.entry("logprobs").or_insert(Value::Null);
        if let Some(m) = c.get_mut("message").and_then(Value::as_object_mut) {
            m.entry("refusal").or_insert(Value::Null);
            if m.get("content").is_none() {
                m.insert("content".into(), Value::Null);
            }
        }
    }
    if let (Some(u), Some(obj)) = (usage_inside, v.as_object_mut()) {
        obj.entry("usage").or_insert(u);
    }
    serde_json::to_vec(&v)
        .map(Bytes::from)
        .map_err(|e| ConvertError::Protocol(e.to_string()))
}

/// Reads an OpenAI-shaped error body; falls back to the raw text.
pub(crate) fn error(status: u16, body: &[u8]) -> UpstreamError {
    #[derive(Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default)]
        message: Option<String>,
        #[serde(default, rename = "type")]
        kind: Option<String>,
        #[serde(default)]
        code: Option<Value>,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(b) => UpstreamError {
            status,
            message: b
                .error
                .message
                .unwrap_or_else(|| format!("upstream status {status}")),
            kind: b.error.kind,
            code: b.error.code.and_then(|c| match c {
                Value::String(s) => Some(s),
                Value::Null => None,
                other => Some(other.to_string()),
            }),
        },
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let message = if text.is_empty() {
                format!("upstream status {status}")
            } else {
                text.chars().take(512).collect()
            };
            UpstreamError {
                status,
                message,
                kind: None,
                code: None,
            }
        }
    }
}
