//! Tencent Hunyuan through the gateway, against the Hunyuan simulator (which recomputes the TC3
//! signature of every request): every default chat model, stream and non-stream, usage rows,
//! tools, mapped HTTP-200 errors, failover on a refused signature, and embeddings.

use serde_json::{Value, json};
use switchyard_sim::{HunyuanSimConfig, SimHandle, spawn_hunyuan};

use crate::helpers::*;

const ID: &str = "AKIDgatewayTest0123456789abcdefghij";
const SECRET: &str = "gatewaySecretKey0123456789abcdef";
const CHAT_MODELS: [&str; 4] = ["hunyuan", "hunyuan-lite", "hunyuan-standard", "hunyuan-pro"];

async fn hunyuan_sim() -> SimHandle {
    spawn_hunyuan(HunyuanSimConfig::new(ID, SECRET))
        .await
        .unwrap()
}

/// A gateway with one Hunyuan channel serving the default models.
async fn gateway(sim: &SimHandle) -> Gateway {
    Gateway::start(&channel(
        "hy",
        "hunyuan",
        &sim.origin(),
        &format!("{ID}|{SECRET}"),
        &[],
        0,
    ))
    .await
}

/// What the simulator answers for a single user message `text` to `native` model.
fn expected(native: &str, text: &str) -> (String, i64) {
    let prompt = (text.chars().count() / 4 + 3) as i64;
    (format!("Hello from hunyuan {native}: {text}"), prompt)
}

fn native(model: &str) -> &str {
    if model == "hunyuan" {
        "hunyuan-standard"
    } else {
        model
    }
}

#[tokio::test]
async fn every_default_model_non_stream_with_usage_rows() {
    let up = hunyuan_sim().await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    for (i, model) in CHAT_MODELS.iter().enumerate() {
        let text = format!("hello {model}");
        let (st, v) = chat(&gw, &key, &json!({"model": model, "messages": user(&text)})).await;
        assert_eq!(st, 200, "{model}");
        let (want, prompt) = expected(native(model), &text);
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], *model, "the client sees the name it asked for");
        let c = &v["choices"][0];
        assert_eq!(c["message"]["role"], "assistant");
        assert_eq!(c["message"]["content"], want);
        assert_eq!(c["finish_reason"], "stop");
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": prompt, "completion_tokens": 5, "total_tokens": prompt + 5})
        );
        let sent = &up.requests()[i];
        assert_eq!(sent["Model"], native(model), "upstream model name");
        assert_eq!(sent["Messages"], json!([{"Role": "user", "Content": text}]));
        assert_row(&gw.last_row(id, i + 1).await, model, (prompt, 5), false);
    }
}

#[tokio::test]
async fn every_default_model_streams_with_openai_framing_and_cumulative_usage_once() {
    let up = hunyuan_sim().await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    for (i, model) in CHAT_MODELS.iter().enumerate() {
        let text = format!("stream {model}");
        let body = json!({"model": model, "messages": user(&text), "stream": true,
                          "stream_options": {"include_usage": true}});
        let chunks = stream_chat(&gw, &key, &body).await;
        let (want, prompt) = expected(native(model), &text);
        assert_openai_stream(&chunks, model, &want, (prompt, 5));
        assert_row(&gw.last_row(id, i + 1).await, model, (prompt, 5), true);
        assert_eq!(up.requests()[i]["Stream"], true);
    }
}

#[tokio::test]
async fn tool_calls_stream_with_index_and_name_once() {
    let up = hunyuan_sim().await;
    let gw = gateway(&up).await;
    let (_, key) = gw.plain_key().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}]);
    let body = json!({"model": "hunyuan-pro", "messages": user("weather?"), "stream": true, "tools": tools});
    let chunks = stream_chat(&gw, &key, &body).await;
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(calls.len(), 5);
    assert!(calls.iter().all(|c| c["index"] == 0));
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
    assert!(
        calls[1..]
            .iter()
            .all(|c| c.get("id").is_none() && c["function"].get("name").is_none())
    );
    let args: String = calls
        .iter()
        .map(|c| c["function"]["arguments"].as_str().unwrap())
        .collect();
    assert_eq!(args, r#"{"location":"Paris","unit":"celsius"}"#);
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
    let sent = &up.requests()[0];
    assert_eq!(
        sent["Tools"][0]["Function"]["Parameters"],
        r#"{"properties":{"location":{"type":"string"}},"type":"object"}"#
    );
}

