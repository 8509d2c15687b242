//! Command-line arguments of `switchyard-sim anthropic`.
//!
//! ```text
//! switchyard-sim anthropic [--listen 127.0.0.1:0] [--key sk-ant-sim] [--models a,b]
//!     [--latency-ms N] [--chunks N] [--chunk-interval-ms N]
//!     [--cache-read-tokens N] [--cache-creation-tokens N]
//! ```
//! A Switchyard channel then uses `provider = "anthropic"`, `base_url = "http://IP:PORT"` and
//! the key.

use std::net::SocketAddr;

use clap::Parser;

use super::AnthropicSimConfig;

/// `switchyard-sim anthropic` arguments.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard-sim anthropic",
    about = "Simulator of the Anthropic Messages API"
)]
pub struct AnthropicArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The only accepted API key (`x-api-key` or Bearer).
    #[arg(long, default_value = "sk-ant-sim")]
    pub key: String,
    /// Comma-separated served models (empty serves every known Claude model).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Delay before the headers (non-stream) or the first event (stream).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Text pieces (tokens) per answer.
    #[arg(long, default_value_t = 5)]
    pub chunks: usize,
    /// Delay between stream events.
    #[arg(long, default_value_t = 0)]
    pub chunk_interval_ms: u64,
    /// `cache_read_input_tokens` reported in usage.
    #[arg(long, default_value_t = 0)]
    pub cache_read_tokens: u64,
    /// `cache_creation_input_tokens` reported in usage.
    #[arg(long, default_value_t = 0)]
    pub cache_creation_tokens: u64,
}

impl AnthropicArgs {
    /// The simulator config these arguments describe.
    pub fn config(&self) -> AnthropicSimConfig {
        let mut cfg = AnthropicSimConfig::new(&self.key)
            .with_cache_tokens(self.cache_read_tokens, self.cache_creation_tokens);
        cfg.models = self
            .models
            .iter()
            .filter(|m| !m.is_empty())
            .cloned()
            .collect();
        cfg.latency_ms = self.latency_ms;
        cfg.chunks = self.chunks;
        cfg.chunk_interval_ms = self.chunk_interval_ms;
        cfg
    }
}
