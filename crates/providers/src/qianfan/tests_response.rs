//! Unit tests of the Qianfan v1 answer, error-code and embeddings conversions.

use bytes::Bytes;
use serde_json::{Value, json};

use super::tests::{CTX, target, v1};
use crate::adapter::{ConvertError, EmbeddingsInput, UpstreamError};

fn err_of(code: i64) -> UpstreamError {
    let body = format!(r#"{{"error_code":{code},"error_msg":"m{code}","id":"as-x"}}"#);
    match v1().chat_response(Bytes::from(body), &CTX) {
        Err(ConvertError::Upstream(e)) => e,
        other => panic!("{code}: {other:?}"),
    }
}

#[test]
fn every_documented_error_code_is_mapped() {
    let table: &[(i64, u16, &str)] = &[
        (1, 500, "internal_error"),
        (2, 503, "server_overloaded"),
        (3, 404, "model_not_found"),
        (4, 503, "server_overloaded"),
        (6, 403, "permission_denied"),
        (13, 401, "invalid_credentials"),
        (14, 401, "invalid_credentials"),
        (15, 503, "server_overloaded"),
        (17, 429, "insufficient_quota"),
        (18, 429, "rate_limit_exceeded"),
        (19, 429, "insufficient_quota"),
        (100, 401, "invalid_credentials"),
        (110, 401, "invalid_access_token"),
        (111, 401, "expired_access_token"),
        (336000, 500, "internal_error"),
        (336001, 400, "invalid_request"),
        (336002, 400, "invalid_request"),
        (336003, 400, "invalid_request"),
        (336004, 403, "permission_denied"),
        (336005, 404, "model_not_found"),
        (336006, 400, "invalid_request"),
        (336007, 400, "context_length_exceeded"),
        (336100, 503, "server_overloaded"),
        (336101, 400, "invalid_request"),
        (336102, 400, "invalid_request"),
        (336103, 400, "context_length_exceeded"),
        (336104, 400, "invalid_request"),
        (336105, 400, "invalid_request"),
        (336501, 429, "rate_limit_exceeded"),
        (336502, 429, "rate_limit_exceeded"),
        (500000, 500, "internal_error"),
        (987654, 502, "upstream_error"),
    ];
    for (code, status, oai) in table {
        let e = err_of(*code);
        assert_eq!(
            (e.status, e.code.as_deref()),
            (*status, Some(*oai)),
            "code {code}"
        );
        assert_eq!(e.message, format!("m{code} (Qianfan error_code {code})"));
        assert_eq!(
            v1().token_rejected(&e),
            matches!(code, 110 | 111),
            "code {code}"
        );
    }
    // The same mapping applies to non-2xx answers, embeddings answers and string codes.
    let e = v1().error(500, br#"{"error_code":"18","error_msg":"qps"}"#);
    assert_eq!(e.status, 429);
    let e = v1().error(502, b"bad gateway");
    assert_eq!((e.status, e.message.as_str()), (502, "bad gateway"));
    let r = v1().embeddings_response(Bytes::from_static(
        br#"{"error_code":111,"error_msg":"Access token expired"}"#,
    ));
    assert!(
        matches!(r, Err(ConvertError::Upstream(e)) if e.status == 401 && v1().token_rejected(&e))
    );
    // error_code 0 is not an error.
    let ok = br#"{"id":"as-1","created":5,"result":"hi","error_code":0,"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;
    assert!(v1().chat_response(Bytes::from_static(ok), &CTX).is_ok());
}

#[test]
fn documented_answer_converts_to_chat_completion() {
    // §2.3 of the protocol notes, byte for byte.
    let body = "{\"id\":\"as-bcmt5ct4iy\",\"object\":\"chat.completion\",\"created\":1680167072,\n \"result\":\"您好，我是百度研发的知识增强大语言模型…\",\n \"is_truncated\":false,\"need_clear_history\":false,\"finish_reason\":\"normal\",\n \"usage\":{\"prompt_tokens\":7,\"completion_tokens\":67,\"total_tokens\":74}}";
    let out = v1().chat_response(Bytes::from(body), &CTX).unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(
        v,
        json!({"id": "as-bcmt5ct4iy", "object": "chat.completion", "created": 1680167072,
            "model": "ERNIE-Bot-4",
            "choices": [{"index": 0, "message": {"role": "assistant",
                "content": "您好，我是百度研发的知识增强大语言模型…", "refusal": null},
                "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 67, "total_tokens": 74}})
    );
    let u = out.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (7, 67, 74)
    );
    assert!(out.text_for_count.is_none());
}

#[test]
fn function_call_safety_and_truncation() {
    let body = br#"{"id":"as-rtpw9dcmef","object":"chat.completion","created":1693449832,"result":"","is_truncated":false,"need_clear_history":false,"function_call":{"name":"paper_search","thoughts":"t","arguments":"{\"__arg1\":\"physics\"}"},"usage":{"prompt_tokens":8,"completion_tokens":46,"total_tokens":54}}"#;
    let v: Value = serde_json::from_slice(
        &v1()
            .chat_response(Bytes::from_static(body), &CTX)
            .unwrap()
            .body,
    )
    .unwrap();
    let c = &v["choices"][0];
    assert_eq!(c["finish_reason"], "tool_calls");
    assert_eq!(c["message"]["content"], Value::Null);
    assert_eq!(
        c["message"]["tool_calls"],
        json!([{"id": "call_as-rtpw9dcmef_0", "type": "function",
            "function": {"name": "paper_search", "arguments": "{\"__arg1\":\"physics\"}"}}])
    );
    let unsafe_body = br#"{"id":"a","created":1,"result":"Sorry.","need_clear_history":true,"ban_round":-1,"finish_reason":"normal"}"#;
    let out = v1()
        .chat_response(Bytes::from_static(unsafe_body), &CTX)
        .unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(v["choices"][0]["message"]["content"], "Sorry.");
    // No usage: the text is kept for local counting, and no usage object is invented.
    assert_eq!(out.text_for_count.as_deref(), Some("Sorry."));
    assert!(v.get("usage").is_none());
    let cut =
        br#"{"id":"a","created":1,"result":"abc","is_truncated":true,"finish_reason":"normal"}"#;
    let v: Value = serde_json::from_slice(
        &v1()
            .chat_response(Bytes::from_static(cut), &CTX)
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    for (raw, want) in [
        ("stop", "stop"),
        ("length", "length"),
        ("content_filter", "content_filter"),
        ("something_new", "stop"),
    ] {
        let b = format!(r#"{{"id":"a","created":1,"result":"x","finish_reason":"{raw}"}}"#);
        let v: Value =
            serde_json::from_slice(&v1().chat_response(Bytes::from(b), &CTX).unwrap().body)
                .unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], want, "{raw}");
    }
    assert!(matches!(
        v1().chat_response(Bytes::from_static(b"not json"), &CTX),
        Err(ConvertError::Protocol(_))
    ));
}

#[test]
fn embeddings_request_and_answer() {
    let texts = vec!["a".to_owned(), "b".to_owned()];
    let input = EmbeddingsInput {
        texts: &texts,
        dimensions: None,
    };
    let r = v1()
        .embeddings_request(&input, &target("Embedding-V1"))
        .unwrap();
    assert_eq!(
        r.url,
        "https://aip.example/rpc/2.0/ai_custom/v1/wenxinworkshop/embeddings/embedding-v1?access_token=24.abc%2Fdef%2B1.2592000"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({"input": ["a", "b"]})
    );
    let many: Vec<String> = (0..17).map(|i| i.to_string()).collect();
    let r = v1().embeddings_request(
        &EmbeddingsInput {
            texts: &many,
            dimensions: None,
        },
        &target("Embedding-V1"),
    );
    assert!(matches!(r, Err(ConvertError::BadRequest { param: Some(p), .. }) if p == "input"));
    let r = v1().embeddings_request(&input, &target("tao-8k"));
    assert!(matches!(r, Err(ConvertError::BadRequest { param: Some(p), .. }) if p == "input"));
    let r = v1().embeddings_request(
        &EmbeddingsInput {
            texts: &texts,
            dimensions: Some(1024),
        },
        &target("Embedding-V1"),
    );
    assert!(matches!(r, Err(ConvertError::BadRequest { param: Some(p), .. }) if p == "dimensions"));
    assert!(
        v1().embeddings_request(
            &EmbeddingsInput {
                texts: &texts,
                dimensions: Some(384)
            },
            &target("Embedding-V1")
        )
        .is_ok()
    );
    let r = v1().embeddings_request(&input, &target("ERNIE-Bot"));
    assert!(matches!(r, Err(ConvertError::BadRequest { param: Some(p), .. }) if p == "model"));
    // §2.6 of the protocol notes (vector shortened), answers out of order.
    let body = br#"{"id":"as-gjs275mj6s","object":"embedding_list","created":1687155816,
 "data":[{"object":"embedding","embedding":[0.5],"index":1},{"object":"embedding","embedding":[0.0183,-0.25],"index":0}],
 "usage":{"prompt_tokens":12,"total_tokens":12}}"#;
    let out = v1().embeddings_response(Bytes::from_static(body)).unwrap();
    assert_eq!(out.vectors, vec![vec![0.0183, -0.25], vec![0.5]]);
    let u = out.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.total_tokens), (12, 12));
}

#[test]
fn snapshot_response() {
    let body = br#"{"id":"as-bcmt5ct4iy","object":"chat.completion","created":1680167072,"result":"Hello!","is_truncated":false,"need_clear_history":false,"finish_reason":"normal","usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}"#;
    let out = v1().chat_response(Bytes::from_static(body), &CTX).unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    insta::assert_json_snapshot!("v1_response", v);
}
