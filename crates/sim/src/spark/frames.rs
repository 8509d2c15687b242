//! Spark response frames, written field by field in the provider's order.
//!
//! Text frame: `{"header":{"code":0,"message":"Success","sid":…,"status":S},"payload":{"choices":
//! {"status":S,"seq":N,"text":[{"content":…,"role":"assistant","index":0}]}}}` with `S` 0 for
//! the first frame, 1 in the middle and 2 for the last, which also carries
//! `"usage":{"text":{"question_tokens","prompt_tokens","completion_tokens","total_tokens"}}`.
//! A function call is one `status: 2` frame whose text item has `content: ""`,
//! `content_type: "text"` and `function_call: {arguments, name}`. An error is
//! `{"header":{"code":C,"message":"<Kind>:(HH:MM:SS.mmm) <detail>","sid":…,"status":2}}`.

use rand::Rng as _;

/// Arguments of every simulated function call.
pub(crate) const TOOL_ARGUMENTS: &str = r#"{"location":"Paris","unit":"celsius"}"#;

/// Token counts of one answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tokens {
    pub(crate) question: u64,
    pub(crate) prompt: u64,
    pub(crate) completion: u64,
}

fn q(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn header(sid: &str, status: u8) -> String {
    format!(
        r#"{{"code":0,"message":"Success","sid":{},"status":{status}}}"#,
        q(sid)
    )
}

fn usage(t: Tokens) -> String {
    format!(
        r#""usage":{{"text":{{"question_tokens":{},"prompt_tokens":{},"completion_tokens":{},"total_tokens":{}}}}}"#,
        t.question,
        t.prompt,
        t.completion,
        t.prompt + t.completion
    )
}

/// The text frames of an answer cut into `pieces` (one frame each; a single piece is a single
/// `status: 2` frame).
pub(crate) fn text_frames(sid: &str, pieces: &[String], tokens: Tokens) -> Vec<String> {
    let last = pieces.len().saturating_sub(1);
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let status: u8 = if i == last {
                2
            } else if i == 0 {
                0
            } else {
                1
            };
            let tail = if i == last {
                format!(",{}", usage(tokens))
            } else {
                String::new()
            };
            format!(
                r#"{{"header":{},"payload":{{"choices":{{"status":{status},"seq":{i},"text":[{{"content":{},"role":"assistant","index":0}}]}}{tail}}}}}"#,
                header(sid, status),
                q(piece)
            )
        })
        .collect()
}

/// The single frame of a function call.
pub(crate) fn function_call_frame(sid: &str, name: &str, tokens: Tokens) -> String {
    format!(
        r#"{{"header":{},"payload":{{"choices":{{"status":2,"seq":0,"text":[{{"content":"","role":"assistant","content_type":"text","function_call":{{"arguments":{},"name":{}}},"index":0}}]}},{}}}}}"#,
        header(sid, 2),
        q(TOOL_ARGUMENTS),
        q(name),
        usage(tokens)
    )
}

/// An error frame.
pub(crate) fn error_frame(sid: &str, code: i64, detail: &str) -> String {
    let kind = error_kind(code);
    let time = chrono::Utc::now().format("%H:%M:%S%.3f");
    format!(
        r#"{{"header":{{"code":{code},"message":{},"sid":{},"status":2}}}}"#,
        q(&format!("{kind}:({time}) {detail}")),
        q(sid)
    )
}

/// The error class name Spark puts before the time in `header.message`.
fn error_kind(code: i64) -> &'static str {
    match code {
        10003 => "ClientMsgError",
        10004 => "SchemaCheckError",
        10005 => "ParamValueError",
        10006 => "ConcurrencyError",
        10007 => "TrafficLimitError",
        10008 => "CapacityError",
        10013 => "InputAuditError",
        10014 => "OutputAuditError",
        10015 => "AppIdBlacklistError",
        10016 => "AppIdAuthError",
        10019 => "ContentTendencyError",
        10907 => "TokenLimitError",
        11200 => "AppIdNoAuthError",
        11201 => "AppIdDailyLimitError",
        11202 => "AppIdQpsLimitError",
        11203 => "AppIdConcurrencyLimitError",
        _ => "EngineError",
    }
}

/// The documented description of a code, used as the detail of `sim_error:` frames.
pub(crate) fn describe(code: i64) -> &'static str {
    match code {
        10000 => "websocket upgrade error",
        10001 => "error reading the user's message",
        10002 => "error sending to the user",
        10003 => "invalid message format",
        10004 => "schema check failed",
        10005 => "invalid parameter value",
        10006 => "user already connected",
        10007 => "user traffic limited: the previous question is still being processed",
        10008 => "service capacity insufficient",
        10009 => "engine connection failed",
        10010 => "engine receive error",
        10011 => "engine send error",
        10012 => "engine internal error",
        10013 => "input content failed moderation",
        10014 => "output content failed moderation",
        10015 => "appid blacklisted",
        10016 => "appid authorization error",
        10017 => "clearing history failed",
        10019 => "content tends towards violation",
        10110 => "service busy",
        10163 => "engine schema check failed",
        10222 => "engine network error",
        10907 => "token count over the limit",
        11200 => "tokens.total",
        11201 => "daily flow limit exceeded",
        11202 => "second-level flow limit exceeded",
        11203 => "concurrency flow limit exceeded",
        _ => "error",
    }
}

/// A fresh session id in Spark's shape (`cht000b702a@dx18d6fb9d758b894540`).
pub(crate) fn sid() -> String {
    let mut rng = rand::rng();
    format!(
        "cht000{:04x}@dx{:013x}{:03}0",
        rng.random_range(0..0x1_0000u32),
        rng.random_range(0..0x10_0000_0000_0000u64),
        rng.random_range(0..1000u32)
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_documented_shape() {
        let t = Tokens {
            question: 4,
            prompt: 5,
            completion: 3,
        };
        let f = text_frames("cht1", &["a".into(), "b".into(), "c".into()], t);
        let v: Vec<serde_json::Value> =
            f.iter().map(|s| serde_json::from_str(s).unwrap()).collect();
        assert_eq!(v[0]["header"]["status"], 0);
        assert_eq!(v[1]["header"]["status"], 1);
        assert_eq!(v[2]["header"]["status"], 2);
        assert_eq!(v[2]["payload"]["choices"]["status"], 2);
        assert_eq!(v[2]["payload"]["usage"]["text"]["total_tokens"], 8);
        assert!(v[1]["payload"].get("usage").is_none());
        assert!(f[0].starts_with(
            r#"{"header":{"code":0,"message":"Success","sid":"cht1","status":0},"payload""#
        ));
        let one = text_frames("s", &["x".into()], t);
        assert_eq!(one.len(), 1);
        assert!(one[0].contains(r#""status":2"#));
        let e: serde_json::Value =
            serde_json::from_str(&error_frame("s", 11200, "tokens.total")).unwrap();
        assert_eq!(e["header"]["code"], 11200);
        assert!(
            e["header"]["message"]
                .as_str()
                .unwrap()
                .starts_with("AppIdNoAuthError:(")
        );
        assert!(e.get("payload").is_none());
        assert_eq!(split_even("ab", 4), vec!["a", "b", ".", "."]);
    }
}
