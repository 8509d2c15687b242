//! Unit tests of the Hunyuan request, signature, answer, error and embeddings conversions.

use bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use switchyard_types::ChatRequest;

use super::{auth, errors, request};
use crate::adapter::{ConvertError, EmbeddingsInput, ResponseCtx, Target};
use crate::{Provider, adapter};

const KAT_ID: &str = "AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1234";
const KAT_KEY: &str = "SECRETKEYEXAMPLEEXAMPLEEXAMPLE12";
const KAT_TS: u64 = 1_705_634_813;
const KAT_BODY: &str =
    r#"{"Model":"hunyuan-lite","Messages":[{"Role":"user","Content":"hi"}],"Stream":false}"#;
const KAT_PAYLOAD_HASH: &str = "c371332eb9f59f25b54b547b7e22c0729884f1924477e3ab60706930918936c5";
const KAT_CANONICAL_HASH: &str = "ac399ae4c55ba2092befd98a9fc3be6d17ab30fff47d00958057939ac6d0f598";
const KAT_SIGNATURE: &str = "ca372abd86e6b43de505b01b97b13fe6cc68ca3150ffcfcc70f3ddb307f3aee1";

pub(super) const CTX: ResponseCtx<'static> = ResponseCtx {
    requested_model: "hunyuan",
    upstream_model: "hunyuan-standard",
    now_unix: 1_700_000_000,
};

fn key() -> String {
    format!("{KAT_ID}|{KAT_KEY}")
}

fn target<'a>(key: &'a str, model: &'a str) -> Target<'a> {
    Target {
        base_url: "https://hunyuan.tencentcloudapi.com",
        key,
        upstream_model: model,
        now_unix: KAT_TS,
        token: None,
    }
}

fn req(v: Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

fn body_of(r: &ChatRequest, model: &str) -> Value {
    serde_json::from_slice(&request::chat_body(r, model).unwrap()).unwrap()
}

fn header<'a>(h: &'a [crate::adapter::Header], name: &str) -> &'a str {
    h.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| &**v)
        .unwrap_or_else(|| panic!("no header {name}"))
}

#[test]
fn tc3_known_answer_vector_every_intermediate() {
    let k = key();
    let creds = auth::credentials(&k).unwrap();
    let sig = auth::sign(
        creds,
        "hunyuan.tencentcloudapi.com",
        KAT_TS,
        KAT_BODY.as_bytes(),
    );
    assert_eq!(sig.payload_hash, KAT_PAYLOAD_HASH);
    let canonical = format!(
        "POST\n/\n\ncontent-type:application/json\nhost:hunyuan.tencentcloudapi.com\n\ncontent-type;host\n{KAT_PAYLOAD_HASH}"
    );
    assert_eq!(sig.canonical_request, canonical);
    assert_eq!(
        hex::encode(Sha256::digest(canonical.as_bytes())),
        KAT_CANONICAL_HASH
    );
    assert_eq!(sig.date, "2024-01-19");
    assert_eq!(
        sig.string_to_sign,
        format!("TC3-HMAC-SHA256\n{KAT_TS}\n2024-01-19/hunyuan/tc3_request\n{KAT_CANONICAL_HASH}")
    );
    assert_eq!(sig.signature, KAT_SIGNATURE);
    assert_eq!(
        sig.authorization,
        format!(
            "TC3-HMAC-SHA256 Credential={KAT_ID}/2024-01-19/hunyuan/tc3_request, SignedHeaders=content-type;host, Signature={KAT_SIGNATURE}"
        )
    );
}

#[test]
fn chat_request_reproduces_the_vector_end_to_end() {
    let k = key();
    let r = req(json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}));
    let out = adapter(Provider::Hunyuan)
        .chat_request(&r, &target(&k, "hunyuan-lite"))
        .unwrap();
    assert_eq!(out.url, "https://hunyuan.tencentcloudapi.com/");
    assert_eq!(
        &out.body[..],
        KAT_BODY.as_bytes(),
        "exact bytes that were signed"
    );
    let h = &out.headers;
    assert_eq!(header(h, "x-tc-action"), "ChatCompletions");
    assert_eq!(header(h, "x-tc-version"), "2023-09-01");
    assert_eq!(header(h, "x-tc-timestamp"), "1705634813");
    assert_eq!(header(h, "content-type"), "application/json");
    assert!(header(h, "authorization").ends_with(&format!("Signature={KAT_SIGNATURE}")));
}

