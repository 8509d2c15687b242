//! Anthropic Messages in, canonical out, and back.

use serde_json::{Map, Value, json};
use switchyard_types::ChatRequest;

use super::view;

/// Converts a `/v1/messages` body to the canonical request. Errors are messages for a 400.
pub fn request_to_chat(body: &Value) -> Result<ChatRequest, String> {
    let obj = body.as_object().ok_or("the body must be a JSON object")?;
    let model = obj
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or("model: Field required")?;
    let max_tokens = obj
        .get("max_tokens")
        .and_then(Value::as_u64)
        .ok_or("max_tokens: Field required")?;
    let messages_in = obj
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages: Field required")?;
    let mut messages = Vec::new();
    match obj.get("system") {
        Some(Value::String(s)) => messages.push(json!({"role": "system", "content": s})),
        Some(Value::Array(blocks)) => {
            let text: Vec<&str> = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
            messages.push(json!({"role": "system", "content": text.join("\n")}));
        }
        _ => {}
    }
    for m in messages_in {
        let role = m["role"]
            .as_str()
            .ok_or("messages: each message needs a role")?;
        if role != "user" && role != "assistant" {
            return Err(format!("messages: unexpected role `{role}`"));
        }
        match &m["content"] {
            Value::String(s) => messages.push(json!({"role": role, "content": s})),
            Value::Array(blocks) => convert_blocks(role, blocks, &mut messages)?,
            _ => return Err("messages: content must be a string or an array of blocks".into()),
        }
    }
    let mut out = json!({"model": model, "messages": messages, "max_tokens": max_tokens});
    let o = out.as_object_mut().ok_or("unreachable")?;
    if let Some(s) = obj.get("stop_sequences") {
        o.insert("stop".into(), s.clone());
    }
    for k in ["temperature", "top_p", "stream"] {
        if let Some(v) = obj.get(k) {
            o.insert(k.into(), v.clone());
        }
    }
    if let Some(tools) = obj.get("tools").and_then(Value::as_array) {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| json!({"type": "function", "function": {
                "name": t["name"], "description": t.get("description").cloned().unwrap_or(Value::Null),
                "parameters": t.get("input_schema").cloned().unwrap_or(json!({"type": "object"}))}}))
            .collect();
        o.insert("tools".into(), Value::Array(tools));
    }
    if let Some(tc) = obj.get("tool_choice") {
        let choice = match tc["type"].as_str() {
            Some("auto") => json!("auto"),
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => json!({"type": "function", "function": {"name": tc["name"]}}),
            _ => return Err("tool_choice: unknown type".into()),
        };
        o.insert("tool_choice".into(), choice);
        if tc["disable_parallel_tool_use"].as_bool() == Some(true) {
            o.insert("parallel_tool_calls".into(), json!(false));
        }
    }
    serde_json::from_value(out).map_err(|e| e.to_string())
}

fn convert_blocks(role: &str, blocks: &[Value], out: &mut Vec<Value>) -> Result<(), String> {
    let mut parts = Vec::new();
    let mut tool_calls = Vec::new();
    for b in blocks {
        match b["type"].as_str() {
            Some("text") => parts.push(json!({"type": "text", "text": b["text"]})),
            Some("image") => {
                let src = &b["source"];
                let url = match src["type"].as_str() {
                    Some("base64") => format!(
                        "data:{};base64,{}",
                        src["media_type"].as_str().unwrap_or("image/png"),
                        src["data"].as_str().unwrap_or("")
                    ),
                    Some("url") => src["url"].as_str().unwrap_or("").to_owned(),
                    _ => return Err("image: unknown source type".into()),
                };
                parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
            }
            Some("tool_use") => tool_calls.push(json!({
                "id": b["id"], "type": "function",
                "function": {"name": b["name"], "arguments": b["input"].to_string()}
            })),
            Some("tool_result") => {
                let content = match &b["content"] {
                    Value::String(s) => s.clone(),
                    Value::Array(items) => items
                        .iter()
                        .filter_map(|i| i["text"].as_str())
                        .collect::<Vec<_>>()
                        .join("\n"),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                out.push(
                    json!({"role": "tool", "tool_call_id": b["tool_use_id"], "content": content}),
                );
            }
            Some("thinking" | "redacted_thinking") => {}
            other => return Err(format!("unsupported content block type {other:?}")),
        }
    }
    if !parts.is_empty() || !tool_calls.is_empty() {
        let mut m = Map::new();
        m.insert("role".into(), json!(role));
        let only_text = parts.iter().all(|p| p["type"] == "text");
        if parts.is_empty() {
            m.insert("content".into(), Value::Null);
        } else if only_text {
            let text: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
            m.insert("content".into(), json!(text.join("")));
        } else {
            m.insert("content".into(), Value::Array(parts));
        }
        if !tool_calls.is_empty() {
            m.insert("tool_calls".into(), Value::Array(tool_calls));
        }
        out.push(Value::Object(m));
    }
    Ok(())
}

fn stop_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        _ => "end_turn",
    }
}

fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_owned()
    } else {
        format!("msg_{}", id.trim_start_matches("chatcmpl-"))
    }
}

/// A canonical `chat.completion` as an Anthropic `message`.
pub fn completion_to_message(c: &Value, model: &str) -> Value {
    let choice = &c["choices"][0];
    let msg = &choice["message"];
    let mut content = Vec::new();
    if let Some(t) = msg["content"].as_str().filter(|t| !t.is_empty()) {
        content.push(json!({"type": "text", "text": t}));
    }
    for tc in msg["tool_calls"].as_array().into_iter().flatten() {
        let input: Value = tc["function"]["arguments"]
            .as_str()
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or(json!({}));
        content.push(json!({"type": "tool_use", "id": tc["id"], "name": tc["function"]["name"], "input": input}));
    }
    let usage = &c["usage"];
    json!({
        "id": message_id(c["id"].as_str().unwrap_or("")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice["finish_reason"].as_str()),
        "stop_sequence": null,
        "usage": {
            "input_tokens": usage["prompt_tokens"].as_u64().unwrap_or(0),
            "output_tokens": usage["completion_tokens"].as_u64().unwrap_or(0),
            "cache_read_input_tokens": usage["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap_or(0),
        },
    })
}

/// Anthropic's error body for a status.
pub fn error_body(status: u16, message: &str) -> Value {
    let kind = match status {
        400 | 413 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 | 403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// Writes canonical chunks as Anthropic's named stream events.
#[derive(Debug)]
pub struct StreamEncoder {
    model: String,
    input_tokens: u64,
    started: bool,
    /// Index of the open content block and whether it is text.
    open: Option<(usize, bool)>,
    next_block: usize,
    /// Canonical tool-call index → Anthropic block index.
    tools: Vec<(u64, usize)>,
    finish: Option<String>,
}

impl StreamEncoder {
    /// An encoder for an answer from `model`.
    /// `input_tokens` is what `message_start` states: the gateway's own count of the prompt
    /// (the upstream's exact count arrives only at the end, and goes in `message_delta`).
    pub fn new(model: &str, input_tokens: u64) -> Self {
        Self {
            model: model.to_owned(),
            input_tokens,
            started: false,
            open: None,
            next_block: 0,
            tools: Vec::new(),
            finish: None,
        }
    }

    fn start(&mut self, id: &str, out: &mut Vec<(&'static str, Value)>) {
        if self.started {
            return;
        }
        self.started = true;
        out.push((
            "message_start",
            json!({"type": "message_start", "message": {
            "id": message_id(id), "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": 0}}}),
        ));
    }

    /// Opens content block `index`; Anthropic sends its `ping` after the first block (index 0)
    /// opens.
    fn open_block(index: usize, block: Value, out: &mut Vec<(&'static str, Value)>) {
        out.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": block}),
        ));
        if index == 0 {
            out.push(("ping", json!({"type": "ping"})));
        }
    }

    fn close(&mut self, out: &mut Vec<(&'static str, Value)>) {
        if let Some((i, _)) = self.open.take() {
            out.push((
                "content_block_stop",
                json!({"type": "content_block_stop", "index": i}),
            ));
        }
    }

    /// Events for one canonical chunk.
    pub fn chunk(&mut self, payload: &[u8]) -> Vec<(&'static str, Value)> {
        let mut out = Vec::new();
        let id = serde_json::from_slice::<Value>(payload)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        self.start(&id, &mut out);
        let Some(v) = view(payload) else { return out };
        if let Some(t) = v.text {
            if !matches!(self.open, Some((_, true))) {
                self.close(&mut out);
                let i = self.next_block;
                self.next_block += 1;
                self.open = Some((i, true));
                Self::open_block(i, json!({"type": "text", "text": ""}), &mut out);
            }
            let i = self.open.map_or(0, |o| o.0);
            out.push(("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": t}})));
        }
        for tc in v.tool_calls {
            let ti = tc["index"].as_u64().unwrap_or(0);
            let block = match self.tools.iter().find(|(k, _)| *k == ti) {
                Some((_, b)) => *b,
                None => {
                    self.close(&mut out);
                    let b = self.next_block;
                    self.next_block += 1;
                    self.tools.push((ti, b));
                    self.open = Some((b, false));
                    let block = json!({"type": "tool_use", "id": tc["id"],
                        "name": tc["function"]["name"], "input": {}});
                    Self::open_block(b, block, &mut out);
                    b
                }
            };
            if let Some(a) = tc["function"]["arguments"]
                .as_str()
                .filter(|a| !a.is_empty())
            {
                out.push(("content_block_delta", json!({"type": "content_block_delta", "index": block, "delta": {"type": "input_json_delta", "partial_json": a}})));
            }
        }
        if v.finish_reason.is_some() {
            self.finish = v.finish_reason;
        }
        out
    }

    /// Events that end the message.
    pub fn finish(&mut self, input_tokens: u64, output_tokens: u64) -> Vec<(&'static str, Value)> {
        let mut out = Vec::new();
        self.start("", &mut out);
        self.close(&mut out);
        out.push((
            "message_delta",
            json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason(self.finish.as_deref()), "stop_sequence": null},
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}}),
        ));
        out.push(("message_stop", json!({"type": "message_stop"})));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_keeps_system_tools_images_and_tool_results() {
        let body = json!({
            "model": "claude-x", "max_tokens": 100, "system": [{"type":"text","text":"be brief"}],
            "stop_sequences": ["END"], "temperature": 0.5,
            "tools": [{"name": "weather", "description": "w", "input_schema": {"type":"object"}}],
            "tool_choice": {"type": "any"},
            "messages": [
                {"role": "user", "content": [{"type":"text","text":"look"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAA"}}]},
                {"role": "assistant", "content": [{"type":"tool_use","id":"tu1","name":"weather","input":{"city":"Paris"}}]},
                {"role": "user", "content": [{"type":"tool_result","tool_use_id":"tu1","content":"sunny"}]}
            ]
        });
        let req = request_to_chat(&body).unwrap();
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(
            v["messages"][0],
            json!({"role":"system","content":"be brief"})
        );
        assert_eq!(
            v["messages"][1]["content"][1]["image_url"]["url"],
            "data:image/png;base64,AAA"
        );
        assert_eq!(
            v["messages"][2]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"Paris\"}"
        );
        assert_eq!(
            v["messages"][3],
            json!({"role":"tool","tool_call_id":"tu1","content":"sunny"})
        );
        assert_eq!(v["stop"], json!(["END"]));
        assert_eq!(v["tool_choice"], "required");
        assert_eq!(v["tools"][0]["function"]["name"], "weather");
        assert_eq!(v["max_tokens"], 100);
        assert!(
            request_to_chat(&json!({"model":"m","messages":[]}))
                .unwrap_err()
                .contains("max_tokens")
        );
    }

    #[test]
    fn stream_events_in_anthropic_order() {
        let mut e = StreamEncoder::new("claude-x", 9);
        let mut names = Vec::new();
        let chunks = [
            json!({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}),
            json!({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"w","arguments":""}}]},"finish_reason":null}]}),
            json!({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}]}),
        ];
        let mut all = Vec::new();
        for c in chunks {
            all.extend(e.chunk(c.to_string().as_bytes()));
        }
        all.extend(e.finish(10, 5));
        for (n, _) in &all {
            names.push(*n);
        }
        // Anthropic's order: the one `ping` follows the first content_block_start.
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        // message_start states the gateway's prompt estimate; message_delta the exact count.
        assert_eq!(all[0].1["message"]["usage"]["input_tokens"], 9);
        assert_eq!(all[8].1["usage"]["input_tokens"], 10);
        assert_eq!(all[5].1["content_block"]["name"], "w");
        assert_eq!(all[6].1["delta"]["partial_json"], "{\"a\":1}");
        assert_eq!(all[8].1["delta"]["stop_reason"], "tool_use");
        assert_eq!(all[8].1["usage"]["output_tokens"], 5);
    }

    #[test]
    fn completion_becomes_a_message() {
        let c = json!({"id":"chatcmpl-9","choices":[{"index":0,"message":{"role":"assistant","content":"ok","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"x\":2}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4}});
        let m = completion_to_message(&c, "claude-x");
        assert_eq!(m["content"][0], json!({"type":"text","text":"ok"}));
        assert_eq!(m["content"][1]["input"], json!({"x":2}));
        assert_eq!(m["stop_reason"], "tool_use");
        assert_eq!(m["usage"]["input_tokens"], 3);
        assert_eq!(m["id"], "msg_9");
        assert_eq!(error_body(529, "busy")["error"]["type"], "overloaded_error");
    }
}