#[tokio::test]
async fn http_200_errors_are_mapped_to_openai_statuses() {
    let up = hunyuan_sim().await;
    let gw = Gateway::start_with(
        &channel(
            "hy",
            "hunyuan",
            &up.origin(),
            &format!("{ID}|{SECRET}"),
            &[],
            0,
        ),
        &[("SWITCHYARD_UPSTREAM__FAILURE_THRESHOLD", "1000")],
    )
    .await;
    let (id, key) = gw.plain_key().await;
    let cases = [
        ("OperationDenied.TextIllegalDetected", 400, "content_filter"),
        ("RequestLimitExceeded", 429, "rate_limit_exceeded"),
        ("InvalidParameterValue.Model", 404, "model_not_found"),
        ("AuthFailure.SignatureFailure", 502, "upstream_auth_failed"),
        (
            "ResourceInsufficient.ChargeResourceExhaust",
            502,
            "upstream_auth_failed",
        ),
        ("InternalError", 502, "InternalError"),
    ];
    for (n, (code, status, openai_code)) in cases.iter().enumerate() {
        let (st, v) = chat(
            &gw,
            &key,
            &json!({"model": "hunyuan-lite", "messages": user(&format!("sim_error:{code}"))}),
        )
        .await;
        assert_eq!(st, *status, "{code}");
        assert_eq!(v["error"]["code"], *openai_code, "{code}: {v}");
        let rows = gw.usage_n(id, n + 1).await;
        assert_eq!(rows[0].row.status, i64::from(*status));
    }
}

#[tokio::test]
async fn a_refused_signature_fails_over_to_the_next_channel() {
    let up = hunyuan_sim().await;
    let gw = Gateway::start(&format!(
        "{}{}",
        channel(
            "wrong",
            "hunyuan",
            &up.origin(),
            &format!("{ID}|not-the-secret"),
            &["hunyuan-lite"],
            10
        ),
        channel(
            "right",
            "hunyuan",
            &up.origin(),
            &format!("{ID}|{SECRET}"),
            &["hunyuan-lite"],
            0
        ),
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    let (st, v) = chat(
        &gw,
        &key,
        &json!({"model": "hunyuan-lite", "messages": user("hi")}),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from hunyuan hunyuan-lite: hi"
    );
    assert_eq!(
        up.request_count(),
        2,
        "the refused attempt reached the simulator"
    );
}

#[tokio::test]
async fn mid_stream_error_msg_ends_the_stream_with_an_error_object() {
    let up = hunyuan_sim().await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    let (st, data) = stream_data(&gw, &key, &json!({"model": "hunyuan-lite", "messages": user("x sim_error:stream4001"), "stream": true})).await;
    assert_eq!(st, 200);
    let first: Value = serde_json::from_str(&data[0]).unwrap();
    assert!(first["choices"][0]["delta"]["content"].is_string());
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert!(
        last["error"]["message"].as_str().unwrap().contains("4001"),
        "{last}"
    );
    assert!(!data.iter().any(|d| d == "[DONE]"));
    let rows = gw.usage_n(id, 1).await;
    assert_eq!(rows[0].row.completion_tokens, 1, "usage so far is settled");
}

#[tokio::test]
async fn sensitive_stream_finishes_with_content_filter() {
    let up = hunyuan_sim().await;
    let gw = gateway(&up).await;
    let (_, key) = gw.plain_key().await;
    let (_, data) = stream_data(&gw, &key, &json!({"model": "hunyuan-lite", "messages": user("x sim_error:sensitive"), "stream": true})).await;
    let last: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "content_filter");
}

/// Hunyuan reports errors that happen before a stream starts as a plain `application/json`
/// `Response.Error` body (HTTP 200), not as SSE. The gateway does not look at the content type of
/// a stream answer yet, so such an error surfaces as `bad_upstream_response`.
#[tokio::test]
async fn error_before_a_stream_starts_is_mapped() {
    let up = hunyuan_sim().await;
    let gw = gateway(&up).await;
    let (_, key) = gw.plain_key().await;
    let (st, v) = chat(
        &gw,
        &key,
        &json!({"model": "hunyuan-lite", "stream": true,
                    "messages": user("sim_error:OperationDenied.TextIllegalDetected")}),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["code"], "content_filter");
}

#[tokio::test]
async fn embeddings_through_get_embedding() {
    let up = hunyuan_sim().await;
    let gw = gateway(&up).await;
    let (_, key) = gw.plain_key().await;
    let resp = gw
        .http
        .post(format!("{}/v1/embeddings", gw.base))
        .bearer_auth(&key)
        .json(&json!({"model": "hunyuan-embedding", "input": ["first text", "second"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 1024);
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    assert_eq!(
        up.requests()[0],
        json!({"InputList": ["first text", "second"]})
    );
}
