//! Unit tests of the non-stream answer conversion and the error mapping, with the known-answer
//! response (§4.3) and error body (§4.6) of the protocols file.

use bytes::Bytes;
use serde_json::{Value, json};
use switchyard_types::Usage;

use super::tests::CTX;
use crate::adapter::{ChatOutput, ConvertError, UpstreamError};
use crate::{Provider, adapter};

fn convert(body: &Value) -> Result<ChatOutput, ConvertError> {
    adapter(Provider::Gemini).chat_response(Bytes::from(body.to_string()), &CTX)
}

fn json_of(out: &ChatOutput) -> Value {
    serde_json::from_slice(&out.body).unwrap()
}

fn upstream(err: ConvertError) -> UpstreamError {
    match err {
        ConvertError::Upstream(e) => e,
        other => panic!("expected Upstream, got {other:?}"),
    }
}

/// The response of the protocols file, §4.3.
#[test]
fn known_answer_response_of_the_protocols_file() {
    let body = json!({"candidates":[{"content":{"role":"model","parts":[{"text":"Hello"}]},"finishReason":"STOP","index":0,
                "safetyRatings":[{"category":"HARM_CATEGORY_HARASSMENT","probability":"NEGLIGIBLE"}]}],
        "usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2,"totalTokenCount":7,"thoughtsTokenCount":0},
        "modelVersion":"gemini-2.5-flash","responseId":"resp-1"});
    let out = convert(&body).unwrap();
    let v = json_of(&out);
    assert_eq!(
        v,
        json!({
            "id":"chatcmpl-resp-1","object":"chat.completion","created":1_700_000_000,"model":"gemini-2.5-flash",
            "choices":[{"index":0,"message":{"role":"assistant","content":"Hello","refusal":null},
                        "logprobs":null,"finish_reason":"stop"}],
            "usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,
                     "completion_tokens_details":{"reasoning_tokens":0}}
        })
    );
    let usage = out.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (5, 2, 7)
    );
    assert!(out.text_for_count.is_none());
}

#[test]
fn usage_counts_thoughts_cache_and_tool_prompts() {
    let body = json!({"candidates":[{"content":{"parts":[{"text":"ok"}]},"finishReason":"STOP"}],
        "usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":20,"thoughtsTokenCount":30,
            "cachedContentTokenCount":64,"toolUsePromptTokenCount":5,"totalTokenCount":155}});
    let out = convert(&body).unwrap();
    let u = out.usage.clone().unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (105, 50, 155)
    );
    assert_eq!(u.cached_tokens(), 64);
    let v = json_of(&out);
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens":105,"completion_tokens":50,"total_tokens":155,
               "prompt_tokens_details":{"cached_tokens":64},
               "completion_tokens_details":{"reasoning_tokens":30}})
    );
    // Without usageMetadata: no usage, the text is kept for local counting.
    let out = convert(
        &json!({"candidates":[{"content":{"parts":[{"text":"abc"}]},"finishReason":"STOP"}]}),
    )
    .unwrap();
    assert_eq!(out.usage, None::<Usage>);
    assert_eq!(out.text_for_count.as_deref(), Some("abc"));
    assert!(json_of(&out).get("usage").is_none());
}

#[test]
fn function_calls_become_tool_calls() {
    let body = json!({"candidates":[{"content":{"role":"model","parts":[
            {"functionCall":{"name":"get_weather","args":{"location":"Paris"}},"thoughtSignature":"QUJD"},
            {"functionCall":{"name":"get_time"}}]},
        "finishReason":"STOP","index":0}],
        "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":8,"totalTokenCount":18}});
    let v = json_of(&convert(&body).unwrap());
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], json!("tool_calls"));
    assert_eq!(choice["message"]["content"], Value::Null);
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["type"], json!("function"));
    assert_eq!(calls[0]["function"]["name"], json!("get_weather"));
    assert_eq!(
        calls[0]["function"]["arguments"],
        json!(r#"{"location":"Paris"}"#)
    );
    assert_eq!(calls[1]["function"]["arguments"], json!("{}"));
    let id0 = calls[0]["id"].as_str().unwrap();
    let id1 = calls[1]["id"].as_str().unwrap();
    assert!(id0.starts_with("call_") && id1.starts_with("call_"));
    assert_ne!(id0, id1);
    assert_eq!(super::ids::signature_from_id(id0).as_deref(), Some("QUJD"));
    assert_eq!(super::ids::signature_from_id(id1), None);
}

