//! Non-stream chat through real sockets: pass-through, model_map, usage rows, models list.

use serde_json::{Value, json};
use switchyard_server::CreateKey;
use switchyard_sim::Flavor;

use crate::helpers::*;

#[tokio::test]
async fn non_stream_passes_fields_through_and_rewrites_only_model() {
    let up = sim(Flavor::OpenAi, "sk-up-1").await;
    let gw = Gateway::start(&format!(
        "{}\nmodel_map = {{ \"gpt-4\" = \"gpt-4-0613\" }}\n",
        channel("oa", "openai", &up.base_url(), "sk-up-1", &["gpt-4"], 0).trim_end()
    ))
    .await;
    let (id, key) = gw.plain_key().await;
    let body = json!({
        "model": "gpt-4", "messages": user("hello there"), "temperature": 0.3,
        "logit_bias": {"50256": -100}, "x_vendor_field": {"nested": [1, 2]}
    });
    let resp = gw
        .post_chat(&key, &body)
        .header("x-request-id", "req-abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "req-abc");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert!(
        v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .ends_with("hello there")
    );
    let sent = up.requests().pop().unwrap();
    let mut want = body.clone();
    want["model"] = json!("gpt-4-0613");
    assert_eq!(sent, want, "only model is rewritten");

    let rows = gw.usage_n(id, 1).await;
    let r = &rows[0].row;
    assert_eq!(&*r.request_id, "req-abc");
    assert_eq!(
        (&*r.requested_model, r.upstream_model.as_deref()),
        ("gpt-4", Some("gpt-4-0613"))
    );
    let usage = &v["usage"];
    assert_eq!(r.prompt_tokens, usage["prompt_tokens"].as_i64().unwrap());
    assert_eq!(
        r.completion_tokens,
        usage["completion_tokens"].as_i64().unwrap()
    );
    assert!(!r.estimated);
    // gpt-4: 30 µUSD per prompt token, 60 per completion token.
    assert_eq!(
        r.cost_micros,
        r.prompt_tokens * 30 + r.completion_tokens * 60
    );
    assert_eq!(r.status, 200);
    assert!(!r.stream);
    let k = gw.state.store().get_key(id).await.unwrap().unwrap();
    assert_eq!(
        k.used_micros, r.cost_micros,
        "the key's spend is the row's cost"
    );
}

/// An upstream that reports no usage at all (some OpenAI-compatible servers).
async fn usage_less_upstream() -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            axum::Json(json!({
                "id": "x", "object": "chat.completion", "created": 1, "model": "local-llm",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello world, counted locally"}, "finish_reason": "stop", "logprobs": null}]
            }))
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    url
}

