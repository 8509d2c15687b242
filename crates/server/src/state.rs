//! Shared state of the running gateway, built once at start.

use std::sync::Arc;

use parking_lot::RwLock;
use switchyard_core::config::Config;
use switchyard_core::pricing::PriceTable;
use switchyard_core::quota::Ledger;
use switchyard_core::ratelimit::RateLimiter;
use switchyard_core::routing::{Channel, RouteTable};
use switchyard_core::{Secret, keys};
use switchyard_providers::Provider;
use switchyard_store::Store;
use tokio_util::sync::CancellationToken;

use crate::auth::KeyCache;
use crate::credentials::TokenCache;
use crate::relay::upstream::Http;
use crate::usage::UsageWriter;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) store: Store,
    pub(crate) routes: RwLock<Arc<RouteTable>>,
    pub(crate) prices: PriceTable,
    pub(crate) ledger: Ledger,
    pub(crate) limiter: RateLimiter,
    pub(crate) keys: KeyCache,
    pub(crate) tokens: TokenCache,
    pub(crate) usage: UsageWriter,
    pub(crate) http: Http,
    pub(crate) admin_key_hash: String,
    /// Cancelled when shutdown starts.
    pub(crate) shutdown: CancellationToken,
    /// Cancelled when the shutdown grace period is over: open streams end then.
    pub(crate) deadline: CancellationToken,
}

/// Start-up failure.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Database trouble.
    #[error("database: {0}")]
    Store(#[from] switchyard_store::StoreError),
    /// A stored channel that cannot be used.
    #[error("channel `{0}`: {1}")]
    Channel(String, String),
    /// The upstream client's TLS setup failed (no usable trust store, or a bad `ca_file`).
    #[error("upstream TLS: {0}")]
    Tls(String),
}

impl AppState {
    /// Syncs the configured channels into `store`, makes sure an admin key exists, loads the
    /// routing table and starts the usage writer. Returns the state and, when one was generated
    /// just now, the new admin key (to print once).
    pub async fn start(
        config: Config,
        store: Store,
    ) -> Result<(AppState, Option<String>), StartError> {
        sync_channels(&config, &store).await?;
        let (admin_key_hash, generated) = ensure_admin_key(&config, &store).await?;
        let routes = load_routes(&store).await?;
        let http = Http::new(&config.upstream)?;
        let usage = UsageWriter::start(store.clone(), &config.usage);
        let models = routes.models().to_vec();
        tokio::task::spawn_blocking(move || {
            switchyard_core::tokens::warm_up(models.iter().map(String::as_str));
        });
        let inner = Inner {
            prices: PriceTable::new(&config.prices),
            config,
            store,
            routes: RwLock::new(Arc::new(routes)),
            ledger: Ledger::default(),
            limiter: RateLimiter::default(),
            keys: KeyCache::default(),
            tokens: TokenCache::default(),
            usage,
            http,
            admin_key_hash,
            shutdown: CancellationToken::new(),
            deadline: CancellationToken::new(),
        };
        Ok((
            AppState {
                inner: Arc::new(inner),
            },
            generated,
        ))
    }

    /// The current routing table.
    pub(crate) fn routes(&self) -> Arc<RouteTable> {
        self.inner.routes.read().clone()
    }

    /// Reloads channels from the database.
    pub async fn reload_channels(&self) -> Result<(), StartError> {
        let table = load_routes(&self.inner.store).await?;
        *self.inner.routes.write() = Arc::new(table);
        Ok(())
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }
}

async fn sync_channels(config: &Config, store: &Store) -> Result<(), StartError> {
    for ch in &config.channels {
        let provider: Provider = ch
            .provider
            .parse()
            .map_err(|e| StartError::Channel(ch.name.clone(), e))?;
        let base_url = ch
            .base_url
            .clone()
            .or_else(|| provider.default_base_url().map(str::to_owned))
            .unwrap_or_default();
        store
            .upsert_channel(&switchyard_store::NewChannel {
                name: ch.name.clone(),
                provider: provider.as_str().to_owned(),
                base_url,
                key: ch.key.expose().to_owned(),
                models: ch.models.clone(),
                model_map: ch.model_map.clone(),
                priority: ch.priority,
                weight: ch.weight,
                enabled: ch.enabled,
            })
            .await?;
    }
    Ok(())
}

const ADMIN_KEY_SETTING: &str = "admin_key_sha256";

async fn ensure_admin_key(
    config: &Config,
    store: &Store,
) -> Result<(String, Option<String>), StartError> {
    if let Some(k) = &config.auth.admin_key {
        return Ok((keys::hash(k.expose()), None));
    }
    if let Some(h) = store.get_setting(ADMIN_KEY_SETTING).await? {
        return Ok((h, None));
    }
    let key = keys::generate();
    let hash = keys::hash(&key);
    if store
        .set_setting_if_absent(ADMIN_KEY_SETTING, &hash)
        .await?
    {
        return Ok((hash, Some(key)));
    }
    // Another instance generated one at the same moment: use theirs.
    let h = store.get_setting(ADMIN_KEY_SETTING).await?.unwrap_or(hash);
    Ok((h, None))
}

async fn load_routes(store: &Store) -> Result<RouteTable, StartError> {
    let mut channels = Vec::new();
    for ch in store.list_channels().await? {
        if !ch.enabled {
            continue;
        }
        let provider: Provider = ch
            .provider
            .parse()
            .map_err(|e| StartError::Channel(ch.name.clone(), e))?;
        let models = if ch.models.is_empty() {
            provider
                .default_models()
                .iter()
                .map(|m| (*m).to_owned())
                .collect()
        } else {
            ch.models.clone()
        };
        channels.push(Channel::new(
            ch.id,
            ch.name,
            provider,
            ch.base_url,
            Secret::new(ch.key),
            models,
            ch.model_map,
            ch.priority,
            ch.weight,
        ));
    }
    Ok(RouteTable::new(channels))
}
