//! Baidu Qianfan v1 through the gateway against the Qianfan simulator: the OAuth token fetched
//! once and cached, refreshed once when the upstream reports it expired (111) or invalid (110),
//! every default model stream and non-stream with usage rows, system messages and alternation,
//! tools, HTTP-200 error codes mapped, embeddings. v2 lives in `native_qianfan/v2.rs`.

mod v2;

use serde_json::{Value, json};
use switchyard_providers::qianfan::models::{chat_endpoint, default_chat_models};
use switchyard_sim::{QianfanControl, QianfanSimConfig, SimHandle, spawn_qianfan};

use crate::helpers::*;

const AK: &str = "ak-qianfan-gw-0123";
const SK: &str = "sk-qianfan-gw-secret-4567";

fn cfg() -> QianfanSimConfig {
    QianfanSimConfig::new(AK, SK)
}

async fn qianfan(cfg: QianfanSimConfig) -> (SimHandle, QianfanControl) {
    let control = cfg.control.clone();
    (spawn_qianfan(cfg).await.unwrap(), control)
}

/// A gateway with one `qianfan` channel serving the default models (empty `models`).
async fn gateway(sim: &SimHandle, key: &str) -> Gateway {
    Gateway::start_with(
        &channel("qf", "qianfan", &sim.origin(), key, &[], 0),
        &[("SWITCHYARD_UPSTREAM__FAILURE_THRESHOLD", "1000")],
    )
    .await
}

fn endpoint(model: &str) -> String {
    chat_endpoint(model).unwrap()
}

#[tokio::test]
async fn every_default_model_non_stream_with_usage_rows_and_one_token() {
    let (up, control) = qianfan(cfg()).await;
    let gw = gateway(&up, &cfg().channel_key()).await;
    let (id, key) = gw.plain_key().await;
    let models: Vec<&str> = default_chat_models().collect();
    assert_eq!(models.len(), 15);
    for (i, model) in models.iter().enumerate() {
        let (status, v) = chat(
            &gw,
            &key,
            &json!({"model": model, "messages": user("hello")}),
        )
        .await;
        assert_eq!(status, 200, "{model}: {v}");
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], *model);
        assert!(v["id"].as_str().unwrap().starts_with("as-"), "{v}");
        let choice = &v["choices"][0];
        assert_eq!(choice["message"]["role"], "assistant");
        assert_eq!(
            choice["message"]["content"],
            format!("Hello from qianfan {}: hello", endpoint(model))
        );
        assert_eq!(choice["finish_reason"], "stop");
        // "hello": 5 / 4 + 3 = 4 prompt tokens; 5 pieces of one token.
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9})
        );
        assert_row(&gw.last_row(id, i + 1).await, model, (4, 5), false);
    }
    // One token served all fifteen requests.
    assert_eq!(control.token_requests(), 1);
    assert_eq!(up.request_count(), 15);
}

#[tokio::test]
async fn every_default_model_streams_in_openai_framing() {
    let (up, _) = qianfan(cfg()).await;
    let gw = gateway(&up, &cfg().channel_key()).await;
    let (id, key) = gw.plain_key().await;
    for (i, model) in default_chat_models().enumerate() {
        let body = json!({"model": model, "messages": user("stream me"), "stream": true,
                          "stream_options": {"include_usage": true}});
        let chunks = stream_chat(&gw, &key, &body).await;
        // Five pieces, the finish chunk, the gateway's usage chunk.
        assert_eq!(chunks.len(), 7, "{model}: {chunks:?}");
        let want = format!("Hello from qianfan {}: stream me", endpoint(model));
        // "stream me": 9 / 4 + 3 = 5; only the is_end usage counts (the sim sends 0 before).
        assert_openai_stream(&chunks, model, &want, (5, 5));
        assert_row(&gw.last_row(id, i + 1).await, model, (5, 5), true);
    }
    assert_eq!(up.completed_streams(), 15);
}

#[tokio::test]
async fn concurrent_first_requests_fetch_one_token() {
    let (up, control) = qianfan(cfg()).await;
    let gw = gateway(&up, &cfg().channel_key()).await;
    let (_, key) = gw.plain_key().await;
    let calls = (0..8).map(|i| {
        let body = json!({"model": "ERNIE-Speed-8K", "messages": user(&format!("q{i}")),
                          "stream": i % 2 == 0});
        gw.post_chat(&key, &body).send()
    });
    for resp in futures::future::join_all(calls).await {
        assert_eq!(resp.unwrap().status(), 200);
    }
    assert_eq!(control.token_requests(), 1);
    assert_eq!(control.issued_tokens(), 1);
    assert_eq!(up.request_count(), 8);
}

