//! Snapshots of the inbound conversions, both ways: an Anthropic / Gemini request with system
//! text, an image, a tool call and its result becomes the canonical request; a canonical stream
//! with text and two parallel tool calls becomes Anthropic's named events and Gemini's chunks.

use serde_json::{Value, json};

use super::{anthropic, gemini};

/// Text, then two tool calls streamed in fragments, then the finish.
fn tool_call_stream() -> Vec<Value> {
    let c = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 1,
               "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    vec![
        c(json!({"role": "assistant", "content": ""}), Value::Null),
        c(json!({"content": "Checking both."}), Value::Null),
        c(
            json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                   "function": {"name": "weather", "arguments": ""}}]}),
            Value::Null,
        ),
        c(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
            Value::Null,
        ),
        c(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
            Value::Null,
        ),
        c(
            json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                   "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}]}),
            Value::Null,
        ),
        c(json!({}), json!("tool_calls")),
    ]
}

#[test]
fn anthropic_request_to_canonical() {
    let body = json!({
        "model": "claude-x", "max_tokens": 300, "stream": true, "temperature": 0.2, "top_k": 4,
        "stop_sequences": ["END"],
        "system": [{"type": "text", "text": "be brief"}, {"type": "text", "text": "be kind"}],
        "tools": [{"name": "weather", "description": "w",
                   "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": {"type": "tool", "name": "weather"},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "what is here?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "20C"},
                {"type": "text", "text": "and now?"}]}
        ]
    });
    let req = anthropic::request_to_chat(&body).unwrap();
    insta::assert_json_snapshot!("anthropic_request_to_canonical", req);
}

#[test]
fn canonical_tool_call_stream_to_anthropic_events() {
    let mut enc = anthropic::StreamEncoder::new("claude-x", 21);
    let mut events: Vec<Value> = Vec::new();
    for chunk in tool_call_stream() {
        for (name, data) in enc.chunk(chunk.to_string().as_bytes()) {
            events.push(json!({"event": name, "data": data}));
        }
    }
    for (name, data) in enc.finish(23, 17) {
        events.push(json!({"event": name, "data": data}));
    }
    insta::assert_json_snapshot!("canonical_tool_call_stream_to_anthropic_events", events);
}

#[test]
fn gemini_request_to_canonical() {
    let body = json!({
        "systemInstruction": {"parts": [{"text": "be brief"}]},
        "contents": [
            {"role": "user", "parts": [{"text": "what is here?"},
                                       {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}}]},
            {"role": "model", "parts": [{"functionCall": {"name": "weather", "args": {"city": "Paris"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "weather", "response": {"t": 20}}}]}
        ],
        "generationConfig": {"maxOutputTokens": 300, "temperature": 0.2, "topP": 0.9,
                             "topK": 4, "stopSequences": ["END"]},
        "tools": [{"functionDeclarations": [{"name": "weather",
                   "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}}}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}}
    });
    let req = gemini::request_to_chat(&body, "gemini-x", true).unwrap();
    let mut v = serde_json::to_value(req).unwrap();
    // The generated tool-call id is random; its pairing is asserted, then it is fixed.
    let id = v["messages"][2]["tool_calls"][0]["id"].take();
    assert_eq!(v["messages"][3]["tool_call_id"], id);
    v["messages"][3]["tool_call_id"] = json!("<generated>");
    v["messages"][2]["tool_calls"][0]["id"] = json!("<generated>");
    insta::assert_json_snapshot!("gemini_request_to_canonical", v);
}

#[test]
fn canonical_tool_call_stream_to_gemini_chunks() {
    let mut enc = gemini::StreamEncoder::new("gemini-x");
    let mut chunks: Vec<Value> = tool_call_stream()
        .iter()
        .filter_map(|c| enc.chunk(c.to_string().as_bytes()))
        .collect();
    chunks.push(enc.finish(23, 17));
    insta::assert_json_snapshot!("canonical_tool_call_stream_to_gemini_chunks", chunks);
}