#[test]
fn candidates_become_choices_and_thoughts_are_kept_apart() {
    let body = json!({"candidates":[
        {"content":{"parts":[{"text":"Thinking…","thought":true},{"text":"A"}]},"finishReason":"STOP","index":0},
        {"content":{"parts":[{"text":"B"}]},"finishReason":"MAX_TOKENS","index":1}]});
    let v = json_of(&convert(&body).unwrap());
    assert_eq!(v["choices"][0]["message"]["content"], json!("A"));
    assert_eq!(
        v["choices"][0]["message"]["reasoning_content"],
        json!("Thinking…")
    );
    assert_eq!(v["choices"][1]["index"], json!(1));
    assert_eq!(v["choices"][1]["message"]["content"], json!("B"));
    assert_eq!(v["choices"][1]["finish_reason"], json!("length"));
}

#[test]
fn finish_reasons_are_mapped() {
    for (reason, want) in [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("FINISH_REASON_UNSPECIFIED", "stop"),
        ("SOMETHING_NEW", "stop"),
    ] {
        let body =
            json!({"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":reason}]});
        let v = json_of(&convert(&body).unwrap());
        assert_eq!(v["choices"][0]["finish_reason"], json!(want), "{reason}");
    }
    // A candidate stopped by the filter has no content at all.
    let v =
        json_of(&convert(&json!({"candidates":[{"finishReason":"SAFETY","index":0}]})).unwrap());
    assert_eq!(v["choices"][0]["message"]["content"], json!(""));
    assert_eq!(v["choices"][0]["finish_reason"], json!("content_filter"));
}

#[test]
fn blocked_prompt_is_a_400_content_filter() {
    let body = json!({"promptFeedback":{"blockReason":"PROHIBITED_CONTENT","safetyRatings":[]},
        "usageMetadata":{"promptTokenCount":9,"totalTokenCount":9}});
    let e = upstream(convert(&body).unwrap_err());
    assert_eq!(e.status, 400);
    assert_eq!(e.code.as_deref(), Some("content_filter"));
    assert!(e.message.contains("PROHIBITED_CONTENT"));
    let err = convert(&json!({"candidates":[]})).unwrap_err();
    assert!(matches!(err, ConvertError::Protocol(_)));
    let err = adapter(Provider::Gemini)
        .chat_response(Bytes::from_static(b"<html>"), &CTX)
        .unwrap_err();
    assert!(matches!(err, ConvertError::Protocol(_)));
}

#[test]
fn error_inside_a_200_is_detected() {
    let body = json!({"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}});
    let e = upstream(convert(&body).unwrap_err());
    assert_eq!(e.status, 429);
    assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));
    assert_eq!(e.kind.as_deref(), Some("RESOURCE_EXHAUSTED"));
}

fn map(status: u16, body: &str) -> UpstreamError {
    adapter(Provider::Gemini).error(status, body.as_bytes())
}

fn g_err(code: u16, status: &str, message: &str) -> String {
    json!({"error":{"code":code,"message":message,"status":status}}).to_string()
}

/// The error body of the protocols file, §4.6 (with the ErrorInfo detail Google sends).
#[test]
fn known_answer_invalid_key_is_401() {
    let body = r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}]}}"#;
    let e = map(400, body);
    assert_eq!(e.status, 401);
    assert_eq!(e.code.as_deref(), Some("invalid_api_key"));
    assert_eq!(e.kind.as_deref(), Some("INVALID_ARGUMENT"));
    assert_eq!(e.message, "API key not valid. Please pass a valid API key.");
    // The reason alone is enough, and so is the newer "API Key not found" wording.
    let e = map(
        400,
        r#"{"error":{"code":400,"message":"x","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}"#,
    );
    assert_eq!(e.status, 401);
    let e = map(
        400,
        &g_err(
            400,
            "INVALID_ARGUMENT",
            "API Key not found. Please pass a valid API key.",
        ),
    );
    assert_eq!(e.status, 401);
}

