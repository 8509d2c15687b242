//! iFlytek Spark through the gateway against the Spark simulator over a real WebSocket: every
//! default model stream and non-stream, usage rows, tools, system messages, mapped errors and
//! failover on a refused signature.

use serde_json::{Value, json};
use switchyard_sim::{SimHandle, SparkSimConfig, spawn_spark};

use crate::helpers::*;

const MODELS: [(&str, &str); 5] = [
    ("SparkDesk-v1.1", "lite"),
    ("SparkDesk-v2.1", "generalv2"),
    ("SparkDesk-v3.1", "generalv3"),
    ("SparkDesk-v3.5", "generalv3.5"),
    ("SparkDesk-v4.0", "4.0Ultra"),
];

fn cfg() -> SparkSimConfig {
    SparkSimConfig::new(
        "app-77",
        "key-spark-0123456789",
        "secret-spark-0123456789abcdef",
    )
}

async fn spark_sim() -> SimHandle {
    spawn_spark(cfg()).await.unwrap()
}

/// The channel's base URL. The config accepts only `http(s)://` base URLs; the Spark adapter
/// connects to `ws://` for `http://` (and `wss://` for `https://`).
fn ws_base(sim: &SimHandle) -> String {
    format!("http://{}", sim.addr())
}

async fn gateway(sim: &SimHandle) -> Gateway {
    let models: Vec<&str> = MODELS.iter().map(|(m, _)| *m).collect();
    Gateway::start(&channel(
        "spark",
        "spark",
        &ws_base(sim),
        &cfg().channel_key(),
        &models,
        0,
    ))
    .await
}

#[tokio::test]
async fn every_default_model_non_stream_with_usage_rows() {
    let up = spark_sim().await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    for (i, (model, domain)) in MODELS.iter().enumerate() {
        let (st, v) = chat(
            &gw,
            &key,
            &json!({"model": model, "messages": user("hello")}),
        )
        .await;
        assert_eq!(st, 200, "{model}");
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], *model);
        assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-cht"), "{v}");
        let choice = &v["choices"][0];
        assert_eq!(choice["index"], 0);
        assert_eq!(choice["message"]["role"], "assistant");
        assert_eq!(
            choice["message"]["content"],
            format!("Hello from spark {domain}: hello")
        );
        assert_eq!(choice["finish_reason"], "stop");
        // "hello": 5 / 4 + 3 = 4 prompt tokens; 5 frames of one token.
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}),
            "{model}"
        );
        let sent = &up.requests()[i];
        assert_eq!(sent["parameter"]["chat"]["domain"], *domain);
        assert_eq!(sent["header"]["app_id"], "app-77");
        assert_row(&gw.last_row(id, i + 1).await, model, (4, 5), false);
    }
}

#[tokio::test]
async fn every_default_model_streams_in_openai_framing() {
    let up = spark_sim().await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    for (i, (model, domain)) in MODELS.iter().enumerate() {
        let body = json!({"model": model, "messages": user("stream me"), "stream": true,
                          "stream_options": {"include_usage": true}});
        let chunks = stream_chat(&gw, &key, &body).await;
        let want = format!("Hello from spark {domain}: stream me");
        // "stream me": 9 / 4 + 3 = 5 prompt tokens.
        assert_openai_stream(&chunks, model, &want, (5, 5));
        assert_row(&gw.last_row(id, i + 1).await, model, (5, 5), true);
    }
    assert_eq!(up.request_count(), 5);
}

