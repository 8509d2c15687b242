//! Zhipu GLM through the gateway, against the Zhipu simulator (which verifies the JWT's
//! signature, key id and expiry on every request): every default chat model on the v4 and the
//! legacy v3 API, stream and non-stream, usage rows, tools, mapped error codes, failover on a
//! refused token, the v4 finish reasons, and embeddings.

use serde_json::{Value, json};
use switchyard_sim::{SimHandle, ZhipuSimConfig, spawn_zhipu};

use crate::helpers::*;

const KEY: &str = "0123456789abcdef0123456789abcdef.SecretSecretSecr";
const V4_MODELS: [&str; 3] = ["glm-3-turbo", "glm-4", "glm-4v"];
const V3_MODELS: [&str; 4] = [
    "chatglm_lite",
    "chatglm_std",
    "chatglm_pro",
    "chatglm_turbo",
];

async fn zhipu_sim() -> SimHandle {
    spawn_zhipu(ZhipuSimConfig::new(KEY)).await.unwrap()
}

/// A gateway with one Zhipu channel serving the default models.
async fn gateway(sim: &SimHandle) -> Gateway {
    Gateway::start_with(
        &channel("zp", "zhipu", &sim.origin(), KEY, &[], 0),
        &[("SWITCHYARD_UPSTREAM__FAILURE_THRESHOLD", "1000")],
    )
    .await
}

/// The simulator's answer text and prompt tokens for one user message `text`.
fn expected(model: &str, text: &str) -> (String, i64) {
    (
        format!("Hello from zhipu {model}: {text}"),
        (text.chars().count() / 4 + 3) as i64,
    )
}

#[tokio::test]
async fn every_default_chat_model_non_stream_with_usage_rows() {
    let up = zhipu_sim().await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    for (i, model) in V4_MODELS.iter().chain(V3_MODELS.iter()).enumerate() {
        let text = format!("hello {model}");
        let (st, v) = chat(&gw, &key, &json!({"model": model, "messages": user(&text)})).await;
        assert_eq!(st, 200, "{model}");
        let (want, prompt) = expected(model, &text);
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], *model);
        let c = &v["choices"][0];
        assert_eq!(c["message"]["role"], "assistant");
        assert_eq!(
            c["message"]["content"], want,
            "{model}: v3 text is unquoted"
        );
        assert_eq!(c["finish_reason"], "stop");
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": prompt, "completion_tokens": 5, "total_tokens": prompt + 5}),
            "{model}"
        );
        let sent = &up.requests()[i];
        if model.starts_with("chatglm") {
            assert_eq!(
                sent,
                &json!({"prompt": [{"role": "user", "content": text}]})
            );
        } else {
            assert_eq!(sent["model"], *model);
        }
        assert_row(&gw.last_row(id, i + 1).await, model, (prompt, 5), false);
    }
}

#[tokio::test]
async fn v4_models_stream_with_openai_framing_and_final_chunk_usage() {
    let up = zhipu_sim().await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    for (i, model) in V4_MODELS.iter().enumerate() {
        let text = format!("stream {model}");
        let body = json!({"model": model, "messages": user(&text), "stream": true,
                          "stream_options": {"include_usage": true}});
        let chunks = stream_chat(&gw, &key, &body).await;
        let (want, prompt) = expected(model, &text);
        let content = assert_openai_stream(&chunks, model, &want, (prompt, 5));
        assert_eq!(content.len(), 6, "5 pieces and the finish chunk");
        assert_row(&gw.last_row(id, i + 1).await, model, (prompt, 5), true);
        assert_eq!(up.requests()[i]["stream"], true);
    }
}

