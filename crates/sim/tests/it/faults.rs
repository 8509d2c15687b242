//! Every fault kind, programmed with `push_fault` and requested with `sim_fault:`.

use std::time::{Duration, Instant};

use serde_json::Value;
use switchyard_sim::{Fault, Flavor, OpenAiSimConfig, SimHandle};

use crate::{KEY, chat, client, eventually, post_chat, sim, sim_with, sse_payloads};

#[derive(Clone, Copy, Debug)]
enum Via {
    Programmed,
    Prompt,
}

const BOTH: [Via; 2] = [Via::Programmed, Via::Prompt];

/// Sends a chat request carrying `fault` either through the queue or through the prompt.
async fn send(
    sim: &SimHandle,
    via: Via,
    fault: Fault,
    spec: &str,
    stream: bool,
) -> reqwest::Response {
    let text = match via {
        Via::Programmed => {
            sim.push_fault(fault);
            "hello".to_owned()
        }
        Via::Prompt => format!("hello sim_fault:{spec} please"),
    };
    post_chat(sim, &chat("gpt-4o-mini", &text, stream)).await
}

/// Reads the body chunk by chunk; returns the bytes received and whether the read failed.
async fn drain(mut resp: reqwest::Response) -> (String, bool) {
    let mut raw = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(bytes)) => raw.extend_from_slice(&bytes),
            Ok(None) => return (String::from_utf8(raw).unwrap(), false),
            Err(_) => return (String::from_utf8(raw).unwrap(), true),
        }
    }
}

#[tokio::test]
async fn status_faults_with_retry_after() {
    let sim = sim(Flavor::OpenAi).await;
    for via in BOTH {
        let resp = send(&sim, via, Fault::status(429), "status=429", false).await;
        assert_eq!(resp.status(), 429, "{via:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        assert!(body["error"].as_object().unwrap().contains_key("param"));

        let fault = Fault::Status {
            status: 503,
            body: None,
            retry_after: Some(2),
        };
        let resp = send(&sim, via, fault, "status=503;retry_after=2", true).await;
        assert_eq!(resp.status(), 503, "{via:?}");
        assert_eq!(resp.headers()["retry-after"], "2");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["type"], "server_error");

        let resp = send(&sim, via, Fault::status(500), "status=500", false).await;
        assert_eq!(resp.status(), 500, "{via:?}");
    }
    sim.push_fault(Fault::Status {
        status: 502,
        body: Some("{\"custom\":true}".into()),
        retry_after: None,
    });
    let resp = post_chat(&sim, &chat("m", "x", false)).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(resp.text().await.unwrap(), "{\"custom\":true}");

    let moon = sim_with(OpenAiSimConfig::new(Flavor::Moonshot, KEY)).await;
    let resp = send(&moon, Via::Prompt, Fault::status(429), "status=429", false).await;
    assert_eq!(resp.status(), 429);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_reached_error");
    assert!(!body["error"].as_object().unwrap().contains_key("code"));
}

#[tokio::test]
async fn programmed_faults_are_fifo_and_consumed() {
    let sim = sim(Flavor::OpenAi).await;
    sim.push_fault(Fault::status(500));
    sim.push_fault(Fault::status(429));
    assert_eq!(post_chat(&sim, &chat("m", "a", false)).await.status(), 500);
    assert_eq!(post_chat(&sim, &chat("m", "b", false)).await.status(), 429);
    assert_eq!(post_chat(&sim, &chat("m", "c", false)).await.status(), 200);
    let texts: Vec<Value> = sim
        .requests()
        .iter()
        .map(|r| r["messages"][0]["content"].clone())
        .collect();
    assert_eq!(texts, vec!["a", "b", "c"]);

    let resp = post_chat(&sim, &chat("m", "sim_fault:explode", false)).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sim_fault")
    );
}

#[tokio::test]
async fn reset_before_first_chunk() {
    let sim = sim(Flavor::OpenAi).await;
    for via in BOTH {
        let resp = send(
            &sim,
            via,
            Fault::ResetBeforeFirstChunk,
            "reset_before_first_chunk",
            true,
        )
        .await;
        assert_eq!(resp.status(), 200, "headers are sent");
        let (raw, failed) = drain(resp).await;
        assert!(failed, "{via:?}: the body must fail");
        assert_eq!(raw, "", "{via:?}: no data at all");
    }
    assert!(eventually(|| sim.faulted_streams() == 2).await);
    assert_eq!(sim.completed_streams(), 0);
}

