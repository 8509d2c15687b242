//! Anthropic's and Gemini's own APIs served by an OpenAI-dialect channel: converted both ways,
//! billed and logged like the OpenAI path, errors in each dialect's shape.

use serde_json::{Value, json};

use crate::helpers::*;

async fn gateway() -> (Gateway, switchyard_sim::SimHandle) {
    let (up, gw) = openai_gateway(&["gpt-4o"]).await;
    (gw, up)
}

#[tokio::test]
async fn anthropic_messages_through_an_openai_channel() {
    let (gw, up) = gateway().await;
    let (id, key) = gw.plain_key().await;
    let url = format!("{}/v1/messages", gw.base);
    let body = json!({"model": "gpt-4o", "max_tokens": 50, "system": "be brief",
        "messages": [{"role": "user", "content": "hello"}]});
    let resp = gw
        .http
        .post(&url)
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let m: Value = resp.json().await.unwrap();
    assert_eq!(m["type"], "message");
    assert_eq!(m["role"], "assistant");
    assert!(m["content"][0]["text"].as_str().unwrap().ends_with("hello"));
    assert_eq!(m["stop_reason"], "end_turn");
    assert_eq!(m["usage"]["output_tokens"], 5);
    let sent = up.requests().pop().unwrap();
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    assert_eq!(sent["max_tokens"], 50);

    let mut sbody = body.clone();
    sbody["stream"] = json!(true);
    let resp = gw
        .http
        .post(&url)
        .header("x-api-key", &key)
        .json(&sbody)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ev = named_events(&resp.text().await.unwrap());
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(names.contains(&"content_block_delta"));
    let text: String = ev
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert!(text.ends_with("hello"), "{text}");
    let delta = ev.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(delta.1["usage"]["output_tokens"], 5);

    let rows = gw.usage_n(id, 2).await;
    assert!(rows.iter().all(|r| &*r.row.endpoint == "messages"
        && r.row.status == 200
        && r.row.completion_tokens == 5));

    // Errors in Anthropic's shape.
    let resp = gw
        .http
        .post(&url)
        .header("x-api-key", "sk-wrong-key-0123456789")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(
        (e["type"].as_str(), e["error"]["type"].as_str()),
        (Some("error"), Some("authentication_error"))
    );
    let resp = gw
        .http
        .post(&url)
        .header("x-api-key", &key)
        .json(&json!({"model": "gpt-4o", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "invalid_request_error"
    );
}

#[tokio::test]
async fn gemini_generate_content_through_an_openai_channel() {
    let (gw, _up) = gateway().await;
    let (id, key) = gw.plain_key().await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}],
        "generationConfig": {"maxOutputTokens": 40}});
    for prefix in ["v1beta", "v1"] {
        let url = format!("{}/{prefix}/models/gpt-4o:generateContent", gw.base);
        let resp = gw
            .http
            .post(&url)
            .header("x-goog-api-key", &key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{prefix}");
        let r: Value = resp.json().await.unwrap();
        assert!(
            r["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
                .ends_with("hello")
        );
        assert_eq!(r["candidates"][0]["finishReason"], "STOP");
        assert_eq!(r["usageMetadata"]["candidatesTokenCount"], 5);
    }
    let url = format!(
        "{}/v1beta/models/gpt-4o:streamGenerateContent?alt=sse&key={key}",
        gw.base
    );
    let resp = gw.http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let (data, _) = sse_data(resp).await;
    let chunks: Vec<Value> = data
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect();
    assert!(text.ends_with("hello"), "{text}");
    let last = chunks.last().unwrap();
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 5);
    assert!(
        !data.iter().any(|d| d == "[DONE]"),
        "Gemini streams have no sentinel"
    );
    let rows = gw.usage_n(id, 3).await;
    assert!(
        rows.iter()
            .all(|r| &*r.row.endpoint == "generateContent" && r.row.status == 200)
    );

    let url = format!("{}/v1beta/models/no-such-model:generateContent", gw.base);
    let resp = gw
        .http
        .post(&url)
        .header("x-goog-api-key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(
        (e["error"]["code"].as_u64(), e["error"]["status"].as_str()),
        (Some(404), Some("NOT_FOUND"))
    );
}

#[tokio::test]
async fn gemini_embed_content_through_an_openai_channel() {
    let (_up, gw) = openai_gateway(&["text-embedding-3-small"]).await;
    let (id, key) = gw.plain_key().await;
    let url = format!(
        "{}/v1beta/models/text-embedding-3-small:batchEmbedContents",
        gw.base
    );
    let body = json!({"requests": [
        {"model": "models/text-embedding-3-small", "content": {"parts": [{"text": "alpha"}]}},
        {"model": "models/text-embedding-3-small", "content": {"parts": [{"text": "beta"}]}}
    ]});
    let resp = gw
        .http
        .post(&url)
        .header("x-goog-api-key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let values: Vec<f32> = v["embeddings"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(
        values,
        switchyard_sim::openai::embed("alpha", switchyard_sim::openai::DEFAULT_DIMENSIONS)
    );
    assert_eq!(v["embeddings"].as_array().unwrap().len(), 2);
    let one = format!(
        "{}/v1/models/text-embedding-3-small:embedContent?key={key}",
        gw.base
    );
    let r: Value = gw
        .http
        .post(&one)
        .json(&json!({"content": {"parts": [{"text": "alpha"}]}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        r["embedding"]["values"].as_array().unwrap().len(),
        switchyard_sim::openai::DEFAULT_DIMENSIONS
    );
    let rows = gw.usage_n(id, 2).await;
    assert!(
        rows.iter()
            .all(|r| &*r.row.endpoint == "embedContent" && r.row.status == 200)
    );
    let bad = gw
        .http
        .post(&one)
        .json(&json!({"content": {"parts": [{"text": "x"}]}}))
        .header("x-goog-api-key", "nope")
        .send()
        .await
        .unwrap();
    // A key header wins over `?key=`; a wrong one is refused in Gemini's error shape.
    assert_eq!(bad.status(), 401);
    let e: Value = bad.json().await.unwrap();
    assert_eq!(e["error"]["status"], "UNAUTHENTICATED");
}
