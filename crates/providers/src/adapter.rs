//! The adapter trait and the data that crosses it.
//!
//! A request goes out as an [`UpstreamRequest`] (URL, headers, body); a non-stream answer comes
//! back through [`Adapter::chat_response`]; a stream comes back event by event through a
//! [`StreamConverter`], which writes canonical chunks, text (for local counting) and usage into
//! an [`Emit`]. Usage always has *replace* semantics: a converter reports the upstream's latest
//! total, never an increment, so cumulative and final-only providers cannot be double-counted.

use bytes::Bytes;
use switchyard_sse::Event;
use switchyard_types::{ChatRequest, Usage};

/// Where and as whom to call the upstream.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Base URL of the channel (for OpenAI dialects it ends in `/v1`).
    pub base_url: &'a str,
    /// The channel's credential.
    pub key: &'a str,
    /// The model name the upstream knows (after `model_map`).
    pub upstream_model: &'a str,
}

/// A ready-to-send HTTP request.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    /// Absolute URL.
    pub url: String,
    /// Extra headers (authentication, content type).
    pub headers: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: Bytes,
}

/// A non-stream answer converted to OpenAI JSON.
#[derive(Debug, Clone)]
pub struct ChatOutput {
    /// The `chat.completion` body for the client.
    pub body: Bytes,
    /// Usage as the upstream reported it, if it did.
    pub usage: Option<Usage>,
    /// Concatenated answer text, only when usage is missing (for local counting).
    pub text_for_count: Option<String>,
}

/// A conversion failure.
#[derive(Debug, Clone, PartialEq)]
pub enum ConvertError {
    /// The client's request cannot be expressed for this provider.
    BadRequest {
        /// What is wrong.
        message: String,
        /// The offending parameter.
        param: Option<String>,
    },
    /// The upstream sent something that is not its documented format.
    Protocol(String),
    /// The upstream reported an error inside a 200 answer or a stream.
    Upstream(UpstreamError),
}

/// An error the upstream reported, in provider-neutral terms.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamError {
    /// HTTP status the error corresponds to.
    pub status: u16,
    /// The upstream's message (credentials masked by the caller).
    pub message: String,
    /// The upstream's error type, if any.
    pub kind: Option<String>,
    /// The upstream's error code, if any.
    pub code: Option<String>,
}

/// What a converter produced from one event.
#[derive(Debug, Default)]
pub struct Emit {
    /// Canonical chunk payloads (JSON, without the `data: ` framing), in order.
    pub chunks: Vec<Bytes>,
    /// Answer text seen in this event, kept only for local counting when usage is missing.
    pub text: String,
    /// The upstream's latest usage total, if this event carried one.
    pub usage: Option<Usage>,
}

impl Emit {
    /// Clears the buffers for the next event.
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.text.clear();
        self.usage = None;
    }
}

/// Whether the stream goes on after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStep {
    /// More events follow.
    Continue,
    /// The upstream said the answer is complete.
    Done,
}

/// Turns a provider's stream events into canonical chunks.
pub trait StreamConverter: Send {
    /// Converts one event.
    fn event(&mut self, ev: &Event, emit: &mut Emit) -> Result<StreamStep, ConvertError>;
    /// `(id, created, model)` of the stream, for the gateway's own final chunks.
    fn identity(&self) -> (&str, u64, &str);
}

/// One provider's conversions.
pub trait Adapter: Send + Sync {
    /// Builds the upstream chat request.
    fn chat_request(
        &self,
        req: &ChatRequest,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, ConvertError>;
    /// Converts a successful non-stream answer.
    fn chat_response(&self, body: Bytes) -> Result<ChatOutput, ConvertError>;
    /// A converter for one stream answer to a request for `requested_model`.
    fn stream_converter(&self, requested_model: &str) -> Box<dyn StreamConverter>;
    /// Reads an error answer (non-2xx status).
    fn error(&self, status: u16, body: &[u8]) -> UpstreamError;
}
