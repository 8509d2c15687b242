//! Graceful shutdown: open streams finish within the grace period, what is still open at the
//! deadline is ended with an error event, and every usage row is flushed.

use serde_json::{Value, json};
use switchyard_sim::{Fault, Flavor, OpenAiSimConfig, spawn_openai};

use crate::helpers::*;

#[tokio::test]
async fn open_stream_finishes_after_the_signal_and_usage_is_flushed() {
    let up = spawn_openai(
        OpenAiSimConfig::new(Flavor::OpenAi, "sk-a")
            .with_chunks(6)
            .with_chunk_interval_ms(100),
    )
    .await
    .unwrap();
    let mut gw = Gateway::start(&channel(
        "oa",
        "openai",
        &up.base_url(),
        "sk-a",
        &["gpt-4"],
        0,
    ))
    .await;
    let (id, key) = gw.plain_key().await;
    let resp = gw
        .post_chat(
            &key,
            &json!({"model": "gpt-4", "stream": true, "messages": user("x")}),
        )
        .send()
        .await
        .unwrap();
    gw.signal_stop();
    let (data, _) = sse_data(resp).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    gw.stop().await;
    let rows = gw
        .state
        .store()
        .list_usage(&Default::default())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "flushed before serve returned");
    assert_eq!((rows[0].row.key_id, rows[0].row.status), (Some(id), 200));
}

#[tokio::test]
async fn streams_still_open_at_the_deadline_end_with_an_error_event() {
    let up = sim(Flavor::OpenAi, "sk-a").await;
    let mut gw = Gateway::start(&channel(
        "oa",
        "openai",
        &up.base_url(),
        "sk-a",
        &["gpt-4"],
        0,
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    up.push_fault(Fault::HangMidStream { after_chunks: 2 });
    let resp = gw
        .post_chat(
            &key,
            &json!({"model": "gpt-4", "stream": true, "messages": user("x")}),
        )
        .send()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    gw.signal_stop();
    let (data, _) = sse_data(resp).await;
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "service_unavailable");
    gw.stop().await;
    assert!(started.elapsed().as_secs() < 10);
    let rows = gw
        .state
        .store()
        .list_usage(&Default::default())
        .await
        .unwrap();
    assert_eq!(rows[0].row.status, 503);
}
