//! A faithful simulator of Tencent Hunyuan's Cloud API 3.0 (`hunyuan.tencentcloudapi.com`,
//! version `2023-09-01`).
//!
//! One endpoint: `POST /` with `X-TC-Action: ChatCompletions` or `GetEmbedding`,
//! `X-TC-Version: 2023-09-01`, `X-TC-Timestamp` and a TC3-HMAC-SHA256 `Authorization`, which is
//! recomputed from the request exactly as received (see [`sign`]). Every error, authentication
//! included, is an **HTTP 200** `application/json` body `{"Response":{"Error":{"Code","Message"},
//! "RequestId"}}` — also for stream requests, as Tencent does before a stream starts.
//!
//! # Answers
//! - Non-stream: `{"Response":{"RequestId","Note","Choices":[{"Index":0,"Message":{"Role",
//!   "Content"[,"ToolCalls"]},"FinishReason"}],"Created","Id","Usage"}}`.
//! - Stream (`Content-Type: text/event-stream`, `X-TC-RequestId` header): `data: {…}\n\n` frames
//!   `{"Note","Choices":[{"FinishReason":"","Delta":{"Role":"assistant","Content":<piece>}}],
//!   "Created","Id","Usage"}` with *cumulative* usage, then a final frame with empty content and
//!   `FinishReason` `stop` / `sensitive` / `tool_calls`; no `[DONE]`.
//! - Text: `"Hello from hunyuan <Model>: " + <text of the last user message>` (after a `tool`
//!   message: `"… tool result: " + its text`), cut into `chunks` pieces, one token each.
//!   `PromptTokens` = Σ over messages of (characters / 4 + 3), at least 1.
//! - Tools: honoured only by the tool-capable models ([`TOOL_MODELS`], as documented); with
//!   `Tools`, `ToolChoice` not `none` and a last message that is not `tool`, the answer calls the
//!   first tool (or `CustomTool`) with `{"location":"Paris","unit":"celsius"}`, streamed in
//!   `max(chunks, 2)` fragments that each repeat `Id`, `Type`, `Index` and `Function.Name`.
//!
//! # Faults
//! After authentication and validation: a programmed [`crate::Fault`] or a `sim_fault:<spec>` in
//! the last user message (see [`crate::fault`]; status faults carry a Tencent error body), else
//! `sim_error:<Code>` in the last user message: any Tencent code (e.g.
//! `sim_error:RequestLimitExceeded`) answers HTTP 200 with that `Response.Error`;
//! `sim_error:sensitive` stops the answer half way with `FinishReason: sensitive`;
//! `sim_error:stream4000` / `stream4001` break a stream after its first frame with
//! `ErrorMsg {Code, Msg}` (non-stream: `InternalError` / `FailedOperation.EngineRequestTimeout`).

mod chat;
pub mod cli;
mod embeddings;
mod errors;
mod frames;
mod sign;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::post;
use serde_json::Value;
use tokio::net::TcpListener;

pub use chat::SIM_ERROR_MARKER;
use errors::error_response;

use crate::handle::{SimHandle, SimState, serve};

/// Models the simulator knows when the config lists none (the SDK's documented names).
pub const DEFAULT_MODELS: &[&str] = &[
    "hunyuan-lite",
    "hunyuan-standard",
    "hunyuan-standard-256K",
    "hunyuan-pro",
    "hunyuan-code",
    "hunyuan-role",
    "hunyuan-functioncall",
    "hunyuan-vision",
    "hunyuan-turbo",
    "hunyuan-turbo-latest",
    "hunyuan-large",
    "hunyuan-turbos-latest",
    "hunyuan-t1-latest",
];

/// Models for which `Tools` take effect (the SDK documents tools for these only).
pub const TOOL_MODELS: &[&str] = &[
    "hunyuan-pro",
    "hunyuan-functioncall",
    "hunyuan-turbo",
    "hunyuan-turbo-latest",
    "hunyuan-turbos-latest",
];

/// Size of a `GetEmbedding` vector.
pub const EMBEDDING_DIMENSIONS: usize = 1024;

