//! The Qianfan v2 simulator: bearer `bce-v3/…` check, v2 error bodies and statuses, OpenAI
//! framing with Baidu's quirks.

use serde_json::{Value, json};
use switchyard_sim::{QianfanV2SimConfig, SimHandle, spawn_qianfan_v2};

use crate::client;

const KEY: &str = "bce-v3/ALTAK-test0123/abcdef0123456789";

async fn sim() -> SimHandle {
    spawn_qianfan_v2(QianfanV2SimConfig::new(KEY))
        .await
        .unwrap()
}

async fn post(sim: &SimHandle, key: Option<&str>, body: &Value) -> (u16, String) {
    let mut b = client()
        .post(format!("{}/v2/chat/completions", sim.origin()))
        .json(body);
    if let Some(k) = key {
        b = b.bearer_auth(k);
    }
    let resp = b.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn ask(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

fn error_of(answer: (u16, String)) -> (u16, String, String) {
    let v: Value = serde_json::from_str(&answer.1).unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("as-"), "{v}");
    (
        answer.0,
        v["error"]["code"].as_str().unwrap().to_owned(),
        v["error"]["type"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn bearer_key_model_and_arguments_are_checked() {
    let sim = sim().await;
    let e = error_of(post(&sim, None, &ask("ernie-3.5-8k", "hi")).await);
    assert_eq!((e.0, e.1.as_str()), (401, "invalid_iam_token"));
    let e = error_of(
        post(
            &sim,
            Some("bce-v3/ALTAK-test0123/wrong"),
            &ask("ernie-3.5-8k", "hi"),
        )
        .await,
    );
    assert_eq!((e.0, e.1.as_str()), (401, "invalid_iam_token"));
    let e = error_of(post(&sim, Some(KEY), &ask("gpt-4o", "hi")).await);
    assert_eq!((e.0, e.1.as_str()), (401, "invalid_model"));
    let e = error_of(
        post(
            &sim,
            Some(KEY),
            &json!({"messages": [{"role": "user", "content": "x"}]}),
        )
        .await,
    );
    assert_eq!((e.0, e.1.as_str()), (400, "invalid_model"));
    let e = error_of(
        post(
            &sim,
            Some(KEY),
            &json!({"model": "ernie-3.5-8k", "messages": []}),
        )
        .await,
    );
    assert_eq!((e.0, e.1.as_str()), (400, "invalid_messages"));
    let mut hot = ask("ernie-3.5-8k", "hi");
    hot["temperature"] = json!(0);
    let e = error_of(post(&sim, Some(KEY), &hot).await);
    assert_eq!((e.0, e.1.as_str()), (400, "invalid_argument"));
    let (status, body) = post(&sim, Some(KEY), &ask("ernie-3.5-8k", "hi")).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn answers_and_streams_in_v2_framing() {
    let sim = sim().await;
    let (_, body) = post(&sim, Some(KEY), &ask("ernie-speed-8k", "hello")).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["model"], "ernie-speed-8k");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from qianfan-v2 ernie-speed-8k: hello"
    );
    assert_eq!(
        (
            v["choices"][0]["finish_reason"].as_str(),
            v["choices"][0]["flag"].as_i64()
        ),
        (Some("stop"), Some(0))
    );
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9})
    );

    let mut b = ask("ernie-speed-8k", "hello");
    b["stream"] = json!(true);
    b["stream_options"] = json!({"include_usage": true});
    let (_, raw) = post(&sim, Some(KEY), &b).await;
    let payloads: Vec<&str> = raw
        .strip_suffix("\n\n")
        .unwrap()
        .split("\n\n")
        .map(|e| e.strip_prefix("data: ").unwrap())
        .collect();
    assert_eq!(payloads.last(), Some(&"[DONE]"));
    let chunks: Vec<Value> = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    assert_eq!(chunks.len(), 7);
    assert!(
        chunks[..6]
            .iter()
            .all(|c| c["choices"][0]["delta"].get("role").is_none())
    );
    assert!(
        chunks[..5]
            .iter()
            .all(|c| c["choices"][0].get("finish_reason").is_none())
    );
    assert_eq!(chunks[5]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[6]["choices"], json!([]));
    assert_eq!(chunks[6]["usage"]["total_tokens"], 9);
    // Without include_usage there is no usage chunk.
    b["stream_options"] = json!({});
    let (_, raw) = post(&sim, Some(KEY), &b).await;
    assert!(!raw.contains("usage"), "{raw}");
    assert_eq!(sim.completed_streams(), 2);
}

#[tokio::test]
async fn tools_and_injected_errors() {
    let sim = sim().await;
    let mut b = ask("ernie-4.0-8k", "weather?");
    b["tools"] = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    let (_, body) = post(&sim, Some(KEY), &b).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    for (code, status, kind) in [
        ("rpm_rate_limit_exceeded", 429, "rate_limit_exceeded"),
        ("account_overdue", 403, "invalid_request_error"),
        ("server_high_load", 503, "server_error"),
        ("image_url_unsafe", 400, "unsafe_request"),
    ] {
        let e = error_of(
            post(
                &sim,
                Some(KEY),
                &ask("ernie-3.5-8k", &format!("sim_error:{code}")),
            )
            .await,
        );
        assert_eq!(e, (status, code.to_owned(), kind.to_owned()));
    }
    let e = error_of(
        post(
            &sim,
            Some(KEY),
            &ask("ernie-3.5-8k", "sim_fault:status=429"),
        )
        .await,
    );
    assert_eq!((e.0, e.1.as_str()), (429, "rpm_rate_limit_exceeded"));
}
