//! Unit tests of the DashScope requests, answers, errors and embeddings, on the documented wire
//! examples (the stream converter is tested in `tests_stream`).

use bytes::Bytes;
use serde_json::{Value, json};
use switchyard_types::{ChatRequest, Usage};

use crate::adapter::{ConvertError, EmbeddingsInput, ResponseCtx, Target};
use crate::{Provider, adapter};

pub(super) const CTX: ResponseCtx<'static> = ResponseCtx {
    requested_model: "qwen-plus",
    upstream_model: "qwen-plus",
    now_unix: 1_700_000_000,
};

fn target(model: &'static str) -> Target<'static> {
    Target {
        base_url: "https://dashscope.aliyuncs.com/api/v1/",
        key: "sk-ds",
        upstream_model: model,
        now_unix: 0,
        token: None,
    }
}

fn request(body: Value) -> ChatRequest {
    serde_json::from_value(body).unwrap()
}

fn build(model: &'static str, body: Value) -> (crate::UpstreamRequest, Value) {
    let out = adapter(Provider::DashScope)
        .chat_request(&request(body), &target(model))
        .unwrap();
    let v = serde_json::from_slice(&out.body).unwrap();
    (out, v)
}

fn header<'a>(r: &'a crate::UpstreamRequest, name: &str) -> Option<&'a str> {
    r.headers.iter().find(|(k, _)| k == name).map(|(_, v)| &**v)
}

fn bad_request(model: &'static str, body: Value) -> (String, Option<String>) {
    match adapter(Provider::DashScope).chat_request(&request(body), &target(model)) {
        Err(ConvertError::BadRequest { message, param }) => (message, param),
        other => panic!("expected a bad request, got {other:?}"),
    }
}

#[test]
fn text_request_is_native_with_message_format_and_clamped_parameters() {
    let (out, body) = build(
        "qwen-max",
        json!({
            "model": "gpt-alias", "messages": [
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
            ],
            "temperature": 2, "top_p": 1, "max_completion_tokens": 64, "seed": 42, "stop": ["\n\n"],
            "presence_penalty": 0.5, "frequency_penalty": 1.0, "logit_bias": {"1": 2},
            "user": "u-1", "n": 1, "enable_search": true, "response_format": {"type": "json_object"}
        }),
    );
    assert_eq!(
        out.url,
        "https://dashscope.aliyuncs.com/api/v1/services/aigc/text-generation/generation"
    );
    assert_eq!(header(&out, "authorization"), Some("Bearer sk-ds"));
    assert_eq!(header(&out, "x-dashscope-sse"), None, "not a stream");
    assert_eq!(
        body,
        json!({
            "model": "qwen-max",
            "input": {"messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "a\nb"}
            ]},
            "parameters": {
                "result_format": "message", "temperature": 1.99, "top_p": 0.999,
                "max_tokens": 64, "seed": 42, "stop": ["\n\n"], "presence_penalty": 0.5,
                "enable_search": true, "response_format": {"type": "json_object"}
            }
        })
    );
}

#[test]
fn top_p_and_temperature_stay_inside_dashscope_ranges() {
    for (top_p, want) in [(0.0, 0.001), (1.0, 0.999), (0.5, 0.5), (-3.0, 0.001)] {
        let (_, body) = build(
            "qwen-turbo",
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "top_p": top_p, "temperature": -1}),
        );
        assert_eq!(body["parameters"]["top_p"], json!(want), "top_p {top_p}");
        assert_eq!(body["parameters"]["temperature"], json!(0.0));
    }
    let (msg, param) = bad_request(
        "qwen-turbo",
        json!({"model": "m", "messages": [], "top_p": "high"}),
    );
    assert!(msg.contains("top_p"), "{msg}");
    assert_eq!(param.as_deref(), Some("top_p"));
    let (_, param) = bad_request(
        "qwen-turbo",
        json!({"model": "m", "messages": [], "max_tokens": 0}),
    );
    assert_eq!(param.as_deref(), Some("max_tokens"));
}

