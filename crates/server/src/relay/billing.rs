//! Settlement of one request, exactly once: the quota reservation is released and charged, the
//! channel and model are recorded, and one usage row is queued, whatever the outcome. Dropping an
//! unfinished [`Billing`] (the client went away while the gateway waited) settles it as 499.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_core::meter::Metered;
use switchyard_core::quota::Reservation;
use switchyard_core::tokens::Prompt;
use switchyard_store::{ApiKey, UsageRow};

use crate::state::AppState;

/// Status recorded when the client disconnected first (nginx's convention).
pub(crate) const CLIENT_CLOSED: u16 = 499;

/// Settlement state of one request.
pub(crate) struct Billing {
    state: AppState,
    key: Arc<ApiKey>,
    request_id: Arc<str>,
    endpoint: &'static str,
    requested_model: Arc<str>,
    upstream_model: Option<Arc<str>>,
    channel_id: Option<i64>,
    prompt: Arc<Prompt>,
    reservation: Option<Reservation>,
    started: Instant,
    ttft: Option<Duration>,
    stream: bool,
    contacted: bool,
}

impl Billing {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        state: AppState,
        key: Arc<ApiKey>,
        request_id: Arc<str>,
        endpoint: &'static str,
        requested_model: Arc<str>,
        prompt: Arc<Prompt>,
        reservation: Reservation,
        stream: bool,
        started: Instant,
    ) -> Self {
        Self {
            state,
            key,
            request_id,
            endpoint,
            requested_model,
            upstream_model: None,
            channel_id: None,
            prompt,
            reservation: Some(reservation),
            started,
            ttft: None,
            stream,
            contacted: false,
        }
    }

    /// Reserves the estimated cost of `(prompt, output)` tokens of `model` on the key's quota
    /// (403 `insufficient_quota` when it cannot be covered) and starts the settlement record.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn reserve(
        state: &AppState,
        key: Arc<ApiKey>,
        rid: &crate::gate::RequestId,
        endpoint: &'static str,
        model: &Arc<str>,
        (prompt, output): (Arc<Prompt>, u64),
        stream: bool,
        started: Instant,
    ) -> Result<Self, crate::error::ApiError> {
        let price = state.inner.prices.lookup(model, None);
        let ledger = &state.inner.ledger;
        let reserve = |tokens: u64| {
            let cost = price.cost_micros(tokens, output, 0);
            ledger
                .reserve(key.id, key.quota_micros, key.used_micros, cost)
                .map_err(|e| (cost, e.remaining_micros))
        };
        // The estimate first (it leans high, and counts nothing); a key it does not fit is
        // refused only if the exact count does not fit either.
        let reservation = reserve(prompt.estimate())
            .or_else(|_| reserve(prompt.exact()))
            .map_err(|(cost, remaining)| {
                crate::error::ApiError::forbidden(
                    "insufficient_quota",
                    format!(
                        "This key's quota cannot cover the request (estimated {cost} µUSD, remaining {remaining} µUSD)."
                    ),
                )
            })?;
        Ok(Self::new(
            state.clone(),
            key,
            rid.0.clone(),
            endpoint,
            model.clone(),
            prompt,
            reservation,
            stream,
            started,
        ))
    }

    /// Records which channel and upstream model the current attempt uses.
    pub(crate) fn attempt(&mut self, channel_id: i64, upstream_model: &Arc<str>) {
        self.channel_id = Some(channel_id);
        self.upstream_model = Some(upstream_model.clone());
        self.contacted = true;
    }

    /// Records the time to the first byte sent to the client.
    pub(crate) fn first_token(&mut self) {
        if self.ttft.is_none() {
            self.ttft = Some(self.started.elapsed());
        }
    }

    /// The gateway's own prompt count (tokenized on the first call).
    pub(crate) fn local_prompt(&self) -> u64 {
        self.prompt.exact()
    }

    /// Settles with the given counts and outcome.
    pub(crate) fn finish(mut self, m: Metered, status: u16, error_code: Option<&str>) {
        self.settle(m, status, error_code);
    }

    /// Settles a request that produced nothing billable.
    pub(crate) fn fail(mut self, status: u16, error_code: Option<&str>) {
        self.settle(Metered::default(), status, error_code);
    }

    fn settle(&mut self, m: Metered, status: u16, error_code: Option<&str>) {
        let Some(reservation) = self.reservation.take() else {
            return;
        };
        let price = self
            .state
            .inner
            .prices
            .lookup(&self.requested_model, self.upstream_model.as_deref());
        let cost = price.cost_micros(m.prompt, m.completion, m.cached);
        reservation.settle(cost);
        let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.state.inner.usage.record(UsageRow {
            request_id: self.request_id.clone(),
            created_at: chrono::Utc::now(),
            key_id: Some(self.key.id),
            channel_id: self.channel_id,
            endpoint: self.endpoint.into(),
            requested_model: self.requested_model.clone(),
            upstream_model: self.upstream_model.take(),
            prompt_tokens: as_i64(m.prompt),
            cached_tokens: as_i64(m.cached.min(m.prompt)),
            completion_tokens: as_i64(m.completion),
            total_tokens: as_i64(m.total()),
            estimated: m.estimated,
            cost_micros: cost,
            latency_ms: as_i64(self.started.elapsed().as_millis() as u64),
            ttft_ms: self.ttft.map(|d| as_i64(d.as_millis() as u64)),
            status: i64::from(status),
            error_code: error_code.map(str::to_owned),
            stream: self.stream,
        });
    }
}

impl Drop for Billing {
    fn drop(&mut self) {
        if self.reservation.is_some() {
            // The client left while the gateway waited on the upstream: the prompt was most
            // likely processed, so it is billed as estimated; nothing else is known.
            let m = if self.contacted {
                Metered {
                    prompt: self.prompt.exact(),
                    estimated: true,
                    ..Metered::default()
                }
            } else {
                Metered::default()
            };
            self.settle(m, CLIENT_CLOSED, Some("client_closed"));
        }
    }
}
