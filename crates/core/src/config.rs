//! Typed configuration: TOML file, then `SWITCHYARD_<SECTION>__<KEY>` environment overrides.
//!
//! Unknown keys are errors that name the key (every struct denies unknown fields). The
//! environment is passed in as a list of pairs rather than read globally, so tests never mutate
//! the process environment. [`Config::validate`] reports every problem at once, with its path.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Deserialize;
use switchyard_providers::Provider;

use crate::Secret;

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The HTTP listener.
    pub server: ServerConfig,
    /// Where state lives.
    pub database: DatabaseConfig,
    /// The admin credential.
    pub auth: AuthConfig,
    /// Timeouts and failover towards upstreams.
    pub upstream: UpstreamConfig,
    /// The usage-log writer.
    pub usage: UsageConfig,
    /// Prices per model, USD per million tokens; `"*"` is the fallback for unknown models.
    pub prices: BTreeMap<String, PriceConfig>,
    /// Upstream accounts, synced into the database at start (upsert by name).
    pub channels: Vec<ChannelConfig>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: String,
    /// Largest request body accepted, in bytes (413 above it).
    #[serde(deserialize_with = "lenient")]
    pub max_body_bytes: usize,
    /// After SIGTERM, how long open requests may run before they are ended.
    #[serde(deserialize_with = "lenient")]
    pub shutdown_grace_secs: u64,
    /// Interval of SSE keep-alive comments while an upstream is silent.
    #[serde(deserialize_with = "lenient")]
    pub keepalive_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 16 * 1024 * 1024,
            shutdown_grace_secs: 30,
            keepalive_secs: 15,
        }
    }
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path` or `postgres://…`.
    pub url: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://switchyard.db".into(),
        }
    }
}

/// `[auth]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The admin API key. When unset and none is stored, one is generated at first start.
    pub admin_key: Option<Secret>,
}

/// `[upstream]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// TCP (and TLS) connect timeout.
    #[serde(deserialize_with = "lenient")]
    pub connect_timeout_ms: u64,
    /// Time allowed until the upstream's response headers and, for streams, its first event.
    #[serde(deserialize_with = "lenient")]
    pub first_byte_timeout_ms: u64,
    /// Longest silence allowed between two stream events.
    #[serde(deserialize_with = "lenient")]
    pub idle_timeout_ms: u64,
    /// Most channels tried for one request.
    #[serde(deserialize_with = "lenient")]
    pub max_attempts: usize,
    /// Consecutive failures after which a channel is put in cooldown.
    #[serde(deserialize_with = "lenient")]
    pub failure_threshold: u32,
    /// How long a channel in cooldown is tried only after healthy ones.
    #[serde(deserialize_with = "lenient")]
    pub cooldown_secs: u64,
    /// Let the gateway fetch image URLs on loopback, private and link-local addresses (off:
    /// such URLs are refused, so clients cannot make the gateway probe its own network).
    #[serde(deserialize_with = "lenient")]
    pub image_fetch_allow_private: bool,
    /// Largest image the gateway fetches for a provider that needs images inline.
    #[serde(deserialize_with = "lenient")]
    pub image_fetch_max_bytes: usize,
    /// Time allowed for one image fetch.
    #[serde(deserialize_with = "lenient")]
    pub image_fetch_timeout_ms: u64,
    /// Most idle connections kept open to one upstream host. A burst opens as many connections
    /// as it has requests in flight; beyond this many, those left idle after it are closed
    /// rather than held for the 90 s idle timeout.
    #[serde(deserialize_with = "lenient")]
    pub pool_max_idle_per_host: usize,
    /// A PEM file of root certificates trusted for upstream HTTPS besides the operating
    /// system's (a company CA in front of the providers, or a test CA).
    pub ca_file: Option<String>,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 10_000,
            first_byte_timeout_ms: 120_000,
            idle_timeout_ms: 120_000,
            max_attempts: 3,
            failure_threshold: 3,
            cooldown_secs: 30,
            image_fetch_allow_private: false,
            image_fetch_max_bytes: 20 * 1024 * 1024,
            image_fetch_timeout_ms: 10_000,
            pool_max_idle_per_host: 256,
            ca_file: None,
        }
    }
}

