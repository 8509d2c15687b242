//! The deterministic answer to a validated request, and its JSON (whole, or as stream chunks).
//! The formulas are in the module docs of [`super`].

use rand::Rng as _;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use super::validate::{Parsed, signature_for};

/// Arguments of every simulated function call.
pub(crate) const CALL_ARGS: &str = r#"{"location":"Paris","unit":"celsius"}"#;
/// Candidate tokens of one function call.
pub(crate) const CALL_TOKENS: u64 = 8;
/// Thought tokens of a thinking model.
pub(crate) const THOUGHT_TOKENS: u64 = 4;
/// Text of the thought part when `includeThoughts` is set.
pub(crate) const THOUGHT_TEXT: &str = "Thinking about the answer.";

/// What one answer is.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    /// Text pieces (one token each) and the finish reason.
    Text {
        pieces: Vec<String>,
        finish: &'static str,
    },
    /// Whole function calls, by name.
    Calls(Vec<String>),
}

/// The answer and its usage.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) model: String,
    pub(crate) body: Body,
    pub(crate) candidates: usize,
    pub(crate) prompt: u64,
    pub(crate) thoughts: u64,
    pub(crate) include_thoughts: bool,
    pub(crate) cached: u64,
    pub(crate) response_id: String,
}

/// Whether `model` thinks by default.
pub(crate) fn thinking_model(model: &str) -> bool {
    model.starts_with("gemini-2.5-pro")
        || (model.starts_with("gemini-2.5-flash") && !model.starts_with("gemini-2.5-flash-lite"))
        || model.starts_with("gemini-3")
}

fn split_even(text: &str, pieces: usize) -> Vec<String> {
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

/// A fresh `responseId`.
pub(crate) fn response_id() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(22)
        .map(char::from)
        .collect()
}

/// Builds the answer.
pub(crate) fn plan(model: &str, req: &Parsed, chunks: usize, cached: u64) -> Plan {
    let calls_allowed =
        !req.callable.is_empty() && req.mode != "NONE" && req.last_response.is_none();
    let body = if calls_allowed {
        if req.last_user_text.contains("sim_parallel") {
            Body::Calls(req.callable.clone())
        } else {
            Body::Calls(req.callable.iter().take(1).cloned().collect())
        }
    } else {
        let echo = match &req.last_response {
            Some(r) => format!("tool result: {r}"),
            None => req.last_user_text.clone(),
        };
        let mut text = format!("Hello from gemini {model}: {echo}");
        if let Some(pos) = req
            .stop
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| text.find(s.as_str()))
            .min()
        {
            text.truncate(pos);
        }
        let mut pieces = split_even(&text, chunks);
        let mut finish = "STOP";
        if let Some(max) = req.max_output
            && (max as usize) < pieces.len()
        {
            pieces.truncate(max as usize);
            finish = "MAX_TOKENS";
        }
        Body::Text { pieces, finish }
    };
    let thinks = thinking_model(model) && req.thinking_budget != Some(0);
    Plan {
        model: model.to_owned(),
        body,
        candidates: req.candidates.max(1),
        prompt: req.prompt_tokens,
        thoughts: if thinks { THOUGHT_TOKENS } else { 0 },
        include_thoughts: thinks && req.include_thoughts,
        cached: cached.min(req.prompt_tokens),
        response_id: response_id(),
    }
}

impl Plan {
    /// Candidate tokens of one candidate after `pieces` pieces.
    fn tokens_after(&self, pieces: usize) -> u64 {
        match &self.body {
            Body::Text { .. } => pieces as u64,
            Body::Calls(names) => names.len() as u64 * CALL_TOKENS,
        }
    }

    /// Candidate tokens of the whole answer (all candidates).
    pub(crate) fn candidate_tokens(&self) -> u64 {
        let per = match &self.body {
            Body::Text { pieces, .. } => self.tokens_after(pieces.len()),
            Body::Calls(_) => self.tokens_after(0),
        };
        per * self.candidates as u64
    }

    /// `usageMetadata` after `pieces` pieces of each candidate; `last` adds the thoughts and
    /// the cache figures.
    fn usage(&self, candidate_tokens: u64, last: bool) -> Value {
        let mut u = json!({
            "promptTokenCount": self.prompt,
            "candidatesTokenCount": candidate_tokens,
            "totalTokenCount": self.prompt + candidate_tokens + self.thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": self.prompt}],
        });
        if self.thoughts > 0 {
            u["thoughtsTokenCount"] = json!(self.thoughts);
        }
        if last && self.cached > 0 {
            u["cachedContentTokenCount"] = json!(self.cached);
            u["cacheTokensDetails"] = json!([{"modality": "TEXT", "tokenCount": self.cached}]);
        }
        u
    }