#[test]
fn signed_host_is_the_connected_authority() {
    assert_eq!(
        auth::endpoint("http://127.0.0.1:38123").unwrap(),
        (
            "http://127.0.0.1:38123/".to_owned(),
            "127.0.0.1:38123".to_owned()
        )
    );
    assert_eq!(
        auth::endpoint("https://Hunyuan.TencentCloudAPI.com:443/")
            .unwrap()
            .1,
        "hunyuan.tencentcloudapi.com",
        "default port dropped, host lower-cased, like the Host header"
    );
    assert_eq!(auth::endpoint("http://h:80").unwrap().1, "h");
    assert_eq!(auth::endpoint("https://h:8443").unwrap().1, "h:8443");
    for bad in ["", "hunyuan.tencentcloudapi.com", "ftp://h", "not a url"] {
        assert!(auth::endpoint(bad).is_err(), "{bad}");
    }
    let k = key();
    let mut t = target(&k, "hunyuan-lite");
    t.base_url = "http://127.0.0.1:9";
    let r = req(json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}));
    let out = adapter(Provider::Hunyuan).chat_request(&r, &t).unwrap();
    let creds = auth::credentials(&k).unwrap();
    let want = auth::sign(creds, "127.0.0.1:9", KAT_TS, &out.body);
    assert_eq!(header(&out.headers, "authorization"), want.authorization);
}

#[test]
fn malformed_keys_are_refused_without_echoing_the_secret() {
    let r = req(json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}));
    for bad in [
        "onlyonepart",
        "id|",
        "|secret",
        "a|b|c|d",
        "x|id|secret",
        "id|sec ret",
    ] {
        let err = adapter(Provider::Hunyuan)
            .chat_request(&r, &target(bad, "hunyuan-lite"))
            .unwrap_err();
        let ConvertError::BadRequest { message, .. } = err else {
            panic!("{bad}: {err:?}")
        };
        assert!(message.contains("SECRET_ID|SECRET_KEY"), "{message}");
        for part in bad.split('|').filter(|p| p.len() >= 5) {
            assert!(
                !message.contains(part),
                "the key is never echoed: {message}"
            );
        }
    }
    // one-api's APP_ID|SECRET_ID|SECRET_KEY is accepted.
    let three = format!("1250000000|{KAT_ID}|{KAT_KEY}");
    let c = auth::credentials(&three).unwrap();
    assert_eq!((c.secret_id, c.secret_key), (KAT_ID, KAT_KEY));
    assert!(!format!("{c:?}").contains(KAT_KEY));
}

#[test]
fn every_system_message_is_kept_first_and_turns_alternate() {
    let r = req(json!({
        "model": "hunyuan", "stream": true,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "first"},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": "ok"},
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "third"}
        ]
    }));
    let b = body_of(&r, "hunyuan");
    assert_eq!(b["Model"], "hunyuan-standard", "generic name mapped");
    assert_eq!(b["Stream"], true);
    assert_eq!(
        b["Messages"],
        json!([
            {"Role": "system", "Content": "You are terse.\n\nAnswer in English.\n\nBe kind."},
            {"Role": "user", "Content": "first\n\nsecond"},
            {"Role": "assistant", "Content": "ok"},
            {"Role": "user", "Content": "third"}
        ])
    );
}

