//! Unit tests of the Anthropic stream converter.

use serde_json::{Value, json};
use switchyard_sse::Event;
use switchyard_types::Usage;

use super::ADAPTER;
use super::tests::CTX;
use crate::adapter::{Adapter, ConvertError, Emit, StreamStep};

/// The tool-use stream of the protocols file (§3.3, from the Anthropic SDK's fixture), byte for
/// byte: `(event name, data)`.
const DOC_TOOL_STREAM: &[(&str, &str)] = &[
    (
        "message_start",
        r#"{"type":"message_start","message":{"id":"msg_019Q1hrJbZG26Fb9BQhrkHEr","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":377,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1,"service_tier":"standard"}}}"#,
    ),
    (
        "content_block_start",
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    ),
    ("ping", r#"{"type": "ping"}"#),
    (
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I"}}"#,
    ),
    (
        "content_block_stop",
        r#"{"type":"content_block_stop","index":0}"#,
    ),
    (
        "content_block_start",
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01NRLabsLyVHZPKxbKvkfSMn","name":"get_weather","caller":{"type":"direct"},"input":{}}}"#,
    ),
    (
        "content_block_delta",
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#,
    ),
    (
        "content_block_delta",
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"locati"}}"#,
    ),
    (
        "content_block_stop",
        r#"{"type":"content_block_stop","index":1}"#,
    ),
    (
        "message_delta",
        r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":65}}"#,
    ),
    ("message_stop", r#"{"type":"message_stop"}"#),
];

struct Run {
    chunks: Vec<Value>,
    usage: Option<Usage>,
    usage_reports: usize,
    text: String,
    done: bool,
}

fn run(frames: &[(&str, &str)]) -> Result<Run, ConvertError> {
    let mut conv = ADAPTER.stream_converter(&CTX);
    let mut emit = Emit::default();
    let mut out = Run {
        chunks: Vec::new(),
        usage: None,
        usage_reports: 0,
        text: String::new(),
        done: false,
    };
    for (name, data) in frames {
        emit.clear();
        let ev = Event {
            event: Some((*name).to_owned()),
            data: (*data).to_owned(),
            meta: None,
        };
        let step = conv.event(&ev, &mut emit)?;
        assert!(!out.done, "event after Done");
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
        out.done |= step == StreamStep::Done;
    }
    let (id, created, model) = conv.identity();
    for c in &out.chunks {
        assert_eq!(c["id"], id);
        assert_eq!(c["created"], created);
        assert_eq!(c["model"], model);
        assert_eq!(c["object"], "chat.completion.chunk");
    }
    Ok(out)
}

fn deltas(r: &Run) -> Vec<Value> {
    r.chunks
        .iter()
        .map(|c| {
            json!([
                c["choices"][0]["delta"].clone(),
                c["choices"][0]["finish_reason"].clone()
            ])
        })
        .collect()
}

#[test]
fn doc_tool_stream_converts_exactly() {
    let r = run(DOC_TOOL_STREAM).unwrap();
    assert!(r.done);
    assert_eq!(
        deltas(&r),
        vec![
            json!([{"role": "assistant", "content": ""}, null]),
            json!([{"content": "I"}, null]),
            json!([{"tool_calls": [{"index": 0, "id": "toolu_01NRLabsLyVHZPKxbKvkfSMn", "type": "function",
                                    "function": {"name": "get_weather", "arguments": ""}}]}, null]),
            json!([{"tool_calls": [{"index": 0, "function": {"arguments": "{\"locati"}}]}, null]),
            json!([{}, "tool_calls"]),
        ]
    );
    assert_eq!(r.chunks[0]["id"], "chatcmpl-msg_019Q1hrJbZG26Fb9BQhrkHEr");
    assert_eq!(r.chunks[0]["model"], "claude-3-5-sonnet-20241022");
    assert_eq!(r.chunks[0]["created"], 1_700_000_000);
    let u = r.usage.unwrap();
    // Replace semantics: the last report is the total, 65 output tokens (not 1 + 65).
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (377, 65, 442)
    );
    assert_eq!(r.usage_reports, 2);
    assert_eq!(r.text, "Iget_weather{\"locati");
}

#[test]
fn snapshot_doc_tool_stream() {
    let r = run(DOC_TOOL_STREAM).unwrap();
    insta::assert_json_snapshot!("doc_tool_stream_chunks", r.chunks);
}

