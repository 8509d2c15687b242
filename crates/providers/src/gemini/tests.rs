//! Unit tests of the Gemini request conversion, URLs, keys, schemas and embeddings, with the
//! known-answer request of the protocols file (§4.2).

use serde_json::{Value, json};
use switchyard_types::ChatRequest;

use crate::adapter::{ConvertError, Method, ResponseCtx, Target, Transport};
use crate::{Provider, adapter};

pub(super) const KEY: &str = "AIzaSyTestKey0123456789abcdefghijklmno";

pub(super) const CTX: ResponseCtx<'static> = ResponseCtx {
    requested_model: "gemini-2.5-flash",
    upstream_model: "gemini-2.5-flash",
    now_unix: 1_700_000_000,
};

pub(super) fn target<'a>(model: &'a str, base: &'a str, key: &'a str) -> Target<'a> {
    Target {
        base_url: base,
        key,
        upstream_model: model,
        now_unix: 1_700_000_000,
        token: None,
    }
}

fn req(v: Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

fn build_with(model: &str, body: Value) -> Result<crate::UpstreamRequest, ConvertError> {
    adapter(Provider::Gemini).chat_request(
        &req(body),
        &target(model, "https://generativelanguage.googleapis.com", KEY),
    )
}

fn build(body: Value) -> Result<Value, ConvertError> {
    let out = build_with("gemini-2.5-flash", body)?;
    Ok(serde_json::from_slice(&out.body).unwrap())
}

fn bad(err: ConvertError) -> (String, Option<String>) {
    match err {
        ConvertError::BadRequest { message, param } => (message, param),
        other => panic!("expected BadRequest, got {other:?}"),
    }
}

#[test]
fn urls_headers_and_key_placement() {
    let out = build_with(
        "gemini-2.5-flash",
        json!({"model":"x","messages":[{"role":"user","content":"hi"}]}),
    )
    .unwrap();
    assert_eq!(out.method, Method::Post);
    assert_eq!(out.transport, Transport::Http);
    assert_eq!(
        out.url,
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert!(!out.url.contains(KEY), "the key never goes into the URL");
    assert!(out.headers.contains(&("x-goog-api-key".into(), KEY.into())));
    assert!(
        out.headers
            .contains(&("content-type".into(), "application/json".into()))
    );

    let s = build_with(
        "models/gemini-2.0-flash",
        json!({"model":"x","stream":true,"messages":[{"role":"user","content":"hi"}]}),
    )
    .unwrap();
    assert_eq!(
        s.url,
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    );
    let body: Value = serde_json::from_slice(&s.body).unwrap();
    assert!(
        body.get("stream").is_none() && body.get("model").is_none(),
        "{body}"
    );

    for (base, want) in [
        (
            "http://127.0.0.1:9/v1beta/",
            "http://127.0.0.1:9/v1beta/models/m:generateContent",
        ),
        (
            "http://127.0.0.1:9/v1",
            "http://127.0.0.1:9/v1/models/m:generateContent",
        ),
        (
            "http://127.0.0.1:9/proxy",
            "http://127.0.0.1:9/proxy/v1beta/models/m:generateContent",
        ),
    ] {
        let out = adapter(Provider::Gemini)
            .chat_request(
                &req(json!({"model":"m","messages":[{"role":"user","content":"hi"}]})),
                &target("m", base, KEY),
            )
            .unwrap();
        assert_eq!(out.url, want);
    }
}

#[test]
fn malformed_keys_are_refused_without_echo() {
    for key in ["", "   ", "AIzaA|AIzaB", "AIza key", "AIzaé"] {
        let err = adapter(Provider::Gemini)
            .chat_request(
                &req(json!({"model":"m","messages":[{"role":"user","content":"hi"}]})),
                &target("m", "https://x", key),
            )
            .unwrap_err();
        let (message, _) = bad(err);
        assert!(
            message.contains("Gemini channel key is malformed"),
            "{message}"
        );
        if key.trim().len() > 3 {
            assert!(!message.contains(key.trim()), "key echoed: {message}");
        }
    }
    let err = adapter(Provider::Gemini)
        .chat_request(
            &req(json!({"model":"m","messages":[{"role":"user","content":"hi"}]})),
            &target("models/", "https://x", KEY),
        )
        .unwrap_err();
    assert_eq!(bad(err).1.as_deref(), Some("model"));
}

#[test]
fn every_system_message_is_kept_in_order() {
    let body = build(json!({"model":"m","messages":[
        {"role":"system","content":"First rule."},
        {"role":"user","content":"hi"},
        {"role":"developer","content":[{"type":"text","text":"Second"},{"type":"text","text":"rule."}]},
        {"role":"assistant","content":"hello"},
        {"role":"system","content":"Third rule."},
        {"role":"user","content":"again"}
    ]}))
    .unwrap();
    assert_eq!(
        body["systemInstruction"],
        json!({"parts":[{"text":"First rule."},{"text":"Second\nrule."},{"text":"Third rule."}]})
    );
    assert_eq!(
        body["contents"],
        json!([
            {"role":"user","parts":[{"text":"hi"}]},
            {"role":"model","parts":[{"text":"hello"}]},
            {"role":"user","parts":[{"text":"again"}]}
        ])
    );
}

#[test]
fn only_system_messages_become_the_user_turn() {
    let body = build(json!({"model":"m","messages":[
        {"role":"system","content":"Say hi."},{"role":"system","content":"Be brief."}
    ]}))
    .unwrap();
    assert!(body.get("systemInstruction").is_none());
    assert_eq!(
        body["contents"],
        json!([{"role":"user","parts":[{"text":"Say hi."},{"text":"Be brief."}]}])
    );
    let err = build(json!({"model":"m","messages":[{"role":"user","content":""}]})).unwrap_err();
    assert_eq!(bad(err).1.as_deref(), Some("messages"));
}

#[test]
fn consecutive_roles_are_merged_without_loss() {
    let body = build(json!({"model":"m","messages":[
        {"role":"user","content":"a"},
        {"role":"user","content":[{"type":"text","text":"b"}]},
        {"role":"assistant","content":"c"},
        {"role":"assistant","content":"d"},
        {"role":"user","content":"e"}
    ]}))
    .unwrap();
    assert_eq!(
        body["contents"],
        json!([
            {"role":"user","parts":[{"text":"a"},{"text":"b"}]},
            {"role":"model","parts":[{"text":"c"},{"text":"d"}]},
            {"role":"user","parts":[{"text":"e"}]}
        ])
    );
    let err = build(json!({"model":"m","messages":[{"role":"critic","content":"x"}]})).unwrap_err();
    assert_eq!(bad(err).1.as_deref(), Some("messages"));
}

#[test]
fn parameters_are_mapped_and_clamped() {
    let body = build(
        json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "temperature": 3.5, "top_p": 1.7, "top_k": 40, "max_tokens": 100,
        "max_completion_tokens": 64, "stop": ["a","b","","c","d","e","f"], "n": 12, "seed": 7,
        "presence_penalty": 1.0, "frequency_penalty": 1.0, "logit_bias": {"1": 2}, "user": "u"}),
    )
    .unwrap();
    assert_eq!(
        body["generationConfig"],
        json!({"temperature":2.0,"topP":1.0,"topK":40,"maxOutputTokens":64,
               "stopSequences":["a","b","c","d","e"],"candidateCount":8,"seed":7})
    );
    let body = build(
        json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "temperature": -1, "top_p": -0.5, "top_k": 0.2, "max_tokens": 0, "stop": "END", "n": 0}),
    )
    .unwrap();
    assert_eq!(
        body["generationConfig"],
        json!({"temperature":0.0,"topP":0.0,"topK":1,"maxOutputTokens":1,"stopSequences":["END"],"candidateCount":1})
    );
    let body = build(json!({"model":"m","messages":[{"role":"user","content":"hi"}]})).unwrap();
    assert!(body.get("generationConfig").is_none(), "{body}");
    let err = build(json!({"model":"m","messages":[{"role":"user","content":"hi"}],"stop":5}))
        .unwrap_err();
    assert_eq!(bad(err).1.as_deref(), Some("stop"));
    let err =
        build(json!({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}))
            .unwrap_err();
    assert_eq!(bad(err).1.as_deref(), Some("temperature"));
}

