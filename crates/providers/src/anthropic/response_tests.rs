//! Unit tests of the Anthropic response and error conversions.

use bytes::Bytes;
use serde_json::{Value, json};

use super::ADAPTER;
use super::tests::CTX;
use crate::adapter::{Adapter, ConvertError};

/// The `Message` of the protocols file (§3.2), byte for byte.
const DOC_MESSAGE: &str = r#"{"id":"msg_019Q1hrJbZG26Fb9BQhrkHEr","type":"message","role":"assistant","model":"claude-sonnet-4-20250514",
 "content":[{"type":"text","text":"I'll check the current weather in Paris for you."},
            {"type":"tool_use","id":"toolu_01NRLabsLyVHZPKxbKvkfSMn","name":"get_weather","input":{"location":"Paris"}}],
 "stop_reason":"tool_use","stop_sequence":null,
 "usage":{"input_tokens":377,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":65,"service_tier":"standard"}}"#;

fn completion(body: &str) -> (Value, Option<switchyard_types::Usage>) {
    let out = ADAPTER
        .chat_response(Bytes::from(body.to_owned()), &CTX)
        .unwrap();
    (serde_json::from_slice(&out.body).unwrap(), out.usage)
}

#[test]
fn doc_message_converts_to_a_completion() {
    let (v, usage) = completion(DOC_MESSAGE);
    assert_eq!(
        v,
        json!({
            "id": "chatcmpl-msg_019Q1hrJbZG26Fb9BQhrkHEr",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "claude-3-5-sonnet-20241022",
            "choices": [{"index": 0, "message": {
                "role": "assistant",
                "content": "I'll check the current weather in Paris for you.",
                "refusal": null,
                "tool_calls": [{"id": "toolu_01NRLabsLyVHZPKxbKvkfSMn", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]},
                "logprobs": null, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 377, "completion_tokens": 65, "total_tokens": 442,
                      "prompt_tokens_details": {"cached_tokens": 0}}
        })
    );
    let u = usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (377, 65, 442)
    );
}

#[test]
fn snapshot_doc_message() {
    let (v, _) = completion(DOC_MESSAGE);
    insta::assert_json_snapshot!("doc_message_completion", v);
}

#[test]
fn all_text_blocks_are_kept_and_cache_tokens_reported() {
    let (v, usage) = completion(
        r#"{"id":"msg_1","type":"message","role":"assistant","model":"m",
            "content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Part one. "},
                       {"type":"tool_use","id":"t1","name":"a","input":{}},{"type":"text","text":"Part two."}],
            "stop_reason":"end_turn","usage":{"input_tokens":10,"cache_creation_input_tokens":20,
            "cache_read_input_tokens":300,"output_tokens":7}}"#,
    );
    let m = &v["choices"][0]["message"];
    assert_eq!(m["content"], "Part one. Part two.");
    assert_eq!(m["reasoning_content"], "hmm");
    assert_eq!(m["tool_calls"][0]["function"]["arguments"], "{}");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 330, "completion_tokens": 7, "total_tokens": 337,
               "prompt_tokens_details": {"cached_tokens": 300}})
    );
    let u = usage.unwrap();
    assert_eq!((u.prompt_tokens, u.cached_tokens()), (330, 300));
}

#[test]
fn stop_reasons_map_to_openai_finish_reasons() {
    for (stop, want) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
        ("something_new", "stop"),
    ] {
        let (v, _) = completion(&format!(
            r#"{{"id":"m","type":"message","content":[{{"type":"text","text":"x"}}],"stop_reason":"{stop}","usage":{{"input_tokens":1,"output_tokens":1}}}}"#
        ));
        assert_eq!(v["choices"][0]["finish_reason"], want, "{stop}");
    }
}

#[test]
fn missing_usage_falls_back_to_text_for_counting() {
    let out = ADAPTER
        .chat_response(
            Bytes::from_static(
                br#"{"id":"m","type":"message","content":[{"type":"text","text":"abc"},{"type":"tool_use","id":"t","name":"f","input":{"a":1}}],"stop_reason":"tool_use"}"#,
            ),
            &CTX,
        )
        .unwrap();
    assert!(out.usage.is_none());
    assert_eq!(out.text_for_count.as_deref(), Some("abcf{\"a\":1}"));
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    assert!(v.get("usage").is_none());
}

#[test]
fn an_error_inside_a_200_is_an_upstream_error() {
    let err = ADAPTER
        .chat_response(
            Bytes::from_static(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#,
            ),
            &CTX,
        )
        .unwrap_err();
    match err {
        ConvertError::Upstream(e) => {
            assert_eq!(e.status, 503);
            assert_eq!(e.kind.as_deref(), Some("overloaded_error"));
            assert_eq!(e.message, "Overloaded");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ADAPTER.chat_response(Bytes::from_static(b"<html>"), &CTX),
        Err(ConvertError::Protocol(_))
    ));
}

// ---- errors ----------------------------------------------------------------------------

#[test]
fn every_documented_error_type_maps_to_its_status() {
    let cases: &[(u16, &str, &str, u16, Option<&str>)] = &[
        (
            400,
            "invalid_request_error",
            "max_tokens: Field required",
            400,
            None,
        ),
        (413, "invalid_request_error", "odd", 413, None),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
            400,
            Some("context_length_exceeded"),
        ),
        (
            400,
            "invalid_request_error",
            "Output blocked by content filtering policy",
            400,
            Some("content_filter"),
        ),
        (
            400,
            "invalid_request_error",
            "Your credit balance is too low to access the Anthropic API.",
            403,
            Some("insufficient_quota"),
        ),
        (
            401,
            "authentication_error",
            "invalid x-api-key",
            401,
            Some("invalid_api_key"),
        ),
        (
            402,
            "billing_error",
            "billing",
            403,
            Some("insufficient_quota"),
        ),
        (
            403,
            "permission_error",
            "no access",
            403,
            Some("permission_denied"),
        ),
        (
            404,
            "not_found_error",
            "model: claude-9",
            404,
            Some("model_not_found"),
        ),
        (404, "not_found_error", "Not found", 404, None),
        (
            413,
            "request_too_large",
            "Request exceeds the maximum size",
            413,
            Some("request_too_large"),
        ),
        (
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your rate limit",
            429,
            Some("rate_limit_exceeded"),
        ),
        (500, "api_error", "Internal server error", 500, None),
        (502, "api_error", "Bad gateway", 502, None),
        (529, "overloaded_error", "Overloaded", 503, None),
        (504, "timeout_error", "Request timed out", 504, None),
        (529, "brand_new_error", "?", 503, None),
    ];
    for (http, kind, message, status, code) in cases {
        let body = json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_x"});
        let e = ADAPTER.error(*http, body.to_string().as_bytes());
        assert_eq!(e.status, *status, "{kind} {message}");
        assert_eq!(e.code.as_deref(), *code, "{kind} {message}");
        assert_eq!(e.kind.as_deref(), Some(*kind));
        assert_eq!(e.message, *message);
    }
    let e = ADAPTER.error(502, b"<html>Bad Gateway</html>");
    assert_eq!(
        (e.status, e.message.as_str()),
        (502, "<html>Bad Gateway</html>")
    );
    let e = ADAPTER.error(529, b"");
    assert_eq!(e.status, 503);
    assert!(e.message.contains("529"));
}
