//! A gateway on a temporary SQLite database, wired to simulators, on a real socket.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_core::Config;
use switchyard_server::{AppState, CreateKey};
use switchyard_sim::{Flavor, OpenAiSimConfig, SimHandle, spawn_openai};
use switchyard_store::{Store, UsageFilter, UsageRecord, UsageRow};
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

/// An OpenAI simulator (key `sk-up`) and a gateway with one channel `oa` to it serving
/// `models`; keep the simulator alive as long as the gateway.
pub async fn openai_gateway(models: &[&str]) -> (SimHandle, Gateway) {
    let up = sim(Flavor::OpenAi, "sk-up").await;
    let gw = Gateway::start(&channel("oa", "openai", &up.base_url(), "sk-up", models, 0)).await;
    (up, gw)
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

    /// The newest usage row of a key, once `n` rows exist.
    pub async fn last_row(&self, key_id: i64, n: usize) -> UsageRow {
        self.usage_n(key_id, n).await.remove(0).row
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

/// Status and JSON body of a chat request.
pub async fn chat(gw: &Gateway, key: &str, body: &Value) -> (u16, Value) {
    json_of(gw.post_chat(key, body).send().await.unwrap()).await
}

pub async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// Posts a chat `body` that must stream: a 200 event stream ending in `[DONE]`; its chunks.
pub async fn stream_chat(gw: &Gateway, key: &str, body: &Value) -> Vec<Value> {
    let resp = gw.post_chat(key, body).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{body}");
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/event-stream"), "{ct}: {body}");
    chunks_of(&sse_data(resp).await.0)
}

/// The JSON chunks of a stream's `data:` payloads, which must end with `[DONE]`.
pub fn chunks_of(data: &[String]) -> Vec<Value> {
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// The text of choice 0's content deltas.
pub fn content_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"].get(0)?["delta"]["content"].as_str())
        .collect()
}

/// Checks a stream in the OpenAI framing that ends with the gateway's usage chunk: every chunk
/// of one id and `model`; content chunks of one `created`, on choice 0, the assistant role once,
/// `stop` on the last only, no usage; then one usage chunk without choices.
/// Returns the content chunks.
pub fn assert_openai_stream<'a>(
    chunks: &'a [Value],
    model: &str,
    want: &str,
    (prompt, completion): (i64, i64),
) -> &'a [Value] {
    for c in chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!((&c["id"], &c["model"]), (&chunks[0]["id"], &json!(model)));
    }
    let (usage_chunk, content) = chunks.split_last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]), "{model}");
    assert_eq!(
        usage_chunk["usage"],
        json!({"prompt_tokens": prompt, "completion_tokens": completion,
               "total_tokens": prompt + completion}),
        "{model}: the upstream's cumulative usage, reported once, not summed over frames"
    );
    assert_eq!(content_of(content), want, "{model}");
    let assistant = json!("assistant");
    for (n, c) in content.iter().enumerate() {
        assert_eq!(c["created"], content[0]["created"]);
        let ch = &c["choices"][0];
        assert_eq!(ch["index"], 0);
        assert_eq!(
            ch["delta"].get("role"),
            (n == 0).then_some(&assistant),
            "role once"
        );
        let last = n == content.len() - 1;
        let finish = if last { json!("stop") } else { Value::Null };
        assert_eq!(ch["finish_reason"], finish, "{model}");
        assert!(c.get("usage").is_none(), "no usage inside content chunks");
    }
    content
}

/// The usage row of a successful chat: its model, exact (not estimated) token counts, stream
/// flag and status 200.
pub fn assert_row(r: &UsageRow, model: &str, (prompt, completion): (i64, i64), stream: bool) {
    assert_eq!(&*r.requested_model, model);
    assert_eq!(
        (r.prompt_tokens, r.completion_tokens, r.total_tokens),
        (prompt, completion, prompt + completion),
        "{model}: the upstream's last cumulative usage, not a sum"
    );
    assert!(!r.estimated, "{model}: usage came from the upstream");
    assert_eq!((r.stream, r.status), (stream, 200), "{model}");
}

/// Status and `data:` payloads of a chat request that streams (or fails before it does).
pub async fn stream_data(gw: &Gateway, key: &str, body: &Value) -> (u16, Vec<String>) {
    let resp = gw.post_chat(key, body).send().await.unwrap();
    (resp.status().as_u16(), sse_data(resp).await.0)
}
