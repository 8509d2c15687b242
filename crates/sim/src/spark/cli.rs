//! Command-line arguments of `switchyard-sim spark`.
//!
//! ```text
//! switchyard-sim spark [--listen 127.0.0.1:0] [--app-id sim-app] [--api-key sim-key]
//!     [--api-secret sim-secret] [--latency-ms N] [--chunks N] [--chunk-interval-ms N]
//! ```
//! The channel key for Switchyard is then `APP_ID|API_KEY|API_SECRET` and its `base_url`
//! `http://IP:PORT` (the Spark adapter connects to it as `ws://IP:PORT`).

use std::net::SocketAddr;

use clap::Parser;

use super::SparkSimConfig;

/// `switchyard-sim spark` arguments.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard-sim spark",
    about = "Simulator of iFlytek Spark's WebSocket API"
)]
pub struct SparkArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The accepted `header.app_id`.
    #[arg(long, default_value = "sim-app")]
    pub app_id: String,
    /// The accepted API key.
    #[arg(long, default_value = "sim-key")]
    pub api_key: String,
    /// The API secret signatures are checked with.
    #[arg(long, default_value = "sim-secret")]
    pub api_secret: String,
    /// Delay before the first frame.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Frames (tokens) per answer.
    #[arg(long, default_value_t = 5)]
    pub chunks: usize,
    /// Delay between frames.
    #[arg(long, default_value_t = 0)]
    pub chunk_interval_ms: u64,
}

impl SparkArgs {
    /// The simulator config these arguments describe.
    pub fn config(&self) -> SparkSimConfig {
        let mut cfg = SparkSimConfig::new(&self.app_id, &self.api_key, &self.api_secret);
        cfg.latency_ms = self.latency_ms;
        cfg.chunks = self.chunks;
        cfg.chunk_interval_ms = self.chunk_interval_ms;
        cfg
    }
}
