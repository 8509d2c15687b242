//! `switchyard-sim`: runs one simulator until SIGTERM or Ctrl-C.
//!
//! ```text
//! switchyard-sim <openai|moonshot|stepfun> [--listen 127.0.0.1:0] [--key sk-sim]
//!     [--models a,b] [--latency-ms N] [--chunks N] [--chunk-interval-ms N]
//! switchyard-sim dashscope [--key sk-…] [--workspace WS] …              (see dashscope::cli)
//! switchyard-sim hunyuan [--secret-id ID] [--secret-key K] …             (see hunyuan::cli)
//! switchyard-sim spark [--app-id ID] [--api-key K] [--api-secret S] …   (see spark::cli)
//! switchyard-sim zhipu [--key id.secret] [--models a,b] [--chunks N] …   (see zhipu::cli)
//! switchyard-sim qianfan [--api-key K] [--secret-key S] [--token-ttl-secs N] … (see qianfan::cli)
//! switchyard-sim qianfan-v2 [--key bce-v3/…] [--models a,b] …            (see qianfan::cli)
//! switchyard-sim anthropic [--key sk-ant-sim] [--models a,b] [--chunks N] … (see anthropic::cli)
//! switchyard-sim gemini [--key AIza…] [--models a,b] [--lf] [--cached-tokens N] … (see gemini::cli)
//! ```
//! The first stdout line is exactly `listening on http://IP:PORT`; logs go to stderr.

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;

use clap::Parser;
use switchyard_sim::{Flavor, OpenAiSimConfig, spawn_openai_on};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard-sim",
    about = "Faithful simulator of an upstream LLM API"
)]
struct Args {
    /// Provider dialect: openai, moonshot or stepfun.
    flavor: Flavor,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The only accepted bearer key.
    #[arg(long, default_value = "sk-sim")]
    key: String,
    /// Comma-separated known models (empty accepts any model).
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// Delay before the headers (non-stream) or the first chunk (stream).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Pieces (tokens) per answer.
    #[arg(long, default_value_t = 5)]
    chunks: usize,
    /// Delay between stream chunks.
    #[arg(long, default_value_t = 0)]
    chunk_interval_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    if std::env::args().nth(1).as_deref() == Some("dashscope") {
        let args =
            switchyard_sim::dashscope::cli::DashScopeArgs::parse_from(std::env::args().skip(1));
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let handle = switchyard_sim::spawn_dashscope_on(listener, args.config());
        announce(handle.addr())?;
        tracing::info!(addr = %handle.addr(), "dashscope simulator running");
        shutdown_signal().await?;
        handle.shutdown();
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("hunyuan") {
        let args = switchyard_sim::hunyuan::cli::HunyuanArgs::parse_from(std::env::args().skip(1));
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let handle = switchyard_sim::spawn_hunyuan_on(listener, args.config());
        announce(handle.addr())?;
        tracing::info!(addr = %handle.addr(), "hunyuan simulator running");
        shutdown_signal().await?;
        handle.shutdown();
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("spark") {
        let args = switchyard_sim::spark::cli::SparkArgs::parse_from(std::env::args().skip(1));
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let handle = switchyard_sim::spawn_spark_on(listener, args.config());
        announce(handle.addr())?;
        tracing::info!(addr = %handle.addr(), "spark simulator running");
        shutdown_signal().await?;
        handle.shutdown();
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("anthropic") {
        let args =
            switchyard_sim::anthropic::cli::AnthropicArgs::parse_from(std::env::args().skip(1));
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let handle = switchyard_sim::spawn_anthropic_on(listener, args.config());
        announce(handle.addr())?;
        tracing::info!(addr = %handle.addr(), "anthropic simulator running");
        shutdown_signal().await?;
        handle.shutdown();
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("gemini") {
        let args = switchyard_sim::gemini::cli::GeminiArgs::parse_from(std::env::args().skip(1));
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let handle = switchyard_sim::spawn_gemini_on(listener, args.config());
        announce(handle.addr())?;
        tracing::info!(addr = %handle.addr(), "gemini simulator running");
        shutdown_signal().await?;
        handle.shutdown();
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("zhipu") {
        let args = switchyard_sim::zhipu::cli::ZhipuArgs::parse_from(std::env::args().skip(1));
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let handle = switchyard_sim::spawn_zhipu_on(listener, args.config());
        announce(handle.addr())?;
        tracing::info!(addr = %handle.addr(), "zhipu simulator running");
        shutdown_signal().await?;
        handle.shutdown();
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("qianfan") {
        let args = switchyard_sim::qianfan::cli::QianfanArgs::parse_from(std::env::args().skip(1));
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let handle = switchyard_sim::spawn_qianfan_on(listener, args.config());
        announce(handle.addr())?;
        tracing::info!(addr = %handle.addr(), "qianfan simulator running");
        shutdown_signal().await?;
        handle.shutdown();
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("qianfan-v2") {
        let args =
            switchyard_sim::qianfan::cli::QianfanV2Args::parse_from(std::env::args().skip(1));
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let handle = switchyard_sim::spawn_qianfan_v2_on(listener, args.config());
        announce(handle.addr())?;
        tracing::info!(addr = %handle.addr(), "qianfan-v2 simulator running");
        shutdown_signal().await?;
        handle.shutdown();
        return Ok(());
    }
    let args = Args::parse();
    let mut cfg = OpenAiSimConfig::new(args.flavor, args.key);
    cfg.models = args.models.into_iter().filter(|m| !m.is_empty()).collect();
    cfg.latency_ms = args.latency_ms;
    cfg.chunks = args.chunks;
    cfg.chunk_interval_ms = args.chunk_interval_ms;

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let handle = spawn_openai_on(listener, cfg).await;
    announce(handle.addr())?;
    tracing::info!(flavor = %args.flavor, addr = %handle.addr(), "simulator running");

    shutdown_signal().await?;
    tracing::info!("shutting down");
    handle.shutdown();
    Ok(())
}

#[allow(clippy::print_stdout)]
fn announce(addr: SocketAddr) -> std::io::Result<()> {
    println!("listening on http://{addr}");
    std::io::stdout().flush()
}

async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            res = tokio::signal::ctrl_c() => res,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
