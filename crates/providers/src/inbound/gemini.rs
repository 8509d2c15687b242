//! Gemini `generateContent` in, canonical out, and back. Both camelCase and snake_case request
//! keys are accepted, as Google's own endpoint does.

use serde_json::{Map, Value, json};
use switchyard_types::ChatRequest;

use super::view;

/// A field by its camelCase or snake_case name.
fn field<'a>(v: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    v.get(camel)
        .or_else(|| v.get(snake))
        .filter(|x| !x.is_null())
}

fn parts_text(parts: &[Value]) -> String {
    parts
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect::<Vec<_>>()
        .join("")
}

/// Converts a `generateContent` body for `model` to the canonical request.
pub fn request_to_chat(body: &Value, model: &str, stream: bool) -> Result<ChatRequest, String> {
    let obj = body.as_object().ok_or("the body must be a JSON object")?;
    let contents = obj
        .get("contents")
        .and_then(Value::as_array)
        .ok_or("contents is required")?;
    let mut messages = Vec::new();
    if let Some(sys) = field(body, "systemInstruction", "system_instruction") {
        let parts = sys["parts"].as_array().cloned().unwrap_or_default();
        messages.push(json!({"role": "system", "content": parts_text(&parts)}));
    }
    let mut call_ids: Vec<(String, String)> = Vec::new();
    let mut n = 0;
    for c in contents {
        let role = c["role"].as_str().unwrap_or("user");
        let role = match role {
            "user" => "user",
            "model" => "assistant",
            other => {
                return Err(format!(
                    "Please use a valid role: user, model. (got `{other}`)"
                ));
            }
        };
        let parts = c["parts"].as_array().cloned().unwrap_or_default();
        let mut content_parts = Vec::new();
        let mut tool_calls = Vec::new();
        for p in &parts {
            if let Some(t) = p["text"].as_str() {
                content_parts.push(json!({"type": "text", "text": t}));
            } else if let Some(d) = field(p, "inlineData", "inline_data") {
                let mime = field(d, "mimeType", "mime_type")
                    .and_then(Value::as_str)
                    .unwrap_or("image/png");
                let data = d["data"]
                    .as_str()
                    .unwrap_or("")
                    .replace('-', "+")
                    .replace('_', "/");
                content_parts.push(json!({"type": "image_url", "image_url": {"url": format!("data:{mime};base64,{data}")}}));
            } else if let Some(fc) = field(p, "functionCall", "function_call") {
                n += 1;
                let name = fc["name"].as_str().unwrap_or("").to_owned();
                let id = fc["id"]
                    .as_str()
                    .map_or_else(|| format!("call_{n}"), str::to_owned);
                call_ids.push((name.clone(), id.clone()));
                tool_calls.push(json!({"id": id, "type": "function", "function": {
                    "name": name, "arguments": fc.get("args").cloned().unwrap_or(json!({})).to_string()}}));
            } else if let Some(fr) = field(p, "functionResponse", "function_response") {
                let name = fr["name"].as_str().unwrap_or("");
                let id = fr["id"].as_str().map(str::to_owned).or_else(|| {
                    call_ids
                        .iter()
                        .rev()
                        .find(|(n, _)| n == name)
                        .map(|(_, id)| id.clone())
                });
                messages.push(
                    json!({"role": "tool", "tool_call_id": id.unwrap_or_default(),
                    "content": fr.get("response").cloned().unwrap_or(json!({})).to_string()}),
                );
            }
        }
        if content_parts.is_empty() && tool_calls.is_empty() {
            continue;
        }
        let mut m = Map::new();
        m.insert("role".into(), json!(role));
        if content_parts.iter().all(|p| p["type"] == "text") {
            let text = content_parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("");
            m.insert(
                "content".into(),
                if text.is_empty() && !tool_calls.is_empty() {
                    Value::Null
                } else {
                    json!(text)
                },
            );
        } else {
            m.insert("content".into(), Value::Array(content_parts));
        }
        if !tool_calls.is_empty() {
            m.insert("tool_calls".into(), Value::Array(tool_calls));
        }
        messages.push(Value::Object(m));
    }
    let mut out = json!({"model": model, "messages": messages});
    let o = out.as_object_mut().ok_or("unreachable")?;
    if stream {
        o.insert("stream".into(), json!(true));
        o.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(g) = field(body, "generationConfig", "generation_config") {
        let map = [
            ("maxOutputTokens", "max_output_tokens", "max_tokens"),
            ("stopSequences", "stop_sequences", "stop"),
            ("temperature", "temperature", "temperature"),
            ("topP", "top_p", "top_p"),
            ("candidateCount", "candidate_count", "n"),
        ];
        for (camel, snake, to) in map {
            if let Some(v) = field(g, camel, snake) {
                // Integers may arrive as floats (google-genai sends 20.0).
                let v = match (to, v.as_f64()) {
                    ("max_tokens" | "n", Some(f)) => json!(f as u64),
                    _ => v.clone(),
                };
                o.insert(to.into(), v);
            }
        }
    }
    if let Some(tools) = obj.get("tools").and_then(Value::as_array) {
        let mut fns = Vec::new();
        for t in tools {
            for f in field(t, "functionDeclarations", "function_declarations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let mut function = json!({"name": f["name"]});
                if let Some(d) = f.get("description").filter(|d| d.is_string()) {
                    function["description"] = d.clone();
                }
                function["parameters"] = field(f, "parametersJsonSchema", "parameters_json_schema")
                    .cloned()
                    .or_else(|| f.get("parameters").map(json_schema))
                    .unwrap_or(json!({"type": "object"}));
                fns.push(json!({"type": "function", "function": function}));
            }
        }
        if !fns.is_empty() {
            o.insert("tools".into(), Value::Array(fns));
        }
    }
    if let Some(cfg) = field(body, "toolConfig", "tool_config")
        .and_then(|t| field(t, "functionCallingConfig", "function_calling_config"))
    {
        let allowed =
            field(cfg, "allowedFunctionNames", "allowed_function_names").and_then(Value::as_array);
        let choice = match cfg["mode"].as_str() {
            Some("NONE") => json!("none"),
            Some("ANY") => match allowed.filter(|a| a.len() == 1) {
                Some(a) => json!({"type": "function", "function": {"name": a[0]}}),
                None => json!("required"),
            },
            _ => json!("auto"),
        };
        o.insert("tool_choice".into(), choice);
    }
    serde_json::from_value(out).map_err(|e| e.to_string())
}

fn finish_reason(f: Option<&str>) -> &'static str {
    match f {
        Some("length") => "MAX_TOKENS",
        Some("content_filter") => "SAFETY",
        _ => "STOP",
    }
}

