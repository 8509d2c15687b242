//! Baidu Qianfan (ERNIE): the v1 `wenxinworkshop` API ([`ADAPTER`], provider `qianfan`) and the
//! OpenAI-shaped v2 API ([`ADAPTER_V2`], provider `qianfan-v2`).
//!
//! v1: the channel key is `API_KEY|SECRET_KEY`, exchanged for an OAuth access token
//! (`auth.rs`) that the gateway caches and sends back in `target.token`; every request carries it
//! as `?access_token=`. The model is the URL's last segment ([`models`]). Requests move every
//! system text to `system` and repair ERNIE's strict user/assistant alternation without
//! dropping content (`messages.rs`). Errors come with HTTP 200 as `{error_code, error_msg}`
//! (`errors.rs`); 110/111 make the gateway fetch a new token once. Streams are `data: {…}`
//! events with incremental `result`, ending with `is_end: true` (no `[DONE]`), usage only in that
//! last event. Embeddings: `Embedding-V1`, `bge-large-zh`, `bge-large-en`, `tao-8k`.
//!
//! v2: `Authorization: Bearer bce-v3/…`, OpenAI request and answer shapes (`v2.rs`).

mod auth;
mod errors;
mod messages;
pub mod models;
mod request;
mod response;
mod stream;
mod v2;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_response;
#[cfg(test)]
mod tests_stream;
#[cfg(test)]
mod tests_v2;

use bytes::Bytes;
use switchyard_types::ChatRequest;

use crate::adapter::{
    Adapter, ChatOutput, ConvertError, EmbeddingsInput, EmbeddingsOutput, ResponseCtx,
    StreamConverter, Target, Token, UpstreamError, UpstreamRequest,
};

pub use models::{DEFAULT_MODELS, DEFAULT_MODELS_V2};

/// The Qianfan v1 adapter (`wenxinworkshop`, OAuth access token).
#[derive(Debug)]
pub struct QianfanV1;

/// The Qianfan v2 adapter (OpenAI-shaped, bearer key).
#[derive(Debug)]
pub struct QianfanV2;

/// The Qianfan v1 adapter.
pub static ADAPTER: QianfanV1 = QianfanV1;

/// The Qianfan v2 adapter.
pub static ADAPTER_V2: QianfanV2 = QianfanV2;

impl Adapter for QianfanV1 {
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
        Box::new(stream::V1Stream::new(ctx))
    }

    fn error(&self, status: u16, body: &[u8]) -> UpstreamError {
        errors::v1_status(status, body)
    }

    fn token_request(&self, target: &Target<'_>) -> Option<UpstreamRequest> {
        auth::token_request(target)
    }

    fn token_response(&self, status: u16, body: &[u8]) -> Result<Token, UpstreamError> {
        auth::token_response(status, body)
    }

    fn token_rejected(&self, err: &UpstreamError) -> bool {
        auth::token_rejected(err)
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

impl Adapter for QianfanV2 {
    fn chat_request(
        &self,
        req: &ChatRequest,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, ConvertError> {
        v2::request(req, target)
    }

    fn chat_response(
        &self,
        body: Bytes,
        ctx: &ResponseCtx<'_>,
    ) -> Result<ChatOutput, ConvertError> {
        v2::response(&body, ctx)
    }

    fn stream_converter(&self, ctx: &ResponseCtx<'_>) -> Box<dyn StreamConverter> {
        Box::new(v2::V2Stream::new(ctx))
    }

    fn error(&self, status: u16, body: &[u8]) -> UpstreamError {
        v2::error(status, body)
    }
}
