//! The deterministic answer and its exact native JSON: the non-stream body and the stream's
//! result chunks.
//!
//! - Text: `"Hello from dashscope <model>: <echo>"` cut into `chunks` pieces, one token each;
//!   `max_tokens` below the piece count keeps the first pieces and finishes with `length`.
//! - Tool call (tools given, `tool_choice` not `"none"`, last message not a tool result): the
//!   first function (or the one `tool_choice` names) with `{"location":"Paris","unit":"celsius"}`
//!   cut into `max(chunks, 2)` fragments, one token each, finishing with `tool_calls`.
//! - Streams: one chunk per piece with `finish_reason: "null"` (a string) and cumulative usage,
//!   then a final chunk with the real finish reason. With `incremental_output` a chunk holds only
//!   its piece (and the final chunk an empty content); without it every chunk repeats the whole
//!   text so far, as DashScope does. Several choices (`n`) are interleaved, each with `index`.
//! - Vision answers hold `content` as a list of `{"text": …}` parts, and their usage has
//!   `image_tokens` and no `total_tokens`.

use serde_json::{Value, json};

use super::request::ChatRequest;
use crate::openai::{TOOL_ARGUMENTS, split_even, text_pieces, tool_call_id};

/// The answer of one choice.
#[derive(Clone, Debug)]
enum Choice {
    Text {
        pieces: Vec<String>,
        finish: &'static str,
    },
    Tool {
        id: String,
        name: String,
        fragments: Vec<String>,
    },
}

impl Choice {
    fn tokens(&self) -> u64 {
        match self {
            Choice::Text { pieces, .. } => pieces.len() as u64,
            Choice::Tool { fragments, .. } => fragments.len() as u64,
        }
    }

    fn finish(&self) -> &'static str {
        match self {
            Choice::Text { finish, .. } => finish,
            Choice::Tool { .. } => "tool_calls",
        }
    }
}

/// Everything one answer needs.
#[derive(Clone, Debug)]
pub(super) struct Plan {
    choices: Vec<Choice>,
    prompt_tokens: u64,
    image_tokens: u64,
    vision: bool,
    incremental: bool,
    message_format: bool,
    request_id: String,
}

/// Builds the answer to `req`.
pub(super) fn plan(req: &ChatRequest, chunks: usize, request_id: String) -> Plan {
    let choices = (0..req.n)
        .map(|_| match &req.tool {
            Some(name) => Choice::Tool {
                id: tool_call_id(),
                name: name.clone(),
                fragments: split_even(TOOL_ARGUMENTS, chunks.max(2)),
            },
            None => {
                let text = format!("Hello from dashscope {}: {}", req.model, req.echo);
                let (pieces, finish) = text_pieces(&text, chunks, req.max_tokens);
                Choice::Text { pieces, finish }
            }
        })
        .collect();
    Plan {
        choices,
        prompt_tokens: req.prompt_tokens,
        image_tokens: req.image_tokens,
        vision: req.vision,
        incremental: req.incremental,
        message_format: req.vision || req.message_format || req.tool.is_some(),
        request_id,
    }
}

impl Plan {
    fn usage(&self, output: u64) -> Value {
        let input = self.prompt_tokens;
        if self.vision {
            let mut u = json!({"input_tokens": input, "output_tokens": output});
            if self.image_tokens > 0 {
                u["image_tokens"] = json!(self.image_tokens);
            }
            u
        } else {
            json!({
                "input_tokens": input, "output_tokens": output, "total_tokens": input + output,
                "prompt_tokens_details": {"cached_tokens": 0}
            })
        }
    }

    fn content(&self, text: &str) -> Value {
        match (self.vision, text.is_empty()) {
            (false, _) => json!(text),
            (true, true) => json!([]),
            (true, false) => json!([{"text": text}]),
        }
    }

    fn choice(&self, index: usize, message: Value, finish: &str) -> Value {
        let mut c = json!({"finish_reason": finish, "message": message});
        if self.choices.len() > 1 {
            c["index"] = json!(index);
        }
        c
    }

