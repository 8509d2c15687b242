//! Unit tests of the Gemini stream converter: role once, tool-call deltas with index, finish
//! reasons, usage replaced (never summed), the end without `[DONE]`, errors mid-stream.

use serde_json::{Value, json};
use switchyard_sse::Event;
use switchyard_types::Usage;

use super::tests::CTX;
use crate::adapter::{ConvertError, Emit, StreamStep};
use crate::{Provider, adapter};

struct Run {
    chunks: Vec<Value>,
    usage: Option<Usage>,
    reports: usize,
    text: String,
    steps: Vec<StreamStep>,
    id: String,
}

fn run(events: &[Value]) -> Run {
    let mut conv = adapter(Provider::Gemini).stream_converter(&CTX);
    let mut emit = Emit::default();
    let mut r = Run {
        chunks: Vec::new(),
        usage: None,
        reports: 0,
        text: String::new(),
        steps: Vec::new(),
        id: String::new(),
    };
    for e in events {
        emit.clear();
        let step = conv
            .event(
                &Event {
                    event: None,
                    data: e.to_string(),
                    meta: None,
                },
                &mut emit,
            )
            .unwrap();
        r.steps.push(step);
        r.chunks.extend(
            emit.chunks
                .iter()
                .map(|c| serde_json::from_slice::<Value>(c).unwrap()),
        );
        if let Some(u) = emit.usage.take() {
            r.reports += 1;
            r.usage = Some(u);
        }
        r.text.push_str(&emit.text);
    }
    r.id = conv.identity().0.to_owned();
    // A finish reason never shares its chunk with content or tool calls (the openai-python
    // stream helper would then miss the finished tool-call arguments).
    for c in &r.chunks {
        let ch = &c["choices"][0];
        if !ch["finish_reason"].is_null() {
            assert_eq!(ch["delta"], json!({}), "{c}");
        }
    }
    r
}

fn text_chunk(t: &str, prompt: u64, cand: u64) -> Value {
    json!({"candidates":[{"content":{"parts":[{"text":t}],"role":"model"},"index":0}],
        "usageMetadata":{"promptTokenCount":prompt,"candidatesTokenCount":cand,"totalTokenCount":prompt+cand},
        "modelVersion":"gemini-2.5-flash","responseId":"r1"})
}

#[test]
fn text_stream_with_cumulative_usage() {
    let mut last = text_chunk("o!", 7, 3);
    last["candidates"][0]["finishReason"] = json!("STOP");
    last["usageMetadata"]["thoughtsTokenCount"] = json!(4);
    last["usageMetadata"]["cachedContentTokenCount"] = json!(2);
    last["usageMetadata"]["totalTokenCount"] = json!(14);
    let r = run(&[text_chunk("Hel", 7, 1), text_chunk("l", 7, 2), last]);
    assert_eq!(
        r.steps,
        vec![StreamStep::Continue, StreamStep::Continue, StreamStep::Done]
    );
    assert_eq!(
        r.chunks.len(),
        4,
        "three deltas, then the finish on its own"
    );
    for c in &r.chunks {
        assert_eq!(c["id"], json!("chatcmpl-r1"));
        assert_eq!(c["object"], json!("chat.completion.chunk"));
        assert_eq!(c["created"], json!(1_700_000_000));
        assert_eq!(c["model"], json!("gemini-2.5-flash"));
        assert_eq!(c["choices"].as_array().unwrap().len(), 1);
    }
    assert_eq!(
        r.chunks[0]["choices"][0]["delta"],
        json!({"role":"assistant","content":"Hel"})
    );
    assert_eq!(r.chunks[1]["choices"][0]["delta"], json!({"content":"l"}));
    assert_eq!(r.chunks[1]["choices"][0]["finish_reason"], Value::Null);
    assert_eq!(r.chunks[2]["choices"][0]["delta"], json!({"content":"o!"}));
    assert_eq!(r.chunks[2]["choices"][0]["finish_reason"], Value::Null);
    assert_eq!(r.chunks[3]["choices"][0]["delta"], json!({}));
    assert_eq!(r.chunks[3]["choices"][0]["finish_reason"], json!("stop"));
    assert_eq!(r.text, "Hello!");
    assert_eq!(r.id, "chatcmpl-r1");
    // Usage is reported on every event (replace semantics) and the last one wins: 3 + 4 thoughts.
    assert_eq!(r.reports, 3);
    let u = r.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (7, 7, 14)
    );
    assert_eq!(u.cached_tokens(), 2);
    // No usage-only chunk and no [DONE] from the converter.
    assert!(
        r.chunks
            .iter()
            .all(|c| c.get("usage").is_none() && !c["choices"].as_array().unwrap().is_empty())
    );
}