#[test]
fn every_documented_status_is_mapped() {
    let cases = [
        (
            400,
            "INVALID_ARGUMENT",
            "Request contains an invalid argument.",
            400,
            "invalid_argument",
        ),
        (
            400,
            "INVALID_ARGUMENT",
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            400,
            "context_length_exceeded",
        ),
        (
            400,
            "FAILED_PRECONDITION",
            "User location is not supported for the API use.",
            403,
            "unsupported_country_region_territory",
        ),
        (
            400,
            "FAILED_PRECONDITION",
            "Gemini API free tier is not available in your country. Please enable billing on your project in Google AI Studio.",
            403,
            "unsupported_country_region_territory",
        ),
        (
            400,
            "FAILED_PRECONDITION",
            "Precondition check failed.",
            403,
            "billing_required",
        ),
        (
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
            401,
            "invalid_api_key",
        ),
        (
            403,
            "PERMISSION_DENIED",
            "Permission denied: Consumer has been suspended.",
            403,
            "permission_denied",
        ),
        (
            404,
            "NOT_FOUND",
            "models/gemini-9 is not found for API version v1beta, or is not supported for generateContent.",
            404,
            "model_not_found",
        ),
        (409, "ABORTED", "aborted", 409, "conflict"),
        (
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details.",
            429,
            "rate_limit_exceeded",
        ),
        (
            500,
            "INTERNAL",
            "An internal error has occurred.",
            502,
            "upstream_error",
        ),
        (501, "UNIMPLEMENTED", "not implemented", 400, "unsupported"),
        (
            503,
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
            503,
            "upstream_unavailable",
        ),
        (
            504,
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
            504,
            "upstream_timeout",
        ),
    ];
    for (http, status, message, want, code) in cases {
        let e = map(http, &g_err(http, status, message));
        assert_eq!(e.status, want, "{status}: {message}");
        assert_eq!(e.code.as_deref(), Some(code), "{status}: {message}");
        assert_eq!(e.kind.as_deref(), Some(status));
        assert_eq!(e.message, message);
    }
}

#[test]
fn odd_error_bodies_still_map() {
    // Wrapped in an array (as `:streamGenerateContent` without alt=sse answers).
    let e = map(
        429,
        r#"[{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}]"#,
    );
    assert_eq!(
        (e.status, e.code.as_deref()),
        (429, Some("rate_limit_exceeded"))
    );
    // No status string: the HTTP status decides.
    let e = map(503, r#"{"error":{"code":503,"message":"busy"}}"#);
    assert_eq!((e.status, e.kind.as_deref()), (503, Some("UNAVAILABLE")));
    // Not JSON at all.
    let e = map(502, "<html>Bad Gateway</html>");
    assert_eq!(e.status, 502);
    assert!(e.message.contains("Bad Gateway"));
    let e = map(500, "");
    assert_eq!(e.status, 502);
    assert!(e.message.contains("500"));
    let e = map(404, "");
    assert_eq!(
        (e.status, e.code.as_deref()),
        (404, Some("model_not_found"))
    );
}

#[test]
fn response_snapshot() {
    let body = json!({"candidates":[{"content":{"role":"model","parts":[
            {"text":"Sunny, "},{"text":"18C."},
            {"functionCall":{"name":"get_weather","args":{"location":"Rome","unit":"celsius"}}}]},
        "finishReason":"STOP","index":0,
        "safetyRatings":[{"category":"HARM_CATEGORY_HARASSMENT","probability":"NEGLIGIBLE"}]}],
        "usageMetadata":{"promptTokenCount":42,"candidatesTokenCount":12,"thoughtsTokenCount":7,
            "cachedContentTokenCount":32,"totalTokenCount":61,
            "promptTokensDetails":[{"modality":"TEXT","tokenCount":42}]},
        "modelVersion":"gemini-2.5-flash","responseId":"abc123"});
    let mut v = json_of(&convert(&body).unwrap());
    // Generated call ids are random; pin them for the snapshot.
    let id = v["choices"][0]["message"]["tool_calls"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("call_") && id.len() == 29, "{id}");
    v["choices"][0]["message"]["tool_calls"][0]["id"] = json!("call_<random>");
    insta::assert_json_snapshot!(v);
}
