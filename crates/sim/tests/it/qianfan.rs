//! The Qianfan v1 simulator: OAuth token exchange, token checks with the real error codes and
//! HTTP 200, body validation, exact framing, faults. v2 lives in `qianfan/v2.rs`.

mod misc;
mod v2;

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_sim::{Fault, QianfanSimConfig, SimHandle, spawn_qianfan};

use crate::client;

const AK: &str = "ak-sim-0123456789";
const SK: &str = "sk-sim-abcdefghijklmnop";
const CHAT: &str = "/rpc/2.0/ai_custom/v1/wenxinworkshop/chat";

fn cfg() -> QianfanSimConfig {
    QianfanSimConfig::new(AK, SK)
}

async fn sim_with(cfg: QianfanSimConfig) -> SimHandle {
    spawn_qianfan(cfg).await.unwrap()
}

async fn token_answer(sim: &SimHandle, query: &str) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/oauth/2.0/token?{query}", sim.origin()))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn token(sim: &SimHandle) -> String {
    let (status, v) = token_answer(
        sim,
        &format!("grant_type=client_credentials&client_id={AK}&client_secret={SK}"),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["access_token"].as_str().unwrap().to_owned()
}

/// POSTs `body` to `chat/<endpoint>` with `token` (if any); returns status, content type, body.
async fn chat_raw(
    sim: &SimHandle,
    endpoint: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    let mut url = format!("{}{CHAT}/{endpoint}", sim.origin());
    if let Some(t) = token {
        url.push_str(&format!("?access_token={t}"));
    }
    let resp = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

async fn chat(sim: &SimHandle, endpoint: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let (status, ct, text) = chat_raw(sim, endpoint, token, &body.to_string()).await;
    assert_eq!(ct, "application/json", "{text}");
    (status, serde_json::from_str(&text).unwrap())
}

fn ask(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": text}]})
}

/// Asserts a v1 error: HTTP 200, the code and message.
fn assert_error(answer: (u16, Value), code: i64, msg: &str) {
    let (status, v) = answer;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["error_code"], code, "{v}");
    assert_eq!(v["error_msg"], msg, "{v}");
}

