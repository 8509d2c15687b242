//! Unit tests of the Spark stream conversion, error-code mapping and error answers.

use bytes::Bytes;
use serde_json::{Value, json};
use switchyard_sse::Event;

use super::response;
use super::tests::{CTX, DOC_FRAMES, run};
use crate::adapter::{ConvertError, Emit, StreamStep};
use crate::{Provider, adapter};

#[test]
fn stream_text_frames_become_openai_chunks() {
    let (chunks, usage, text, done, reports) = run(&DOC_FRAMES);
    assert!(done);
    assert_eq!(chunks.len(), 3);
    assert_eq!(text, "您可以通过以下我可以帮助你的吗？");
    for c in &chunks {
        assert_eq!(c["id"], "chatcmpl-cht000b702a@dx18d6fb9d758b894540");
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["created"], 1_700_000_000);
        assert_eq!(c["model"], "SparkDesk-v3.5");
        assert_eq!(c["choices"][0]["index"], 0);
    }
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role":"assistant","content":"您"})
    );
    assert_eq!(
        chunks[1]["choices"][0]["delta"],
        json!({"content":"可以通过以下"})
    );
    assert_eq!(chunks[0]["choices"][0]["finish_reason"], Value::Null);
    assert_eq!(chunks[1]["choices"][0]["finish_reason"], Value::Null);
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(reports, 1, "usage is reported once, from the last frame");
    let usage = usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (5, 9, 14)
    );
    assert!(
        usage.extra.is_empty(),
        "question_tokens is not an OpenAI field"
    );
}

#[test]
fn usage_is_replaced_never_summed() {
    // A (hypothetical) frame repeating usage must not double it: each report is the total.
    let mut frames = DOC_FRAMES.to_vec();
    let extra = r#"{"header":{"code":0,"message":"Success","sid":"s","status":1},"payload":{"usage":{"text":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}}}"#;
    frames.insert(1, extra);
    let (_, usage, _, _, reports) = run(&frames);
    assert_eq!(reports, 2);
    let usage = usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (5, 9, 14)
    );
}

#[test]
fn empty_last_frame_closes_with_an_empty_delta() {
    let frames = [
        r#"{"header":{"code":0,"message":"Success","sid":"s1","status":0},"payload":{"choices":{"status":0,"seq":0,"text":[{"content":"Hi","role":"assistant","index":0}]}}}"#,
        r#"{"header":{"code":0,"message":"Success","sid":"s1","status":2},"payload":{"choices":{"status":2,"seq":1,"text":[{"content":"","role":"assistant","index":0}]},"usage":{"text":{"question_tokens":1,"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}}}"#,
    ];
    let (chunks, usage, _, done, _) = run(&frames);
    assert!(done);
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[1]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[1]["choices"][0]["finish_reason"], "stop");
    assert_eq!(usage.unwrap().total_tokens, 2);
    // A plugin (web search) frame has no text and emits nothing.
    let plugin = r#"{"header":{"code":0,"message":"Success","sid":"s2","status":1},"payload":{"plugins":{"text":[{"name":"ifly_search","content":"[]","role":"tool","index":0}]}}}"#;
    let (chunks, _, _, done, _) = run(&[plugin]);
    assert!(chunks.is_empty() && !done);
}

