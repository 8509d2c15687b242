//! Switchyard storage: settings, API keys, channels and the usage log on
//! SQLite or PostgreSQL.
//!
//! [`Store::connect`] picks the backend from the URL scheme and applies the
//! embedded migrations. Each backend uses its concrete sqlx pool (never
//! `sqlx::Any`) and its own SQL, so statements are prepared once per
//! connection and reused. Timestamps are stored as unix milliseconds and JSON
//! values as text, identically on both backends.

mod error;
mod migrate;
mod model;
mod postgres;
mod rows;
mod sqlite;

pub use error::{Result, StoreError, redact_url};
pub use model::{ApiKey, Channel, NewApiKey, NewChannel, UsageFilter, UsageRecord, UsageRow};

use sqlx::PgPool;

use crate::sqlite::SqlitePools;

/// Handle to the database; cheap to clone (all clones share the pools).
#[derive(Clone)]
pub struct Store {
    inner: Backend,
}

/// The concrete backend behind a [`Store`].
#[derive(Clone)]
enum Backend {
    /// SQLite: a single-connection writer pool and a read pool.
    Sqlite(SqlitePools),
    /// PostgreSQL: one pool.
    Postgres(PgPool),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// Dispatches a call to the SQLite pools or the PostgreSQL module.
macro_rules! dispatch {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match &$self.inner {
            Backend::Sqlite(pools) => pools.$method($($arg),*).await,
            Backend::Postgres(pool) => postgres::$method(pool $(, $arg)*).await,
        }
    };
}

impl Store {
    /// Connects and runs pending migrations.
    ///
    /// Accepted URLs: `sqlite://path` (file created if missing; its parent
    /// directory must exist), `sqlite::memory:` / `sqlite://:memory:` (one
    /// private in-memory database per call), and `postgres://…` /
    /// `postgresql://…`. Any other scheme yields [`StoreError::UnsupportedScheme`].
    pub async fn connect(url: &str) -> Result<Store> {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        let inner = match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Backend::Sqlite(sqlite::connect(url).await?),
            "postgres" | "postgresql" => Backend::Postgres(postgres::connect(url).await?),
            _ => {
                return Err(StoreError::UnsupportedScheme {
                    scheme: scheme.to_owned(),
                });
            }
        };
        let store = Store { inner };
        tracing::debug!(backend = store.backend(), url = %redact_url(url), "store connected");
        Ok(store)
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.inner {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self, ping())
    }

    /// Reads a setting.
    pub async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        dispatch!(self, get_setting(key))
    }

    /// Inserts or replaces a setting.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        dispatch!(self, set_setting(key, value))
    }

    /// Inserts a setting only if the key is absent; returns whether it was
    /// inserted. Atomic: of several racing callers exactly one gets `true`.
    pub async fn set_setting_if_absent(&self, key: &str, value: &str) -> Result<bool> {
        dispatch!(self, set_setting_if_absent(key, value))
    }

    /// Creates an API key (`used_micros` 0, not revoked, `created_at` now).
    /// Fails with a database error if `key_hash` already exists.
    pub async fn insert_key(&self, new: &NewApiKey) -> Result<ApiKey> {
        dispatch!(self, insert_key(new))
    }

    /// All keys (revoked ones included), ordered by id.
    pub async fn list_keys(&self) -> Result<Vec<ApiKey>> {
        dispatch!(self, list_keys())
    }

    /// A key by id.
    pub async fn get_key(&self, id: i64) -> Result<Option<ApiKey>> {
        dispatch!(self, get_key(id))
    }

    /// A key by the SHA-256 hex hash of its secret (revoked keys included).
    pub async fn get_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        dispatch!(self, get_key_by_hash(key_hash))
    }

    /// Marks a key revoked; `false` if no key has this id.
    pub async fn revoke_key(&self, id: i64) -> Result<bool> {
        dispatch!(self, revoke_key(id))
    }

    /// Inserts a channel, or updates the one with the same name in place
    /// (same id and `created_at`, new `updated_at`).
    pub async fn upsert_channel(&self, ch: &NewChannel) -> Result<Channel> {
        dispatch!(self, upsert_channel(ch))
    }

    /// All channels, ordered by id.
    pub async fn list_channels(&self) -> Result<Vec<Channel>> {
        dispatch!(self, list_channels())
    }

    /// In one transaction, inserts every row and adds each row's
    /// `cost_micros` to `api_keys.used_micros` of its `key_id` (rows without a
    /// key are only inserted). An empty slice is a no-op.
    pub async fn insert_usage_batch(&self, rows: &[UsageRow]) -> Result<()> {
        dispatch!(self, insert_usage_batch(rows))
    }

    /// Usage records matching `filter`, newest first (id descending).
    pub async fn list_usage(&self, filter: &UsageFilter) -> Result<Vec<UsageRecord>> {
        dispatch!(self, list_usage(filter))
    }

    /// Closes all connections; later calls fail.
    pub async fn close(&self) {
        match &self.inner {
            Backend::Sqlite(pools) => pools.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}
