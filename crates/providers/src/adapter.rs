//! The adapter trait and the data that crosses it.
//!
//! A request goes out as an [`UpstreamRequest`] (URL, headers, body); a non-stream answer comes
//! back through [`Adapter::chat_response`]; a stream comes back event by event through a
//! [`StreamConverter`], which writes canonical chunks, text (for local counting) and usage into
//! an [`Emit`]. Usage always has *replace* semantics: a converter reports the upstream's latest
//! total, never an increment, so cumulative and final-only providers cannot be double-counted.

use std::borrow::Cow;

use bytes::Bytes;
use switchyard_sse::Event;
use switchyard_types::{ChatRequest, Usage};

/// Where and as whom to call the upstream.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Base URL of the channel (for OpenAI dialects it ends in `/v1`).
    pub base_url: &'a str,
    /// The channel's credential, as configured (some providers pack several parts with `|`).
    pub key: &'a str,
    /// The model name the upstream knows (after `model_map`).
    pub upstream_model: &'a str,
    /// Current Unix time in seconds, for signatures and tokens (injected so tests are exact).
    pub now_unix: u64,
    /// A token obtained through [`Adapter::token_request`], when the provider needs one.
    pub token: Option<&'a str>,
}

/// How the request travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// One HTTP request; the answer is JSON or server-sent events.
    Http,
    /// As `Http`, but the server-sent events' `data:` values are raw text whose leading space
    /// belongs to the text (Zhipu's v3 streams), so the decoder keeps it.
    HttpRawSse,
    /// A WebSocket: `body` is sent as one text message and every text message received is
    /// one stream event (iFlytek Spark).
    WebSocket,
}

/// HTTP method of an upstream request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
}

/// A header of an upstream request: name and value, each static text or made for the request.
pub type Header = (Cow<'static, str>, Cow<'static, str>);

/// A ready-to-send request.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    /// HTTP method (ignored for WebSockets).
    pub method: Method,
    /// Absolute URL (`ws://` or `wss://` for WebSockets).
    pub url: String,
    /// Extra headers (authentication, signatures, content type).
    pub headers: Vec<Header>,
    /// Body (JSON for HTTP, the first message for WebSockets).
    pub body: Bytes,
    /// HTTP or WebSocket.
    pub transport: Transport,
}

/// `authorization: Bearer {token}`, its value made at its exact length (a longer buffer costs
/// one more allocation when it becomes the header's bytes).
pub fn bearer(token: &str) -> Header {
    let mut value = String::with_capacity(7 + token.len());
    value.push_str("Bearer ");
    value.push_str(token);
    ("authorization".into(), value.into())
}

impl UpstreamRequest {
    /// A JSON POST over HTTP.
    pub fn post_json(url: String, headers: impl IntoIterator<Item = Header>, body: Bytes) -> Self {
        let headers = headers.into_iter();
        let mut all = Vec::with_capacity(headers.size_hint().0 + 1);
        all.extend(headers);
        all.push(("content-type".into(), "application/json".into()));
        Self {
            method: Method::Post,
            url,
            headers: all,
            body,
            transport: Transport::Http,
        }
    }
}

/// A request already in the provider's own API (Anthropic's `/v1/messages`, Gemini's
/// `generateContent`), to be forwarded as it is: pass-through.
#[derive(Debug, Clone, Copy)]
pub struct NativeCall<'a> {
    /// The client's body, byte for byte.
    pub body: &'a Bytes,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// Provider headers the client sent that travel on (`anthropic-version`, `anthropic-beta`).
    pub headers: &'a [(String, String)],
}

/// What the response converters know of the request.
#[derive(Debug, Clone, Copy)]
pub struct ResponseCtx<'a> {
    /// The model the client asked for (what the answer's `model` shows when the upstream
    /// gives none).
    pub requested_model: &'a str,
    /// The model the upstream was asked for.
    pub upstream_model: &'a str,
    /// Unix time, for `created` when the upstream gives none.
    pub now_unix: u64,
}

/// A credential obtained from the provider (Qianfan's OAuth access token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The token.
    pub value: String,
    /// Seconds it stays valid.
    pub ttl_secs: u64,
}

/// `POST /v1/embeddings` input, as the gateway hands it to an adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsInput<'a> {
    /// The texts to embed.
    pub texts: &'a [String],
    /// `dimensions`, when the client asked.
    pub dimensions: Option<u64>,
}

/// Embeddings from the upstream, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsOutput {
    /// One vector per input text.
    pub vectors: Vec<Vec<f32>>,
    /// Usage, if the upstream reported it.
    pub usage: Option<Usage>,
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

/// One provider's conversions. Only the chat methods are required; the rest have defaults
/// for providers without that feature.
pub trait Adapter: Send + Sync {
    /// Builds the upstream chat request.
    fn chat_request(
        &self,
        req: &ChatRequest,
        target: &Target<'_>,
    ) -> Result<UpstreamRequest, ConvertError>;
    /// Converts a successful non-stream answer (2xx; an error inside it is
    /// [`ConvertError::Upstream`]).
    fn chat_response(&self, body: Bytes, ctx: &ResponseCtx<'_>)
    -> Result<ChatOutput, ConvertError>;
    /// A converter for one stream answer.
    fn stream_converter(&self, ctx: &ResponseCtx<'_>) -> Box<dyn StreamConverter>;
    /// Reads an error answer (non-2xx status).
    fn error(&self, status: u16, body: &[u8]) -> UpstreamError;

    /// Seconds the provider asks the client to wait, read from an error body (for providers
    /// that say it there rather than in `Retry-After`).
    fn retry_after(&self, _body: &[u8]) -> Option<u64> {
        None
    }

    /// True when the provider only streams (Spark's WebSocket): non-stream requests are then
    /// streamed upstream and the chunks aggregated into one completion by the gateway.
    fn streams_only(&self) -> bool {
        false
    }

    /// The upstream request for a call made in this provider's own API, forwarded with only
    /// the model name and the credentials replaced. `None`: the provider has no such API.
    fn native_request(
        &self,
        _call: NativeCall<'_>,
        _target: &Target<'_>,
    ) -> Option<Result<UpstreamRequest, ConvertError>> {
        None
    }

    /// The request that obtains a token, for providers that exchange the key for one.
    fn token_request(&self, _target: &Target<'_>) -> Option<UpstreamRequest> {
        None
    }

    /// Reads the token answer.
    fn token_response(&self, status: u16, body: &[u8]) -> Result<Token, UpstreamError> {
        Err(UpstreamError {
            status: if status < 400 { 502 } else { status },
            message: format!("unexpected token answer: {}", String::from_utf8_lossy(body)),
            kind: None,
            code: None,
        })
    }

    /// Whether this error means the token was refused (it is then fetched again, once).
    fn token_rejected(&self, _err: &UpstreamError) -> bool {
        false
    }

    /// Builds an embeddings request.
    fn embeddings_request(
        &self,
        _input: &EmbeddingsInput<'_>,
        _target: &Target<'_>,
    ) -> Result<UpstreamRequest, ConvertError> {
        Err(ConvertError::BadRequest {
            message: "this provider has no embeddings endpoint".into(),
            param: Some("model".into()),
        })
    }

    /// Reads an embeddings answer.
    fn embeddings_response(&self, _body: Bytes) -> Result<EmbeddingsOutput, ConvertError> {
        Err(ConvertError::Protocol(
            "this provider has no embeddings endpoint".into(),
        ))
    }
}