    fn call_parts(&self, names: &[String]) -> Vec<Value> {
        names
            .iter()
            .map(|n| {
                let args: Value = serde_json::from_str(CALL_ARGS).unwrap_or(Value::Null);
                let mut p = json!({"functionCall": {"name": n, "args": args}});
                if self.thoughts > 0 {
                    p["thoughtSignature"] = json!(signature_for(n));
                }
                p
            })
            .collect()
    }

    fn response(&self, candidates: Vec<Value>, usage: Value) -> Value {
        json!({
            "candidates": candidates,
            "usageMetadata": usage,
            "modelVersion": self.model,
            "responseId": self.response_id,
        })
    }

    fn candidate(parts: Vec<Value>, index: usize, finish: Option<&str>) -> Value {
        let mut c = json!({"content": {"parts": parts, "role": "model"}, "index": index});
        if let Some(f) = finish {
            c["finishReason"] = json!(f);
        }
        c
    }

    /// The whole non-stream answer.
    pub(crate) fn whole(&self) -> Value {
        let (parts, finish) = match &self.body {
            Body::Text { pieces, finish } => (vec![json!({"text": pieces.concat()})], *finish),
            Body::Calls(names) => (self.call_parts(names), "STOP"),
        };
        let candidates = (0..self.candidates)
            .map(|i| {
                let mut ps = parts.clone();
                if self.include_thoughts {
                    ps.insert(0, json!({"text": THOUGHT_TEXT, "thought": true}));
                }
                Self::candidate(ps, i, Some(finish))
            })
            .collect();
        self.response(candidates, self.usage(self.candidate_tokens(), true))
    }

    /// The stream chunks, in order; the last carries `finishReason` and the full usage.
    pub(crate) fn chunks(&self) -> Vec<Value> {
        let n = self.candidates;
        let mut out = Vec::new();
        if self.include_thoughts {
            let cands = (0..n)
                .map(|i| {
                    Self::candidate(
                        vec![json!({"text": THOUGHT_TEXT, "thought": true})],
                        i,
                        None,
                    )
                })
                .collect();
            out.push(self.response(cands, self.usage(0, false)));
        }
        match &self.body {
            Body::Calls(names) => {
                let cands = (0..n)
                    .map(|i| Self::candidate(self.call_parts(names), i, Some("STOP")))
                    .collect();
                out.push(self.response(cands, self.usage(self.candidate_tokens(), true)));
            }
            Body::Text { pieces, finish } => {
                for (k, piece) in pieces.iter().enumerate() {
                    let last = k + 1 == pieces.len();
                    let cands = (0..n)
                        .map(|i| {
                            Self::candidate(
                                vec![json!({"text": piece})],
                                i,
                                last.then_some(*finish),
                            )
                        })
                        .collect();
                    let tokens = self.tokens_after(k + 1) * n as u64;
                    out.push(self.response(cands, self.usage(tokens, last)));
                }
            }
        }
        out
    }
}

/// The 200 answer to a prompt blocked by the filter (`sim_error:PROMPT_BLOCKED`).
pub(crate) fn blocked(plan: &Plan) -> Value {
    json!({
        "promptFeedback": {
            "blockReason": "SAFETY",
            "safetyRatings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": true},
                {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
            ],
        },
        "usageMetadata": {"promptTokenCount": plan.prompt, "totalTokenCount": plan.prompt},
        "modelVersion": plan.model,
        "responseId": plan.response_id,
    })
}

/// A candidate stopped by a filter (`SAFETY`: no content; `RECITATION`: after the first piece).
pub(crate) fn filtered(plan: &Plan, reason: &str) -> Value {
    let first = match &plan.body {
        Body::Text { pieces, .. } => pieces.first().cloned().unwrap_or_default(),
        Body::Calls(_) => String::new(),
    };
    let mut cand = json!({"finishReason": reason, "index": 0,
        "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]});
    let tokens = if reason == "RECITATION" && !first.is_empty() {
        cand["content"] = json!({"parts": [{"text": first}], "role": "model"});
        1
    } else {
        0
    };
    json!({
        "candidates": [cand],
        "usageMetadata": {"promptTokenCount": plan.prompt, "candidatesTokenCount": tokens,
                          "totalTokenCount": plan.prompt + tokens},
        "modelVersion": plan.model,
        "responseId": plan.response_id,
    })
}
