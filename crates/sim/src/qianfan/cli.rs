//! `switchyard-sim qianfan …` and `switchyard-sim qianfan-v2 …` arguments.

use std::net::SocketAddr;

use clap::Parser;

use super::{QianfanSimConfig, QianfanV2SimConfig};

/// Command-line arguments of the Qianfan v1 simulator.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard-sim qianfan",
    about = "Simulator of Baidu Qianfan v1 (OAuth token + wenxinworkshop)"
)]
pub struct QianfanArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The application's API Key (OAuth client_id).
    #[arg(long, default_value = "simQianfanApiKey0123")]
    pub api_key: String,
    /// The application's Secret Key (OAuth client_secret).
    #[arg(long, default_value = "simQianfanSecretKey0123456789")]
    pub secret_key: String,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, default_value_t = 2_592_000)]
    pub token_ttl_secs: u64,
    /// Comma-separated known chat endpoints (empty: the defaults).
    #[arg(long, value_delimiter = ',')]
    pub endpoints: Vec<String>,
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

impl QianfanArgs {
    /// The simulator configuration these arguments describe.
    pub fn config(&self) -> QianfanSimConfig {
        let mut cfg = QianfanSimConfig::new(self.api_key.clone(), self.secret_key.clone());
        cfg.token_ttl_secs = self.token_ttl_secs;
        cfg.endpoints = self
            .endpoints
            .iter()
            .filter(|e| !e.is_empty())
            .cloned()
            .collect();
        cfg.latency_ms = self.latency_ms;
        cfg.chunks = self.chunks;
        cfg.chunk_interval_ms = self.chunk_interval_ms;
        cfg
    }
}

/// Command-line arguments of the Qianfan v2 simulator.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard-sim qianfan-v2",
    about = "Simulator of Baidu Qianfan v2 (OpenAI-shaped, bce-v3 bearer key)"
)]
pub struct QianfanV2Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The only accepted key.
    #[arg(long, default_value = "bce-v3/ALTAK-sim0123456789/0123456789abcdef")]
    pub key: String,
    /// Comma-separated known models (empty: the defaults).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Delay before the headers (non-stream) or the first chunk (stream).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Pieces (tokens) per answer.
    #[arg(long, default_value_t = 5)]
    pub chunks: usize,
    /// Delay between stream chunks.
    #[arg(long, default_value_t = 0)]
    pub chunk_interval_ms: u64,
}

impl QianfanV2Args {
    /// The simulator configuration these arguments describe.
    pub fn config(&self) -> QianfanV2SimConfig {
        let mut cfg = QianfanV2SimConfig::new(self.key.clone());
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