fn usage_metadata(prompt: u64, completion: u64) -> Value {
    json!({"promptTokenCount": prompt, "candidatesTokenCount": completion, "totalTokenCount": prompt + completion})
}

/// A canonical `chat.completion` as a `GenerateContentResponse`.
pub fn completion_to_response(c: &Value, model: &str) -> Value {
    let candidates: Vec<Value> = c["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|choice| {
            let msg = &choice["message"];
            let mut parts = Vec::new();
            if let Some(t) = msg["content"].as_str().filter(|t| !t.is_empty()) {
                parts.push(json!({"text": t}));
            }
            for tc in msg["tool_calls"].as_array().into_iter().flatten() {
                let args: Value = tc["function"]["arguments"].as_str().and_then(|a| serde_json::from_str(a).ok()).unwrap_or(json!({}));
                parts.push(json!({"functionCall": {"name": tc["function"]["name"], "args": args}}));
            }
            json!({"content": {"role": "model", "parts": parts}, "finishReason": finish_reason(choice["finish_reason"].as_str()), "index": choice["index"]})
        })
        .collect();
    let u = &c["usage"];
    json!({
        "candidates": candidates,
        "usageMetadata": usage_metadata(u["prompt_tokens"].as_u64().unwrap_or(0), u["completion_tokens"].as_u64().unwrap_or(0)),
        "modelVersion": model,
    })
}

/// Gemini's error body for a status.
pub fn error_body(status: u16, message: &str) -> Value {
    let s = match status {
        400 | 413 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        402 | 403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    };
    json!({"error": {"code": status, "message": message, "status": s}})
}

/// Writes canonical chunks as Gemini stream chunks.
#[derive(Debug)]
pub struct StreamEncoder {
    model: String,
    /// Tool calls being assembled (Gemini sends whole calls): index → (name, arguments).
    calls: Vec<(u64, String, String)>,
    finish: Option<String>,
}

