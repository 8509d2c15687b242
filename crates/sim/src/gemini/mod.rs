//! The Google Gemini simulator: the Gemini Developer API (`generativelanguage.googleapis.com`).
//!
//! Endpoints, under `/v1beta` and `/v1`:
//! `POST models/{model}:generateContent`, `:streamGenerateContent` (`?alt=sse` gives server-sent
//! events; without it, a streamed JSON array, as Google does), `:countTokens`, `:embedContent`,
//! `:batchEmbedContents`, and `GET models`, `GET models/{model}`. Any other path is Google's
//! HTML 404.
//!
//! Checks, in Google's order: the API key ([`auth`]: `x-goog-api-key` or `?key=`; a wrong key
//! is a 400 `INVALID_ARGUMENT` with reason `API_KEY_INVALID`, no key a 403, a bearer token a
//! 401), the model (404 `NOT_FOUND`, also for a chat model asked to embed and the reverse), then
//! the body ([`keys`]: every field known in camelCase or snake_case, unknown ones refused as
//! "Unknown name … Cannot find field"; [`validate`]: roles only `user`/`model`, non-empty parts,
//! function responses matching the calls they answer, `response` an object, ranges of
//! `generationConfig`, tool names and schemas).
//!
//! # Deterministic answers ([`reply`])
//! - Text `"Hello from gemini <model>: " + <text of the last user turn>` (a turn of function
//!   responses answers `"… tool result: <response JSON>"`), cut at the first stop sequence, then
//!   into `chunks` pieces of one token each; `maxOutputTokens` below the piece count keeps the
//!   first pieces and finishes `MAX_TOKENS`. `candidateCount` copies the answer.
//! - `promptTokenCount` = Σ over `contents` of (3 + Σ part tokens) + (3 + characters / 4 of the
//!   system instruction, when present); a text part counts characters / 4, an inline blob 258,
//!   a function call or response the characters of its JSON / 4; at least 1.
//! - `candidatesTokenCount` = pieces (per candidate, summed), or 8 per function call.
//! - Thinking models (`gemini-2.5-pro`, `gemini-2.5-flash`) add `thoughtsTokenCount: 4` unless
//!   `thinkingBudget` is 0 (refused for 2.5 Pro, as Google does), and a thought part when
//!   `includeThoughts`; their function calls carry a `thoughtSignature`.
//! - `cachedContentTokenCount` = the configured `cached_tokens` (at most the prompt), when set.
//! - `totalTokenCount` = prompt + candidates + thoughts.
//! - Tools: with `functionDeclarations`, mode not `NONE` and a last turn that is not function
//!   responses, the answer calls the first function (or the first of `allowedFunctionNames`)
//!   with args `{"location":"Paris","unit":"celsius"}`; `sim_parallel` in the prompt calls every
//!   allowed function, one part each.
//! - Streams: one event per piece, each with cumulative `usageMetadata`; the last has
//!   `finishReason` and the full usage. Events are `data: <json>` followed by CRLF CRLF (the
//!   default, as Google frames them) or LF LF ([`Framing`]). No `[DONE]`: the body just ends.
//! - Embeddings: 768 values per text (or `outputDimensionality`), from a hash of the text.
//!
//! # Faults
//! A programmed [`crate::Fault`] or `sim_fault:<spec>` in the last user turn (see
//! [`crate::fault`]; `status=N` answers Google's body for that status). `sim_error:<CODE>`
//! answers Google's exact error ([`errors`]): `RESOURCE_EXHAUSTED`, `API_KEY_INVALID`,
//! `INVALID_ARGUMENT`, `FAILED_PRECONDITION`, `PERMISSION_DENIED`, `NOT_FOUND`,
//! `UNAUTHENTICATED`, `INTERNAL`, `UNAVAILABLE`, `DEADLINE_EXCEEDED`; the HTTP-200 cases
//! `PROMPT_BLOCKED` (no candidates, `promptFeedback.blockReason`), `SAFETY` and `RECITATION`;
//! and `<CODE>@<n>` in a stream: `n` events, then `data: {"error":…}` and the end.

