//! Unit tests of the Qianfan v1 stream converter.

use serde_json::{Value, json};
use switchyard_sse::{Decoder, Event};
use switchyard_types::Usage;

use super::tests::CTX;
use crate::adapter::{ConvertError, Emit, StreamStep};
use crate::{Provider, adapter};

struct Run {
    chunks: Vec<Value>,
    usage: Option<Usage>,
    usage_reports: usize,
    text: String,
    done_at: Option<usize>,
}

fn run(frames: &[&str]) -> Result<Run, ConvertError> {
    let mut conv = adapter(Provider::Qianfan).stream_converter(&CTX);
    let mut emit = Emit::default();
    let mut out = Run {
        chunks: Vec::new(),
        usage: None,
        usage_reports: 0,
        text: String::new(),
        done_at: None,
    };
    for (i, f) in frames.iter().enumerate() {
        emit.clear();
        let step = conv.event(
            &Event {
                event: None,
                data: (*f).to_owned(),
                meta: None,
            },
            &mut emit,
        )?;
        out.chunks.extend(
            emit.chunks
                .iter()
                .map(|c| serde_json::from_slice::<Value>(c).unwrap()),
        );
        if let Some(u) = emit.usage.take() {
            out.usage = Some(u);
            out.usage_reports += 1;
        }
        out.text.push_str(&emit.text);
        if step == StreamStep::Done && out.done_at.is_none() {
            out.done_at = Some(i);
        }
    }
    let (id, created, model) = conv.identity();
    for c in &out.chunks {
        assert_eq!(
            (c["id"].as_str(), c["created"].as_u64(), c["model"].as_str()),
            (Some(id), Some(created), Some(model))
        );
        assert_eq!(c["object"], "chat.completion.chunk");
    }
    Ok(out)
}

fn content(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// The two chunks of §2.4 of the protocol notes, byte for byte.
const DOC_1: &str = r#"{"id":"as-vb0m37ti8y","object":"chat.completion","created":1709089502,"sentence_id":0,"is_end":false,"is_truncated":false,"result":"当然可以，","need_clear_history":false,"finish_reason":"normal","usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#;
const DOC_2: &str = r#"{"id":"as-vb0m37ti8y","object":"chat.completion","created":1709089531,"sentence_id":20,"is_end":true,"is_truncated":false,"result":"","need_clear_history":false,"finish_reason":"normal","usage":{"prompt_tokens":5,"completion_tokens":420,"total_tokens":425}}"#;

#[test]
fn documented_stream_converts_and_usage_comes_from_is_end_only() {
    let r = run(&[DOC_1, DOC_2]).unwrap();
    assert_eq!(r.done_at, Some(1));
    assert_eq!(r.chunks.len(), 2);
    assert_eq!(
        r.chunks[0],
        json!({"id": "as-vb0m37ti8y", "object": "chat.completion.chunk", "created": 1709089502,
            "model": "ERNIE-Bot-4", "choices": [{"index": 0,
            "delta": {"role": "assistant", "content": "当然可以，"}, "logprobs": null, "finish_reason": null}]})
    );
    assert_eq!(r.chunks[1]["choices"][0]["delta"], json!({}));
    assert_eq!(r.chunks[1]["choices"][0]["finish_reason"], "stop");
    // The intermediate usage (2 completion tokens) is neither reported nor added.
    assert_eq!(r.usage_reports, 1);
    let u = r.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (5, 420, 425)
    );
    assert_eq!(r.text, "当然可以，");
    assert!(r.chunks.iter().all(|c| c.get("usage").is_none()));
}

#[test]
fn sse_framing_with_space_and_crlf_decodes_to_the_same_answer() {
    let raw = format!("data: {DOC_1}\r\n\r\ndata:{DOC_2}\n\n");
    let mut events = Vec::new();
    let mut dec = Decoder::new(1 << 20);
    dec.feed(raw.as_bytes(), &mut events).unwrap();
    dec.finish(&mut events).unwrap();
    let frames: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
    let r = run(&frames).unwrap();
    assert_eq!(content(&r.chunks), "当然可以，");
    assert_eq!(r.done_at, Some(1));
}