/// v3 `sse-invoke` sends raw text after `data:` with no separator (a piece that begins with a
/// space keeps it); its usage travels on the `finish` event's `meta:` line and is billed
/// exactly.
#[tokio::test]
async fn v3_models_stream_from_add_events_until_finish() {
    let up = zhipu_sim().await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    for (i, model) in V3_MODELS.iter().enumerate() {
        let text = format!("stream {model}");
        let body = json!({"model": model, "messages": user(&text), "stream": true,
                          "stream_options": {"include_usage": true}});
        let chunks = stream_chat(&gw, &key, &body).await;
        let (usage_chunk, content) = chunks.split_last().unwrap();
        let (want, prompt) = expected(model, &text);
        assert_eq!(content_of(content), want, "{model}");
        assert_eq!(
            content.last().unwrap()["choices"][0]["finish_reason"],
            "stop"
        );
        assert!(
            content
                .iter()
                .all(|c| c["model"] == *model && c["id"] == content[0]["id"])
        );
        assert_eq!(up.requests()[i]["incremental"], true);
        // The usage read from the finish event's meta: line.
        assert_row(&gw.last_row(id, i + 1).await, model, (prompt, 5), true);
        assert_eq!(usage_chunk["usage"]["completion_tokens"], 5);
        assert_eq!(usage_chunk["usage"]["prompt_tokens"], prompt);
    }
}

