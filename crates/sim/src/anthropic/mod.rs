//! The Anthropic Messages API simulator (`POST /v1/messages`, `GET /v1/models`).
//!
//! # Credentials and headers ([`auth`])
//! The key is accepted as `x-api-key: <key>` or `Authorization: Bearer <key>` (the 2026 SDKs send
//! the latter). No key: 401 `authentication_error` "x-api-key header is required"; a wrong key:
//! 401 "invalid x-api-key". Then `anthropic-version` must be present (any value): otherwise 400
//! "anthropic-version: header is required". Every response carries a `request-id: req_…` header,
//! and error bodies are `{"type":"error","error":{"type","message"},"request_id"}`.
//!
//! # Validation ([`validate`])
//! What the real API refuses is refused with its wording: unknown top-level fields
//! ("`<field>`: Extra inputs are not permitted"), a missing `max_tokens` or one above the model's
//! output limit, unknown models (404 `not_found_error` "model: <name>"), temperature or top_p
//! outside 0–1, `temperature` with `top_p` on Opus 4.1 and the 4.5 models, a first message that
//! is not `user`, roles that do not alternate, empty text blocks, trailing whitespace in a final
//! assistant turn, images that are not jpeg/png/gif/webp base64, tool blocks without `tools`,
//! `tool_use` ids without `tool_result` blocks opening the next message, and `tool_result` ids
//! that answer no `tool_use` of the previous message.
//!
//! # Deterministic answers ([`reply`])
//! - Text: `"Hello from anthropic <model>: " + <text of the last user message>` (a last message
//!   made of tool results echoes `"tool result: " + <their text>`), cut at the first stop sequence
//!   it contains (`stop_reason: "stop_sequence"`), then into `chunks` pieces of one token each;
//!   `max_tokens` below the piece count keeps the first pieces (`"max_tokens"`).
//! - Tools: with `tools`, `tool_choice` not `none` and a last message that is not tool results,
//!   the answer calls the tool named by `tool_choice`, else the first tool, else (parallel use
//!   allowed and `tool_choice` `auto`/`any`) the first two tools, each with input
//!   `{"location":"Paris","unit":"celsius"}` streamed as `max(chunks, 2)` `partial_json`
//!   fragments after an empty one; with `auto` a one-token text block `"Calling <names>."` comes
//!   first. `stop_reason: "tool_use"`; output tokens = pieces + fragments.
//! - `input_tokens` = max(1, Σ over messages (characters of their text, tool inputs and tool
//!   results / 4 + 3) + system characters / 4 + characters of the `tools` JSON / 4 + 85 per
//!   image); `cache_read_input_tokens` / `cache_creation_input_tokens` are the configured values.
//! - Streams: `event:` + `data:` frames in the real order (`message_start` with `output_tokens:
//!   1`, `content_block_start`, a `ping` after the first block start, deltas, `content_block_stop`,
//!   `message_delta` with the cumulative `output_tokens`, `message_stop`), no `[DONE]`.
//!
//! # Faults ([`errors`])
//! A programmed or `sim_fault:` [`Fault`] (status answers use the Anthropic body for the status;
//! 529 is `overloaded_error`), or `sim_error:<error type>` in the last user message: that error
//! with its HTTP status (`invalid_request_error` 400, `authentication_error` 401,
//! `billing_error` 402, `permission_error` 403, `not_found_error` 404, `request_too_large` 413,
//! `rate_limit_error` 429 with `retry-after: 1`, `api_error` 500, `overloaded_error` 529);
//! `sim_error:<type>;after=N` in a stream sends N events, then `event: error` with that error.

pub mod auth;
pub mod cli;
pub mod errors;
mod handler;
mod reply;
mod validate;
mod validate_messages;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::net::TcpListener;

pub use crate::fault::Fault;
use crate::handle::{SimHandle, SimState, serve};

/// One model the simulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Model {
    /// API id.
    pub id: &'static str,
    /// Largest accepted `max_tokens`.
    pub max_output: u64,
    /// Whether `temperature` and `top_p` together are refused.
    pub one_sampler: bool,
}

const fn model(id: &'static str, max_output: u64, one_sampler: bool) -> Model {
    Model {
        id,
        max_output,
        one_sampler,
    }
}

/// Every model the simulator knows, with its documented output limit.
pub const MODELS: &[Model] = &[
    model("claude-2.0", 4096, false),
    model("claude-2.1", 4096, false),
    model("claude-3-haiku-20240307", 4096, false),
    model("claude-3-sonnet-20240229", 4096, false),
    model("claude-3-opus-20240229", 4096, false),
    model("claude-3-5-sonnet-20240620", 8192, false),
    model("claude-3-5-sonnet-20241022", 8192, false),
    model("claude-3-5-haiku-20241022", 8192, false),
    model("claude-3-7-sonnet-20250219", 64_000, false),
    model("claude-sonnet-4-20250514", 64_000, false),
    model("claude-opus-4-20250514", 32_000, false),
    model("claude-opus-4-1-20250805", 32_000, true),
    model("claude-sonnet-4-5-20250929", 64_000, true),
    model("claude-haiku-4-5-20251001", 64_000, true),
];

