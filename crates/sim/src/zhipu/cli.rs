//! `switchyard-sim zhipu …` arguments.

use std::net::SocketAddr;

use clap::Parser;

use super::ZhipuSimConfig;

/// Command-line arguments of the Zhipu simulator.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard-sim zhipu",
    about = "Simulator of Zhipu GLM (v4 and v3 APIs)"
)]
pub struct ZhipuArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The API key `id.secret` whose secret verifies the JWTs.
    #[arg(long, default_value = "simid0123456789.simsecret0123456789")]
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
}

impl ZhipuArgs {
    /// The simulator configuration these arguments describe.
    pub fn config(&self) -> ZhipuSimConfig {
        let mut cfg = ZhipuSimConfig::new(self.key.clone());
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
