//! Unit tests of the Spark conversions, with the known-answer signing vectors.

use serde_json::{Value, json};
use switchyard_sse::Event;
use switchyard_types::{ChatRequest, Usage};

use super::auth;
use crate::adapter::{ConvertError, Emit, Method, ResponseCtx, StreamStep, Target, Transport};
use crate::{Provider, adapter};

/// `Fri, 23 Apr 2021 02:35:47 GMT`, the date of the official vector.
const VECTOR_TIME: u64 = 1_619_145_347;
const SECRET: &str = "apisecretXXXXXXXXXXXXXXXXXXXXXXX";
const API_KEY: &str = "apikeyXXXXXXXXXXXXXXXXXXXXXXXXXX";
const KEY: &str = "app123|apikeyXXXXXXXXXXXXXXXXXXXXXXXXXX|apisecretXXXXXXXXXXXXXXXXXXXXXXX";

pub(super) const CTX: ResponseCtx<'static> = ResponseCtx {
    requested_model: "SparkDesk-v3.5",
    upstream_model: "SparkDesk-v3.5",
    now_unix: 1_700_000_000,
};

fn target<'a>(model: &'a str, base: &'a str) -> Target<'a> {
    Target {
        base_url: base,
        key: KEY,
        upstream_model: model,
        now_unix: VECTOR_TIME,
        token: None,
    }
}

