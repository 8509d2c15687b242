//! Command-line arguments of `switchyard-sim dashscope`.
//!
//! ```text
//! switchyard-sim dashscope [--listen 127.0.0.1:0] [--key sk-sim] [--workspace WS]
//!     [--models a,b] [--latency-ms N] [--chunks N] [--chunk-interval-ms N]
//! ```
//! The channel's `base_url` for Switchyard is then `http://IP:PORT/api/v1` and its key the
//! `--key` (written `KEY|WS` when a workspace is required).

use std::net::SocketAddr;

use clap::Parser;

use super::DashScopeSimConfig;

/// `switchyard-sim dashscope` arguments.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard-sim dashscope",
    about = "Simulator of Alibaba DashScope's native API (Qwen)"
)]
pub struct DashScopeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The only accepted bearer key.
    #[arg(long, default_value = "sk-sim")]
    pub key: String,
    /// The workspace `X-DashScope-WorkSpace` must name (none: the header is not checked).
    #[arg(long)]
    pub workspace: Option<String>,
    /// Comma-separated known models (empty accepts any model).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Delay before the answer or the first chunk.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Pieces (tokens) per answer.
    #[arg(long, default_value_t = 5)]
    pub chunks: usize,
    /// Delay between stream chunks.
    #[arg(long, default_value_t = 0)]
    pub chunk_interval_ms: u64,
}

impl DashScopeArgs {
    /// The simulator config these arguments describe.
    pub fn config(&self) -> DashScopeSimConfig {
        let mut cfg = DashScopeSimConfig::new(&self.key)
            .with_models(self.models.iter().filter(|m| !m.is_empty()).cloned())
            .with_latency_ms(self.latency_ms)
            .with_chunks(self.chunks)
            .with_chunk_interval_ms(self.chunk_interval_ms);
        if let Some(ws) = &self.workspace {
            cfg = cfg.with_workspace(ws);
        }
        cfg
    }
}
