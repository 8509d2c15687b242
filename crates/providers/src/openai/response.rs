//! Non-stream answers and error bodies of the OpenAI dialect.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use switchyard_types::Usage;

use crate::adapter::{ChatOutput, ConvertError, UpstreamError};

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    choices: Vec<ChoiceProbe>,
}

#[derive(Deserialize)]
struct ChoiceProbe {
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    message: Option<MessageProbe>,
}

#[derive(Deserialize)]
struct MessageProbe {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Value>,
}

#[derive(Deserialize)]
struct UsageOnly {
    #[serde(default)]
    usage: Option<Counts>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
struct Counts {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<Cached>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
struct Cached {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

/// The top-level `usage` object of an answer, looked for from its end without reading the
/// choices before it (serde skipping them cost about 10k instructions a request).
///
/// A `"usage"` found is taken only when it is a key (an unescaped quote, then `:`), its value
/// parses as the counts, and what follows that value closes the outermost object and ends the
/// answer, which a `usage` nested anywhere deeper cannot do. A string cannot hide a match: any
/// quote inside one is escaped. `None` sends the caller to the full parse.
fn tail_usage(body: &[u8]) -> Option<Counts> {
    // Candidates found from their `g`, the rarest byte of `"usage"`, by memrchr: a substring
    // searcher going backwards (two-way, without SIMD) cost about 3 instructions a byte.
    const KEY: &[u8] = b"\"usage\"";
    let starts = memchr::memrchr_iter(b'g', body)
        .filter_map(|g| g.checked_sub(4))
        .filter(|&at| body[at..].starts_with(KEY));
    for at in starts.take(4) {
        let escapes = body[..at].iter().rev().take_while(|&&b| b == b'\\').count();
        if escapes % 2 == 1 {
            continue;
        }
        let rest = &body[at + 7..];
        let Some(colon) = rest.iter().position(|b| !b.is_ascii_whitespace()) else {
            continue;
        };
        if rest[colon] != b':' {
            continue;
        }
        let value = &rest[colon + 1..];
        let read = plain_counts(value).or_else(|| {
            let mut values = serde_json::Deserializer::from_slice(value).into_iter::<Counts>();
            let counts = values.next()?.ok()?;
            Some((counts, values.byte_offset()))
        });
        let Some((counts, end)) = read else {
            continue;
        };
        if closes_outermost(&value[end..]) {
            return Some(counts);
        }
    }
    None
}

/// The counts of a usage object as upstreams write it (keys without escapes, counts as plain
/// integers or `null`), and the bytes it spans; `None` for anything else, which serde reads.
/// By hand because serde spent about 4,000 instructions a request on the dozen members of
/// OpenAI's usage, most of them detail objects that billing does not need.
fn plain_counts(v: &[u8]) -> Option<(Counts, usize)> {
    let mut c = Counts::default();
    let end = members(v, &mut |key, at| match key {
        b"prompt_tokens" => count(v, at, &mut c.prompt_tokens),
        b"completion_tokens" => count(v, at, &mut c.completion_tokens),
        b"total_tokens" => count(v, at, &mut c.total_tokens),
        b"prompt_tokens_details" if v.get(at) == Some(&b'{') => {
            let mut cached = None;
            let inner = &v[at..];
            let n = members(inner, &mut |k, i| match k {
                b"cached_tokens" => count(inner, i, &mut cached),
                _ => skip_value(inner, i),
            })?;
            c.prompt_tokens_details = Some(Cached {
                cached_tokens: cached,
            });
            Some(at + n)
        }
        _ => skip_value(v, at),
    })?;
    Some((c, end))
}

/// Walks the object that `v` starts with (after blanks): `member(key, value_start)` returns
/// where the value ends. Returns the index after the closing `}`.
fn members(v: &[u8], member: &mut dyn FnMut(&[u8], usize) -> Option<usize>) -> Option<usize> {
    let mut i = blank(v, 0);
    if v.get(i) != Some(&b'{') {
        return None;
    }
    i = blank(v, i + 1);
    if v.get(i) == Some(&b'}') {
        return Some(i + 1);
    }
    loop {
        if v.get(i) != Some(&b'"') {
            return None;
        }
        let len = memchr::memchr2(b'"', b'\\', &v[i + 1..])?;
        if v[i + 1 + len] != b'"' {
            return None;
        }
        let key = &v[i + 1..i + 1 + len];
        i = blank(v, i + len + 2);
        if v.get(i) != Some(&b':') {
            return None;
        }
        i = blank(v, member(key, blank(v, i + 1))?);
        match v.get(i)? {
            b',' => i = blank(v, i + 1),
            b'}' => return Some(i + 1),
            _ => return None,
        }
    }
}

/// A non-negative integer or `null` at `at` into `out`; where it ends.
fn count(v: &[u8], at: usize, out: &mut Option<u64>) -> Option<usize> {
    if v[at..].starts_with(b"null") {
        *out = None;
        return Some(at + 4);
    }
    let mut n = 0u64;
    let mut i = at;
    while let Some(d) = v.get(i).filter(|b| b.is_ascii_digit()) {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        i += 1;
    }
    if i == at || matches!(v.get(i), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    *out = Some(n);
    Some(i)
}

/// Where the JSON value at `at` ends (strings and nesting followed, scalars taken as written).
fn skip_value(v: &[u8], at: usize) -> Option<usize> {
    let (open, close) = match *v.get(at)? {
        b'"' => return string_end(v, at).map(|end| end + 1),
        b'{' => (b'{', b'}'),
        b'[' => (b'[', b']'),
        _ => {
            // The end of a scalar; a value that is not there at all is not JSON.
            let len = v[at..]
                .iter()
                .position(|b| matches!(b, b'}' | b']' | b','))?;
            return (len > 0).then_some(at + len);
        }
    };
    // Only this kind of bracket is counted: the other kind nests inside it in pairs.
    let mut depth = 0usize;
    let mut i = at;
    loop {
        let j = i + memchr::memchr3(b'"', open, close, v.get(i..)?)?;
        i = j + 1;
        if v[j] == b'"' {
            i = string_end(v, j)? + 1;
        } else if v[j] == open {
            depth += 1;
        } else {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
}

/// The index of the quote that closes the string opening at `v[at]`; `None` if it never closes.
fn string_end(v: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', v.get(i..)?)?;
        if v[j] == b'"' {
            return Some(j);
        }
        i = j + 2;
    }
}

fn blank(v: &[u8], mut i: usize) -> usize {
    while v.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// True when `tail`, read from inside an object member list, closes that object with a `}` that
/// is the answer's last non-blank byte. Strings are skipped; nothing else is validated.
fn closes_outermost(tail: &[u8]) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < tail.len() {
        match tail[i] {
            b'"' => match string_end(tail, i) {
                Some(end) => i = end,
                None => return false,
            },
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => depth -= 1,
            b'}' => return tail[i + 1..].iter().all(u8::is_ascii_whitespace),
            b']' => return false,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Reads usage from the answer. OpenAI's own answers pass through byte for byte; other
/// flavours' answers get the fields OpenAI's schema requires and they omit (`logprobs`,
/// `message.refusal`), and lose the non-standard `choices[].usage`.
pub(super) fn convert(body: Bytes, repair: bool) -> Result<ChatOutput, ConvertError> {
    let body = if repair { complete(body)? } else { body };
    let not_chat = |e: serde_json::Error| {
        ConvertError::Protocol(format!("upstream answer is not a chat completion: {e}"))
    };
    // Nearly every answer has usage: read only the counts billing needs (the choices and the
    // detail objects are skipped, not built; the body goes on unchanged). Found from the end
    // first, where OpenAI puts it; the whole answer is read only when that fails.
    let counts = match tail_usage(&body) {
        Some(c) => Some(c),
        None => {
            serde_json::from_slice::<UsageOnly>(&body)
                .map_err(not_chat)?
                .usage
        }
    };
    if let Some(c) = counts {
        let mut usage = Usage::new(
            c.prompt_tokens.unwrap_or(0),
            c.completion_tokens.unwrap_or(0),
        );
        usage.total_tokens = c.total_tokens.unwrap_or(usage.total_tokens);
        // Read by billing only (the answer goes on as it came): none cached is no detail.
        if let Some(n) = c
            .prompt_tokens_details
            .and_then(|d| d.cached_tokens)
            .filter(|&n| n > 0)
        {
            usage.extra.insert(
                "prompt_tokens_details".into(),
                serde_json::json!({ "cached_tokens": n }),
            );
        }
        return Ok(ChatOutput {
            body,
            usage: Some(usage),
            text_for_count: None,
        });
    }
    let probe: Probe = serde_json::from_slice(&body).map_err(not_chat)?;
    let usage = probe
        .usage
        .or_else(|| probe.choices.iter().find_map(|c| c.usage.clone()));
    let text_for_count = if usage.is_none() {
        let mut text = String::new();
        for c in &probe.choices {
            if let Some(m) = &c.message {
                text.push_str(m.content.as_deref().unwrap_or(""));
                if let Some(t) = &m.tool_calls {
                    text.push_str(&t.to_string());
                }
            }
        }
        Some(text)
    } else {
        None
    };
    Ok(ChatOutput {
        body,
        usage,
        text_for_count,
    })
}

fn complete(body: Bytes) -> Result<Bytes, ConvertError> {
    let mut v: Value = serde_json::from_slice(&body).map_err(|e| {
        ConvertError::Protocol(format!("upstream answer is not a chat completion: {e}"))
    })?;
    let mut usage_inside = None;
    for c in v["choices"].as_array_mut().into_iter().flatten() {
        let Some(c) = c.as_object_mut() else { continue };
        if let Some(u) = c.remove("usage") {
            usage_inside.get_or_insert(u);
        }
        c.entry("logprobs").or_insert(Value::Null);
        if let Some(m) = c.get_mut("message").and_then(Value::as_object_mut) {
            m.entry("refusal").or_insert(Value::Null);
            if m.get("content").is_none() {
                m.insert("content".into(), Value::Null);
            }
        }
    }
    if let (Some(u), Some(obj)) = (usage_inside, v.as_object_mut()) {
        obj.entry("usage").or_insert(u);
    }
    serde_json::to_vec(&v)
        .map(Bytes::from)
        .map_err(|e| ConvertError::Protocol(e.to_string()))
}

/// Reads an OpenAI-shaped error body; falls back to the raw text.
pub(crate) fn error(status: u16, body: &[u8]) -> UpstreamError {
    #[derive(Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default)]
        message: Option<String>,
        #[serde(default, rename = "type")]
        kind: Option<String>,
        #[serde(default)]
        code: Option<Value>,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(b) => UpstreamError {
            status,
            message: b
                .error
                .message
                .unwrap_or_else(|| format!("upstream status {status}")),
            kind: b.error.kind,
            code: b.error.code.and_then(|c| match c {
                Value::String(s) => Some(s),
                Value::Null => None,
                other => Some(other.to_string()),
            }),
        },
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let message = if text.is_empty() {
                format!("upstream status {status}")
            } else {
                text.chars().take(512).collect()
            };
            UpstreamError {
                status,
                message,
                kind: None,
                code: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Counts, plain_counts, tail_usage};

    fn prompt(body: &str) -> Option<u64> {
        tail_usage(body.as_bytes()).map(|c| c.prompt_tokens.unwrap_or(0))
    }

    #[test]
    fn only_a_top_level_usage_is_read_from_the_tail() {
        // Last member, or followed by others (OpenAI's order), blanks included.
        assert_eq!(
            prompt(r#"{"choices":[],"usage":{"prompt_tokens":5}}"#),
            Some(5)
        );
        assert_eq!(
            prompt(r#"{"usage" : {"prompt_tokens":6} , "service_tier":"a}b\"]","x":[{}]} "#),
            Some(6)
        );
        // "usage" as a string value before the real key.
        assert_eq!(
            prompt(r#"{"object":"usage","usage":{"prompt_tokens":7}}"#),
            Some(7)
        );
        // Nested deeper: inside a choice, or in an object that is not the answer.
        assert_eq!(
            prompt(r#"{"choices":[{"usage":{"prompt_tokens":9}}]}"#),
            None
        );
        assert_eq!(prompt(r#"{"meta":{"usage":{"prompt_tokens":9}}}"#), None);
        // A key that only ends in `usage"` after an escaped quote.
        assert_eq!(prompt(r#"{"\"usage":{"prompt_tokens":9}}"#), None);
        // Not closed, or not an object of counts: left to the full parse.
        assert_eq!(prompt(r#"{"choices":[],"usage":{"prompt_tokens":5}"#), None);
        assert_eq!(prompt(r#"{"usage":null}"#), None);
    }

    /// The hand reader agrees with serde on what it reads, and leaves the rest to serde.
    #[test]
    fn plain_counts_read_what_serde_reads() {
        for text in [
            r#"{"completion_tokens":5,"completion_tokens_details":{"accepted_prediction_tokens":0,"audio_tokens":0},"prompt_tokens":4,"prompt_tokens_details":{"audio_tokens":0,"cached_tokens":3},"total_tokens":9}"#,
            r#" { "prompt_tokens" : 12 , "x" : [ "a\"}" , { "b" : [ 1 , 2 ] } ] , "total_tokens" : null } "#,
            r#"{"prompt_tokens":1,"prompt_tokens_details":{}}"#,
            r#"{}"#,
            r#"{"total_tokens":18446744073709551615}"#,
        ] {
            let (got, end) = plain_counts(text.as_bytes()).expect(text);
            let want: Counts = serde_json::from_str(text).expect(text);
            assert_eq!(got, want, "{text}");
            assert_eq!(text[end..].trim(), "", "{text}");
        }
        for text in [
            r#"{"prompt_tokens":1.0}"#,
            r#"{"prompt_tokens":-1}"#,
            r#"{"prompt\u005ftokens":1}"#,
            r#"{"prompt_tokens":1"#,
            r#"{"prompt_tokens" 1}"#,
            r#"{"x":,"prompt_tokens":1}"#,
            r#"{"prompt_tokens":18446744073709551616}"#,
        ] {
            assert_eq!(plain_counts(text.as_bytes()), None, "{text}");
        }
        // Ends where the object ends, whatever follows.
        let (_, end) = plain_counts(br#"{"total_tokens":2},"x":1}"#).expect("object");
        assert_eq!(end, 18);
    }
}
