//! The chat completions request.
//!
//! Known fields are typed because the gateway reads them (model, messages, stream, limits);
//! everything else lands in `extra` and is serialised back unchanged, so a request forwarded to
//! an OpenAI-dialect upstream differs from the client's only where the gateway rewrote it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /v1/chat/completions` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The requested model name.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Whether to stream the answer as server-sent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Stream options (`include_usage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Legacy output limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Current output limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    /// Number of choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// Tool definitions, kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// Every other field, passed through unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// True when the client asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// True when the client asked for the final usage chunk.
    pub fn wants_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    /// The output limit the client gave, preferring `max_completion_tokens`.
    pub fn output_limit(&self) -> Option<u64> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// Number of choices requested (at least 1).
    pub fn choices(&self) -> u64 {
        self.n.unwrap_or(1).max(1)
    }
}

/// `stream_options`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Ask for a final `choices: []` chunk carrying usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    /// Other options, passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One message of the conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `developer`, `user`, `assistant`, `tool` or legacy `function`.
    pub role: String,
    /// Text or content parts; `null` for an assistant turn that only calls tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    /// Tool calls made by an assistant turn, kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<Value>>,
    /// Which call a `tool` message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Other fields (`name`, `refusal`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Message content: a string, or an array of typed parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Parts such as `{"type":"text","text":…}` and `{"type":"image_url",…}`.
    Parts(Vec<Value>),
}

/// By hand rather than `#[serde(untagged)]`: an untagged enum buffers the value and then
/// copies it into each variant it tries, two allocations for every text message.
impl<'de> Deserialize<'de> for MessageContent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = MessageContent;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of content parts")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MessageContent::Text(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(MessageContent::Text(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(MessageContent::Parts)
            }
        }
        d.deserialize_any(Visit)
    }
}

impl MessageContent {
    /// Calls `f` on every text fragment of the content.
    pub fn for_each_text(&self, mut f: impl FnMut(&str)) {
        match self {
            Self::Text(s) => f(s),
            Self::Parts(parts) => {
                for p in parts {
                    if let Some(t) = p.get("text").and_then(Value::as_str) {
                        f(t);
                    }
                }
            }
        }
    }

    /// Number of non-text parts (images, audio, files).
    pub fn media_parts(&self) -> usize {
        match self {
            Self::Text(_) => 0,
            Self::Parts(parts) => parts.iter().filter(|p| p.get("text").is_none()).count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_round_trip() {
        let body = json!({
            "model": "gpt-4",
            "messages": [{"role": "user", "content": "hi", "name": "bob"},
                         {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "http://a"}}]}],
            "temperature": 0.7,
            "logit_bias": {"50256": -100},
            "stream_options": {"include_usage": true, "include_obfuscation": false},
            "vendor_thing": [1, 2, 3]
        });
        let req: ChatRequest = serde_json::from_value(body.clone()).unwrap();
        assert!(req.wants_usage());
        assert_eq!(req.messages[1].content.as_ref().unwrap().media_parts(), 1);
        assert_eq!(serde_json::to_value(&req).unwrap(), body);
    }

    #[test]
    fn content_is_text_parts_or_null_and_nothing_else() {
        let msg = |content: Value| {
            serde_json::from_value::<ChatMessage>(json!({"role": "user", "content": content}))
        };
        let text = msg(json!("hé \"q\"")).unwrap();
        assert_eq!(text.content, Some(MessageContent::Text("hé \"q\"".into())));
        // From bytes too, where serde_json hands strings over borrowed or, with escapes, copied.
        let raw: ChatMessage =
            serde_json::from_slice(br#"{"role":"user","content":"a\nb"}"#).unwrap();
        assert_eq!(raw.content, Some(MessageContent::Text("a\nb".into())));
        let parts = msg(json!([{"type": "text", "text": "x"}])).unwrap();
        assert_eq!(
            parts.content,
            Some(MessageContent::Parts(vec![
                json!({"type": "text", "text": "x"})
            ]))
        );
        assert_eq!(msg(Value::Null).unwrap().content, None);
        for bad in [json!(3), json!({"text": "x"}), json!(true)] {
            let e = msg(bad.clone()).unwrap_err().to_string();
            assert!(
                e.contains("a string or an array of content parts"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn output_limit_prefers_completion_tokens() {
        let req: ChatRequest = serde_json::from_value(
            json!({"model":"m","messages":[],"max_tokens":5,"max_completion_tokens":7}),
        )
        .unwrap();
        assert_eq!(req.output_limit(), Some(7));
        assert_eq!(req.choices(), 1);
    }
}
