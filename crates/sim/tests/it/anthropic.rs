//! The Anthropic Messages simulator: credentials, validation, answers (stream framing in
//! [`streams`]) and faults.

mod streams;
mod validation;

use serde_json::{Value, json};
use switchyard_sim::{AnthropicSimConfig, Fault, SimHandle, spawn_anthropic};

use super::client;

const ANT_KEY: &str = "sk-ant-api03-simtest";

async fn sim() -> SimHandle {
    sim_with(AnthropicSimConfig::new(ANT_KEY)).await
}

async fn sim_with(cfg: AnthropicSimConfig) -> SimHandle {
    spawn_anthropic(cfg).await.expect("spawn anthropic sim")
}

/// POSTs `body` to `/v1/messages` with the right key and version.
async fn post(sim: &SimHandle, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/messages", sim.origin()))
        .header("x-api-key", ANT_KEY)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

fn msg(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": text}]})
}

/// Status, error type and message of an error answer; asserts the body shape and that the
/// `request-id` header matches the body's.
async fn error_of(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let header_id = resp.headers()["request-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["request_id"], header_id.as_str());
    assert!(header_id.starts_with("req_011C"), "{header_id}");
    (
        status,
        body["error"]["type"].as_str().unwrap().to_owned(),
        body["error"]["message"].as_str().unwrap().to_owned(),
    )
}

async fn refused(sim: &SimHandle, body: Value) -> (u16, String, String) {
    error_of(post(sim, &body).await).await
}

#[tokio::test]
async fn key_is_accepted_as_x_api_key_or_bearer_and_checked() {
    let sim = sim().await;
    let url = format!("{}/v1/messages", sim.origin());
    let body = msg("claude-3-haiku-20240307", "hi");
    let ok = post(&sim, &body).await;
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().contains_key("request-id"));
    let bearer = client()
        .post(&url)
        .bearer_auth(ANT_KEY)
        .header("anthropic-version", "2026-10-21")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    let none = client()
        .post(&url)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(none).await,
        (
            401,
            "authentication_error".into(),
            "x-api-key header is required".into()
        )
    );
    let wrong = client()
        .post(&url)
        .header("x-api-key", "sk-ant-wrong")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(wrong).await,
        (
            401,
            "authentication_error".into(),
            "invalid x-api-key".into()
        )
    );
    let no_version = client()
        .post(&url)
        .header("x-api-key", ANT_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(no_version).await,
        (
            400,
            "invalid_request_error".into(),
            "anthropic-version: header is required".into()
        )
    );
    // Every attempt was recorded, the refused ones included.
    assert_eq!(sim.request_count(), 5);
}

#[tokio::test]
async fn a_plain_answer_has_the_message_shape_and_documented_usage() {
    let sim = sim().await;
    let resp = post(&sim, &msg("claude-3-haiku-20240307", "hi there")).await;
    assert_eq!(resp.status(), 200);
    let m: Value = resp.json().await.unwrap();
    let id = m["id"].as_str().unwrap();
    assert!(id.starts_with("msg_01") && id.len() == 28, "{id}");
    assert_eq!(m["type"], "message");
    assert_eq!(m["role"], "assistant");
    assert_eq!(m["model"], "claude-3-haiku-20240307");
    assert_eq!(
        m["content"],
        json!([{"type": "text", "text": "Hello from anthropic claude-3-haiku-20240307: hi there"}])
    );
    assert_eq!(m["stop_reason"], "end_turn");
    assert_eq!(m["stop_sequence"], Value::Null);
    // "hi there" = 8 characters: 8/4 + 3 = 5 input tokens; 5 pieces = 5 output tokens.
    assert_eq!(
        m["usage"],
        json!({"input_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
               "output_tokens": 5, "service_tier": "standard"})
    );
}

