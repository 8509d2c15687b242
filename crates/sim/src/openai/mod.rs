//! The OpenAI-dialect simulator in three flavours: exact OpenAI, Moonshot (Kimi) and StepFun.
//!
//! Endpoints: `POST /v1/chat/completions`, `GET /v1/models`, `GET /v1/models/{model}`,
//! `POST /v1/embeddings`; anything else is a flavour-shaped 404. Every endpoint requires
//! `Authorization: Bearer <api_key>`; every response carries an `x-request-id` header.
//!
//! # Deterministic answers
//! - Reply text: `"Hello from <flavor> <model>: " + <text of the last user message>` (when the
//!   last message has role `tool`: `"Hello from <flavor> <model>: tool result: " + <its text>`).
//!   Array content contributes its `text` parts joined with a space.
//! - The text is cut into `chunks` pieces of (almost) equal character length (padded with `.`
//!   when shorter than `chunks`); each piece is one token, so `completion_tokens` = pieces per
//!   choice, summed over the `n` choices. `max_tokens`/`max_completion_tokens` below the piece
//!   count keeps the first pieces and finishes with `"length"`.
//! - `prompt_tokens` = Σ over messages of (characters of the message's text content / 4 + 3),
//!   at least 1.
//! - Tools: with `tools` present, `tool_choice` not `"none"` and a last message that is not a
//!   `tool` message, each choice calls the first function (or the one named by `tool_choice`)
//!   with arguments `{"location":"Paris","unit":"celsius"}` (split into `max(chunks, 2)`
//!   fragments when streaming) and finishes with `"tool_calls"`; completion tokens = fragments.
//! - Embeddings: `dimensions` (default 8) floats per input from a hash of its text, normalised to
//!   unit length; `prompt_tokens` per input = max(1, characters / 4).
//!
//! Faults (see [`crate::fault`]) apply to chat completions after auth and validation.

mod chat;
mod chunks;
mod embeddings;
mod errors;
mod models;
mod reply;
mod request;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use crate::fault::Fault;
use crate::handle::{SimHandle, SimState, serve};
pub(crate) use chat::non_stream_fault;
pub use embeddings::{DEFAULT_DIMENSIONS, embed};
pub(crate) use errors::raw_json_response;
pub(crate) use reply::{TOOL_ARGUMENTS, split_even, text_pieces, tool_call_id};
pub(crate) use request::content_text;

/// Which provider's dialect of the OpenAI API to imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// api.openai.com.
    OpenAi,
    /// api.moonshot.cn (Kimi): stream usage in `choices[0].usage`, temperature in [0, 1].
    Moonshot,
    /// api.stepfun.com: cumulative usage on every chunk, `finish_reason: ""` mid-stream.
    StepFun,
}

impl Flavor {
    /// Lower-case name used on the command line and in reply texts.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::OpenAi => "openai",
            Flavor::Moonshot => "moonshot",
            Flavor::StepFun => "stepfun",
        }
    }

    /// Models listed by `GET /v1/models` when the config lists none.
    pub fn default_models(self) -> &'static [&'static str] {
        match self {
            Flavor::OpenAi => &["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"],
            Flavor::Moonshot => &["moonshot-v1-8k", "moonshot-v1-32k", "moonshot-v1-128k"],
            Flavor::StepFun => &["step-1-8k", "step-1-32k", "step-2-16k"],
        }
    }

    fn owner(self) -> &'static str {
        match self {
            Flavor::OpenAi => "system",
            Flavor::Moonshot => "moonshot",
            Flavor::StepFun => "stepai",
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Flavor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "openai" => Ok(Flavor::OpenAi),
            "moonshot" | "kimi" => Ok(Flavor::Moonshot),
            "stepfun" => Ok(Flavor::StepFun),
            other => Err(format!(
                "unknown flavor `{other}` (expected openai, moonshot or stepfun)"
            )),
        }
    }
}

/// Configuration of one OpenAI-dialect simulator.
#[derive(Clone, Debug)]
pub struct OpenAiSimConfig {
    /// The provider dialect.
    pub flavor: Flavor,
    /// The only accepted bearer key.
    pub api_key: String,
    /// Known models; empty accepts any model (and lists the flavour's defaults).
    pub models: Vec<String>,
    /// Delay before the response headers (non-stream) or first chunk (stream).
    pub latency_ms: u64,
    /// Number of content pieces (tokens) per answer; 0 is treated as 1.
    pub chunks: usize,
    /// Delay between stream chunks.
    pub chunk_interval_ms: u64,
}

impl OpenAiSimConfig {
    /// A config with 5 chunks, no latency and no model restriction.
    pub fn new(flavor: Flavor, api_key: impl Into<String>) -> Self {
        Self {
            flavor,
            api_key: api_key.into(),
            models: Vec::new(),
            latency_ms: 0,
            chunks: 5,
            chunk_interval_ms: 0,
        }
    }

    /// Sets the known models.
    pub fn with_models<I, S>(mut self, models: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.models = models.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the chunk count.
    pub fn with_chunks(mut self, chunks: usize) -> Self {
        self.chunks = chunks;
        self
    }

    /// Sets the latency before the first byte of the answer.
    pub fn with_latency_ms(mut self, ms: u64) -> Self {
        self.latency_ms = ms;
        self
    }

    /// Sets the delay between stream chunks.
    pub fn with_chunk_interval_ms(mut self, ms: u64) -> Self {
        self.chunk_interval_ms = ms;
        self
    }

    fn knows_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }
}

/// State shared by the handlers.
#[derive(Clone)]
struct App {
    cfg: Arc<OpenAiSimConfig>,
    sim: SimState,
}

/// Builds the router and the state handle it records into (pass both to
/// [`crate::handle::serve`], or nest the router in your own server).
pub fn openai_router(cfg: OpenAiSimConfig) -> (Router, SimState) {
    let sim = SimState::new();
    let app = App {
        cfg: Arc::new(cfg),
        sim: sim.clone(),
    };
    let router = Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/embeddings", post(embeddings::embeddings))
        .route("/v1/models", get(models::list_models))
        .route("/v1/models/{model}", get(models::get_model))
        .fallback(not_found)
        .layer(axum::middleware::map_response(add_request_id))
        .with_state(app);
    (router, sim)
}

/// Spawns a simulator on `127.0.0.1:0`.
pub async fn spawn_openai(cfg: OpenAiSimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    Ok(spawn_openai_on(listener, cfg).await)
}

/// Spawns a simulator on an already bound listener.
pub async fn spawn_openai_on(listener: TcpListener, cfg: OpenAiSimConfig) -> SimHandle {
    let (router, state) = openai_router(cfg);
    serve(listener, router, state)
}

async fn add_request_id(mut resp: Response) -> Response {
    let id = format!("req_{}", uuid::Uuid::new_v4().simple());
    if let Ok(value) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", value);
    }
    resp
}

async fn not_found(State(app): State<App>, req: Request) -> Response {
    let msg = format!("Invalid URL ({} {})", req.method(), req.uri().path());
    errors::error_response(
        app.cfg.flavor,
        StatusCode::NOT_FOUND,
        errors::ErrorSpec::new(msg).kind("invalid_request_error"),
    )
}

/// Checks `Authorization: Bearer <key>`; the error is the flavour's 401.
fn check_auth(app: &App, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match presented {
        Some(key) if key == app.cfg.api_key => Ok(()),
        other => Err(Box::new(errors::auth_error(app.cfg.flavor, other))),
    }
}
