//! Simulator of Zhipu GLM (open.bigmodel.cn): the v4 API and the legacy v3 model API.
//!
//! Endpoints: `POST /api/paas/v4/chat/completions`, `POST /api/paas/v4/embeddings`,
//! `POST /api/paas/v3/model-api/{model}/invoke` and `…/sse-invoke`; anything else is a 404.
//!
//! Credentials are checked as the service checks them ([`auth`]): an HS256 JWT signed with the
//! key's secret (`sign_type: SIGN`, `exp` in milliseconds, verified against the real clock) or,
//! on v4 only, the raw `id.secret` key. Failures answer with codes 1000–1004 (v4: HTTP 401;
//! v3: HTTP 200 with `success:false`). Unknown models answer 1211.
//!
//! Framing: v4 is `data: {json}` (space after the colon), every chunk repeating
//! `delta.role`, no `object` field, usage only on the last chunk, then `data: [DONE]`; v3 is
//! `event:add` / `id:` / `data:<raw text>` (no space, one `data:` line per text line), ended by
//! `event:finish` with an empty `data:` and a `meta:{…usage…}` line, and no `[DONE]`. The v3
//! `invoke` answer is JSON with the text JSON-quoted inside `data.choices[0].content`.
//!
//! Deterministic answers: see [`reply`]. Injection, in the last user message:
//! `sim_error:<code>` (the code's exact body and status, see [`errors::CODES`]),
//! `sim_finish:sensitive|network_error` (v4 finish reason), `sim_event:error|interrupted`
//! (v3 stream end), and the shared `sim_fault:<spec>` ([`crate::fault`]); programmed faults
//! via [`SimHandle::push_fault`] come first.

mod auth;
pub mod cli;
pub mod errors;
pub mod reply;
mod v3;
mod v4;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::Value;
use tokio::net::TcpListener;

pub use auth::sign_jwt;

use crate::fault::Fault;
use crate::handle::{SimHandle, SimState, serve};

/// Models the simulator knows when the config lists none.
pub const DEFAULT_MODELS: &[&str] = &[
    "glm-3-turbo",
    "glm-4",
    "glm-4v",
    "chatglm_lite",
    "chatglm_std",
    "chatglm_pro",
    "chatglm_turbo",
    "embedding-2",
    "embedding-3",
];

/// Configuration of one Zhipu simulator.
#[derive(Clone, Debug)]
pub struct ZhipuSimConfig {
    /// The API key (`id.secret`) whose secret verifies the JWTs.
    pub api_key: String,
    /// Known models; empty means [`DEFAULT_MODELS`].
    pub models: Vec<String>,
    /// Delay before the headers (non-stream) or the first event (stream).
    pub latency_ms: u64,
    /// Text pieces (tokens) per answer; 0 is treated as 1.
    pub chunks: usize,
    /// Delay between stream events.
    pub chunk_interval_ms: u64,
}

impl ZhipuSimConfig {
    /// A config with 5 chunks, no latency and the default models.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            models: Vec::new(),
            latency_ms: 0,
            chunks: 5,
            chunk_interval_ms: 0,
        }
    }

    /// Sets the chunk count.
    pub fn with_chunks(mut self, chunks: usize) -> Self {
        self.chunks = chunks;
        self
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

    fn knows(&self, model: &str) -> bool {
        if self.models.is_empty() {
            DEFAULT_MODELS.contains(&model)
        } else {
            self.models.iter().any(|m| m == model)
        }
    }
}

/// State shared by the handlers.
#[derive(Clone)]
struct App {
    cfg: Arc<ZhipuSimConfig>,
    sim: SimState,
}

impl App {
    /// Checks the credential for `api`; the error is a business code.
    fn auth(&self, headers: &HeaderMap, api: auth::Api) -> Result<(), u32> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        auth::check(value, &self.cfg.api_key, api, now_ms())
    }

    /// Records the body and parses it (a body that is not JSON is recorded as a string).
    fn record(&self, body: &[u8]) -> Option<Value> {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                self.sim.record_request(v.clone());
                Some(v)
            }
            Err(_) => {
                let raw = String::from_utf8_lossy(body).into_owned();
                self.sim.record_request(Value::String(raw));
                None
            }
        }
    }

    /// The programmed fault, else the one written in the prompt.
    fn fault(&self, last_user_text: &str) -> Result<Option<Fault>, String> {
        if let Some(f) = self.sim.take_fault() {
            return Ok(Some(f));
        }
        match Fault::from_prompt(last_user_text) {
            None => Ok(None),
            Some(Ok(f)) => Ok(Some(f)),
            Some(Err(e)) => Err(e.to_string()),
        }
    }
}

/// Unix time in milliseconds.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

async fn sleep_ms(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// Adds `Retry-After` to a fault's answer.
fn with_retry_after(mut resp: Response, secs: Option<u64>) -> Response {
    if let Some(secs) = secs {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// An SSE response around a scripted body.
fn sse(body: axum::body::Body, content_type: &'static str) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// Builds the router and the state it records into.
pub fn zhipu_router(cfg: ZhipuSimConfig) -> (Router, SimState) {
    let sim = SimState::new();
    let app = App {
        cfg: Arc::new(cfg),
        sim: sim.clone(),
    };
    let router = Router::new()
        .route("/api/paas/v4/chat/completions", post(v4::chat))
        .route("/api/paas/v4/embeddings", post(v4::embeddings))
        .route("/api/paas/v3/model-api/{model}/{action}", post(v3::invoke))
        .fallback(not_found)
        .with_state(app);
    (router, sim)
}

async fn not_found(req: Request) -> Response {
    let body = serde_json::json!({
        "timestamp": "2024-01-01T00:00:00.000+00:00", "status": 404, "error": "Not Found",
        "path": req.uri().path(),
    });
    let mut resp = errors::ok_json(body.to_string());
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp
}

/// Spawns a simulator on `127.0.0.1:0`; the channel base URL is [`SimHandle::origin`].
pub async fn spawn_zhipu(cfg: ZhipuSimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    Ok(spawn_zhipu_on(listener, cfg))
}

/// Spawns a simulator on an already bound listener.
pub fn spawn_zhipu_on(listener: TcpListener, cfg: ZhipuSimConfig) -> SimHandle {
    let (router, state) = zhipu_router(cfg);
    serve(listener, router, state)
}