#[tokio::test]
async fn input_tokens_count_system_tools_images_and_cache_is_reported() {
    let sim = sim_with(AnthropicSimConfig::new(ANT_KEY).with_cache_tokens(1000, 24)).await;
    let tools = json!([{"name": "f", "input_schema": {"type": "object"}}]);
    let body = json!({"model": "claude-sonnet-4-20250514", "max_tokens": 10,
        "system": "12345678", "tools": tools, "tool_choice": {"type": "none"},
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "abcd"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGkh"}}]}]});
    let m: Value = post(&sim, &body).await.json().await.unwrap();
    let tools_chars = tools.to_string().len() as u64;
    assert_eq!(
        m["usage"]["input_tokens"],
        (4 / 4 + 3 + 85) + 8 / 4 + tools_chars / 4
    );
    assert_eq!(m["usage"]["cache_read_input_tokens"], 1000);
    assert_eq!(m["usage"]["cache_creation_input_tokens"], 24);
}

#[tokio::test]
async fn stop_sequences_and_max_tokens_end_the_answer() {
    let sim = sim().await;
    let mut b = msg("claude-2.1", "hi");
    b["stop_sequences"] = json!(["zzz", "anthropic"]);
    let m: Value = post(&sim, &b).await.json().await.unwrap();
    assert_eq!(m["content"][0]["text"], "Hello from ");
    assert_eq!(m["stop_reason"], "stop_sequence");
    assert_eq!(m["stop_sequence"], "anthropic");
    let mut b = msg("claude-2.1", "hi");
    b["max_tokens"] = json!(2);
    let m: Value = post(&sim, &b).await.json().await.unwrap();
    assert_eq!(m["stop_reason"], "max_tokens");
    assert_eq!(m["usage"]["output_tokens"], 2);
    assert_eq!(m["content"][0]["text"], "Hello from ant");
}

#[tokio::test]
async fn tool_calls_follow_tool_choice_and_parallel_use() {
    let sim = sim().await;
    let tools = json!([{"name": "get_weather", "input_schema": {"type": "object"}},
                       {"name": "get_time", "input_schema": {"type": "object"}}]);
    let call = |choice: Value| {
        let mut b = msg("claude-opus-4-20250514", "weather and time?");
        b["tools"] = tools.clone();
        if !choice.is_null() {
            b["tool_choice"] = choice;
        }
        b
    };
    let kinds = |m: &Value| -> Vec<String> {
        m["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| match b["type"].as_str().unwrap() {
                "tool_use" => format!("tool:{}", b["name"].as_str().unwrap()),
                other => format!("{other}:{}", b["text"].as_str().unwrap_or("")),
            })
            .collect()
    };
    let m: Value = post(&sim, &call(Value::Null)).await.json().await.unwrap();
    assert_eq!(
        kinds(&m),
        vec![
            "text:Calling get_weather and get_time.",
            "tool:get_weather",
            "tool:get_time"
        ]
    );
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(
        m["content"][1]["input"],
        json!({"location": "Paris", "unit": "celsius"})
    );
    assert!(
        m["content"][1]["id"]
            .as_str()
            .unwrap()
            .starts_with("toolu_01")
    );
    // 1 text piece + 2 × 5 fragments.
    assert_eq!(m["usage"]["output_tokens"], 11);
    let m: Value = post(
        &sim,
        &call(json!({"type": "any", "disable_parallel_tool_use": true})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(kinds(&m), vec!["tool:get_weather"]);
    let m: Value = post(&sim, &call(json!({"type": "tool", "name": "get_time"})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kinds(&m), vec!["tool:get_time"]);
    let m: Value = post(&sim, &call(json!({"type": "none"})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["stop_reason"], "end_turn");
    let (_, _, e) = refused(&sim, call(json!({"type": "tool", "name": "nope"}))).await;
    assert_eq!(
        e,
        "tool_choice.tool.name: Tool 'nope' not found in provided tools"
    );
    let (_, _, e) = refused(
        &sim,
        call(json!({"type": "none", "disable_parallel_tool_use": true})),
    )
    .await;
    assert_eq!(
        e,
        "tool_choice.none.disable_parallel_tool_use: Extra inputs are not permitted"
    );
}

#[tokio::test]
async fn injected_errors_use_anthropic_types_and_statuses() {
    let sim = sim().await;
    for (kind, status) in [
        ("invalid_request_error", 400),
        ("authentication_error", 401),
        ("billing_error", 402),
        ("permission_error", 403),
        ("not_found_error", 404),
        ("request_too_large", 413),
        ("rate_limit_error", 429),
        ("api_error", 500),
        ("overloaded_error", 529),
    ] {
        let resp = post(
            &sim,
            &msg("claude-3-haiku-20240307", &format!("go sim_error:{kind}.")),
        )
        .await;
        let retry = resp.headers().get("retry-after").cloned();
        let (s, k, _) = error_of(resp).await;
        assert_eq!((s, k.as_str()), (status, kind));
        assert_eq!(retry.is_some(), kind == "rate_limit_error", "{kind}");
    }
    let (s, k, m) = refused(&sim, msg("claude-3-haiku-20240307", "sim_fault:status=529")).await;
    assert_eq!(
        (s, k.as_str(), m.as_str()),
        (529, "overloaded_error", "Overloaded")
    );
    sim.push_fault(Fault::status(500));
    let (s, k, _) = refused(&sim, msg("claude-3-haiku-20240307", "hi")).await;
    assert_eq!((s, k.as_str()), (500, "api_error"));
    let (s, _, m) = refused(&sim, msg("claude-3-haiku-20240307", "sim_error:exploded")).await;
    assert_eq!(s, 400);
    assert!(
        m.starts_with("sim_error: unknown error type `exploded`"),
        "{m}"
    );
}

#[tokio::test]
async fn models_are_listed_and_unknown_paths_are_anthropic_404s() {
    let sim = sim().await;
    let list: Value = client()
        .get(format!("{}/v1/models", sim.origin()))
        .header("x-api-key", ANT_KEY)
        .header("anthropic-version", "2023-06-01")
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
    assert!(ids.contains(&"claude-haiku-4-5-20251001") && ids.contains(&"claude-2.0"));
    assert_eq!(list["has_more"], false);
    let resp = client()
        .post(format!("{}/v1/complete", sim.origin()))
        .send()
        .await
        .unwrap();
    let (s, k, _) = error_of(resp).await;
    assert_eq!((s, k.as_str()), (404, "not_found_error"));
}

#[tokio::test]
async fn the_binary_subcommand_serves_the_simulator() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard-sim"))
        .args([
            "anthropic",
            "--listen",
            "127.0.0.1:0",
            "--key",
            "sk-ant-bin",
            "--models",
            "claude-2.1",
            "--chunks",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let origin = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    let send = |model: &str| {
        client()
            .post(format!("{origin}/v1/messages"))
            .header("x-api-key", "sk-ant-bin")
            .header("anthropic-version", "2023-06-01")
            .json(&msg(model, "hi"))
            .send()
    };
    let m: Value = send("claude-2.1").await.unwrap().json().await.unwrap();
    assert_eq!(m["usage"]["output_tokens"], 2);
    assert_eq!(send("claude-2.0").await.unwrap().status(), 404);
    // Stopped by its PID (the child of this test), never by name.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}