/// `[usage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageConfig {
    /// Most rows written in one transaction.
    #[serde(deserialize_with = "lenient")]
    pub batch_size: usize,
    /// Longest time a row waits before it is written.
    #[serde(deserialize_with = "lenient")]
    pub flush_interval_ms: u64,
}

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            batch_size: 256,
            flush_interval_ms: 200,
        }
    }
}

/// A price entry, in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceConfig {
    /// Prompt tokens.
    pub input: f64,
    /// Completion tokens.
    pub output: f64,
    /// Cached prompt tokens (defaults to `input`).
    #[serde(default)]
    pub cached_input: Option<f64>,
}

/// One `[[channels]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Unique name; the sync key.
    pub name: String,
    /// Provider kind (`openai`, `moonshot`, `stepfun`, `openai-compatible`).
    pub provider: String,
    /// Base URL; defaults to the provider's.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The upstream credential.
    pub key: Secret,
    /// Models served; empty means the provider's defaults.
    #[serde(default)]
    pub models: Vec<String>,
    /// Requested name → upstream name.
    #[serde(default)]
    pub model_map: BTreeMap<String, String>,
    /// Higher is tried first.
    #[serde(default)]
    pub priority: i64,
    /// Share among channels of equal priority.
    #[serde(default = "one")]
    pub weight: i64,
    /// Disabled channels are never tried.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn one() -> i64 {
    1
}

fn yes() -> bool {
    true
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax, unknown keys or wrong types.
    #[error("invalid configuration: {0}")]
    Parse(String),
    /// Values that parse but make no sense, one line per problem.
    #[error("invalid configuration:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
}

