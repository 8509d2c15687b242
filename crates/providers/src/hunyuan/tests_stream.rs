//! Unit tests of the Hunyuan stream converter.

use serde_json::{Value, json};
use switchyard_sse::Event;
use switchyard_types::Usage;

use super::tests::CTX;
use crate::adapter::{ConvertError, Emit, StreamStep};
use crate::{Provider, adapter};

const NOTE: &str = "以上内容为AI生成，不代表开发者立场，请勿删除或修改本标记";

struct Run {
    chunks: Vec<Value>,
    usages: Vec<Usage>,
    text: String,
    steps: Vec<StreamStep>,
    identity: (String, u64, String),
}

fn run(frames: &[String]) -> Result<Run, ConvertError> {
    let mut conv = adapter(Provider::Hunyuan).stream_converter(&CTX);
    let mut emit = Emit::default();
    let mut r = Run {
        chunks: Vec::new(),
        usages: Vec::new(),
        text: String::new(),
        steps: Vec::new(),
        identity: Default::default(),
    };
    for f in frames {
        emit.clear();
        let ev = Event {
            event: None,
            data: f.clone(),
            meta: None,
        };
        r.steps.push(conv.event(&ev, &mut emit)?);
        r.chunks.extend(
            emit.chunks
                .iter()
                .map(|c| serde_json::from_slice::<Value>(c).unwrap()),
        );
        r.usages.extend(emit.usage.take());
        r.text.push_str(&emit.text);
    }
    let (id, created, model) = conv.identity();
    r.identity = (id.to_owned(), created, model.to_owned());
    Ok(r)
}

fn frame(content: &str, finish: &str, completion: u64) -> String {
    json!({"Note": NOTE, "Choices": [{"FinishReason": finish, "Delta": {"Role": "assistant", "Content": content}}],
           "Created": 1700549760, "Id": "148b89ef-14e1-489f-8e70-b767e5b27d56",
           "Usage": {"PromptTokens": 4, "CompletionTokens": completion, "TotalTokens": 4 + completion}})
    .to_string()
}

