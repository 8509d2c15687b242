//! Google Gemini (the Gemini Developer API, `generativelanguage.googleapis.com`).
//!
//! - Auth: the channel key (`AIza…`) in `x-goog-api-key` ([`auth`]).
//! - Chat: `POST {base}/v1beta/models/{model}:generateContent`, or
//!   `:streamGenerateContent?alt=sse` for streams ([`request`], [`messages`], [`schema`]).
//! - Answers: [`response`] (non-stream) and [`stream`] (SSE, CRLF or LF framed, no `[DONE]`:
//!   the chunk carrying `finishReason` ends it); shared wire types and usage in [`wire`].
//! - Errors: `{"error":{code,message,status}}` mapped to OpenAI statuses ([`errors`]); an
//!   invalid key, which Gemini answers with 400 `API_KEY_INVALID`, is a 401.
//! - Embeddings: `:batchEmbedContents` ([`embed`]).
//!
//! Facts and their sources: `docs/providers/gemini.md`.

mod auth;
mod embed;
mod errors;
mod ids;
mod messages;
mod request;
mod response;
mod schema;
mod stream;
mod wire;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_more;
#[cfg(test)]
mod tests_response;
#[cfg(test)]
mod tests_stream;

use bytes::Bytes;
use switchyard_types::ChatRequest;

use crate::adapter::{
    Adapter, ChatOutput, ConvertError, EmbeddingsInput, EmbeddingsOutput, NativeCall, ResponseCtx,
    StreamConverter, Target, UpstreamError, UpstreamRequest,
};

/// Models routed to this provider by default.
pub const DEFAULT_MODELS: &[&str] = &[
    "gemini-pro",
    "gemini-pro-vision",
    "gemini-1.5-pro",
    "gemini-1.5-flash",
    "gemini-2.0-flash",
    "gemini-2.0-flash-lite",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
    "text-embedding-004",
];

/// The Gemini adapter.
#[derive(Debug)]
pub struct Gemini;

/// The Google Gemini adapter.
pub static ADAPTER: Gemini = Gemini;

impl Adapter for Gemini {
    fn chat_request(
        &self,
        req: &ChatRequest,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, ConvertError> {
        let key = auth::check_key(target.key)?;
        let body = request::body(req)?;
        let url = chat_url(target, req.is_stream())?;
        let bytes = serde_json::to_vec(&body).map_err(|e| ConvertError::BadRequest {
            message: format!("cannot serialise the Gemini request: {e}"),
            param: None,
        })?;
        Ok(UpstreamRequest::post_json(
            url,
            auth::headers(key),
            Bytes::from(bytes),
        ))
    }

    fn chat_response(
        &self,
        body: Bytes,
        ctx: &ResponseCtx<'_>,
    ) -> Result<ChatOutput, ConvertError> {
        response::convert(&body, ctx)
    }

    fn stream_converter(&self, ctx: &ResponseCtx<'_>) -> Box<dyn StreamConverter> {
        Box::new(stream::GeminiStream::new(ctx))
    }

    /// `generateContent` from a Gemini client: the body goes on byte for byte; only the model
    /// in the URL and the key change.
    fn native_request(
        &self,
        call: NativeCall<'_>,
        target: &Target<'_>,
    ) -> Option<Result<UpstreamRequest, ConvertError>> {
        let req = auth::check_key(target.key).and_then(|key| {
            Ok(UpstreamRequest::post_json(
                chat_url(target, call.stream)?,
                auth::headers(key),
                call.body.clone(),
            ))
        });
        Some(req)
    }

    fn error(&self, status: u16, body: &[u8]) -> UpstreamError {
        errors::map(status, body)
    }

    fn retry_after(&self, body: &[u8]) -> Option<u64> {
        errors::retry_delay(body)
    }

    fn embeddings_request(
        &self,
        input: &EmbeddingsInput<'_>,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, ConvertError> {
        embed::request(input, target)
    }

    fn embeddings_response(&self, body: Bytes) -> Result<EmbeddingsOutput, ConvertError> {
        embed::response(&body)
    }
}

/// `…:generateContent`, or `…:streamGenerateContent?alt=sse` for a stream.
fn chat_url(target: &Target<'_>, stream: bool) -> Result<String, ConvertError> {
    if stream {
        let url = auth::url(
            target.base_url,
            target.upstream_model,
            "streamGenerateContent",
        )?;
        Ok(format!("{url}?alt=sse"))
    } else {
        auth::url(target.base_url, target.upstream_model, "generateContent")
    }
}
