//! The deterministic answer (text pieces or tool calls), its `Message` body and its stream
//! events.

use rand::Rng;
use serde_json::{Value, json};

use super::AnthropicSimConfig;
use super::validate::{Choice, Parsed};

/// Input of every simulated tool call.
pub(super) const TOOL_INPUT: &str = r#"{"location":"Paris","unit":"celsius"}"#;

/// One content block of the answer.
#[derive(Clone, Debug)]
pub(super) enum Block {
    /// Text, one token per piece.
    Text(Vec<String>),
    /// A tool call whose input JSON is streamed in fragments (one token each).
    Tool {
        id: String,
        name: String,
        fragments: Vec<String>,
    },
}

/// The whole answer.
#[derive(Clone, Debug)]
pub(super) struct Plan {
    pub(super) id: String,
    pub(super) model: String,
    pub(super) blocks: Vec<Block>,
    pub(super) stop_reason: &'static str,
    pub(super) stop_sequence: Option<String>,
    pub(super) input_tokens: u64,
    pub(super) cache_read: u64,
    pub(super) cache_creation: u64,
}

impl Plan {
    /// Output tokens: one per text piece and per input fragment.
    pub(super) fn output_tokens(&self) -> u64 {
        self.blocks
            .iter()
            .map(|b| match b {
                Block::Text(p) => p.len() as u64,
                Block::Tool { fragments, .. } => fragments.len() as u64,
            })
            .sum()
    }

    fn usage(&self, output: u64) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": output,
            "service_tier": "standard",
        })
    }

    /// The non-stream `Message`.
    pub(super) fn message(&self) -> Value {
        let content: Vec<Value> = self
            .blocks
            .iter()
            .map(|b| match b {
                Block::Text(p) => json!({"type": "text", "text": p.concat()}),
                Block::Tool { id, name, .. } => json!({
                    "type": "tool_use", "id": id, "name": name,
                    "input": serde_json::from_str::<Value>(TOOL_INPUT).unwrap_or(Value::Null),
                }),
            })
            .collect();
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "usage": self.usage(self.output_tokens()),
        })
    }

    /// The stream, one framed event (`event: …\ndata: …\n\n`) per entry.
    pub(super) fn events(&self) -> Vec<String> {
        let frame = |name: &str, data: &Value| format!("event: {name}\ndata: {data}\n\n");
        let mut out = vec![frame(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": self.usage(1),
            }}),
        )];
        for (index, block) in self.blocks.iter().enumerate() {
            let start = match block {
                Block::Text(_) => json!({"type": "text", "text": ""}),
                Block::Tool { id, name, .. } => {
                    json!({"type": "tool_use", "id": id, "name": name, "input": {}})
                }
            };
            out.push(frame(
                "content_block_start",
                &json!({"type": "content_block_start", "index": index, "content_block": start}),
            ));
            if index == 0 {
                // Exactly as the API spells it, with a space after the colon.
                out.push("event: ping\ndata: {\"type\": \"ping\"}\n\n".to_owned());
            }
            let delta = |d: Value| {
                frame(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": index, "delta": d}),
                )
            };
            match block {
                Block::Text(pieces) => {
                    for p in pieces {
                        out.push(delta(json!({"type": "text_delta", "text": p})));
                    }
                }
                Block::Tool { fragments, .. } => {
                    out.push(delta(
                        json!({"type": "input_json_delta", "partial_json": ""}),
                    ));
                    for f in fragments {
                        out.push(delta(
                            json!({"type": "input_json_delta", "partial_json": f}),
                        ));
                    }
                }
            }
            out.push(frame(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
        }
        out.push(frame(
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": self.stop_reason, "stop_sequence": self.stop_sequence},
                    "usage": {"output_tokens": self.output_tokens()}}),
        ));
        out.push(frame("message_stop", &json!({"type": "message_stop"})));
        out
    }
}

/// Splits `text` into exactly `pieces` non-empty parts of (almost) equal character length,
/// padding with `.` when the text is too short.
pub(super) fn split_even(text: &str, pieces: usize) -> Vec<String> {
    let pieces = pieces.max(1);
    let mut chars: Vec<char> = text.chars().collect();
    while chars.len() < pieces {
        chars.push('.');
    }
    let len = chars.len();
    (0..pieces)
        .map(|i| {
            chars[i * len / pieces..(i + 1) * len / pieces]
                .iter()
                .collect()
        })
        .collect()
}

/// `n` random base62 characters.
pub(crate) fn base62(n: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// Builds the answer to `p`.
pub(super) fn plan(cfg: &AnthropicSimConfig, p: &Parsed) -> Plan {
    let chunks = cfg.chunks.max(1);
    let mut stop_reason = "end_turn";
    let mut stop_sequence = None;
    let calls_tools =
        !p.tools.is_empty() && p.choice != Choice::None && p.last_tool_results.is_none();
    let blocks = if calls_tools {
        let names: Vec<String> = match &p.choice {
            Choice::Tool(name) => vec![name.clone()],
            _ if !p.parallel => vec![p.tools[0].clone()],
            _ => p.tools.iter().take(2).cloned().collect(),
        };
        let mut blocks = Vec::new();
        if p.choice == Choice::Auto {
            blocks.push(Block::Text(vec![format!(
                "Calling {}.",
                names.join(" and ")
            )]));
        }
        for name in names {
            blocks.push(Block::Tool {
                id: format!("toolu_01{}", base62(22)),
                name,
                fragments: split_even(TOOL_INPUT, chunks.max(2)),
            });
        }
        stop_reason = "tool_use";
        blocks
    } else {
        let echo = match &p.last_tool_results {
            Some(t) => format!("tool result: {t}"),
            None => p.last_user_text.clone(),
        };
        let mut text = format!("Hello from anthropic {}: {echo}", p.model);
        let first_stop = p
            .stop_sequences
            .iter()
            .filter_map(|s| text.find(s.as_str()).map(|at| (at, s)))
            .min_by_key(|(at, _)| *at);
        if let Some((at, s)) = first_stop {
            text.truncate(at);
            stop_reason = "stop_sequence";
            stop_sequence = Some(s.clone());
        }
        let mut pieces = if text.is_empty() {
            Vec::new()
        } else {
            split_even(&text, chunks)
        };
        if pieces.len() as u64 > p.max_tokens {
            pieces.truncate(p.max_tokens as usize);
            stop_reason = "max_tokens";
            stop_sequence = None;
        }
        if pieces.is_empty() {
            Vec::new()
        } else {
            vec![Block::Text(pieces)]
        }
    };
    Plan {
        id: format!("msg_01{}", base62(22)),
        model: p.model.clone(),
        blocks,
        stop_reason,
        stop_sequence,
        input_tokens: p.input_tokens,
        cache_read: cfg.cache_read_input_tokens,
        cache_creation: cfg.cache_creation_input_tokens,
    }
}
