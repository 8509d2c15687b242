//! Tencent Hunyuan through Cloud API 3.0 (`hunyuan.tencentcloudapi.com`, version 2023-09-01),
//! signed with TC3-HMAC-SHA256.
//!
//! - Requests: `POST /` with `X-TC-Action: ChatCompletions` (or `GetEmbedding`), PascalCase
//!   bodies ([`request`]), the signature computed in [`auth`] from the channel key
//!   `SECRET_ID|SECRET_KEY` and the gateway's clock (`Target::now_unix`).
//! - Answers: wrapped in `Response`; errors come with HTTP 200 as `Response.Error` and are mapped
//!   to OpenAI statuses and codes in [`errors`]; streams are handled in [`stream`].
//! - The generic model name `hunyuan` is sent as `hunyuan-standard`.
//!
//! Protocol facts and the decisions taken where they were unclear: `docs/providers/hunyuan.md`.

mod auth;
mod errors;
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

/// Models routed to this provider by default (`hunyuan-embedding` serves `/v1/embeddings`).
pub const DEFAULT_MODELS: &[&str] = &[
    "hunyuan",
    "hunyuan-lite",
    "hunyuan-standard",
    "hunyuan-pro",
    "hunyuan-embedding",
];

/// The Tencent Hunyuan adapter.
#[derive(Debug)]
pub struct Hunyuan;

/// The Tencent Hunyuan adapter.
pub static ADAPTER: Hunyuan = Hunyuan;

impl Adapter for Hunyuan {
    fn chat_request(
        &self,
        req: &ChatRequest,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, ConvertError> {
        request::build(req, target)
    }

    fn chat_response(
        &self,
        body: Bytes,
        ctx: &ResponseCtx<'_>,
    ) -> Result<ChatOutput, ConvertError> {
        response::chat(&body, ctx)
    }

    fn stream_converter(&self, ctx: &ResponseCtx<'_>) -> Box<dyn StreamConverter> {
        Box::new(stream::HunyuanStream::new(ctx))
    }

    fn error(&self, status: u16, body: &[u8]) -> UpstreamError {
        response::error(status, body)
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