#[test]
fn response_format_maps_to_mime_type_and_schema() {
    let body = build(
        json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":{
            "type":"object","additionalProperties":false,
            "properties":{"a":{"type":["string","null"]}},"required":["a","ghost"]}}}}),
    )
    .unwrap();
    assert_eq!(
        body["generationConfig"],
        json!({"responseMimeType":"application/json","responseSchema":{
            "type":"object","properties":{"a":{"type":"string","nullable":true}},"required":["a"]}})
    );
    let body = build(
        json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "response_format":{"type":"json_object"}}),
    )
    .unwrap();
    assert_eq!(
        body["generationConfig"],
        json!({"responseMimeType":"application/json"})
    );
}

fn weather_tools() -> Value {
    json!([
        {"type":"function","function":{"name":"get_weather","description":"Weather","strict":true,
          "parameters":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
            "additionalProperties":false,
            "properties":{"location":{"type":"string","format":"uri"},"unit":{"type":"string","enum":["c","f"]}},
            "required":["location"]}}},
        {"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{}}}}
    ])
}

#[test]
fn tools_become_sanitised_declarations() {
    let body = build(
        json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "tools": weather_tools()}),
    )
    .unwrap();
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations":[
            {"name":"get_weather","description":"Weather","parameters":{"type":"object",
              "properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},
              "required":["location"]}},
            {"name":"get_time"}
        ]}])
    );
    assert!(body.get("toolConfig").is_none());
    let err = build(
        json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "tools":[{"type":"custom","custom":{"name":"x"}}]}),
    )
    .unwrap_err();
    assert_eq!(bad(err).1.as_deref(), Some("tools"));
}

