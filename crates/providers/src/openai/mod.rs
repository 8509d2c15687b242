//! The OpenAI dialect: OpenAI itself, OpenAI-compatible servers, Moonshot and StepFun.
//!
//! Requests are forwarded with only `model` rewritten (plus the few clamps a flavour needs);
//! answers pass through byte for byte unless a flavour's quirk must be repaired (StepFun's
//! `finish_reason: ""` and per-chunk cumulative usage, Moonshot's usage inside `choices[0]`).

mod request;
mod response;
mod stream;

/// The OpenAI error-body reader, shared with OpenAI-shaped native APIs (Qianfan v2)
/// and used by DashScope for bodies that are not its own shape.
pub(crate) use response::error as error_body;

#[cfg(test)]
mod tests;

use bytes::Bytes;
use switchyard_types::ChatRequest;

use crate::adapter::{
    Adapter, ChatOutput, ConvertError, ResponseCtx, StreamConverter, Target, UpstreamError,
    UpstreamRequest,
};

/// Which OpenAI-dialect quirks apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// OpenAI: usage only in the `include_usage` chunk.
    OpenAi,
    /// Any compatible server: treated like OpenAI.
    Compatible,
    /// Moonshot: temperature in [0, 1]; stream usage in `choices[0].usage`.
    Moonshot,
    /// StepFun: cumulative usage in every chunk, `""` finish reasons and roles.
    StepFun,
}

/// The OpenAI-dialect adapter of one flavour.
#[derive(Debug)]
pub struct OpenAiDialect {
    flavor: Flavor,
}

/// OpenAI.
pub static OPENAI: OpenAiDialect = OpenAiDialect {
    flavor: Flavor::OpenAi,
};
/// OpenAI-compatible servers.
pub static OPENAI_COMPATIBLE: OpenAiDialect = OpenAiDialect {
    flavor: Flavor::Compatible,
};
/// Moonshot.
pub static MOONSHOT: OpenAiDialect = OpenAiDialect {
    flavor: Flavor::Moonshot,
};
/// StepFun.
pub static STEPFUN: OpenAiDialect = OpenAiDialect {
    flavor: Flavor::StepFun,
};

impl Adapter for OpenAiDialect {
    fn chat_request(
        &self,
        req: &ChatRequest,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, ConvertError> {
        request::build(self.flavor, req, target)
    }

    fn chat_response(
        &self,
        body: Bytes,
        _ctx: &ResponseCtx<'_>,
    ) -> Result<ChatOutput, ConvertError> {
        response::convert(body, self.flavor != Flavor::OpenAi)
    }

    fn stream_converter(&self, ctx: &ResponseCtx<'_>) -> Box<dyn StreamConverter> {
        Box::new(stream::OpenAiStream::new(self.flavor, ctx.requested_model))
    }

    fn error(&self, status: u16, body: &[u8]) -> UpstreamError {
        response::error(status, body)
    }
}