#[test]
fn stream_request_sets_the_sse_header_and_incremental_output() {
    let (out, body) = build(
        "qwen-plus",
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": true,
               "stream_options": {"include_usage": true}}),
    );
    assert_eq!(header(&out, "x-dashscope-sse"), Some("enable"));
    assert_eq!(header(&out, "accept"), Some("text/event-stream"));
    assert_eq!(body["parameters"]["incremental_output"], json!(true));
    assert!(body["parameters"].get("stream_options").is_none());
    assert!(body.get("stream").is_none());
}

#[test]
fn tools_and_tool_history_pass_through() {
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    let call = json!({"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}});
    let (_, body) = build(
        "qwen-plus",
        json!({
            "model": "m", "tools": tools, "tool_choice": "auto", "parallel_tool_calls": false,
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": null, "tool_calls": [call], "refusal": null},
                {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "sunny"}
            ]
        }),
    );
    assert_eq!(body["parameters"]["tools"], tools);
    assert_eq!(body["parameters"]["tool_choice"], "auto");
    assert_eq!(body["parameters"]["parallel_tool_calls"], false);
    assert_eq!(
        body["input"]["messages"],
        json!([
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "content": "sunny", "tool_call_id": "call_1", "name": "get_weather"}
        ])
    );
}

#[test]
fn vision_models_use_the_multimodal_service_with_parts_converted() {
    let (out, body) = build(
        "qwen-vl-plus",
        json!({"model": "m", "messages": [
            {"role": "system", "content": "look closely"},
            {"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "high"}},
                {"type": "image_url", "image_url": "data:image/png;base64,iVBOR"},
                {"image": "https://x/native.jpg"}
            ]}
        ]}),
    );
    assert_eq!(
        out.url,
        "https://dashscope.aliyuncs.com/api/v1/services/aigc/multimodal-generation/generation"
    );
    assert_eq!(
        body["input"]["messages"],
        json!([
            {"role": "system", "content": [{"text": "look closely"}]},
            {"role": "user", "content": [
                {"text": "what is this?"}, {"image": "https://x/cat.png"},
                {"image": "data:image/png;base64,iVBOR"}, {"image": "https://x/native.jpg"}
            ]}
        ])
    );
    let (msg, param) = bad_request(
        "qwen-vl-max",
        json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}),
    );
    assert!(msg.contains("input_audio"), "{msg}");
    assert_eq!(param.as_deref(), Some("messages[0].content"));
}

#[test]
fn images_to_a_text_model_and_chat_to_an_embedding_model_are_refused() {
    let (msg, _) = bad_request(
        "qwen-turbo",
        json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}]}),
    );
    assert!(msg.contains("qwen-vl"), "{msg}");
    let (_, param) = bad_request(
        "text-embedding-v1",
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
    );
    assert_eq!(param.as_deref(), Some("model"));
}

#[test]
fn workspace_rides_in_the_key() {
    let req = request(json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}));
    let t = Target {
        key: "sk-abc|ws_123",
        ..target("qwen-turbo")
    };
    let out = adapter(Provider::DashScope).chat_request(&req, &t).unwrap();
    assert_eq!(header(&out, "authorization"), Some("Bearer sk-abc"));
    assert_eq!(header(&out, "x-dashscope-workspace"), Some("ws_123"));
}