/// Configuration of one Anthropic simulator.
#[derive(Clone, Debug)]
pub struct AnthropicSimConfig {
    /// The only accepted API key.
    pub api_key: String,
    /// Served model ids; empty serves every model of [`MODELS`]. An id not in [`MODELS`] gets a
    /// 4096-token output limit.
    pub models: Vec<String>,
    /// Delay before the headers (non-stream) or the first event (stream).
    pub latency_ms: u64,
    /// Text pieces (tokens) per answer; 0 is treated as 1.
    pub chunks: usize,
    /// Delay between stream events.
    pub chunk_interval_ms: u64,
    /// `cache_read_input_tokens` reported in every usage.
    pub cache_read_input_tokens: u64,
    /// `cache_creation_input_tokens` reported in every usage.
    pub cache_creation_input_tokens: u64,
}

impl AnthropicSimConfig {
    /// A config with 5 chunks, no latency, every known model and no cache tokens.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            models: Vec::new(),
            latency_ms: 0,
            chunks: 5,
            chunk_interval_ms: 0,
            cache_read_input_tokens: 0,
            cache_creation_input_tokens: 0,
        }
    }

    /// Sets the chunk count.
    pub fn with_chunks(mut self, chunks: usize) -> Self {
        self.chunks = chunks;
        self
    }

    /// Sets the cache token counts reported in usage.
    pub fn with_cache_tokens(mut self, read: u64, creation: u64) -> Self {
        self.cache_read_input_tokens = read;
        self.cache_creation_input_tokens = creation;
        self
    }

    /// The model `id`, if served.
    pub fn model(&self, id: &str) -> Option<Model> {
        let known = MODELS.iter().find(|m| m.id == id).copied();
        if self.models.is_empty() {
            return known;
        }
        self.models.iter().find(|m| *m == id).map(|_| {
            known.unwrap_or(Model {
                id: "custom",
                max_output: 4096,
                one_sampler: false,
            })
        })
    }

    fn served(&self) -> Vec<String> {
        if self.models.is_empty() {
            MODELS.iter().map(|m| m.id.to_owned()).collect()
        } else {
            self.models.clone()
        }
    }
}

/// State shared by the handlers.
#[derive(Clone)]
struct App {
    cfg: Arc<AnthropicSimConfig>,
    sim: SimState,
}

/// Builds the router and the state it records into.
pub fn anthropic_router(cfg: AnthropicSimConfig) -> (Router, SimState) {
    let sim = SimState::new();
    let app = App {
        cfg: Arc::new(cfg),
        sim: sim.clone(),
    };
    let router = Router::new()
        .route("/v1/messages", post(handler::messages))
        .route("/v1/models", get(list_models))
        .fallback(not_found)
        .layer(axum::middleware::map_response(add_request_id))
        .with_state(app);
    (router, sim)
}

/// Spawns a simulator on `127.0.0.1:0`; its [`SimHandle::origin`] is the channel's `base_url`.
pub async fn spawn_anthropic(cfg: AnthropicSimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    Ok(spawn_anthropic_on(listener, cfg))
}

/// Spawns a simulator on an already bound listener.
pub fn spawn_anthropic_on(listener: TcpListener, cfg: AnthropicSimConfig) -> SimHandle {
    let (router, state) = anthropic_router(cfg);
    serve(listener, router, state)
}

/// A fresh `req_…` id in Anthropic's format (base62 after `req_011C`).
pub(crate) fn request_id() -> String {
    format!("req_011C{}", reply::base62(20))
}

async fn add_request_id(mut resp: Response) -> Response {
    if !resp.headers().contains_key("request-id")
        && let Ok(v) = HeaderValue::from_str(&request_id())
    {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}

async fn not_found(req: Request) -> Response {
    errors::error_response(
        StatusCode::NOT_FOUND,
        "not_found_error",
        &format!("Not found: {} {}", req.method(), req.uri().path()),
    )
}

async fn list_models(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(resp) = auth::check(&app.cfg, &headers) {
        return *resp;
    }
    let data: Vec<_> = app
        .cfg
        .served()
        .iter()
        .map(|id| {
            json!({"type": "model", "id": id, "display_name": id,
                   "created_at": "2024-01-01T00:00:00Z"})
        })
        .collect();
    let first = data.first().map(|m| m["id"].clone());
    let last = data.last().map(|m| m["id"].clone());
    axum::Json(json!({"data": data, "has_more": false, "first_id": first, "last_id": last}))
        .into_response()
}
