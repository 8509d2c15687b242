//! The Gemini simulator's answers and request validation: usage formulas, limits, unknown
//! fields and roles, function turns, function calls and thought signatures.

use serde_json::{Value, json};

use super::{err_status, generate, gsim, post, prompt_tokens, user};

#[tokio::test]
async fn answer_usage_and_spelling() {
    let sim = gsim().await;
    // snake_case keys are accepted like camelCase ones.
    let body = json!({
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "Hello there"}]}],
        "generation_config": {"max_output_tokens": 100, "temperature": 0.5, "top_k": 20.0}
    });
    let (status, text) = post(&sim, "gemini-2.0-flash", "generateContent", &body).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("\n  \""),
        "pretty-printed like Google: {text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let cand = &v["candidates"][0];
    assert_eq!(
        cand["content"]["parts"][0]["text"],
        json!("Hello from gemini gemini-2.0-flash: Hello there")
    );
    assert_eq!(cand["content"]["role"], json!("model"));
    assert_eq!(cand["finishReason"], json!("STOP"));
    let prompt = prompt_tokens(&["Hello there", "Be brief."]);
    assert_eq!(v["usageMetadata"]["promptTokenCount"], json!(prompt));
    assert_eq!(v["usageMetadata"]["candidatesTokenCount"], json!(5));
    assert_eq!(v["usageMetadata"]["totalTokenCount"], json!(prompt + 5));
    assert!(v["usageMetadata"].get("thoughtsTokenCount").is_none());
    assert_eq!(v["modelVersion"], json!("gemini-2.0-flash"));
    assert!(v["responseId"].as_str().is_some_and(|r| !r.is_empty()));

    // Thinking models add thoughts to the total.
    let (_, v) = generate(&sim, "gemini-2.5-flash", &user("hi")).await;
    let u = &v["usageMetadata"];
    assert_eq!(u["thoughtsTokenCount"], json!(4));
    assert_eq!(
        u["totalTokenCount"].as_u64().unwrap(),
        u["promptTokenCount"].as_u64().unwrap() + 5 + 4
    );
    let (_, v) = generate(&sim, "gemini-2.5-flash-lite", &user("hi")).await;
    assert!(v["usageMetadata"].get("thoughtsTokenCount").is_none());
    // includeThoughts adds a thought part; thinking budget 0 is refused on 2.5 Pro.
    let mut b = user("hi");
    b["generationConfig"] = json!({"thinkingConfig": {"includeThoughts": true}});
    let (_, v) = generate(&sim, "gemini-2.5-pro", &b).await;
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["thought"],
        json!(true)
    );
    b["generationConfig"] = json!({"thinkingConfig": {"thinkingBudget": 0}});
    let (status, v) = generate(&sim, "gemini-2.5-pro", &b).await;
    assert_eq!(status, 400);
    assert!(v["error"]["message"].as_str().unwrap().contains("Budget 0"));
    let (status, v) = generate(&sim, "gemini-2.5-flash", &b).await;
    assert_eq!(status, 200);
    assert!(v["usageMetadata"].get("thoughtsTokenCount").is_none());
}

#[tokio::test]
async fn limits_stops_and_candidates() {
    let sim = gsim().await;
    let mut b = user("abc");
    b["generationConfig"] = json!({"maxOutputTokens": 2, "candidateCount": 2});
    let (_, v) = generate(&sim, "gemini-1.5-flash", &b).await;
    assert_eq!(v["candidates"].as_array().unwrap().len(), 2);
    assert_eq!(v["candidates"][1]["index"], json!(1));
    assert_eq!(v["candidates"][0]["finishReason"], json!("MAX_TOKENS"));
    assert_eq!(v["usageMetadata"]["candidatesTokenCount"], json!(4));
    b["generationConfig"] = json!({"stopSequences": [":"]});
    let (_, v) = generate(&sim, "gemini-1.5-flash", &b).await;
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        json!("Hello from gemini gemini-1.5-flash")
    );
    for (config, needle) in [
        (json!({"temperature": 2.5}), "temperature"),
        (json!({"topP": 1.5}), "topP"),
        (json!({"candidateCount": 9}), "candidateCount"),
        (json!({"maxOutputTokens": 0}), "max_output_tokens"),
        (
            json!({"stopSequences": ["a","b","c","d","e","f"]}),
            "stop_sequences",
        ),
    ] {
        b["generationConfig"] = config;
        let (status, v) = generate(&sim, "gemini-1.5-flash", &b).await;
        assert_eq!(status, 400, "{needle}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{v}"
        );
    }
}