/// The documented non-stream answer (farui page), converted.
#[test]
fn non_stream_answer_becomes_a_chat_completion() {
    let native = r#"{"output":{"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":"【民事起诉状】..."}}]},"usage":{"total_tokens":292,"output_tokens":236,"input_tokens":56},"request_id":"2ae6671b-9373-9c7d-a407-af2029b51659"}"#;
    let out = adapter(Provider::DashScope)
        .chat_response(Bytes::from_static(native.as_bytes()), &CTX)
        .unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(
        v,
        json!({
            "id": "chatcmpl-2ae6671b-9373-9c7d-a407-af2029b51659",
            "object": "chat.completion", "created": 1_700_000_000, "model": "qwen-plus",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "【民事起诉状】...", "refusal": null},
                         "finish_reason": "stop", "logprobs": null}],
            "usage": {"prompt_tokens": 56, "completion_tokens": 236, "total_tokens": 292}
        })
    );
    assert_eq!(out.usage, Some(Usage::new(56, 236)));
    assert!(out.text_for_count.is_none());
}

#[test]
fn non_stream_tool_calls_vision_parts_and_token_details() {
    let native = json!({
        "output": {"choices": [{"finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": "{\"city\":\"杭州\"}"}, "index": 0, "id": "call_9", "type": "function"}]
        }}]},
        "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
                  "prompt_tokens_details": {"cached_tokens": 4}, "output_tokens_details": {"reasoning_tokens": 2}},
        "request_id": "r1"
    });
    let out = adapter(Provider::DashScope)
        .chat_response(Bytes::from(native.to_string()), &CTX)
        .unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    let m = &v["choices"][0]["message"];
    assert_eq!(m["content"], Value::Null);
    assert_eq!(
        m["tool_calls"],
        json!([{"function": {"name": "get_weather", "arguments": "{\"city\":\"杭州\"}"}, "id": "call_9", "type": "function"}])
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        2
    );
    assert_eq!(out.usage.unwrap().cached_tokens(), 4);

    // qwen-vl answers hold a list of text parts.
    let vl = r#"{"output":{"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":[{"text":"a cat"},{"text":" on a mat"}]}}]},"usage":{"input_tokens":1200,"output_tokens":4,"image_tokens":1190},"request_id":"r2"}"#;
    let out = adapter(Provider::DashScope)
        .chat_response(Bytes::from_static(vl.as_bytes()), &CTX)
        .unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "a cat on a mat");
    assert_eq!(
        v["usage"]["total_tokens"], 1204,
        "total derived when absent"
    );
}

#[test]
fn legacy_text_format_and_missing_usage_still_convert() {
    let native = r#"{"output":{"text":"hi there","finish_reason":"stop"},"request_id":"r3"}"#;
    let out = adapter(Provider::DashScope)
        .chat_response(Bytes::from_static(native.as_bytes()), &CTX)
        .unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "hi there");
    assert!(v.get("usage").is_none());
    assert_eq!(out.usage, None);
    assert_eq!(out.text_for_count.as_deref(), Some("hi there"));
    let empty = r#"{"output":{},"request_id":"r"}"#;
    assert!(matches!(
        adapter(Provider::DashScope).chat_response(Bytes::from_static(empty.as_bytes()), &CTX),
        Err(ConvertError::Protocol(_))
    ));
}

fn upstream_err(r: Result<impl std::fmt::Debug, ConvertError>) -> crate::UpstreamError {
    match r {
        Err(ConvertError::Upstream(e)) => e,
        other => panic!("expected an upstream error, got {other:?}"),
    }
}

#[test]
fn an_error_inside_a_200_is_an_upstream_error() {
    let body = r#"{"code":"DataInspectionFailed","message":"Input data may contain inappropriate content.","request_id":"r4"}"#;
    let e = upstream_err(
        adapter(Provider::DashScope).chat_response(Bytes::from_static(body.as_bytes()), &CTX),
    );
    assert_eq!(e.status, 400);
    assert_eq!(e.code.as_deref(), Some("content_filter"));
    assert_eq!(e.kind.as_deref(), Some("DataInspectionFailed"));
    assert_eq!(e.message, "Input data may contain inappropriate content.");
}

