//! Anthropic through the gateway: multi-turn conversations the strict simulator accepts only
//! when repaired correctly, cache tokens, images, mapped errors, mid-stream errors, failover.

use serde_json::{Value, json};
use switchyard_sim::AnthropicSimConfig;

use super::{KEY, ant_sim, gateway};
use crate::helpers::*;

#[tokio::test]
async fn scattered_system_messages_consecutive_turns_and_tool_results_are_repaired() {
    let up = ant_sim(AnthropicSimConfig::new(KEY)).await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    let body = json!({
        "model": "claude-3-7-sonnet-20250219",
        "tools": super::tools(),
        "messages": [
            {"role": "system", "content": "You are a weather bot."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "user", "content": "And the time?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "toolu_01A", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}},
                {"id": "toolu_01B", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
            {"role": "developer", "content": "Answer in one sentence."},
            {"role": "tool", "tool_call_id": "toolu_01A", "content": "18C"},
            {"role": "user", "content": "Please hurry."},
            {"role": "tool", "tool_call_id": "toolu_01B", "content": "noon"}
        ]
    });
    let (st, v) = chat(&gw, &key, &body).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from anthropic claude-3-7-sonnet-20250219: tool result: 18C noon"
    );
    let sent = &up.requests()[0];
    assert_eq!(
        sent["system"],
        "You are a weather bot.\n\nAnswer in one sentence."
    );
    assert_eq!(
        sent["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "Weather in Paris?"},
                {"type": "text", "text": "And the time?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"location": "Paris"}},
                {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "toolu_01B", "content": "noon"},
                {"type": "text", "text": "Please hurry."}]}
        ])
    );
    let rows = gw.usage_n(id, 1).await;
    assert_eq!(rows[0].row.status, 200);
    assert_eq!(v["usage"]["prompt_tokens"], rows[0].row.prompt_tokens);
    assert_eq!(
        v["usage"]["completion_tokens"],
        rows[0].row.completion_tokens
    );
}

#[tokio::test]
async fn cache_read_tokens_are_prompt_tokens_and_cached_details() {
    let up = ant_sim(AnthropicSimConfig::new(KEY).with_cache_tokens(1000, 24)).await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    let v: Value = gw
        .post_chat(
            &key,
            &json!({"model": "claude-sonnet-4-5-20250929", "messages": user("abcd")}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // input 4/4 + 3 = 4, plus 1000 read from the cache and 24 written to it.
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 1028, "completion_tokens": 5, "total_tokens": 1033,
               "prompt_tokens_details": {"cached_tokens": 1000}})
    );
    let body = json!({"model": "claude-sonnet-4-5-20250929", "messages": user("abcd"),
                      "stream": true, "stream_options": {"include_usage": true}});
    let chunks = stream_chat(&gw, &key, &body).await;
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(
        (&usage["prompt_tokens"], &usage["completion_tokens"]),
        (&json!(1028), &json!(5))
    );
    let rows = gw.usage_n(id, 2).await;
    for r in &rows {
        assert_eq!((r.row.prompt_tokens, r.row.completion_tokens), (1028, 5));
        assert_eq!(
            r.row.cached_tokens, 1000,
            "the usage row records the cache reads"
        );
    }
}

#[tokio::test]
async fn images_arrive_as_base64_sources_whether_data_or_fetched_urls() {
    // A local image server; the gateway may fetch from loopback only because this test allows it.
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n-not-really-a-png";
    let app = axum::Router::new().route(
        "/cat.png",
        axum::routing::get(|| async { ([("content-type", "image/png")], PNG) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let img_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let up = ant_sim(AnthropicSimConfig::new(KEY)).await;
    let gw = Gateway::start_with(
        &channel("claude", "anthropic", &up.origin(), KEY, &[], 0),
        &[("SWITCHYARD_UPSTREAM__IMAGE_FETCH_ALLOW_PRIVATE", "true")],
    )
    .await;
    let (_, key) = gw.plain_key().await;
    let body = json!({"model": "claude-3-5-sonnet-20241022", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what are these?"},
        {"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lGODlhAQABAAAAACw="}},
        {"type": "image_url", "image_url": {"url": format!("http://{img_addr}/cat.png"), "detail": "low"}}
    ]}]});
    let (st, v) = chat(&gw, &key, &body).await;
    assert_eq!(st, 200, "{v}");
    // "what are these?" = 15 characters: 15/4 + 3 = 6, plus 85 per image.
    assert_eq!(v["usage"]["prompt_tokens"], 6 + 2 * 85);
    use base64::Engine as _;
    let png_b64 = base64::engine::general_purpose::STANDARD.encode(PNG);
    assert_eq!(
        up.requests()[0]["messages"][0]["content"],
        json!([
            {"type": "text", "text": "what are these?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "R0lGODlhAQABAAAAACw="}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png_b64}}
        ])
    );
}

