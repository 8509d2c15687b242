//! DashScope (Qwen) through the gateway, against the native simulator: default models on both
//! services, streams with cumulative usage, clamped parameters, tools, errors mapped by code
//! (HTTP, inside a 200, in-stream), failover on arrears, and embeddings.

use serde_json::{Value, json};
use switchyard_sim::{DashScopeSimConfig, Fault, SimHandle, dashscope_base_url, spawn_dashscope};

use crate::helpers::*;

const KEY: &str = "sk-ds-0123456789abcdef";

async fn ds() -> SimHandle {
    spawn_dashscope(DashScopeSimConfig::new(KEY)).await.unwrap()
}

/// A gateway with one DashScope channel serving the default models.
async fn gateway(sim: &SimHandle) -> Gateway {
    gateway_with(sim, KEY, &[]).await
}

/// A gateway with one DashScope channel with this key and these models.
async fn gateway_with(sim: &SimHandle, key: &str, models: &[&str]) -> Gateway {
    Gateway::start(&channel(
        "ds",
        "dashscope",
        &dashscope_base_url(sim),
        key,
        models,
        0,
    ))
    .await
}

#[tokio::test]
async fn default_models_reach_the_text_and_multimodal_services() {
    let sim = ds().await;
    let gw = gateway(&sim).await;
    let (id, key) = gw.plain_key().await;
    let listed: Value = gw
        .http
        .get(format!("{}/v1/models", gw.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    let text_models = [
        "qwen-turbo",
        "qwen-plus",
        "qwen-max",
        "qwen-max-1201",
        "qwen-max-longcontext",
    ];
    for model in text_models.iter().chain(&["qwen-vl-plus"]) {
        assert!(listed.contains(model), "{model} in {listed:?}");
    }
    for model in text_models {
        let (status, v) = chat(
            &gw,
            &key,
            &json!({"model": model, "messages": [
                {"role": "system", "content": "be nice"}, {"role": "user", "content": "hi"}
            ]}),
        )
        .await;
        assert_eq!(status, 200, "{model}: {v}");
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], model);
        assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
        let choice = &v["choices"][0];
        assert_eq!(
            choice["message"],
            json!({"role": "assistant", "content": format!("Hello from dashscope {model}: hi"), "refusal": null})
        );
        assert_eq!(choice["finish_reason"], "stop");
        assert_eq!(v["usage"]["completion_tokens"], 5);
        let sent = sim.requests().pop().unwrap();
        assert_eq!(
            sent,
            json!({"model": model,
                   "input": {"messages": [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi"}]},
                   "parameters": {"result_format": "message"}})
        );
    }

    // The vision model: image parts converted, the answer's text parts joined.
    let (status, v) = chat(
        &gw,
        &key,
        &json!({"model": "qwen-vl-plus", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is it?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
        ]}]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from dashscope qwen-vl-plus: what is it?"
    );
    assert_eq!(
        sim.requests().pop().unwrap()["input"]["messages"][0]["content"],
        json!([{"text": "what is it?"}, {"image": "https://example.com/cat.png"}])
    );
    let usage = &v["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + 5,
        "total derived: vision usage has none"
    );

    let rows = gw.usage_n(id, 6).await;
    for r in &rows {
        assert_eq!((r.row.status, r.row.estimated), (200, false), "{r:?}");
        assert_eq!(r.row.completion_tokens, 5);
        assert_eq!(
            r.row.upstream_model.as_deref(),
            Some(&*r.row.requested_model)
        );
    }
}

#[tokio::test]
async fn streams_are_openai_framed_and_cumulative_usage_is_not_summed() {
    let sim = ds().await;
    let gw = gateway(&sim).await;
    let (id, key) = gw.plain_key().await;
    for usage in [true, false] {
        let mut body = json!({"model": "qwen-plus", "stream": true, "messages": user("abc")});
        if usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        let chunks = stream_chat(&gw, &key, &body).await;
        let mut text = String::new();
        let mut roles = 0;
        for c in &chunks {
            assert_eq!(c["object"], "chat.completion.chunk");
            assert_eq!(c["model"], "qwen-plus");
            assert_eq!(c["id"], chunks[0]["id"]);
            for ch in c["choices"].as_array().unwrap() {
                assert_ne!(
                    ch["finish_reason"], "null",
                    "DashScope's string never leaks"
                );
                roles += usize::from(ch["delta"].get("role").is_some());
                text.push_str(ch["delta"]["content"].as_str().unwrap_or(""));
            }
        }
        assert_eq!(roles, 1);
        assert_eq!(text, "Hello from dashscope qwen-plus: abc");
        let finishes: Vec<&Value> = chunks
            .iter()
            .filter_map(|c| c["choices"].get(0))
            .map(|ch| &ch["finish_reason"])
            .filter(|f| !f.is_null())
            .collect();
        assert_eq!(finishes, vec!["stop"]);
        let usage_chunks: Vec<&Value> =
            chunks.iter().filter(|c| c.get("usage").is_some()).collect();
        if usage {
            assert_eq!(usage_chunks.len(), 1);
            let u = &usage_chunks[0]["usage"];
            assert_eq!(
                u["completion_tokens"], 5,
                "the last cumulative value, not 1+2+3+4+5+5"
            );
            assert_eq!(chunks.last().unwrap()["choices"], json!([]));
        } else {
            assert!(usage_chunks.is_empty());
        }
        let sent = sim.requests().pop().unwrap();
        assert_eq!(sent["parameters"]["incremental_output"], true);
    }
    let rows = gw.usage_n(id, 2).await;
    for r in &rows {
        assert_eq!(
            (
                r.row.status,
                r.row.completion_tokens,
                r.row.estimated,
                r.row.stream
            ),
            (200, 5, false, true),
            "{r:?}"
        );
    }
    assert_eq!(sim.completed_streams(), 2);
}

#[tokio::test]
async fn parameters_are_mapped_and_clamped_into_dashscope_ranges() {
    let sim = ds().await;
    let gw = gateway(&sim).await;
    let (_, key) = gw.plain_key().await;
    let body = json!({"model": "qwen-max", "messages": user("x"), "top_p": 1.0, "temperature": 2.0,
                      "max_tokens": 3, "seed": 7, "stop": "\n", "logit_bias": {"1": 1}, "user": "u"});
    let (status, v) = chat(&gw, &key, &body).await;
    assert_eq!(
        status, 200,
        "the simulator refuses top_p = 1 and temperature = 2: {v}"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 3);
    assert_eq!(
        sim.requests().pop().unwrap()["parameters"],
        json!({"result_format": "message", "top_p": 0.999, "temperature": 1.99,
               "max_tokens": 3, "seed": 7, "stop": "\n"})
    );
}

#[tokio::test]
async fn tool_calls_and_tool_results_round_trip() {
    let sim = ds().await;
    let gw = gateway(&sim).await;
    let (_, key) = gw.plain_key().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    let (status, v) = chat(
        &gw,
        &key,
        &json!({"model": "qwen-plus", "messages": user("weather?"), "tools": tools}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args = r#"{"location":"Paris","unit":"celsius"}"#;
    assert_eq!(call["function"]["arguments"], args);

    let body =
        json!({"model": "qwen-plus", "stream": true, "messages": user("weather?"), "tools": tools});
    let mut streamed = String::new();
    let mut finish = Value::Null;
    for c in stream_chat(&gw, &key, &body).await {
        for tc in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(tc["index"], 0, "every tool-call delta has its index: {tc}");
            assert_ne!(tc["id"], "", "no empty ids reach the client");
            streamed.push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
        }
        if !c["choices"][0]["finish_reason"].is_null() {
            finish = c["choices"][0]["finish_reason"].clone();
        }
    }
    assert_eq!(streamed, args);
    assert_eq!(finish, "tool_calls");

    let id = call["id"].as_str().unwrap();
    let (status, v) = chat(
        &gw,
        &key,
        &json!({"model": "qwen-plus", "tools": tools, "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": id, "content": "sunny"}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from dashscope qwen-plus: tool result: sunny"
    );
    let sent = sim.requests().pop().unwrap();
    assert_eq!(sent["input"]["messages"][1]["content"], "");
    assert_eq!(sent["input"]["messages"][2]["tool_call_id"], id);
}

#[tokio::test]
async fn errors_are_mapped_by_their_code() {
    let sim =
        spawn_dashscope(DashScopeSimConfig::new(KEY).with_models(["qwen-plus", "qwen-vl-plus"]))
            .await
            .unwrap();
    let gw = gateway(&sim).await;
    let (id, key) = gw.plain_key().await;
    let ask = |text: &str, stream: bool| json!({"model": "qwen-plus", "stream": stream, "messages": user(text)});
    let cases = [
        (
            "sim_dashscope_error:Throttling.RateQuota",
            429,
            "rate_limit_exceeded",
        ),
        (
            "sim_dashscope_error:Throttling.AllocationQuota",
            429,
            "rate_limit_exceeded",
        ),
        (
            "sim_dashscope_error:DataInspectionFailed",
            400,
            "content_filter",
        ),
        // The same business error inside an HTTP 200.
        (
            "sim_dashscope_error:DataInspectionFailed;http=200",
            400,
            "content_filter",
        ),
        (
            "sim_dashscope_error:InvalidApiKey",
            502,
            "upstream_auth_failed",
        ),
        ("sim_dashscope_error:InternalError", 502, "InternalError"),
    ];
    for (prompt, status, code) in cases {
        let (s, v) = chat(&gw, &key, &ask(prompt, false)).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{prompt}: {v}"
        );
    }
    // An error frame before the first chunk is still an HTTP error, mapped by its code.
    let (s, v) = chat(
        &gw,
        &key,
        &ask("sim_dashscope_error:DataInspectionFailed", true),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("content_filter"))
    );
    // An unknown model is DashScope's 400 "Model not exist.": the client sees a 404.
    let gw2 = gateway_with(&sim, KEY, &["qwen-max"]).await;
    let (_, key2) = gw2.plain_key().await;
    let (s, v) = chat(
        &gw2,
        &key2,
        &json!({"model": "qwen-max", "messages": user("x")}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("model_not_found")),
        "{v}"
    );
    // A wrong channel key: the simulator's own 401.
    let gw3 = gateway_with(&sim, "sk-wrong", &[]).await;
    let (_, key3) = gw3.plain_key().await;
    let (s, v) = chat(
        &gw3,
        &key3,
        &json!({"model": "qwen-plus", "messages": user("x")}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (502, Some("upstream_auth_failed"))
    );
    assert!(
        !v.to_string().contains("sk-wrong"),
        "the channel key is never shown"
    );
    let rows = gw.usage_n(id, cases.len() + 1).await;
    assert!(rows.iter().all(|r| r.row.status >= 400));
}

#[tokio::test]
async fn an_error_frame_mid_stream_ends_the_stream_with_an_error_and_settles_usage() {
    let sim = ds().await;
    let gw = gateway(&sim).await;
    let (id, key) = gw.plain_key().await;
    let (st, data) = stream_data(
        &gw,
        &key,
        &json!({"model": "qwen-turbo", "stream": true,
                    "messages": user("go sim_dashscope_error:Throttling.RateQuota;after=2")}),
    )
    .await;
    assert_eq!(st, 200);
    assert!(
        !data.contains(&"[DONE]".to_owned()),
        "a failed stream has no [DONE]"
    );
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "rate_limit_exceeded", "{last}");
    assert_eq!(data.len(), 3, "two content chunks, then the error");
    let rows = gw.usage_n(id, 1).await;
    let r = &rows[0].row;
    assert_eq!(
        (r.status, r.completion_tokens, r.estimated),
        (429, 2, false),
        "{r:?}"
    );
}

#[tokio::test]
async fn arrears_and_throttling_fail_over_to_the_next_channel() {
    let first = ds().await;
    let second = ds().await;
    let gw = Gateway::start(&format!(
        "{}{}",
        channel("a", "dashscope", &dashscope_base_url(&first), KEY, &[], 10),
        channel("b", "dashscope", &dashscope_base_url(&second), KEY, &[], 0),
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    let native = |code: &str, message: &str| {
        Some(json!({"code": code, "message": message, "request_id": "r"}).to_string())
    };
    let faults = [
        Fault::Status {
            status: 400,
            body: native(
                "Arrearage",
                "Access denied, please make sure your account is in good standing.",
            ),
            retry_after: None,
        },
        Fault::Status {
            status: 429,
            body: native("Throttling.RateQuota", "Requests rate limit exceeded"),
            retry_after: None,
        },
    ];
    for (i, fault) in faults.into_iter().enumerate() {
        first.push_fault(fault);
        let (s, v) = chat(
            &gw,
            &key,
            &json!({"model": "qwen-turbo", "messages": user("x")}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(first.request_count(), i + 1);
        assert_eq!(
            second.request_count(),
            i + 1,
            "served by the second channel"
        );
    }
}

#[tokio::test]
async fn embeddings_go_through_the_native_service() {
    let sim = ds().await;
    let gw = gateway(&sim).await;
    let (id, key) = gw.plain_key().await;
    let url = format!("{}/v1/embeddings", gw.base);
    let (s, v) = json_of(
        gw.http
            .post(&url)
            .bearer_auth(&key)
            .json(&json!({"model": "text-embedding-v1", "input": ["alpha", "beta gamma"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    let v1: Vec<f32> = data[1]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(
        v1,
        switchyard_sim::openai::embed("beta gamma", switchyard_sim::dashscope::V1_V2_DIMENSIONS)
    );
    assert_eq!(v["usage"]["prompt_tokens"], 3, "the simulator's count");
    assert_eq!(
        sim.requests().pop().unwrap(),
        json!({"model": "text-embedding-v1", "input": {"texts": ["alpha", "beta gamma"]}})
    );
    let many: Vec<String> = (0..26).map(|i| format!("t{i}")).collect();
    let (s, v) = json_of(
        gw.http
            .post(&url)
            .bearer_auth(&key)
            .json(&json!({"model": "text-embedding-v2", "input": many}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["param"].as_str()),
        (400, Some("input")),
        "{v}"
    );
    let rows = gw.usage_n(id, 2).await;
    let ok: Vec<_> = rows.iter().filter(|r| r.row.status == 200).collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(
        (
            &*ok[0].row.endpoint,
            ok[0].row.prompt_tokens,
            ok[0].row.estimated
        ),
        ("embeddings", 3, false)
    );
}