#[test]
fn documented_stream_becomes_canonical_chunks() {
    let r = run(&[frame("1", "", 2), frame("+", "", 3), frame("", "stop", 5)]).unwrap();
    assert_eq!(
        r.steps,
        [StreamStep::Continue, StreamStep::Continue, StreamStep::Done]
    );
    assert_eq!(r.chunks.len(), 3);
    for c in &r.chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], "148b89ef-14e1-489f-8e70-b767e5b27d56");
        assert_eq!(c["created"], 1700549760);
        assert_eq!(c["model"], "hunyuan");
        assert!(c.get("usage").is_none(), "no usage inside content chunks");
    }
    assert_eq!(
        r.chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "1"})
    );
    assert_eq!(r.chunks[0]["choices"][0]["finish_reason"], Value::Null);
    assert_eq!(
        r.chunks[1]["choices"][0]["delta"],
        json!({"content": "+"}),
        "role only once"
    );
    assert_eq!(r.chunks[2]["choices"][0]["delta"], json!({}));
    assert_eq!(r.chunks[2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(r.text, "1+");
    // Cumulative usage: each event reports the running total, never an increment.
    let totals: Vec<_> = r
        .usages
        .iter()
        .map(|u| (u.prompt_tokens, u.completion_tokens, u.total_tokens))
        .collect();
    assert_eq!(totals, [(4, 2, 6), (4, 3, 7), (4, 5, 9)]);
    assert_eq!(
        r.identity,
        (
            "148b89ef-14e1-489f-8e70-b767e5b27d56".to_owned(),
            1700549760,
            "hunyuan".to_owned()
        )
    );
    insta::assert_json_snapshot!("stream_chunks", r.chunks);
}

#[test]
fn sensitive_finish_is_content_filter_and_ends_the_stream() {
    let r = run(&[frame("Par", "", 1), frame("", "sensitive", 1)]).unwrap();
    assert_eq!(r.chunks[1]["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(r.steps.last(), Some(&StreamStep::Done));
}

#[test]
fn tool_call_fragments_are_merged_by_id_and_indexed() {
    let tc = |id: &str, name: &str, args: &str, finish: &str| {
        json!({"Id": "s1", "Created": 9, "Choices": [{"Index": 0, "FinishReason": finish, "Delta": {
            "Role": "assistant", "Content": "",
            "ToolCalls": [{"Id": id, "Type": "function", "Index": 0, "Function": {"Name": name, "Arguments": args}}]}}],
            "Usage": {"PromptTokens": 10, "CompletionTokens": 1, "TotalTokens": 11}})
        .to_string()
    };
    let end = json!({"Id": "s1", "Created": 9, "Choices": [{"FinishReason": "tool_calls", "Delta": {"Role": "assistant", "Content": ""}}],
                     "Usage": {"PromptTokens": 10, "CompletionTokens": 3, "TotalTokens": 13}})
    .to_string();
    let r = run(&[
        tc("call_a", "get_weather", "{\"location\":", ""),
        tc("call_a", "get_weather", "\"Paris\"}", ""),
        tc("call_b", "get_time", "{}", ""),
        end,
    ])
    .unwrap();
    let calls: Vec<Value> = r.chunks[..3]
        .iter()
        .map(|c| c["choices"][0]["delta"]["tool_calls"][0].clone())
        .collect();
    assert_eq!(
        calls[0],
        json!({"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":"}})
    );
    assert_eq!(
        calls[1],
        json!({"index": 0, "function": {"arguments": "\"Paris\"}"}}),
        "name only in the first fragment"
    );
    assert_eq!(calls[2]["index"], 1);
    assert_eq!(calls[2]["id"], "call_b");
    assert_eq!(r.chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(r.chunks[1]["choices"][0]["delta"].get("role").is_none());
    assert!(
        r.chunks[0]["choices"][0]["delta"].get("content").is_none(),
        "empty content is not sent"
    );
    assert_eq!(r.chunks[3]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(r.chunks[3]["choices"][0]["delta"], json!({}));
    assert_eq!(r.steps.last(), Some(&StreamStep::Done));
    assert_eq!(r.usages.last().unwrap().total_tokens, 13);
}

#[test]
fn mid_stream_error_msg_and_error_bodies_are_upstream_errors() {
    let err =
        json!({"Id": "x", "Choices": [], "ErrorMsg": {"Code": 4001, "Msg": "model timed out"}})
            .to_string();
    let e = match run(&[frame("a", "", 1), err]) {
        Err(ConvertError::Upstream(e)) => e,
        other => panic!("{:?}", other.map(|r| r.chunks)),
    };
    assert_eq!(e.status, 504);
    assert!(e.message.contains("model timed out"));
    let e = match run(&[json!({"ErrorMsg": {"Code": 4000, "Msg": "internal"}}).to_string()]) {
        Err(ConvertError::Upstream(e)) => e,
        _ => panic!(),
    };
    assert_eq!(e.status, 500);
    let wrapped = json!({"Response": {"RequestId": "r", "Error": {"Code": "OperationDenied.TextIllegalDetected", "Message": "blocked"}}});
    match run(&[wrapped.to_string()]) {
        Err(ConvertError::Upstream(e)) => {
            assert_eq!((e.status, e.code.as_deref()), (400, Some("content_filter")));
        }
        _ => panic!(),
    }
    assert!(matches!(
        run(&["{not json".to_owned()]),
        Err(ConvertError::Protocol(_))
    ));
}

#[test]
fn empty_frames_emit_nothing_but_keep_usage() {
    let r = run(&[
        frame("", "", 0),
        String::new(),
        frame("hi", "", 1),
        frame("", "stop", 1),
    ])
    .unwrap();
    assert_eq!(r.chunks.len(), 2);
    assert_eq!(
        r.chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "hi"})
    );
    assert_eq!(r.usages.len(), 3);
}
