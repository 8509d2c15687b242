//! Google Gemini through the gateway, against the Gemini simulator (which checks the API key
//! the way Google does, refuses unknown fields, invalid roles and mismatched function turns,
//! and frames its streams with CRLF and no sentinel): every default chat model stream and
//! non-stream with usage rows (thinking models included), embeddings as floats and base64,
//! and, in [`conversation`], system messages, tools, thought signatures, cache tokens, images,
//! mapped errors, mid-stream errors and failover.

mod conversation;

use base64::Engine as _;
use serde_json::{Value, json};
use switchyard_sim::gemini::{Framing, GeminiSimConfig};
use switchyard_sim::{SimHandle, spawn_gemini};

use crate::helpers::*;

const KEY: &str = "AIzaSyGatewayTest0123456789abcdefghij";
/// Pieces per answer in the simulator's default config (one token each).
const PIECES: i64 = 5;
/// Thought tokens the simulator reports for thinking models.
const THOUGHTS: i64 = 4;

const CHAT_MODELS: [&str; 9] = [
    "gemini-pro",
    "gemini-pro-vision",
    "gemini-1.5-pro",
    "gemini-1.5-flash",
    "gemini-2.0-flash",
    "gemini-2.0-flash-lite",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
];

async fn gem_sim(cfg: GeminiSimConfig) -> SimHandle {
    spawn_gemini(cfg).await.unwrap()
}

/// A gateway with one Gemini channel serving the default models.
async fn gateway(sim: &SimHandle) -> Gateway {
    Gateway::start_with(
        &channel("gem", "gemini", &sim.origin(), KEY, &[], 0),
        &[("SWITCHYARD_UPSTREAM__FAILURE_THRESHOLD", "1000")],
    )
    .await
}

fn thinks(model: &str) -> bool {
    model == "gemini-2.5-pro" || model == "gemini-2.5-flash"
}

/// The simulator's answer, prompt tokens and completion tokens for one user message `text`.
fn expected(model: &str, text: &str) -> (String, i64, i64) {
    let thoughts = if thinks(model) { THOUGHTS } else { 0 };
    (
        format!("Hello from gemini {model}: {text}"),
        (text.chars().count() / 4 + 3) as i64,
        PIECES + thoughts,
    )
}

#[tokio::test]
async fn the_channel_serves_every_default_model() {
    let defaults = switchyard_providers::Provider::Gemini.default_models();
    for m in CHAT_MODELS {
        assert!(defaults.contains(&m), "{m}");
    }
    assert!(defaults.contains(&"text-embedding-004"));
    assert_eq!(defaults.len(), CHAT_MODELS.len() + 1);
}

#[tokio::test]
async fn every_default_chat_model_non_stream_with_usage_rows() {
    let up = gem_sim(GeminiSimConfig::new(KEY)).await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    for (i, model) in CHAT_MODELS.iter().enumerate() {
        let text = format!("hello {model}");
        let (st, v) = chat(&gw, &key, &json!({"model": model, "messages": user(&text)})).await;
        assert_eq!(st, 200, "{model}");
        let (want, prompt, completion) = expected(model, &text);
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], *model);
        assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
        let c = &v["choices"][0];
        assert_eq!(c["index"], 0);
        assert_eq!(c["message"]["role"], "assistant");
        assert_eq!(c["message"]["content"], want, "{model}");
        assert_eq!(c["message"]["refusal"], Value::Null);
        assert_eq!(c["logprobs"], Value::Null);
        assert_eq!(c["finish_reason"], "stop");
        assert_eq!(v["usage"]["prompt_tokens"], prompt, "{model}");
        assert_eq!(v["usage"]["completion_tokens"], completion, "{model}");
        assert_eq!(v["usage"]["total_tokens"], prompt + completion, "{model}");
        if thinks(model) {
            assert_eq!(
                v["usage"]["completion_tokens_details"]["reasoning_tokens"],
                THOUGHTS
            );
        }
        let sent = &up.requests()[i];
        assert_eq!(
            sent,
            &json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
        );
        let r = gw.last_row(id, i + 1).await;
        assert_row(&r, model, (prompt, completion), false);
        assert_eq!(r.upstream_model.as_deref(), Some(*model));
    }
}