#[tokio::test]
async fn an_expired_or_revoked_token_is_fetched_again_once() {
    let (up, control) = qianfan(cfg()).await;
    let gw = gateway(&up, &cfg().channel_key()).await;
    let (_, key) = gw.plain_key().await;
    let ask = json!({"model": "ERNIE-4.0-8K", "messages": user("hi")});
    assert_eq!(chat(&gw, &key, &ask).await.0, 200);
    assert_eq!(control.token_requests(), 1);
    // The upstream now answers 111: the gateway drops the token, fetches one, retries once.
    control.expire_all();
    let (status, v) = chat(&gw, &key, &ask).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(control.token_requests(), 2);
    assert_eq!(up.request_count(), 3, "1 + the refused call + its retry");
    // 110 (token unknown) is handled the same way.
    control.revoke_all();
    assert_eq!(chat(&gw, &key, &ask).await.0, 200);
    assert_eq!(control.token_requests(), 3);
    assert_eq!(up.request_count(), 5);
    // The new token is cached again.
    assert_eq!(chat(&gw, &key, &ask).await.0, 200);
    assert_eq!(control.token_requests(), 3);
}

#[tokio::test]
async fn a_token_refused_twice_is_not_fetched_a_third_time() {
    let mut c = cfg();
    c.token_ttl_secs = 0; // every token is expired on arrival
    let (up, control) = qianfan(c).await;
    let gw = gateway(&up, &cfg().channel_key()).await;
    let (_, key) = gw.plain_key().await;
    let (status, v) = chat(
        &gw,
        &key,
        &json!({"model": "ERNIE-Bot", "messages": user("hi")}),
    )
    .await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["error"]["code"], "upstream_auth_failed");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("111"),
        "{v}"
    );
    assert_eq!(control.token_requests(), 2);
    assert_eq!(up.request_count(), 2);
}

#[tokio::test]
async fn a_refused_secret_is_an_upstream_auth_failure_without_the_secret() {
    let (up, control) = qianfan(cfg()).await;
    let gw = gateway(&up, &format!("{AK}|wrong-secret-999")).await;
    let (_, key) = gw.plain_key().await;
    let (status, v) = chat(
        &gw,
        &key,
        &json!({"model": "ERNIE-Bot", "messages": user("hi")}),
    )
    .await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["error"]["code"], "upstream_auth_failed");
    let text = v.to_string();
    assert!(text.contains("Client authentication failed"), "{text}");
    assert!(!text.contains("wrong-secret-999"), "{text}");
    assert_eq!(control.token_requests(), 1);
    assert_eq!(up.request_count(), 0);
    // A malformed key is the client's 400, named, and never reaches Qianfan.
    let gw = gateway(&up, "just-one-part").await;
    let (_, key) = gw.plain_key().await;
    let (status, v) = chat(
        &gw,
        &key,
        &json!({"model": "ERNIE-Bot", "messages": user("hi")}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API_KEY|SECRET_KEY")
    );
    assert_eq!(control.token_requests(), 1);
}

