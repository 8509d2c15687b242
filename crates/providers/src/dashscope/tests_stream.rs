//! Unit tests of the DashScope stream converter, on the documented frames.

use serde_json::{Value, json};
use switchyard_sse::{Decoder, Event};
use switchyard_types::Usage;

use super::tests::CTX;
use crate::adapter::{ConvertError, Emit, StreamStep};
use crate::{Provider, adapter};

/// Feeds raw SSE bytes through the decoder and the converter, as the gateway does.
struct Run {
    chunks: Vec<Value>,
    usage: Option<Usage>,
    text: String,
    done_at: Option<usize>,
    error: Option<crate::UpstreamError>,
}

fn run(raw: &str) -> Run {
    let mut events: Vec<Event> = Vec::new();
    let mut dec = Decoder::new(1 << 20);
    dec.feed(raw.as_bytes(), &mut events).unwrap();
    dec.finish(&mut events).unwrap();
    let mut conv = adapter(Provider::DashScope).stream_converter(&CTX);
    let mut out = Run {
        chunks: Vec::new(),
        usage: None,
        text: String::new(),
        done_at: None,
        error: None,
    };
    let mut emit = Emit::default();
    for (i, ev) in events.iter().enumerate() {
        emit.clear();
        match conv.event(ev, &mut emit) {
            Ok(step) => {
                if step == StreamStep::Done && out.done_at.is_none() {
                    out.done_at = Some(i);
                }
            }
            Err(ConvertError::Upstream(e)) => {
                out.error = Some(e);
                break;
            }
            Err(e) => panic!("{e:?}"),
        }
        out.chunks.extend(
            emit.chunks
                .iter()
                .map(|c| serde_json::from_slice::<Value>(c).unwrap()),
        );
        if emit.usage.is_some() {
            out.usage = emit.usage.clone();
        }
        out.text.push_str(&emit.text);
    }
    let (id, created, model) = conv.identity();
    if let Some(first) = out.chunks.first() {
        assert_eq!(first["id"], id);
        assert_eq!(first["created"], created);
        assert_eq!(first["model"], model);
    }
    out
}

/// The documented stream (help.aliyun.com/zh/model-studio/stream), byte for byte.
const DOC_STREAM: &str = "id:1\nevent:result\n:HTTP_STATUS/200\ndata:{\"output\":{\"choices\":[{\"message\":{\"content\":\"我是\",\"role\":\"assistant\"},\"finish_reason\":\"null\"}]},\"usage\":{\"total_tokens\":27,\"output_tokens\":1,\"input_tokens\":26,\"prompt_tokens_details\":{\"cached_tokens\":0}},\"request_id\":\"d30a9914-ac97-9102-b746-ce0cb35e3fa2\"}\n\nid:2\nevent:result\n:HTTP_STATUS/200\ndata:{\"output\":{\"choices\":[{\"message\":{\"content\":\"通义千\",\"role\":\"assistant\"},\"finish_reason\":\"null\"}]},\"usage\":{\"total_tokens\":30,\"output_tokens\":4,\"input_tokens\":26,\"prompt_tokens_details\":{\"cached_tokens\":0}},\"request_id\":\"d30a9914-ac97-9102-b746-ce0cb35e3fa2\"}\n\nid:15\nevent:result\n:HTTP_STATUS/200\ndata:{\"output\":{\"choices\":[{\"message\":{\"content\":\"\",\"role\":\"assistant\"},\"finish_reason\":\"stop\"}]},\"usage\":{\"total_tokens\":92,\"output_tokens\":66,\"input_tokens\":26,\"prompt_tokens_details\":{\"cached_tokens\":0}},\"request_id\":\"d30a9914-ac97-9102-b746-ce0cb35e3fa2\"}\n\n";

#[test]
fn documented_stream_converts_with_cumulative_usage_replaced_not_summed() {
    let r = run(DOC_STREAM);
    assert!(r.error.is_none());
    assert_eq!(r.done_at, Some(2), "the finish chunk ends the stream");
    assert_eq!(r.chunks.len(), 3);
    let id = "chatcmpl-d30a9914-ac97-9102-b746-ce0cb35e3fa2";
    assert_eq!(
        r.chunks[0],
        json!({"id": id, "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "qwen-plus",
               "choices": [{"index": 0, "delta": {"role": "assistant", "content": "我是"}, "logprobs": null, "finish_reason": null}]})
    );
    assert_eq!(
        r.chunks[1]["choices"][0]["delta"],
        json!({"content": "通义千"})
    );
    assert_eq!(r.chunks[2]["choices"][0]["delta"], json!({}));
    assert_eq!(r.chunks[2]["choices"][0]["finish_reason"], "stop");
    let usage = r.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (26, 66, 92),
        "the last cumulative total, not the sum"
    );
    assert_eq!(r.text, "我是通义千");
    for c in &r.chunks {
        assert!(c.get("usage").is_none(), "usage is the gateway's to add");
    }
}

fn frame(id: u32, data: &Value) -> String {
    format!("id:{id}\nevent:result\n:HTTP_STATUS/200\ndata:{data}\n\n")
}