#[test]
fn parameters_are_clamped_and_mapped() {
    let r = req(json!({
        "model": "m", "messages": [{"role": "user", "content": "x"}],
        "temperature": 3.5, "top_p": 1.7, "seed": 123456, "stop": "END",
        "max_tokens": 100, "presence_penalty": 1, "enable_enhancement": true,
        "Citation": true, "user": "u-1"
    }));
    let b = body_of(&r, "hunyuan-pro");
    assert_eq!(b["Temperature"], 2.0);
    assert_eq!(b["TopP"], 1.0);
    assert_eq!(b["Seed"], 10000);
    assert_eq!(b["Stop"], json!(["END"]));
    assert_eq!(b["EnableEnhancement"], true);
    assert_eq!(b["Citation"], true, "PascalCase extras pass through");
    for absent in [
        "max_tokens",
        "MaxTokens",
        "presence_penalty",
        "user",
        "temperature",
    ] {
        assert!(b.get(absent).is_none(), "{absent} has no Hunyuan field");
    }
    let low = req(
        json!({"model": "m", "messages": [], "temperature": -1, "top_p": -0.5, "seed": 0,
                         "stop": ["a", "b"]}),
    );
    let b = body_of(&low, "hunyuan-lite");
    assert_eq!(
        (
            b["Temperature"].clone(),
            b["TopP"].clone(),
            b["Seed"].clone()
        ),
        (json!(0.0), json!(0.0), json!(1))
    );
    assert_eq!(b["Stop"], json!(["a", "b"]));
    let n2 = req(json!({"model": "m", "messages": [], "n": 2}));
    assert!(
        matches!(request::chat_body(&n2, "m"), Err(ConvertError::BadRequest { param: Some(p), .. }) if p == "n")
    );
}

#[test]
fn tools_tool_calls_and_images_are_converted() {
    let r = req(json!({
        "model": "hunyuan-pro",
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What is here?"},
                {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "user", "content": "thanks"}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}
    }));
    let b = body_of(&r, "hunyuan-pro");
    insta::assert_json_snapshot!("request_tools_images", b);
    assert_eq!(
        b["Tools"][0]["Function"]["Parameters"],
        json!(r#"{"properties":{"city":{"type":"string"}},"type":"object"}"#)
    );
    assert_eq!(b["ToolChoice"], "custom");
    assert_eq!(b["CustomTool"], b["Tools"][0]);
    assert_eq!(
        b["Messages"][1]["ToolCalls"][0]["Function"]["Name"],
        "get_weather"
    );
    assert!(b["Messages"][1].get("Content").is_none());
    assert_eq!(
        b["Messages"][2],
        json!({"Role": "tool", "Content": "18C", "ToolCallId": "call_1"})
    );

    for (choice, want) in [("none", "none"), ("auto", "auto"), ("required", "auto")] {
        let mut r2 = r.clone();
        r2.extra.insert("tool_choice".into(), json!(choice));
        assert_eq!(body_of(&r2, "m")["ToolChoice"], want);
    }
    let mut r3 = r.clone();
    r3.extra.insert(
        "tool_choice".into(),
        json!({"type": "function", "function": {"name": "nope"}}),
    );
    assert!(request::chat_body(&r3, "m").is_err());
    let audio = req(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}]}),
    );
    assert!(matches!(request::chat_body(&audio, "m"),
        Err(ConvertError::BadRequest { param: Some(p), .. }) if p == "messages[0].content"));
}

#[test]
fn non_stream_answer_is_openai_shaped() {
    let body = r#"{"Response":{"RequestId":"e7f5ce41-87fd-4977-803c-54cded687cd9","Note":"以上内容为AI生成，不代表开发者立场，请勿删除或修改本标记","Choices":[{"Message":{"Role":"assistant","Content":"你好！很高兴为您提供帮助。"},"FinishReason":"stop"}],"Created":1710902312,"Id":"e4657570-94a5-45f1-896c-a00ac3471d51","Usage":{"PromptTokens":3,"CompletionTokens":14,"TotalTokens":17}}}"#;
    let out = adapter(Provider::Hunyuan)
        .chat_response(Bytes::from_static(body.as_bytes()), &CTX)
        .unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    insta::assert_json_snapshot!("response_text", v);
    assert_eq!(v["model"], "hunyuan", "the requested name");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "你好！很高兴为您提供帮助。"
    );
    let u = out.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (3, 14, 17)
    );
    assert!(out.text_for_count.is_none());
}