#[test]
fn last_text_in_the_is_end_chunk_is_kept() {
    let f = |result: &str, end: bool, completion: u64| {
        format!(
            r#"{{"id":"as-1","object":"chat.completion","created":9,"is_end":{end},"result":"{result}","finish_reason":"normal","usage":{{"prompt_tokens":4,"completion_tokens":{completion},"total_tokens":{}}}}}"#,
            4 + completion
        )
    };
    let frames = [f("Hel", false, 0), f("lo", false, 0), f(" world", true, 3)];
    let refs: Vec<&str> = frames.iter().map(String::as_str).collect();
    let r = run(&refs).unwrap();
    assert_eq!(content(&r.chunks), "Hello world");
    assert_eq!(r.chunks.len(), 4);
    assert_eq!(r.chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(
        r.chunks[1..]
            .iter()
            .all(|c| c["choices"][0]["delta"].get("role").is_none())
    );
    assert!(
        r.chunks[..3]
            .iter()
            .all(|c| c["choices"][0]["finish_reason"].is_null())
    );
    assert_eq!(r.chunks[3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(r.usage.unwrap().completion_tokens, 3);
    assert_eq!(r.usage_reports, 1);
}

#[test]
fn function_call_in_a_stream_is_one_indexed_tool_call() {
    let frame = r#"{"id":"as-f","object":"chat.completion","created":3,"is_end":true,"result":"","function_call":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"},"usage":{"prompt_tokens":10,"completion_tokens":6,"total_tokens":16}}"#;
    let r = run(&[frame]).unwrap();
    assert_eq!(r.chunks.len(), 2);
    let d = &r.chunks[0]["choices"][0]["delta"];
    assert_eq!(d["role"], "assistant");
    assert_eq!(d["content"], Value::Null);
    assert_eq!(
        d["tool_calls"],
        json!([{"index": 0, "id": "call_as-f_0", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])
    );
    assert_eq!(r.chunks[1]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(r.text, "get_weather{\"city\":\"Paris\"}");
}

#[test]
fn unsafe_answers_finish_with_content_filter() {
    let a = r#"{"id":"as-u","created":1,"is_end":false,"result":"I cannot","need_clear_history":true,"ban_round":-1}"#;
    let b = r#"{"id":"as-u","created":1,"is_end":true,"result":" help.","finish_reason":"normal"}"#;
    let r = run(&[a, b]).unwrap();
    assert_eq!(
        r.chunks.last().unwrap()["choices"][0]["finish_reason"],
        "content_filter"
    );
    assert_eq!(content(&r.chunks), "I cannot help.");
    // No usage at all: nothing is reported, the text remains for local counting.
    assert!(r.usage.is_none());
    assert_eq!(r.text, "I cannot help.");
    let len = r#"{"id":"as-l","created":1,"is_end":true,"result":"x","finish_reason":"length"}"#;
    assert_eq!(
        run(&[len]).unwrap().chunks.last().unwrap()["choices"][0]["finish_reason"],
        "length"
    );
}

#[test]
fn errors_inside_the_stream_are_mapped() {
    let err = run(&[
        DOC_1,
        r#"{"error_code":336100,"error_msg":"try again later","id":"as-e"}"#,
    ]);
    match err {
        Err(ConvertError::Upstream(e)) => {
            assert_eq!(
                (e.status, e.code.as_deref()),
                (503, Some("server_overloaded"))
            );
        }
        other => panic!("{:?}", other.map(|r| r.chunks)),
    }
    let err = run(&[r#"{"error_code":111,"error_msg":"Access token expired"}"#]);
    assert!(
        matches!(err, Err(ConvertError::Upstream(e)) if e.status == 401 && adapter(Provider::Qianfan).token_rejected(&e))
    );
    assert!(matches!(
        run(&["{not json"]),
        Err(ConvertError::Protocol(_))
    ));
    // Blank events are skipped; a stray [DONE] ends the stream.
    let r = run(&["", DOC_1, "[DONE]"]).unwrap();
    assert_eq!(r.done_at, Some(2));
}

#[test]
fn an_empty_first_chunk_still_opens_with_the_role() {
    let a = r#"{"id":"as-z","created":2,"is_end":false,"result":""}"#;
    let b = r#"{"id":"as-z","created":2,"is_end":false,"result":""}"#;
    let c = r#"{"id":"as-z","created":2,"is_end":true,"result":"ok","usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;
    let r = run(&[a, b, c]).unwrap();
    assert_eq!(r.chunks.len(), 3);
    assert_eq!(
        r.chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(r.chunks[1]["choices"][0]["delta"], json!({"content": "ok"}));
    assert_eq!(r.chunks[2]["choices"][0]["finish_reason"], "stop");
}
