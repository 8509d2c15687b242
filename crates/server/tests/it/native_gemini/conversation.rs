//! Gemini conversations through the gateway: scattered system messages and repaired roles the
//! strict simulator accepts, tools (parallel calls, tool results, thought signatures carried in
//! the call ids), cache tokens in cost and usage, inline images, mapped errors, a mid-stream
//! error, a blocked prompt, failover on a refused key and on overload, and a malformed channel
//! key.

use serde_json::{Value, json};
use switchyard_sim::Fault;
use switchyard_sim::gemini::GeminiSimConfig;

use super::{KEY, PIECES, THOUGHTS, gateway, gem_sim};
use crate::helpers::*;

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "description": "Weather",
         "parameters": {"type": "object", "additionalProperties": false,
           "properties": {"location": {"type": "string"}}, "required": ["location"]}}},
        {"type": "function", "function": {"name": "get_time",
         "parameters": {"type": "object", "properties": {}}}}
    ])
}

#[tokio::test]
async fn scattered_system_messages_and_consecutive_turns_are_repaired() {
    let up = gem_sim(GeminiSimConfig::new(KEY)).await;
    let gw = gateway(&up).await;
    let (_, key) = gw.plain_key().await;
    let body = json!({"model": "gemini-2.0-flash", "temperature": 5, "top_k": 3, "max_tokens": 50,
    "messages": [
        {"role": "system", "content": "Rule one."},
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
        {"role": "developer", "content": "Rule two."},
        {"role": "assistant", "content": "c"},
        {"role": "assistant", "content": "d"},
        {"role": "user", "content": "e"}
    ]});
    let resp = gw.post_chat(&key, &body).send().await.unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from gemini gemini-2.0-flash: e"
    );
    assert_eq!(
        up.requests()[0],
        json!({
            "systemInstruction": {"parts": [{"text": "Rule one."}, {"text": "Rule two."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
                {"role": "model", "parts": [{"text": "c"}, {"text": "d"}]},
                {"role": "user", "parts": [{"text": "e"}]}
            ],
            "generationConfig": {"temperature": 2.0, "topK": 3, "maxOutputTokens": 50}
        })
    );
}

#[tokio::test]
async fn tool_calls_results_and_thought_signatures_round_trip() {
    let up = gem_sim(GeminiSimConfig::new(KEY)).await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    // A thinking model signs its call; the signature must survive the client's round trip.
    let ask = json!({"role": "user", "content": "weather in Paris?"});
    let v: Value = gw
        .post_chat(
            &key,
            &json!({"model": "gemini-2.5-flash", "messages": [ask], "tools": tools()}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let msg = &v["choices"][0]["message"];
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(msg["content"], Value::Null);
    let call = msg["tool_calls"][0].clone();
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        call["function"]["arguments"],
        r#"{"location":"Paris","unit":"celsius"}"#
    );
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(v["usage"]["completion_tokens"], 8 + THOUGHTS);
    // The tool declarations reached Gemini sanitised (the strict simulator accepted them).
    assert_eq!(
        up.requests()[0]["tools"][0]["functionDeclarations"][1],
        json!({"name": "get_time"})
    );

    let follow = json!({"model": "gemini-2.5-flash", "tools": tools(), "messages": [
        ask, msg, {"role": "tool", "tool_call_id": call["id"], "content": "18C and sunny"}]});
    let resp = gw.post_chat(&key, &follow).send().await.unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        r#"Hello from gemini gemini-2.5-flash: tool result: {"content":"18C and sunny"}"#
    );
    let sent = &up.requests()[1]["contents"];
    assert!(
        sent[1]["parts"][0]["thoughtSignature"].is_string(),
        "{sent}"
    );
    assert_eq!(
        sent[2]["parts"][0],
        json!({"functionResponse": {"name": "get_weather", "response": {"content": "18C and sunny"}}})
    );

    // A signature that does not come back intact is refused by Gemini (400 passed on).
    let mut broken = follow.clone();
    broken["messages"][1]["tool_calls"][0]["id"] = json!("call_x__ts_QUJD");
    broken["messages"][2]["tool_call_id"] = json!("call_x__ts_QUJD");
    let (st, v) = chat(&gw, &key, &broken).await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["message"], "Corrupted thought signature.");
    assert_eq!(v["error"]["code"], "invalid_argument");
    let rows = gw.usage_n(id, 3).await;
    assert_eq!(rows[0].row.status, 400);
}