#[tokio::test]
async fn every_default_chat_model_streams_with_openai_framing() {
    // CRLF framing (Google's) on one simulator, LF on the other: both decode the same.
    for framing in [Framing::Crlf, Framing::Lf] {
        let up = gem_sim(GeminiSimConfig::new(KEY).with_framing(framing)).await;
        let gw = gateway(&up).await;
        let (id, key) = gw.plain_key().await;
        for (i, model) in CHAT_MODELS.iter().enumerate() {
            let text = format!("stream {model}");
            let body = json!({"model": model, "messages": user(&text), "stream": true,
                              "stream_options": {"include_usage": true}});
            let chunks = stream_chat(&gw, &key, &body).await;
            let (want, prompt, completion) = expected(model, &text);
            let content = assert_openai_stream(&chunks, model, &want, (prompt, completion));
            assert_eq!(
                content.len(),
                PIECES as usize + 1,
                "one chunk per Gemini event, then the finish on its own"
            );
            assert_eq!(content.last().unwrap()["choices"][0]["delta"], json!({}));
            assert_row(
                &gw.last_row(id, i + 1).await,
                model,
                (prompt, completion),
                true,
            );
        }
    }
}

#[tokio::test]
async fn a_stream_without_include_usage_has_no_usage_chunk() {
    let up = gem_sim(GeminiSimConfig::new(KEY)).await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    let body = json!({"model": "gemini-2.0-flash", "messages": user("hi"), "stream": true});
    let chunks = stream_chat(&gw, &key, &body).await;
    assert_eq!(chunks.len(), PIECES as usize + 1);
    assert!(
        chunks
            .iter()
            .all(|c| !c["choices"].as_array().unwrap().is_empty())
    );
    let rows = gw.usage_n(id, 1).await;
    assert_eq!(rows[0].row.completion_tokens, PIECES);
}

#[tokio::test]
async fn embeddings_as_floats_and_base64() {
    let up = gem_sim(GeminiSimConfig::new(KEY)).await;
    let gw = gateway(&up).await;
    let (id, key) = gw.plain_key().await;
    let post = |body: Value| {
        gw.http
            .post(format!("{}/v1/embeddings", gw.base))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    let resp = post(
        json!({"model": "text-embedding-004", "input": ["alpha", "beta"],
        "encoding_format": "float"}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let floats: Value = resp.json().await.unwrap();
    assert_eq!(floats["object"], "list");
    assert_eq!(floats["model"], "text-embedding-004");
    let data = floats["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    let first: Vec<f64> = data[0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(first.len(), 768);
    let want = switchyard_sim::openai::embed("alpha", 768);
    for (a, b) in first.iter().zip(&want) {
        assert!((a - f64::from(*b)).abs() < 1e-6);
    }
    assert_eq!(
        up.requests()[0],
        json!({"requests": [
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "alpha"}]}},
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "beta"}]}}
        ]})
    );

    // base64 (the SDKs' default) and `dimensions`.
    let resp = post(json!({"model": "text-embedding-004", "input": "alpha",
        "encoding_format": "base64", "dimensions": 16}))
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let b64: Value = resp.json().await.unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(decoded, switchyard_sim::openai::embed("alpha", 16));
    assert_eq!(up.requests()[1]["requests"][0]["outputDimensionality"], 16);

    // Gemini reports no usage for embeddings: the gateway counts the input itself, each
    // text on its own, in the answer and in the usage row.
    let count = |t: &str| switchyard_core::tokens::count_text("text-embedding-004", t);
    assert_eq!(
        floats["usage"]["prompt_tokens"],
        count("alpha") + count("beta")
    );
    assert_eq!(b64["usage"]["prompt_tokens"], count("alpha"));
    let rows = gw.usage_n(id, 2).await;
    let mut counted: Vec<i64> = rows.iter().map(|r| r.row.prompt_tokens).collect();
    counted.sort_unstable();
    let mut want = vec![
        count("alpha") as i64,
        (count("alpha") + count("beta")) as i64,
    ];
    want.sort_unstable();
    assert_eq!(counted, want);
    for r in &rows {
        assert_eq!(r.row.status, 200);
        assert!(r.row.estimated && r.row.prompt_tokens > 0);
        assert_eq!(r.row.completion_tokens, 0);
    }
    assert_eq!(
        b64["usage"]["prompt_tokens"].as_i64(),
        Some(rows[0].row.prompt_tokens)
    );

    // Embedding a chat model is Gemini's 404, passed on.
    let resp = gw
        .http
        .post(format!("{}/v1/embeddings", gw.base))
        .bearer_auth(&key)
        .json(&json!({"model": "gemini-2.0-flash", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_found");
}
