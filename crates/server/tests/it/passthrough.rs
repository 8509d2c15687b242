//! Pass-through: Anthropic's `/v1/messages` to an Anthropic channel and Gemini's
//! `generateContent` to a Gemini channel travel unchanged (fields with no OpenAI equivalent
//! included), and the answer is what the provider itself sends, stream and not, billed from the
//! provider's own usage.

use serde_json::{Value, json};
use switchyard_sim::gemini::GeminiSimConfig;
use switchyard_sim::{AnthropicSimConfig, SimHandle, spawn_anthropic, spawn_gemini};

use crate::helpers::*;

const ANT_KEY: &str = "sk-ant-api03-passthrough-test";
const GEM_KEY: &str = "AIzaSyPassThroughTest0123456789abcdefgh";

/// [`named_events`] with `ids` removed from the data, so that two answers to the same request
/// compare equal.
fn events(text: &str, ids: &[&str]) -> Vec<(String, Value)> {
    let mut all = named_events(text);
    for (_, v) in &mut all {
        strip(v, ids);
    }
    all
}

fn strip(v: &mut Value, ids: &[&str]) {
    for p in ids {
        let (parent, key) = p.rsplit_once('/').unwrap();
        if let Some(Value::Object(o)) = v.pointer_mut(parent) {
            o.remove(key);
        }
    }
}

async fn anthropic_pair() -> (Gateway, SimHandle) {
    let up = spawn_anthropic(AnthropicSimConfig::new(ANT_KEY))
        .await
        .unwrap();
    let gw = Gateway::start(&channel(
        "claude",
        "anthropic",
        &up.origin(),
        ANT_KEY,
        &["claude-3-7-sonnet-20250219", "claude-3-haiku-20240229"],
        0,
    ))
    .await;
    (gw, up)
}

/// A Messages body that conversion to OpenAI's form would not keep whole: `thinking`,
/// `metadata`, `top_k`, a `cache_control` mark.
fn rich_messages(stream: bool) -> Value {
    json!({
        "model": "claude-3-7-sonnet-20250219",
        "max_tokens": 2048,
        "stream": stream,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "metadata": {"user_id": "user-42"},
        "top_k": 5,
        "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "pass me through"}],
    })
}

fn post_messages(gw: &Gateway, key: &str, body: &Value) -> reqwest::RequestBuilder {
    gw.http
        .post(format!("{}/v1/messages", gw.base))
        .header("x-api-key", key)
        .json(body)
}

#[tokio::test]
async fn anthropic_messages_reach_an_anthropic_channel_unchanged() {
    let (gw, up) = anthropic_pair().await;
    let (id, key) = gw.plain_key().await;
    let direct = reqwest::Client::new();
    for stream in [false, true] {
        let body = rich_messages(stream);
        let via_gw = post_messages(&gw, &key, &body)
            .header("anthropic-version", "2023-06-01")
            .header("anthropic-beta", "prompt-caching-2024-07-31")
            .send()
            .await
            .unwrap();
        assert_eq!(via_gw.status(), 200);
        let gw_text = via_gw.text().await.unwrap();
        let sent = up.requests().pop().unwrap();
        assert_eq!(sent, body, "the simulator received the client's body");

        let from_sim = direct
            .post(format!("{}/v1/messages", up.origin()))
            .header("x-api-key", ANT_KEY)
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(from_sim.status(), 200);
        let sim_text = from_sim.text().await.unwrap();
        if stream {
            let ids = ["/message/id"];
            let got = events(&gw_text, &ids);
            assert_eq!(got, events(&sim_text, &ids), "the provider's own events");
            let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
            assert!(names.contains(&"ping") && names.contains(&"message_stop"));
        } else {
            let mut a: Value = serde_json::from_str(&gw_text).unwrap();
            let mut b: Value = serde_json::from_str(&sim_text).unwrap();
            strip(&mut a, &["/id"]);
            strip(&mut b, &["/id"]);
            assert_eq!(a, b, "the provider's own message");
            assert_eq!(a["model"], "claude-3-7-sonnet-20250219");
        }
    }
    let rows = gw.usage_n(id, 2).await;
    let prompt = ("pass me through".len() / 4 + 3 + "be brief".len() / 4) as i64;
    for r in &rows {
        assert_eq!(r.row.status, 200);
        assert_eq!(&*r.row.endpoint, "messages");
        assert!(!r.row.estimated, "billed from the provider's usage");
        assert!(r.row.prompt_tokens >= prompt - 1 && r.row.completion_tokens > 0);
    }
    assert_eq!(rows[0].row.prompt_tokens, rows[1].row.prompt_tokens);
    assert_eq!(rows[0].row.completion_tokens, rows[1].row.completion_tokens);
}

