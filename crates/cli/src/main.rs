//! The `switchyard` binary: `serve`, `demo` and `keys`.

#![allow(clippy::print_stdout)]

mod alloc;
mod demo;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use switchyard_core::Config;
use switchyard_server::{AppState, CreateKey};
use switchyard_store::Store;

#[global_allocator]
static ALLOC: alloc::MiMalloc = alloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "One OpenAI-compatible API in front of every model provider"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs the gateway.
    Serve {
        /// TOML config file (also SWITCHYARD_CONFIG).
        #[arg(long, env = "SWITCHYARD_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Starts simulators of every implemented provider and a gateway wired to them.
    Demo {
        /// Address for the gateway (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Manages API keys.
    Keys {
        #[command(subcommand)]
        cmd: KeysCmd,
        /// TOML config file (also SWITCHYARD_CONFIG).
        #[arg(long, env = "SWITCHYARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Creates a key and prints it (last line of output).
    Create {
        /// A label.
        #[arg(long)]
        name: String,
        /// Quota in USD.
        #[arg(long)]
        quota_usd: Option<f64>,
        /// Allowed models, comma-separated.
        #[arg(long, value_delimiter = ',')]
        models: Option<Vec<String>>,
        /// Requests per minute.
        #[arg(long)]
        rpm: Option<i64>,
        /// Expiry, RFC 3339.
        #[arg(long)]
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Lists keys (never the keys themselves).
    List,
    /// Revokes a key by id.
    Revoke {
        /// The key's id.
        id: i64,
    },
}

fn env_pairs() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("SWITCHYARD_"))
        .collect()
}

fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    Ok(Config::load(path, &env_pairs())?)
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHYARD_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Serve { config } => {
            let config = load_config(config.as_deref())?;
            serve(config).await
        }
        Cmd::Demo { listen } => demo::run(&listen).await,
        Cmd::Keys { cmd, config } => {
            let config = load_config(config.as_deref())?;
            let store = Store::connect(&config.database.url)
                .await
                .context("opening the database")?;
            keys(cmd, &store).await
        }
    }
}

/// Starts the gateway on `config` and runs until SIGTERM or Ctrl-C.
pub(crate) async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = bind(&config).await?;
    serve_on(listener, config).await
}

/// Binds `config.server.listen`.
pub(crate) async fn bind(config: &Config) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("binding {}", config.server.listen))
}

/// Runs the gateway on an already bound `listener` until SIGTERM or Ctrl-C.
pub(crate) async fn serve_on(
    listener: tokio::net::TcpListener,
    config: Config,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let store = Store::connect(&config.database.url)
        .await
        .context("opening the database")?;
    let (state, generated) = AppState::start(config, store.clone()).await?;
    if let Some(k) = generated {
        println!("admin key (shown once, only its hash is stored): {k}");
    }
    println!("switchyard listening on http://{addr}");
    serve_until_signal(listener, state).await?;
    store.close().await;
    Ok(())
}

async fn serve_until_signal(
    listener: tokio::net::TcpListener,
    state: AppState,
) -> anyhow::Result<()> {
    switchyard_server::serve(listener, state, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn keys(cmd: KeysCmd, store: &Store) -> anyhow::Result<()> {
    match cmd {
        KeysCmd::Create {
            name,
            quota_usd,
            models,
            rpm,
            expires_at,
        } => {
            let (rec, key) = switchyard_server::create_key(
                store,
                CreateKey {
                    name,
                    quota_usd,
                    models,
                    rpm,
                    expires_at,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
            println!("created key id {} ({})", rec.id, rec.name);
            println!("{key}");
        }
        KeysCmd::List => {
            for k in store.list_keys().await? {
                println!("{}", switchyard_server::key_json(&k));
            }
        }
        KeysCmd::Revoke { id } => {
            if store.revoke_key(id).await? {
                println!("revoked key {id}");
            } else {
                anyhow::bail!("no key with id {id}");
            }
        }
    }
    Ok(())
}
