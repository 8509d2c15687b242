//! Tool calls: stream fragments, non-stream shape, tool_choice and tool results.

use serde_json::{Value, json};
use switchyard_sim::Flavor;

use crate::{content_of, post_chat, sim, stream};

fn tool_request(stream: bool) -> Value {
    json!({
        "model": "gpt-4o-mini",
        "stream": stream,
        "messages": [{"role": "user", "content": "weather in Paris?"}],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
        ]
    })
}

#[tokio::test]
async fn tool_call_stream_fragments() {
    let sim = sim(Flavor::OpenAi).await;
    let chunks = stream(&sim, &tool_request(true)).await;
    let first = &chunks[0]["choices"][0]["delta"];
    assert_eq!(first["role"], "assistant");
    let call = &first["tool_calls"][0];
    assert_eq!(call["index"], 0);
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], "");

    let fragments: Vec<&Value> = chunks[1..chunks.len() - 1]
        .iter()
        .map(|c| &c["choices"][0]["delta"]["tool_calls"][0])
        .collect();
    assert!(
        fragments.len() >= 2,
        "arguments arrive in several fragments"
    );
    let mut args = String::new();
    for f in &fragments {
        let keys: Vec<&String> = f.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            vec!["function", "index"],
            "only index + function: {f}"
        );
        assert_eq!(f["index"], 0);
        assert_eq!(f["function"].as_object().unwrap().len(), 1);
        args.push_str(f["function"]["arguments"].as_str().unwrap());
    }
    let parsed: Value = serde_json::from_str(&args).unwrap();
    assert_eq!(parsed, json!({"location": "Paris", "unit": "celsius"}));
    let last = &chunks.last().unwrap()["choices"][0];
    assert_eq!(last["finish_reason"], "tool_calls");
    assert_eq!(last["delta"], json!({}));
}

#[tokio::test]
async fn stepfun_tool_stream_keeps_its_quirks() {
    let sim = sim(Flavor::StepFun).await;
    let chunks = stream(&sim, &tool_request(true)).await;
    for c in &chunks[..chunks.len() - 1] {
        assert_eq!(c["choices"][0]["finish_reason"], "");
        assert!(c["usage"].is_object());
        assert_eq!(c["choices"][0]["delta"]["tool_calls"][0]["index"], 0);
    }
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn tool_call_non_stream_and_tool_choice() {
    let sim = sim(Flavor::OpenAi).await;
    let body: Value = post_chat(&sim, &tool_request(false))
        .await
        .json()
        .await
        .unwrap();
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["location"], "Paris");

    let mut named = tool_request(false);
    named["tool_choice"] = json!({"type": "function", "function": {"name": "get_time"}});
    let body: Value = post_chat(&sim, &named).await.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_time"
    );

    let mut none = tool_request(false);
    none["tool_choice"] = json!("none");
    let body: Value = post_chat(&sim, &none).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["choices"][0]["message"]["content"].is_string());
}

#[tokio::test]
async fn tool_result_gets_a_text_answer() {
    let sim = sim(Flavor::OpenAi).await;
    let mut req = tool_request(true);
    req["messages"] = json!([
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "22C and sunny"}
    ]);
    let chunks = stream(&sim, &req).await;
    let text = content_of(&chunks, 0);
    assert!(text.contains("22C and sunny"), "{text}");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
}
