//! Unit tests of the Zhipu error table (every documented business code), error bodies of both
//! APIs, and the embeddings conversions.

use bytes::Bytes;
use serde_json::{Value, json};

use super::response::classify;
use super::tests::{KNOWN_JWT, header, target};
use crate::adapter::{ConvertError, EmbeddingsInput};
use crate::{Provider, adapter};

#[test]
fn every_documented_code_maps_to_its_status() {
    let cases: &[(&str, u16, Option<&str>)] = &[
        ("500", 500, None),
        ("1000", 401, Some("invalid_api_key")),
        ("1001", 401, Some("invalid_api_key")),
        ("1002", 401, Some("invalid_api_key")),
        ("1003", 401, Some("invalid_api_key")),
        ("1004", 401, Some("invalid_api_key")),
        ("1100", 500, None),
        ("1110", 403, Some("account_deactivated")),
        ("1111", 403, Some("account_deactivated")),
        ("1112", 403, Some("account_deactivated")),
        ("1113", 403, Some("insufficient_quota")),
        ("1120", 503, None),
        ("1121", 403, Some("account_deactivated")),
        ("1200", 400, Some("invalid_request")),
        ("1210", 400, Some("invalid_request")),
        ("1211", 404, Some("model_not_found")),
        ("1212", 400, Some("invalid_request")),
        ("1213", 400, Some("invalid_request")),
        ("1214", 400, Some("invalid_request")),
        ("1215", 400, Some("invalid_request")),
        ("1220", 403, Some("permission_denied")),
        ("1221", 404, Some("not_found")),
        ("1222", 404, Some("not_found")),
        ("1230", 500, None),
        ("1231", 409, Some("duplicate_request")),
        ("1234", 502, Some("upstream_network_error")),
        ("1261", 400, Some("context_length_exceeded")),
        ("1300", 403, Some("policy_blocked")),
        ("1301", 400, Some("content_filter")),
        ("1302", 429, Some("rate_limit_exceeded")),
        ("1303", 429, Some("rate_limit_exceeded")),
        ("1304", 429, Some("insufficient_quota")),
        ("1305", 429, Some("rate_limit_exceeded")),
        ("1308", 429, Some("insufficient_quota")),
        ("1309", 403, Some("insufficient_quota")),
        ("1310", 429, Some("insufficient_quota")),
        ("1311", 403, Some("model_not_available")),
        ("1312", 503, Some("model_overloaded")),
        ("1313", 429, Some("rate_limit_exceeded")),
    ];
    for (code, status, openai) in cases {
        // The mapping follows the business code, whatever HTTP status carried it.
        assert_eq!(classify(code, 429), (*status, *openai), "code {code}");
        let body = format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        let e = adapter(Provider::Zhipu).error(200, body.as_bytes());
        assert_eq!(
            (e.status, e.code.as_deref()),
            (*status, *openai),
            "code {code}"
        );
        assert!(e.message.contains(code), "{}", e.message);
    }
    assert_eq!(classify("9999", 418), (418, None));
    assert_eq!(classify("oops", 200), (502, None));
}

#[test]
fn error_bodies_of_both_apis_and_raw_text() {
    let z = adapter(Provider::Zhipu);
    let e = z.error(401, r#"{"error":{"code":"1002","message":"Authorization Token非法，请确认Authorization Token正确传递。"}}"#.as_bytes());
    assert_eq!(
        (e.status, e.code.as_deref()),
        (401, Some("invalid_api_key"))
    );
    assert!(e.message.contains("Authorization Token非法"));
    let e = z.error(429, br#"{"error":{"code":"1113","message":"balance"}}"#);
    assert_eq!(
        e.status, 403,
        "arrears fail over and never reach the client as a rate limit"
    );
    let e = z.error(
        200,
        br#"{"code":1261,"msg":"Prompt too long","success":false}"#,
    );
    assert_eq!(
        (e.status, e.code.as_deref()),
        (400, Some("context_length_exceeded"))
    );
    let e = z.error(503, b"<html>busy</html>");
    assert_eq!((e.status, e.message.as_str()), (503, "<html>busy</html>"));
    assert_eq!(z.error(502, b"").message, "Zhipu answered with status 502");
}

#[test]
fn embeddings_requests_and_answers() {
    let z = adapter(Provider::Zhipu);
    let texts = ["hello".to_owned()];
    let out = z
        .embeddings_request(
            &EmbeddingsInput {
                texts: &texts,
                dimensions: None,
            },
            &target("embedding-2"),
        )
        .unwrap();
    assert_eq!(out.url, "https://open.bigmodel.cn/api/paas/v4/embeddings");
    assert_eq!(
        header(&out.headers, "authorization"),
        format!("Bearer {KNOWN_JWT}")
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&out.body).unwrap(),
        json!({"model":"embedding-2","input":"hello"})
    );
    let two = ["a".to_owned(), "b".to_owned()];
    let err = z
        .embeddings_request(
            &EmbeddingsInput {
                texts: &two,
                dimensions: None,
            },
            &target("embedding-2"),
        )
        .unwrap_err();
    assert!(matches!(err, ConvertError::BadRequest { param: Some(p), .. } if p == "input"));
    let err = z
        .embeddings_request(
            &EmbeddingsInput {
                texts: &texts,
                dimensions: Some(256),
            },
            &target("embedding-2"),
        )
        .unwrap_err();
    assert!(matches!(err, ConvertError::BadRequest { param: Some(p), .. } if p == "dimensions"));
    let out = z
        .embeddings_request(
            &EmbeddingsInput {
                texts: &two,
                dimensions: Some(256),
            },
            &target("embedding-3"),
        )
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&out.body).unwrap(),
        json!({"model":"embedding-3","input":["a","b"],"dimensions":256})
    );

    let answer = br#"{"model":"embedding-2","data":[{"embedding":[0.5,-0.25],"index":1,"object":"embedding"},{"embedding":[1.0,0.0],"index":0,"object":"embedding"}],"object":"list","usage":{"completion_tokens":0,"prompt_tokens":5,"total_tokens":5}}"#;
    let got = z.embeddings_response(Bytes::from_static(answer)).unwrap();
    assert_eq!(got.vectors, vec![vec![1.0, 0.0], vec![0.5, -0.25]]);
    assert_eq!(got.usage.unwrap().prompt_tokens, 5);
    let err = z
        .embeddings_response(Bytes::from_static(
            br#"{"error":{"code":"1214","message":"input"}}"#,
        ))
        .unwrap_err();
    assert!(matches!(err, ConvertError::Upstream(e) if e.status == 400));
}