#[tokio::test]
async fn token_endpoint_checks_the_pair_like_baidu() {
    let cfg = cfg();
    let control = cfg.control.clone();
    let sim = sim_with(cfg).await;
    let (status, v) = token_answer(
        &sim,
        &format!("grant_type=client_credentials&client_id={AK}&client_secret={SK}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["expires_in"], 2_592_000);
    let tok = v["access_token"].as_str().unwrap();
    assert!(tok.starts_with("24.") && tok.contains(".2592000."), "{tok}");
    assert!(v["refresh_token"].as_str().unwrap().starts_with("25."));
    for k in ["session_key", "scope", "session_secret"] {
        assert!(v[k].is_string(), "{k}");
    }
    let (status, v) = token_answer(
        &sim,
        &format!("grant_type=client_credentials&client_id=other&client_secret={SK}"),
    )
    .await;
    assert_eq!(
        (status, v),
        (
            401,
            json!({"error": "invalid_client", "error_description": "unknown client id"})
        )
    );
    let (status, v) = token_answer(
        &sim,
        &format!("grant_type=client_credentials&client_id={AK}&client_secret=nope"),
    )
    .await;
    assert_eq!(
        (status, v),
        (
            401,
            json!({"error": "invalid_client", "error_description": "Client authentication failed"})
        )
    );
    let (status, v) = token_answer(
        &sim,
        &format!("grant_type=password&client_id={AK}&client_secret={SK}"),
    )
    .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    assert_eq!(control.token_requests(), 4);
    assert_eq!(control.issued_tokens(), 1);
}

#[tokio::test]
async fn model_apis_answer_token_errors_with_http_200() {
    let cfg = cfg();
    let control = cfg.control.clone();
    let sim = sim_with(cfg).await;
    assert_error(
        chat(&sim, "completions", None, &ask("hi")).await,
        110,
        "Access token invalid or no longer valid",
    );
    assert_error(
        chat(&sim, "completions", Some("24.forged"), &ask("hi")).await,
        110,
        "Access token invalid or no longer valid",
    );
    let tok = token(&sim).await;
    let (status, v) = chat(&sim, "completions", Some(&tok), &ask("hi")).await;
    assert_eq!(
        (status, v["result"].as_str()),
        (200, Some("Hello from qianfan completions: hi"))
    );
    control.expire_all();
    assert_error(
        chat(&sim, "completions", Some(&tok), &ask("hi")).await,
        111,
        "Access token expired",
    );
    // Streams too answer token errors as a plain JSON body.
    let mut stream = ask("hi");
    stream["stream"] = json!(true);
    let (status, ct, text) = chat_raw(&sim, "completions", Some(&tok), &stream.to_string()).await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["error_code"],
        111
    );
    let fresh = token(&sim).await;
    assert_eq!(
        chat(&sim, "completions", Some(&fresh), &ask("hi")).await.0,
        200
    );
    control.revoke_all();
    assert_error(
        chat(&sim, "completions", Some(&fresh), &ask("hi")).await,
        110,
        "Access token invalid or no longer valid",
    );
    // Unknown endpoints are refused before the token is looked at.
    assert_error(
        chat(&sim, "gpt-4o", Some(&fresh), &ask("hi")).await,
        3,
        "Unsupported openapi method",
    );
}

#[tokio::test]
async fn tokens_expire_after_their_ttl() {
    let mut cfg = cfg();
    cfg.token_ttl_secs = 1;
    let sim = sim_with(cfg).await;
    let tok = token(&sim).await;
    assert!(tok.contains(".1."), "{tok}");
    assert_eq!(
        chat(&sim, "completions_pro", Some(&tok), &ask("hi"))
            .await
            .1["error_code"],
        Value::Null
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_error(
        chat(&sim, "completions_pro", Some(&tok), &ask("hi")).await,
        111,
        "Access token expired",
    );
}

#[tokio::test]
async fn bodies_are_validated_with_baidu_codes() {
    let sim = sim_with(cfg()).await;
    let tok = token(&sim).await;
    let (status, _, text) = chat_raw(&sim, "completions", Some(&tok), "{not json").await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((status, v["error_code"].as_i64()), (200, Some(336002)));
    let two = json!({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]});
    assert_error(
        chat(&sim, "completions", Some(&tok), &two).await,
        336006,
        "the length of messages must be an odd number",
    );
    let swapped = json!({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "user", "content": "c"}]});
    assert_error(
        chat(&sim, "completions", Some(&tok), &swapped).await,
        336006,
        "the length of messages must be an odd number",
    );
    let system_role = json!({"messages": [{"role": "system", "content": "s"}]});
    assert_eq!(
        chat(&sim, "completions", Some(&tok), &system_role).await.1["error_code"],
        336006
    );
    let empty = json!({"messages": [{"role": "user", "content": ""}]});
    assert_error(
        chat(&sim, "completions", Some(&tok), &empty).await,
        336003,
        "message content can not be empty",
    );
    for (field, value) in [
        ("temperature", json!(0)),
        ("temperature", json!(1.5)),
        ("top_p", json!(1.2)),
        ("penalty_score", json!(0.5)),
        ("max_output_tokens", json!(1)),
        ("stop", json!(["a", "b", "c", "d", "e"])),
        ("stop", json!(["012345678901234567890"])),
    ] {
        let mut b = ask("hi");
        b[field] = value.clone();
        let (status, v) = chat(&sim, "completions", Some(&tok), &b).await;
        assert_eq!(
            (status, v["error_code"].as_i64()),
            (200, Some(336003)),
            "{field}={value}: {v}"
        );
        assert!(v["id"].as_str().unwrap().starts_with("as-"));
    }
    let mut ok = ask("hi");
    ok["temperature"] = json!(0.01);
    ok["system"] = json!("be brief");
    ok["stop"] = json!(["x"]);
    assert_eq!(
        chat(&sim, "completions", Some(&tok), &ok).await.1["error_code"],
        Value::Null
    );
}

#[tokio::test]
async fn non_stream_answer_shape_and_usage_formula() {
    let sim = sim_with(cfg()).await;
    let tok = token(&sim).await;
    let body = json!({"system": "Be nice to people", "messages": [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": "hello"}]});
    let (_, v) = chat(&sim, "ernie_speed", Some(&tok), &body).await;
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "created",
            "finish_reason",
            "id",
            "is_truncated",
            "need_clear_history",
            "object",
            "result",
            "usage"
        ]
    );
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["finish_reason"], "normal");
    assert_eq!(v["result"], "Hello from qianfan ernie_speed: hello");
    // Σ(chars/4 + 3): "first question" 14→6, "an answer" 9→5, "hello" 5→4, system 17→7.
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 22, "completion_tokens": 5, "total_tokens": 27})
    );
    let mut short = ask("hi");
    short["max_output_tokens"] = json!(2);
    let (_, v) = chat(&sim, "ernie_speed", Some(&tok), &short).await;
    assert_eq!(
        (
            v["finish_reason"].as_str(),
            v["usage"]["completion_tokens"].as_u64()
        ),
        (Some("length"), Some(2))
    );
    assert_eq!(sim.request_count(), 2);
}