#[tokio::test]
async fn tools_non_stream_and_stream() {
    let up = zhipu_sim().await;
    let gw = gateway(&up).await;
    let (_, key) = gw.plain_key().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}]);
    let v: Value = gw
        .post_chat(
            &key,
            &json!({"model": "glm-4", "messages": user("weather?"), "tools": tools,
            "tool_choice": "required"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let msg = &v["choices"][0]["message"];
    assert_eq!(msg["content"], Value::Null);
    assert_eq!(msg["tool_calls"][0]["type"], "function");
    assert_eq!(msg["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(
        msg["tool_calls"][0]["function"]["arguments"],
        r#"{"location":"Paris","unit":"celsius"}"#
    );
    assert!(
        msg["tool_calls"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("call_")
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        up.requests()[0]["tool_choice"],
        "auto",
        "GLM knows only `auto`"
    );

    let body =
        json!({"model": "glm-4", "messages": user("weather?"), "tools": tools, "stream": true});
    let chunks = stream_chat(&gw, &key, &body).await;
    let call = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(call["index"], 0);
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn mapped_error_codes_reach_the_client_as_openai_errors() {
    let up = zhipu_sim().await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    let cases = [
        ("glm-4", "1301", 400, "content_filter"),
        ("glm-4", "1261", 400, "context_length_exceeded"),
        ("glm-4", "1302", 429, "rate_limit_exceeded"),
        ("glm-4", "1305", 429, "rate_limit_exceeded"),
        ("glm-4", "1113", 502, "upstream_auth_failed"),
        ("glm-4", "1002", 502, "upstream_auth_failed"),
        ("glm-4", "1312", 503, "model_overloaded"),
        ("glm-4", "1234", 502, "upstream_network_error"),
        // v3 reports these inside an HTTP 200.
        ("chatglm_turbo", "1301", 400, "content_filter"),
        ("chatglm_std", "1303", 429, "rate_limit_exceeded"),
    ];
    for (n, (model, code, status, openai_code)) in cases.iter().enumerate() {
        let (st, v) = chat(
            &gw,
            &key,
            &json!({"model": model, "messages": user(&format!("sim_error:{code}"))}),
        )
        .await;
        assert_eq!(st, *status, "{model} {code}");
        assert_eq!(v["error"]["code"], *openai_code, "{model} {code}: {v}");
        let rows = gw.usage_n(id, n + 1).await;
        assert_eq!(rows[0].row.status, i64::from(*status));
    }
}

#[tokio::test]
async fn unknown_upstream_model_is_a_404() {
    let up = zhipu_sim().await;
    let gw = Gateway::start(&format!(
        "{}\nmodel_map = {{ \"glm-4\" = \"glm-99\" }}\n",
        channel("zp", "zhipu", &up.origin(), KEY, &["glm-4"], 0).trim_end()
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    let (st, v) = chat(
        &gw,
        &key,
        &json!({"model": "glm-4", "messages": user("hi")}),
    )
    .await;
    assert_eq!(st, 404);
    assert_eq!(v["error"]["code"], "model_not_found");
    assert_eq!(up.requests()[0]["model"], "glm-99");
}

#[tokio::test]
async fn a_refused_token_fails_over_to_the_next_channel() {
    let up = zhipu_sim().await;
    let gw = Gateway::start(&format!(
        "{}{}",
        channel(
            "wrong",
            "zhipu",
            &up.origin(),
            "0123456789abcdef0123456789abcdef.NotTheSecret",
            &["glm-4", "chatglm_std"],
            10
        ),
        channel(
            "right",
            "zhipu",
            &up.origin(),
            KEY,
            &["glm-4", "chatglm_std"],
            0
        ),
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    for (model, requests) in [("glm-4", 2), ("chatglm_std", 4)] {
        let (st, v) = chat(&gw, &key, &json!({"model": model, "messages": user("hi")})).await;
        assert_eq!(st, 200, "{model}");
        assert_eq!(
            v["choices"][0]["message"]["content"],
            format!("Hello from zhipu {model}: hi")
        );
        assert_eq!(
            up.request_count(),
            requests,
            "the refused attempt reached the simulator"
        );
    }
}

#[tokio::test]
async fn malformed_channel_key_is_a_clear_400_without_the_secret() {
    let up = zhipu_sim().await;
    let gw = Gateway::start(&channel(
        "zp",
        "zhipu",
        &up.origin(),
        "no-dot-S3CR3T",
        &["glm-4"],
        0,
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    let resp = gw
        .post_chat(&key, &json!({"model": "glm-4", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("Zhipu channel key is malformed") && !text.contains("S3CR3T"),
        "{text}"
    );
    assert_eq!(up.request_count(), 0);
}

#[tokio::test]
async fn v4_finish_reasons_sensitive_and_network_error() {
    let up = zhipu_sim().await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    let body =
        json!({"model": "glm-4", "messages": user("x sim_finish:sensitive"), "stream": true});
    let chunks = stream_chat(&gw, &key, &body).await;
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "content_filter"
    );
    let v: Value = gw
        .post_chat(
            &key,
            &json!({"model": "glm-4", "messages": user("x sim_finish:sensitive")}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter");

    let (st, data) = stream_data(
        &gw,
        &key,
        &json!({"model": "glm-4", "messages": user("x sim_finish:network_error"), "stream": true}),
    )
    .await;
    assert_eq!(st, 200, "the first chunks were already sent");
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_network_error", "{last}");
    assert!(!data.iter().any(|d| d == "[DONE]"));
    let resp = gw
        .post_chat(
            &key,
            &json!({"model": "glm-4", "messages": user("x sim_finish:network_error")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    let rows = gw.usage_n(id, 4).await;
    assert_eq!(
        rows[1].row.status, 502,
        "the broken stream is settled as failed"
    );
}

#[tokio::test]
async fn v3_stream_interrupted_ends_with_an_error_object() {
    let up = zhipu_sim().await;
    let gw = gateway(&up).await;
    let (_, key) = gw.plain_key().await;
    let (st, data) = stream_data(
        &gw,
        &key,
        &json!({"model": "chatglm_pro", "messages": user("sim_event:interrupted"), "stream": true}),
    )
    .await;
    assert_eq!(st, 200);
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("interrupted"),
        "{last}"
    );
}

/// The v3 API reports errors before a stream as a JSON body in a 200; the gateway does not look
/// at the content type of a stream answer yet, so the adapter never sees it and the attempt
/// ends as `bad_upstream_response` (after failover) instead of the mapped code.
#[tokio::test]
async fn v3_error_before_a_stream_is_mapped() {
    let up = zhipu_sim().await;
    let gw = gateway(&up).await;
    let (_, key) = gw.plain_key().await;
    let (st, v) = chat(
        &gw,
        &key,
        &json!({"model": "chatglm_std", "stream": true, "messages": user("sim_error:1301")}),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["code"], "content_filter");
}

#[tokio::test]
async fn embeddings_through_the_v4_endpoint() {
    let up = zhipu_sim().await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    let post = |body: Value| {
        gw.http
            .post(format!("{}/v1/embeddings", gw.base))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    let resp = post(json!({"model": "embedding-2", "input": "hello world"}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 1024);
    assert_eq!(v["usage"]["prompt_tokens"], 2);
    assert_eq!(
        up.requests()[0],
        json!({"model": "embedding-2", "input": "hello world"})
    );
    let rows = gw.usage_n(id, 1).await;
    assert_eq!(rows[0].row.prompt_tokens, 2);
    let resp = post(json!({"model": "embedding-2", "input": ["a", "b"]}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "embedding-2 takes one text per request");
    assert_eq!(
        up.request_count(),
        1,
        "refused before reaching the upstream"
    );
}