#[tokio::test]
async fn unknown_fields_roles_and_shapes_are_refused() {
    let sim = gsim().await;
    let cases = [
        (
            json!({"contents":[{"role":"user","parts":[{"text":"x"}]}],"temperature":1}),
            "Unknown name \"temperature\": Cannot find field.",
        ),
        (
            json!({"contents":[{"role":"user","parts":[{"text":"x"}]}],"generationConfig":{"max_tokens":5}}),
            "Unknown name \"max_tokens\" at 'generation_config': Cannot find field.",
        ),
        (
            json!({"contents":[{"role":"user","parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[
            {"name":"f","parameters":{"type":"object","additionalProperties":false,"properties":{"a":{"type":"string"}}}}]}]}),
            "Unknown name \"additionalProperties\" at 'tools[0].function_declarations[0].parameters'",
        ),
        (
            json!({"contents":[{"role":"user","parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[
            {"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string","$ref":"#/x"}}}}]}]}),
            "at 'tools[0].function_declarations[0].parameters.properties[0].value'",
        ),
        (
            json!({"contents":[{"role":"assistant","parts":[{"text":"x"}]}]}),
            "Please use a valid role: user, model.",
        ),
        (
            json!({"contents":[{"role":"system","parts":[{"text":"x"}]}]}),
            "Please use a valid role: user, model.",
        ),
        (json!({"contents":[]}), "contents is not specified"),
        (
            json!({"contents":[{"role":"user","parts":[]}]}),
            "contents.parts must not be empty",
        ),
        (
            json!({"contents":[{"role":"user","parts":[{"text":5}]}]}),
            "Invalid value at 'contents[0].parts[0].text' (TYPE_STRING), 5",
        ),
        (
            json!({"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"image/png","data":"!!!"}}]}]}),
            "Base64 decoding failed",
        ),
        (
            json!({"contents":[{"role":"user","parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[
            {"name":"f","parameters":{"type":"object","properties":{}}}]}]}),
            "should be non-empty for OBJECT type",
        ),
        (
            json!({"contents":[{"role":"user","parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"9bad"}]}]}),
            "Invalid function name",
        ),
        (
            json!({"contents":[{"role":"user","parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f"}]}],
            "toolConfig":{"functionCallingConfig":{"mode":"AUTO","allowedFunctionNames":["f"]}}}),
            "allowed_function_names",
        ),
        (
            json!({"contents":[{"role":"user","parts":[{"text":"x"}]}],
            "safetySettings":[{"category":"HARM_CATEGORY_NICE","threshold":"BLOCK_NONE"}]}),
            "HarmCategory",
        ),
        (
            json!({"contents":[{"role":"user","parts":[{"text":"x"}]}],"systemInstruction":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}}),
            "only text parts",
        ),
    ];
    for (body, needle) in cases {
        let (status, v) = generate(&sim, "gemini-2.0-flash", &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(err_status(&v), (400, "INVALID_ARGUMENT"));
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message} lacks {needle}");
    }
}

fn call_turns(responses: Value) -> Value {
    json!({"contents":[
        {"role":"user","parts":[{"text":"weather?"}]},
        {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"location":"Paris"}}},
                                 {"functionCall":{"name":"get_weather","args":{"location":"Rome"}}}]},
        {"role":"user","parts":responses}
    ],"tools":[{"functionDeclarations":[{"name":"get_weather"}]}]})
}