#[test]
fn tool_choice_variants() {
    let cases = [
        (json!("auto"), json!({"mode":"AUTO"})),
        (json!("none"), json!({"mode":"NONE"})),
        (json!("required"), json!({"mode":"ANY"})),
        (
            json!({"type":"function","function":{"name":"get_time"}}),
            json!({"mode":"ANY","allowedFunctionNames":["get_time"]}),
        ),
        (
            json!({"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"get_weather"}}]}}),
            json!({"mode":"ANY","allowedFunctionNames":["get_weather"]}),
        ),
    ];
    for (choice, want) in cases {
        let body = build(
            json!({"model":"m","messages":[{"role":"user","content":"hi"}],
            "tools": weather_tools(), "tool_choice": choice}),
        )
        .unwrap();
        assert_eq!(
            body["toolConfig"],
            json!({ "functionCallingConfig": want }),
            "{choice}"
        );
        assert_eq!(
            body["tools"][0]["functionDeclarations"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }
    // allowed_tools in auto mode narrows the declarations instead.
    let body = build(json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "tools": weather_tools(), "tool_choice": {"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"get_time"}}]}}}))
    .unwrap();
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig":{"mode":"AUTO"}})
    );
    assert_eq!(
        body["tools"][0]["functionDeclarations"],
        json!([{"name":"get_time"}])
    );
    // Legacy functions / function_call.
    let body = build(json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "functions":[{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"integer"}}}}],
        "function_call":{"name":"f"}}))
    .unwrap();
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}})
    );
    let err = build(
        json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "tools": weather_tools(), "tool_choice": {"type":"function","function":{"name":"nope"}}}),
    )
    .unwrap_err();
    assert_eq!(bad(err).1.as_deref(), Some("tool_choice"));
}

