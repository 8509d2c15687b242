//! Stream conversion for the OpenAI dialect.
//!
//! The fast path forwards each upstream chunk's bytes unchanged and only peeks at usage and
//! text. A chunk is re-serialised only when a flavour quirk must be repaired. Usage-only chunks
//! (`choices: []` with usage) are always dropped here: the gateway appends its own usage chunk
//! at the end when, and only when, the client asked for one.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use switchyard_sse::Event;
use switchyard_types::Usage;

use super::Flavor;
use crate::adapter::{ConvertError, Emit, StreamConverter, StreamStep};

#[derive(Deserialize)]
struct ChunkProbe<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default)]
    created: Option<u64>,
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    choices: Vec<ChoiceProbe<'a>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChoiceProbe<'a> {
    #[serde(default)]
    index: u32,
    #[serde(default, borrow)]
    delta: Option<DeltaProbe<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct DeltaProbe<'a> {
    #[serde(default, borrow)]
    role: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<ToolCallProbe<'a>>>,
}

#[derive(Deserialize)]
struct ToolCallProbe<'a> {
    #[serde(default, borrow)]
    function: Option<FunctionProbe<'a>>,
}

#[derive(Deserialize)]
struct FunctionProbe<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    arguments: Option<Cow<'a, str>>,
}

/// Converter state for one stream.
#[derive(Debug)]
pub(super) struct OpenAiStream {
    flavor: Flavor,
    id: String,
    created: u64,
    model: String,
    /// Choice indexes whose first delta has been sent (StepFun role repair).
    roles_sent: Vec<u32>,
}

impl OpenAiStream {
    pub(super) fn new(flavor: Flavor, requested_model: &str) -> Self {
        Self {
            flavor,
            id: String::new(),
            created: 0,
            model: requested_model.to_owned(),
            roles_sent: Vec::new(),
        }
    }

    /// Rewrites a chunk whose quirks must not reach the client.
    fn repair(&mut self, data: &str) -> Result<Bytes, ConvertError> {
        let mut v: Value = serde_json::from_str(data).map_err(protocol)?;
        if let Some(obj) = v.as_object_mut() {
            obj.remove("usage");
            if let Some(Value::Array(choices)) = obj.get_mut("choices") {
                for c in choices.iter_mut().filter_map(Value::as_object_mut) {
                    c.remove("usage");
                    if c.get("finish_reason").and_then(Value::as_str) == Some("") {
                        c.insert("finish_reason".into(), Value::Null);
                    }
                    let index = c.get("index").and_then(Value::as_u64).unwrap_or(0) as u32;
                    let first = !self.roles_sent.contains(&index);
                    if let Some(delta) = c.get_mut("delta").and_then(Value::as_object_mut)
                        && delta.get("role").and_then(Value::as_str) == Some("")
                    {
                        if first {
                            delta.insert("role".into(), Value::from("assistant"));
                        } else {
                            delta.remove("role");
                        }
                    }
                    if first {
                        self.roles_sent.push(index);
                    }
                }
            }
        }
        serde_json::to_vec(&v).map(Bytes::from).map_err(protocol)
    }
}

fn protocol(e: serde_json::Error) -> ConvertError {
    ConvertError::Protocol(format!("upstream stream chunk is not valid JSON: {e}"))
}

impl StreamConverter for OpenAiStream {
    fn event(&mut self, ev: &Event, emit: &mut Emit) -> Result<StreamStep, ConvertError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            return Ok(StreamStep::Done);
        }
        if data.is_empty() {
            return Ok(StreamStep::Continue);
        }
        let probe: ChunkProbe<'_> = serde_json::from_str(data).map_err(protocol)?;
        if let Some(err) = probe.error.filter(|e| !e.is_null()) {
            let body = serde_json::json!({ "error": err }).to_string();
            return Err(ConvertError::Upstream(super::response::error(
                502,
                body.as_bytes(),
            )));
        }
        if self.id.is_empty() {
            if let Some(id) = &probe.id {
                self.id = id.clone().into_owned();
            }
            self.created = probe.created.unwrap_or(0);
            if let Some(m) = &probe.model {
                self.model = m.clone().into_owned();
            }
        }
        let mut needs_repair = probe.usage.is_some();
        if let Some(u) = probe.usage {
            emit.usage = Some(u);
        }
        for c in &probe.choices {
            if let Some(u) = &c.usage {
                emit.usage = Some(u.clone());
                needs_repair = true;
            }
            if c.finish_reason.as_deref() == Some("") {
                needs_repair = true;
            }
            if let Some(d) = &c.delta {
                if d.role.as_deref() == Some("") {
                    needs_repair = true;
                }
                if let Some(t) = &d.content {
                    emit.text.push_str(t);
                }
                for tc in d.tool_calls.iter().flatten() {
                    if let Some(f) = &tc.function {
                        emit.text.push_str(f.name.as_deref().unwrap_or(""));
                        emit.text.push_str(f.arguments.as_deref().unwrap_or(""));
                    }
                }
            }
            if self.flavor == Flavor::StepFun && !self.roles_sent.contains(&c.index) {
                needs_repair = true;
            }
        }
        if probe.choices.is_empty() {
            if emit.usage.is_none() {
                emit.chunks.push(Bytes::copy_from_slice(data.as_bytes()));
            }
            return Ok(StreamStep::Continue);
        }
        let chunk = if needs_repair {
            self.repair(data)?
        } else {
            Bytes::copy_from_slice(data.as_bytes())
        };
        emit.chunks.push(chunk);
        Ok(StreamStep::Continue)
    }

    fn identity(&self) -> (&str, u64, &str) {
        (&self.id, self.created, &self.model)
    }
}