impl StreamEncoder {
    /// An encoder for an answer from `model`.
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            calls: Vec::new(),
            finish: None,
        }
    }

    /// The chunk for one canonical chunk, if it carries text.
    pub fn chunk(&mut self, payload: &[u8]) -> Option<Value> {
        let v = view(payload)?;
        for tc in &v.tool_calls {
            let i = tc["index"].as_u64().unwrap_or(0);
            let args = tc["function"]["arguments"].as_str().unwrap_or("");
            match self.calls.iter_mut().find(|c| c.0 == i) {
                Some(c) => c.2.push_str(args),
                None => self.calls.push((
                    i,
                    tc["function"]["name"].as_str().unwrap_or("").to_owned(),
                    args.to_owned(),
                )),
            }
        }
        if v.finish_reason.is_some() {
            self.finish = v.finish_reason;
        }
        let t = v.text?;
        Some(
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": t}]}, "index": 0}], "modelVersion": self.model}),
        )
    }

    /// The last chunk: whole function calls, finish reason and usage.
    pub fn finish(&mut self, prompt: u64, completion: u64) -> Value {
        let parts: Vec<Value> = self
            .calls
            .iter()
            .map(|(_, name, args)| json!({"functionCall": {"name": name, "args": serde_json::from_str::<Value>(args).unwrap_or(json!({}))}}))
            .collect();
        let parts = if parts.is_empty() {
            vec![json!({"text": ""})]
        } else {
            parts
        };
        json!({
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish_reason(self.finish.as_deref()), "index": 0}],
            "usageMetadata": usage_metadata(prompt, completion),
            "modelVersion": self.model,
        })
    }
}

/// Gemini's OpenAPI-style schema as JSON Schema: its type names are upper case (`OBJECT`,
/// `STRING`), JSON Schema's lower case.
fn json_schema(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(t) if k == "type" => Value::String(t.to_ascii_lowercase()),
                        other => json_schema(other),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(json_schema).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_in_either_spelling() {
        let body = json!({
            "system_instruction": {"parts": [{"text": "be brief"}]},
            "contents": [
                {"role": "user", "parts": [{"text": "hi"}, {"inline_data": {"mime_type": "image/png", "data": "a-b_"}}]},
                {"role": "model", "parts": [{"functionCall": {"name": "w", "args": {"c": "P"}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "w", "response": {"t": 20}}}]}
            ],
            "generationConfig": {"maxOutputTokens": 64.0, "topK": 20.0, "stopSequences": ["x"]},
            "tools": [{"functionDeclarations": [{"name": "w", "parameters": {"type": "object"}}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["w"]}}
        });
        let v = serde_json::to_value(request_to_chat(&body, "gemini-x", true).unwrap()).unwrap();
        assert_eq!(
            v["messages"][0],
            json!({"role":"system","content":"be brief"})
        );
        assert_eq!(
            v["messages"][1]["content"][1]["image_url"]["url"],
            "data:image/png;base64,a+b/"
        );
        let id = v["messages"][2]["tool_calls"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(v["messages"][3]["tool_call_id"], id);
        assert_eq!(v["max_tokens"], 64);
        assert_eq!(v["stop"], json!(["x"]));
        assert_eq!(v["tool_choice"]["function"]["name"], "w");
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert!(
            request_to_chat(
                &json!({"contents":[{"role":"system","parts":[]}]}),
                "m",
                false
            )
            .unwrap_err()
            .contains("valid role")
        );
    }

    #[test]
    fn stream_and_completion_out() {
        let mut e = StreamEncoder::new("gemini-x");
        let a = e
            .chunk(
                json!({"choices":[{"index":0,"delta":{"content":"Hel"}}]})
                    .to_string()
                    .as_bytes(),
            )
            .unwrap();
        assert_eq!(a["candidates"][0]["content"]["parts"][0]["text"], "Hel");
        assert!(e.chunk(json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"w","arguments":"{\"a\""}}]}}]}).to_string().as_bytes()).is_none());
        e.chunk(json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},"finish_reason":"tool_calls"}]}).to_string().as_bytes());
        let last = e.finish(3, 4);
        assert_eq!(
            last["candidates"][0]["content"]["parts"][0]["functionCall"]["args"],
            json!({"a":1})
        );
        assert_eq!(last["usageMetadata"]["totalTokenCount"], 7);
        let c = json!({"choices":[{"index":0,"message":{"content":"ok"},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":2}});
        let r = completion_to_response(&c, "gemini-x");
        assert_eq!(r["candidates"][0]["finishReason"], "MAX_TOKENS");
        assert_eq!(
            error_body(429, "slow")["error"]["status"],
            "RESOURCE_EXHAUSTED"
        );
    }
}
