//! Command-line arguments of `switchyard-sim hunyuan`.
//!
//! ```text
//! switchyard-sim hunyuan [--listen 127.0.0.1:0] [--secret-id AKIDsim] [--secret-key sim-secret]
//!     [--models a,b] [--latency-ms N] [--chunks N] [--chunk-interval-ms N]
//! ```
//! The channel key for Switchyard is then `SECRET_ID|SECRET_KEY` and its `base_url`
//! `http://IP:PORT`.

use std::net::SocketAddr;

use clap::Parser;

use super::HunyuanSimConfig;

/// `switchyard-sim hunyuan` arguments.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard-sim hunyuan",
    about = "Simulator of Tencent Hunyuan's Cloud API 3.0 (TC3-HMAC-SHA256)"
)]
pub struct HunyuanArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The accepted SecretId.
    #[arg(long, default_value = "AKIDsimulator0000000000000000000000")]
    pub secret_id: String,
    /// The SecretKey signatures are checked with.
    #[arg(long, default_value = "sim-secret-key")]
    pub secret_key: String,
    /// Comma-separated known models (empty: the documented model names).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Delay before the answer or the first frame.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Pieces (tokens) per answer.
    #[arg(long, default_value_t = 5)]
    pub chunks: usize,
    /// Delay between stream frames.
    #[arg(long, default_value_t = 0)]
    pub chunk_interval_ms: u64,
}

impl HunyuanArgs {
    /// The simulator config these arguments describe.
    pub fn config(&self) -> HunyuanSimConfig {
        HunyuanSimConfig::new(&self.secret_id, &self.secret_key)
            .with_models(self.models.iter().filter(|m| !m.is_empty()).cloned())
            .with_latency_ms(self.latency_ms)
            .with_chunks(self.chunks)
            .with_chunk_interval_ms(self.chunk_interval_ms)
    }
}
