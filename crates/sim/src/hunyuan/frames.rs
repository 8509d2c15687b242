//! The deterministic answer and its exact Hunyuan framing: the `Response`-wrapped non-stream body
//! and the `data: {…}` stream frames (no `Response` wrapper, cumulative `Usage` in every frame, a
//! final frame with a non-empty `FinishReason`, no `[DONE]`).

use bytes::Bytes;
use serde::Serialize;

use super::NOTE;
use super::errors::{request_id, wrap};

/// Arguments of every simulated tool call.
pub(super) const TOOL_ARGUMENTS: &str = r#"{"location":"Paris","unit":"celsius"}"#;

/// What the answer is.
#[derive(Clone, Debug)]
pub(super) enum Answer {
    /// Text pieces (one token each) and the finish reason (`stop` or `sensitive`).
    Text {
        pieces: Vec<String>,
        finish: &'static str,
    },
    /// One call of `name`, its arguments in fragments (one token each).
    Tool {
        id: String,
        name: String,
        fragments: Vec<String>,
    },
}

/// One answer plus what its frames need.
#[derive(Clone, Debug)]
pub(super) struct Plan {
    pub(super) answer: Answer,
    pub(super) prompt_tokens: u64,
    pub(super) id: String,
    pub(super) created: u64,
    /// `Some(code)`: the stream breaks after its first frame with `ErrorMsg {Code: code}`.
    pub(super) error_msg: Option<i64>,
}

impl Plan {
    fn completion_tokens(&self) -> u64 {
        match &self.answer {
            Answer::Text { pieces, .. } => pieces.len() as u64,
            Answer::Tool { fragments, .. } => fragments.len() as u64,
        }
    }

    fn usage(&self, completion: u64) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: completion,
            total_tokens: self.prompt_tokens + completion,
        }
    }
}

/// Splits `text` into exactly `pieces` non-empty parts of (almost) equal length, padding with `.`.
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

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Function<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ToolCall<'a> {
    id: &'a str,
    #[serde(rename = "Type")]
    kind: &'static str,
    function: Function<'a>,
    index: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Vec<ToolCall<'a>>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Choice<'a> {
    index: u32,
    message: Message<'a>,
    finish_reason: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Completion<'a> {
    request_id: String,
    note: &'static str,
    choices: Vec<Choice<'a>>,
    created: u64,
    id: &'a str,
    usage: Usage,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct StreamChoice<'a> {
    finish_reason: &'a str,
    delta: Message<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorMsg {
    msg: &'static str,
    code: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Frame<'a> {
    note: &'static str,
    choices: Vec<StreamChoice<'a>>,
    created: u64,
    id: &'a str,
    usage: Usage,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_msg: Option<ErrorMsg>,
}

fn text(content: &str) -> Message<'_> {
    Message {
        role: "assistant",
        content,
        tool_calls: None,
    }
}

fn tool_call<'a>(id: &'a str, name: &'a str, arguments: &'a str) -> ToolCall<'a> {
    ToolCall {
        id,
        kind: "function",
        function: Function { name, arguments },
        index: 0,
    }
}

/// The non-stream body (`{"Response":{…}}`).
pub(super) fn completion_body(plan: &Plan) -> String {
    let joined;
    let (message, finish) = match &plan.answer {
        Answer::Text { pieces, finish } => {
            joined = pieces.concat();
            let m = Message {
                role: "assistant",
                content: &joined,
                tool_calls: None,
            };
            (m, *finish)
        }
        Answer::Tool { id, name, .. } => {
            let m = Message {
                role: "assistant",
                content: "",
                tool_calls: Some(vec![tool_call(id, name, TOOL_ARGUMENTS)]),
            };
            (m, "tool_calls")
        }
    };
    wrap(Completion {
        request_id: request_id(),
        note: NOTE,
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: finish,
        }],
        created: plan.created,
        id: &plan.id,
        usage: plan.usage(plan.completion_tokens()),
    })
}

fn event(frame: &Frame<'_>) -> Bytes {
    Bytes::from(format!(
        "data: {}\n\n",
        serde_json::to_string(frame).unwrap_or_default()
    ))
}

/// The stream's events, each framed as `data: {…}\n\n`.
pub(super) fn stream_events(plan: &Plan) -> Vec<Bytes> {
    let frame = |delta: Message<'_>, finish: &str, completion: u64| {
        event(&Frame {
            note: NOTE,
            choices: vec![StreamChoice {
                finish_reason: finish,
                delta,
            }],
            created: plan.created,
            id: &plan.id,
            usage: plan.usage(completion),
            error_msg: None,
        })
    };
    let mut events = Vec::new();
    let finish = match &plan.answer {
        Answer::Text { pieces, finish } => {
            for (i, p) in pieces.iter().enumerate() {
                events.push(frame(text(p), "", i as u64 + 1));
            }
            *finish
        }
        Answer::Tool {
            id,
            name,
            fragments,
        } => {
            for (i, f) in fragments.iter().enumerate() {
                let delta = Message {
                    role: "assistant",
                    content: "",
                    tool_calls: Some(vec![tool_call(id, name, f)]),
                };
                events.push(frame(delta, "", i as u64 + 1));
            }
            "tool_calls"
        }
    };
    if let Some(code) = plan.error_msg {
        events.truncate(1);
        events.push(event(&Frame {
            note: NOTE,
            choices: Vec::new(),
            created: plan.created,
            id: &plan.id,
            usage: plan.usage(1),
            error_msg: Some(ErrorMsg {
                msg: if code == 4001 {
                    "请求模型超时"
                } else {
                    "服务内部异常"
                },
                code,
            }),
        }));
        return events;
    }
    events.push(frame(text(""), finish, plan.completion_tokens()));
    events
}
