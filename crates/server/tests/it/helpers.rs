//! A gateway on a temporary SQLite database, wired to simulators, on a real socket.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_core::Config;
use switchyard_server::{AppState, CreateKey};
use switchyard_sim::{Flavor, OpenAiSimConfig, SimHandle, spawn_openai};
use switchyard_store::{Store, UsageFilter, UsageRecord};
use tokio::sync::oneshot;

pub const ADMIN: &str = "sk-admin-test-0123456789abcdef";

pub struct Gateway {
    pub base: String,
    pub state: AppState,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    pub join: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// One `[[channels]]` entry.
pub fn channel(
    name: &str,
    provider: &str,
    base_url: &str,
    key: &str,
    models: &[&str],
    priority: i64,
) -> String {
    let models: Vec<String> = models.iter().map(|m| format!("\"{m}\"")).collect();
    format!(
        "[[channels]]\nname = \"{name}\"\nprovider = \"{provider}\"\nbase_url = \"{base_url}\"\nkey = \"{key}\"\nmodels = [{}]\npriority = {priority}\n\n",
        models.join(", ")
    )
}

pub async fn sim(flavor: Flavor, key: &str) -> SimHandle {
    spawn_openai(OpenAiSimConfig::new(flavor, key))
        .await
        .unwrap()
}

impl Gateway {
    /// Starts a gateway with `extra` TOML (sections and channels) on a fresh database.
    pub async fn start(extra: &str) -> Gateway {
        Self::start_with(extra, &[]).await
    }

    /// As [`Gateway::start`], with `SWITCHYARD_…` environment overrides.
    pub async fn start_with(extra: &str, env: &[(&str, &str)]) -> Gateway {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nkeepalive_secs = 1\nshutdown_grace_secs = 2\n[database]\nurl = \"sqlite://{}\"\n[auth]\nadmin_key = \"{ADMIN}\"\n[usage]\nflush_interval_ms = 20\n{extra}",
            dir.path().join("gw.db").display()
        );
        let config = Config::from_toml(&text, &env).unwrap();
        let store = Store::connect(&config.database.url).await.unwrap();
        let (state, generated) = AppState::start(config, store).await.unwrap();
        assert!(generated.is_none());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let join = tokio::spawn(switchyard_server::serve(
            listener,
            state.clone(),
            async move {
                let _ = rx.await;
            },
        ));
        Gateway {
            base,
            state,
            http: reqwest::Client::new(),
            stop: Some(tx),
            join: Some(join),
            _dir: dir,
        }
    }

    /// Creates an API key; returns (id, key).
    pub async fn key(&self, req: CreateKey) -> (i64, String) {
        let (rec, key) = switchyard_server::create_key(self.state.store(), req)
            .await
            .unwrap();
        (rec.id, key)
    }

    pub async fn plain_key(&self) -> (i64, String) {
        self.key(CreateKey {
            name: "t".into(),
            ..Default::default()
        })
        .await
    }

    pub fn post_chat(&self, key: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(key)
            .json(body)
    }

    /// Usage rows of a key, newest first, after flushing the writer.
    pub async fn usage(&self, key_id: i64) -> Vec<UsageRecord> {
        switchyard_server::flush_usage(&self.state).await;
        self.state
            .store()
            .list_usage(&UsageFilter {
                key_id: Some(key_id),
                ..Default::default()
            })
            .await
            .unwrap()
    }

    /// Waits until `n` usage rows of the key exist (rows of streams are written when they end).
    pub async fn usage_n(&self, key_id: i64, n: usize) -> Vec<UsageRecord> {
        for _ in 0..200 {
            let rows = self.usage(key_id).await;
            if rows.len() >= n {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("expected {n} usage rows for key {key_id}");
    }

    /// Signals shutdown and waits for `serve` to return.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(j) = self.join.take() {
            j.await.unwrap().unwrap();
        }
    }

    pub fn signal_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

pub fn user(content: &str) -> Value {
    json!([{"role": "user", "content": content}])
}

/// Reads a whole SSE response and returns its `data:` payloads (and whether any comment came).
pub async fn sse_data(resp: reqwest::Response) -> (Vec<String>, bool) {
    let text = resp.text().await.unwrap_or_default();
    parse_sse(&text)
}

pub fn parse_sse(text: &str) -> (Vec<String>, bool) {
    let mut data = Vec::new();
    let mut comments = false;
    for block in text.split("\n\n") {
        for line in block.lines() {
            if let Some(d) = line.strip_prefix("data: ") {
                data.push(d.to_owned());
            } else if line.starts_with(':') {
                comments = true;
            } else if !line.is_empty() {
                panic!("unexpected SSE line {line:?}");
            }
        }
    }
    (data, comments)
}

/// SSE blocks as `(event name, data as JSON)`, comments (keep-alives) left out; CRLF framing
/// is read as LF.
pub fn named_events(text: &str) -> Vec<(String, Value)> {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .filter(|b| !b.trim().is_empty() && !b.starts_with(':'))
        .map(|b| {
            let mut name = String::new();
            let mut data = String::new();
            for line in b.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (name, serde_json::from_str(&data).unwrap())
        })
        .collect()
}
