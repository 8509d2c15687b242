//! The iFlytek Spark simulator: the signed WebSocket chat API (`GET /v3.5/chat?authorization=…`).
//!
//! Paths and domains: `/v1.1/chat` lite (the retired `general` is refused with 11200, as the
//! service does since the rename), `/v2.1/chat` generalv2, `/v3.1/chat` generalv3,
//! `/chat/pro-128k` pro-128k, `/v3.5/chat` generalv3.5, `/chat/max-32k` max-32k, `/v4.0/chat`
//! 4.0Ultra. Any other path is a 404 `{"message":"no Route matched with those values"}`.
//!
//! The handshake is checked before the upgrade ([`auth`]): 401/403 JSON answers exactly as the
//! service gives them. After the upgrade the client sends one request frame; the answer is a
//! series of frames ([`frames`]) and the server closes the socket. Deterministic answers:
//! - text `"Hello from spark <domain>: " + <last user turn>` cut into `chunks` frames (one token
//!   each; `max_tokens` below that keeps the first pieces);
//! - `prompt_tokens` = Σ over turns (characters / 4 + 3), `question_tokens` the same for the
//!   last turn, `completion_tokens` = frames of text, `total_tokens` their sum;
//! - with `payload.functions` on a version that supports them (Pro, Max, Max-32K, Ultra) and a
//!   last user turn not starting with `tool result`, one function-call frame to the first
//!   function with arguments `{"location":"Paris","unit":"celsius"}` and `completion_tokens` =
//!   `chunks`.
//!
//! Faults: a programmed [`Fault`] is taken when a handshake passes authentication (`Status` is
//! then the HTTP answer, `Hang` never answers the handshake, the others shape the frames);
//! otherwise `sim_fault:<spec>` in the last user turn (all kinds but `Status`, which cannot
//! happen after the upgrade), and `sim_error:<code>` answers with that Spark error code (10014
//! after two text frames, every other code at once).

pub mod auth;
pub mod cli;
mod frames;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::fault::Fault;
use crate::handle::{SimHandle, SimState, serve};

/// The marker of an injected Spark error code in a prompt (`sim_error:11202`).
pub const ERROR_MARKER: &str = "sim_error:";

/// One Spark version as the simulator knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    /// URL path.
    pub path: &'static str,
    /// The only domain accepted on this path.
    pub domain: &'static str,
    /// Upper bound of `max_tokens`.
    pub max_tokens: u64,
    /// Context size (prompt tokens above it are refused with 10907).
    pub context_tokens: u64,
    /// Whether `role: "system"` is accepted.
    pub system_role: bool,
    /// Whether `payload.functions` is honoured.
    pub functions: bool,
}

/// Every version, by path.
pub const VERSIONS: [Version; 7] = [
    Version {
        path: "/v1.1/chat",
        domain: "lite",
        max_tokens: 4096,
        context_tokens: 8192,
        system_role: false,
        functions: false,
    },
    Version {
        path: "/v2.1/chat",
        domain: "generalv2",
        max_tokens: 8192,
        context_tokens: 8192,
        system_role: false,
        functions: false,
    },
    Version {
        path: "/v3.1/chat",
        domain: "generalv3",
        max_tokens: 8192,
        context_tokens: 8192,
        system_role: false,
        functions: true,
    },
    Version {
        path: "/chat/pro-128k",
        domain: "pro-128k",
        max_tokens: 4096,
        context_tokens: 131_072,
        system_role: false,
        functions: false,
    },
    Version {
        path: "/v3.5/chat",
        domain: "generalv3.5",
        max_tokens: 8192,
        context_tokens: 8192,
        system_role: true,
        functions: true,
    },
    Version {
        path: "/chat/max-32k",
        domain: "max-32k",
        max_tokens: 8192,
        context_tokens: 32_768,
        system_role: true,
        functions: true,
    },
    Version {
        path: "/v4.0/chat",
        domain: "4.0Ultra",
        max_tokens: 8192,
        context_tokens: 8192,
        system_role: true,
        functions: true,
    },
];

/// Whether Spark knows `domain` at all (on some path); `general` is the retired Lite domain.
pub(crate) fn known_domain(domain: &str) -> bool {
    domain == "general" || VERSIONS.iter().any(|v| v.domain == domain)
}

/// Configuration of one Spark simulator.
#[derive(Clone, Debug)]
pub struct SparkSimConfig {
    /// The accepted `header.app_id`.
    pub app_id: String,
    /// The accepted API key (`api_key="…"` in the authorization).
    pub api_key: String,
    /// Its secret (HMAC key).
    pub api_secret: String,
    /// Text frames per answer (one token each); 0 is treated as 1.
    pub chunks: usize,
    /// Delay before the first frame.
    pub latency_ms: u64,
    /// Delay between frames.
    pub chunk_interval_ms: u64,
    /// Allowed distance between the signed `date` and the simulator's clock (300 s at Spark).
    pub clock_skew_secs: u64,
}