#[test]
fn function_call_frame_becomes_a_tool_call() {
    let frame = r#"{"header":{"code":0,"message":"Success","sid":"cht000c@dx19","status":2},"payload":{"choices":{"status":2,"seq":0,"text":[{"content":"","role":"assistant","content_type":"text","function_call":{"arguments":"{\"datetime\":\"今天\",\"location\":\"合肥\"}","name":"天气查询"},"index":0}]},"usage":{"text":{"question_tokens":10,"prompt_tokens":20,"completion_tokens":7,"total_tokens":27}}}}"#;
    let (chunks, usage, text, done, _) = run(&[frame]);
    assert!(done);
    assert_eq!(chunks.len(), 2);
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role":"assistant","content":"","tool_calls":[{"index":0,"id":"call_cht000cdx19","type":"function",
            "function":{"name":"天气查询","arguments":"{\"datetime\":\"今天\",\"location\":\"合肥\"}"}}]})
    );
    assert_eq!(chunks[0]["choices"][0]["finish_reason"], Value::Null);
    assert_eq!(chunks[1]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[1]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(usage.unwrap().completion_tokens, 7);
    assert!(text.contains("天气查询"));
    // Arguments given as an object are passed on as a JSON string.
    let obj = r#"{"header":{"code":0,"sid":"x","status":2},"payload":{"choices":{"status":2,"text":[{"content":"","function_call":{"name":"f","arguments":{"a":1}}}]}}}"#;
    let (chunks, ..) = run(&[obj]);
    assert_eq!(
        chunks[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
        "{\"a\":1}"
    );
}

fn frame_error(code: i64) -> crate::adapter::UpstreamError {
    let mut conv = adapter(Provider::Spark).stream_converter(&CTX);
    let frame = format!(
        r#"{{"header":{{"code":{code},"message":"SomeError:(12:17:04.432) detail","sid":"cht1","status":2}}}}"#
    );
    match conv.event(
        &Event {
            event: None,
            data: frame,
            meta: None,
        },
        &mut Emit::default(),
    ) {
        Err(ConvertError::Upstream(e)) => e,
        other => panic!("{code}: {other:?}"),
    }
}

#[test]
fn every_documented_error_code_maps_to_its_status() {
    let table: &[(i64, u16, &str)] = &[
        (10000, 502, "upstream_error"),
        (10001, 502, "upstream_error"),
        (10002, 502, "upstream_error"),
        (10003, 400, "invalid_request"),
        (10004, 400, "invalid_request"),
        (10005, 400, "invalid_request"),
        (10006, 429, "rate_limit_exceeded"),
        (10007, 429, "rate_limit_exceeded"),
        (10008, 503, "upstream_unavailable"),
        (10009, 502, "upstream_error"),
        (10010, 502, "upstream_error"),
        (10011, 502, "upstream_error"),
        (10012, 500, "upstream_error"),
        (10013, 400, "content_filter"),
        (10014, 400, "content_filter"),
        (10015, 403, "account_blocked"),
        (10016, 403, "insufficient_quota"),
        (10017, 500, "upstream_error"),
        (10019, 400, "content_filter"),
        (10021, 400, "content_filter"),
        (10110, 503, "upstream_unavailable"),
        (10163, 400, "invalid_request"),
        (10222, 502, "upstream_error"),
        (10907, 400, "context_length_exceeded"),
        (11200, 403, "insufficient_quota"),
        (11201, 429, "rate_limit_exceeded"),
        (11202, 429, "rate_limit_exceeded"),
        (11203, 429, "rate_limit_exceeded"),
        (11500, 401, "invalid_api_key"),
        (11501, 400, "invalid_request"),
        (19999, 502, "upstream_error"),
    ];
    for &(code, status, openai_code) in table {
        let e = frame_error(code);
        assert_eq!(e.status, status, "{code}");
        assert_eq!(e.code.as_deref(), Some(openai_code), "{code}");
        assert!(
            e.message.contains(&code.to_string()),
            "{code}: {}",
            e.message
        );
        assert!(e.message.contains("SomeError"), "{code}");
    }
    assert_eq!(
        frame_error(10013).kind.as_deref(),
        Some("invalid_request_error")
    );
    assert_eq!(frame_error(11202).kind.as_deref(), Some("rate_limit_error"));
}

#[test]
fn output_moderation_after_text_is_an_error_not_a_clean_end() {
    let mut conv = adapter(Provider::Spark).stream_converter(&CTX);
    let mut emit = Emit::default();
    let ev = |d: &str| Event {
        event: None,
        data: d.to_owned(),
        meta: None,
    };
    assert_eq!(
        conv.event(&ev(DOC_FRAMES[0]), &mut emit).unwrap(),
        StreamStep::Continue
    );
    assert_eq!(emit.chunks.len(), 1);
    emit.clear();
    let err = conv
        .event(
            &ev(r#"{"header":{"code":10014,"message":"OutputAuditError","sid":"cht000b702a@dx18d6fb9d758b894540","status":2}}"#),
            &mut emit,
        )
        .unwrap_err();
    assert!(
        matches!(err, ConvertError::Upstream(ref e) if e.status == 400 && e.code.as_deref() == Some("content_filter"))
    );
    assert!(emit.chunks.is_empty());
    assert!(matches!(
        conv.event(&ev("{not json"), &mut emit),
        Err(ConvertError::Protocol(_))
    ));
    let (id, created, model) = conv.identity();
    assert_eq!(
        (id, created, model),
        (
            "chatcmpl-cht000b702a@dx18d6fb9d758b894540",
            1_700_000_000,
            "SparkDesk-v3.5"
        )
    );
}

// ---------------------------------------------------------------- errors and non-stream

#[test]
fn handshake_refusals_keep_status_and_message() {
    let a = adapter(Provider::Spark);
    let e = a.error(401, br#"{"message":"HMAC signature does not match"}"#);
    assert_eq!(
        (e.status, e.message.as_str()),
        (401, "HMAC signature does not match")
    );
    let e = a.error(
        403,
        br#"{"message":"HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication"}"#,
    );
    assert_eq!(e.status, 403);
    assert!(e.message.contains("valid date"));
    let e = a.error(502, b"");
    assert_eq!(e.status, 502);
    assert!(e.message.contains("502"));
    // An error frame handed to `error` is classified by its code, not the transport status.
    let e = a.error(
        200,
        br#"{"header":{"code":11202,"message":"limit","sid":"s","status":2}}"#,
    );
    assert_eq!(
        (e.status, e.code.as_deref()),
        (429, Some("rate_limit_exceeded"))
    );
    assert_eq!(response::classify(10013).0, 400);
}

#[test]
fn chat_response_is_a_clear_error() {
    let err = adapter(Provider::Spark)
        .chat_response(Bytes::from_static(b"{}"), &CTX)
        .unwrap_err();
    match err {
        ConvertError::Protocol(m) => assert!(m.contains("WebSocket"), "{m}"),
        other => panic!("{other:?}"),
    }
}
