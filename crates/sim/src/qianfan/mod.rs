//! Simulators of Baidu Qianfan (ERNIE): the v1 `wenxinworkshop` API with its OAuth token
//! endpoint ([`spawn_qianfan`]) and the OpenAI-shaped v2 API ([`v2::spawn_qianfan_v2`]).
//!
//! v1 endpoints:
//! - `POST|GET /oauth/2.0/token?grant_type=client_credentials&client_id=…&client_secret=…`:
//!   issues `24.…` access tokens valid for [`QianfanSimConfig::token_ttl_secs`]; a wrong id
//!   answers HTTP 401 `{"error":"invalid_client","error_description":"unknown client id"}`, a
//!   wrong secret `… "Client authentication failed"`, another grant type HTTP 400
//!   `unsupported_grant_type`.
//! - `POST /rpc/2.0/ai_custom/v1/wenxinworkshop/chat/{endpoint}?access_token=…` and
//!   `…/embeddings/{endpoint}?access_token=…`.
//!
//! Every v1 error is HTTP 200 `application/json` `{"error_code","error_msg"}` ([`errors`]), also
//! for streaming requests: an unknown endpoint is 3, a missing or unknown token 110, an expired
//! one 111, a body that is not JSON 336002, messages that do not alternate
//! user/assistant from an odd-length list 336006, other invalid parameters (temperature outside
//! (0, 1], top_p outside [0, 1], penalty_score outside [1, 2], max_output_tokens below 2, more
//! than 4 stop words or one longer than 20 characters, an empty content, a `system` role in
//! `messages`) 336003. Streams are `data: {…}\n\n` events with incremental `result`,
//! intermediate `usage` with `completion_tokens: 0`, the last piece of text and the real usage in
//! the `is_end: true` event, and no `[DONE]`. Answers: see [`reply`]. Faults: programmed ones
//! ([`SimHandle::push_fault`]) first, then `sim_fault:<spec>` / `sim_error:<code>` /
//! `sim_unsafe` in the last user message.
//!
//! Tests observe and steer the token store through [`QianfanControl`] (kept in the config):
//! count token requests, expire every token (the next call answers 111) or revoke them (110).

mod chat;
pub mod cli;
mod embeddings;
pub mod errors;
pub mod reply;
pub mod v2;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use parking_lot::Mutex;
use serde_json::json;
use tokio::net::TcpListener;

pub use v2::{QianfanV2SimConfig, spawn_qianfan_v2, spawn_qianfan_v2_on};

use crate::handle::{SimHandle, SimState, serve};

/// Chat endpoints served when the config lists none (the SDK's presets).
pub const DEFAULT_ENDPOINTS: &[&str] = &[
    "completions_pro",
    "ernie-4.0-turbo-8k",
    "completions",
    "ernie-3.5-128k",
    "ernie_speed",
    "ernie-speed-128k",
    "ernie-speed-pro-128k",
    "ernie-lite-8k",
    "eb-instant",
    "ernie-tiny-8k",
    "ernie-char-8k",
    "ernie_bot_8k",
    "ernie-speed-pro-8k",
    "ernie-func-8k",
    "ernie-4.0-8k-latest",
];

/// Embeddings endpoints: `(endpoint, batch limit, dimensions, characters per text)`.
pub const EMBEDDING_ENDPOINTS: &[(&str, usize, usize, usize)] = &[
    ("embedding-v1", 16, 384, 1000),
    ("bge_large_zh", 16, 1024, 2000),
    ("bge_large_en", 16, 1024, 2000),
    ("tao_8k", 1, 1024, 28000),
];

/// Tokens issued by one simulator, shared with the test that configured it.
#[derive(Clone, Debug, Default)]
pub struct QianfanControl {
    inner: Arc<ControlInner>,
}

#[derive(Debug, Default)]
struct ControlInner {
    tokens: Mutex<HashMap<String, Instant>>,
    token_requests: AtomicUsize,
}

/// What the token store says about a presented token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenState {
    Valid,
    Expired,
    Unknown,
}

impl QianfanControl {
    /// Token requests received (successful or not).
    pub fn token_requests(&self) -> usize {
        self.inner.token_requests.load(Ordering::SeqCst)
    }

    /// Tokens issued and not revoked.
    pub fn issued_tokens(&self) -> usize {
        self.inner.tokens.lock().len()
    }

    /// Makes every issued token expired: the next call with one answers error 111.
    pub fn expire_all(&self) {
        let past = Instant::now()
            .checked_sub(Duration::from_secs(1))
            .unwrap_or_else(Instant::now);
        for exp in self.inner.tokens.lock().values_mut() {
            *exp = past;
        }
    }

    /// Forgets every issued token: the next call with one answers error 110.
    pub fn revoke_all(&self) {
        self.inner.tokens.lock().clear();
    }

    fn issue(&self, ttl: Duration) -> String {
        let mut rng = rand::rng();
        let hex: String = (0..32)
            .map(|_| char::from(b"0123456789abcdef"[rand::Rng::random_range(&mut rng, 0..16)]))
            .collect();
        let token = format!(
            "24.{hex}.{}.{}.{}-{}",
            ttl.as_secs(),
            reply::now_secs() + ttl.as_secs(),
            rand::Rng::random_range(&mut rng, 100_000..999_999),
            rand::Rng::random_range(&mut rng, 10_000_000..99_999_999),
        );
        self.inner
            .tokens
            .lock()
            .insert(token.clone(), Instant::now() + ttl);
        token
    }