#[test]
fn function_calls_are_whole_tool_call_deltas_with_index() {
    let events = [
        json!({"candidates":[{"content":{"parts":[{"text":"Checking. "}],"role":"model"},"index":0}]}),
        json!({"candidates":[{"content":{"parts":[
            {"functionCall":{"name":"get_weather","args":{"location":"Paris"}}},
            {"functionCall":{"name":"get_weather","args":{"location":"Rome"}}}],"role":"model"},"index":0}]}),
        json!({"candidates":[{"content":{"parts":[
            {"functionCall":{"name":"get_time","args":{}},"thoughtSignature":"QUJD"}],"role":"model"},
            "finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":15,"totalTokenCount":35}}),
    ];
    let r = run(&events);
    assert_eq!(r.steps.last(), Some(&StreamStep::Done));
    assert_eq!(
        r.chunks[0]["choices"][0]["delta"],
        json!({"role":"assistant","content":"Checking. "})
    );
    let calls = r.chunks[1]["choices"][0]["delta"]["tool_calls"]
        .as_array()
        .unwrap();
    assert!(r.chunks[1]["choices"][0]["delta"].get("role").is_none());
    assert_eq!(calls.len(), 2);
    for (i, c) in calls.iter().enumerate() {
        assert_eq!(c["index"], json!(i));
        assert_eq!(c["type"], json!("function"));
        assert!(c["id"].as_str().unwrap().starts_with("call_"));
        assert_eq!(c["function"]["name"], json!("get_weather"));
    }
    assert_eq!(
        calls[1]["function"]["arguments"],
        json!(r#"{"location":"Rome"}"#)
    );
    assert_eq!(r.chunks.len(), 4);
    let last = &r.chunks[2]["choices"][0];
    assert_eq!(last["finish_reason"], Value::Null);
    assert_eq!(last["delta"]["tool_calls"][0]["index"], json!(2));
    assert_eq!(
        super::ids::signature_from_id(last["delta"]["tool_calls"][0]["id"].as_str().unwrap())
            .as_deref(),
        Some("QUJD")
    );
    assert_eq!(r.chunks[3]["choices"][0]["delta"], json!({}));
    assert_eq!(
        r.chunks[3]["choices"][0]["finish_reason"],
        json!("tool_calls")
    );
    assert!(r.text.contains("get_time"));
    let u = r.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (20, 15, 35)
    );
}

#[test]
fn finish_only_chunk_has_empty_delta_and_max_tokens_is_length() {
    let r = run(&[
        text_chunk("a", 3, 1),
        json!({"candidates":[{"content":{"parts":[],"role":"model"},"finishReason":"MAX_TOKENS","index":0}],
            "usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4}}),
    ]);
    assert_eq!(r.chunks.len(), 2);
    assert_eq!(r.chunks[1]["choices"][0]["delta"], json!({}));
    assert_eq!(r.chunks[1]["choices"][0]["finish_reason"], json!("length"));
    assert_eq!(r.steps, vec![StreamStep::Continue, StreamStep::Done]);
}

#[test]
fn safety_stop_is_content_filter_and_first_delta_still_has_role() {
    let r = run(&[json!({"candidates":[{"finishReason":"SAFETY","index":0}]})]);
    assert_eq!(r.chunks.len(), 2);
    assert_eq!(
        r.chunks[0]["choices"][0]["delta"],
        json!({"role":"assistant","content":""})
    );
    assert_eq!(
        r.chunks[1]["choices"][0]["finish_reason"],
        json!("content_filter")
    );
    assert_eq!(r.steps, vec![StreamStep::Done]);
}

#[test]
fn several_candidates_end_when_all_have_finished() {
    let r = run(&[
        json!({"candidates":[
            {"content":{"parts":[{"text":"A"}]},"index":0},
            {"content":{"parts":[{"text":"B"}]},"index":1}]}),
        json!({"candidates":[
            {"content":{"parts":[{"text":"."}]},"index":0,"finishReason":"STOP"},
            {"content":{"parts":[{"text":"b"}]},"index":1}]}),
        json!({"candidates":[{"content":{"parts":[{"text":"!"}]},"index":1,"finishReason":"STOP"}]}),
    ]);
    assert_eq!(
        r.steps,
        vec![StreamStep::Continue, StreamStep::Continue, StreamStep::Done]
    );
    let roles: Vec<(u64, bool)> = r
        .chunks
        .iter()
        .map(|c| {
            (
                c["choices"][0]["index"].as_u64().unwrap(),
                c["choices"][0]["delta"].get("role").is_some(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        vec![
            (0, true),
            (1, true),
            (0, false),
            (0, false),
            (1, false),
            (1, false),
            (1, false)
        ]
    );
}

#[test]
fn usage_only_and_empty_events() {
    let mut conv = adapter(Provider::Gemini).stream_converter(&CTX);
    let mut emit = Emit::default();
    for data in ["", "   "] {
        let step = conv
            .event(
                &Event {
                    event: None,
                    data: data.into(),
                    meta: None,
                },
                &mut emit,
            )
            .unwrap();
        assert_eq!(step, StreamStep::Continue);
        assert!(emit.chunks.is_empty() && emit.usage.is_none());
    }
    let step = conv
        .event(
            &Event {
                event: None,
                data: r#"{"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4}}"#.into(),
                meta: None,
            },
            &mut emit,
        )
        .unwrap();
    assert_eq!(step, StreamStep::Continue);
    assert!(emit.chunks.is_empty());
    assert_eq!(emit.usage.as_ref().map(|u| u.prompt_tokens), Some(4));
}

fn first_error(data: &str) -> ConvertError {
    let mut conv = adapter(Provider::Gemini).stream_converter(&CTX);
    let mut emit = Emit::default();
    conv.event(
        &Event {
            event: None,
            data: data.into(),
            meta: None,
        },
        &mut emit,
    )
    .unwrap_err()
}

#[test]
fn blocked_prompt_and_errors_mid_stream() {
    match first_error(r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#) {
        ConvertError::Upstream(e) => {
            assert_eq!(e.status, 400);
            assert_eq!(e.code.as_deref(), Some("content_filter"));
        }
        other => panic!("{other:?}"),
    }
    match first_error(
        r#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#,
    ) {
        ConvertError::Upstream(e) => assert_eq!(e.status, 503),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        first_error("{not json"),
        ConvertError::Protocol(_)
    ));
}

#[test]
fn stream_snapshot() {
    let r = run(&[
        json!({"candidates":[{"content":{"parts":[{"text":"Hello from "}],"role":"model"},"index":0}],
            "usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":2,"totalTokenCount":11},"responseId":"snap"}),
        json!({"candidates":[{"content":{"parts":[{"text":"gemini."}],"role":"model"},"finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":4,"totalTokenCount":13},"responseId":"snap"}),
    ]);
    insta::assert_json_snapshot!(r.chunks);
}