pub mod auth;
mod chat;
pub mod cli;
mod embed;
pub mod errors;
mod keys;
mod reply;
mod validate;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::handle::{SimHandle, SimState, serve};

/// The marker of an injected Gemini error in a prompt (`sim_error:RESOURCE_EXHAUSTED`).
pub const ERROR_MARKER: &str = "sim_error:";

/// Models served when the config lists none (the gateway's defaults, including ids Google has
/// since retired, plus the current embedding model).
pub const DEFAULT_MODELS: &[&str] = &[
    "gemini-pro",
    "gemini-pro-vision",
    "gemini-1.5-pro",
    "gemini-1.5-flash",
    "gemini-2.0-flash",
    "gemini-2.0-flash-lite",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
    "text-embedding-004",
    "gemini-embedding-001",
];

/// How stream events are terminated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Framing {
    /// `data: {…}\r\n\r\n`, as the real service sends.
    #[default]
    Crlf,
    /// `data: {…}\n\n`.
    Lf,
}

impl Framing {
    /// The bytes after each event's JSON.
    pub fn terminator(self) -> &'static str {
        match self {
            Framing::Crlf => "\r\n\r\n",
            Framing::Lf => "\n\n",
        }
    }
}

/// Configuration of one Gemini simulator.
#[derive(Clone, Debug)]
pub struct GeminiSimConfig {
    /// The only accepted API key.
    pub api_key: String,
    /// Known models (chat, and embedding models, whose id contains `embedding`); empty serves
    /// [`DEFAULT_MODELS`].
    pub models: Vec<String>,
    /// Delay before the response headers (non-stream) or the first event (stream).
    pub latency_ms: u64,
    /// Pieces (tokens) per answer; 0 is treated as 1.
    pub chunks: usize,
    /// Delay between stream events.
    pub chunk_interval_ms: u64,
    /// Stream event framing.
    pub framing: Framing,
    /// `cachedContentTokenCount` to report (0 reports none).
    pub cached_tokens: u64,
}

impl GeminiSimConfig {
    /// A config with 5 pieces, CRLF framing, no latency and the default models.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            models: Vec::new(),
            latency_ms: 0,
            chunks: 5,
            chunk_interval_ms: 0,
            framing: Framing::Crlf,
            cached_tokens: 0,
        }
    }

    /// Sets the pieces per answer.
    pub fn with_chunks(mut self, chunks: usize) -> Self {
        self.chunks = chunks;
        self
    }

    /// Sets the stream framing.
    pub fn with_framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }

    /// Sets the reported cached prompt tokens.
    pub fn with_cached_tokens(mut self, tokens: u64) -> Self {
        self.cached_tokens = tokens;
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

    fn known(&self, model: &str) -> bool {
        if self.models.is_empty() {
            DEFAULT_MODELS.contains(&model)
        } else {
            self.models.iter().any(|m| m == model)
        }
    }

    fn model_ids(&self) -> Vec<String> {
        if self.models.is_empty() {
            DEFAULT_MODELS.iter().map(|m| (*m).to_owned()).collect()
        } else {
            self.models.clone()
        }
    }
}

/// Whether `model` is an embedding model (it serves only the embed methods).
pub(crate) fn is_embedding(model: &str) -> bool {
    model.contains("embedding")
}

/// State shared by the handlers.
#[derive(Clone)]
pub(crate) struct App {
    pub(crate) cfg: Arc<GeminiSimConfig>,
    pub(crate) sim: SimState,
}

/// Builds the router and the state it records into.
pub fn gemini_router(cfg: GeminiSimConfig) -> (Router, SimState) {
    let sim = SimState::new();
    let app = App {
        cfg: Arc::new(cfg),
        sim: sim.clone(),
    };
    let router = Router::new()
        .route("/{version}/models", get(list_models))
        .route("/{version}/models/{target}", post(dispatch).get(get_model))
        .fallback(not_found)
        .with_state(app);
    (router, sim)
}