#[tokio::test]
async fn reset_mid_stream() {
    let sim = sim(Flavor::OpenAi).await;
    for via in BOTH {
        let fault = Fault::ResetMidStream { after_chunks: 2 };
        let resp = send(&sim, via, fault, "reset_mid_stream=2", true).await;
        assert_eq!(resp.status(), 200);
        let (raw, failed) = drain(resp).await;
        assert!(failed, "{via:?}: truncated body, not a clean end");
        let payloads = sse_payloads(&raw);
        assert_eq!(payloads.len(), 2, "{via:?}: {raw}");
        for p in payloads {
            assert!(serde_json::from_str::<Value>(&p).is_ok());
        }
        assert!(!raw.contains("[DONE]"));
    }
    // Non-stream: half of the JSON, then the reset.
    sim.push_fault(Fault::ResetMidStream { after_chunks: 2 });
    let resp = post_chat(&sim, &chat("m", "x", false)).await;
    assert_eq!(resp.status(), 200);
    let (raw, failed) = drain(resp).await;
    assert!(failed && raw.starts_with('{') && serde_json::from_str::<Value>(&raw).is_err());
}

#[tokio::test]
async fn malformed_chunk() {
    let sim = sim(Flavor::OpenAi).await;
    for via in BOTH {
        let fault = Fault::MalformedChunk { after_chunks: 1 };
        let resp = send(&sim, via, fault, "malformed=1", true).await;
        let (raw, failed) = drain(resp).await;
        assert!(!failed, "{via:?}: malformed ends cleanly");
        let payloads = sse_payloads(&raw);
        assert_eq!(payloads.len(), 2, "{raw}");
        assert!(serde_json::from_str::<Value>(&payloads[0]).is_ok());
        assert_eq!(payloads[1], "{not json");
    }
    sim.push_fault(Fault::MalformedChunk { after_chunks: 0 });
    let resp = post_chat(&sim, &chat("m", "x", false)).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.json::<Value>().await.is_err());
}

#[tokio::test]
async fn hang_before_headers() {
    let sim = sim(Flavor::OpenAi).await;
    for via in BOTH {
        let started = send(&sim, via, Fault::Hang, "hang", false);
        let res = tokio::time::timeout(Duration::from_millis(400), started).await;
        assert!(res.is_err(), "{via:?}: no headers must arrive");
    }
    // The simulator itself is still responsive.
    assert_eq!(post_chat(&sim, &chat("m", "x", false)).await.status(), 200);
}

#[tokio::test]
async fn hang_mid_stream_then_client_gives_up() {
    let sim = sim(Flavor::OpenAi).await;
    for (n, via) in BOTH.into_iter().enumerate() {
        let fault = Fault::HangMidStream { after_chunks: 2 };
        let mut resp = send(&sim, via, fault, "hang_mid_stream=2", true).await;
        let mut raw = String::new();
        while raw.matches("\n\n").count() < 2 {
            let chunk = tokio::time::timeout(Duration::from_secs(2), resp.chunk()).await;
            raw.push_str(std::str::from_utf8(&chunk.unwrap().unwrap().unwrap()).unwrap());
        }
        assert_eq!(sse_payloads(&raw).len(), 2);
        let more = tokio::time::timeout(Duration::from_millis(300), resp.chunk()).await;
        assert!(more.is_err(), "{via:?}: the stream must stall, not end");
        drop(resp);
        assert!(
            eventually(|| sim.cancelled_streams() == n + 1).await,
            "{via:?}"
        );
    }
}

#[tokio::test]
async fn latency_fault() {
    let sim = sim(Flavor::OpenAi).await;
    for via in BOTH {
        let start = Instant::now();
        let resp = send(&sim, via, Fault::Latency { ms: 300 }, "latency=300", false).await;
        assert!(start.elapsed() >= Duration::from_millis(300), "{via:?}");
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["object"], "chat.completion");
    }
}

#[tokio::test]
async fn cancelled_stream_is_counted() {
    let cfg = OpenAiSimConfig::new(Flavor::OpenAi, KEY)
        .with_chunks(40)
        .with_chunk_interval_ms(50);
    let sim = sim_with(cfg).await;
    let mut resp = post_chat(&sim, &chat("m", "hi", true)).await;
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    drop(resp);
    assert!(eventually(|| sim.cancelled_streams() == 1).await);
    assert_eq!(sim.completed_streams(), 0);

    let fast = sim_with(OpenAiSimConfig::new(Flavor::OpenAi, KEY)).await;
    let resp = post_chat(&fast, &chat("m", "hi", true)).await;
    resp.text().await.unwrap();
    assert!(eventually(|| fast.completed_streams() == 1).await);
    assert_eq!(fast.cancelled_streams(), 0);
}

#[tokio::test]
async fn shutdown_closes_hanging_connections() {
    let sim = sim(Flavor::OpenAi).await;
    sim.push_fault(Fault::Hang);
    let url = format!("{}/chat/completions", sim.base_url());
    let pending = tokio::spawn(async move {
        client()
            .post(url)
            .bearer_auth(KEY)
            .json(&chat("m", "x", false))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.shutdown();
    let res = tokio::time::timeout(Duration::from_secs(3), pending)
        .await
        .unwrap()
        .unwrap();
    assert!(
        res.is_err(),
        "the hanging request fails once the sim shuts down"
    );
}