#[tokio::test]
async fn missing_upstream_usage_is_counted_locally_and_marked_estimated() {
    let url = usage_less_upstream().await;
    let gw = Gateway::start(&channel(
        "local",
        "openai-compatible",
        &url,
        "none-needed",
        &["local-llm"],
        0,
    ))
    .await;
    let (id, key) = gw.plain_key().await;
    let messages = user("Summarise the quarterly figures, then list three risks in 2025.");
    let resp = gw
        .post_chat(&key, &json!({"model": "local-llm", "messages": messages}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let rows = gw.usage_n(id, 1).await;
    let r = &rows[0].row;
    assert!(r.estimated);
    let want =
        switchyard_core::tokens::count_text("local-llm", "hello world, counted locally") as i64;
    assert_eq!(r.completion_tokens, want);
    // The prompt is tokenized exactly when it is needed, not billed at the reservation's
    // estimate (which differs for this prompt).
    let msgs: Vec<switchyard_types::ChatMessage> = serde_json::from_value(messages).unwrap();
    let prompt = switchyard_core::tokens::Prompt::new("local-llm", &msgs, None);
    assert_ne!(prompt.estimate(), prompt.exact());
    assert_eq!(r.prompt_tokens, prompt.exact() as i64);
    assert_eq!(r.total_tokens, r.prompt_tokens + r.completion_tokens);
}

#[tokio::test]
async fn moonshot_and_stepfun_non_stream_usage() {
    let moon = sim(Flavor::Moonshot, "sk-moon").await;
    let step = sim(Flavor::StepFun, "sk-step").await;
    let gw = Gateway::start(&format!(
        "{}{}",
        channel(
            "moon",
            "moonshot",
            &moon.base_url(),
            "sk-moon",
            &["moonshot-v1-8k"],
            0
        ),
        channel(
            "step",
            "stepfun",
            &step.base_url(),
            "sk-step",
            &["step-1-8k"],
            0
        )
    ))
    .await;
    let (id, key) = gw.plain_key().await;
    for model in ["moonshot-v1-8k", "step-1-8k"] {
        let v: Value = gw
            .post_chat(&key, &json!({"model": model, "messages": user("abc")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["usage"]["completion_tokens"], 5, "{model}: {v}");
    }
    let rows = gw.usage_n(id, 2).await;
    assert!(
        rows.iter()
            .all(|r| r.row.completion_tokens == 5 && !r.row.estimated)
    );
}

#[tokio::test]
async fn models_list_respects_the_key_allow_list() {
    let (_up, gw) = openai_gateway(&["gpt-4", "gpt-3.5-turbo"]).await;
    let (_, key) = gw
        .key(CreateKey {
            name: "n".into(),
            models: Some(vec!["gpt-4".into()]),
            ..Default::default()
        })
        .await;
    let (_, all) = gw.plain_key().await;
    let list: Value = gw
        .http
        .get(format!("{}/v1/models", gw.base))
        .bearer_auth(&all)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["gpt-3.5-turbo", "gpt-4"]);
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][0]["owned_by"], "openai");
    let list: Value = gw
        .http
        .get(format!("{}/v1/models", gw.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let one = gw
        .http
        .get(format!("{}/v1/models/gpt-4", gw.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    assert_eq!(one.json::<Value>().await.unwrap()["id"], "gpt-4");
    let hidden = gw
        .http
        .get(format!("{}/v1/models/gpt-3.5-turbo", gw.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 404);
    assert_eq!(
        hidden.json::<Value>().await.unwrap()["error"]["code"],
        "model_not_found"
    );
}

#[tokio::test]
async fn embeddings_pass_through_with_usage_and_base64() {
    let up = sim(Flavor::OpenAi, "sk-up").await;
    let gw = Gateway::start(&format!(
        "{}\nmodel_map = {{ \"text-embedding-ada-002\" = \"text-embedding-3-small\" }}\n",
        channel(
            "oa",
            "openai",
            &up.base_url(),
            "sk-up",
            &["text-embedding-ada-002"],
            0
        )
        .trim_end()
    ))
    .await;
    let (id, key) = gw.plain_key().await;
    let url = format!("{}/v1/embeddings", gw.base);
    let float: Value = gw
        .http
        .post(&url)
        .bearer_auth(&key)
        .json(&json!({"model": "text-embedding-ada-002", "input": ["alpha", "beta"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(float["data"].as_array().unwrap().len(), 2);
    let v0: Vec<f32> = float["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(
        v0,
        switchyard_sim::openai::embed("alpha", switchyard_sim::openai::DEFAULT_DIMENSIONS)
    );
    assert_eq!(
        up.requests().last().unwrap()["model"],
        "text-embedding-3-small"
    );
    let b64: Value = gw
        .http
        .post(&url)
        .bearer_auth(&key)
        .json(&json!({"model": "text-embedding-ada-002", "input": "alpha", "encoding_format": "base64"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = raw
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(decoded, v0);
    let rows = gw.usage_n(id, 2).await;
    for r in &rows {
        assert_eq!(
            (&*r.row.endpoint, r.row.status, r.row.estimated),
            ("embeddings", 200, false)
        );
        assert!(r.row.prompt_tokens > 0);
        assert_eq!(r.row.completion_tokens, 0);
    }
    let bad = gw
        .http
        .post(&url)
        .bearer_auth(&key)
        .json(&json!({"model": "text-embedding-ada-002"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"]["param"],
        "input"
    );
}

/// After a burst, the connections left idle to an upstream are capped at
/// `upstream.pool_max_idle_per_host`; the rest are closed, not held for the idle timeout.
#[tokio::test]
async fn idle_upstream_connections_are_capped_after_a_burst() {
    async fn idle_after_burst(env: &[(&str, &str)]) -> usize {
        let up = sim(Flavor::OpenAi, "sk-up").await;
        let gw = Gateway::start_with(
            &channel("oa", "openai", &up.base_url(), "sk-up", &["gpt-4"], 0),
            env,
        )
        .await;
        let (_, key) = gw.plain_key().await;
        // Eight requests in flight at once, each held 300 ms upstream: eight connections.
        for _ in 0..8 {
            up.push_fault(switchyard_sim::Fault::Latency { ms: 300 });
        }
        let body = json!({"model": "gpt-4", "messages": user("hi")});
        let burst = (0..8).map(|_| gw.post_chat(&key, &body).send());
        for r in futures::future::join_all(burst).await {
            assert_eq!(r.unwrap().status(), 200);
        }
        // Closing is asynchronous: wait until the count settles.
        let mut last = usize::MAX;
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let now = up.open_connections();
            if now == last {
                break;
            }
            last = now;
        }
        last
    }
    assert_eq!(
        idle_after_burst(&[]).await,
        8,
        "by default all eight stay pooled"
    );
    assert_eq!(
        idle_after_burst(&[("SWITCHYARD_UPSTREAM__POOL_MAX_IDLE_PER_HOST", "2")]).await,
        2
    );
}

/// An upstream that closes a keep-alive connection idle for `idle_ms` (as real servers do),
/// answering every request with a fixed completion; counts the connections it accepted.
async fn closing_upstream(
    idle_ms: u64,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let idle = std::time::Duration::from_millis(idle_ms);
                let mut buf = Vec::new();
                loop {
                    // Reads one request (head, then `content-length` bytes), or closes when the
                    // connection stays idle too long.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match tokio::time::timeout(idle, tcp.read(&mut chunk)).await {
                            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                            _ => return,
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while buf.len() < head_end + len {
                        let mut chunk = [0u8; 4096];
                        match tcp.read(&mut chunk).await {
                            Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                            _ => return,
                        }
                    }
                    buf.drain(..head_end + len);
                    let body = json!({
                        "id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4",
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": "ok"}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
                    })
                    .to_string();
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if tcp.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://127.0.0.1:{port}/v1"), accepted)
}

/// Requests in quick succession share one upstream connection; after the upstream has closed
/// it for idleness, the next request opens a new one and succeeds (no failed attempt).
#[tokio::test]
async fn pooled_connections_are_reused_and_replaced_once_the_upstream_closes_them() {
    let (base, accepted) = closing_upstream(200).await;
    let gw = Gateway::start(&channel("ka", "openai", &base, "sk-up", &["gpt-4"], 0)).await;
    let (_, key) = gw.plain_key().await;
    let body = json!({"model": "gpt-4", "messages": user("hi")});
    for round in 1..=3 {
        for _ in 0..3 {
            let (status, v) = chat(&gw, &key, &body).await;
            assert_eq!(status, 200, "{v}");
            assert_eq!(v["choices"][0]["message"]["content"], "ok");
        }
        assert_eq!(
            accepted.load(std::sync::atomic::Ordering::SeqCst),
            round,
            "one connection per burst"
        );
        // Well past the upstream's idle limit: it has closed the connection.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    }
}
