//! Unit tests of the Spark conversions, with the known-answer signing vectors.

use bytes::Bytes;
use serde_json::{Value, json};
use switchyard_sse::Event;
use switchyard_types::{ChatRequest, Usage};

use super::{auth, response};
use crate::adapter::{ConvertError, Emit, Method, ResponseCtx, StreamStep, Target, Transport};
use crate::{Provider, adapter};

/// `Fri, 23 Apr 2021 02:35:47 GMT`, the date of the official vector.
const VECTOR_TIME: u64 = 1_619_145_347;
const SECRET: &str = "apisecretXXXXXXXXXXXXXXXXXXXXXXX";
const API_KEY: &str = "apikeyXXXXXXXXXXXXXXXXXXXXXXXXXX";
const KEY: &str = "app123|apikeyXXXXXXXXXXXXXXXXXXXXXXXXXX|apisecretXXXXXXXXXXXXXXXXXXXXXXX";

const CTX: ResponseCtx<'static> = ResponseCtx {
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
fn run(frames: &[&str]) -> (Vec<Value>, Option<Usage>, String, bool, usize) {
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

// ---------------------------------------------------------------- stream conversion

const DOC_FRAMES: [&str; 3] = [
    r#"{"header":{"code":0,"message":"Success","sid":"cht000b702a@dx18d6fb9d758b894540","status":0},"payload":{"choices":{"status":0,"seq":0,"text":[{"content":"您","role":"assistant","index":0}]}}}"#,
    r#"{"header":{"code":0,"message":"Success","sid":"cht000b702a@dx18d6fb9d758b894540","status":1},"payload":{"choices":{"status":1,"seq":1,"text":[{"content":"可以通过以下","role":"assistant","index":0}]}}}"#,
    r#"{"header":{"code":0,"message":"Success","sid":"cht000b702a@dx18d6fb9d758b894540","status":2},"payload":{"choices":{"status":2,"seq":2,"text":[{"content":"我可以帮助你的吗？","role":"assistant","index":0}]},"usage":{"text":{"question_tokens":4,"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}}}"#,
];

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
fn stream_response_snapshot() {
    let (chunks, usage, _, _, _) = run(&DOC_FRAMES);
    insta::assert_json_snapshot!(
        "stream_doc_frames",
        json!({"chunks": chunks, "usage": usage})
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
