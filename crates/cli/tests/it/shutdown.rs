//! SIGTERM: open streams finish within the grace period, or are ended with an error event at
//! its deadline; the process exits 0 and the usage of the stream is in the database.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchyard_sim::{Flavor, OpenAiSimConfig};
use switchyard_store::{Store, UsageFilter, UsageRecord};

use crate::harness::{
    ADMIN, Dir, Gateway, UPSTREAM_KEY, channel, config_text, http, post, read_stream, serve_cmd,
    sigterm, sim_with,
};

/// Starts a gateway in front of a slow simulator; returns it with an API key (id, key).
async fn start(
    dir: &Dir,
    upstream: &switchyard_sim::SimHandle,
    env: &[(&str, &str)],
) -> (Gateway, i64, String) {
    let config = dir.config(&config_text(
        &dir.sqlite_url("gw.db"),
        &channel(
            "openai-sim",
            "openai",
            &upstream.base_url(),
            UPSTREAM_KEY,
            0,
        ),
    ));
    let mut c = serve_cmd(&config);
    for (k, v) in env {
        c.env(k, v);
    }
    let gw = Gateway::start(c).await;
    let (status, body) = post(
        &format!("{}/admin/keys", gw.url),
        ADMIN,
        &json!({"name": "streamer"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let key = body["key"].as_str().expect("key").to_owned();
    (gw, id, key)
}

/// Opens a streaming chat completion.
async fn open_stream(base: &str, key: &str, content: &str) -> reqwest::Response {
    let res = http()
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({
            "model": "gpt-4o",
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": content}],
        }))
        .send()
        .await
        .expect("POST stream");
    assert_eq!(res.status(), StatusCode::OK);
    res
}

/// The usage rows of `key_id` in the SQLite database at `url`, read after the gateway exited.
async fn usage_rows(url: &str, key_id: i64) -> Vec<UsageRecord> {
    let store = Store::connect(url)
        .await
        .expect("open the gateway's database");
    let rows = store
        .list_usage(&UsageFilter {
            key_id: Some(key_id),
            ..Default::default()
        })
        .await
        .expect("list usage");
    store.close().await;
    rows
}

/// `data:` payloads of an SSE text.
fn data_events(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect()
}

/// Reads `res` to its end, sending SIGTERM to `pid` right after the first data event.
async fn read_with_sigterm_after_first_event(
    res: reqwest::Response,
    pid: u32,
    limit: Duration,
) -> (String, Instant) {
    let mut sent_at = None;
    let text = read_stream(res, limit, |so_far| {
        if sent_at.is_none() && so_far.contains("data: {") {
            sigterm(pid);
            sent_at = Some(Instant::now());
        }
    })
    .await;
    (text, sent_at.expect("no data event before the end"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_open_stream_finish_and_records_its_usage() {
    // About 2 s of stream: 10 pieces, 200 ms apart.
    let upstream = sim_with(
        OpenAiSimConfig::new(Flavor::OpenAi, UPSTREAM_KEY)
            .with_chunks(10)
            .with_chunk_interval_ms(200),
    )
    .await;
    let dir = Dir::new();
    let (mut gw, key_id, key) = start(&dir, &upstream, &[]).await;
    let res = open_stream(&gw.url, &key, "tell me a story").await;
    let (text, sent_at) =
        read_with_sigterm_after_first_event(res, gw.pid(), Duration::from_secs(20)).await;
    assert!(
        sent_at.elapsed() > Duration::from_millis(1000),
        "the stream ended too soon after SIGTERM to have been drained"
    );
    let events = data_events(&text);
    assert_eq!(
        events.last(),
        Some(&"[DONE]"),
        "stream not completed:\n{text}"
    );
    assert!(
        !text.contains("\"error\""),
        "stream ended with an error:\n{text}"
    );
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap_or_else(|err| panic!("{err}: {e}")))
        .collect();
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(!content.is_empty(), "{text}");
    let usage = chunks
        .iter()
        .find(|c| c["usage"].is_object())
        .map(|c| c["usage"].clone())
        .unwrap_or_else(|| panic!("no usage chunk:\n{text}"));
    assert_eq!(upstream.completed_streams(), 1);

    let status = gw.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "stderr:\n{}", gw.stderr());

    // The usage row was flushed before the process exited.
    assert!(dir.path("gw.db").is_file());
    let rows = usage_rows(&dir.sqlite_url("gw.db"), key_id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0].row;
    assert_eq!(row.status, 200, "{row:?}");
    assert!(row.stream);
    assert_eq!(row.error_code, None);
    assert_eq!(
        Some(row.completion_tokens),
        usage["completion_tokens"].as_i64()
    );
    assert_eq!(Some(row.prompt_tokens), usage["prompt_tokens"].as_i64());
    assert!(row.completion_tokens > 0 && row.cost_micros > 0, "{row:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_hung_stream_at_the_grace_deadline() {
    let upstream =
        sim_with(OpenAiSimConfig::new(Flavor::OpenAi, UPSTREAM_KEY).with_chunk_interval_ms(50))
            .await;
    let dir = Dir::new();
    let (mut gw, key_id, key) = start(
        &dir,
        &upstream,
        &[("SWITCHYARD_SERVER__SHUTDOWN_GRACE_SECS", "1")],
    )
    .await;
    let res = open_stream(&gw.url, &key, "hang please sim_fault:hang_mid_stream=2").await;
    let (text, sent_at) =
        read_with_sigterm_after_first_event(res, gw.pid(), Duration::from_secs(15)).await;
    let ended_after = sent_at.elapsed();
    assert!(
        ended_after >= Duration::from_millis(900),
        "the stream was ended before the grace period ({ended_after:?}):\n{text}"
    );
    let events = data_events(&text);
    let last = events.last().expect("events");
    let err: Value = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("last event is not JSON ({e}):\n{text}"));
    assert!(err["error"]["message"].is_string(), "{text}");
    assert_eq!(err["error"]["code"], "service_unavailable", "{text}");
    assert!(!text.contains("[DONE]"), "{text}");

    let status = gw.wait_exit(Duration::from_secs(8)).await;
    assert_eq!(status.code(), Some(0), "stderr:\n{}", gw.stderr());
    let total = sent_at.elapsed();
    assert!(
        total < Duration::from_secs(5),
        "exit took {total:?} after SIGTERM"
    );

    let rows = usage_rows(&dir.sqlite_url("gw.db"), key_id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].row.status, 503, "{:?}", rows[0]);
    assert_eq!(rows[0].row.error_code.as_deref(), Some("shutdown"));
    assert!(rows[0].row.stream);
}