#[test]
fn parallel_tool_calls_and_results_line_up() {
    let body = build(json!({"model":"m","messages":[
        {"role":"user","content":"Weather and time?"},
        {"role":"assistant","content":null,"tool_calls":[
            {"id":"call_A","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}},
            {"id":"call_B","type":"function","function":{"name":"get_time","arguments":""}}]},
        {"role":"tool","tool_call_id":"call_B","content":"12:00"},
        {"role":"tool","tool_call_id":"call_A","content":"{\"temp\":18}"},
        {"role":"user","content":"Thanks"}
    ], "tools": weather_tools()}))
    .unwrap();
    assert_eq!(
        body["contents"],
        json!([
            {"role":"user","parts":[{"text":"Weather and time?"}]},
            {"role":"model","parts":[
                {"functionCall":{"name":"get_weather","args":{"location":"Paris"}}},
                {"functionCall":{"name":"get_time","args":{}}}]},
            {"role":"user","parts":[
                {"functionResponse":{"name":"get_weather","response":{"temp":18}}},
                {"functionResponse":{"name":"get_time","response":{"content":"12:00"}}},
                {"text":"Thanks"}]}
        ])
    );
}

#[test]
fn tool_results_must_match_calls() {
    let missing = build(json!({"model":"m","messages":[
        {"role":"user","content":"q"},
        {"role":"assistant","tool_calls":[
            {"id":"call_A","type":"function","function":{"name":"a","arguments":"{}"}},
            {"id":"call_B","type":"function","function":{"name":"b","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":"call_A","content":"x"}
    ]}))
    .unwrap_err();
    let (message, param) = bad(missing);
    assert_eq!(param.as_deref(), Some("messages"));
    assert!(message.contains("call_B"), "{message}");
    let orphan = build(json!({"model":"m","messages":[
        {"role":"user","content":"q"},{"role":"tool","tool_call_id":"call_Z","content":"x"}
    ]}))
    .unwrap_err();
    assert_eq!(bad(orphan).1.as_deref(), Some("messages"));
    let unknown = build(json!({"model":"m","messages":[
        {"role":"user","content":"q"},
        {"role":"assistant","tool_calls":[{"id":"call_A","type":"function","function":{"name":"a","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":"call_Q","content":"x"}
    ]}))
    .unwrap_err();
    assert!(bad(unknown).0.contains("call_Q"));
    let garbage = build(json!({"model":"m","messages":[
        {"role":"user","content":"q"},
        {"role":"assistant","tool_calls":[{"id":"call_A","type":"function","function":{"name":"a","arguments":"{not json"}}]},
        {"role":"tool","tool_call_id":"call_A","content":"x"}
    ]}))
    .unwrap_err();
    assert_eq!(bad(garbage).1.as_deref(), Some("messages"));
}

#[test]
fn images_audio_and_files_go_inline() {
    let body = build(json!({"model":"m","messages":[{"role":"user","content":[
        {"type":"text","text":"What is this?"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
        {"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},
        {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"a.pdf"}}
    ]}]}))
    .unwrap();
    assert_eq!(
        body["contents"][0]["parts"],
        json!([
            {"text":"What is this?"},
            {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},
            {"inlineData":{"mimeType":"audio/wav","data":"UklGRg=="}},
            {"inlineData":{"mimeType":"application/pdf","data":"JVBERi0="}}
        ])
    );
    for url in [
        "https://example.com/cat.png",
        "http://example.com/cat.png",
        "data:image/png,notbase64",
        "data:;base64,AAAA",
        "ftp://x/y.png",
    ] {
        let err = build(json!({"model":"m","messages":[{"role":"user","content":[
            {"type":"image_url","image_url":{"url":url}}]}]}))
        .unwrap_err();
        assert_eq!(bad(err).1.as_deref(), Some("messages"), "{url}");
    }
}

/// The request of the protocols file, §4.2, reproduced from an OpenAI request.
#[test]
fn known_answer_request_of_the_protocols_file() {
    let body = build(json!({"model":"gemini-2.5-flash","messages":[
        {"role":"system","content":"You are terse."},
        {"role":"user","content":[{"type":"text","text":"What is in this image?"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,<base64>"}}]},
        {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
            "function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},
        {"role":"tool","tool_call_id":"call_1","content":"18C"}
    ],
    "tools":[{"type":"function","function":{"name":"get_weather","description":"…",
        "parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}],
    "tool_choice":"auto",
    "safety_settings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}],
    "temperature":0.7,"top_p":0.95,"top_k":40,"max_tokens":1024,"n":1,"stop":["END"],
    "response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"OBJECT","properties":{}}}}
    }))
    .unwrap();
    let expected = r#"{"systemInstruction":{"parts":[{"text":"You are terse."}]},
 "contents":[{"role":"user","parts":[{"text":"What is in this image?"},{"inlineData":{"mimeType":"image/png","data":"<base64>"}}]},
             {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"location":"Paris"}}}]},
             {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"content":"18C"}}}]}],
 "tools":[{"functionDeclarations":[{"name":"get_weather","description":"…","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}]}],
 "toolConfig":{"functionCallingConfig":{"mode":"AUTO"}},
 "safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}],
 "generationConfig":{"temperature":0.7,"topP":0.95,"topK":40,"maxOutputTokens":1024,"candidateCount":1,"stopSequences":["END"],
                     "responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{}}}}"#;
    let expected: Value = serde_json::from_str(expected).unwrap();
    // Byte for byte in canonical (sorted-key, compact) form.
    assert_eq!(
        serde_json::to_string(&body).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
}

#[test]
fn request_snapshot() {
    let body = build(json!({"model":"gemini-2.5-pro","messages":[
        {"role":"system","content":"You are a weather bot."},
        {"role":"developer","content":"Answer in French."},
        {"role":"user","content":[{"type":"text","text":"Weather in Paris and Rome?"},
            {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}}]},
        {"role":"assistant","content":"Let me check.","tool_calls":[
            {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}},
            {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Rome\"}"}}]},
        {"role":"tool","tool_call_id":"call_1","content":"18C"},
        {"role":"tool","tool_call_id":"call_2","content":"{\"temp\":\"24C\"}"},
        {"role":"user","content":"And tomorrow?"}
    ],
    "tools": weather_tools(), "tool_choice":"required",
    "temperature":0.3,"top_p":0.9,"top_k":20,"max_completion_tokens":256,"stop":"STOP"}))
    .unwrap();
    insta::assert_json_snapshot!(body);
}
