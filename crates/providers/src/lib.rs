//! Upstream adapters: the canonical (OpenAI) request to a provider's native request, and the
//! provider's native response and stream frames back to canonical OpenAI JSON.
//!
//! Providers are a closed enum ([`Provider`]) plus one trait ([`Adapter`]); each adapter lives in
//! its own folder. Everything here is pure: no sockets, no clocks, so conversions are unit-tested
//! without I/O. The server owns the HTTP client, the timeouts and the failover.

pub mod adapter;
pub mod aggregate;
pub mod anthropic;
pub mod dashscope;
pub mod gemini;
pub mod hunyuan;
pub mod inbound;
pub mod openai;
pub mod passthrough;
pub mod provider;
pub mod qianfan;
pub mod spark;
pub mod zhipu;

pub use adapter::{
    Adapter, ChatOutput, ConvertError, EmbeddingsInput, EmbeddingsOutput, Emit, Method, NativeCall,
    ResponseCtx, StreamConverter, StreamStep, Target, Token, Transport, UpstreamError,
    UpstreamRequest, bearer,
};
pub use provider::Provider;

/// The adapter that speaks to `provider`.
pub fn adapter(provider: Provider) -> &'static dyn Adapter {
    match provider {
        Provider::OpenAi => &openai::OPENAI,
        Provider::OpenAiCompatible => &openai::OPENAI_COMPATIBLE,
        Provider::Moonshot => &openai::MOONSHOT,
        Provider::StepFun => &openai::STEPFUN,
        Provider::DashScope => &dashscope::ADAPTER,
        Provider::Qianfan => &qianfan::ADAPTER,
        Provider::QianfanV2 => &qianfan::ADAPTER_V2,
        Provider::Zhipu => &zhipu::ADAPTER,
        Provider::Hunyuan => &hunyuan::ADAPTER,
        Provider::Spark => &spark::ADAPTER,
        Provider::Anthropic => &anthropic::ADAPTER,
        Provider::Gemini => &gemini::ADAPTER,
    }
}
