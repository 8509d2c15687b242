//! Unit tests of the OpenAI-dialect conversions.

use bytes::Bytes;
use serde_json::{Value, json};
use switchyard_sse::Event;
use switchyard_types::ChatRequest;

use crate::adapter::{ConvertError, Emit, ResponseCtx, StreamStep, Target};

const CTX: ResponseCtx<'static> = ResponseCtx {
    requested_model: "gpt-4",
    upstream_model: "gpt-4-0613",
    now_unix: 0,
};
use crate::{Provider, adapter};

fn target() -> Target<'static> {
    Target {
        base_url: "http://up/v1/",
        key: "sk-up",
        upstream_model: "gpt-4-0613",
        now_unix: 0,
        token: None,
    }
}

fn run(
    provider: Provider,
    frames: &[&str],
) -> (Vec<Value>, Option<switchyard_types::Usage>, String, bool) {
    let mut conv = adapter(provider).stream_converter(&CTX);
    let mut emit = Emit::default();
    let mut chunks = Vec::new();
    let mut usage = None;
    let mut text = String::new();
    let mut done = false;
    for f in frames {
        emit.clear();
        let step = conv
            .event(
                &Event {
                    event: None,
                    data: (*f).to_owned(),
                    meta: None,
                },
                &mut emit,
            )
            .unwrap();
        chunks.extend(
            emit.chunks
                .iter()
                .map(|c| serde_json::from_slice::<Value>(c).unwrap()),
        );
        if emit.usage.is_some() {
            usage = emit.usage.clone();
        }
        text.push_str(&emit.text);
        done |= step == StreamStep::Done;
    }
    (chunks, usage, text, done)
}

#[test]
fn request_rewrites_only_model_and_keeps_unknown_fields() {
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "gpt-4", "messages": [{"role":"user","content":"hi"}],
        "temperature": 1.5, "seed": 7, "x_vendor": {"a": [1]}
    }))
    .unwrap();
    let out = adapter(Provider::OpenAi)
        .chat_request(&req, &target())
        .unwrap();
    assert_eq!(out.url, "http://up/v1/chat/completions");
    assert!(
        out.headers
            .contains(&("authorization".into(), "Bearer sk-up".into()))
    );
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(
        body,
        json!({"model": "gpt-4-0613", "messages": [{"role":"user","content":"hi"}],
               "temperature": 1.5, "seed": 7, "x_vendor": {"a": [1]}})
    );
}

#[test]
fn streams_to_openai_always_ask_for_usage() {
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "gpt-4", "messages": [], "stream": true
    }))
    .unwrap();
    let out = adapter(Provider::OpenAi)
        .chat_request(&req, &target())
        .unwrap();
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    // StepFun reports usage on its own; its request is left as the client sent it.
    let out = adapter(Provider::StepFun)
        .chat_request(&req, &target())
        .unwrap();
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert!(body.get("stream_options").is_none());
}

#[test]
fn moonshot_temperature_is_clamped() {
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "m", "messages": [], "temperature": 1.8
    }))
    .unwrap();
    let out = adapter(Provider::Moonshot)
        .chat_request(&req, &target())
        .unwrap();
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(body["temperature"], json!(1.0));
}

#[test]
fn openai_stream_passes_chunks_through_and_drops_the_usage_chunk() {
    let c1 = r#"{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt-4-0613","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#;
    let c2 = r#"{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt-4-0613","choices":[{"index":0,"delta":{"content":"Hel\"lo"},"finish_reason":null}]}"#;
    let c3 = r#"{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt-4-0613","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;
    let (chunks, usage, text, done) = run(Provider::OpenAi, &[c1, c2, c3, "[DONE]"]);
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[1], serde_json::from_str::<Value>(c2).unwrap());
    assert_eq!(usage.unwrap().total_tokens, 5);
    assert_eq!(text, "Hel\"lo");
    assert!(done);
}

#[test]
fn stepfun_cumulative_usage_is_replaced_not_summed_and_quirks_repaired() {
    let f = |content: &str, finish: &str, n: u64| {
        format!(
            r#"{{"id":"s","object":"chat.completion.chunk","created":1,"model":"step-1-8k","choices":[{{"index":0,"delta":{{"role":"","content":"{content}"}},"finish_reason":"{finish}"}}],"usage":{{"prompt_tokens":83,"completion_tokens":{n},"total_tokens":{}}}}}"#,
            83 + n
        )
    };
    let frames = [f("a", "", 1), f("b", "", 2), f("", "stop", 3)];
    let refs: Vec<&str> = frames
        .iter()
        .map(String::as_str)
        .chain(["[DONE]"])
        .collect();
    let (chunks, usage, _, _) = run(Provider::StepFun, &refs);
    let usage = usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (83, 3));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[0]["choices"][0]["finish_reason"], Value::Null);
    assert!(chunks[1]["choices"][0]["delta"].get("role").is_none());
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
}