#[tokio::test]
async fn parallel_tool_calls_stream_with_indexes() {
    let up = gem_sim(GeminiSimConfig::new(KEY)).await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    let body = json!({"model": "gemini-2.0-flash", "stream": true, "tools": tools(),
        "tool_choice": "required", "stream_options": {"include_usage": true},
        "messages": user("weather and time, sim_parallel")});
    let chunks = stream_chat(&gw, &key, &body).await;
    let (usage_chunk, content) = chunks.split_last().unwrap();
    assert_eq!(
        content.len(),
        2,
        "Gemini sends the calls whole, in one event; the finish follows on its own"
    );
    let delta = &content[0]["choices"][0]["delta"];
    assert_eq!(delta["role"], "assistant");
    let calls = delta["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    for (i, (c, name)) in calls.iter().zip(["get_weather", "get_time"]).enumerate() {
        assert_eq!(c["index"], i);
        assert_eq!(c["type"], "function");
        assert_eq!(c["function"]["name"], name);
        assert!(c["id"].as_str().unwrap().starts_with("call_"));
    }
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    assert_eq!(content[0]["choices"][0]["finish_reason"], Value::Null);
    assert_eq!(content[1]["choices"][0]["delta"], json!({}));
    assert_eq!(content[1]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 16);
    assert_eq!(
        up.requests()[0]["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY"}})
    );
    let rows = gw.usage_n(id, 1).await;
    assert_eq!(rows[0].row.completion_tokens, 16);
}

#[tokio::test]
async fn cached_tokens_are_reported_and_priced() {
    let up = gem_sim(GeminiSimConfig::new(KEY).with_cached_tokens(3)).await;
    let gw = Gateway::start(&format!(
        "[prices.\"gemini-2.0-flash\"]\ninput = 1000000.0\noutput = 0.0\ncached_input = 0.0\n\n{}",
        channel("gem", "gemini", &up.origin(), KEY, &[], 0)
    ))
    .await;
    let (id, key) = gw.plain_key().await;
    let text = "a prompt of forty characters, more or le";
    let v: Value = gw
        .post_chat(
            &key,
            &json!({"model": "gemini-2.0-flash", "messages": user(text)}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let prompt = (text.chars().count() / 4 + 3) as i64;
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": prompt, "completion_tokens": PIECES, "total_tokens": prompt + PIECES,
               "prompt_tokens_details": {"cached_tokens": 3}})
    );
    let rows = gw.usage_n(id, 1).await;
    // One USD per uncached prompt token, nothing for cached or output tokens.
    assert_eq!(rows[0].row.cost_micros, (prompt - 3) * 1_000_000);
    assert_eq!(
        rows[0].row.cached_tokens, 3,
        "the usage row records the cache hit"
    );
    // The stream's final usage chunk carries the cached tokens too.
    let body = json!({"model": "gemini-2.0-flash", "messages": user(text), "stream": true,
                      "stream_options": {"include_usage": true}});
    let chunks = stream_chat(&gw, &key, &body).await;
    let last = chunks.last().unwrap();
    assert_eq!(
        last["usage"]["prompt_tokens_details"],
        json!({"cached_tokens": 3})
    );
}

#[tokio::test]
async fn data_images_go_inline() {
    let up = gem_sim(GeminiSimConfig::new(KEY)).await;
    let gw = gateway(&up).await;
    let (_, key) = gw.plain_key().await;
    let body = json!({"model": "gemini-pro-vision", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lGODlhAQABAAAAACw="}}
    ]}]});
    let v: Value = gw
        .post_chat(&key, &body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // "what is this?" = 13 characters: 13/4 + 3 = 6, plus 258 for the image.
    assert_eq!(v["usage"]["prompt_tokens"], 6 + 258, "{v}");
    assert_eq!(
        up.requests()[0]["contents"][0]["parts"],
        json!([{"text": "what is this?"},
               {"inlineData": {"mimeType": "image/gif", "data": "R0lGODlhAQABAAAAACw="}}])
    );
}