#[tokio::test]
async fn anthropic_errors_reach_the_client_as_openai_errors() {
    let up = ant_sim(AnthropicSimConfig::new(KEY)).await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    let cases = [
        ("invalid_request_error", 400, "invalid_request_error", None),
        ("rate_limit_error", 429, "rate_limit_exceeded", Some("1")),
        ("overloaded_error", 503, "upstream_unavailable", Some("1")),
        ("api_error", 502, "upstream_error", None),
        ("authentication_error", 502, "upstream_auth_failed", None),
        ("billing_error", 502, "upstream_auth_failed", None),
        ("not_found_error", 404, "", None),
    ];
    for (n, (kind, status, code, retry)) in cases.iter().enumerate() {
        let resp = gw
            .post_chat(
                &key,
                &json!({"model": "claude-3-haiku-20240307", "messages": user(&format!("sim_error:{kind}"))}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), *status, "{kind}");
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let v: Value = resp.json().await.unwrap();
        if *kind == "invalid_request_error" {
            assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
            assert_eq!(v["error"]["message"], "Invalid request (simulated)");
        } else if !code.is_empty() {
            assert_eq!(v["error"]["code"], *code, "{kind}: {v}");
        }
        assert_eq!(retry_after.as_deref(), *retry, "{kind}");
        let rows = gw.usage_n(id, n + 1).await;
        assert_eq!(rows[0].row.status, i64::from(*status), "{kind}");
    }
}

#[tokio::test]
async fn a_wrong_channel_key_and_an_unknown_model_are_mapped() {
    let up = ant_sim(AnthropicSimConfig::new(KEY)).await;
    let gw = Gateway::start(&format!(
        "{}{}",
        channel(
            "bad-key",
            "anthropic",
            &up.origin(),
            "sk-ant-wrong",
            &["claude-2.1"],
            0
        ),
        channel("claude", "anthropic", &up.origin(), KEY, &["claude-9"], 0)
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    let (st, v) = chat(
        &gw,
        &key,
        &json!({"model": "claude-2.1", "messages": user("hi")}),
    )
    .await;
    assert_eq!(st, 502);
    assert_eq!(v["error"]["code"], "upstream_auth_failed");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("invalid x-api-key"), "{msg}");
    assert!(!msg.contains("sk-ant-wrong"), "{msg}");
    let (st, v) = chat(
        &gw,
        &key,
        &json!({"model": "claude-9", "messages": user("hi")}),
    )
    .await;
    assert_eq!(st, 404);
    assert_eq!(v["error"]["code"], "model_not_found", "{v}");
}

#[tokio::test]
async fn an_error_event_mid_stream_becomes_an_openai_error_frame() {
    let up = ant_sim(AnthropicSimConfig::new(KEY)).await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    let (st, data) = stream_data(
        &gw,
        &key,
        &json!({"model": "claude-3-opus-20240229", "stream": true,
                    "messages": user("sim_error:overloaded_error;after=5")}),
    )
    .await;
    assert_eq!(st, 200, "the first chunks were already sent");
    assert!(!data.iter().any(|d| d == "[DONE]"));
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "server_error", "{last}");
    assert_eq!(last["error"]["code"], "upstream_unavailable", "{last}");
    let first: Value = serde_json::from_str(&data[0]).unwrap();
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    let rows = gw.usage_n(id, 1).await;
    assert_eq!(rows[0].row.status, 503);
}

#[tokio::test]
async fn an_overloaded_channel_fails_over_to_the_next() {
    let busy = ant_sim(AnthropicSimConfig::new(KEY)).await;
    let ok = ant_sim(AnthropicSimConfig::new(KEY)).await;
    busy.push_fault(switchyard_sim::Fault::status(529));
    let gw = Gateway::start(&format!(
        "{}{}",
        channel(
            "busy",
            "anthropic",
            &busy.origin(),
            KEY,
            &["claude-2.0"],
            10
        ),
        channel("ok", "anthropic", &ok.origin(), KEY, &["claude-2.0"], 0)
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    let v: Value = gw
        .post_chat(
            &key,
            &json!({"model": "claude-2.0", "messages": user("hi")}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from anthropic claude-2.0: hi"
    );
    assert_eq!((busy.request_count(), ok.request_count()), (1, 1));
}
