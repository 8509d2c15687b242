//! Unit tests of the Qianfan v1 request conversion and the token exchange.

use serde_json::{Value, json};
use switchyard_types::ChatRequest;

use super::messages::{ASSISTANT_FILLER, LEADING_USER_FILLER, USER_FILLER};
use crate::adapter::{ConvertError, Method, ResponseCtx, Target};
use crate::{Adapter, Provider, adapter};

const KEY: &str = "ak-0123456789|sk-secret-ABCDEF";

pub(super) const CTX: ResponseCtx<'static> = ResponseCtx {
    requested_model: "ERNIE-Bot-4",
    upstream_model: "ERNIE-4.0-8K",
    now_unix: 1_700_000_000,
};

pub(super) fn v1() -> &'static dyn Adapter {
    adapter(Provider::Qianfan)
}

pub(super) fn target(model: &'static str) -> Target<'static> {
    Target {
        base_url: "https://aip.example/",
        key: KEY,
        upstream_model: model,
        now_unix: 1_700_000_000,
        token: Some("24.abc/def+1.2592000"),
    }
}

fn req(v: Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

fn body_of(v: Value) -> Value {
    body_for("ERNIE-Bot-4", v)
}

fn body_for(model: &'static str, v: Value) -> Value {
    let out = v1().chat_request(&req(v), &target(model)).unwrap();
    serde_json::from_slice(&out.body).unwrap()
}

fn bad_request(v: Value) -> (String, Option<String>) {
    match v1().chat_request(&req(v), &target("ERNIE-Bot-4")) {
        Err(ConvertError::BadRequest { message, param }) => (message, param),
        other => panic!("expected BadRequest, got {other:?}"),
    }
}

#[test]
fn url_method_token_and_model_mapping() {
    let r = v1()
        .chat_request(
            &req(json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]})),
            &target("ERNIE-Bot-4"),
        )
        .unwrap();
    assert_eq!(r.method, Method::Post);
    assert_eq!(
        r.url,
        "https://aip.example/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions_pro?access_token=24.abc%2Fdef%2B1.2592000"
    );
    assert!(
        r.headers
            .contains(&("content-type".into(), "application/json".into()))
    );
    assert!(!r.headers.iter().any(|(k, _)| k == "authorization"));
    for (model, ep) in [
        ("ERNIE-Bot", "/chat/completions?"),
        ("ERNIE-Bot-turbo", "/chat/eb-instant?"),
        ("ERNIE-Speed-8K", "/chat/ernie_speed?"),
        ("ERNIE-Lite-8K", "/chat/ernie-lite-8k?"),
        ("ERNIE-3.5-8K", "/chat/completions?"),
    ] {
        let r = v1()
            .chat_request(
                &req(json!({"model": "m", "messages": [{"role": "user", "content": "x"}]})),
                &target(model),
            )
            .unwrap();
        assert!(r.url.contains(ep), "{model}: {}", r.url);
    }
}

#[test]
fn every_system_message_is_kept_in_system() {
    let b = body_of(json!({"model": "m", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
        {"role": "system", "content": "No emojis."}
    ]}));
    assert_eq!(b["system"], "Be brief.\n\nAnswer in English.\n\nNo emojis.");
    assert_eq!(b["messages"], json!([{"role": "user", "content": "hi"}]));
    // Only system messages: the text becomes the question.
    let b = body_of(json!({"model": "m", "messages": [{"role": "system", "content": "Say hi"}]}));
    assert!(b.get("system").is_none());
    assert_eq!(
        b["messages"],
        json!([{"role": "user", "content": "Say hi"}])
    );
}

