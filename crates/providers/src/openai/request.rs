//! Building the upstream request for the OpenAI dialect.

use bytes::Bytes;
use serde_json::Value;
use switchyard_types::{ChatRequest, StreamOptions};

use super::Flavor;
use crate::adapter::{ConvertError, Target, UpstreamRequest};

/// Serialises `req` for the upstream, with `model` rewritten and the flavour's adjustments.
///
/// Streams to OpenAI and compatible servers always ask for the usage chunk, whatever the client
/// asked, because billing needs it; the stream converter hides it from clients that did not ask.
pub(super) fn build(
    flavor: Flavor,
    req: &ChatRequest,
    target: &Target<'_>,
) -> Result<UpstreamRequest, ConvertError> {
    let mut out = req.clone();
    out.model = target.upstream_model.to_owned();
    if out.is_stream() && matches!(flavor, Flavor::OpenAi | Flavor::Compatible) {
        let opts = out
            .stream_options
            .get_or_insert_with(StreamOptions::default);
        opts.include_usage = Some(true);
    }
    if flavor == Flavor::Moonshot {
        // Moonshot accepts temperature in [0, 1] only (OpenAI: [0, 2]).
        if let Some(t) = out.extra.get_mut("temperature")
            && let Some(f) = t.as_f64()
            && f > 1.0
        {
            *t = Value::from(1.0);
        }
    }
    let body = serde_json::to_vec(&out).map_err(|e| ConvertError::BadRequest {
        message: format!("cannot serialise request: {e}"),
        param: None,
    })?;
    Ok(UpstreamRequest::post_json(
        format!("{}/chat/completions", target.base_url.trim_end_matches('/')),
        vec![("authorization".to_owned(), format!("Bearer {}", target.key))],
        Bytes::from(body),
    ))
}
