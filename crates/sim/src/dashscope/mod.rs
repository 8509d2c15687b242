//! The DashScope (Alibaba Qwen) native API simulator.
//!
//! Endpoints, under `/api/v1` (see [`dashscope_base_url`]):
//! - `POST /services/aigc/text-generation/generation` (text models),
//! - `POST /services/aigc/multimodal-generation/generation` (`qwen-vl-*`, `qvq-*`),
//! - `POST /services/embeddings/text-embedding/text-embedding` (`text-embedding-v1`…`v4`);
//!
//! anything else is a 404 `{"code":"InvalidURL"}`. Every call needs `Authorization: Bearer
//! <api_key>` (401 `InvalidApiKey` otherwise) and, when the config names a workspace,
//! `X-DashScope-WorkSpace` (403 `AccessDenied` otherwise). A vision model on the text service
//! (or the reverse) is a 400 `InvalidParameter`, as is an unknown model (`Model not exist.`).
//!
//! Streams are served only when the request has `X-DashScope-SSE: enable` or `Accept:
//! text/event-stream`, framed exactly as DashScope does: `id:N`, `event:result`,
//! `:HTTP_STATUS/200`, `data:{…}` without a space, cumulative usage in every chunk, and no
//! `[DONE]`. See [`answer`] for the deterministic answers and [`errors`] for the
//! `sim_dashscope_error:` directive (business errors: HTTP, inside a 200, or `event:error`
//! frames). The shared faults ([`crate::fault`]) apply to generation requests.

mod answer;
mod chat;
pub mod cli;
mod embeddings;
pub mod errors;
mod request;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::Value;
use tokio::net::TcpListener;

pub use embeddings::V1_V2_DIMENSIONS;
pub use errors::ERROR_MARKER;

use crate::handle::{SimHandle, SimState, serve};

/// Configuration of one DashScope simulator.
#[derive(Clone, Debug)]
pub struct DashScopeSimConfig {
    /// The only accepted bearer key.
    pub api_key: String,
    /// The workspace the key belongs to; when set, `X-DashScope-WorkSpace` must name it.
    pub workspace: Option<String>,
    /// Known models; empty accepts any model.
    pub models: Vec<String>,
    /// Delay before the response headers (non-stream) or first chunk (stream).
    pub latency_ms: u64,
    /// Number of content pieces (tokens) per answer; 0 is treated as 1.
    pub chunks: usize,
    /// Delay between stream chunks.
    pub chunk_interval_ms: u64,
}

impl DashScopeSimConfig {
    /// A config with 5 chunks, no latency, no workspace and no model restriction.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            workspace: None,
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

    /// Requires `X-DashScope-WorkSpace: <workspace>`.
    pub fn with_workspace(mut self, workspace: impl Into<String>) -> Self {
        self.workspace = Some(workspace.into());
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
    cfg: Arc<DashScopeSimConfig>,
    sim: SimState,
}

/// Builds the router and the state it records into.
pub fn dashscope_router(cfg: DashScopeSimConfig) -> (Router, SimState) {
    let sim = SimState::new();
    let app = App {
        cfg: Arc::new(cfg),
        sim: sim.clone(),
    };
    let router = Router::new()
        .route(
            "/api/v1/services/aigc/text-generation/generation",
            post(chat::text_generation),
        )
        .route(
            "/api/v1/services/aigc/multimodal-generation/generation",
            post(chat::multimodal_generation),
        )
        .route(
            "/api/v1/services/embeddings/text-embedding/text-embedding",
            post(embeddings::text_embedding),
        )
        .fallback(not_found)
        .with_state(app);
    (router, sim)
}

/// Spawns a simulator on `127.0.0.1:0`.
pub async fn spawn_dashscope(cfg: DashScopeSimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    Ok(spawn_dashscope_on(listener, cfg))
}

/// Spawns a simulator on an already bound listener.
pub fn spawn_dashscope_on(listener: TcpListener, cfg: DashScopeSimConfig) -> SimHandle {
    let (router, state) = dashscope_router(cfg);
    serve(listener, router, state)
}

/// `http://IP:PORT/api/v1`, the base URL a DashScope client (or channel) is given.
pub fn dashscope_base_url(sim: &SimHandle) -> String {
    format!("{}/api/v1", sim.origin())
}

/// A fresh request id (DashScope's are UUIDs).
fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn not_found() -> Response {
    errors::response(
        404,
        "InvalidURL",
        "Invalid URL provided in your request.",
        &request_id(),
    )
}

/// What every service does first: a request id, the body recorded, the credentials checked,
/// the body parsed. Returns the request id and the JSON, or DashScope's error answer.
fn admit(app: &App, headers: &HeaderMap, body: &[u8]) -> Result<(String, Value), Box<Response>> {
    let rid = request_id();
    let parsed = app.sim.record_json(body);
    check_auth(app, headers, &rid)?;
    match parsed {
        Some(json) => Ok((rid, json)),
        None => Err(Box::new(errors::invalid(
            "The request body is not valid JSON.",
            &rid,
        ))),
    }
}

/// Checks the bearer key and the workspace; the error is DashScope's.
fn check_auth(app: &App, headers: &HeaderMap, request_id: &str) -> Result<(), Box<Response>> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let key = header("authorization").and_then(|v| v.strip_prefix("Bearer "));
    match key.map(str::trim) {
        None | Some("") => {
            return Err(Box::new(errors::response(
                401,
                "InvalidApiKey",
                "No API-key provided.",
                request_id,
            )));
        }
        Some(k) if k != app.cfg.api_key => {
            return Err(Box::new(errors::response(
                401,
                "InvalidApiKey",
                errors::message_of("InvalidApiKey"),
                request_id,
            )));
        }
        Some(_) => {}
    }
    if let Some(ws) = &app.cfg.workspace
        && header("x-dashscope-workspace") != Some(ws.as_str())
    {
        return Err(Box::new(errors::response(
            403,
            "AccessDenied",
            "Access denied: the API key does not belong to the workspace in X-DashScope-WorkSpace.",
            request_id,
        )));
    }
    Ok(())
}
