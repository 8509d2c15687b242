//! Local token counting with the bundled tiktoken vocabularies (no download, works offline).
//!
//! Used to size quota reservations and as the fallback when an upstream reports no usage. Each
//! vocabulary loads once, on first use (a loaded one holds tens of MB); [`warm_up`] loads, ahead
//! of the first request, only those that the served models use.

use std::sync::OnceLock;

use switchyard_types::ChatMessage;
use tiktoken_rs::CoreBPE;

static CL100K: OnceLock<Option<CoreBPE>> = OnceLock::new();
static O200K: OnceLock<Option<CoreBPE>> = OnceLock::new();

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

fn bpe_for(model: &str) -> Option<&'static CoreBPE> {
    if uses_o200k(model) {
        O200K
            .get_or_init(|| tiktoken_rs::o200k_base().ok())
            .as_ref()
    } else {
        CL100K
            .get_or_init(|| tiktoken_rs::cl100k_base().ok())
            .as_ref()
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
    match bpe_for(model) {
        Some(bpe) => bpe.encode_ordinary(text).len() as u64,
        // Unreachable with the bundled files; a rough count beats none.
        None => (text.len() as u64).div_ceil(4),
    }
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
}
