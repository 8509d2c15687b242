//! Local token counting with OpenAI's cl100k and o200k vocabularies, bundled in the binary (no
//! download, works offline). `bpe-openai` counts exactly as tiktoken does (a unit test holds it
//! to reference counts), in about a quarter of the instructions of tiktoken-rs, whose
//! backtracking pre-tokenizer regex was a tenth of a chat request's cost under callgrind.
//!
//! Used to size quota reservations and as the fallback when an upstream reports no usage. Each
//! vocabulary loads once, on first use (a loaded one holds tens of MB); [`warm_up`] loads, ahead
//! of the first request, only those that the served models use.

use bpe_openai::Tokenizer;
use switchyard_types::ChatMessage;

/// Tokens charged per image part when counting locally (OpenAI's low-detail figure).
pub const IMAGE_TOKENS: u64 = 85;

/// Whether `model` counts with o200k (the newer OpenAI models) rather than cl100k.
fn uses_o200k(model: &str) -> bool {
    model.starts_with("gpt-4o")
        || model.starts_with("gpt-4.1")
        || model.starts_with("gpt-5")
        || model.starts_with("o1")
        || model.starts_with("o3")
        || model.starts_with("o4")
}

fn bpe_for(model: &str) -> &'static Tokenizer {
    if uses_o200k(model) {
        bpe_openai::o200k_base()
    } else {
        bpe_openai::cl100k_base()
    }
}

/// Loads now the vocabularies that `models` count with (each at most once); a vocabulary no
/// served model needs stays unloaded until a request needs it.
pub fn warm_up<'a>(models: impl IntoIterator<Item = &'a str>) {
    let (mut cl100k, mut o200k) = (false, false);
    for m in models {
        if uses_o200k(m) {
            o200k = true;
        } else {
            cl100k = true;
        }
        if cl100k && o200k {
            break;
        }
    }
    if cl100k {
        let _ = bpe_for("gpt-4");
    }
    if o200k {
        let _ = bpe_for("gpt-4o");
    }
}

/// Tokens in `text` for `model`'s tokenizer (cl100k for unknown models).
pub fn count_text(model: &str, text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    bpe_for(model).count(text) as u64
}

/// Prompt tokens of a conversation, after OpenAI's cookbook formula: 3 per message, 1 per name,
/// the content, and 3 priming the answer; tool definitions counted as their JSON text.
pub fn count_prompt(
    model: &str,
    messages: &[ChatMessage],
    tools: Option<&[serde_json::Value]>,
) -> u64 {
    let mut total = 3;
    let mut text = String::new();
    for m in messages {
        total += 3;
        text.push_str(&m.role);
        text.push('\n');
        if let Some(c) = &m.content {
            c.for_each_text(|t| {
                text.push_str(t);
                text.push('\n');
            });
            total += IMAGE_TOKENS * c.media_parts() as u64;
        }
        if let Some(name) = m.extra.get("name").and_then(|v| v.as_str()) {
            total += 1;
            text.push_str(name);
        }
        for call in m.tool_calls.iter().flatten() {
            text.push_str(&call.to_string());
        }
    }
    for t in tools.into_iter().flatten() {
        text.push_str(&t.to_string());
    }
    total + count_text(model, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_tiktoken() {
        assert_eq!(count_text("gpt-4", "hello world"), 2);
        assert_eq!(count_text("gpt-4o", "hello world"), 2);
        assert_eq!(count_text("anything", ""), 0);
        assert!(uses_o200k("gpt-4o-mini") && uses_o200k("o3"));
        assert!(!uses_o200k("gpt-4") && !uses_o200k("qwen-plus"));
        let msgs: Vec<ChatMessage> = serde_json::from_value(serde_json::json!([
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": [{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"x"}}]}
        ]))
        .unwrap();
        let n = count_prompt("gpt-4", &msgs, None);
        assert!(n > 85 + 6 + 3 && n < 85 + 6 + 3 + 20, "{n}");
    }

    /// Counts of tiktoken-rs 0.12 (`encode_ordinary`, cl100k and o200k), the reference the
    /// gateway used before: contractions, digit runs, whitespace runs, CRLF, non-Latin text,
    /// emoji, code, and special-token text counted as ordinary text.
    #[test]
    fn counts_equal_tiktoken_reference() {
        let cases: &[(&str, u64, u64)] = &[
            ("hello world", 2, 2),
            (
                "Hello, world! How are   you?\n\n  It's 2024; I'll pay $3.50.",
                24,
                22,
            ),
            ("   leading and trailing   ", 5, 5),
            ("naïve café 東京 emoji 🎉 mixed\r\n\tTabs", 15, 12),
            ("a\n\n\n b  \n c", 5, 5),
            ("1234567 12 345", 7, 7),
            ("don't I'LL we'Re", 7, 5),
            ("<|endoftext|> is text here", 10, 10),
            ("fn main() {\n    println!(\"{}\", x[0]);\n}\n", 12, 12),
        ];
        for (text, cl100k, o200k) in cases {
            assert_eq!(count_text("gpt-4", text), *cl100k, "cl100k {text:?}");
            assert_eq!(count_text("gpt-4o", text), *o200k, "o200k {text:?}");
        }
    }
}
