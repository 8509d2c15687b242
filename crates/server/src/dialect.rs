//! Client dialects: how canonical (OpenAI) answers, stream chunks and errors are written for
//! the API the client called — OpenAI's `/v1/chat/completions`, Anthropic's `/v1/messages`, or
//! Gemini's `:generateContent`. The relay works in the canonical form; only the edges differ.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use switchyard_core::meter::Metered;
use switchyard_providers::Provider;
use switchyard_providers::inbound::{anthropic, gemini};
use switchyard_sse::{DONE_FRAME, data_frame};

use crate::error::ApiError;

/// The API the client speaks.
#[derive(Debug, Clone)]
pub(crate) enum Dialect {
    /// OpenAI chat completions; `wants_usage` is `stream_options.include_usage`.
    OpenAi {
        /// Append the `choices: []` usage chunk.
        wants_usage: bool,
    },
    /// Anthropic Messages.
    Anthropic,
    /// Gemini generateContent.
    Gemini,
}

/// Writes one stream in a dialect.
pub(crate) trait Encoder: Send {
    /// Frames for one canonical chunk.
    fn chunk(&mut self, payload: &[u8], out: &mut Vec<Bytes>);
    /// Frames that end a complete stream.
    fn finish(&mut self, identity: (&str, u64, &str), usage: &Metered, out: &mut Vec<Bytes>);
    /// The frame that reports a failure after the first byte.
    fn error(&mut self, e: &ApiError) -> Bytes;
}

struct OpenAiEncoder {
    wants_usage: bool,
}

impl Encoder for OpenAiEncoder {
    fn chunk(&mut self, payload: &[u8], out: &mut Vec<Bytes>) {
        out.push(data_frame(payload));
    }

    fn finish(
        &mut self,
        (id, created, model): (&str, u64, &str),
        m: &Metered,
        out: &mut Vec<Bytes>,
    ) {
        if self.wants_usage {
            let mut chunk = serde_json::json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [],
                "usage": {"prompt_tokens": m.prompt, "completion_tokens": m.completion, "total_tokens": m.total()},
            });
            if m.cached > 0 {
                chunk["usage"]["prompt_tokens_details"] =
                    serde_json::json!({"cached_tokens": m.cached});
            }
            out.push(data_frame(chunk.to_string().as_bytes()));
        }
        out.push(Bytes::from_static(DONE_FRAME));
    }

    fn error(&mut self, e: &ApiError) -> Bytes {
        error_frame(&Dialect::OpenAi { wants_usage: false }, e)
    }
}

struct AnthropicEncoder(anthropic::StreamEncoder);

impl Encoder for AnthropicEncoder {
    fn chunk(&mut self, payload: &[u8], out: &mut Vec<Bytes>) {
        for (event, data) in self.0.chunk(payload) {
            out.push(named(event, &data));
        }
    }

    fn finish(&mut self, _identity: (&str, u64, &str), m: &Metered, out: &mut Vec<Bytes>) {
        for (event, data) in self.0.finish(m.prompt, m.completion) {
            out.push(named(event, &data));
        }
    }

    fn error(&mut self, e: &ApiError) -> Bytes {
        error_frame(&Dialect::Anthropic, e)
    }
}

struct GeminiEncoder(gemini::StreamEncoder);

impl Encoder for GeminiEncoder {
    fn chunk(&mut self, payload: &[u8], out: &mut Vec<Bytes>) {
        if let Some(v) = self.0.chunk(payload) {
            out.push(data_frame(v.to_string().as_bytes()));
        }
    }

    fn finish(&mut self, _identity: (&str, u64, &str), m: &Metered, out: &mut Vec<Bytes>) {
        out.push(data_frame(
            self.0.finish(m.prompt, m.completion).to_string().as_bytes(),
        ));
    }

    fn error(&mut self, e: &ApiError) -> Bytes {
        error_frame(&Dialect::Gemini, e)
    }
}