#[tokio::test]
async fn system_messages_reach_spark_in_the_shape_each_version_accepts() {
    let up = spark_sim().await;
    let gw = gateway(&up).await;
    let (_, key) = gw.plain_key().await;
    let messages = json!([
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "hi"}
    ]);
    for model in ["SparkDesk-v1.1", "SparkDesk-v3.5"] {
        let resp = gw
            .post_chat(
                &key,
                &json!({"model": model, "messages": messages, "temperature": 1.8}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{model}");
    }
    let sent = up.requests();
    assert_eq!(
        sent[0]["payload"]["message"]["text"],
        json!([{"role": "user", "content": "Be brief.\n\nAnswer in French."},
               {"role": "assistant", "content": "Okay"},
               {"role": "user", "content": "hi"}])
    );
    assert_eq!(
        sent[1]["payload"]["message"]["text"],
        json!([{"role": "system", "content": "Be brief.\n\nAnswer in French."},
               {"role": "user", "content": "hi"}])
    );
    assert_eq!(sent[1]["parameter"]["chat"]["temperature"], 1.0);
}

#[tokio::test]
async fn tools_come_back_as_tool_calls_stream_and_non_stream() {
    let up = spark_sim().await;
    let gw = gateway(&up).await;
    let (_, key) = gw.plain_key().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}]);
    let (st, v) = chat(
        &gw,
        &key,
        &json!({"model": "SparkDesk-v3.5", "messages": user("weather?"), "tools": tools}),
    )
    .await;
    assert_eq!(st, 200);
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        call["function"]["arguments"],
        "{\"location\":\"Paris\",\"unit\":\"celsius\"}"
    );
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        up.requests()[0]["payload"]["functions"]["text"][0]["name"],
        "get_weather"
    );

    let body = json!({"model": "SparkDesk-v3.5", "messages": user("weather?"), "tools": tools,
                      "stream": true});
    let chunks = stream_chat(&gw, &key, &body).await;
    let deltas: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"].get("tool_calls"))
        .collect();
    assert_eq!(deltas.len(), 1);
    assert_eq!(deltas[0][0]["index"], 0);
    assert_eq!(deltas[0][0]["function"]["name"], "get_weather");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );

    // Lite has no function calling: refused before any connection.
    let (st, v) = chat(
        &gw,
        &key,
        &json!({"model": "SparkDesk-v1.1", "messages": user("weather?"), "tools": tools}),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["param"], "tools");
    assert_eq!(up.request_count(), 2);
}

#[tokio::test]
async fn spark_error_codes_map_to_openai_errors() {
    let up = spark_sim().await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    let cases = [
        ("sim_error:10013", 400, "content_filter"),
        ("sim_error:10907", 400, "context_length_exceeded"),
        ("sim_error:11202", 429, "rate_limit_exceeded"),
        ("sim_error:10008", 503, "upstream_unavailable"),
    ];
    for (prompt, status, code) in cases {
        let (st, v) = chat(
            &gw,
            &key,
            &json!({"model": "SparkDesk-v3.5", "messages": user(prompt)}),
        )
        .await;
        assert_eq!(st, status, "{prompt}");
        assert_eq!(v["error"]["code"], code, "{prompt}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Spark error"),
            "{v}"
        );
    }
    let rows = gw.usage_n(id, cases.len()).await;
    assert!(rows.iter().all(|r| r.row.status >= 400));
}

#[tokio::test]
async fn output_moderation_mid_stream_ends_with_an_error_not_a_clean_stop() {
    let up = spark_sim().await;
    let gw = gateway(&up).await;
    let (_, key) = gw.plain_key().await;
    let (st, data) = stream_data(
        &gw,
        &key,
        &json!({"model": "SparkDesk-v3.5", "messages": user("sim_error:10014"), "stream": true}),
    )
    .await;
    assert_eq!(st, 200, "the first frames already went out");
    let joined = data.join("\n");
    assert!(joined.contains("Hello"), "{joined}");
    let last_json: Vec<Value> = data
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .collect();
    let err = last_json
        .iter()
        .find(|v| v.get("error").is_some())
        .unwrap_or_else(|| panic!("an error object in the stream: {joined}"));
    assert_eq!(err["error"]["code"], "content_filter");
    assert!(
        !last_json
            .iter()
            .any(|v| v["choices"][0]["finish_reason"] == "stop"),
        "never a clean stop"
    );
}

#[tokio::test]
async fn refused_signature_fails_over_and_alone_is_a_bad_gateway() {
    let good = spark_sim().await;
    let bad = spark_sim().await;
    let wrong_key = "app-77|key-spark-0123456789|not-the-secret";
    let gw = Gateway::start(&format!(
        "{}{}",
        channel(
            "bad",
            "spark",
            &ws_base(&bad),
            wrong_key,
            &["SparkDesk-v3.5"],
            10
        ),
        channel(
            "good",
            "spark",
            &ws_base(&good),
            &cfg().channel_key(),
            &["SparkDesk-v3.5"],
            0
        ),
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    let resp = gw
        .post_chat(
            &key,
            &json!({"model": "SparkDesk-v3.5", "messages": user("hi")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(bad.request_count(), 0, "the handshake was refused");
    assert_eq!(good.request_count(), 1);

    let alone = Gateway::start(&channel(
        "bad",
        "spark",
        &ws_base(&bad),
        wrong_key,
        &["SparkDesk-v3.5"],
        0,
    ))
    .await;
    let (_, key) = alone.plain_key().await;
    let (st, v) = chat(
        &alone,
        &key,
        &json!({"model": "SparkDesk-v3.5", "messages": user("hi")}),
    )
    .await;
    assert_eq!(st, 502);
    assert_eq!(v["error"]["code"], "upstream_auth_failed");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("HMAC signature does not match")
    );
    assert!(!v.to_string().contains("not-the-secret"));
}
