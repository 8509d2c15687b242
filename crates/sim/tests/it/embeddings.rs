//! `/v1/embeddings`: float and base64 encodings, determinism, validation.

use base64::Engine as _;
use serde_json::{Value, json};
use switchyard_sim::Flavor;
use switchyard_sim::openai::embed;

use crate::{KEY, client, sim};

async fn post(sim: &switchyard_sim::SimHandle, body: Value) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/embeddings", sim.base_url()))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[tokio::test]
async fn float_embeddings_are_deterministic() {
    let sim = sim(Flavor::OpenAi).await;
    let (status, body) = post(
        &sim,
        json!({"model": "text-embedding-3-small", "input": ["alpha", "beta"]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "text-embedding-3-small");
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[0]["object"], "embedding");
    let a = floats(&data[0]["embedding"]);
    let b = floats(&data[1]["embedding"]);
    assert_eq!(a.len(), 8);
    assert_eq!(a, embed("alpha", 8));
    assert_ne!(a, b);
    let norm: f32 = a.iter().map(|x| x * x).sum();
    assert!((norm - 1.0).abs() < 1e-4);
    assert_eq!(body["usage"]["prompt_tokens"], 2);
    assert_eq!(body["usage"]["total_tokens"], 2);

    let (_, again) = post(
        &sim,
        json!({"model": "m", "input": "alpha", "dimensions": 16}),
    )
    .await;
    let v = floats(&again["data"][0]["embedding"]);
    assert_eq!(v.len(), 16);
    assert_eq!(v, embed("alpha", 16));
    assert_eq!(sim.request_count(), 2);
}

#[tokio::test]
async fn base64_embeddings_are_little_endian_f32() {
    let sim = sim(Flavor::OpenAi).await;
    let (status, body) = post(
        &sim,
        json!({"model": "m", "input": "alpha", "encoding_format": "base64"}),
    )
    .await;
    assert_eq!(status, 200);
    let b64 = body["data"][0]["embedding"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(bytes.len(), 8 * 4);
    let decoded: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(decoded, embed("alpha", 8));
}

#[tokio::test]
async fn embeddings_validate_and_authenticate() {
    let sim = sim(Flavor::OpenAi).await;
    let (status, body) = post(&sim, json!({"model": "m"})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "input");
    let (status, _) = post(&sim, json!({"model": "m", "input": ""})).await;
    assert_eq!(status, 400);
    let (status, body) = post(
        &sim,
        json!({"model": "m", "input": "x", "encoding_format": "hex"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "encoding_format");
    let resp = client()
        .post(format!("{}/embeddings", sim.base_url()))
        .bearer_auth("sk-wrong-key-000000")
        .json(&json!({"model": "m", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}
