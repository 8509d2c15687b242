//! Flavour-exact JSON for answers: the non-stream `chat.completion` body and the list of
//! `chat.completion.chunk` objects of a stream.
//!
//! Streams (one choice per chunk, choices interleaved by index):
//! - OpenAI: per choice a `{role:"assistant",content:""}` delta, one content delta per piece,
//!   then `delta:{}` + `finish_reason`; with `include_usage` one more `choices:[]` chunk with
//!   `usage`.
//! - Moonshot: like OpenAI, but the very last chunk (a finish chunk) carries the usage in
//!   `choices[0].usage`; never a separate usage chunk.
//! - StepFun: no role-only chunk; each piece chunk has `delta:{role:"",content}`,
//!   `finish_reason:""` and the cumulative top-level `usage`; the final chunk has
//!   `delta:{role:"",content:""}`, the real finish reason and the final usage.

use serde_json::{Map, Value, json};

use super::Flavor;
use super::reply::{Answer, Plan, TOOL_ARGUMENTS, fingerprint};

/// Identity shared by every object of one answer.
#[derive(Clone, Debug)]
pub(super) struct Meta {
    pub(super) flavor: Flavor,
    pub(super) id: String,
    pub(super) created: u64,
    pub(super) model: String,
}

impl Meta {
    fn envelope(&self, object: &str) -> Map<String, Value> {
        let mut obj = Map::new();
        obj.insert("id".into(), json!(self.id));
        obj.insert("object".into(), json!(object));
        obj.insert("created".into(), json!(self.created));
        obj.insert("model".into(), json!(self.model));
        if let Some(fp) = fingerprint(self.flavor) {
            obj.insert("system_fingerprint".into(), json!(fp));
        }
        if self.flavor == Flavor::OpenAi {
            obj.insert("service_tier".into(), json!("default"));
        }
        obj
    }
}

/// One delta of one choice: the delta object, its finish reason (`None` = not finished) and the
/// tokens it carries.
struct DeltaEvent {
    delta: Value,
    finish: Option<&'static str>,
    tokens: u64,
}

fn event(delta: Value, finish: Option<&'static str>, tokens: u64) -> DeltaEvent {
    DeltaEvent {
        delta,
        finish,
        tokens,
    }
}

fn choice_events(flavor: Flavor, answer: &Answer) -> Vec<DeltaEvent> {
    let step = flavor == Flavor::StepFun;
    // StepFun marks unfinished chunks with "" and repeats an empty role on every delta.
    let pending = if step { Some("") } else { None };
    let mut out = Vec::new();
    match answer {
        Answer::Text { pieces, finish } => {
            if !step {
                let mut first = json!({"role": "assistant", "content": ""});
                if flavor == Flavor::OpenAi {
                    first["refusal"] = Value::Null;
                }
                out.push(event(first, None, 0));
            }
            for piece in pieces {
                let delta = if step {
                    json!({"role": "", "content": piece})
                } else {
                    json!({"content": piece})
                };
                out.push(event(delta, pending, 1));
            }
            out.push(event(final_delta(step), Some(finish), 0));
        }
        Answer::Tool {
            id,
            name,
            fragments,
        } => {
            let call = json!([{
                "index": 0,
                "id": id,
                "type": "function",
                "function": {"name": name, "arguments": ""}
            }]);
            let mut first = if step {
                json!({"role": "", "content": "", "tool_calls": call})
            } else {
                json!({"role": "assistant", "content": null, "tool_calls": call})
            };
            if flavor == Flavor::OpenAi {
                first["refusal"] = Value::Null;
            }
            out.push(event(first, pending, 0));
            for fragment in fragments {
                let calls = json!([{"index": 0, "function": {"arguments": fragment}}]);
                let delta = if step {
                    json!({"role": "", "tool_calls": calls})
                } else {
                    json!({"tool_calls": calls})
                };
                out.push(event(delta, pending, 1));
            }
            out.push(event(final_delta(step), Some("tool_calls"), 0));
        }
    }
    out
}

fn final_delta(stepfun: bool) -> Value {
    if stepfun {
        json!({"role": "", "content": ""})
    } else {
        json!({})
    }
}

/// The chunk objects of a stream, in order (without the `[DONE]` sentinel).
pub(super) fn stream_chunks(meta: &Meta, plan: &Plan, include_usage: bool) -> Vec<Value> {
    let flavor = meta.flavor;
    let per_choice: Vec<Vec<DeltaEvent>> = plan
        .choices
        .iter()
        .map(|a| choice_events(flavor, a))
        .collect();
    let rounds = per_choice.iter().map(Vec::len).max().unwrap_or(0);
    let mut chunks = Vec::new();
    let mut emitted = 0u64;
    for round in 0..rounds {
        for (index, events) in per_choice.iter().enumerate() {
            let Some(ev) = events.get(round) else {
                continue;
            };
            emitted += ev.tokens;
            let mut choice = json!({"index": index, "delta": ev.delta});
            if flavor == Flavor::OpenAi {
                choice["logprobs"] = Value::Null;
            }
            choice["finish_reason"] = ev.finish.map_or(Value::Null, |f| json!(f));
            let mut chunk = meta.envelope("chat.completion.chunk");
            chunk.insert("choices".into(), json!([choice]));
            if flavor == Flavor::StepFun {
                chunk.insert("usage".into(), plan.usage_with(flavor, emitted));
            }
            chunks.push(Value::Object(chunk));
        }
    }
    match flavor {
        Flavor::OpenAi if include_usage => {
            let mut chunk = meta.envelope("chat.completion.chunk");
            chunk.insert("choices".into(), json!([]));
            chunk.insert("usage".into(), plan.usage(flavor));
            chunks.push(Value::Object(chunk));
        }
        Flavor::Moonshot => {
            let usage = plan.usage(flavor);
            if let Some(choice) = chunks
                .last_mut()
                .and_then(|c| c.get_mut("choices"))
                .and_then(|c| c.get_mut(0))
            {
                choice["usage"] = usage;
            }
        }
        _ => {}
    }
    chunks
}

/// The non-stream `chat.completion` body.
pub(super) fn completion_body(meta: &Meta, plan: &Plan) -> Value {
    let flavor = meta.flavor;
    let choices: Vec<Value> = plan
        .choices
        .iter()
        .enumerate()
        .map(|(index, answer)| {
            let mut message = match answer {
                Answer::Text { pieces, .. } => {
                    json!({"role": "assistant", "content": pieces.concat()})
                }
                Answer::Tool { id, name, .. } => json!({
                    "role": "assistant",
                    "content": null,
                    "tool_calls": [{
                        "id": id,
                        "type": "function",
                        "function": {"name": name, "arguments": TOOL_ARGUMENTS}
                    }]
                }),
            };
            let mut choice = json!({"index": index});
            if flavor == Flavor::OpenAi {
                message["refusal"] = Value::Null;
                message["annotations"] = json!([]);
                choice["logprobs"] = Value::Null;
            }
            choice["message"] = message;
            choice["finish_reason"] = json!(answer.finish());
            choice
        })
        .collect();
    let mut body = meta.envelope("chat.completion");
    body.insert("choices".into(), Value::Array(choices));
    body.insert("usage".into(), plan.usage(flavor));
    Value::Object(body)
}