#[test]
fn alternation_is_repaired_without_dropping_content() {
    let b = body_of(json!({"model": "m", "messages": [
        {"role": "assistant", "content": "Welcome!"},
        {"role": "user", "content": "a"},
        {"role": "user", "content": [{"type": "text", "text": "b"}, {"type": "text", "text": "c"}]},
        {"role": "assistant", "content": "d"},
        {"role": "assistant", "content": "e"}
    ]}));
    assert_eq!(
        b["messages"],
        json!([
            {"role": "user", "content": LEADING_USER_FILLER},
            {"role": "assistant", "content": "Welcome!"},
            {"role": "user", "content": "a\n\nb\nc"},
            {"role": "assistant", "content": "d\n\ne"},
            {"role": "user", "content": USER_FILLER}
        ])
    );
}

#[test]
fn parallel_tool_calls_become_sequential_function_turns() {
    let b = body_of(json!({"model": "m", "messages": [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "c2", "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"Rome\"}"}}
        ]},
        {"role": "tool", "tool_call_id": "c2", "content": "20C"},
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
        {"role": "user", "content": "thanks"}
    ]}));
    assert_eq!(
        b["messages"],
        json!([
            {"role": "user", "content": "weather in Paris and Rome?"},
            {"role": "assistant", "content": "", "function_call": {"name": "w", "arguments": "{\"city\":\"Paris\"}"}},
            {"role": "function", "name": "w", "content": "18C"},
            {"role": "assistant", "content": "", "function_call": {"name": "w", "arguments": "{\"city\":\"Rome\"}"}},
            {"role": "function", "name": "w", "content": "20C"},
            {"role": "assistant", "content": ASSISTANT_FILLER},
            {"role": "user", "content": "thanks"}
        ])
    );
}

#[test]
fn parameters_are_clamped_into_ernie_ranges() {
    let b = body_of(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "temperature": 0, "top_p": 1.5, "frequency_penalty": 1.0, "max_tokens": 1,
        "stop": "END", "user": "u-1", "stream": true, "seed": 7, "logprobs": true,
        "disable_search": true}),
    );
    assert_eq!(b["temperature"], json!(0.01));
    assert_eq!(b["top_p"], json!(1.0));
    assert_eq!(b["penalty_score"], json!(1.5));
    assert_eq!(b["max_output_tokens"], json!(2));
    assert_eq!(b["stop"], json!(["END"]));
    assert_eq!(b["user_id"], "u-1");
    assert_eq!(b["stream"], true);
    assert_eq!(b["disable_search"], true);
    assert!(b.get("seed").is_none() && b.get("logprobs").is_none() && b.get("model").is_none());
    let b = body_of(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "temperature": 1.8, "top_p": -1, "penalty_score": 3.5, "max_completion_tokens": 900,
        "max_tokens": 10}),
    );
    assert_eq!(b["temperature"], json!(1.0));
    assert_eq!(b["top_p"], json!(0.0));
    assert_eq!(b["penalty_score"], json!(2.0));
    assert_eq!(b["max_output_tokens"], json!(900));
    assert!(b.get("stream").is_none());
    let b = body_of(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "presence_penalty": -2}),
    );
    assert_eq!(b["penalty_score"], json!(1.0));
    let b = body_of(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "temperature": 0.35}),
    );
    assert_eq!(b["temperature"], json!(0.35));
}

#[test]
fn what_ernie_cannot_express_is_refused_by_name() {
    let user = json!([{"role": "user", "content": "x"}]);
    let (m, p) =
        bad_request(json!({"model": "m", "messages": user, "stop": ["a","b","c","d","e"]}));
    assert!(m.contains("at most 4"), "{m}");
    assert_eq!(p.as_deref(), Some("stop"));
    let (_, p) =
        bad_request(json!({"model": "m", "messages": user, "stop": ["012345678901234567890"]}));
    assert_eq!(p.as_deref(), Some("stop"));
    let (_, p) = bad_request(json!({"model": "m", "messages": user, "n": 2}));
    assert_eq!(p.as_deref(), Some("n"));
    let (_, p) = bad_request(json!({"model": "m", "messages": user, "temperature": "hot"}));
    assert_eq!(p.as_deref(), Some("temperature"));
    let (m, p) = bad_request(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}),
    );
    assert!(m.contains("text only"), "{m}");
    assert_eq!(p.as_deref(), Some("messages"));
    let r = v1().chat_request(
        &req(json!({"model": "m", "messages": user})),
        &target("Embedding-V1"),
    );
    assert!(matches!(r, Err(ConvertError::BadRequest { param: Some(p), .. }) if p == "model"));
    let r = v1().chat_request(
        &req(json!({"model": "m", "messages": user})),
        &target("a/b"),
    );
    assert!(matches!(r, Err(ConvertError::BadRequest { param: Some(p), .. }) if p == "model"));
}

