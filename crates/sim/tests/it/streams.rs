//! Exact stream framing per flavour, `n`, `max_tokens` and usage placement.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_sim::{Flavor, OpenAiSimConfig};

use crate::{KEY, chat, content_of, post_chat, sim, sim_with, sse_payloads, stream};

fn same_identity(chunks: &[Value]) {
    let first = &chunks[0];
    for c in chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], first["id"]);
        assert_eq!(c["created"], first["created"]);
        assert_eq!(c["model"], first["model"]);
    }
}

#[tokio::test]
async fn openai_stream_framing_without_usage() {
    let sim = sim(Flavor::OpenAi).await;
    let resp = post_chat(&sim, &chat("gpt-4o-mini", "hi there", true)).await;
    let raw = resp.text().await.unwrap();
    assert!(raw.ends_with("data: [DONE]\n\n"));
    assert_eq!(raw.matches("[DONE]").count(), 1);
    let chunks = crate::stream_chunks(&raw);
    same_identity(&chunks);
    assert_eq!(
        chunks.len(),
        1 + 5 + 1,
        "role chunk, 5 pieces, finish chunk"
    );
    for c in &chunks {
        assert!(c["system_fingerprint"].is_string());
        assert!(c.get("usage").is_none(), "no usage unless asked: {c}");
        assert_eq!(c["choices"].as_array().unwrap().len(), 1);
    }
    let first = &chunks[0]["choices"][0];
    assert_eq!(first["delta"]["role"], "assistant");
    assert_eq!(first["delta"]["content"], "");
    assert_eq!(first["finish_reason"], Value::Null);
    for c in &chunks[1..6] {
        let delta = c["choices"][0]["delta"].as_object().unwrap();
        assert_eq!(
            delta.keys().collect::<Vec<_>>(),
            vec!["content"],
            "later deltas: content only"
        );
        assert_eq!(c["choices"][0]["finish_reason"], Value::Null);
    }
    let last = &chunks[6]["choices"][0];
    assert_eq!(last["delta"], json!({}));
    assert_eq!(last["finish_reason"], "stop");
    assert_eq!(
        content_of(&chunks, 0),
        "Hello from openai gpt-4o-mini: hi there"
    );
    assert_eq!(sim.completed_streams(), 1);
}

#[tokio::test]
async fn openai_usage_chunk_only_when_asked() {
    let sim = sim(Flavor::OpenAi).await;
    let mut body = chat("gpt-4o-mini", "hi there", true);
    body["stream_options"] = json!({"include_usage": true});
    let chunks = stream(&sim, &body).await;
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], 5);
    assert_eq!(last["usage"]["completion_tokens"], 5);
    assert_eq!(last["usage"]["total_tokens"], 10);
    let before = &chunks[chunks.len() - 2];
    assert_eq!(before["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        chunks.iter().filter(|c| c.get("usage").is_some()).count(),
        1
    );
    same_identity(&chunks);
}

