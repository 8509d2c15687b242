//! The Switchyard HTTP application.
//!
//! Built apart from run: [`app`] gives the `Router` (tests drive it with `oneshot`), [`serve`]
//! runs it on a bound listener until a shutdown future resolves, then drains: stop accepting,
//! let open requests finish until the grace deadline, end what is still open, flush usage.

mod admin;
mod auth;
mod credentials;
mod dialect;
mod error;
mod gate;
mod images;
mod models;
mod native_in;
mod relay;
mod state;
mod usage;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;

pub use admin::{CreateKey, create_key, key_json};
pub use error::ApiError;
pub use gate::{App, WithRequestId};
pub use state::{AppState, StartError};

/// Every endpoint, inside the service that gives each request its id.
pub fn app(state: AppState) -> App {
    let router = Router::new()
        .route("/v1/chat/completions", post(relay::chat_completions))
        .route("/v1/embeddings", post(relay::embeddings::embeddings))
        .route("/v1/models", get(models::list))
        .route(
            "/v1/models/{model}",
            get(models::get).post(native_in::generate),
        )
        .route("/v1beta/models/{model}", post(native_in::generate))
        .route("/v1/messages", post(native_in::messages))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/admin/keys", post(admin::post_key).get(admin::list_keys))
        .route("/admin/keys/{id}", delete(admin::delete_key))
        .route("/admin/usage", get(admin::usage))
        .route("/admin/channels", get(admin::channels))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    App {
        // Turns every route into its final form once, not on each clone.
        router: router.with_state(()),
        state,
    }
}

async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.inner.shutdown.is_cancelled() {
        return ApiError::unavailable("shutting down").into_response();
    }
    match state.inner.store.ping().await {
        Ok(()) => axum::Json(json!({"status": "ready"})).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        Some("unknown_url"),
        "Unknown request URL. Please check the URL and method.",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        Some("method_not_allowed"),
        "This method is not allowed on this URL.",
    )
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains within the configured
/// grace period, flushes the usage log and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = Duration::from_secs(state.inner.config.server.shutdown_grace_secs);
    let inner = state.inner.clone();
    let signal = {
        let inner = inner.clone();
        async move {
            shutdown.await;
            tracing::info!("shutdown: no longer accepting; draining open requests");
            inner.shutdown.cancel();
            let deadline = inner.deadline.clone();
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                deadline.cancel();
            });
        }
    };
    let accept = accept_loop(listener, app(state), signal);
    tokio::pin!(accept);
    let result = tokio::select! {
        r = &mut accept => r,
        // Open connections got the grace period and a moment to write their final events.
        _ = async { inner.deadline.cancelled().await; tokio::time::sleep(Duration::from_secs(2)).await } => {
            tracing::warn!("shutdown: connections still open after the grace period; closing");
            Ok(())
        }
    };
    inner.usage.flush().await;
    tracing::info!("shutdown: usage flushed");
    result
}

/// Serves HTTP/1.1 connections until `signal` resolves, then waits for the open ones to end
/// (each finishes its current request; keep-alive is refused from then on).
///
/// hyper's HTTP/1 server is used directly rather than through `axum::serve`: the latter first
/// reads a few bytes to choose between HTTP/1 and HTTP/2 and replays them, which makes the
/// connection's read buffer grow to 16 KiB (a quarter of what an open stream holds), and it
/// rebuilds the router's route table for every connection.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: App,
    signal: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new());
    tokio::pin!(signal);
    loop {
        let tcp = tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // the listener itself is fine.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Small writes (a stream's chunks, a short JSON answer) go out at once: without
        // TCP_NODELAY, Nagle's algorithm holds a chunk until the client's delayed ACK (~40 ms).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set on an accepted socket");
        }
        let service = TowerToHyperService::new(app.clone());
        let conn = graceful.watch(http.serve_connection(TokioIo::new(tcp), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Writes queued usage rows now (tests use this before reading the log).
pub async fn flush_usage(state: &AppState) {
    state.inner.usage.flush().await;
}
