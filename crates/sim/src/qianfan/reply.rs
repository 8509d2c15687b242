//! Deterministic answers of the Qianfan simulators.
//!
//! - Text: `"Hello from qianfan <endpoint>: <last user text>"` (v2: `qianfan-v2 <model>`); when
//!   the last message is a function/tool result: `"… : tool result: <its text>"`. The text is cut
//!   into `chunks` pieces of (almost) equal character length (padded with `.`), one token each;
//!   `max_output_tokens`/`max_tokens` below the piece count keeps the first pieces and finishes
//!   with `length`.
//! - Usage: `prompt_tokens` = Σ over messages (and the v1 `system` text) of (characters / 4 + 3),
//!   at least 1; `completion_tokens` = pieces (or tool-call fragments).
//! - Tools: with v1 `functions` / v2 `tools` present and the last message from the user, the
//!   answer calls the first function (or the one `tool_choice` names) with
//!   [`TOOL_ARGUMENTS`], split into `max(chunks, 2)` fragments (one token each).
//! - Markers in the last user message: `sim_error:<code>` (the provider's error for that code),
//!   `sim_unsafe` (v1: `need_clear_history: true`, a refusal text), `sim_fault:<spec>`.

use rand::Rng;

/// Arguments of every simulated function call.
pub const TOOL_ARGUMENTS: &str = r#"{"location":"Paris","unit":"celsius"}"#;

/// The refusal sent for `sim_unsafe`.
pub const UNSAFE_REPLY: &str = "I cannot answer that question.";

/// The marker that asks for a provider error.
pub const ERROR_MARKER: &str = "sim_error:";

/// The marker that makes the answer unsafe (v1).
pub const UNSAFE_MARKER: &str = "sim_unsafe";

/// A request id in Baidu's format (`as-` and 10 lower-case letters or digits).
pub fn request_id() -> String {
    let mut rng = rand::rng();
    let tail: String = (0..10)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)]))
        .collect();
    format!("as-{tail}")
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Splits `text` into exactly `pieces` non-empty parts of (almost) equal character length,
/// padding with `.` when the text is too short.
pub fn split_even(text: &str, pieces: usize) -> Vec<String> {
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

/// `prompt_tokens` of a conversation given its texts.
pub fn prompt_tokens<'a>(texts: impl IntoIterator<Item = &'a str>) -> u64 {
    texts
        .into_iter()
        .map(|t| t.chars().count() as u64 / 4 + 3)
        .sum::<u64>()
        .max(1)
}

/// The code after `sim_error:` in `text` (letters, digits and `_`).
pub fn error_marker(text: &str) -> Option<&str> {
    let start = text.find(ERROR_MARKER)? + ERROR_MARKER.len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// One answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Text pieces, one token each; `truncated` when `max_tokens` cut it.
    Text {
        /// The pieces.
        pieces: Vec<String>,
        /// Cut by the output limit.
        truncated: bool,
    },
    /// One call of `name` with [`TOOL_ARGUMENTS`] in fragments.
    Call {
        /// The function called.
        name: String,
        /// The argument fragments.
        fragments: Vec<String>,
    },
}

impl Answer {
    /// A text answer.
    pub fn text(text: &str, chunks: usize, max_tokens: Option<u64>) -> Self {
        let mut pieces = split_even(text, chunks);
        let mut truncated = false;
        if let Some(max) = max_tokens
            && (max as usize) < pieces.len()
        {
            pieces.truncate(max as usize);
            truncated = true;
        }
        Answer::Text { pieces, truncated }
    }

    /// A function call.
    pub fn call(name: &str, chunks: usize) -> Self {
        Answer::Call {
            name: name.to_owned(),
            fragments: split_even(TOOL_ARGUMENTS, chunks.max(2)),
        }
    }

    /// Completion tokens.
    pub fn tokens(&self) -> u64 {
        match self {
            Answer::Text { pieces, .. } => pieces.len() as u64,
            Answer::Call { fragments, .. } => fragments.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(split_even("abcdef", 4).concat(), "abcdef");
        assert_eq!(split_even("ab", 3), vec!["a", "b", "."]);
        assert_eq!(prompt_tokens(["12345678", ""]), 2 + 3 + 3);
        assert_eq!(error_marker("x sim_error:336100."), Some("336100"));
        assert_eq!(
            error_marker("sim_error:rpm_rate_limit_exceeded"),
            Some("rpm_rate_limit_exceeded")
        );
        assert_eq!(Answer::text("abcdefgh", 4, Some(2)).tokens(), 2);
        let id = request_id();
        assert!(id.starts_with("as-") && id.len() == 13, "{id}");
    }
}