#[test]
fn tools_become_functions() {
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "description": "Weather", "parameters": {"type": "object", "properties": {}}}}]);
    let b = body_of(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": tools}),
    );
    assert_eq!(
        b["functions"],
        json!([{"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {}}}])
    );
    assert!(b.get("tool_choice").is_none());
    let b = body_of(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": tools,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
    );
    assert_eq!(
        b["tool_choice"],
        json!({"type": "function", "function": {"name": "get_weather"}})
    );
    let b = body_of(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": tools,
        "tool_choice": "none"}),
    );
    assert!(b.get("functions").is_none());
    let b = body_of(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_object"}}),
    );
    assert_eq!(b["response_format"], "json_object");
}

#[test]
fn credentials_are_checked_and_never_echoed() {
    let r = req(json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}));
    for key in ["only-one-part", "a|b|c", "|sk", "ak|", "ak|s k"] {
        let t = Target {
            key,
            ..target("ERNIE-Bot")
        };
        match v1().chat_request(&r, &t) {
            Err(ConvertError::BadRequest { message, .. }) => {
                assert!(message.contains("API_KEY|SECRET_KEY"), "{message}");
                assert!(
                    !message.contains("only-one-part") && !message.contains("sk"),
                    "{message}"
                );
            }
            other => panic!("{key}: {other:?}"),
        }
        assert!(v1().token_request(&t).is_none());
    }
    // A valid key but no token yet: the gateway may try another channel.
    let t = Target {
        token: None,
        ..target("ERNIE-Bot")
    };
    assert!(matches!(
        v1().chat_request(&r, &t),
        Err(ConvertError::Protocol(_))
    ));
}

#[test]
fn token_request_and_answer() {
    let t = Target {
        key: "ak+1~x|s/k=",
        ..target("ERNIE-Bot")
    };
    let r = v1().token_request(&t).unwrap();
    assert_eq!(r.method, Method::Post);
    assert_eq!(
        r.url,
        "https://aip.example/oauth/2.0/token?grant_type=client_credentials&client_id=ak%2B1~x&client_secret=s%2Fk%3D"
    );
    assert!(r.body.is_empty());
    // The documented success shape (Baidu's own mock server).
    let ok = br#"{"refresh_token":"25.r","expires_in":2592000,"session_key":"s","access_token":"24.tok","scope":"public","session_secret":"x"}"#;
    let tok = v1().token_response(200, ok).unwrap();
    assert_eq!((tok.value.as_str(), tok.ttl_secs), ("24.tok", 2_592_000));
    let bad = br#"{"error":"invalid_client","error_description":"unknown client id"}"#;
    let e = v1().token_response(401, bad).unwrap_err();
    assert_eq!((e.status, e.code.as_deref()), (401, Some("invalid_client")));
    assert!(e.message.contains("unknown client id"));
    let e = v1().token_response(200, b"<html>").unwrap_err();
    assert_eq!(e.status, 502);
    let e = v1().token_response(500, b"oops").unwrap_err();
    assert_eq!(e.status, 500);
}

#[test]
fn snapshot_request() {
    let b = body_of(
        json!({"model": "ERNIE-Bot-4", "stream": true, "temperature": 0.2,
        "max_tokens": 256, "stop": ["\n\n"], "user": "u-42",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "What is the weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "{\"temp\":18}"},
            {"role": "system", "content": "Use Celsius."}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]}),
    );
    insta::assert_json_snapshot!("v1_request", b);
}
