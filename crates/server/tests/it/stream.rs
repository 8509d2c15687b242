//! Streaming through real sockets: framing, usage chunk, keep-alive, mid-stream failures, idle
//! timeout and client disconnect.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use switchyard_sim::{Fault, Flavor, OpenAiSimConfig, spawn_openai};

use crate::helpers::*;

fn stream_body(model: &str, usage: bool, text: &str) -> Value {
    let mut b = json!({"model": model, "stream": true, "messages": user(text)});
    if usage {
        b["stream_options"] = json!({"include_usage": true});
    }
    b
}

#[tokio::test]
async fn every_flavour_streams_openai_framing_with_usage_only_when_asked() {
    let oa = sim(Flavor::OpenAi, "sk-a").await;
    let moon = sim(Flavor::Moonshot, "sk-m").await;
    let step = sim(Flavor::StepFun, "sk-s").await;
    let gw = Gateway::start(&format!(
        "{}{}{}",
        channel("oa", "openai", &oa.base_url(), "sk-a", &["gpt-4"], 0),
        channel(
            "moon",
            "moonshot",
            &moon.base_url(),
            "sk-m",
            &["moonshot-v1-8k"],
            0
        ),
        channel(
            "step",
            "stepfun",
            &step.base_url(),
            "sk-s",
            &["step-1-8k"],
            0
        )
    ))
    .await;
    let (id, key) = gw.plain_key().await;
    let mut expected_rows = 0;
    for model in ["gpt-4", "moonshot-v1-8k", "step-1-8k"] {
        for usage in [true, false] {
            let resp = gw
                .post_chat(&key, &stream_body(model, usage, "abc"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["content-type"], "text/event-stream");
            let (data, _) = sse_data(resp).await;
            assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{model}");
            let chunks: Vec<Value> = data[..data.len() - 1]
                .iter()
                .map(|d| serde_json::from_str(d).unwrap())
                .collect();
            let usage_chunks: Vec<&Value> = chunks
                .iter()
                .filter(|c| c.get("usage").is_some_and(|u| !u.is_null()))
                .collect();
            let mut text = String::new();
            for c in &chunks {
                assert_eq!(c["object"], "chat.completion.chunk");
                for ch in c["choices"].as_array().unwrap() {
                    assert!(ch.get("usage").is_none(), "{model}: usage inside a choice");
                    assert_ne!(ch["finish_reason"], "", "{model}: empty finish_reason");
                    text.push_str(ch["delta"]["content"].as_str().unwrap_or(""));
                }
            }
            assert!(text.ends_with(": abc"), "{model}: {text}");
            let roles = chunks
                .iter()
                .filter(|c| c["choices"][0]["delta"].get("role").is_some())
                .count();
            assert_eq!(roles, 1, "{model}: role only in the first delta");
            if usage {
                assert_eq!(usage_chunks.len(), 1, "{model}");
                let last = chunks.last().unwrap();
                assert_eq!(last["choices"], json!([]));
                assert_eq!(last["usage"]["completion_tokens"], 5, "{model}");
            } else {
                assert!(
                    usage_chunks.is_empty(),
                    "{model}: usage chunk not asked for"
                );
            }
            expected_rows += 1;
        }
    }
    let rows = gw.usage_n(id, expected_rows).await;
    for r in &rows {
        assert_eq!(
            (
                r.row.status,
                r.row.completion_tokens,
                r.row.estimated,
                r.row.stream
            ),
            (200, 5, false, true),
            "{r:?}"
        );
        assert!(r.row.ttft_ms.is_some());
    }
}

#[tokio::test]
async fn keep_alive_comments_while_the_upstream_is_silent() {
    let up = spawn_openai(
        OpenAiSimConfig::new(Flavor::OpenAi, "sk-a")
            .with_chunks(3)
            .with_chunk_interval_ms(1300),
    )
    .await
    .unwrap();
    let gw = Gateway::start(&channel(
        "oa",
        "openai",
        &up.base_url(),
        "sk-a",
        &["gpt-4"],
        0,
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    let resp = gw
        .post_chat(&key, &stream_body("gpt-4", false, "x"))
        .send()
        .await
        .unwrap();
    let (data, comments) = sse_data(resp).await;
    assert!(
        comments,
        "keep-alive comments expected (keepalive_secs = 1)"
    );
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
}

#[tokio::test]
async fn failure_after_first_byte_is_an_error_event_and_usage_is_still_recorded() {
    let up = sim(Flavor::OpenAi, "sk-a").await;
    let backup = sim(Flavor::OpenAi, "sk-b").await;
    let gw = Gateway::start(&format!(
        "{}{}",
        channel("oa", "openai", &up.base_url(), "sk-a", &["gpt-4"], 10),
        channel(
            "backup",
            "openai",
            &backup.base_url(),
            "sk-b",
            &["gpt-4"],
            0
        )
    ))
    .await;
    let (id, key) = gw.plain_key().await;
    for fault in [
        Fault::ResetMidStream { after_chunks: 2 },
        Fault::MalformedChunk { after_chunks: 2 },
    ] {
        up.push_fault(fault);
        let resp = gw
            .post_chat(&key, &stream_body("gpt-4", true, "x"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let (data, _) = sse_data(resp).await;
        let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
        assert!(last["error"]["message"].is_string(), "{data:?}");
        assert_eq!(last["error"]["code"], "bad_upstream_response");
        assert!(!data.iter().any(|d| d == "[DONE]"));
        assert!(
            data.len() >= 3,
            "chunks before the failure are delivered: {data:?}"
        );
    }
    assert_eq!(
        backup.request_count(),
        0,
        "no failover after the first byte"
    );
    let rows = gw.usage_n(id, 2).await;
    for r in rows {
        assert_eq!(r.row.status, 502);
        assert!(
            r.row.completion_tokens > 0 && r.row.estimated,
            "produced text is billed: {r:?}"
        );
    }
}

#[tokio::test]
async fn idle_upstream_ends_the_stream_with_a_timeout_error() {
    let up = sim(Flavor::OpenAi, "sk-a").await;
    let gw = Gateway::start_with(
        &channel("oa", "openai", &up.base_url(), "sk-a", &["gpt-4"], 0),
        &[("SWITCHYARD_UPSTREAM__IDLE_TIMEOUT_MS", "300")],
    )
    .await;
    let (id, key) = gw.plain_key().await;
    up.push_fault(Fault::HangMidStream { after_chunks: 2 });
    let resp = gw
        .post_chat(&key, &stream_body("gpt-4", false, "x"))
        .send()
        .await
        .unwrap();
    let (data, _) = sse_data(resp).await;
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_timeout");
    let rows = gw.usage_n(id, 1).await;
    assert_eq!(rows[0].row.status, 504);
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_and_bills_what_was_produced() {
    let up = spawn_openai(
        OpenAiSimConfig::new(Flavor::OpenAi, "sk-a")
            .with_chunks(40)
            .with_chunk_interval_ms(50),
    )
    .await
    .unwrap();
    let gw = Gateway::start(&channel(
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
        .post_chat(&key, &stream_body("gpt-4", false, "x"))
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    let mut seen = 0;
    while let Some(chunk) = body.next().await {
        seen += String::from_utf8_lossy(&chunk.unwrap())
            .matches("data: ")
            .count();
        if seen >= 3 {
            break;
        }
    }
    drop(body);
    let rows = gw.usage_n(id, 1).await;
    let r = &rows[0].row;
    assert_eq!(r.status, 499);
    assert!(
        r.completion_tokens >= 1 && r.completion_tokens < 40,
        "{r:?}"
    );
    assert!(r.estimated, "the upstream never reported usage");
    for _ in 0..100 {
        if up.cancelled_streams() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        up.cancelled_streams(),
        1,
        "the upstream request was cancelled"
    );
    assert_eq!(up.completed_streams(), 0);
}
