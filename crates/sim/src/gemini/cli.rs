//! Command-line arguments of `switchyard-sim gemini`.
//!
//! ```text
//! switchyard-sim gemini [--listen 127.0.0.1:0] [--key AIzaSim…] [--models a,b]
//!     [--latency-ms N] [--chunks N] [--chunk-interval-ms N] [--lf] [--cached-tokens N]
//! ```
//! The Switchyard channel is then `provider = "gemini"`, `base_url = "http://IP:PORT"` and the
//! key.

use std::net::SocketAddr;

use clap::Parser;

use super::{Framing, GeminiSimConfig};

/// `switchyard-sim gemini` arguments.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard-sim gemini",
    about = "Simulator of the Google Gemini API"
)]
pub struct GeminiArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The only accepted API key.
    #[arg(long, default_value = "AIzaSimulatorKey000000000000000000000")]
    pub key: String,
    /// Comma-separated known models (empty: the defaults).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Delay before the headers (non-stream) or the first event (stream).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Pieces (tokens) per answer.
    #[arg(long, default_value_t = 5)]
    pub chunks: usize,
    /// Delay between stream events.
    #[arg(long, default_value_t = 0)]
    pub chunk_interval_ms: u64,
    /// Frame stream events with LF LF instead of CRLF CRLF.
    #[arg(long)]
    pub lf: bool,
    /// `cachedContentTokenCount` to report.
    #[arg(long, default_value_t = 0)]
    pub cached_tokens: u64,
}

impl GeminiArgs {
    /// The simulator config these arguments describe.
    pub fn config(&self) -> GeminiSimConfig {
        let mut cfg = GeminiSimConfig::new(&self.key)
            .with_models(self.models.iter().filter(|m| !m.is_empty()).cloned())
            .with_chunks(self.chunks)
            .with_cached_tokens(self.cached_tokens)
            .with_framing(if self.lf { Framing::Lf } else { Framing::Crlf });
        cfg.latency_ms = self.latency_ms;
        cfg.chunk_interval_ms = self.chunk_interval_ms;
        cfg
    }
}