#[tokio::test]
async fn stream_framing_is_exact() {
    let sim = sim_with(cfg()).await;
    let tok = token(&sim).await;
    let mut b = ask("stream me");
    b["stream"] = json!(true);
    let (status, ct, raw) = chat_raw(&sim, "completions_pro", Some(&tok), &b.to_string()).await;
    assert_eq!((status, ct.as_str()), (200, "text/event-stream"));
    assert!(!raw.contains("[DONE]") && !raw.contains("event:"), "{raw}");
    let body = raw.strip_suffix("\n\n").unwrap();
    let events: Vec<Value> = body
        .split("\n\n")
        .map(|e| {
            serde_json::from_str(e.strip_prefix("data: ").unwrap_or_else(|| panic!("{e:?}")))
                .unwrap()
        })
        .collect();
    assert_eq!(events.len(), 5);
    let text: String = events
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Hello from qianfan completions_pro: stream me");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sentence_id"], i);
        assert_eq!(e["is_end"], i == 4);
        assert_eq!(e["id"], events[0]["id"]);
        let completion = if i == 4 { 5 } else { 0 };
        assert_eq!(e["usage"]["completion_tokens"], completion, "{e}");
    }
    assert!(
        !events[4]["result"].as_str().unwrap().is_empty(),
        "the last piece rides in the is_end event"
    );
    assert_eq!(sim.completed_streams(), 1);
}

#[tokio::test]
async fn functions_are_called_then_results_echoed() {
    let sim = sim_with(cfg()).await;
    let tok = token(&sim).await;
    let functions =
        json!([{"name": "get_weather", "parameters": {"type": "object"}}, {"name": "other"}]);
    let mut b = ask("weather?");
    b["functions"] = functions.clone();
    let (_, v) = chat(&sim, "completions", Some(&tok), &b).await;
    assert_eq!(v["finish_reason"], "function_call");
    assert_eq!(v["result"], "");
    assert_eq!(v["function_call"]["name"], "get_weather");
    assert_eq!(
        v["function_call"]["arguments"],
        r#"{"location":"Paris","unit":"celsius"}"#
    );
    b["tool_choice"] = json!({"type": "function", "function": {"name": "other"}});
    b["stream"] = json!(true);
    let (_, _, raw) = chat_raw(&sim, "completions", Some(&tok), &b.to_string()).await;
    let e: Value = serde_json::from_str(raw.trim().strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(
        (e["is_end"].as_bool(), e["function_call"]["name"].as_str()),
        (Some(true), Some("other"))
    );
    let result = json!({"functions": functions, "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "", "function_call": {"name": "get_weather", "arguments": "{}"}},
        {"role": "function", "name": "get_weather", "content": "18C"}]});
    let (_, v) = chat(&sim, "completions", Some(&tok), &result).await;
    assert_eq!(
        v["result"],
        "Hello from qianfan completions: tool result: 18C"
    );
}

#[tokio::test]
async fn faults_and_provider_errors() {
    let sim = sim_with(cfg()).await;
    let tok = token(&sim).await;
    for (code, msg) in [
        (336501, "Rate limit reached for RPM"),
        (18, "Open api qps request limit reached"),
        (336100, "try again later"),
        (17, "Open api daily request limit reached"),
    ] {
        assert_error(
            chat(
                &sim,
                "completions",
                Some(&tok),
                &ask(&format!("please sim_error:{code}")),
            )
            .await,
            code,
            msg,
        );
    }
    let (_, v) = chat(&sim, "completions", Some(&tok), &ask("sim_error:42")).await;
    assert_eq!(v["error_code"], 336003);
    let (status, v) = chat(
        &sim,
        "completions",
        Some(&tok),
        &ask("sim_fault:status=503"),
    )
    .await;
    assert_eq!((status, v["error_code"].as_i64()), (503, Some(336100)));
    let (_, v) = chat(&sim, "completions", Some(&tok), &ask("sim_unsafe please")).await;
    assert_eq!(
        (v["need_clear_history"].as_bool(), v["ban_round"].as_i64()),
        (Some(true), Some(-1))
    );
    sim.push_fault(Fault::ResetMidStream { after_chunks: 2 });
    let mut b = ask("hi");
    b["stream"] = json!(true);
    let resp = client()
        .post(format!(
            "{}{CHAT}/completions?access_token={tok}",
            sim.origin()
        ))
        .json(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.is_err(), "the body is cut");
    assert!(crate::eventually(|| sim.faulted_streams() == 1).await);
}