#[test]
fn http_errors_are_mapped_by_code_not_status() {
    let ds = adapter(Provider::DashScope);
    let cases: &[(u16, &str, &str, u16, &str)] = &[
        (
            401,
            "InvalidApiKey",
            "Invalid API-key provided.",
            401,
            "invalid_api_key",
        ),
        (
            429,
            "Throttling",
            "Requests throttling triggered.",
            429,
            "rate_limit_exceeded",
        ),
        (
            429,
            "Throttling.RateQuota",
            "Requests rate limit exceeded",
            429,
            "rate_limit_exceeded",
        ),
        (
            200,
            "Throttling.AllocationQuota",
            "quota",
            429,
            "rate_limit_exceeded",
        ),
        (
            400,
            "Arrearage",
            "Access denied, please make sure your account is in good standing.",
            403,
            "insufficient_quota",
        ),
        (
            403,
            "AccessDenied.Unpurchased",
            "not purchased",
            403,
            "AccessDenied.Unpurchased",
        ),
        (
            400,
            "DataInspectionFailed",
            "Output data may contain inappropriate content.",
            400,
            "content_filter",
        ),
        (
            400,
            "InvalidParameter",
            "Model not exist.",
            404,
            "model_not_found",
        ),
        (
            404,
            "Model.NotExist",
            "no such model",
            404,
            "model_not_found",
        ),
        (
            400,
            "InvalidParameter",
            "Range of top_p should be (0.0, 1.0)",
            400,
            "invalid_parameter",
        ),
        (
            400,
            "InternalError.Algo.InvalidParameter",
            "Range of input length should be [1, 129024]",
            400,
            "InternalError.Algo.InvalidParameter",
        ),
        (500, "InternalError", "internal", 500, "InternalError"),
        (200, "InternalError.Algo", "algo", 500, "InternalError.Algo"),
        (503, "ServiceUnavailable", "busy", 503, "ServiceUnavailable"),
        (200, "RequestTimeOut", "timeout", 504, "RequestTimeOut"),
    ];
    for (http, code, message, status, openai_code) in cases {
        let body = json!({"code": code, "message": message, "request_id": "r"}).to_string();
        let e = ds.error(*http, body.as_bytes());
        assert_eq!(
            (e.status, e.code.as_deref(), e.message.as_str()),
            (*status, Some(*openai_code), *message),
            "{code} with HTTP {http}"
        );
        assert_eq!(e.kind.as_deref(), Some(*code));
    }
    // Not DashScope's shape: OpenAI's (compatible mode), then raw text.
    let e = ds.error(
        401,
        br#"{"error":{"message":"Incorrect API key provided. ","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
    );
    assert_eq!(
        (e.status, e.code.as_deref()),
        (401, Some("invalid_api_key"))
    );
    let e = ds.error(502, b"<html>Bad Gateway</html>");
    assert_eq!(
        (e.status, e.message.as_str()),
        (502, "<html>Bad Gateway</html>")
    );
}

#[test]
fn embeddings_request_and_answer() {
    let texts = vec!["hello".to_owned(), "world".to_owned()];
    let input = EmbeddingsInput {
        texts: &texts,
        dimensions: None,
    };
    let ds = adapter(Provider::DashScope);
    let out = ds
        .embeddings_request(&input, &target("text-embedding-v1"))
        .unwrap();
    assert_eq!(
        out.url,
        "https://dashscope.aliyuncs.com/api/v1/services/embeddings/text-embedding/text-embedding"
    );
    assert_eq!(header(&out, "authorization"), Some("Bearer sk-ds"));
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(
        body,
        json!({"model": "text-embedding-v1", "input": {"texts": ["hello", "world"]}})
    );

    // Vectors come back in input order whatever order the answer lists them in.
    let answer = r#"{"output":{"embeddings":[{"text_index":1,"embedding":[0.5,-0.5]},{"text_index":0,"embedding":[0.25,0.75]}]},"usage":{"total_tokens":3},"request_id":"r"}"#;
    let got = ds
        .embeddings_response(Bytes::from_static(answer.as_bytes()))
        .unwrap();
    assert_eq!(got.vectors, vec![vec![0.25, 0.75], vec![0.5, -0.5]]);
    assert_eq!(got.usage, Some(Usage::new(3, 0)));

    let gap = r#"{"output":{"embeddings":[{"text_index":1,"embedding":[0.5]}]},"usage":{"total_tokens":1}}"#;
    assert!(matches!(
        ds.embeddings_response(Bytes::from_static(gap.as_bytes())),
        Err(ConvertError::Protocol(_))
    ));
    let err = r#"{"code":"InvalidApiKey","message":"Invalid API-key provided.","request_id":"r"}"#;
    let e = upstream_err(ds.embeddings_response(Bytes::from_static(err.as_bytes())));
    assert_eq!(e.status, 401);
}

