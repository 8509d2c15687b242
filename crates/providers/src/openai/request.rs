//! Building the upstream request for the OpenAI dialect.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};
use switchyard_types::{ChatMessage, ChatRequest, StreamOptions};

use super::Flavor;
use crate::adapter::{ConvertError, Target, UpstreamRequest, bearer};

/// The upstream's request body: `req`'s fields, borrowed, with `model` and the flavour's
/// adjustments in place, so that no request is cloned to be rewritten.
#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<Cow<'a, StreamOptions>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a [Value]>,
    #[serde(flatten)]
    extra: Cow<'a, Map<String, Value>>,
}

/// Serialises `req` for the upstream, with `model` rewritten and the flavour's adjustments.
///
/// Streams to OpenAI and compatible servers always ask for the usage chunk, whatever the client
/// asked, because billing needs it; the stream converter hides it from clients that did not ask.
pub(super) fn build(
    flavor: Flavor,
    req: &ChatRequest,
    target: &Target<'_>,
) -> Result<UpstreamRequest, ConvertError> {
    // Every field named, so that a field added to `ChatRequest` cannot be left out here.
    let ChatRequest {
        model: _,
        messages,
        stream,
        stream_options,
        max_tokens,
        max_completion_tokens,
        n,
        tools,
        extra,
    } = req;
    let stream_options = if req.is_stream() && matches!(flavor, Flavor::OpenAi | Flavor::Compatible)
    {
        let mut opts = stream_options.clone().unwrap_or_default();
        opts.include_usage = Some(true);
        Some(Cow::Owned(opts))
    } else {
        stream_options.as_ref().map(Cow::Borrowed)
    };
    let mut extra = Cow::Borrowed(extra);
    if flavor == Flavor::Moonshot
        && let Some(t) = extra.get("temperature").and_then(Value::as_f64)
        && t > 1.0
    {
        // Moonshot accepts temperature in [0, 1] only (OpenAI: [0, 2]).
        extra
            .to_mut()
            .insert("temperature".to_owned(), Value::from(1.0));
    }
    let out = Body {
        model: target.upstream_model,
        messages,
        stream: *stream,
        stream_options,
        max_tokens: *max_tokens,
        max_completion_tokens: *max_completion_tokens,
        n: *n,
        tools: tools.as_deref(),
        extra,
    };
    let body = serde_json::to_vec(&out).map_err(|e| ConvertError::BadRequest {
        message: format!("cannot serialise request: {e}"),
        param: None,
    })?;
    Ok(UpstreamRequest::post_json(
        format!("{}/chat/completions", target.base_url.trim_end_matches('/')),
        [bearer(target.key)],
        Bytes::from(body),
    ))
}