impl Config {
    /// Loads `file` (if any) and applies the `SWITCHYARD_<SECTION>__<KEY>` pairs of `env`, then
    /// validates. `SWITCHYARD_ADMIN_KEY` is a shorthand for `SWITCHYARD_AUTH__ADMIN_KEY`.
    pub fn load(
        file: Option<&std::path::Path>,
        env: &[(String, String)],
    ) -> Result<Self, ConfigError> {
        let text = match file {
            Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.display().to_string(),
                source,
            })?,
            None => String::new(),
        };
        Self::from_toml(&text, env)
    }

    /// Parses TOML text and applies the environment overrides, then validates.
    pub fn from_toml(text: &str, env: &[(String, String)]) -> Result<Self, ConfigError> {
        let mut tree: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        for (name, raw) in env {
            let path: Vec<String> = if name == "SWITCHYARD_ADMIN_KEY" {
                vec!["auth".into(), "admin_key".into()]
            } else if let Some(rest) = name.strip_prefix("SWITCHYARD_") {
                if !rest.contains("__") {
                    continue;
                }
                rest.split("__").map(str::to_ascii_lowercase).collect()
            } else {
                continue;
            };
            set_path(&mut tree, &path, raw)
                .map_err(|e| ConfigError::Parse(format!("{name}: {e}")))?;
        }
        let config: Config = toml::Value::Table(tree)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Reports every problem, each with its path.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.server.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "server.listen: `{}` is not an address like 127.0.0.1:8080",
                self.server.listen
            ));
        }
        if self.server.max_body_bytes == 0 {
            problems.push("server.max_body_bytes: must be positive".into());
        }
        if self.upstream.max_attempts == 0 {
            problems.push("upstream.max_attempts: must be at least 1".into());
        }
        if self.usage.batch_size == 0 {
            problems.push("usage.batch_size: must be at least 1".into());
        }
        for (model, p) in &self.prices {
            let all = [Some(p.input), Some(p.output), p.cached_input];
            if all.iter().flatten().any(|v| !v.is_finite() || *v < 0.0) {
                problems.push(format!(
                    "prices.{model}: prices must be finite and not negative"
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, ch) in self.channels.iter().enumerate() {
            let at = format!("channels[{i}] ({})", ch.name);
            if ch.name.trim().is_empty() {
                problems.push(format!("channels[{i}].name: must not be empty"));
            }
            if !names.insert(ch.name.as_str()) {
                problems.push(format!("{at}.name: duplicate channel name"));
            }
            match ch.provider.parse::<Provider>() {
                Err(e) => problems.push(format!("{at}.provider: {e}")),
                Ok(p) => {
                    if ch.base_url.is_none() && p.default_base_url().is_none() {
                        problems.push(format!("{at}.base_url: required for provider `{p}`"));
                    }
                    if ch.models.is_empty() && p.default_models().is_empty() {
                        problems.push(format!("{at}.models: required for provider `{p}`"));
                    }
                }
            }
            if let Some(u) = &ch.base_url
                && !["http://", "https://", "ws://", "wss://"]
                    .iter()
                    .any(|p| u.starts_with(p))
            {
                problems.push(format!(
                    "{at}.base_url: must start with http(s):// or ws(s)://"
                ));
            }
            if ch.weight < 1 {
                problems.push(format!("{at}.weight: must be at least 1"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

/// Reads a number from a TOML number or from a string (environment overrides are strings).
fn lenient<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr + serde::Deserialize<'de>,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either<T> {
        Value(T),
        Text(String),
    }
    match Either::<T>::deserialize(d)? {
        Either::Value(v) => Ok(v),
        Either::Text(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

/// Sets `path` in the TOML tree to the string `raw`; typed fields parse it themselves.
fn set_path(tree: &mut toml::Table, path: &[String], raw: &str) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty key")?;
    let mut node = tree;
    for p in parents {
        let entry = node
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{p}` is not a table"))?;
    }
    node.insert(last.clone(), toml::Value::String(raw.to_owned()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_with_no_config() {
        let c = Config::from_toml("", &[]).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        assert_eq!(c.database.url, "sqlite://switchyard.db");
        assert!(c.auth.admin_key.is_none());
    }

    #[test]
    fn env_overrides_with_types() {
        let c = Config::from_toml(
            "[server]\nlisten = \"0.0.0.0:1\"\n",
            &env(&[
                ("SWITCHYARD_SERVER__LISTEN", "127.0.0.1:9999"),
                ("SWITCHYARD_SERVER__MAX_BODY_BYTES", "1024"),
                ("SWITCHYARD_DATABASE__URL", "postgres://x@h/db"),
                ("SWITCHYARD_ADMIN_KEY", "12345"),
                ("SWITCHYARD_CONFIG", "/ignored"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9999");
        assert_eq!(c.server.max_body_bytes, 1024);
        assert_eq!(c.database.url, "postgres://x@h/db");
        assert_eq!(c.auth.admin_key.unwrap().expose(), "12345");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::from_toml("[server]\nlisten_addr = \"x\"\n", &[]).unwrap_err();
        assert!(e.to_string().contains("listen_addr"), "{e}");
        let e = Config::from_toml("", &env(&[("SWITCHYARD_SERVER__BOGUS", "1")])).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = Config::from_toml(
            "[[channels]]\nname='a'\nprovider='openai'\nkey='k'\nmodle=[]\n",
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("modle"), "{e}");
    }

    #[test]
    fn channels_parse_and_validate_every_problem() {
        let c = Config::from_toml(
            r#"
            [[channels]]
            name = "openai-main"
            provider = "openai"
            key = "sk-123"
            models = ["gpt-4"]
            model_map = { "gpt-4" = "gpt-4-0613" }
            priority = 10
            "#,
            &[],
        )
        .unwrap();
        assert_eq!(c.channels[0].weight, 1);
        assert_eq!(c.channels[0].model_map["gpt-4"], "gpt-4-0613");
        let e = Config::from_toml(
            r#"
            [[channels]]
            name = "a"
            provider = "nope"
            key = "k"
            [[channels]]
            name = "a"
            provider = "openai-compatible"
            key = "k"
            weight = 0
            "#,
            &[],
        )
        .unwrap_err()
        .to_string();
        let ws = Config::from_toml(
            "[[channels]]\nname='s'\nprovider='spark'\nkey='a|b|c'\nbase_url='ws://127.0.0.1:9'\n",
            &[],
        );
        assert!(ws.is_ok(), "{ws:?}");
        for want in [
            "unknown provider `nope`",
            "duplicate",
            "base_url: required",
            "models: required",
            "weight",
        ] {
            assert!(e.contains(want), "missing {want}: {e}");
        }
    }
}
