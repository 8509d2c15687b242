//! Inbound dialects: requests in Anthropic's and Gemini's own shapes converted to the canonical
//! (OpenAI) request, and canonical answers and stream chunks converted back, so the SDKs of those
//! providers can use any channel. Pure functions, like the adapters.

pub mod anthropic;
pub mod gemini;

#[cfg(test)]
mod snapshots_tests;

use serde_json::Value;

/// Text of a canonical chunk's first choice delta, its tool-call fragments and finish reason.
pub(crate) struct ChunkView {
    pub(crate) text: Option<String>,
    pub(crate) tool_calls: Vec<Value>,
    pub(crate) finish_reason: Option<String>,
}

pub(crate) fn view(payload: &[u8]) -> Option<ChunkView> {
    let v: Value = serde_json::from_slice(payload).ok()?;
    let c = v.get("choices")?.as_array()?.first()?;
    let delta = &c["delta"];
    Some(ChunkView {
        text: delta["content"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        tool_calls: delta["tool_calls"].as_array().cloned().unwrap_or_default(),
        finish_reason: c["finish_reason"].as_str().map(str::to_owned),
    })
}