#[tokio::test]
async fn anthropic_pass_through_maps_the_alias_and_keeps_provider_errors_shaped() {
    let (gw, up) = anthropic_pair().await;
    let (_, key) = gw.plain_key().await;
    let body = json!({"model": "claude-3-haiku-20240229", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}]});
    let resp = post_messages(&gw, &key, &body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let sent = up.requests().pop().unwrap();
    assert_eq!(sent["model"], "claude-3-haiku-20240307");

    // The simulator refuses what Anthropic refuses (here `max_tokens` above the model's limit);
    // the client gets Anthropic's error shape with the same status.
    let mut bad = body.clone();
    bad["max_tokens"] = json!(100_000);
    let resp = post_messages(&gw, &key, &bad).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens"),
        "{e}"
    );
}

#[tokio::test]
async fn gemini_generate_content_reaches_a_gemini_channel_unchanged() {
    let up = spawn_gemini(GeminiSimConfig::new(GEM_KEY)).await.unwrap();
    let gw = Gateway::start(&channel(
        "gem",
        "gemini",
        &up.origin(),
        GEM_KEY,
        &["gemini-2.0-flash"],
        0,
    ))
    .await;
    let (id, key) = gw.plain_key().await;
    let direct = reqwest::Client::new();
    // safetySettings and responseMimeType have no OpenAI equivalent.
    let body = json!({
        "contents": [{"role": "user", "parts": [{"text": "pass me through"}]}],
        "systemInstruction": {"parts": [{"text": "be brief"}]},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "generationConfig": {"temperature": 0.5, "topK": 3, "responseMimeType": "text/plain"},
    });
    for (method, query) in [
        ("generateContent", ""),
        ("streamGenerateContent", "?alt=sse"),
    ] {
        let path = format!("/v1beta/models/gemini-2.0-flash:{method}{query}");
        let via_gw = gw
            .http
            .post(format!("{}{path}", gw.base))
            .header("x-goog-api-key", &key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(via_gw.status(), 200);
        let gw_text = via_gw.text().await.unwrap();
        assert_eq!(up.requests().pop().unwrap(), body, "the body, unchanged");
        let sim_text = direct
            .post(format!("{}{path}", up.origin()))
            .header("x-goog-api-key", GEM_KEY)
            .json(&body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let ids = ["/responseId"];
        if query.is_empty() {
            let mut a: Value = serde_json::from_str(&gw_text).unwrap();
            let mut b: Value = serde_json::from_str(&sim_text).unwrap();
            strip(&mut a, &ids);
            strip(&mut b, &ids);
            assert_eq!(a, b, "the provider's own answer");
        } else {
            let got = events(&gw_text, &ids);
            assert!(got.len() > 1);
            assert_eq!(got, events(&sim_text, &ids), "the provider's own chunks");
        }
    }
    let rows = gw.usage_n(id, 2).await;
    for r in &rows {
        assert_eq!((r.row.status, r.row.estimated), (200, false));
        assert_eq!(&*r.row.endpoint, "generateContent");
        assert!(r.row.prompt_tokens > 0 && r.row.completion_tokens > 0);
    }
    assert_eq!(rows[0].row.prompt_tokens, rows[1].row.prompt_tokens);
}

#[tokio::test]
async fn a_stream_failing_before_content_fails_over_from_a_pass_through_channel() {
    let bad = spawn_anthropic(AnthropicSimConfig::new(ANT_KEY))
        .await
        .unwrap();
    let good = spawn_anthropic(AnthropicSimConfig::new(ANT_KEY))
        .await
        .unwrap();
    bad.push_fault(switchyard_sim::Fault::ResetBeforeFirstChunk);
    let gw = Gateway::start(&format!(
        "{}{}",
        channel(
            "first",
            "anthropic",
            &bad.origin(),
            ANT_KEY,
            &["claude-3-5-haiku-20241022"],
            10
        ),
        channel(
            "second",
            "anthropic",
            &good.origin(),
            ANT_KEY,
            &["claude-3-5-haiku-20241022"],
            0
        ),
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    let body = json!({"model": "claude-3-5-haiku-20241022", "max_tokens": 20, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let resp = post_messages(&gw, &key, &body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let got = events(&resp.text().await.unwrap(), &[]);
    assert_eq!(got[0].0, "message_start");
    assert_eq!(got.last().unwrap().0, "message_stop");
    assert_eq!((bad.request_count(), good.request_count()), (1, 1));
}