#[tokio::test]
async fn moonshot_usage_in_final_choice() {
    let sim = sim(Flavor::Moonshot).await;
    let mut body = chat("moonshot-v1-8k", "hi there", true);
    body["stream_options"] = json!({"include_usage": true});
    let chunks = stream(&sim, &body).await;
    same_identity(&chunks);
    assert_eq!(
        chunks.len(),
        7,
        "no separate usage chunk even with include_usage"
    );
    for c in &chunks {
        assert!(c.get("usage").is_none(), "never top-level usage: {c}");
        assert!(!c["choices"].as_array().unwrap().is_empty());
    }
    let last = &chunks[6]["choices"][0];
    assert_eq!(last["finish_reason"], "stop");
    assert_eq!(last["delta"], json!({}));
    assert_eq!(
        last["usage"],
        json!({"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10})
    );
    assert!(
        chunks[..6]
            .iter()
            .all(|c| c["choices"][0].get("usage").is_none())
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(
        content_of(&chunks, 0),
        "Hello from moonshot moonshot-v1-8k: hi there"
    );
}

#[tokio::test]
async fn stepfun_cumulative_usage_and_empty_finish() {
    let sim = sim(Flavor::StepFun).await;
    let chunks = stream(&sim, &chat("step-1-8k", "hi there", true)).await;
    same_identity(&chunks);
    assert_eq!(chunks.len(), 6, "5 pieces + final chunk");
    for (i, c) in chunks[..5].iter().enumerate() {
        let choice = &c["choices"][0];
        assert_eq!(
            choice["finish_reason"], "",
            "intermediate finish_reason is \"\""
        );
        assert_eq!(choice["delta"]["role"], "");
        assert_eq!(c["usage"]["completion_tokens"], i + 1);
        assert_eq!(c["usage"]["prompt_tokens"], 5);
        assert_eq!(c["usage"]["total_tokens"], 5 + i + 1);
    }
    let last = &chunks[5];
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["usage"]["completion_tokens"], 5);
    assert_eq!(
        content_of(&chunks, 0),
        "Hello from stepfun step-1-8k: hi there"
    );

    let resp = post_chat(&sim, &chat("step-1-8k", "hi there", false)).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["total_tokens"], 10);
}

#[tokio::test]
async fn n_two_interleaves_choices() {
    let sim = sim(Flavor::OpenAi).await;
    let mut body = chat("gpt-4o-mini", "yo", true);
    body["n"] = json!(2);
    body["stream_options"] = json!({"include_usage": true});
    let chunks = stream(&sim, &body).await;
    let usage = chunks.last().unwrap()["usage"].clone();
    assert_eq!(usage["completion_tokens"], 10);
    let choice_chunks = &chunks[..chunks.len() - 1];
    assert_eq!(choice_chunks.len(), 2 * 7);
    let indices: Vec<u64> = choice_chunks
        .iter()
        .map(|c| {
            assert_eq!(
                c["choices"].as_array().unwrap().len(),
                1,
                "one choice per chunk"
            );
            c["choices"][0]["index"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(&indices[..4], &[0, 1, 0, 1], "interleaved by index");
    for idx in [0u64, 1] {
        let mine: Vec<&Value> = choice_chunks
            .iter()
            .map(|c| &c["choices"][0])
            .filter(|ch| ch["index"] == idx)
            .collect();
        assert_eq!(mine[0]["delta"]["role"], "assistant");
        assert_eq!(
            mine.iter()
                .filter(|ch| ch["delta"].get("role").is_some())
                .count(),
            1
        );
        assert_eq!(
            mine.iter()
                .filter(|ch| !ch["finish_reason"].is_null())
                .count(),
            1
        );
        assert_eq!(mine.last().unwrap()["finish_reason"], "stop");
        assert_eq!(
            content_of(&chunks, idx),
            "Hello from openai gpt-4o-mini: yo"
        );
    }
    body["stream"] = json!(false);
    body.as_object_mut().unwrap().remove("stream_options");
    let full: Value = post_chat(&sim, &body).await.json().await.unwrap();
    assert_eq!(full["choices"].as_array().unwrap().len(), 2);
    assert_eq!(full["choices"][1]["index"], 1);
    assert_eq!(full["usage"]["completion_tokens"], 10);
}

#[tokio::test]
async fn max_tokens_truncates_with_length() {
    let sim = sim(Flavor::OpenAi).await;
    let mut body = chat("gpt-4o-mini", "hi there", true);
    body["max_tokens"] = json!(2);
    body["stream_options"] = json!({"include_usage": true});
    let chunks = stream(&sim, &body).await;
    let pieces = chunks
        .iter()
        .filter(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        })
        .count();
    assert_eq!(pieces, 2);
    assert_eq!(
        chunks[chunks.len() - 2]["choices"][0]["finish_reason"],
        "length"
    );
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 2);

    let mut body = chat("gpt-4o-mini", "hi there", false);
    body["max_completion_tokens"] = json!(3);
    let full: Value = post_chat(&sim, &body).await.json().await.unwrap();
    assert_eq!(full["choices"][0]["finish_reason"], "length");
    assert_eq!(full["usage"]["completion_tokens"], 3);
    let text = full["choices"][0]["message"]["content"].as_str().unwrap();
    assert!("Hello from openai gpt-4o-mini: hi there".starts_with(text) && text.len() < 38);
}

#[tokio::test]
async fn configured_chunks_latency_and_headers_first() {
    let cfg = OpenAiSimConfig::new(Flavor::OpenAi, KEY)
        .with_chunks(3)
        .with_latency_ms(400)
        .with_chunk_interval_ms(30);
    let sim = sim_with(cfg).await;
    let start = Instant::now();
    let resp = post_chat(&sim, &chat("m", "hello", true)).await;
    assert!(
        start.elapsed() < Duration::from_millis(300),
        "stream headers come before the latency"
    );
    let raw = resp.text().await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(400 + 2 * 30));
    assert_eq!(sse_payloads(&raw).len(), 1 + 3 + 1 + 1);

    let start = Instant::now();
    let resp = post_chat(&sim, &chat("m", "hello", false)).await;
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "non-stream headers wait"
    );
    assert_eq!(resp.status(), 200);
    // Both bodies were recorded, in order.
    let ids: HashSet<String> = sim.requests().iter().map(|r| r.to_string()).collect();
    assert_eq!(ids.len(), 2);
}
