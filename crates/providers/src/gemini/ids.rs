//! Ids the gateway makes up for Gemini answers: `chatcmpl-…` completions and `call_…` tool calls.
//!
//! Gemini gives function calls no id an OpenAI client could echo, so each call gets
//! `call_<24 alphanumerics>`. Newer Gemini models attach a `thoughtSignature` to a function call
//! and refuse the next turn unless it comes back on that call; OpenAI clients only keep the id,
//! so the signature rides inside it: `call_<24>__ts_<signature as URL-safe base64>`. The request
//! side takes it out again ([`signature_from_id`]) and restores standard base64.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng as _;
use rand::distr::Alphanumeric;

/// Separates the random id from an embedded thought signature.
const SIG_MARK: &str = "__ts_";

fn alnum(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// A fresh tool-call id, carrying `signature` when Gemini gave one.
pub(crate) fn call_id(signature: Option<&str>) -> String {
    let base = format!("call_{}", alnum(24));
    match signature.and_then(|s| STANDARD.decode(s.trim()).ok()) {
        Some(bytes) if !bytes.is_empty() => {
            format!("{base}{SIG_MARK}{}", URL_SAFE_NO_PAD.encode(bytes))
        }
        _ => base,
    }
}

/// The thought signature embedded in a tool-call id by [`call_id`], in standard base64.
pub(crate) fn signature_from_id(id: &str) -> Option<String> {
    let (_, sig) = id.split_once(SIG_MARK)?;
    let bytes = URL_SAFE_NO_PAD.decode(sig).ok()?;
    (!bytes.is_empty()).then(|| STANDARD.encode(bytes))
}

/// A completion id: `chatcmpl-` and Gemini's `responseId` when it sent one.
pub(crate) fn completion_id(response_id: Option<&str>) -> String {
    match response_id.filter(|r| !r.is_empty()) {
        Some(r) => format!("chatcmpl-{r}"),
        None => format!("chatcmpl-{}", alnum(29)),
    }
}