#[test]
fn moonshot_usage_inside_choice_is_read_once_and_removed() {
    let c1 = r#"{"id":"m","object":"chat.completion.chunk","created":1,"model":"moonshot-v1-8k","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}"#;
    let c2 = r#"{"id":"m","object":"chat.completion.chunk","created":1,"model":"moonshot-v1-8k","choices":[{"index":0,"delta":{},"finish_reason":"stop","usage":{"prompt_tokens":39,"completion_tokens":211,"total_tokens":250}}]}"#;
    let (chunks, usage, _, _) = run(Provider::Moonshot, &[c1, c2, "[DONE]"]);
    assert_eq!(usage.unwrap().total_tokens, 250);
    assert!(chunks[1]["choices"][0].get("usage").is_none());
    assert_eq!(chunks[1]["choices"][0]["finish_reason"], "stop");
}

#[test]
fn error_inside_stream_and_bad_json_are_errors() {
    let mut conv = adapter(Provider::OpenAi).stream_converter(&CTX);
    let mut emit = Emit::default();
    let err = conv
        .event(
            &Event {
                event: None,
                data: r#"{"error":{"message":"overloaded","type":"server_error"}}"#.into(),
                meta: None,
            },
            &mut emit,
        )
        .unwrap_err();
    assert!(matches!(err, ConvertError::Upstream(e) if e.message == "overloaded"));
    let err = conv
        .event(
            &Event {
                event: None,
                data: "{not json".into(),
                meta: None,
            },
            &mut emit,
        )
        .unwrap_err();
    assert!(matches!(err, ConvertError::Protocol(_)));
}

#[test]
fn non_stream_usage_and_errors() {
    let body = Bytes::from_static(br#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#);
    let out = adapter(Provider::OpenAi)
        .chat_response(body.clone(), &CTX)
        .unwrap();
    assert_eq!(out.body, body);
    assert_eq!(out.usage.unwrap().completion_tokens, 2);
    assert!(out.text_for_count.is_none());
    // Cached prompt tokens are read from the details; the other details are not needed.
    let cached = Bytes::from_static(br#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"prompt_tokens_details":{"audio_tokens":0,"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":1}}}"#);
    let u = adapter(Provider::OpenAi)
        .chat_response(cached, &CTX)
        .unwrap()
        .usage
        .unwrap();
    assert_eq!(
        (
            u.prompt_tokens,
            u.completion_tokens,
            u.total_tokens,
            u.cached_tokens()
        ),
        (10, 2, 12, 8)
    );
    // OpenAI's own member order (usage before service_tier), and text that looks like usage.
    let ordered = Bytes::from_static(br#"{"choices":[{"message":{"content":"\"usage\": {\"prompt_tokens\": 99}}"}}],"usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11},"service_tier":"default","system_fingerprint":"fp"}"#);
    let u = adapter(Provider::OpenAi)
        .chat_response(ordered, &CTX)
        .unwrap()
        .usage
        .unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (5, 6));
    // An answer that does not close is not relayed as a chat completion.
    let unclosed = Bytes::from_static(br#"{"choices":[],"usage":{"prompt_tokens":5}"#);
    assert!(matches!(
        adapter(Provider::OpenAi).chat_response(unclosed, &CTX),
        Err(ConvertError::Protocol(_))
    ));
    let no_usage = Bytes::from_static(
        br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"hello"}}]}"#,
    );
    assert_eq!(
        adapter(Provider::OpenAi)
            .chat_response(no_usage, &CTX)
            .unwrap()
            .text_for_count
            .as_deref(),
        Some("hello")
    );
    let e = adapter(Provider::Moonshot).error(
        401,
        br#"{"error":{"message":"Invalid Authentication","type":"invalid_authentication_error"}}"#,
    );
    assert_eq!(
        (e.message.as_str(), e.kind.as_deref(), e.code),
        (
            "Invalid Authentication",
            Some("invalid_authentication_error"),
            None
        )
    );
    let e = adapter(Provider::OpenAi).error(502, b"<html>bad gateway</html>");
    assert_eq!(e.message, "<html>bad gateway</html>");
}

#[test]
fn non_openai_answers_get_the_fields_the_schema_requires() {
    let body = Bytes::from_static(br#"{"id":"x","object":"chat.completion","created":1,"model":"step-1-8k","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}]}"#);
    let out = adapter(Provider::StepFun)
        .chat_response(body, &CTX)
        .unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(v["choices"][0]["logprobs"], Value::Null);
    assert!(v["choices"][0].get("logprobs").is_some());
    assert!(v["choices"][0]["message"].get("refusal").is_some());
    assert!(v["choices"][0].get("usage").is_none());
    assert_eq!(v["usage"]["total_tokens"], 3);
    assert_eq!(out.usage.unwrap().completion_tokens, 2);
}