    pub(crate) fn check(&self, token: &str) -> TokenState {
        match self.inner.tokens.lock().get(token) {
            None => TokenState::Unknown,
            Some(exp) if *exp <= Instant::now() => TokenState::Expired,
            Some(_) => TokenState::Valid,
        }
    }
}

/// Configuration of one Qianfan v1 simulator.
#[derive(Clone, Debug)]
pub struct QianfanSimConfig {
    /// The application's API Key (OAuth `client_id`).
    pub api_key: String,
    /// The application's Secret Key (OAuth `client_secret`).
    pub secret_key: String,
    /// Lifetime of issued tokens (the service grants 30 days).
    pub token_ttl_secs: u64,
    /// Known chat endpoints; empty means [`DEFAULT_ENDPOINTS`].
    pub endpoints: Vec<String>,
    /// Delay before the headers (non-stream) or the first event (stream).
    pub latency_ms: u64,
    /// Text pieces (tokens) per answer; 0 is treated as 1.
    pub chunks: usize,
    /// Delay between stream events.
    pub chunk_interval_ms: u64,
    /// The token store, shared with whoever holds a clone of this config.
    pub control: QianfanControl,
}

impl QianfanSimConfig {
    /// A config with 30-day tokens, 5 chunks, no latency and the default endpoints.
    pub fn new(api_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            secret_key: secret_key.into(),
            token_ttl_secs: 2_592_000,
            endpoints: Vec::new(),
            latency_ms: 0,
            chunks: 5,
            chunk_interval_ms: 0,
            control: QianfanControl::default(),
        }
    }

    /// The channel key a gateway uses for this simulator: `API_KEY|SECRET_KEY`.
    pub fn channel_key(&self) -> String {
        format!("{}|{}", self.api_key, self.secret_key)
    }

    pub(crate) fn knows_endpoint(&self, ep: &str) -> bool {
        if self.endpoints.is_empty() {
            DEFAULT_ENDPOINTS.contains(&ep)
        } else {
            self.endpoints.iter().any(|e| e == ep)
        }
    }
}

/// State shared by the handlers.
#[derive(Clone)]
pub(crate) struct App {
    pub(crate) cfg: Arc<QianfanSimConfig>,
    pub(crate) sim: SimState,
}

/// Builds the router and the state handle it records into.
pub fn qianfan_router(cfg: QianfanSimConfig) -> (Router, SimState) {
    let sim = SimState::new();
    let app = App {
        cfg: Arc::new(cfg),
        sim: sim.clone(),
    };
    let router = Router::new()
        .route("/oauth/2.0/token", post(token).get(token))
        .route(
            "/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/{endpoint}",
            post(chat::chat),
        )
        .route(
            "/rpc/2.0/ai_custom/v1/wenxinworkshop/embeddings/{endpoint}",
            post(embeddings::embeddings),
        )
        .fallback(unknown)
        .with_state(app);
    (router, sim)
}

/// Spawns a v1 simulator on `127.0.0.1:0`.
pub async fn spawn_qianfan(cfg: QianfanSimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    Ok(spawn_qianfan_on(listener, cfg))
}

/// Spawns a v1 simulator on an already bound listener.
pub fn spawn_qianfan_on(listener: TcpListener, cfg: QianfanSimConfig) -> SimHandle {
    let (router, state) = qianfan_router(cfg);
    serve(listener, router, state)
}

/// Any other path: Baidu's "unsupported method" answer.
async fn unknown(_req: Request) -> Response {
    errors::json_response(
        StatusCode::NOT_FOUND,
        json!({"error_code": 3, "error_msg": "Unsupported openapi method"}).to_string(),
    )
}

/// `/oauth/2.0/token`: the client-credentials grant.
async fn token(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Response {
    app.cfg
        .control
        .inner
        .token_requests
        .fetch_add(1, Ordering::SeqCst);
    let refuse = |status: StatusCode, error: &str, description: &str| {
        errors::json_response(
            status,
            json!({"error": error, "error_description": description}).to_string(),
        )
    };
    if q.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported",
        );
    }
    if q.get("client_id") != Some(&app.cfg.api_key) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client id",
        );
    }
    if q.get("client_secret") != Some(&app.cfg.secret_key) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let ttl = Duration::from_secs(app.cfg.token_ttl_secs);
    let access_token = app.cfg.control.issue(ttl);
    let session: String = access_token.chars().rev().take(16).collect();
    errors::json_response(
        StatusCode::OK,
        json!({
            "refresh_token": format!("25.{}", &access_token[3..]),
            "expires_in": ttl.as_secs(),
            "session_key": format!("9mzdDZ{session}"),
            "access_token": access_token,
            "scope": "public brain_all_scope wenxinworkshop_mgr ai_custom_yiyan_com ai_custom_yiyan_com_eb_instant",
            "session_secret": format!("{session:0>32}"),
        })
        .to_string(),
    )
}

/// The token check of every model API: `Err` is the answer to send.
pub(crate) fn check_token(app: &App, token: Option<&String>) -> Result<(), Box<Response>> {
    match token.map(|t| app.cfg.control.check(t)) {
        Some(TokenState::Valid) => Ok(()),
        Some(TokenState::Expired) => Err(Box::new(errors::v1_code(111))),
        None | Some(TokenState::Unknown) => Err(Box::new(errors::v1_code(110))),
    }
}
