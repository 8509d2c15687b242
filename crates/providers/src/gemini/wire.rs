//! Gemini's `GenerateContentResponse`, read leniently (every field optional, unknown fields
//! ignored), and the pieces shared by the non-stream and stream converters: usage, finish
//! reasons and the blocked-prompt error.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_types::Usage;

use crate::adapter::{ConvertError, UpstreamError};

/// One answer (a whole body, or one stream chunk).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenResponse {
    #[serde(default)]
    pub(crate) candidates: Vec<Candidate>,
    #[serde(default)]
    pub(crate) prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    pub(crate) usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    pub(crate) response_id: Option<String>,
    /// An error object inside a 200 (or a stream event).
    #[serde(default)]
    pub(crate) error: Option<Value>,
}

/// One candidate.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Candidate {
    #[serde(default)]
    pub(crate) content: Option<Content>,
    #[serde(default)]
    pub(crate) finish_reason: Option<String>,
    #[serde(default)]
    pub(crate) index: Option<u32>,
}

/// A candidate's content.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Content {
    #[serde(default)]
    pub(crate) parts: Vec<Part>,
}

/// One part; only the kinds the gateway maps are read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Part {
    #[serde(default)]
    pub(crate) text: Option<String>,
    /// A thought summary (`includeThoughts`), not answer text.
    #[serde(default)]
    pub(crate) thought: Option<bool>,
    #[serde(default)]
    pub(crate) thought_signature: Option<String>,
    #[serde(default)]
    pub(crate) function_call: Option<FunctionCall>,
}

/// A whole function call.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct FunctionCall {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) args: Option<Value>,
}

impl FunctionCall {
    /// `arguments` as the OpenAI JSON string.
    pub(crate) fn arguments(&self) -> String {
        match &self.args {
            None | Some(Value::Null) => "{}".to_owned(),
            Some(v) => v.to_string(),
        }
    }
}

/// `promptFeedback`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PromptFeedback {
    #[serde(default)]
    pub(crate) block_reason: Option<String>,
}

/// `usageMetadata`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UsageMetadata {
    #[serde(default)]
    pub(crate) prompt_token_count: u64,
    #[serde(default)]
    pub(crate) candidates_token_count: u64,
    #[serde(default)]
    pub(crate) total_token_count: u64,
    #[serde(default)]
    pub(crate) cached_content_token_count: Option<u64>,
    #[serde(default)]
    pub(crate) thoughts_token_count: Option<u64>,
    #[serde(default)]
    pub(crate) tool_use_prompt_token_count: Option<u64>,
}

impl UsageMetadata {
    /// OpenAI usage: prompt = prompt + tool-use prompt; completion = candidates + thoughts
    /// (thinking is billed as output); cached prompt tokens in
    /// `prompt_tokens_details.cached_tokens`, thoughts in
    /// `completion_tokens_details.reasoning_tokens`.
    pub(crate) fn to_usage(&self) -> Usage {
        let prompt = self.prompt_token_count + self.tool_use_prompt_token_count.unwrap_or(0);
        let completion = self.candidates_token_count + self.thoughts_token_count.unwrap_or(0);
        let mut u = Usage::new(prompt, completion);
        if self.total_token_count > 0 {
            u.total_tokens = self.total_token_count;
        }
        if let Some(c) = self.cached_content_token_count {
            u.extra
                .insert("prompt_tokens_details".into(), json!({"cached_tokens": c}));
        }
        if let Some(t) = self.thoughts_token_count {
            u.extra.insert(
                "completion_tokens_details".into(),
                json!({"reasoning_tokens": t}),
            );
        }
        u
    }
}

/// The OpenAI `usage` object for a body.
pub(crate) fn usage_json(u: &Usage) -> Value {
    let mut m = Map::new();
    m.insert("prompt_tokens".into(), json!(u.prompt_tokens));
    m.insert("completion_tokens".into(), json!(u.completion_tokens));
    m.insert("total_tokens".into(), json!(u.total_tokens));
    for (k, v) in &u.extra {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

/// Gemini `finishReason` to OpenAI. Calls present make it `tool_calls` unless the candidate
/// was stopped by a filter.
pub(crate) fn finish_reason(reason: Option<&str>, has_calls: bool) -> &'static str {
    let mapped = match reason.unwrap_or("STOP") {
        "MAX_TOKENS" => "length",
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "LANGUAGE"
        | "OTHER"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION"
        | "IMAGE_OTHER" => "content_filter",
        _ => "stop",
    };
    if has_calls && mapped != "content_filter" {
        "tool_calls"
    } else {
        mapped
    }
}

/// The answer to a prompt Gemini refused to process (no candidates, a `blockReason`).
pub(crate) fn blocked(reason: &str) -> ConvertError {
    ConvertError::Upstream(UpstreamError {
        status: 400,
        message: format!(
            "The prompt was blocked by Gemini's content filter (blockReason: {reason})."
        ),
        kind: Some("invalid_request_error".into()),
        code: Some("content_filter".into()),
    })
}

/// Parses one answer; an `error` member becomes the mapped upstream error.
pub(crate) fn parse(data: &[u8]) -> Result<GenResponse, ConvertError> {
    let resp: GenResponse = serde_json::from_slice(data).map_err(|e| {
        ConvertError::Protocol(format!(
            "Gemini answer is not a GenerateContentResponse: {e}"
        ))
    })?;
    if let Some(err) = resp.error.as_ref().filter(|e| !e.is_null()) {
        let body = json!({ "error": err }).to_string();
        let http = err
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(500);
        return Err(ConvertError::Upstream(super::errors::map(
            http,
            body.as_bytes(),
        )));
    }
    Ok(resp)
}
