//! The deterministic answer to a chat request (text pieces or a tool call) and its usage.

use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use super::Flavor;
use super::request::ChatRequest;

/// Arguments of every simulated tool call.
pub(crate) const TOOL_ARGUMENTS: &str = r#"{"location":"Paris","unit":"celsius"}"#;

/// The answer of one choice.
#[derive(Clone, Debug)]
pub(super) enum Answer {
    /// Plain text, one token per piece.
    Text {
        pieces: Vec<String>,
        finish: &'static str,
    },
    /// One call to `name`, its arguments split into fragments (one token each).
    Tool {
        id: String,
        name: String,
        fragments: Vec<String>,
    },
}

impl Answer {
    pub(super) fn tokens(&self) -> u64 {
        match self {
            Answer::Text { pieces, .. } => pieces.len() as u64,
            Answer::Tool { fragments, .. } => fragments.len() as u64,
        }
    }

    pub(super) fn finish(&self) -> &'static str {
        match self {
            Answer::Text { finish, .. } => finish,
            Answer::Tool { .. } => "tool_calls",
        }
    }
}

/// All choices of one answer plus what is needed for usage.
#[derive(Clone, Debug)]
pub(super) struct Plan {
    pub(super) choices: Vec<Answer>,
    pub(super) prompt_tokens: u64,
}

impl Plan {
    pub(super) fn completion_tokens(&self) -> u64 {
        self.choices.iter().map(Answer::tokens).sum()
    }

    /// The `usage` object with `completion` completion tokens, in the flavour's shape.
    pub(super) fn usage_with(&self, flavor: Flavor, completion: u64) -> Value {
        let (p, c) = (self.prompt_tokens, completion);
        match flavor {
            Flavor::OpenAi => json!({
                "prompt_tokens": p,
                "completion_tokens": c,
                "total_tokens": p + c,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0
                }
            }),
            Flavor::Moonshot | Flavor::StepFun => json!({
                "prompt_tokens": p,
                "completion_tokens": c,
                "total_tokens": p + c,
            }),
        }
    }

    /// The final `usage` object.
    pub(super) fn usage(&self, flavor: Flavor) -> Value {
        self.usage_with(flavor, self.completion_tokens())
    }
}

/// Splits `text` into exactly `pieces` non-empty parts of (almost) equal character length,
/// padding with `.` when the text is too short.
pub(crate) fn split_even(text: &str, pieces: usize) -> Vec<String> {
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

/// `text` cut into `chunks` pieces, the first `max_tokens` of them kept: the pieces and the
/// finish reason (`stop`, or `length` when the limit cut the text).
pub(crate) fn text_pieces(
    text: &str,
    chunks: usize,
    max_tokens: Option<u64>,
) -> (Vec<String>, &'static str) {
    let mut pieces = split_even(text, chunks);
    match max_tokens {
        Some(max) if (max as usize) < pieces.len() => {
            pieces.truncate(max as usize);
            (pieces, "length")
        }
        _ => (pieces, "stop"),
    }
}

/// Builds the answer for `req`.
pub(super) fn plan(flavor: Flavor, req: &ChatRequest, chunks: usize) -> Plan {
    let choices = (0..req.n)
        .map(|_| match &req.tool {
            Some(name) => Answer::Tool {
                id: tool_call_id(),
                name: name.clone(),
                fragments: split_even(TOOL_ARGUMENTS, chunks.max(2)),
            },
            None => {
                let text = format!("Hello from {} {}: {}", flavor.name(), req.model, req.echo);
                let (pieces, finish) = text_pieces(&text, chunks, req.max_tokens);
                Answer::Text { pieces, finish }
            }
        })
        .collect();
    Plan {
        choices,
        prompt_tokens: req.prompt_tokens,
    }
}

fn random_alnum(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn random_hex(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect()
}

/// A fresh completion id in the flavour's format.
pub(super) fn completion_id(flavor: Flavor) -> String {
    match flavor {
        Flavor::OpenAi => format!("chatcmpl-{}", random_alnum(29)),
        Flavor::Moonshot => format!("chatcmpl-{}", random_hex(24)),
        Flavor::StepFun => uuid::Uuid::new_v4().to_string(),
    }
}

/// A fresh `call_…` id.
pub(crate) fn tool_call_id() -> String {
    format!("call_{}", random_alnum(24))
}

/// The flavour's `system_fingerprint` (StepFun sends none).
pub(super) fn fingerprint(flavor: Flavor) -> Option<&'static str> {
    match flavor {
        Flavor::OpenAi => Some("fp_5e7a9c0d21"),
        Flavor::Moonshot => Some("fpv0_ca1d2527"),
        Flavor::StepFun => None,
    }
}

/// Seconds since the Unix epoch.
pub(super) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::split_even;

    #[test]
    fn split_is_exact_and_lossless() {
        let parts = split_even("Hello from openai m: hi", 5);
        assert_eq!(parts.len(), 5);
        assert_eq!(parts.concat(), "Hello from openai m: hi");
        assert!(parts.iter().all(|p| !p.is_empty()));
        assert_eq!(split_even("ab", 4), vec!["a", "b", ".", "."]);
        assert_eq!(split_even("héllo", 0), vec!["héllo"]);
    }
}