#[test]
fn embeddings_limits_of_v1_and_v2_and_dimension_of_later_models() {
    let ds = adapter(Provider::DashScope);
    let many: Vec<String> = (0..26).map(|i| format!("t{i}")).collect();
    let refuse = |texts: &[String], dimensions, model| match ds
        .embeddings_request(&EmbeddingsInput { texts, dimensions }, &target(model))
    {
        Err(ConvertError::BadRequest { param, .. }) => param,
        other => panic!("expected a bad request, got {other:?}"),
    };
    assert_eq!(
        refuse(&many, None, "text-embedding-v2").as_deref(),
        Some("input")
    );
    let one = vec!["x".to_owned()];
    assert_eq!(
        refuse(&one, Some(512), "text-embedding-v1").as_deref(),
        Some("dimensions")
    );
    assert_eq!(
        refuse(&[], None, "text-embedding-v1").as_deref(),
        Some("input")
    );
    assert!(
        ds.embeddings_request(
            &EmbeddingsInput {
                texts: &one,
                dimensions: Some(1536)
            },
            &target("text-embedding-v2")
        )
        .is_ok()
    );
    let out = ds
        .embeddings_request(
            &EmbeddingsInput {
                texts: &one,
                dimensions: Some(512),
            },
            &target("text-embedding-v3"),
        )
        .unwrap();
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(body["parameters"], json!({"dimension": 512}));
}

#[test]
fn the_six_chat_models_route_by_default() {
    let models = Provider::DashScope.default_models();
    for m in [
        "qwen-turbo",
        "qwen-plus",
        "qwen-max",
        "qwen-max-1201",
        "qwen-max-longcontext",
        "qwen-vl-plus",
    ] {
        assert!(models.contains(&m), "{m}");
    }
    assert_eq!(
        Provider::DashScope.default_base_url(),
        Some("https://dashscope.aliyuncs.com/api/v1")
    );
}

#[test]
fn snapshot_of_a_stream_request_with_system_messages_and_tools() {
    let (out, body) = build(
        "qwen-max",
        json!({
            "model": "qwen-max", "stream": true, "temperature": 0.4, "top_p": 1.0, "max_tokens": 64,
            "stop": ["END"],
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "system", "content": "Answer in French."}
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "tool_choice": "auto"
        }),
    );
    insta::assert_json_snapshot!(
        "dashscope_stream_request",
        json!({
            "url": out.url,
            "sse_header": header(&out, "x-dashscope-sse"),
            "body": body,
        })
    );
}

#[test]
fn snapshot_of_a_tool_call_answer() {
    let native = json!({
        "output": {"choices": [{"finish_reason": "tool_calls", "message": {"role": "assistant", "content": "",
            "tool_calls": [{"id": "call_1", "type": "function", "index": 0,
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}]},
        "usage": {"input_tokens": 40, "output_tokens": 12, "total_tokens": 52},
        "request_id": "req-snap-1"
    });
    let out = adapter(Provider::DashScope)
        .chat_response(Bytes::from(native.to_string()), &CTX)
        .unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    insta::assert_json_snapshot!("dashscope_tool_call_answer", v);
}