fn req(v: Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

fn build(model: &str, body: Value) -> Result<Value, ConvertError> {
    let out = adapter(Provider::Spark)
        .chat_request(&req(body), &target(model, "wss://spark-api.xf-yun.com"))?;
    Ok(serde_json::from_slice(&out.body).unwrap())
}

fn bad_param(err: ConvertError) -> Option<String> {
    match err {
        ConvertError::BadRequest { param, .. } => param,
        other => panic!("expected BadRequest, got {other:?}"),
    }
}

/// Runs frames through a fresh converter: (chunks, last usage, text, done, usage reports).
pub(super) fn run(frames: &[&str]) -> (Vec<Value>, Option<Usage>, String, bool, usize) {
    let mut conv = adapter(Provider::Spark).stream_converter(&CTX);
    let mut emit = Emit::default();
    let (mut chunks, mut usage, mut text, mut done, mut reports) =
        (Vec::new(), None, String::new(), false, 0);
    for f in frames {
        emit.clear();
        let step = conv
            .event(
                &Event {
                    event: None,
                    data: (*f).to_owned(),
                    meta: None,
                },
                &mut emit,
            )
            .unwrap();
        chunks.extend(
            emit.chunks
                .iter()
                .map(|c| serde_json::from_slice::<Value>(c).unwrap()),
        );
        if emit.usage.is_some() {
            reports += 1;
            usage = emit.usage.clone();
        }
        text.push_str(&emit.text);
        done |= step == StreamStep::Done;
    }
    (chunks, usage, text, done, reports)
}

// ---------------------------------------------------------------- known answers

#[test]
fn official_signature_vector_byte_for_byte() {
    let date = auth::rfc1123(VECTOR_TIME);
    assert_eq!(date, "Fri, 23 Apr 2021 02:35:47 GMT");
    let sig = auth::signature(
        SECRET,
        "api.xf-yun.com",
        &date,
        "POST /v1/private/s782b4996 HTTP/1.1",
    );
    assert_eq!(sig, "1jwQbIAKmQE7JwIH0IDxiC1pejrlN+VpHXDWOFVy5NM=");
    assert_eq!(
        auth::authorization(API_KEY, &sig),
        "YXBpX2tleT0iYXBpa2V5WFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFgiLCBhbGdvcml0aG09ImhtYWMtc2hhMjU2IiwgaGVhZGVycz0iaG9zdCBkYXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0iMWp3UWJJQUttUUU3SndJSDBJRHhpQzFwZWpybE4rVnBIWERXT0ZWeTVOTT0i"
    );
}

#[test]
fn derived_chat_vector_byte_for_byte() {
    let sig = auth::signature(
        SECRET,
        "spark-api.xf-yun.com",
        "Fri, 23 Apr 2021 02:35:47 GMT",
        "GET /v3.5/chat HTTP/1.1",
    );
    assert_eq!(sig, "fnaNS2DJG1mPgl9UtqMalccmPvW12yFSqWKCI6J2+hs=");
}

#[test]
fn request_url_is_the_signed_default_endpoint() {
    let out = adapter(Provider::Spark)
        .chat_request(
            &req(json!({"model":"m","messages":[{"role":"user","content":"hi"}]})),
            &target("SparkDesk-v3.5", "wss://spark-api.xf-yun.com"),
        )
        .unwrap();
    assert_eq!(out.transport, Transport::WebSocket);
    assert_eq!(out.method, Method::Get);
    assert!(out.headers.is_empty());
    // The whole URL, byte for byte (derived chat vector; this authorization needs no escaping).
    assert_eq!(
        out.url,
        "wss://spark-api.xf-yun.com/v3.5/chat?authorization=YXBpX2tleT0iYXBpa2V5WFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFgiLCBhbGdvcml0aG09ImhtYWMtc2hhMjU2IiwgaGVhZGVycz0iaG9zdCBkYXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0iZm5hTlMyREpHMW1QZ2w5VXRxTWFsY2NtUHZXMTJ5RlNxV0tDSTZKMitocz0i&date=Fri%2C+23+Apr+2021+02%3A35%3A47+GMT&host=spark-api.xf-yun.com"
    );
    assert_eq!(auth::form_encode("a+b/c= d:,"), "a%2Bb%2Fc%3D+d%3A%2C");
    assert!(adapter(Provider::Spark).streams_only());
}

#[test]
fn base_url_override_signs_host_with_port() {
    let ep = auth::endpoint("ws://127.0.0.1:8123/", "/v1.1/chat").unwrap();
    assert_eq!(ep.host, "127.0.0.1:8123");
    assert_eq!(ep.url, "ws://127.0.0.1:8123/v1.1/chat");
    let out = adapter(Provider::Spark)
        .chat_request(
            &req(json!({"model":"m","messages":[{"role":"user","content":"hi"}]})),
            &target("SparkDesk-v1.1", "ws://127.0.0.1:8123"),
        )
        .unwrap();
    let sig = auth::signature(
        SECRET,
        "127.0.0.1:8123",
        "Fri, 23 Apr 2021 02:35:47 GMT",
        "GET /v1.1/chat HTTP/1.1",
    );
    let want = auth::form_encode(&auth::authorization(API_KEY, &sig));
    assert!(
        out.url
            .starts_with("ws://127.0.0.1:8123/v1.1/chat?authorization=")
    );
    assert!(out.url.contains(&want));
    assert!(out.url.ends_with("&host=127.0.0.1%3A8123"), "{}", out.url);
    // A path prefix on the base URL is part of the signed request line.
    let ep = auth::endpoint("https://proxy.example/spark", "/v3.5/chat").unwrap();
    assert_eq!(ep.url, "wss://proxy.example/spark/v3.5/chat");
    assert_eq!(ep.path, "/spark/v3.5/chat");
    assert!(auth::endpoint("ftp://x", "/v3.5/chat").is_err());
}

// ---------------------------------------------------------------- request conversion

#[test]
fn every_default_model_maps_to_its_path_and_domain() {
    let cases = [
        ("SparkDesk-v1.1", "/v1.1/chat", "lite"),
        ("SparkDesk-v2.1", "/v2.1/chat", "generalv2"),
        ("SparkDesk-v3.1", "/v3.1/chat", "generalv3"),
        ("SparkDesk-v3.5", "/v3.5/chat", "generalv3.5"),
        ("SparkDesk-v4.0", "/v4.0/chat", "4.0Ultra"),
        ("SparkDesk-v3.1-128K", "/chat/pro-128k", "pro-128k"),
        ("SparkDesk-v3.5-32K", "/chat/max-32k", "max-32k"),
        ("generalv3.5", "/v3.5/chat", "generalv3.5"),
        ("Spark-Lite", "/v1.1/chat", "lite"),
    ];
    for (model, path, domain) in cases {
        let out = adapter(Provider::Spark)
            .chat_request(
                &req(json!({"model":"x","messages":[{"role":"user","content":"hi"}]})),
                &target(model, "wss://spark-api.xf-yun.com"),
            )
            .unwrap();
        assert!(
            out.url
                .starts_with(&format!("wss://spark-api.xf-yun.com{path}?")),
            "{model}: {}",
            out.url
        );
        let body: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(body["parameter"]["chat"]["domain"], domain, "{model}");
        assert_eq!(body["header"]["app_id"], "app123");
    }
    assert_eq!(
        crate::spark::DEFAULT_MODELS,
        Provider::Spark.default_models()
    );
    let err = build(
        "gpt-4",
        json!({"model":"x","messages":[{"role":"user","content":"hi"}]}),
    )
    .unwrap_err();
    assert_eq!(bad_param(err).as_deref(), Some("model"));
}

#[test]
fn malformed_keys_are_refused_without_echoing_them() {
    for key in ["onlyone", "a|b", "a|b|c|d", "a||c", "|b|c", "a|b| "] {
        let t = Target {
            key,
            ..target("SparkDesk-v3.5", "wss://spark-api.xf-yun.com")
        };
        let err = adapter(Provider::Spark)
            .chat_request(
                &req(json!({"model":"x","messages":[{"role":"user","content":"hi"}]})),
                &t,
            )
            .unwrap_err();
        match err {
            ConvertError::BadRequest { message, .. } => {
                assert!(message.contains("APP_ID|API_KEY|API_SECRET"), "{message}");
                assert!(!message.contains(key) || key.len() < 4, "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn system_messages_all_kept_as_one_system_turn_on_max() {
    let body = build(
        "SparkDesk-v3.5",
        json!({"model":"x","messages":[
            {"role":"system","content":"Be brief."},
            {"role":"user","content":"hi"},
            {"role":"developer","content":"Use French."},
            {"role":"assistant","content":"salut"},
            {"role":"system","content":[{"type":"text","text":"No emoji."}]},
            {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}
        ]}),
    )
    .unwrap();
    assert_eq!(
        body["payload"]["message"]["text"],
        json!([
            {"role":"system","content":"Be brief.\n\nUse French.\n\nNo emoji."},
            {"role":"user","content":"hi"},
            {"role":"assistant","content":"salut"},
            {"role":"user","content":"a\nb"}
        ])
    );
}

#[test]
fn system_messages_become_a_leading_exchange_where_the_role_is_refused() {
    for model in ["SparkDesk-v1.1", "SparkDesk-v2.1", "SparkDesk-v3.1"] {
        let body = build(
            model,
            json!({"model":"x","messages":[
                {"role":"user","content":"hi"},
                {"role":"system","content":"S1"},
                {"role":"system","content":"S2"}
            ]}),
        )
        .unwrap();
        assert_eq!(
            body["payload"]["message"]["text"],
            json!([
                {"role":"user","content":"S1\n\nS2"},
                {"role":"assistant","content":"Okay"},
                {"role":"user","content":"hi"}
            ]),
            "{model}"
        );
    }
}

#[test]
fn parameters_are_clamped_into_spark_ranges() {
    let body = build(
        "SparkDesk-v3.5",
        json!({"model":"x","messages":[{"role":"user","content":"hi"}],
               "temperature":1.7,"max_tokens":100000,"top_k":10,"top_p":0.3,"stop":["x"]}),
    )
    .unwrap();
    assert_eq!(
        body["parameter"]["chat"],
        json!({"domain":"generalv3.5","temperature":1.0,"max_tokens":8192,"top_k":6})
    );
    let body = build(
        "SparkDesk-v1.1",
        json!({"model":"x","messages":[{"role":"user","content":"hi"}],
               "temperature":0,"max_completion_tokens":5000,"max_tokens":9,"top_k":0}),
    )
    .unwrap();
    assert_eq!(
        body["parameter"]["chat"],
        json!({"domain":"lite","temperature":0.01,"max_tokens":4096,"top_k":1})
    );
    let body = build(
        "SparkDesk-v3.1",
        json!({"model":"x","messages":[{"role":"user","content":"hi"}],"max_tokens":0,"temperature":0.5}),
    )
    .unwrap();
    assert_eq!(
        body["parameter"]["chat"],
        json!({"domain":"generalv3","temperature":0.5,"max_tokens":1})
    );
    // No parameter given: only the domain.
    let body = build(
        "SparkDesk-v4.0",
        json!({"model":"x","messages":[{"role":"user","content":"hi"}]}),
    )
    .unwrap();
    assert_eq!(body["parameter"]["chat"], json!({"domain":"4.0Ultra"}));
}

#[test]
fn uid_comes_from_user_and_is_cut_to_32_chars() {
    let long = "u".repeat(40);
    let body = build(
        "SparkDesk-v3.5",
        json!({"model":"x","messages":[{"role":"user","content":"hi"}],"user":long}),
    )
    .unwrap();
    assert_eq!(body["header"]["uid"], "u".repeat(32));
    let body = build(
        "SparkDesk-v3.5",
        json!({"model":"x","messages":[{"role":"user","content":"hi"}]}),
    )
    .unwrap();
    assert_eq!(body["header"], json!({"app_id":"app123"}));
}

#[test]
fn unsupported_inputs_are_refused_with_the_offending_param() {
    let img = json!({"model":"x","messages":[{"role":"user","content":[
        {"type":"text","text":"what is this"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]});
    assert_eq!(
        bad_param(build("SparkDesk-v3.5", img).unwrap_err()).as_deref(),
        Some("messages[0].content")
    );
    let n2 = json!({"model":"x","n":2,"messages":[{"role":"user","content":"hi"}]});
    assert_eq!(
        bad_param(build("SparkDesk-v3.5", n2).unwrap_err()).as_deref(),
        Some("n")
    );
    let tools = json!({"model":"x","messages":[{"role":"user","content":"hi"}],
        "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]});
    for model in ["SparkDesk-v1.1", "SparkDesk-v2.1", "SparkDesk-v3.1-128K"] {
        assert_eq!(
            bad_param(build(model, tools.clone()).unwrap_err()).as_deref(),
            Some("tools"),
            "{model}"
        );
    }
    let empty = json!({"model":"x","messages":[]});
    assert_eq!(
        bad_param(build("SparkDesk-v3.5", empty).unwrap_err()).as_deref(),
        Some("messages")
    );
    let odd = json!({"model":"x","messages":[{"role":"critic","content":"hi"}]});
    assert_eq!(
        bad_param(build("SparkDesk-v3.5", odd).unwrap_err()).as_deref(),
        Some("messages[0].role")
    );
}

#[test]
fn tools_become_functions_and_tool_turns_become_text() {
    let body = build(
        "SparkDesk-v3.5",
        json!({"model":"x","messages":[
            {"role":"user","content":"weather in Hefei?"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
                "function":{"name":"weather","arguments":"{\"city\":\"Hefei\"}"}}]},
            {"role":"tool","tool_call_id":"call_1","content":"sunny"}
        ],
        "tools":[
            {"type":"function","function":{"name":"weather","description":"Weather","strict":true,
                "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
            {"type":"web_search"}
        ]}),
    )
    .unwrap();
    assert_eq!(
        body["payload"]["functions"],
        json!({"text":[{"name":"weather","description":"Weather",
            "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]})
    );
    assert_eq!(
        body["payload"]["message"]["text"],
        json!([
            {"role":"user","content":"weather in Hefei?"},
            {"role":"assistant","content":"function_call weather({\"city\":\"Hefei\"})"},
            {"role":"user","content":"tool result (call_1): sunny"}
        ])
    );
    let none = build(
        "SparkDesk-v3.5",
        json!({"model":"x","messages":[{"role":"user","content":"hi"}],"tool_choice":"none",
               "tools":[{"type":"function","function":{"name":"f"}}]}),
    )
    .unwrap();
    assert!(none["payload"].get("functions").is_none());
}

#[test]
fn request_frame_snapshot() {
    let body = build(
        "SparkDesk-v3.5",
        json!({"model":"SparkDesk-v3.5","stream":true,"user":"user-42","temperature":0.7,"max_tokens":512,
            "messages":[
                {"role":"system","content":"You are Li Bai."},
                {"role":"user","content":"Who are you?"},
                {"role":"assistant","content":"A poet."},
                {"role":"user","content":"What's the weather in Hefei today?"}],
            "tools":[{"type":"function","function":{"name":"weather","description":"Look up the weather",
                "parameters":{"type":"object","properties":{"location":{"type":"string"},"datetime":{"type":"string"}},"required":["location"]}}}]}),
    )
    .unwrap();
    insta::assert_json_snapshot!("request_frame_max_with_tools", body);
}

// ---------------------------------------------------------------- stream snapshot

pub(super) const DOC_FRAMES: [&str; 3] = [
    r#"{"header":{"code":0,"message":"Success","sid":"cht000b702a@dx18d6fb9d758b894540","status":0},"payload":{"choices":{"status":0,"seq":0,"text":[{"content":"您","role":"assistant","index":0}]}}}"#,
    r#"{"header":{"code":0,"message":"Success","sid":"cht000b702a@dx18d6fb9d758b894540","status":1},"payload":{"choices":{"status":1,"seq":1,"text":[{"content":"可以通过以下","role":"assistant","index":0}]}}}"#,
    r#"{"header":{"code":0,"message":"Success","sid":"cht000b702a@dx18d6fb9d758b894540","status":2},"payload":{"choices":{"status":2,"seq":2,"text":[{"content":"我可以帮助你的吗？","role":"assistant","index":0}]},"usage":{"text":{"question_tokens":4,"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}}}"#,
];

#[test]
fn stream_response_snapshot() {
    let (chunks, usage, _, _, _) = run(&DOC_FRAMES);
    insta::assert_json_snapshot!(
        "stream_doc_frames",
        json!({"chunks": chunks, "usage": usage})
    );
}
