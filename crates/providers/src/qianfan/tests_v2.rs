//! Unit tests of the Qianfan v2 (OpenAI-shaped) conversions.

use bytes::Bytes;
use serde_json::{Value, json};
use switchyard_sse::Event;
use switchyard_types::ChatRequest;

use crate::adapter::{ConvertError, Emit, ResponseCtx, StreamStep, Target};
use crate::{Adapter, Provider, adapter};

const KEY: &str = "bce-v3/ALTAK-abc123/f00dfeed";
const CTX: ResponseCtx<'static> = ResponseCtx {
    requested_model: "ERNIE-3.5",
    upstream_model: "ernie-3.5-8k",
    now_unix: 42,
};

fn v2() -> &'static dyn Adapter {
    adapter(Provider::QianfanV2)
}

fn target(key: &'static str) -> Target<'static> {
    Target {
        base_url: "https://qianfan.example/v2/",
        key,
        upstream_model: "ernie-3.5-8k",
        now_unix: 0,
        token: None,
    }
}

fn req(v: Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

#[test]
fn request_is_openai_with_bearer_usage_and_ernie_ranges() {
    let r = v2()
        .chat_request(
            &req(
                json!({"model": "ERNIE-3.5", "messages": [{"role": "system", "content": "s"},
                {"role": "user", "content": "hi"}], "stream": true, "temperature": 0,
                "top_p": 2, "penalty_score": 0.5, "seed": 3, "web_search": {"enable": true}}),
            ),
            &target(KEY),
        )
        .unwrap();
    assert_eq!(r.url, "https://qianfan.example/v2/chat/completions");
    assert!(
        r.headers
            .contains(&("authorization".into(), format!("Bearer {KEY}").into()))
    );
    assert!(v2().token_request(&target(KEY)).is_none());
    let b: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(b["model"], "ernie-3.5-8k");
    assert_eq!(b["stream_options"], json!({"include_usage": true}));
    assert_eq!(b["temperature"], json!(0.01));
    assert_eq!(b["top_p"], json!(1.0));
    assert_eq!(b["penalty_score"], json!(1.0));
    assert_eq!(b["seed"], 3);
    assert_eq!(b["web_search"], json!({"enable": true}));
    assert_eq!(b["messages"][0], json!({"role": "system", "content": "s"}));
    // A non-stream request gets no stream_options.
    let r = v2()
        .chat_request(
            &req(json!({"model": "m", "messages": [{"role": "user", "content": "x"}]})),
            &target(KEY),
        )
        .unwrap();
    assert!(
        serde_json::from_slice::<Value>(&r.body)
            .unwrap()
            .get("stream_options")
            .is_none()
    );
}

#[test]
fn malformed_v2_keys_are_refused_without_echo() {
    for key in [
        "sk-123",
        "bce-v3/ALTAK-x",
        "bce-v3//y",
        "bce-v3/a/b/c",
        "bce-v3/a b/c",
    ] {
        let r = v2().chat_request(
            &req(json!({"model": "m", "messages": [{"role": "user", "content": "x"}]})),
            &target(key),
        );
        match r {
            Err(ConvertError::BadRequest { message, .. }) => {
                assert!(message.contains("bce-v3/"), "{message}");
                assert!(!message.contains(key), "{message}");
            }
            other => panic!("{key}: {other:?}"),
        }
    }
}

#[test]
fn documented_answer_gets_the_requested_model() {
    // §2.7 of the protocol notes, byte for byte.
    let body = "{\"id\":\"as-qsp8w7ppnv\",\"object\":\"chat.completion\",\"created\":1755938117,\"model\":\"deepseek-v3.1-250821\",\n \"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"你好！很高兴和你交流。请问有什么我可以帮助你的吗？\"},\"finish_reason\":\"stop\",\"flag\":0}],\n \"usage\":{\"prompt_tokens\":11,\"completion_tokens\":15,\"total_tokens\":26}}";
    let out = v2().chat_response(Bytes::from(body), &CTX).unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(
        v,
        json!({"id": "as-qsp8w7ppnv", "object": "chat.completion", "created": 1755938117,
            "model": "ERNIE-3.5", "choices": [{"index": 0, "message": {"role": "assistant",
            "content": "你好！很高兴和你交流。请问有什么我可以帮助你的吗？"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 15, "total_tokens": 26}})
    );
    assert_eq!(out.usage.unwrap().total_tokens, 26);
    let older = br#"{"id":"a","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"normal"}]}"#;
    let out = v2().chat_response(Bytes::from_static(older), &CTX).unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(out.text_for_count.as_deref(), Some("x"));
    let flagged = br#"{"id":"a","choices":[{"index":0,"message":{"role":"assistant","content":"no"},"finish_reason":"stop","need_clear_history":true}]}"#;
    let v: Value = serde_json::from_slice(
        &v2()
            .chat_response(Bytes::from_static(flagged), &CTX)
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
}

#[test]
fn v2_errors_are_mapped() {
    let cases: &[(u16, &str, u16, &str)] = &[
        (
            401,
            r#"{"error":{"code":"invalid_iam_token","message":"IAM Certification failed","type":"invalid_request_error"},"id":"as-1"}"#,
            401,
            "invalid_iam_token",
        ),
        (
            403,
            r#"{"error":{"code":"account_overdue","message":"overdue","type":"invalid_request_error"}}"#,
            403,
            "insufficient_quota",
        ),
        (
            429,
            r#"{"error":{"code":"rpm_rate_limit_exceeded","message":"Rate limit reached for RPM","type":"rate_limit_exceeded"}}"#,
            429,
            "rate_limit_exceeded",
        ),
        (
            400,
            r#"{"error":{"code":"image_url_unsafe","message":"unsafe","type":"unsafe_request"}}"#,
            400,
            "content_filter",
        ),
        (
            400,
            r#"{"error":{"code":"tokens_too_long","message":"Prompt tokens too long","type":"invalid_request_error"}}"#,
            400,
            "context_length_exceeded",
        ),
        (
            400,
            r#"{"error":{"code":"invalid_argument","message":"bad","type":"invalid_request_error"}}"#,
            400,
            "invalid_argument",
        ),
        (
            500,
            r#"{"error":{"code":"internal_error","message":"boom","type":"server_error"}}"#,
            500,
            "internal_error",
        ),
        (
            503,
            r#"{"error":{"code":"server_high_load","message":"busy","type":"server_error"}}"#,
            503,
            "server_overloaded",
        ),
    ];
    for (status, body, want_status, want_code) in cases {
        let e = v2().error(*status, body.as_bytes());
        assert_eq!(
            (e.status, e.code.as_deref()),
            (*want_status, Some(*want_code)),
            "{body}"
        );
    }
    // An error inside a 200 answer is detected.
    let r = v2().chat_response(
        Bytes::from_static(br#"{"error":{"code":"invalid_model","message":"The model does not exist or you do not have access to it.","type":"invalid_request_error"},"id":"as-bkv66krfus"}"#),
        &CTX,
    );
    assert!(
        matches!(r, Err(ConvertError::Upstream(e)) if e.status == 502 && e.code.as_deref() == Some("invalid_model"))
    );
}

#[test]
fn v2_stream_adds_role_reads_usage_once_and_ends_on_done() {
    let frames = [
        r#"{"id":"as-s","object":"chat.completion.chunk","created":7,"model":"ernie-3.5-8k","choices":[{"index":0,"delta":{"content":"Hel"},"flag":0}]}"#,
        r#"{"id":"as-s","object":"chat.completion.chunk","created":7,"model":"ernie-3.5-8k","choices":[{"index":0,"delta":{"role":"assistant","content":"lo"},"finish_reason":"normal","flag":0}]}"#,
        r#"{"id":"as-s","object":"chat.completion.chunk","created":7,"model":"ernie-3.5-8k","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
        "[DONE]",
    ];
    let mut conv = v2().stream_converter(&CTX);
    let mut emit = Emit::default();
    let mut chunks = Vec::new();
    let mut usages = Vec::new();
    let mut steps = Vec::new();
    for f in frames {
        emit.clear();
        steps.push(
            conv.event(
                &Event {
                    event: None,
                    data: f.to_owned(),
                    meta: None,
                },
                &mut emit,
            )
            .unwrap(),
        );
        chunks.extend(
            emit.chunks
                .iter()
                .map(|c| serde_json::from_slice::<Value>(c).unwrap()),
        );
        usages.extend(emit.usage.take());
    }
    assert_eq!(steps.last(), Some(&StreamStep::Done));
    assert_eq!(chunks.len(), 2);
    assert_eq!(
        chunks[0]["choices"][0],
        json!({"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": null})
    );
    assert_eq!(
        chunks[1]["choices"][0],
        json!({"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"})
    );
    assert!(
        chunks
            .iter()
            .all(|c| c["model"] == "ERNIE-3.5" && c["id"] == "as-s" && c["created"] == 7)
    );
    assert_eq!(usages.len(), 1);
    assert_eq!(usages[0].total_tokens, 5);
    assert_eq!(conv.identity(), ("as-s", 7, "ERNIE-3.5"));
    let mut conv = v2().stream_converter(&CTX);
    let err = conv.event(
        &Event {
            event: None,
            data: r#"{"error":{"code":"server_high_load","message":"busy"}}"#.into(),
            meta: None,
        },
        &mut emit,
    );
    assert!(matches!(err, Err(ConvertError::Upstream(e)) if e.status == 503));
}

#[test]
fn snapshot_v2_stream_chunk() {
    let mut conv = v2().stream_converter(&CTX);
    let mut emit = Emit::default();
    let f = r#"{"id":"as-t","object":"chat.completion.chunk","created":8,"model":"ernie-3.5-8k","choices":[{"index":0,"delta":{"content":"","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"w","arguments":""}}]},"flag":0,"ban_round":-1}]}"#;
    conv.event(
        &Event {
            event: None,
            data: f.to_owned(),
            meta: None,
        },
        &mut emit,
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&emit.chunks[0]).unwrap();
    insta::assert_json_snapshot!("v2_stream_chunk", v);
}
