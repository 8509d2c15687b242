//! Integration tests of the simulators, talking HTTP to a spawned instance with reqwest.

// Test helpers outside #[test] functions panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod anthropic;
mod auth;
mod binary;
mod dashscope;
mod embeddings;
mod faults;
mod gemini;
mod hunyuan;
mod qianfan;
mod spark;
mod streams;
mod tools;
mod zhipu;

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_sim::{Flavor, OpenAiSimConfig, SimHandle, spawn_openai};

/// The key every test simulator accepts.
pub const KEY: &str = "sk-test-0123456789abcdefXYZ";

/// A simulator of `flavor` with the default config and [`KEY`].
pub async fn sim(flavor: Flavor) -> SimHandle {
    sim_with(OpenAiSimConfig::new(flavor, KEY)).await
}

/// A simulator with a custom config.
pub async fn sim_with(cfg: OpenAiSimConfig) -> SimHandle {
    spawn_openai(cfg).await.expect("spawn sim")
}

/// A client that never goes through a proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// `{"model", "messages":[{"role":"user","content":text}], "stream"}`.
pub fn chat(model: &str, text: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
    })
}

/// POSTs `body` to `/chat/completions` with [`KEY`].
pub async fn post_chat(sim: &SimHandle, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/chat/completions", sim.base_url()))
        .bearer_auth(KEY)
        .json(body)
        .send()
        .await
        .expect("send")
}

/// Splits a raw SSE body into its `data:` payloads, asserting the OpenAI framing on the way:
/// every event is exactly one `data: ` line followed by a blank line, and there is no `event:`.
pub fn sse_payloads(raw: &str) -> Vec<String> {
    assert!(!raw.contains("event:"), "no event: lines allowed: {raw}");
    let body = raw
        .strip_suffix("\n\n")
        .unwrap_or_else(|| panic!("body must end with a blank line: {raw:?}"));
    body.split("\n\n")
        .map(|event| {
            assert!(!event.contains('\n'), "one line per event: {event:?}");
            event
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("event must start with `data: `: {event:?}"))
                .to_owned()
        })
        .collect()
}

/// Parses a complete stream: asserts `[DONE]` is the last event and returns the JSON chunks.
pub fn stream_chunks(raw: &str) -> Vec<Value> {
    let mut payloads = sse_payloads(raw);
    assert_eq!(
        payloads.pop().as_deref(),
        Some("[DONE]"),
        "last event is [DONE]"
    );
    payloads
        .iter()
        .map(|p| serde_json::from_str(p).unwrap_or_else(|e| panic!("bad chunk {p}: {e}")))
        .collect()
}

/// POSTs a streaming request and returns the chunks of its body.
pub async fn stream(sim: &SimHandle, body: &Value) -> Vec<Value> {
    let resp = post_chat(sim, body).await;
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    stream_chunks(&resp.text().await.unwrap())
}

/// Polls `cond` for up to 3 seconds.
pub async fn eventually(cond: impl Fn() -> bool) -> bool {
    for _ in 0..150 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

/// Text content of a stream's choice `index`.
pub fn content_of(chunks: &[Value], index: u64) -> String {
    chunks
        .iter()
        .flat_map(|c| c["choices"].as_array().cloned().unwrap_or_default())
        .filter(|ch| ch["index"] == index)
        .filter_map(|ch| ch["delta"]["content"].as_str().map(str::to_owned))
        .collect()
}

/// Starts the `switchyard-sim` binary with `args` (plus `--listen 127.0.0.1:0`) and returns the
/// child and the origin it announced (`http://IP:PORT`).
pub fn spawn_binary(args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard-sim"))
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn switchyard-sim");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("announcement");
    let origin = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, origin)
}