/// Spawns a simulator on `127.0.0.1:0`.
pub async fn spawn_gemini(cfg: GeminiSimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    Ok(spawn_gemini_on(listener, cfg))
}

/// Spawns a simulator on an already bound listener.
pub fn spawn_gemini_on(listener: TcpListener, cfg: GeminiSimConfig) -> SimHandle {
    let (router, state) = gemini_router(cfg);
    serve(listener, router, state)
}

fn version_ok(v: &str) -> bool {
    v == "v1beta" || v == "v1"
}

/// Google's HTML 404 for a path it does not serve.
async fn not_found(req: Request) -> Response {
    html_404(req.uri().path())
}

fn html_404(path: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n  <p><b>404.</b> <ins>That’s an error.</ins>\n  <p>The requested URL <code>{path}</code> was not found on this server.  <ins>That’s all we know.</ins>\n"
    );
    let mut resp = (StatusCode::NOT_FOUND, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    resp
}

/// `POST /{version}/models/{model}:{method}`.
async fn dispatch(
    State(app): State<App>,
    Path((version, target)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let path = format!("/{version}/models/{target}");
    let Some((model, method)) = target.split_once(':') else {
        return html_404(&path);
    };
    if !version_ok(&version) {
        return html_404(&path);
    }
    let parsed = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => {
            app.sim.record_request(v.clone());
            Some(v)
        }
        Err(_) => {
            app.sim
                .record_request(Value::String(String::from_utf8_lossy(&body).into_owned()));
            None
        }
    };
    if let Err(resp) = auth::check(&app.cfg.api_key, &headers, &query) {
        return *resp;
    }
    let supported = match method {
        "generateContent" | "streamGenerateContent" | "countTokens" => !is_embedding(model),
        "embedContent" | "batchEmbedContents" => is_embedding(model),
        _ => return html_404(&path),
    };
    if !app.cfg.known(model) || !supported {
        return errors::model_not_found(model, &version, method);
    }
    let Some(json) = parsed else {
        return errors::invalid_json(&body);
    };
    let alt_sse = query.iter().any(|(k, v)| k == "alt" && v == "sse");
    match method {
        "embedContent" | "batchEmbedContents" => embed::handle(&app, model, method, &json),
        _ => chat::handle(&app, model, method, alt_sse, &json).await,
    }
}

fn model_json(id: &str) -> Value {
    let methods: &[&str] = if is_embedding(id) {
        &["embedContent", "batchEmbedContents"]
    } else {
        &["generateContent", "countTokens", "streamGenerateContent"]
    };
    json!({
        "name": format!("models/{id}"),
        "version": "001",
        "displayName": id,
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": if is_embedding(id) { 1 } else { 8192 },
        "supportedGenerationMethods": methods,
    })
}

async fn list_models(
    State(app): State<App>,
    Path(version): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if !version_ok(&version) {
        return html_404(&format!("/{version}/models"));
    }
    if let Err(resp) = auth::check(&app.cfg.api_key, &headers, &query) {
        return *resp;
    }
    let models: Vec<Value> = app.cfg.model_ids().iter().map(|m| model_json(m)).collect();
    errors::json_response(StatusCode::OK, &json!({ "models": models }))
}

async fn get_model(
    State(app): State<App>,
    Path((version, target)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if !version_ok(&version) {
        return html_404(&format!("/{version}/models/{target}"));
    }
    if let Err(resp) = auth::check(&app.cfg.api_key, &headers, &query) {
        return *resp;
    }
    if !app.cfg.known(&target) {
        return errors::google(
            StatusCode::NOT_FOUND,
            &format!("models/{target} is not found for API version {version}"),
            Vec::new(),
        );
    }
    errors::json_response(StatusCode::OK, &model_json(&target))
}
