//! Unit tests of the Zhipu request and response conversions, the JWT and the error table.

use bytes::Bytes;
use serde_json::{Value, json};
use switchyard_types::ChatRequest;

use super::auth::{self, ApiKey};
use super::{DEFAULT_MODELS, ModelKind};
use crate::adapter::{ConvertError, ResponseCtx, Target};
use crate::{Provider, adapter};

/// The key of the protocol notes' known-answer vector.
pub(super) const KEY: &str = "0123456789abcdef0123456789abcdef.SecretSecretSecr";
/// The token the official SDK (PyJWT) produces for [`KEY`] at 1700000000000 ms, ttl 210 s.
pub(super) const KNOWN_JWT: &str = "eyJhbGciOiJIUzI1NiIsInNpZ25fdHlwZSI6IlNJR04iLCJ0eXAiOiJKV1QifQ.eyJhcGlfa2V5IjoiMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYiLCJleHAiOjE3MDAwMDAyMTAwMDAsInRpbWVzdGFtcCI6MTcwMDAwMDAwMDAwMH0.bTTGeoDtOi7PUaVGpuRQlYddGdctEMFp3E2xC3f5cfM";
const NOW: u64 = 1_700_000_000;

pub(super) fn target(model: &'static str) -> Target<'static> {
    Target {
        base_url: "https://open.bigmodel.cn/",
        key: KEY,
        upstream_model: model,
        now_unix: NOW,
        token: None,
    }
}

pub(super) fn ctx(model: &'static str) -> ResponseCtx<'static> {
    ResponseCtx {
        requested_model: "my-glm",
        upstream_model: model,
        now_unix: 42,
    }
}

fn req(v: Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

fn build(model: &'static str, v: Value) -> (String, Vec<crate::adapter::Header>, Value) {
    let out = adapter(Provider::Zhipu)
        .chat_request(&req(v), &target(model))
        .unwrap();
    let body = serde_json::from_slice(&out.body).unwrap();
    (out.url, out.headers, body)
}

pub(super) fn header<'a>(headers: &'a [crate::adapter::Header], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| &**v)
        .unwrap_or_else(|| panic!("no {name} header"))
}

fn bad_request(model: &'static str, v: Value) -> (String, Option<String>) {
    match adapter(Provider::Zhipu).chat_request(&req(v), &target(model)) {
        Err(ConvertError::BadRequest { message, param }) => (message, param),
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[test]
fn jwt_known_answer_vector_is_reproduced_byte_for_byte() {
    let key = auth::parse_key(KEY).unwrap();
    assert_eq!(auth::sign_token(key, 1_700_000_000_000, 210_000), KNOWN_JWT);
    assert_eq!(auth::token_for(KEY, NOW).unwrap(), KNOWN_JWT);
}

#[test]
fn every_request_carries_a_fresh_token_in_milliseconds() {
    let (_, headers, _) = build(
        "glm-4",
        json!({"model":"m","messages":[{"role":"user","content":"hi"}]}),
    );
    assert_eq!(
        header(&headers, "authorization"),
        format!("Bearer {KNOWN_JWT}")
    );
    let later = Target {
        now_unix: NOW + 3600,
        ..target("glm-4")
    };
    let out = adapter(Provider::Zhipu)
        .chat_request(&req(json!({"model":"m","messages":[]})), &later)
        .unwrap();
    let auth = header(&out.headers, "authorization");
    let payload = auth.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["timestamp"], json!((NOW + 3600) * 1000));
    assert_eq!(payload["exp"], json!((NOW + 3600) * 1000 + 210_000));
}

#[test]
fn malformed_keys_are_refused_without_echoing_the_secret() {
    for key in [
        "nodotS3CR3T",
        ".S3CR3T",
        "id.",
        "id.S3CR3T.more",
        "id.S3C R3T",
        "id.S3CR3T|other",
        "i\"d.S3CR3T",
    ] {
        let t = Target {
            key,
            ..target("glm-4")
        };
        let err = adapter(Provider::Zhipu)
            .chat_request(&req(json!({"model":"m","messages":[]})), &t)
            .unwrap_err();
        let ConvertError::BadRequest { message, .. } = err else {
            panic!("{key}: {err:?}");
        };
        assert!(
            message.contains("Zhipu channel key is malformed"),
            "{message}"
        );
        assert!(!message.contains("S3C"), "{key}: leaked in {message}");
    }
    assert!(
        format!(
            "{:?}",
            ApiKey {
                id: "i",
                secret: "hidden"
            }
        )
        .contains("***")
    );
}

#[test]
fn v4_request_keeps_every_system_message_in_place_and_maps_parameters() {
    let (url, headers, body) = build(
        "glm-4",
        json!({
            "model": "my-glm", "stream": true,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type":"text","text":"part one"},{"type":"text","text":"part two"}], "name": "bob"},
                {"role": "developer", "content": "and kind"},
                {"role": "assistant", "content": null, "tool_calls": [{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "42"}
            ],
            "temperature": 1.7, "top_p": 1.0, "max_completion_tokens": 77, "max_tokens": 5,
            "stop": ["END", "ignored"], "presence_penalty": 1, "logit_bias": {"1": 2},
            "tools": [{"type":"function","function":{"name":"f","parameters":{}}}], "tool_choice": "required"
        }),
    );
    assert_eq!(url, "https://open.bigmodel.cn/api/paas/v4/chat/completions");
    assert_eq!(header(&headers, "accept"), "text/event-stream");
    assert_eq!(body["model"], "glm-4");
    assert_eq!(body["stream"], true);
    assert_eq!(body["temperature"], json!(0.99));
    assert_eq!(body["top_p"], json!(0.99));
    assert!(
        body.get("do_sample").is_none(),
        "only temperature <= 0 disables sampling"
    );
    assert_eq!(body["max_tokens"], 77);
    assert_eq!(body["stop"], json!(["END"]));
    assert_eq!(body["tool_choice"], "auto");
    assert!(body.get("presence_penalty").is_none() && body.get("logit_bias").is_none());
    let roles: Vec<&str> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "system", "assistant", "tool"]);
    assert_eq!(
        body["messages"][1],
        json!({"role":"user","content":"part one\npart two"})
    );
    assert_eq!(body["messages"][2]["content"], "and kind");
    assert!(body["messages"][3].get("content").is_none());
    assert_eq!(
        body["messages"][3]["tool_calls"][0]["function"]["name"],
        "f"
    );
    assert_eq!(body["messages"][4]["tool_call_id"], "call_1");
}

#[test]
fn sampling_is_clamped_into_the_open_interval() {
    let sampled = |t: Value, p: Value| {
        let (_, _, b) = build(
            "glm-3-turbo",
            json!({"model":"m","messages":[],"temperature":t,"top_p":p}),
        );
        (
            b["temperature"].clone(),
            b["top_p"].clone(),
            b.get("do_sample").cloned(),
        )
    };
    assert_eq!(
        sampled(json!(0), json!(0)),
        (json!(0.01), json!(0.01), Some(json!(false)))
    );
    assert_eq!(
        sampled(json!(-1), json!(-3)),
        (json!(0.01), json!(0.01), Some(json!(false)))
    );
    assert_eq!(
        sampled(json!(0.5), json!(0.7)),
        (json!(0.5), json!(0.7), None)
    );
    assert_eq!(
        sampled(json!(2), json!(1)),
        (json!(0.99), json!(0.99), None)
    );
    // An explicit do_sample from the client wins.
    let (_, _, b) = build(
        "glm-4",
        json!({"model":"m","messages":[],"temperature":0,"do_sample":true}),
    );
    assert_eq!(b["do_sample"], true);
    let (_, _, b) = build(
        "glm-4",
        json!({"model":"m","messages":[],"stop":"x","tool_choice":"none",
        "tools":[{"type":"function","function":{"name":"f"}}]}),
    );
    assert_eq!(b["stop"], json!(["x"]));
    assert!(
        b.get("tools").is_none() && b.get("tool_choice").is_none(),
        "tool_choice none drops tools"
    );
}

#[test]
fn glm_4v_gets_images_without_data_prefix_and_system_text_in_the_user_turn() {
    let (_, _, body) = build(
        "glm-4v",
        json!({"model":"m","messages":[
            {"role":"system","content":"describe carefully"},
            {"role":"user","content":[
                {"type":"text","text":"what is this?"},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
                {"type":"image_url","image_url":{"url":"https://x/y.jpg"}}
            ]}
        ]}),
    );
    assert_eq!(
        body["messages"],
        json!([{"role":"user","content":[
            {"type":"text","text":"describe carefully"},
            {"type":"text","text":"what is this?"},
            {"type":"image_url","image_url":{"url":"iVBORw0KGgo="}},
            {"type":"image_url","image_url":{"url":"https://x/y.jpg"}}
        ]}])
    );
    let (msg, param) = bad_request(
        "glm-4v",
        json!({"model":"m","messages":[{"role":"user","content":"x"}],
        "tools":[{"type":"function","function":{"name":"f"}}]}),
    );
    assert!(msg.contains("does not support tools"), "{msg}");
    assert_eq!(param.as_deref(), Some("tools"));
}

#[test]
fn text_models_refuse_images_and_n_above_one() {
    let (msg, _) = bad_request(
        "glm-4",
        json!({"model":"m","messages":[{"role":"user","content":[
        {"type":"image_url","image_url":{"url":"https://x"}}]}]}),
    );
    assert!(msg.contains("text only"), "{msg}");
    let (_, param) = bad_request("glm-4", json!({"model":"m","messages":[],"n":2}));
    assert_eq!(param.as_deref(), Some("n"));
    let (msg, _) = bad_request("embedding-2", json!({"model":"m","messages":[]}));
    assert!(msg.contains("embeddings model"), "{msg}");
}

#[test]
fn v3_request_folds_system_messages_and_uses_the_bare_token() {
    let v = json!({"model":"my-glm","stream":true,"temperature":1,"top_p":0,"max_tokens":9,"request_id":"r-1",
    "messages":[
        {"role":"system","content":"rule one"},
        {"role":"system","content":"rule two"},
        {"role":"user","content":"hi"},
        {"role":"assistant","content":"hello"},
        {"role":"user","content":"more"}
    ]});
    let (url, headers, body) = build("chatglm_turbo", v.clone());
    assert_eq!(
        url,
        "https://open.bigmodel.cn/api/paas/v3/model-api/chatglm_turbo/sse-invoke"
    );
    assert_eq!(
        header(&headers, "authorization"),
        KNOWN_JWT,
        "v3 sends no `Bearer `"
    );
    assert_eq!(
        body,
        json!({"prompt":[
            {"role":"user","content":"rule one\n\nrule two\n\nhi"},
            {"role":"assistant","content":"hello"},
            {"role":"user","content":"more"}
        ],"temperature":0.99,"top_p":0.01,"request_id":"r-1","incremental":true})
    );
    let mut v = v;
    v["stream"] = json!(false);
    let (url, _, body) = build("chatglm_std", v);
    assert!(
        url.ends_with("/api/paas/v3/model-api/chatglm_std/invoke"),
        "{url}"
    );
    assert!(body.get("incremental").is_none());
    let (_, param) = bad_request(
        "chatglm_pro",
        json!({"model":"m","messages":[{"role":"user","content":"x"}],
        "tools":[{"type":"function","function":{"name":"f"}}]}),
    );
    assert_eq!(param.as_deref(), Some("tools"));
    bad_request(
        "chatglm_lite",
        json!({"model":"m","messages":[{"role":"tool","tool_call_id":"a","content":"x"}]}),
    );
}

#[test]
fn base_urls_copied_from_the_docs_still_work() {
    for base in [
        "https://open.bigmodel.cn/api/paas/v4/",
        "https://open.bigmodel.cn",
        "https://open.bigmodel.cn/api/paas/v3/model-api",
    ] {
        let t = Target {
            base_url: base,
            ..target("glm-4")
        };
        let out = adapter(Provider::Zhipu)
            .chat_request(&req(json!({"model":"m","messages":[]})), &t)
            .unwrap();
        assert_eq!(
            out.url, "https://open.bigmodel.cn/api/paas/v4/chat/completions",
            "{base}"
        );
    }
}

#[test]
fn model_kinds_and_defaults() {
    assert_eq!(DEFAULT_MODELS.len(), 8);
    for m in ["glm-3-turbo", "glm-4", "glm-4-plus"] {
        assert_eq!(ModelKind::of(m), ModelKind::Text, "{m}");
    }
    assert_eq!(ModelKind::of("glm-4v-plus"), ModelKind::Vision4v);
    assert_eq!(ModelKind::of("glm-4.5"), ModelKind::OtherV4);
    for m in [
        "chatglm_lite",
        "chatglm_std",
        "chatglm_pro",
        "chatglm_turbo",
    ] {
        assert_eq!(ModelKind::of(m), ModelKind::Legacy, "{m}");
        assert!(DEFAULT_MODELS.contains(&m));
    }
    assert_eq!(Provider::Zhipu.default_models(), DEFAULT_MODELS);
}

fn v4_answer(finish: &str) -> Bytes {
    Bytes::from(
        json!({"choices":[{"finish_reason":finish,"index":0,"message":{"content":"你好","role":"assistant"}}],
            "created":1711434535,"id":"8512982659489624459","model":"glm-4","request_id":"8512982659489624459",
            "usage":{"completion_tokens":445,"prompt_tokens":61,"total_tokens":506}})
        .to_string(),
    )
}

#[test]
fn v4_answer_becomes_a_chat_completion() {
    let out = adapter(Provider::Zhipu)
        .chat_response(v4_answer("stop"), &ctx("glm-4"))
        .unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    insta::assert_json_snapshot!("v4_response", v);
    assert_eq!(out.usage.unwrap().total_tokens, 506);
    assert!(out.text_for_count.is_none());
    let filtered = adapter(Provider::Zhipu)
        .chat_response(v4_answer("sensitive"), &ctx("glm-4"))
        .unwrap();
    let v: Value = serde_json::from_slice(&filtered.body).unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
    let err = adapter(Provider::Zhipu)
        .chat_response(v4_answer("network_error"), &ctx("glm-4"))
        .unwrap_err();
    assert!(matches!(err, ConvertError::Upstream(e) if e.status == 502));
}

#[test]
fn v4_tool_call_answer_and_missing_usage() {
    let body = json!({"choices":[{"finish_reason":"tool_calls","index":0,"message":{"role":"assistant","content":"",
        "tool_calls":[{"id":"call_9","index":0,"type":"function","function":{"name":"get_weather","arguments":{"city":"北京"}}}]}}],
        "created":1,"id":"x"});
    let out = adapter(Provider::Zhipu)
        .chat_response(Bytes::from(body.to_string()), &ctx("glm-4"))
        .unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    let msg = &v["choices"][0]["message"];
    assert_eq!(msg["content"], Value::Null);
    assert_eq!(
        msg["tool_calls"],
        json!([{"id":"call_9","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"北京\"}"}}])
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert!(v.get("usage").is_none() && out.usage.is_none());
    assert_eq!(
        out.text_for_count.as_deref(),
        Some("get_weather{\"city\":\"北京\"}")
    );
}

#[test]
fn v3_answer_is_unquoted_and_errors_in_a_200_are_detected() {
    let body = json!({"code":200,"msg":"操作成功","success":true,"data":{"request_id":"7865","task_id":"7865",
        "task_status":"SUCCESS","choices":[{"role":"assistant","content":"\"Kubernetes is\\n\\\"great\\\"\""}],
        "usage":{"prompt_tokens":3,"completion_tokens":200,"total_tokens":203}}});
    let out = adapter(Provider::Zhipu)
        .chat_response(Bytes::from(body.to_string()), &ctx("chatglm_turbo"))
        .unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    insta::assert_json_snapshot!("v3_response", v);
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Kubernetes is\n\"great\""
    );
    let u = out.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (3, 200, 203)
    );
    let total_only = json!({"code":200,"success":true,"data":{"task_status":"SUCCESS",
        "choices":[{"role":"assistant","content":"plain"}],"usage":{"total_tokens":12}}});
    let out = adapter(Provider::Zhipu)
        .chat_response(Bytes::from(total_only.to_string()), &ctx("chatglm_std"))
        .unwrap();
    assert_eq!(out.usage.unwrap().completion_tokens, 12);
    let err = adapter(Provider::Zhipu)
        .chat_response(
            Bytes::from_static(br#"{"code":1301,"msg":"sensitive","success":false}"#),
            &ctx("chatglm_pro"),
        )
        .unwrap_err();
    let ConvertError::Upstream(e) = err else {
        panic!("{err:?}")
    };
    assert_eq!((e.status, e.code.as_deref()), (400, Some("content_filter")));
}

#[test]
fn request_snapshot() {
    let (url, headers, body) = build(
        "glm-4",
        json!({"model":"my-glm","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}],
            "temperature":0,"top_p":0.5,"max_tokens":64,"stop":"\n\n","stream":false,
            "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}),
    );
    insta::assert_json_snapshot!(
        "v4_request",
        json!({"url": url, "authorization": header(&headers, "authorization"), "body": body})
    );
}