#[tokio::test]
async fn gemini_errors_reach_the_client_as_openai_errors() {
    let up = gem_sim(GeminiSimConfig::new(KEY)).await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    let cases = [
        ("RESOURCE_EXHAUSTED", 429, "rate_limit_exceeded"),
        ("INVALID_ARGUMENT", 400, "invalid_argument"),
        ("NOT_FOUND", 404, "model_not_found"),
        ("API_KEY_INVALID", 502, "upstream_auth_failed"),
        ("PERMISSION_DENIED", 502, "upstream_auth_failed"),
        ("FAILED_PRECONDITION", 502, "upstream_auth_failed"),
        ("INTERNAL", 502, "upstream_error"),
        ("UNAVAILABLE", 503, "upstream_unavailable"),
        ("DEADLINE_EXCEEDED", 504, "upstream_timeout"),
        ("PROMPT_BLOCKED", 400, "content_filter"),
    ];
    for (n, (code, status, openai_code)) in cases.iter().enumerate() {
        let resp = gw
            .post_chat(
                &key,
                &json!({"model": "gemini-2.0-flash", "messages": user(&format!("sim_error:{code}"))}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), *status, "{code}");
        if *status == 429 {
            // Gemini says how long to wait in RetryInfo (the simulator: "7s").
            assert_eq!(resp.headers()["retry-after"], "7");
        }
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], *openai_code, "{code}: {v}");
        assert!(v["error"]["message"].is_string());
        let rows = gw.usage_n(id, n + 1).await;
        assert_eq!(rows[0].row.status, i64::from(*status), "{code}");
    }
    // A candidate stopped by the safety filter is a 200 with finish_reason content_filter.
    let v: Value = gw
        .post_chat(
            &key,
            &json!({"model": "gemini-2.0-flash", "messages": user("sim_error:SAFETY")}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
    // A blocked prompt in a stream: the 400 comes before any chunk.
    let (st, v) = chat(
        &gw,
        &key,
        &json!({"model": "gemini-2.0-flash", "stream": true,
                    "messages": user("sim_error:PROMPT_BLOCKED")}),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["code"], "content_filter");
}

#[tokio::test]
async fn an_error_event_mid_stream_becomes_an_openai_error_frame() {
    let up = gem_sim(GeminiSimConfig::new(KEY)).await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    let (st, data) = stream_data(
        &gw,
        &key,
        &json!({"model": "gemini-2.0-flash", "stream": true,
                    "messages": user("sim_error:UNAVAILABLE@2")}),
    )
    .await;
    assert_eq!(st, 200, "the first chunks were already sent");
    assert!(!data.iter().any(|d| d == "[DONE]"));
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_unavailable", "{last}");
    assert_eq!(data.len(), 3, "two chunks, then the error");
    let rows = gw.usage_n(id, 1).await;
    assert_eq!(rows[0].row.status, 503);
    // "sim_error:UNAVAILABLE@2" = 23 characters: 23/4 + 3 = 8; two pieces came before the error.
    assert_eq!(
        (rows[0].row.prompt_tokens, rows[0].row.completion_tokens),
        (8, 2),
        "usage so far is settled"
    );
}

#[tokio::test]
async fn a_refused_key_and_an_overload_fail_over_to_the_next_channel() {
    let up = gem_sim(GeminiSimConfig::new(KEY)).await;
    let gw = Gateway::start(&format!(
        "{}{}",
        channel(
            "wrong",
            "gemini",
            &up.origin(),
            "AIzaNotTheKey",
            &["gemini-2.0-flash"],
            10
        ),
        channel(
            "right",
            "gemini",
            &up.origin(),
            KEY,
            &["gemini-2.0-flash"],
            0
        ),
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    let resp = gw
        .post_chat(
            &key,
            &json!({"model": "gemini-2.0-flash", "messages": user("hi")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "Gemini's 400 API_KEY_INVALID is a 401: retried"
    );
    assert_eq!(
        up.request_count(),
        2,
        "the refused attempt reached the simulator"
    );

    // Only the wrong key: the client sees the channel's credentials refused.
    let gw = Gateway::start(&channel(
        "wrong",
        "gemini",
        &up.origin(),
        "AIzaNotTheKey",
        &["gemini-2.0-flash"],
        0,
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    let (st, v) = chat(
        &gw,
        &key,
        &json!({"model": "gemini-2.0-flash", "messages": user("hi")}),
    )
    .await;
    assert_eq!(st, 502);
    assert_eq!(v["error"]["code"], "upstream_auth_failed");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API key not valid")
    );

    // An overloaded channel (503 UNAVAILABLE) is left for the next one.
    let busy = gem_sim(GeminiSimConfig::new(KEY)).await;
    busy.push_fault(Fault::status(503));
    let gw = Gateway::start(&format!(
        "{}{}",
        channel(
            "busy",
            "gemini",
            &busy.origin(),
            KEY,
            &["gemini-2.5-pro"],
            10
        ),
        channel("idle", "gemini", &up.origin(), KEY, &["gemini-2.5-pro"], 0),
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    let v: Value = gw
        .post_chat(
            &key,
            &json!({"model": "gemini-2.5-pro", "messages": user("hi")}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from gemini gemini-2.5-pro: hi"
    );
    assert_eq!(busy.request_count(), 1);
}

#[tokio::test]
async fn malformed_channel_key_is_a_clear_400_without_the_secret() {
    let up = gem_sim(GeminiSimConfig::new(KEY)).await;
    let gw = Gateway::start(&channel(
        "gem",
        "gemini",
        &up.origin(),
        "AIzaS3CR3T|second",
        &["gemini-2.0-flash"],
        0,
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    let resp = gw
        .post_chat(
            &key,
            &json!({"model": "gemini-2.0-flash", "messages": user("hi")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("Gemini channel key is malformed") && !text.contains("S3CR3T"),
        "{text}"
    );
    assert_eq!(up.request_count(), 0);
}