impl SparkSimConfig {
    /// A config with 5 frames per answer, no latency and the real 300 s skew.
    pub fn new(
        app_id: impl Into<String>,
        api_key: impl Into<String>,
        api_secret: impl Into<String>,
    ) -> Self {
        Self {
            app_id: app_id.into(),
            api_key: api_key.into(),
            api_secret: api_secret.into(),
            chunks: 5,
            latency_ms: 0,
            chunk_interval_ms: 0,
            clock_skew_secs: 300,
        }
    }

    /// Sets the frame count.
    pub fn with_chunks(mut self, chunks: usize) -> Self {
        self.chunks = chunks;
        self
    }

    /// Sets the delay between frames.
    pub fn with_chunk_interval_ms(mut self, ms: u64) -> Self {
        self.chunk_interval_ms = ms;
        self
    }

    /// The channel key for Switchyard: `APP_ID|API_KEY|API_SECRET`.
    pub fn channel_key(&self) -> String {
        format!("{}|{}|{}", self.app_id, self.api_key, self.api_secret)
    }
}

#[derive(Clone)]
struct App {
    cfg: Arc<SparkSimConfig>,
    sim: SimState,
    /// Dropped with the router when the simulator stops; sessions watch it.
    alive: Arc<watch::Sender<()>>,
}

/// Builds the router and the state it records into.
pub fn spark_router(cfg: SparkSimConfig) -> (Router, SimState) {
    let sim = SimState::new();
    let (alive, _) = watch::channel(());
    let app = App {
        cfg: Arc::new(cfg),
        sim: sim.clone(),
        alive: Arc::new(alive),
    };
    let router = Router::new().fallback(handshake).with_state(app);
    (router, sim)
}

/// Spawns a simulator on `127.0.0.1:0`.
pub async fn spawn_spark(cfg: SparkSimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    Ok(spawn_spark_on(listener, cfg))
}

/// Spawns a simulator on an already bound listener.
pub fn spawn_spark_on(listener: TcpListener, cfg: SparkSimConfig) -> SimHandle {
    let (router, state) = spark_router(cfg);
    serve(listener, router, state)
}

fn message(status: StatusCode, msg: &str) -> Response {
    let body = serde_json::json!({ "message": msg }).to_string();
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The handshake: route, signature, programmed faults, then the upgrade.
async fn handshake(State(app): State<App>, mut req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some(version) = VERSIONS.iter().find(|v| v.path == path).copied() else {
        return message(StatusCode::NOT_FOUND, "no Route matched with those values");
    };
    let query = auth::parse_query(req.uri().query().unwrap_or(""));
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let expect = auth::Expect {
        api_key: &app.cfg.api_key,
        api_secret: &app.cfg.api_secret,
        skew_secs: app.cfg.clock_skew_secs,
        now: now_unix(),
    };
    if let Err(r) = auth::verify(&expect, &path, &query, host.as_deref()) {
        let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNAUTHORIZED);
        return message(status, r.message);
    }
    let fault = app.sim.take_fault();
    match &fault {
        Some(Fault::Status {
            status,
            body,
            retry_after,
        }) => {
            let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = match body {
                Some(b) => {
                    let mut r = (code, b.clone()).into_response();
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json; charset=utf-8"),
                    );
                    r
                }
                None => message(code, default_status_message(*status)),
            };
            if let Some(secs) = retry_after
                && let Ok(v) = HeaderValue::from_str(&secs.to_string())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
        Some(Fault::Hang) => futures::future::pending::<()>().await,
        _ => {}
    }
    let is_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(key) = req
        .headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|_| is_upgrade)
        .map(|k| derive_accept_key(k.as_bytes()))
    else {
        return message(StatusCode::BAD_REQUEST, "WebSocket upgrade required");
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let session = session::Session {
        cfg: app.cfg.clone(),
        sim: app.sim.clone(),
        version,
        fault,
        alive: app.alive.subscribe(),
    };
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                session.run(ws).await;
            }
            Err(err) => tracing::debug!(%err, "spark sim upgrade failed"),
        }
    });
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&key) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    resp
}

/// The gateway's body for a programmed status fault.
fn default_status_message(status: u16) -> &'static str {
    match status {
        401 => auth::NO_MATCH,
        403 => auth::BAD_DATE,
        429 => "API rate limit exceeded",
        404 => "no Route matched with those values",
        500..=599 => "An unexpected error occurred",
        _ => "Bad request",
    }
}
