//! Auth, validation, model checks and `/v1/models`.

use serde_json::{Value, json};
use switchyard_sim::{Flavor, OpenAiSimConfig};

use crate::{KEY, chat, client, post_chat, sim, sim_with};

async fn post_with_key(base: &str, key: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = client().post(format!("{base}/chat/completions")).json(body);
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    assert!(resp.headers().contains_key("x-request-id"));
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn openai_rejects_wrong_key_with_masked_key() {
    let sim = sim(Flavor::OpenAi).await;
    let wrong = "sk-abWRONGWRONGWRONGyz";
    let (status, body) = post_with_key(&sim.base_url(), Some(wrong), &chat("m", "hi", false)).await;
    assert_eq!(status, 401);
    let err = &body["error"];
    assert_eq!(err["type"], "invalid_request_error");
    assert_eq!(err["code"], "invalid_api_key");
    assert_eq!(err["param"], Value::Null);
    assert!(err.as_object().unwrap().contains_key("param"));
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.starts_with("Incorrect API key provided: sk-ab***yz."),
        "{msg}"
    );
    assert!(!msg.contains(wrong), "the key must never be echoed whole");

    let (status, body) = post_with_key(&sim.base_url(), None, &chat("m", "hi", false)).await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("didn't provide an API key")
    );
    assert_eq!(sim.request_count(), 2, "rejected bodies are still recorded");
}

#[tokio::test]
async fn moonshot_and_stepfun_auth_bodies() {
    let moon = sim(Flavor::Moonshot).await;
    let (status, body) =
        post_with_key(&moon.base_url(), Some("sk-nope"), &chat("m", "hi", false)).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"error": {"message": "Invalid Authentication", "type": "invalid_authentication_error"}})
    );
    let step = sim(Flavor::StepFun).await;
    let (status, body) = post_with_key(&step.base_url(), None, &chat("m", "hi", false)).await;
    assert_eq!(status, 401);
    let err = body["error"].as_object().unwrap();
    assert!(err.contains_key("message") && err.contains_key("type"));
    assert!(!err.contains_key("code"));
}

#[tokio::test]
async fn accepts_right_key_and_answers_deterministically() {
    let sim = sim(Flavor::OpenAi).await;
    let (status, body) = post_with_key(
        &sim.base_url(),
        Some(KEY),
        &chat("gpt-x", "hi there", false),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["model"], "gpt-x");
    assert!(body["system_fingerprint"].is_string());
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["logprobs"], Value::Null);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(
        choice["message"]["content"],
        "Hello from openai gpt-x: hi there"
    );
    // prompt_tokens = len("hi there") / 4 + 3 = 5; completion_tokens = 5 chunks.
    assert_eq!(body["usage"]["prompt_tokens"], 5);
    assert_eq!(body["usage"]["completion_tokens"], 5);
    assert_eq!(body["usage"]["total_tokens"], 10);
    assert!(body["usage"]["prompt_tokens_details"].is_object());
    assert_eq!(sim.requests(), vec![chat("gpt-x", "hi there", false)]);
}

#[tokio::test]
async fn unknown_model_missing_params_and_temperature() {
    let cfg = OpenAiSimConfig::new(Flavor::OpenAi, KEY).with_models(["gpt-4o"]);
    let sim = sim_with(cfg).await;
    let resp = post_chat(&sim, &chat("gpt-9", "hi", false)).await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {
            "message": "The model `gpt-9` does not exist or you do not have access to it.",
            "type": "invalid_request_error", "param": null, "code": "model_not_found"}})
    );
    for (body, param) in [
        (
            json!({"messages": [{"role": "user", "content": "x"}]}),
            "model",
        ),
        (json!({"model": "gpt-4o"}), "messages"),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "temperature": 2.5}),
            "temperature",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": true}}),
            "stream_options",
        ),
    ] {
        let resp = post_chat(&sim, &body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["param"], param);
        assert_eq!(err["error"]["type"], "invalid_request_error");
    }
    let resp = client()
        .post(format!("{}/chat/completions", sim.base_url()))
        .bearer_auth(KEY)
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    let moon = sim_with(OpenAiSimConfig::new(Flavor::Moonshot, KEY)).await;
    let mut body = chat("moonshot-v1-8k", "hi", false);
    body["temperature"] = json!(1.5);
    let resp = post_chat(&moon, &body).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");
    body["temperature"] = json!(0.9);
    assert_eq!(post_chat(&moon, &body).await.status(), 200);
}

#[tokio::test]
async fn models_endpoint() {
    let cfg = OpenAiSimConfig::new(Flavor::OpenAi, KEY).with_models(["a", "b"]);
    let sim = sim_with(cfg).await;
    let url = format!("{}/models", sim.base_url());
    assert_eq!(client().get(&url).send().await.unwrap().status(), 401);
    let body: Value = client()
        .get(&url)
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "list");
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["id"], "a");
    assert_eq!(data[1]["object"], "model");
    assert!(data[1]["created"].is_u64() && data[1]["owned_by"].is_string());
    let one = client()
        .get(format!("{url}/b"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    let missing = client()
        .get(format!("{url}/zz"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let nowhere = client()
        .get(format!("{}/nowhere", sim.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(nowhere.status(), 404);
}
