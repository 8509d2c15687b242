//! Alibaba DashScope's native API (Qwen): text generation, multimodal generation (`qwen-vl-*`)
//! and text embeddings.
//!
//! Auth is `Authorization: Bearer sk-…` (a key written `sk-…|ws-…` also sends the workspace
//! header). Requests always ask for `result_format: "message"`, and streams for
//! `incremental_output`, so every stream chunk holds only new text. Usage is cumulative in every
//! stream chunk and reported with replace semantics. Errors are `{"code","message"}` whether
//! they come as an HTTP error, inside a 200 answer, or as an `event:error` frame, and are mapped
//! by `code` (see [`error`]).

mod error;
mod request;
mod response;
mod stream;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_stream;

use bytes::Bytes;
use switchyard_types::ChatRequest;

use crate::adapter::{
    Adapter, ChatOutput, ConvertError, EmbeddingsInput, EmbeddingsOutput, ResponseCtx,
    StreamConverter, Target, UpstreamError, UpstreamRequest,
};

/// Models routed to this provider by default: the chat models, then the embedding models.
pub const DEFAULT_MODELS: &[&str] = &[
    "qwen-turbo",
    "qwen-plus",
    "qwen-max",
    "qwen-max-1201",
    "qwen-max-longcontext",
    "qwen-vl-plus",
    "text-embedding-v1",
    "text-embedding-v2",
];

/// The DashScope adapter.
#[derive(Debug)]
pub struct DashScope;

/// The DashScope adapter.
pub static ADAPTER: DashScope = DashScope;

impl Adapter for DashScope {
    fn chat_request(
        &self,
        req: &ChatRequest,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, ConvertError> {
        request::chat(req, target)
    }

    fn chat_response(
        &self,
        body: Bytes,
        ctx: &ResponseCtx<'_>,
    ) -> Result<ChatOutput, ConvertError> {
        response::chat(&body, ctx)
    }

    fn stream_converter(&self, ctx: &ResponseCtx<'_>) -> Box<dyn StreamConverter> {
        Box::new(stream::DashScopeStream::new(ctx))
    }

    fn error(&self, status: u16, body: &[u8]) -> UpstreamError {
        error::from_body(status, body)
    }

    fn embeddings_request(
        &self,
        input: &EmbeddingsInput<'_>,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, ConvertError> {
        request::embeddings(input, target)
    }

    fn embeddings_response(&self, body: Bytes) -> Result<EmbeddingsOutput, ConvertError> {
        response::embeddings(&body)
    }
}
