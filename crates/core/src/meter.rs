//! The meter: what a request used, from the upstream's report or, failing that, a local count.
//!
//! Upstream usage has replace semantics (the latest report is the total), so providers that
//! repeat cumulative usage in every chunk are never summed. Answer text is held only until
//! [`PENDING_LIMIT`] bytes and then counted and dropped, so a long stream never keeps its whole
//! output in memory just to be billed.

use switchyard_types::Usage;

use crate::tokens;

/// Bytes of answer text held before they are counted.
pub const PENDING_LIMIT: usize = 16 * 1024;

/// Final counts of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Metered {
    /// Prompt tokens.
    pub prompt: u64,
    /// Completion tokens.
    pub completion: u64,
    /// Cached prompt tokens.
    pub cached: u64,
    /// True when any count is a local estimate.
    pub estimated: bool,
}

impl Metered {
    /// prompt + completion.
    pub fn total(&self) -> u64 {
        self.prompt + self.completion
    }
}

/// Usage accumulator for one request.
#[derive(Debug)]
pub struct Meter {
    model: String,
    upstream: Option<Usage>,
    pending: String,
    counted: u64,
}

impl Meter {
    /// A meter counting with `model`'s tokenizer.
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            upstream: None,
            pending: String::new(),
            counted: 0,
        }
    }

    /// Records the upstream's latest usage report (replacing any earlier one).
    pub fn report(&mut self, usage: Usage) {
        self.upstream = Some(usage);
    }

    /// Whether the upstream has reported usage.
    pub fn has_report(&self) -> bool {
        self.upstream.is_some()
    }

    /// Records answer text, for the local count.
    pub fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.pending.push_str(text);
        if self.pending.len() >= PENDING_LIMIT {
            self.counted += tokens::count_text(&self.model, &self.pending);
            self.pending.clear();
        }
    }

    /// The final counts; `local_prompt` gives the gateway's own prompt count, asked for only
    /// when the upstream reported no usage.
    pub fn finish(&mut self, local_prompt: impl FnOnce() -> u64) -> Metered {
        match &self.upstream {
            Some(u) => Metered {
                prompt: u.prompt_tokens,
                completion: u.completion_tokens,
                cached: u.cached_tokens(),
                estimated: false,
            },
            None => {
                let completion = self.counted + tokens::count_text(&self.model, &self.pending);
                self.pending.clear();
                Metered {
                    prompt: local_prompt(),
                    completion,
                    cached: 0,
                    estimated: true,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_report_replaces_and_wins() {
        let mut m = Meter::new("gpt-4");
        m.text("hello world");
        m.report(Usage::new(83, 1));
        m.report(Usage::new(83, 3));
        assert_eq!(
            m.finish(|| unreachable!("usage was reported")),
            Metered {
                prompt: 83,
                completion: 3,
                cached: 0,
                estimated: false
            }
        );
    }

    #[test]
    fn local_count_when_missing_and_bounded_memory() {
        let mut m = Meter::new("gpt-4");
        for _ in 0..5000 {
            m.text("hello world ");
        }
        assert!(m.pending.len() < PENDING_LIMIT);
        let got = m.finish(|| 7);
        assert!(got.estimated);
        assert_eq!(got.prompt, 7);
        // Counting in pieces may shift a token at each piece boundary, no more.
        let whole = tokens::count_text("gpt-4", &"hello world ".repeat(5000));
        assert!(
            got.completion.abs_diff(whole) <= 8,
            "{} vs {whole}",
            got.completion
        );
    }
}
