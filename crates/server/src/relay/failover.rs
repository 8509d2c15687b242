//! The two loops every upstream endpoint shares: over channels (failover), and over a refused
//! token on one channel (fetch it again, retry once).

use std::future::Future;
use std::sync::Arc;

use switchyard_core::routing::Channel;
use switchyard_providers::{Adapter, Target};

use super::Billing;
use super::upstream::Failure;
use crate::error::ApiError;
use crate::gate::{self, RequestId};
use crate::state::AppState;

/// Tries `candidates` in routing order (at most `max_attempts`) until one answers; `attempt`
/// gets the channel and the model name it knows. A retryable failure counts against the
/// channel's health and moves on; a request the gateway refuses, any other failure, or the
/// last retryable one ends the request, and the usage row records it (`billing` comes back
/// with the answer, to be settled by the caller).
pub(crate) async fn failover<'c, T, Fut>(
    state: &AppState,
    rid: &RequestId,
    candidates: &'c [Arc<Channel>],
    mut billing: Billing,
    requested_model: &Arc<str>,
    mut attempt: impl FnMut(&'c Channel, Arc<str>) -> Fut,
) -> Result<(T, &'c Channel, Billing), ApiError>
where
    Fut: Future<Output = Result<T, Failure>>,
{
    let cfg = &state.inner.config.upstream;
    let mut last = None;
    for ch in candidates.iter().take(cfg.max_attempts) {
        // The requested name itself when the channel does not map it (shared, not copied).
        let upstream_model = match ch.upstream_model(requested_model) {
            same if same == &**requested_model => requested_model.clone(),
            other => Arc::from(other),
        };
        billing.attempt(ch.id, &upstream_model);
        let result = tokio::select! {
            // Boxed: the attempt's future is large, and would otherwise be copied into (and
            // kept alive inside) every caller's future.
            r = Box::pin(attempt(ch, upstream_model)) => r,
            _ = state.inner.deadline.cancelled() => Err(Failure::Shutdown),
        };
        let f = match result {
            Ok(v) => {
                ch.record_success();
                return Ok((v, ch, billing));
            }
            Err(Failure::Rejected(e)) => {
                let code = e.code.as_deref().or(Some("invalid_request"));
                billing.fail(e.status.as_u16(), code);
                return Err(*e);
            }
            Err(f) => f.masked(ch.key.expose()),
        };
        tracing::warn!(channel = %ch.name, failure = ?f, request_id = %rid.0, "upstream attempt failed");
        if !f.retryable() {
            last = Some(f);
            break;
        }
        ch.record_failure(
            gate::now_ms(),
            cfg.failure_threshold,
            cfg.cooldown_secs * 1000,
        );
        last = Some(f);
    }
    let f = last.unwrap_or_else(|| Failure::Connect("no channel could be tried".into()));
    let e = f.to_api_error();
    billing.fail(e.status.as_u16(), Some(f.label()));
    Err(e)
}

/// Where and as whom to call `ch` for `upstream_model` at `now_unix`, with `token` when the
/// provider uses one.
pub(crate) fn target<'a>(
    ch: &'a Channel,
    upstream_model: &'a str,
    token: Option<&'a str>,
    now_unix: u64,
) -> Target<'a> {
    Target {
        base_url: &ch.base_url,
        key: ch.key.expose(),
        upstream_model,
        now_unix,
        token,
    }
}

/// Runs `call` with the channel's token (`None` for providers without one) and the time (unix
/// seconds, read once per try). When the upstream refuses the token, it is fetched again and
/// `call` runs once more.
pub(crate) async fn with_token<T, Fut>(
    state: &AppState,
    ch: &Channel,
    adapter: &'static dyn Adapter,
    timeout: std::time::Duration,
    mut call: impl FnMut(Option<String>, u64) -> Fut,
) -> Result<T, Failure>
where
    Fut: Future<Output = Result<T, Failure>>,
{
    let tokens = &state.inner.tokens;
    let mut retried = false;
    loop {
        let now_unix = gate::now_ms() / 1000;
        let token = tokens
            .get(
                state,
                ch.id,
                adapter,
                &target(ch, "", None, now_unix),
                timeout,
            )
            .await?;
        match call(token, now_unix).await {
            Err(Failure::Status { err, .. }) if !retried && adapter.token_rejected(&err) => {
                tokens.invalidate(ch.id).await;
                retried = true;
            }
            other => return other,
        }
    }
}
