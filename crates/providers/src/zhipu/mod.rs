//! Zhipu GLM (open.bigmodel.cn): the v4 API (`/api/paas/v4/chat/completions`, OpenAI-like,
//! HS256 JWT signed from the `id.secret` key) for the `glm-*` models and embeddings, and the
//! legacy v3 model API (`/api/paas/v3/model-api/{model}/invoke|sse-invoke`) for `chatglm_*`.
//!
//! Which API a request uses follows from the upstream model name alone ([`ModelKind`]).
//! Facts, sources and decisions: `docs/providers/zhipu.md`.

mod auth;
mod request;
mod response;
mod stream;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_errors;
#[cfg(test)]
mod tests_stream;

use bytes::Bytes;
use serde_json::{Value, json};
use switchyard_types::ChatRequest;

use crate::adapter::{
    Adapter, ChatOutput, ConvertError, EmbeddingsInput, EmbeddingsOutput, ResponseCtx,
    StreamConverter, Target, UpstreamError, UpstreamRequest, bearer,
};

/// Models routed to this provider by default: the v4 chat models, the v3 `chatglm_*` models
/// and the v4 embeddings model.
pub const DEFAULT_MODELS: &[&str] = &[
    "glm-3-turbo",
    "glm-4",
    "glm-4v",
    "chatglm_lite",
    "chatglm_std",
    "chatglm_pro",
    "chatglm_turbo",
    "embedding-2",
];

/// The Zhipu GLM adapter.
#[derive(Debug)]
pub struct Zhipu;

/// The Zhipu GLM adapter.
pub static ADAPTER: Zhipu = Zhipu;

/// Which Zhipu API serves a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// `/api/paas/v4`.
    V4,
    /// `/api/paas/v3/model-api`.
    V3,
}

/// What a model accepts, decided from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModelKind {
    /// `glm-3-turbo`, `glm-4`, `glm-4-*`: text only, system messages, tools.
    Text,
    /// `glm-4v*`: text and image parts, user and assistant turns only, no tools.
    Vision4v,
    /// Any other v4 chat model (newer families): content forwarded as given.
    OtherV4,
    /// `chatglm_*` on the v3 model API.
    Legacy,
    /// `embedding-*`.
    Embedding,
}

impl ModelKind {
    /// Classifies an upstream model name.
    pub(crate) fn of(model: &str) -> Self {
        if model.starts_with("chatglm") {
            Self::Legacy
        } else if model.starts_with("embedding-") {
            Self::Embedding
        } else if model.starts_with("glm-4v") {
            Self::Vision4v
        } else if model == "glm-3-turbo" || model == "glm-4" || model.starts_with("glm-4-") {
            Self::Text
        } else {
            Self::OtherV4
        }
    }

    /// The API serving this kind.
    pub(crate) fn api(self) -> Api {
        if self == Self::Legacy {
            Api::V3
        } else {
            Api::V4
        }
    }
}

impl Adapter for Zhipu {
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
        match ModelKind::of(ctx.upstream_model).api() {
            Api::V4 => response::v4(&body, ctx),
            Api::V3 => response::v3(&body, ctx),
        }
    }

    fn stream_converter(&self, ctx: &ResponseCtx<'_>) -> Box<dyn StreamConverter> {
        match ModelKind::of(ctx.upstream_model).api() {
            Api::V4 => Box::new(stream::V4Stream::new(ctx)),
            Api::V3 => Box::new(stream::V3Stream::new(ctx)),
        }
    }

    fn error(&self, status: u16, body: &[u8]) -> UpstreamError {
        response::error(status, body)
    }

    fn embeddings_request(
        &self,
        input: &EmbeddingsInput<'_>,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, ConvertError> {
        embeddings_request(input, target)
    }

    fn embeddings_response(&self, body: Bytes) -> Result<EmbeddingsOutput, ConvertError> {
        response::embeddings(&body)
    }
}

/// `embedding-2` takes one text per request and always answers with 1024 dimensions; later
/// models take a list and `dimensions`.
fn embeddings_request(
    input: &EmbeddingsInput<'_>,
    target: &Target<'_>,
) -> Result<UpstreamRequest, ConvertError> {
    let model = target.upstream_model;
    let bad = |message: String, param: &str| ConvertError::BadRequest {
        message,
        param: Some(param.to_owned()),
    };
    let legacy = model == "embedding-2";
    let body = match input.texts {
        [] => return Err(bad("`input` must not be empty".into(), "input")),
        [one] => json!({"model": model, "input": one}),
        many if legacy => {
            return Err(bad(
                format!("{model} embeds one text per request, got {}", many.len()),
                "input",
            ));
        }
        many => json!({"model": model, "input": many}),
    };
    let mut body = body;
    match input.dimensions {
        Some(d) if legacy && d != 1024 => {
            return Err(bad(
                format!("{model} always returns 1024 dimensions, not {d}"),
                "dimensions",
            ));
        }
        Some(d) if !legacy => body["dimensions"] = Value::from(d),
        _ => {}
    }
    let token = auth::token_for(target.key, target.now_unix)?;
    let bytes = serde_json::to_vec(&body).map_err(|e| bad(e.to_string(), "input"))?;
    Ok(UpstreamRequest::post_json(
        format!(
            "{}/api/paas/v4/embeddings",
            request::origin(target.base_url)
        ),
        [bearer(&token)],
        Bytes::from(bytes),
    ))
}