#[tokio::test]
async fn function_turns_must_line_up() {
    let sim = gsim().await;
    let one = json!([{"functionResponse":{"name":"get_weather","response":{"content":"18C"}}}]);
    let (status, v) = generate(&sim, "gemini-2.0-flash", &call_turns(one.clone())).await;
    assert_eq!(status, 400);
    assert!(v["error"]["message"].as_str().unwrap().contains(
        "number of function response parts is equal to the number of function call parts"
    ));
    let string = json!([{"functionResponse":{"name":"get_weather","response":"18C"}},
                        {"functionResponse":{"name":"get_weather","response":"20C"}}]);
    let (status, v) = generate(&sim, "gemini-2.0-flash", &call_turns(string)).await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("google.protobuf.Struct")
    );
    let two = json!([{"functionResponse":{"name":"get_weather","response":{"content":"18C"}}},
                     {"functionResponse":{"name":"get_weather","response":{"content":"20C"}}},
                     {"text":"and?"}]);
    let (status, v) = generate(&sim, "gemini-2.0-flash", &call_turns(two)).await;
    assert_eq!(status, 200, "{v}");
    // After function responses the answer is text that echoes the first response.
    let text = v["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert!(text.contains(r#"tool result: {"content":"18C"}"#), "{text}");
    // A response turn with no call before it.
    let orphan = json!({"contents":[{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}}]}]});
    let (status, v) = generate(&sim, "gemini-2.0-flash", &orphan).await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("function response turn")
    );
}

#[tokio::test]
async fn function_calls_and_thought_signatures() {
    let sim = gsim().await;
    let tools = json!([{"functionDeclarations":[
        {"name":"get_weather","parameters":{"type":"OBJECT","properties":{"location":{"type":"STRING"}}}},
        {"name":"get_time"}]}]);
    let mut b = user("weather?");
    b["tools"] = tools.clone();
    let (_, v) = generate(&sim, "gemini-2.0-flash", &b).await;
    let parts = v["candidates"][0]["content"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(
        parts[0]["functionCall"],
        json!({"name":"get_weather","args":{"location":"Paris","unit":"celsius"}})
    );
    assert!(parts[0].get("thoughtSignature").is_none());
    assert_eq!(v["candidates"][0]["finishReason"], json!("STOP"));
    assert_eq!(v["usageMetadata"]["candidatesTokenCount"], json!(8));
    // sim_parallel calls every function; ANY + allowedFunctionNames picks the named one.
    let mut p = user("weather and time? sim_parallel");
    p["tools"] = tools.clone();
    let (_, v) = generate(&sim, "gemini-2.0-flash", &p).await;
    assert_eq!(
        v["candidates"][0]["content"]["parts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(v["usageMetadata"]["candidatesTokenCount"], json!(16));
    b["toolConfig"] =
        json!({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_time"]}});
    let (_, v) = generate(&sim, "gemini-2.0-flash", &b).await;
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["functionCall"]["name"],
        json!("get_time")
    );
    b["toolConfig"] = json!({"functionCallingConfig":{"mode":"NONE"}});
    let (_, v) = generate(&sim, "gemini-2.0-flash", &b).await;
    assert!(v["candidates"][0]["content"]["parts"][0]["text"].is_string());

    // Thinking models sign their calls; the signature must come back intact.
    let mut t = user("weather?");
    t["tools"] = tools;
    let (_, v) = generate(&sim, "gemini-2.5-flash", &t).await;
    let call = v["candidates"][0]["content"]["parts"][0].clone();
    let sig = call["thoughtSignature"].as_str().unwrap().to_owned();
    let follow = |signature: Option<&str>| {
        let mut part = json!({"functionCall": call["functionCall"].clone()});
        if let Some(s) = signature {
            part["thoughtSignature"] = json!(s);
        }
        json!({"contents":[
            {"role":"user","parts":[{"text":"weather?"}]},
            {"role":"model","parts":[part]},
            {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"t":"18C"}}}]}
        ],"tools": t["tools"].clone()})
    };
    let (status, _) = generate(&sim, "gemini-2.5-flash", &follow(Some(&sig))).await;
    assert_eq!(status, 200);
    let (status, _) = generate(&sim, "gemini-2.5-flash", &follow(None)).await;
    assert_eq!(status, 200, "optional before Gemini 3");
    let (status, v) = generate(&sim, "gemini-2.5-flash", &follow(Some("QUJD"))).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["message"], json!("Corrupted thought signature."));
}