#[test]
fn non_stream_tool_calls_and_sensitive_finish() {
    let body = json!({"Response": {"RequestId": "r", "Id": "i", "Created": 5, "Choices": [{
        "Index": 0, "FinishReason": "tool_calls",
        "Message": {"Role": "assistant", "Content": "", "ToolCalls": [
            {"Id": "call_x", "Type": "function", "Index": 0,
             "Function": {"Name": "get_weather", "Arguments": "{\"city\":\"Paris\"}"}}]}}],
        "Usage": {"PromptTokens": 9, "CompletionTokens": 4, "TotalTokens": 13}}});
    let out = adapter(Provider::Hunyuan)
        .chat_response(Bytes::from(body.to_string()), &CTX)
        .unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    let c = &v["choices"][0];
    assert_eq!(c["finish_reason"], "tool_calls");
    assert_eq!(c["message"]["content"], Value::Null);
    assert_eq!(
        c["message"]["tool_calls"],
        json!([{"id": "call_x", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])
    );
    let sensitive = json!({"Response": {"Id": "i", "Choices": [{"Message": {"Content": "par"}, "FinishReason": "sensitive"}]}});
    let out = adapter(Provider::Hunyuan)
        .chat_response(Bytes::from(sensitive.to_string()), &CTX)
        .unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(
        v["created"], CTX.now_unix,
        "created falls back to the gateway clock"
    );
    assert_eq!(
        out.text_for_count.as_deref(),
        Some("par"),
        "no usage: text kept for counting"
    );
}

fn error_body(code: &str) -> Bytes {
    Bytes::from(
        json!({"Response": {"RequestId": "188cc996", "Error": {"Code": code, "Message": "msg"}}})
            .to_string(),
    )
}

fn upstream(code: &str) -> crate::adapter::UpstreamError {
    match adapter(Provider::Hunyuan).chat_response(error_body(code), &CTX) {
        Err(ConvertError::Upstream(e)) => e,
        other => panic!("{code}: {other:?}"),
    }
}

#[test]
fn http_200_errors_map_every_documented_code() {
    let expect = |code: &str| -> (u16, Option<&'static str>) {
        match code {
            c if c.starts_with("AuthFailure.") => (401, Some("invalid_api_key")),
            "RequestLimitExceeded"
            | "LimitExceeded"
            | "FailedOperation.EngineServerLimitExceeded" => (429, Some("rate_limit_exceeded")),
            c if c.starts_with("RequestLimitExceeded.") => (429, Some("rate_limit_exceeded")),
            "OperationDenied.TextIllegalDetected"
            | "OperationDenied.ImageIllegalDetected"
            | "FailedOperation.GenerateImageFailed" => (400, Some("content_filter")),
            "ResourceInsufficient"
            | "ResourceInsufficient.ChargeResourceExhaust"
            | "ResourceUnavailable.InArrears"
            | "ResourceUnavailable.LowBalance"
            | "FailedOperation.FreeResourcePackExhausted"
            | "FailedOperation.ResourcePackExhausted"
            | "FailedOperation.ServiceStopArrears" => (403, Some("insufficient_quota")),
            "IpInBlacklist"
            | "IpNotInWhitelist"
            | "UnauthorizedOperation"
            | "FailedOperation.PartnerAccountUnSupport"
            | "FailedOperation.ServiceNotActivated"
            | "FailedOperation.ServiceStop"
            | "FailedOperation.SetPayModeExceed"
            | "FailedOperation.UserUnAuthError"
            | "ResourceUnavailable.NotExist"
            | "ResourceUnavailable.StopUsing" => (403, None),
            "InvalidParameterValue.Model" => (404, Some("model_not_found")),
            "ResourceNotFound" => (404, None),
            "InternalError"
            | "FailedOperation"
            | "FailedOperation.EngineServerError"
            | "FailedOperation.ConsoleServerError" => (500, None),
            "FailedOperation.EngineRequestTimeout" => (504, Some("upstream_timeout")),
            "ServiceUnavailable" | "ResourceUnavailable" => (503, Some("upstream_unavailable")),
            "RequestSizeLimitExceeded" => (413, None),
            "ResourceInUse" => (409, None),
            "ResponseSizeLimitExceeded" => (502, None),
            _ => (400, None),
        }
    };
    let mut n = 0;
    for code in errors::documented_codes() {
        let e = upstream(code);
        let (status, openai) = expect(code);
        assert_eq!(e.status, status, "{code}");
        assert_eq!(e.code.as_deref(), Some(openai.unwrap_or(code)), "{code}");
        assert_eq!(e.message, format!("{code}: msg"));
        n += 1;
    }
    assert!(n >= 60, "the whole table is exercised ({n})");
    // Undocumented sub-codes fall into their family.
    assert_eq!(upstream("AuthFailure.Whatever").status, 401);
    assert_eq!(upstream("RequestLimitExceeded.Brand-New").status, 429);
    assert_eq!(
        upstream("OperationDenied.Other").code.as_deref(),
        Some("content_filter")
    );
    assert_eq!(upstream("InternalError.DbError").status, 500);
    assert_eq!(upstream("Totally.Unknown").status, 502);
}

#[test]
fn non_2xx_bodies() {
    let a = adapter(Provider::Hunyuan);
    let e = a.error(502, &error_body("RequestLimitExceeded"));
    assert_eq!(
        e.status, 429,
        "a Tencent error body wins over the HTTP status"
    );
    let e = a.error(502, b"<html>Bad Gateway</html>");
    assert_eq!(
        (e.status, e.message.as_str()),
        (502, "<html>Bad Gateway</html>")
    );
    assert_eq!(
        a.error(503, b"").message,
        "Tencent Hunyuan answered HTTP 503"
    );
    assert!(matches!(
        a.chat_response(Bytes::from_static(b"{\"Choices\":[]}"), &CTX),
        Err(ConvertError::Protocol(_))
    ));
}

#[test]
fn embeddings_request_and_answer() {
    let k = key();
    let t = target(&k, "hunyuan-embedding");
    let one = vec!["hello".to_owned()];
    let a = adapter(Provider::Hunyuan);
    let out = a
        .embeddings_request(
            &EmbeddingsInput {
                texts: &one,
                dimensions: None,
            },
            &t,
        )
        .unwrap();
    assert_eq!(header(&out.headers, "x-tc-action"), "GetEmbedding");
    assert_eq!(
        serde_json::from_slice::<Value>(&out.body).unwrap(),
        json!({"Input": "hello"})
    );
    let creds = auth::credentials(&k).unwrap();
    let want = auth::sign(creds, "hunyuan.tencentcloudapi.com", KAT_TS, &out.body);
    assert_eq!(header(&out.headers, "authorization"), want.authorization);
    let two = vec!["a".to_owned(), "b".to_owned()];
    let out = a
        .embeddings_request(
            &EmbeddingsInput {
                texts: &two,
                dimensions: Some(1024),
            },
            &t,
        )
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&out.body).unwrap(),
        json!({"InputList": ["a", "b"]})
    );
    assert!(
        a.embeddings_request(
            &EmbeddingsInput {
                texts: &two,
                dimensions: Some(256)
            },
            &t
        )
        .is_err()
    );
    let many = vec!["x".to_owned(); 51];
    assert!(
        a.embeddings_request(
            &EmbeddingsInput {
                texts: &many,
                dimensions: None
            },
            &t
        )
        .is_err()
    );
    assert!(
        a.embeddings_request(
            &EmbeddingsInput {
                texts: &[],
                dimensions: None
            },
            &t
        )
        .is_err()
    );

    let body = json!({"Response": {"RequestId": "r", "Data": [
        {"Embedding": [0.5, 0.25], "Index": 1, "Object": "embedding"},
        {"Embedding": [1.0, 0.0], "Index": 0, "Object": "embedding"}],
        "Usage": {"PromptTokens": 3, "TotalTokens": 3}}});
    let got = a
        .embeddings_response(Bytes::from(body.to_string()))
        .unwrap();
    assert_eq!(
        got.vectors,
        vec![vec![1.0, 0.0], vec![0.5, 0.25]],
        "input order"
    );
    let u = got.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (3, 0, 3)
    );
    match a.embeddings_response(error_body("AuthFailure.SignatureFailure")) {
        Err(ConvertError::Upstream(e)) => assert_eq!(e.status, 401),
        other => panic!("{other:?}"),
    }
}
