//! The Gemini simulator's streams (CRLF/LF framing, no sentinel, cumulative usage), injected
//! errors and faults, embeddings and countTokens.

use serde_json::{Value, json};
use switchyard_sim::gemini::{Framing, GeminiSimConfig};
use switchyard_sim::{Fault, SimHandle, spawn_gemini};

use super::{GKEY, err_status, generate, gsim, post, prompt_tokens, url, user};
use crate::client;

fn split_events(raw: &str, sep: &str) -> Vec<Value> {
    assert!(raw.ends_with(sep), "ends with the separator: {raw:?}");
    raw.strip_suffix(sep)
        .unwrap()
        .split(sep)
        .map(|e| {
            let data = e
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("`data: ` prefix: {e:?}"));
            assert!(!data.contains('\n'), "one line per event");
            serde_json::from_str(data).unwrap()
        })
        .collect()
}

async fn stream_raw(sim: &SimHandle, model: &str, body: &Value, sse: bool) -> (String, String) {
    let q = if sse { "?alt=sse" } else { "" };
    let resp = client()
        .post(format!("{}{q}", url(sim, model, "streamGenerateContent")))
        .header("x-goog-api-key", GKEY)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    (ct, resp.text().await.unwrap())
}

#[tokio::test]
async fn streams_are_crlf_framed_without_sentinel() {
    let sim = gsim().await;
    let (ct, raw) = stream_raw(&sim, "gemini-2.0-flash", &user("Hi"), true).await;
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    assert!(!raw.contains("[DONE]") && !raw.contains("event:"));
    let events = split_events(&raw, "\r\n\r\n");
    assert_eq!(events.len(), 5);
    let text: String = events
        .iter()
        .map(|e| {
            e["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(text, "Hello from gemini gemini-2.0-flash: Hi");
    let prompt = prompt_tokens(&["Hi"]);
    for (i, e) in events.iter().enumerate() {
        let u = &e["usageMetadata"];
        assert_eq!(u["promptTokenCount"], json!(prompt));
        assert_eq!(u["candidatesTokenCount"], json!(i + 1), "cumulative");
        let last = i + 1 == events.len();
        assert_eq!(e["candidates"][0].get("finishReason").is_some(), last);
    }
    assert_eq!(events[4]["candidates"][0]["finishReason"], json!("STOP"));
    assert_eq!(
        events[4]["usageMetadata"]["totalTokenCount"],
        json!(prompt + 5)
    );
    assert!(crate::eventually(|| sim.completed_streams() == 1).await);

    // LF framing when configured.
    let lf = spawn_gemini(
        GeminiSimConfig::new(GKEY)
            .with_framing(Framing::Lf)
            .with_chunks(3),
    )
    .await
    .unwrap();
    let (_, raw) = stream_raw(&lf, "gemini-2.0-flash", &user("Hi"), true).await;
    assert!(!raw.contains('\r'));
    assert_eq!(split_events(&raw, "\n\n").len(), 3);

    // Without alt=sse: one JSON array.
    let (ct, raw) = stream_raw(&sim, "gemini-2.0-flash", &user("Hi"), false).await;
    assert!(ct.starts_with("application/json"));
    let arr: Vec<Value> = serde_json::from_str(&raw).unwrap();
    assert_eq!(arr.len(), 5);
}

#[tokio::test]
async fn stream_function_call_and_cached_tokens() {
    let sim = spawn_gemini(GeminiSimConfig::new(GKEY).with_cached_tokens(3))
        .await
        .unwrap();
    let mut b = user("weather in paris please, right now");
    b["tools"] = json!([{"functionDeclarations":[{"name":"get_weather"}]}]);
    let (_, raw) = stream_raw(&sim, "gemini-2.5-pro", &b, true).await;
    let events = split_events(&raw, "\r\n\r\n");
    assert_eq!(events.len(), 1, "a call arrives whole, in one event");
    let e = &events[0];
    assert_eq!(
        e["candidates"][0]["content"]["parts"][0]["functionCall"]["name"],
        json!("get_weather")
    );
    assert_eq!(e["candidates"][0]["finishReason"], json!("STOP"));
    let u = &e["usageMetadata"];
    assert_eq!(u["cachedContentTokenCount"], json!(3));
    assert_eq!(u["thoughtsTokenCount"], json!(4));
    assert_eq!(
        u["totalTokenCount"].as_u64().unwrap(),
        u["promptTokenCount"].as_u64().unwrap() + 8 + 4
    );
}

#[tokio::test]
async fn injected_errors_and_faults() {
    let sim = gsim().await;
    for (code, http, grpc) in [
        ("RESOURCE_EXHAUSTED", 429, "RESOURCE_EXHAUSTED"),
        ("API_KEY_INVALID", 400, "INVALID_ARGUMENT"),
        ("FAILED_PRECONDITION", 400, "FAILED_PRECONDITION"),
        ("PERMISSION_DENIED", 403, "PERMISSION_DENIED"),
        ("NOT_FOUND", 404, "NOT_FOUND"),
        ("UNAUTHENTICATED", 401, "UNAUTHENTICATED"),
        ("INTERNAL", 500, "INTERNAL"),
        ("UNAVAILABLE", 503, "UNAVAILABLE"),
        ("DEADLINE_EXCEEDED", 504, "DEADLINE_EXCEEDED"),
    ] {
        let (status, v) = generate(
            &sim,
            "gemini-2.0-flash",
            &user(&format!("x sim_error:{code}")),
        )
        .await;
        assert_eq!(status, http, "{code}");
        assert_eq!(err_status(&v), (u64::from(http), grpc), "{code}");
    }
    let (_, v) = generate(&sim, "gemini-2.0-flash", &user("sim_error:API_KEY_INVALID")).await;
    assert_eq!(v["error"]["details"][0]["reason"], json!("API_KEY_INVALID"));
    let (status, v) = generate(&sim, "gemini-2.0-flash", &user("sim_error:BOGUS")).await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sim_error")
    );
    // HTTP-200 refusals.
    let (status, v) = generate(&sim, "gemini-2.0-flash", &user("sim_error:PROMPT_BLOCKED")).await;
    assert_eq!(status, 200);
    assert!(v.get("candidates").is_none());
    assert_eq!(v["promptFeedback"]["blockReason"], json!("SAFETY"));
    let (_, v) = generate(&sim, "gemini-2.0-flash", &user("sim_error:SAFETY")).await;
    assert_eq!(v["candidates"][0]["finishReason"], json!("SAFETY"));
    assert!(v["candidates"][0].get("content").is_none());
    // sim_fault and programmed faults answer Google's body for the status.
    let (status, v) = generate(&sim, "gemini-2.0-flash", &user("sim_fault:status=503")).await;
    assert_eq!(status, 503);
    assert_eq!(err_status(&v), (503, "UNAVAILABLE"));
    sim.push_fault(Fault::status(429));
    let (status, v) = generate(&sim, "gemini-2.0-flash", &user("fine")).await;
    assert_eq!(status, 429);
    assert_eq!(err_status(&v), (429, "RESOURCE_EXHAUSTED"));
    // An error event mid-stream, then the end.
    let (_, raw) = stream_raw(
        &sim,
        "gemini-2.0-flash",
        &user("sim_error:INTERNAL@2"),
        true,
    )
    .await;
    let events = split_events(&raw, "\r\n\r\n");
    assert_eq!(events.len(), 3);
    assert_eq!(events[2]["error"]["status"], json!("INTERNAL"));
    // A reset cuts the stream after two events.
    let resp = client()
        .post(format!(
            "{}?alt=sse",
            url(&sim, "gemini-2.0-flash", "streamGenerateContent")
        ))
        .header("x-goog-api-key", GKEY)
        .json(&user("sim_fault:reset_mid_stream=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.is_err(), "the body is truncated");
    assert!(crate::eventually(|| sim.faulted_streams() == 1).await);
}

#[tokio::test]
async fn embeddings_and_count_tokens() {
    let sim = gsim().await;
    let body = json!({"requests":[
        {"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]}},
        {"model":"models/text-embedding-004","content":{"parts":[{"text":"b"}]},"output_dimensionality":8}
    ]});
    let (status, text) = post(&sim, "text-embedding-004", "batchEmbedContents", &body).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let embs = v["embeddings"].as_array().unwrap();
    assert_eq!(embs[0]["values"].as_array().unwrap().len(), 768);
    assert_eq!(embs[1]["values"].as_array().unwrap().len(), 8);
    assert!(v.get("usageMetadata").is_none());
    let norm: f64 = embs[1]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap().powi(2))
        .sum();
    assert!((norm - 1.0).abs() < 1e-3);
    // Same text, same vector.
    let (_, again) = post(&sim, "text-embedding-004", "batchEmbedContents", &body).await;
    assert_eq!(serde_json::from_str::<Value>(&again).unwrap(), v);
    let wrong = json!({"requests":[{"model":"models/other","content":{"parts":[{"text":"a"}]}}]});
    let (status, _) = post(&sim, "text-embedding-004", "batchEmbedContents", &wrong).await;
    assert_eq!(status, 400);
    let (status, text) = post(
        &sim,
        "text-embedding-004",
        "embedContent",
        &json!({"content":{"parts":[{"text":"a"}]},"taskType":"RETRIEVAL_QUERY"}),
    )
    .await;
    assert_eq!(status, 200);
    let one: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(one["embedding"]["values"], embs[0]["values"]);
    let (status, _) = post(
        &sim,
        "text-embedding-004",
        "embedContent",
        &json!({"content":{"parts":[{"text":"a"}]},"dimensions":8}),
    )
    .await;
    assert_eq!(status, 400, "unknown fields refused here too");
    let (status, v) = post(&sim, "text-embedding-004", "batchEmbedContents",
        &json!({"requests":[{"model":"models/text-embedding-004","content":{"parts":[{"text":"sim_error:RESOURCE_EXHAUSTED"}]}}]})).await;
    assert_eq!(status, 429, "{v}");
    let (status, text) = post(
        &sim,
        "gemini-2.0-flash",
        "countTokens",
        &user("Hello there"),
    )
    .await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["totalTokens"], json!(prompt_tokens(&["Hello there"])));
}
