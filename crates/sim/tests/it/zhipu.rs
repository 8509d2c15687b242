//! The Zhipu simulator: JWT checks the service's way, v4 and v3 framing, errors and faults.

use serde_json::{Value, json};
use switchyard_sim::zhipu::reply::split_even;
use switchyard_sim::zhipu::sign_jwt;
use switchyard_sim::{Fault, SimHandle, ZhipuSimConfig, spawn_zhipu};

use crate::client;

mod v3;

const KEY: &str = "0123456789abcdef0123456789abcdef.SecretSecretSecr";

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn token() -> String {
    let now = now_ms();
    sign_jwt(KEY, now, now + 210_000)
}

async fn sim() -> SimHandle {
    spawn_zhipu(ZhipuSimConfig::new(KEY)).await.unwrap()
}

/// POSTs `body` to `path` with `authorization` (raw header value) and returns status and text.
async fn post(
    sim: &SimHandle,
    path: &str,
    auth: Option<&str>,
    body: &Value,
) -> (u16, String, String) {
    let mut req = client().post(format!("{}{path}", sim.origin())).json(body);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

const V4: &str = "/api/paas/v4/chat/completions";

fn v3(model: &str, action: &str) -> String {
    format!("/api/paas/v3/model-api/{model}/{action}")
}

fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn jwt_is_verified_like_the_service_does() {
    let sim = sim().await;
    let body = chat("glm-4", "hi");
    let bearer = format!("Bearer {}", token());
    assert_eq!(post(&sim, V4, Some(&bearer), &body).await.0, 200);
    assert_eq!(
        post(&sim, V4, Some(&token()), &body).await.0,
        200,
        "without Bearer too"
    );
    assert_eq!(
        post(&sim, V4, Some(&format!("Bearer {KEY}")), &body)
            .await
            .0,
        200,
        "raw key on v4"
    );

    let now = now_ms();
    let cases = [
        (None, "1001"),
        (Some("Bearer not.a.jwt".to_owned()), "1002"),
        (
            Some(format!(
                "Bearer {}",
                sign_jwt(KEY, now - 300_000, now - 90_000)
            )),
            "1003",
        ),
        // `exp` in seconds is read as milliseconds: long expired.
        (
            Some(format!(
                "Bearer {}",
                sign_jwt(KEY, now / 1000, now / 1000 + 210)
            )),
            "1003",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign_jwt(
                    "0123456789abcdef0123456789abcdef.WrongSecret",
                    now,
                    now + 9_000
                )
            )),
            "1004",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign_jwt("someone-else.SecretSecretSecr", now, now + 9_000)
            )),
            "1000",
        ),
    ];
    for (auth, code) in cases {
        let (status, ct, text) = post(&sim, V4, auth.as_deref(), &body).await;
        assert_eq!(status, 401, "{auth:?}");
        assert!(ct.starts_with("application/json"));
        let v = json_of(&text);
        assert_eq!(v["error"]["code"], code, "{auth:?}: {text}");
        assert!(v["error"]["message"].is_string());
    }
    // The v3 model API takes only the JWT, and answers errors inside a 200.
    let (status, _, text) = post(
        &sim,
        &v3("chatglm_turbo", "invoke"),
        Some(KEY),
        &json!({"prompt":[{"role":"user","content":"x"}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json_of(&text)["code"], 1002);
    assert_eq!(json_of(&text)["success"], false);
    assert_eq!(sim.request_count(), 10, "rejected bodies are recorded too");
}

#[tokio::test]
async fn v4_non_stream_answer_has_the_service_shape() {
    let sim = sim().await;
    let body = json!({"model":"glm-4","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello there"}],"temperature":0.5});
    let (status, _, text) = post(&sim, V4, Some(&token()), &body).await;
    assert_eq!(status, 200);
    let v = json_of(&text);
    assert!(v.get("object").is_none(), "v4 answers carry no `object`");
    let id = v["id"].as_str().unwrap();
    assert!(
        id.len() == 19 && id.bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(v["request_id"], v["id"]);
    assert_eq!(v["model"], "glm-4");
    assert_eq!(
        v["choices"][0]["message"],
        json!({"content":"Hello from zhipu glm-4: hello there","role":"assistant"})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    // prompt: (8/4+3) + (11/4+3) = 5 + 5; completion: 5 pieces.
    assert_eq!(
        v["usage"],
        json!({"completion_tokens":5,"prompt_tokens":10,"total_tokens":15})
    );
}

#[tokio::test]
async fn v4_stream_framing_is_exact() {
    let sim = sim().await;
    let mut body = chat("glm-4", "hi");
    body["stream"] = json!(true);
    let (status, ct, raw) = post(&sim, V4, Some(&token()), &body).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    assert!(!raw.contains("event:"));
    let events: Vec<&str> = raw.strip_suffix("\n\n").unwrap().split("\n\n").collect();
    assert_eq!(events.last(), Some(&"data: [DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| json_of(e.strip_prefix("data: ").unwrap_or_else(|| panic!("{e:?}"))))
        .collect();
    assert_eq!(chunks.len(), 6, "5 pieces and the finish chunk");
    let pieces = split_even("Hello from zhipu glm-4: hi", 5);
    for (c, p) in chunks.iter().zip(&pieces) {
        assert_eq!(
            c["choices"][0]["delta"],
            json!({"role":"assistant","content":p}),
            "role on every chunk"
        );
        assert!(c.get("usage").is_none() && c.get("object").is_none());
        assert!(c["choices"][0].get("finish_reason").is_none());
    }
    let last = &chunks[5];
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        last["choices"][0]["delta"],
        json!({"role":"assistant","content":""})
    );
    assert_eq!(
        last["usage"],
        json!({"completion_tokens":5,"prompt_tokens":3,"total_tokens":8})
    );
    assert!(chunks.iter().all(|c| c["id"] == chunks[0]["id"]));
    assert_eq!(sim.completed_streams(), 1);
}

#[tokio::test]
async fn v4_tool_calls_whole_in_one_chunk() {
    let sim = sim().await;
    let tools = json!([{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]);
    let mut body = chat("glm-4", "weather?");
    body["tools"] = tools;
    let v = json_of(&post(&sim, V4, Some(&token()), &body).await.2);
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(
        call["function"],
        json!({"name":"get_weather","arguments":"{\"location\":\"Paris\",\"unit\":\"celsius\"}"})
    );
    assert_eq!(
        (call["index"].clone(), call["type"].clone()),
        (json!(0), json!("function"))
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    body["stream"] = json!(true);
    let raw = post(&sim, V4, Some(&token()), &body).await.2;
    let datas: Vec<&str> = raw
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(datas.len(), 3, "{raw}");
    assert_eq!(
        json_of(datas[0])["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    assert_eq!(
        json_of(datas[1])["choices"][0]["finish_reason"],
        "tool_calls"
    );
    // A tool result comes back as text.
    let mut after = chat("glm-4", "weather?");
    after["messages"] = json!([{"role":"user","content":"weather?"},
        {"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":"call_1","content":"sunny"}]);
    after["tools"] = body["tools"].clone();
    let v = json_of(&post(&sim, V4, Some(&token()), &after).await.2);
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from zhipu glm-4: tool result: sunny"
    );
}

#[tokio::test]
async fn v4_rejects_what_glm_rejects() {
    let sim = sim().await;
    let bad = [
        (
            json!({"model":"glm-5-imaginary","messages":[{"role":"user","content":"x"}]}),
            "1211",
        ),
        (
            json!({"model":"chatglm_turbo","messages":[{"role":"user","content":"x"}]}),
            "1211",
        ),
        (json!({"messages":[{"role":"user","content":"x"}]}), "1213"),
        (
            json!({"model":"glm-4","messages":[{"role":"user","content":"x"}],"temperature":1.0}),
            "1214",
        ),
        (
            json!({"model":"glm-4","messages":[{"role":"user","content":"x"}],"top_p":0}),
            "1214",
        ),
        (
            json!({"model":"glm-4","messages":[{"role":"user","content":"x"}],"stop":["a","b"]}),
            "1214",
        ),
        (
            json!({"model":"glm-4v","messages":[{"role":"system","content":"s"},{"role":"user","content":"x"}]}),
            "1214",
        ),
        (
            json!({"model":"glm-4v","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}),
            "1214",
        ),
        (
            json!({"model":"glm-4","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x"}}]}]}),
            "1214",
        ),
    ];
    for (body, code) in bad {
        let (status, _, text) = post(&sim, V4, Some(&token()), &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(json_of(&text)["error"]["code"], code, "{body}: {text}");
    }
    let vision = json!({"model":"glm-4v","messages":[{"role":"user","content":[
        {"type":"text","text":"what is it"},{"type":"image_url","image_url":{"url":"iVBORw0KGgo="}}]}]});
    let v = json_of(&post(&sim, V4, Some(&token()), &vision).await.2);
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from zhipu glm-4v: what is it"
    );
}

#[tokio::test]
async fn injected_business_errors_and_finish_reasons() {
    let sim = sim().await;
    for (code, status) in [
        ("1301", 400),
        ("1113", 429),
        ("1302", 429),
        ("1261", 400),
        ("1234", 500),
        ("1003", 401),
    ] {
        let (s, _, text) = post(
            &sim,
            V4,
            Some(&token()),
            &chat("glm-4", &format!("please sim_error:{code}")),
        )
        .await;
        assert_eq!(s, status, "{code}");
        let v = json_of(&text);
        assert_eq!(v["error"]["code"], code);
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    let (s, _, text) = post(&sim, V4, Some(&token()), &chat("glm-4", "sim_error:42")).await;
    assert_eq!(s, 400);
    assert!(text.contains("unknown code"));
    let mut body = chat("glm-4", "x sim_finish:sensitive");
    body["stream"] = json!(true);
    let raw = post(&sim, V4, Some(&token()), &body).await.2;
    assert!(raw.contains(r#""finish_reason":"sensitive""#), "{raw}");
    let v = json_of(
        &post(
            &sim,
            V4,
            Some(&token()),
            &chat("glm-4", "sim_finish:network_error"),
        )
        .await
        .2,
    );
    assert_eq!(v["choices"][0]["finish_reason"], "network_error");
    // v3: the same codes inside a 200.
    let (s, _, text) = post(
        &sim,
        &v3("chatglm_std", "sse-invoke"),
        Some(&token()),
        &json!({"prompt":[{"role":"user","content":"sim_error:1301"}]}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        json_of(&text),
        json!({"code":1301,"msg":"系统检测到输入或生成内容可能包含不安全或敏感内容，请您避免输入易产生敏感内容的提示语，感谢您的配合。","success":false})
    );
}

#[tokio::test]
async fn shared_faults_apply() {
    let sim = sim().await;
    sim.push_fault(Fault::Status {
        status: 503,
        body: None,
        retry_after: Some(2),
    });
    let resp = client()
        .post(format!("{}{V4}", sim.origin()))
        .header("authorization", format!("Bearer {}", token()))
        .json(&chat("glm-4", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "2");
    assert_eq!(json_of(&resp.text().await.unwrap())["error"]["code"], "500");
    let mut body = chat("glm-4", "sim_fault:reset_mid_stream=2");
    body["stream"] = json!(true);
    let resp = client()
        .post(format!("{}{V4}", sim.origin()))
        .header("authorization", format!("Bearer {}", token()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.is_err(), "the body is cut");
    assert!(crate::eventually(|| sim.faulted_streams() == 1).await);
}