/// Writes the upstream's own frames unchanged (a pass-through to a provider of the client's
/// dialect); the upstream ends the stream itself.
struct PassthroughEncoder(Dialect);

impl Encoder for PassthroughEncoder {
    fn chunk(&mut self, frame: &[u8], out: &mut Vec<Bytes>) {
        out.push(Bytes::copy_from_slice(frame));
    }

    fn finish(&mut self, _identity: (&str, u64, &str), _usage: &Metered, _out: &mut Vec<Bytes>) {}

    fn error(&mut self, e: &ApiError) -> Bytes {
        error_frame(&self.0, e)
    }
}

/// The stream frame that reports a failure after the first byte, in `dialect`.
fn error_frame(dialect: &Dialect, e: &ApiError) -> Bytes {
    match dialect {
        Dialect::OpenAi { .. } => data_frame(&e.body().to_json()),
        Dialect::Anthropic => named(
            "error",
            &anthropic::error_body(e.status.as_u16(), &e.message),
        ),
        Dialect::Gemini => data_frame(
            gemini::error_body(e.status.as_u16(), &e.message)
                .to_string()
                .as_bytes(),
        ),
    }
}

fn named(event: &str, data: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

impl Dialect {
    /// The provider whose own API this dialect is: its channels get the request unchanged.
    pub(crate) fn native_provider(&self) -> Option<Provider> {
        match self {
            Self::OpenAi { .. } => None,
            Self::Anthropic => Some(Provider::Anthropic),
            Self::Gemini => Some(Provider::Gemini),
        }
    }

    /// An encoder that relays the upstream's own frames.
    pub(crate) fn passthrough(&self) -> Box<dyn Encoder> {
        Box::new(PassthroughEncoder(self.clone()))
    }

    /// A stream encoder for one answer to a request for `model`; `prompt` gives the gateway's
    /// own count of the prompt, asked only by dialects that state it before the upstream has.
    pub(crate) fn encoder(&self, model: &str, prompt: impl FnOnce() -> u64) -> Box<dyn Encoder> {
        match self {
            Self::OpenAi { wants_usage } => Box::new(OpenAiEncoder {
                wants_usage: *wants_usage,
            }),
            Self::Anthropic => Box::new(AnthropicEncoder(anthropic::StreamEncoder::new(
                model,
                prompt(),
            ))),
            Self::Gemini => Box::new(GeminiEncoder(gemini::StreamEncoder::new(model))),
        }
    }

    /// A complete non-stream answer from the canonical completion.
    pub(crate) fn json(&self, completion: Bytes, model: &str) -> Response {
        let body = match self {
            Self::OpenAi { .. } => completion,
            Self::Anthropic => match serde_json::from_slice(&completion) {
                Ok(v) => Bytes::from(anthropic::completion_to_message(&v, model).to_string()),
                Err(_) => completion,
            },
            Self::Gemini => match serde_json::from_slice(&completion) {
                Ok(v) => Bytes::from(gemini::completion_to_response(&v, model).to_string()),
                Err(_) => completion,
            },
        };
        json_response(body)
    }

    /// An error answer in the dialect's shape.
    pub(crate) fn error(&self, e: ApiError) -> Response {
        match self {
            Self::OpenAi { .. } => e.into_response(),
            Self::Anthropic => shaped(&e, anthropic::error_body(e.status.as_u16(), &e.message)),
            Self::Gemini => shaped(&e, gemini::error_body(e.status.as_u16(), &e.message)),
        }
    }
}

/// A 200 JSON answer.
pub(crate) fn json_response(body: Bytes) -> Response {
    // Built as it is sent: `(status, bytes).into_response()` would first set and then
    // replace an `application/octet-stream` content type.
    let mut res = Response::new(Body::from(body));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn shaped(e: &ApiError, body: serde_json::Value) -> Response {
    let mut res = (e.status, body.to_string()).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(s) = e.retry_after {
        h.insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    res
}
