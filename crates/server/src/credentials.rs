//! Tokens obtained from providers that exchange the channel key for one (Qianfan's OAuth access
//! token): cached per channel until shortly before expiry; concurrent first requests wait on one
//! fetch under a per-channel lock; a token the provider refuses is dropped and fetched again.

use std::sync::Arc;
use std::time::Duration;

use foldhash::HashMap;
use parking_lot::Mutex;
use switchyard_providers::{Adapter, Target};
use tokio::time::Instant;

use crate::relay::upstream::{self, Failure};
use crate::state::AppState;

/// A token is renewed this long before it expires.
const MARGIN: Duration = Duration::from_secs(60);

type Slot = Arc<tokio::sync::Mutex<Option<(String, Instant)>>>;

/// Channel id → its token.
#[derive(Default)]
pub(crate) struct TokenCache {
    slots: Mutex<HashMap<i64, Slot>>,
}

impl TokenCache {
    fn slot(&self, channel: i64) -> Slot {
        self.slots.lock().entry(channel).or_default().clone()
    }

    /// The channel's token, fetched if missing or about to expire; `None` when the provider
    /// needs none.
    pub(crate) async fn get(
        &self,
        state: &AppState,
        channel: i64,
        adapter: &dyn Adapter,
        target: &Target<'_>,
        timeout: Duration,
    ) -> Result<Option<String>, Failure> {
        let Some(req) = adapter.token_request(target) else {
            return Ok(None);
        };
        let slot = self.slot(channel);
        let mut held = slot.lock().await;
        if let Some((token, expires)) = held.as_ref()
            && Instant::now() + MARGIN < *expires
        {
            return Ok(Some(token.clone()));
        }
        let resp = upstream::send(state, req, timeout).await?;
        let status = resp.status().as_u16();
        let body = upstream::read_body(resp, timeout).await?;
        let token = adapter
            .token_response(status, &body)
            .map_err(|err| Failure::Status {
                err,
                retry_after: None,
            })?;
        let expires = Instant::now() + Duration::from_secs(token.ttl_secs);
        *held = Some((token.value.clone(), expires));
        Ok(Some(token.value))
    }

    /// Forgets the channel's token.
    pub(crate) async fn invalidate(&self, channel: i64) {
        *self.slot(channel).lock().await = None;
    }
}