#[test]
fn parallel_tool_calls_get_ordinal_indexes_not_block_indexes() {
    let frames = [
        (
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_p","usage":{"input_tokens":5,"output_tokens":1}}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Two calls."}}"#,
        ),
        (
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_a","name":"f","input":{}}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_b","name":"g","input":{}}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"y\":2}"}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"x\":1}"}}"#,
        ),
        (
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":12}}"#,
        ),
        ("message_stop", r#"{"type":"message_stop"}"#),
    ];
    let r = run(&frames).unwrap();
    let calls: Vec<Value> = r
        .chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0).cloned())
        .collect();
    assert_eq!(
        calls,
        vec![
            json!({"index": 0, "id": "toolu_a", "type": "function", "function": {"name": "f", "arguments": ""}}),
            json!({"index": 1, "id": "toolu_b", "type": "function", "function": {"name": "g", "arguments": ""}}),
            json!({"index": 1, "function": {"arguments": "{\"y\":2}"}}),
            json!({"index": 0, "function": {"arguments": "{\"x\":1}"}}),
        ]
    );
    // Only the first chunk has a role; only the last has a finish_reason.
    let roles = r
        .chunks
        .iter()
        .filter(|c| c["choices"][0]["delta"].get("role").is_some())
        .count();
    assert_eq!(roles, 1);
    let finishes: Vec<&Value> = r
        .chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, vec![&json!("tool_calls")]);
    assert_eq!(r.usage.unwrap().completion_tokens, 12);
}

#[test]
fn finish_reasons_and_cumulative_usage_with_cache_fields() {
    for (stop, want) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
    ] {
        let delta = format!(
            r#"{{"type":"message_delta","delta":{{"stop_reason":"{stop}","stop_sequence":null}},"usage":{{"output_tokens":9,"input_tokens":4,"cache_read_input_tokens":40}}}}"#
        );
        let frames = [
            (
                "message_start",
                r#"{"type":"message_start","message":{"id":"msg_u","usage":{"input_tokens":4,"cache_creation_input_tokens":6,"cache_read_input_tokens":40,"output_tokens":1}}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
            ),
            ("message_delta", delta.as_str()),
            ("message_stop", r#"{"type":"message_stop"}"#),
        ];
        let r = run(&frames).unwrap();
        assert_eq!(
            r.chunks.last().unwrap()["choices"][0],
            json!({"index": 0, "delta": {}, "logprobs": null, "finish_reason": want})
        );
        let u = r.usage.unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens), (50, 9), "{stop}");
        assert_eq!(u.cached_tokens(), 40);
    }
}

#[test]
fn a_message_stop_without_message_delta_still_finishes() {
    let frames = [
        (
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_n","usage":{"input_tokens":3,"output_tokens":1}}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}"#,
        ),
        ("message_stop", r#"{"type":"message_stop"}"#),
    ];
    let r = run(&frames).unwrap();
    assert!(r.done);
    assert_eq!(
        r.chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
}

#[test]
fn thinking_deltas_become_reasoning_content_and_signatures_vanish() {
    let frames = [
        (
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_t","usage":{"input_tokens":3,"output_tokens":1}}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me see."}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"42"}}"#,
        ),
    ];
    let r = run(&frames).unwrap();
    assert_eq!(
        deltas(&r)[1..],
        [
            json!([{"reasoning_content": "Let me see."}, null]),
            json!([{"content": "42"}, null])
        ]
    );
}

#[test]
fn events_are_recognised_by_data_type_even_without_event_names() {
    let mut conv = ADAPTER.stream_converter(&CTX);
    let mut emit = Emit::default();
    let ev = |data: &str| Event {
        event: None,
        data: data.to_owned(),
        meta: None,
    };
    conv.event(
        &ev(r#"{"type":"message_start","message":{"id":"msg_x","usage":{"input_tokens":1,"output_tokens":1}}}"#),
        &mut emit,
    )
    .unwrap();
    assert_eq!(emit.chunks.len(), 1);
    emit.clear();
    let step = conv
        .event(&ev(r#"{"type":"message_stop"}"#), &mut emit)
        .unwrap();
    assert_eq!(step, StreamStep::Done);
}

#[test]
fn an_error_event_mid_stream_is_an_upstream_error() {
    for (kind, status) in [
        ("overloaded_error", 503),
        ("api_error", 500),
        ("rate_limit_error", 429),
    ] {
        let data = format!(
            r#"{{"type":"error","error":{{"details":null,"type":"{kind}","message":"boom"}}}}"#
        );
        let frames = [
            (
                "message_start",
                r#"{"type":"message_start","message":{"id":"msg_e","usage":{"input_tokens":1,"output_tokens":1}}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"par"}}"#,
            ),
            ("error", data.as_str()),
        ];
        match run(&frames) {
            Err(ConvertError::Upstream(e)) => {
                assert_eq!(e.status, status, "{kind}");
                assert_eq!(e.kind.as_deref(), Some(kind));
                assert_eq!(e.message, "boom");
            }
            other => panic!("{kind}: {:?}", other.map(|r| r.chunks)),
        }
    }
    assert!(matches!(
        run(&[("content_block_delta", "{not json")]),
        Err(ConvertError::Protocol(_))
    ));
}