#[tokio::test]
async fn http_200_error_codes_are_mapped() {
    let (up, _) = qianfan(cfg()).await;
    let gw = gateway(&up, &cfg().channel_key()).await;
    let (id, key) = gw.plain_key().await;
    let cases: &[(&str, u16, &str)] = &[
        ("336501", 429, "rate_limit_exceeded"),
        ("18", 429, "rate_limit_exceeded"),
        ("17", 429, "insufficient_quota"),
        ("336100", 503, "server_overloaded"),
        ("336103", 400, "context_length_exceeded"),
        ("336003", 400, "invalid_request"),
        ("6", 502, "upstream_auth_failed"),
        ("336000", 502, "internal_error"),
    ];
    for (n, (code, status, openai)) in cases.iter().enumerate() {
        let (got, v) = chat(
            &gw,
            &key,
            &json!({"model": "ERNIE-3.5-8K", "messages": user(&format!("sim_error:{code}"))}),
        )
        .await;
        assert_eq!(got, *status, "{code}: {v}");
        assert_eq!(v["error"]["code"], *openai, "{code}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(code),
            "{v}"
        );
        let rows = gw.usage_n(id, n + 1).await;
        assert_eq!(rows[0].row.status, i64::from(*status));
    }
    // An unsafe answer is a 200 that finishes with content_filter.
    let (status, v) = chat(
        &gw,
        &key,
        &json!({"model": "ERNIE-3.5-8K", "messages": user("sim_unsafe")}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
}

#[tokio::test]
async fn system_messages_and_alternation_reach_ernie_intact() {
    let (up, _) = qianfan(cfg()).await;
    let gw = gateway(&up, &cfg().channel_key()).await;
    let (_, key) = gw.plain_key().await;
    let (status, v) = chat(
        &gw,
        &key,
        &json!({"model": "ERNIE-Lite-8K", "temperature": 0, "max_tokens": 50, "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "assistant", "content": "Hi! Ask me anything."},
            {"role": "user", "content": "first"},
            {"role": "user", "content": "second"},
            {"role": "system", "content": "Answer in English."}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from qianfan ernie-lite-8k: first\n\nsecond"
    );
    let sent = &up.requests()[0];
    assert_eq!(sent["system"], "Be brief.\n\nAnswer in English.");
    assert_eq!(sent["temperature"], json!(0.01));
    assert_eq!(sent["max_output_tokens"], 50);
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(sent["messages"][1]["content"], "Hi! Ask me anything.");
}

#[tokio::test]
async fn tools_become_functions_and_calls_come_back_as_tool_calls() {
    let (up, _) = qianfan(cfg()).await;
    let gw = gateway(&up, &cfg().channel_key()).await;
    let (_, key) = gw.plain_key().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}]);
    let (status, v) = chat(
        &gw,
        &key,
        &json!({"model": "ERNIE-4.0-8K", "messages": user("weather?"), "tools": tools}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        call["function"]["arguments"],
        r#"{"location":"Paris","unit":"celsius"}"#
    );
    assert_eq!(up.requests()[0]["functions"][0]["name"], "get_weather");
    // Streamed: one tool-call delta with index, id and name, then tool_calls.
    let body = json!({"model": "ERNIE-4.0-8K", "messages": user("weather?"), "tools": tools, "stream": true});
    let chunks = stream_chat(&gw, &key, &body).await;
    let tc = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(
        (
            tc["index"].as_u64(),
            tc["type"].as_str(),
            tc["function"]["name"].as_str()
        ),
        (Some(0), Some("function"), Some("get_weather"))
    );
    assert!(tc["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
    // The result goes back as a function turn and is answered.
    let id = call["id"].as_str().unwrap();
    let (status, v) = chat(
        &gw,
        &key,
        &json!({"model": "ERNIE-4.0-8K", "tools": tools, "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": id, "content": "18C"}]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from qianfan completions_pro: tool result: 18C"
    );
}

#[tokio::test]
async fn embeddings_use_the_same_token() {
    let (up, control) = qianfan(cfg()).await;
    let gw = gateway(&up, &cfg().channel_key()).await;
    let (id, key) = gw.plain_key().await;
    let resp = gw
        .http
        .post(format!("{}/v1/embeddings", gw.base))
        .bearer_auth(&key)
        .json(&json!({"model": "Embedding-V1", "input": ["first text", "second"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 384);
    // "first text" 10/4 = 2, "second" 6/4 = 1.
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    assert_eq!(up.requests()[0], json!({"input": ["first text", "second"]}));
    let rows = gw.usage_n(id, 1).await;
    assert_eq!(rows[0].row.prompt_tokens, 3);
    assert_eq!(
        chat(
            &gw,
            &key,
            &json!({"model": "ERNIE-Bot", "messages": user("hi")})
        )
        .await
        .0,
        200
    );
    assert_eq!(control.token_requests(), 1);
}

/// Qianfan answers a refused token on a *streaming* request with a plain JSON body (HTTP 200,
/// `application/json`). The gateway reads every 200 answer to a stream request as SSE, so the
/// error is not seen (no event), the token is not refreshed and the client gets a 502.
#[tokio::test]
async fn stream_with_an_expired_token_is_refreshed_too() {
    let (up, control) = qianfan(cfg()).await;
    let gw = gateway(&up, &cfg().channel_key()).await;
    let (_, key) = gw.plain_key().await;
    assert_eq!(
        chat(
            &gw,
            &key,
            &json!({"model": "ERNIE-Bot", "messages": user("hi")})
        )
        .await
        .0,
        200
    );
    control.expire_all();
    let body = json!({"model": "ERNIE-Bot", "messages": user("hi"), "stream": true});
    stream_chat(&gw, &key, &body).await;
    assert_eq!(control.token_requests(), 2);
}