    /// The non-stream body.
    pub(super) fn body(&self) -> Value {
        let usage = self.usage(self.choices.iter().map(Choice::tokens).sum());
        if !self.message_format {
            let (text, finish) = match self.choices.first() {
                Some(Choice::Text { pieces, finish }) => (pieces.concat(), *finish),
                _ => (String::new(), "stop"),
            };
            return json!({
                "output": {"text": text, "finish_reason": finish},
                "usage": usage, "request_id": self.request_id,
            });
        }
        let choices: Vec<Value> = self
            .choices
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let message = match c {
                    Choice::Text { pieces, .. } => {
                        json!({"role": "assistant", "content": self.content(&pieces.concat())})
                    }
                    Choice::Tool { id, name, .. } => json!({
                        "role": "assistant", "content": self.content(""),
                        "tool_calls": [{"function": {"name": name, "arguments": TOOL_ARGUMENTS},
                                        "index": 0, "id": id, "type": "function"}]
                    }),
                };
                self.choice(i, message, c.finish())
            })
            .collect();
        json!({"output": {"choices": choices}, "usage": usage, "request_id": self.request_id})
    }

    /// The messages of one choice's stream chunks, with finish reason and tokens of each.
    fn events(&self, c: &Choice) -> Vec<(Value, &'static str, u64)> {
        let mut out = Vec::new();
        match c {
            Choice::Text { pieces, finish } => {
                let mut so_far = String::new();
                for p in pieces {
                    so_far.push_str(p);
                    let shown = if self.incremental { p } else { &so_far };
                    let m = json!({"content": self.content(shown), "role": "assistant"});
                    out.push((m, "null", 1));
                }
                let shown = if self.incremental { "" } else { &so_far };
                let m = json!({"content": self.content(shown), "role": "assistant"});
                out.push((m, *finish, 0));
            }
            Choice::Tool {
                id,
                name,
                fragments,
            } => {
                let mut so_far = String::new();
                for (k, f) in fragments.iter().enumerate() {
                    so_far.push_str(f);
                    let call = if !self.incremental {
                        json!({"index": 0, "id": id, "type": "function",
                               "function": {"name": name, "arguments": so_far}})
                    } else if k == 0 {
                        json!({"index": 0, "id": id, "type": "function",
                               "function": {"name": name, "arguments": f}})
                    } else {
                        json!({"index": 0, "id": "", "type": "function",
                               "function": {"arguments": f}})
                    };
                    let m = json!({"content": self.content(""), "role": "assistant",
                                   "tool_calls": [call]});
                    out.push((m, "null", 1));
                }
                let m = json!({"content": self.content(""), "role": "assistant"});
                out.push((m, "tool_calls", 0));
            }
        }
        out
    }

    /// The `data:` payloads of the stream's result chunks, in order.
    pub(super) fn chunks(&self) -> Vec<Value> {
        let per_choice: Vec<_> = self.choices.iter().map(|c| self.events(c)).collect();
        let rounds = per_choice.iter().map(Vec::len).max().unwrap_or(0);
        let mut emitted = 0;
        let mut out = Vec::new();
        for round in 0..rounds {
            for (i, events) in per_choice.iter().enumerate() {
                let Some((message, finish, tokens)) = events.get(round) else {
                    continue;
                };
                emitted += tokens;
                out.push(json!({
                    "output": {"choices": [self.choice(i, message.clone(), finish)]},
                    "usage": self.usage(emitted),
                    "request_id": self.request_id,
                }));
            }
        }
        out
    }
}

/// One `event:result` frame.
pub(super) fn result_frame(id: usize, data: &Value) -> String {
    format!("id:{id}\nevent:result\n:HTTP_STATUS/200\ndata:{data}\n\n")
}

/// One `event:error` frame; the comment line carries the status the error stands for.
pub(super) fn error_frame(id: usize, status: u16, body: &str) -> String {
    format!("id:{id}\nevent:error\n:HTTP_STATUS/{status}\ndata:{body}\n\n")
}