#[test]
fn streamed_tool_calls_get_an_index_and_lose_empty_ids() {
    let chunk = |calls: Value, finish: &str, out: u64| {
        json!({"output": {"choices": [{"message": {"content": "", "role": "assistant", "tool_calls": calls}, "finish_reason": finish}]},
               "usage": {"input_tokens": 20, "output_tokens": out, "total_tokens": 20 + out}, "request_id": "r5"})
    };
    let raw = [
        frame(1, &chunk(json!([{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"loc"}}]), "null", 1)),
        frame(2, &chunk(json!([{"id": "", "type": "function", "function": {"arguments": "\":\"hz\"}"}}]), "null", 2)),
        frame(3, &chunk(json!([{"index": 0, "id": "", "type": "function", "function": {}}]), "tool_calls", 2)),
    ]
    .concat();
    let r = run(&raw);
    assert_eq!(r.done_at, Some(2));
    let deltas: Vec<&Value> = r.chunks.iter().map(|c| &c["choices"][0]["delta"]).collect();
    assert_eq!(
        deltas[0],
        &json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"loc"}}]})
    );
    assert_eq!(
        deltas[1],
        &json!({"tool_calls": [{"index": 0, "type": "function", "function": {"arguments": "\":\"hz\"}"}}]})
    );
    assert_eq!(deltas[2], &json!({}));
    assert_eq!(r.chunks[2]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(r.text, "get_weather{\"loc\":\"hz\"}");
}

#[test]
fn vision_stream_parts_and_reasoning_are_text() {
    let raw = [
        frame(1, &json!({"output": {"choices": [{"message": {"content": [{"text": "a "}], "reasoning_content": "hmm", "role": "assistant"}, "finish_reason": "null"}]}, "usage": {"input_tokens": 5, "output_tokens": 2}, "request_id": "r6"})),
        frame(2, &json!({"output": {"choices": [{"message": {"content": [{"text": "cat"}], "role": "assistant"}, "finish_reason": "stop"}]}, "usage": {"input_tokens": 5, "output_tokens": 3}, "request_id": "r6"})),
    ]
    .concat();
    let r = run(&raw);
    assert_eq!(
        r.chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "a ", "reasoning_content": "hmm"})
    );
    assert_eq!(
        r.chunks[1]["choices"][0],
        json!({"index": 0, "delta": {"content": "cat"}, "logprobs": null, "finish_reason": "stop"})
    );
    assert_eq!(r.done_at, Some(1));
    assert_eq!(r.text, "a hmmcat");
    assert_eq!(r.usage.unwrap().total_tokens, 8);
}

#[test]
fn in_stream_error_frames_are_upstream_errors_mapped_by_code() {
    let raw = format!(
        "{}id:2\nevent:error\n:HTTP_STATUS/429\ndata:{{\"request_id\":\"req-1\",\"code\":\"Throttling.RateQuota\",\"message\":\"Rate limit exceeded\"}}\n\n",
        frame(
            1,
            &json!({"output": {"choices": [{"message": {"content": "hi", "role": "assistant"}, "finish_reason": "null"}]}, "usage": {"input_tokens": 5, "output_tokens": 1}, "request_id": "req-1"})
        )
    );
    let r = run(&raw);
    assert_eq!(r.chunks.len(), 1, "what came before the error is kept");
    let e = r.error.unwrap();
    assert_eq!(
        (e.status, e.code.as_deref(), e.message.as_str()),
        (429, Some("rate_limit_exceeded"), "Rate limit exceeded")
    );
    // The errata's shape: an error as the very first frame, with a 400 comment.
    let raw = "id:1\nevent:error\n:HTTP_STATUS/400\ndata:{\"code\":\"DataInspectionFailed\",\"message\":\"Output data may contain inappropriate content.\",\"request_id\":\"r\"}\n\n";
    let e = run(raw).error.unwrap();
    assert_eq!((e.status, e.code.as_deref()), (400, Some("content_filter")));
    // An error frame whose data is not DashScope's shape still fails the stream.
    let e = run("event:error\ndata:upstream exploded\n\n")
        .error
        .unwrap();
    assert_eq!((e.status, e.message.as_str()), (500, "upstream exploded"));
    // A result frame carrying an error code.
    let e = run(&frame(
        1,
        &json!({"code": "InternalError", "message": "oops", "request_id": "r"}),
    ))
    .error
    .unwrap();
    assert_eq!(e.status, 500);
}

#[test]
fn a_stream_without_a_finish_chunk_is_never_done() {
    let raw = frame(
        1,
        &json!({"output": {"choices": [{"message": {"content": "partial", "role": "assistant"}, "finish_reason": "null"}]}, "usage": {"input_tokens": 5, "output_tokens": 1}, "request_id": "r"}),
    );
    let r = run(&raw);
    assert_eq!(
        r.done_at, None,
        "EOF before the finish chunk is a truncation"
    );
    assert_eq!(r.chunks.len(), 1);
}

#[test]
fn several_choices_end_only_when_all_have_finished() {
    let c = |index: u32, content: &str, finish: &str| json!({"output": {"choices": [{"index": index, "message": {"content": content, "role": "assistant"}, "finish_reason": finish}]}, "request_id": "r"});
    let raw = [
        frame(1, &c(0, "a", "null")),
        frame(2, &c(1, "b", "null")),
        frame(3, &c(0, "", "stop")),
        frame(4, &c(1, "", "length")),
    ]
    .concat();
    let r = run(&raw);
    assert_eq!(r.done_at, Some(3));
    assert_eq!(r.chunks[1]["choices"][0]["index"], 1);
    assert_eq!(
        r.chunks[1]["choices"][0]["delta"]["role"], "assistant",
        "each choice gets its role once"
    );
    assert_eq!(r.chunks[3]["choices"][0]["finish_reason"], "length");
}