/// The disclaimer Hunyuan puts in every answer.
pub const NOTE: &str = "以上内容为AI生成，不代表开发者立场，请勿删除或修改本标记";

/// The API version the simulator serves.
pub const VERSION: &str = "2023-09-01";

/// Configuration of one Hunyuan simulator.
#[derive(Clone, Debug)]
pub struct HunyuanSimConfig {
    /// Known `(SecretId, SecretKey)` pairs.
    pub credentials: Vec<(String, String)>,
    /// Known chat models; empty means [`DEFAULT_MODELS`].
    pub models: Vec<String>,
    /// Largest accepted difference between `X-TC-Timestamp` and the simulator's clock (Tencent:
    /// 5 minutes).
    pub max_skew_secs: u64,
    /// Delay before the answer (non-stream) or the first frame (stream).
    pub latency_ms: u64,
    /// Pieces (tokens) per answer; 0 is treated as 1.
    pub chunks: usize,
    /// Delay between stream frames.
    pub chunk_interval_ms: u64,
}

impl HunyuanSimConfig {
    /// A simulator accepting one key pair, 5 chunks, no latency, the default models.
    pub fn new(secret_id: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            credentials: vec![(secret_id.into(), secret_key.into())],
            models: Vec::new(),
            max_skew_secs: 300,
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

    /// Sets the delay between stream frames.
    pub fn with_chunk_interval_ms(mut self, ms: u64) -> Self {
        self.chunk_interval_ms = ms;
        self
    }

    fn knows_model(&self, model: &str) -> bool {
        if self.models.is_empty() {
            DEFAULT_MODELS.contains(&model)
        } else {
            self.models.iter().any(|m| m == model)
        }
    }
}

/// State shared by the handler.
#[derive(Clone)]
struct App {
    cfg: Arc<HunyuanSimConfig>,
    sim: SimState,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Builds the router and the state it records into.
pub fn hunyuan_router(cfg: HunyuanSimConfig) -> (Router, SimState) {
    let sim = SimState::new();
    let app = App {
        cfg: Arc::new(cfg),
        sim: sim.clone(),
    };
    let router = Router::new()
        .route("/", post(api))
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found") })
        .with_state(app);
    (router, sim)
}

/// Spawns a simulator on `127.0.0.1:0`.
pub async fn spawn_hunyuan(cfg: HunyuanSimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    Ok(spawn_hunyuan_on(listener, cfg))
}

/// Spawns a simulator on an already bound listener.
pub fn spawn_hunyuan_on(listener: TcpListener, cfg: HunyuanSimConfig) -> SimHandle {
    let (router, state) = hunyuan_router(cfg);
    serve(listener, router, state)
}

/// The one API 3.0 endpoint.
async fn api(State(app): State<App>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let json = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => {
            app.sim.record_request(v.clone());
            Some(v)
        }
        Err(_) => {
            let raw = String::from_utf8_lossy(&body).into_owned();
            app.sim.record_request(Value::String(raw));
            None
        }
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(action) = header("x-tc-action") else {
        return error_response(
            "MissingParameter",
            "The request is missing a required parameter `Action`.",
        );
    };
    let Some(version) = header("x-tc-version") else {
        return error_response(
            "MissingParameter",
            "The request is missing a required parameter `Version`.",
        );
    };
    if let Err(r) = sign::verify(&app.cfg, &uri, &headers, &body, now_secs()) {
        return error_response(r.code, &r.message);
    }
    if !matches!(action, "ChatCompletions" | "GetEmbedding") {
        return error_response(
            "InvalidAction",
            &format!("The action `{action}` is not found."),
        );
    }
    if version != VERSION {
        return error_response(
            "NoSuchVersion",
            &format!("The API version `{version}` does not exist."),
        );
    }
    let Some(json) = json else {
        return error_response("InvalidParameter", "the request body is not valid JSON");
    };
    match action {
        "ChatCompletions" => chat::handle(&app, &json).await,
        _ => embeddings::handle(&json),
    }
}
