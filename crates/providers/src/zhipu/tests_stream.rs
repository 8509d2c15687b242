//! Unit tests of the Zhipu stream conversions (v4 chunks, v3 events).

use serde_json::{Value, json};
use switchyard_sse::Event;
use switchyard_types::Usage;

use super::tests::ctx;
use crate::adapter::{ConvertError, Emit, StreamStep};
use crate::{Provider, adapter};

struct Run {
    chunks: Vec<Value>,
    usage: Option<Usage>,
    usage_reports: usize,
    text: String,
    done: bool,
}

fn run(model: &'static str, events: &[(Option<&str>, &str)]) -> Result<Run, ConvertError> {
    let mut conv = adapter(Provider::Zhipu).stream_converter(&ctx(model));
    let mut emit = Emit::default();
    let mut r = Run {
        chunks: Vec::new(),
        usage: None,
        usage_reports: 0,
        text: String::new(),
        done: false,
    };
    for (event, data) in events {
        emit.clear();
        let ev = Event {
            event: event.map(str::to_owned),
            data: (*data).to_owned(),
            meta: None,
        };
        let step = conv.event(&ev, &mut emit)?;
        r.chunks.extend(
            emit.chunks
                .iter()
                .map(|c| serde_json::from_slice::<Value>(c).unwrap()),
        );
        if let Some(u) = emit.usage.take() {
            r.usage = Some(u);
            r.usage_reports += 1;
        }
        r.text.push_str(&emit.text);
        r.done |= step == StreamStep::Done;
    }
    let (id, created, model) = conv.identity();
    for c in &r.chunks {
        assert_eq!(
            (
                c["id"].as_str().unwrap(),
                c["created"].as_u64().unwrap(),
                c["model"].as_str().unwrap()
            ),
            (id, created, model)
        );
        assert_eq!(c["object"], "chat.completion.chunk");
    }
    Ok(r)
}

fn v4(content: &str, finish: Option<&str>, usage: Option<Value>) -> String {
    let mut choice = json!({"index":0,"delta":{"role":"assistant","content":content}});
    if let Some(f) = finish {
        choice["finish_reason"] = json!(f);
    }
    let mut v =
        json!({"id":"8439641316893948328","created":1709453054,"model":"glm-4","choices":[choice]});
    if let Some(u) = usage {
        v["usage"] = u;
    }
    v.to_string()
}

#[test]
fn v4_stream_sends_role_once_and_reads_usage_from_the_last_chunk_only() {
    let c1 = v4("你好", None, None);
    let c2 = v4("，世界", None, None);
    let c3 = v4(
        "",
        Some("stop"),
        Some(json!({"prompt_tokens":10,"completion_tokens":72,"total_tokens":82})),
    );
    let r = run(
        "glm-4",
        &[(None, &c1), (None, &c2), (None, &c3), (None, "[DONE]")],
    )
    .unwrap();
    assert!(r.done);
    assert_eq!(r.chunks.len(), 3);
    insta::assert_json_snapshot!("v4_stream_chunks", r.chunks);
    assert_eq!(
        r.chunks[0]["model"], "my-glm",
        "the client sees the model it asked for"
    );
    assert_eq!(
        r.chunks[0]["choices"][0]["delta"],
        json!({"role":"assistant","content":"你好"})
    );
    assert_eq!(
        r.chunks[1]["choices"][0]["delta"],
        json!({"content":"，世界"})
    );
    assert_eq!(r.chunks[2]["choices"][0]["delta"], json!({}));
    assert_eq!(r.chunks[2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(r.chunks[1]["choices"][0]["finish_reason"], Value::Null);
    assert!(
        r.chunks.iter().all(|c| c.get("usage").is_none()),
        "no usage chunk from the converter"
    );
    assert_eq!(r.usage_reports, 1);
    assert_eq!(r.usage.unwrap().total_tokens, 82);
    assert_eq!(r.text, "你好，世界");
}

#[test]
fn v4_tool_call_deltas_carry_index_and_identity_only_once() {
    let whole = json!({"id":"t","created":5,"model":"glm-4","choices":[{"index":0,"delta":{"role":"assistant",
        "tool_calls":[{"id":"call_1","index":0,"type":"function","function":{"name":"get_weather","arguments":"{\"loc"}}]}}]}).to_string();
    let more = json!({"id":"t","created":5,"model":"glm-4","choices":[{"index":0,"delta":{"role":"assistant",
        "tool_calls":[{"id":"call_1","index":0,"type":"function","function":{"name":"get_weather","arguments":"\":\"Paris\"}"}}]}}]}).to_string();
    let second = json!({"id":"t","created":5,"model":"glm-4","choices":[{"index":0,"delta":{"role":"assistant",
        "tool_calls":[{"id":"call_2","index":1,"type":"function","function":{"name":"now","arguments":"{}"}}]}}]}).to_string();
    let end = json!({"id":"t","created":5,"model":"glm-4","choices":[{"index":0,"finish_reason":"tool_calls","delta":{"role":"assistant","content":""}}],
        "usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}).to_string();
    let r = run(
        "glm-4",
        &[
            (None, &whole),
            (None, &more),
            (None, &second),
            (None, &end),
            (None, "[DONE]"),
        ],
    )
    .unwrap();
    let tc = |i: usize| r.chunks[i]["choices"][0]["delta"]["tool_calls"][0].clone();
    assert_eq!(
        tc(0),
        json!({"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"loc"}})
    );
    assert_eq!(r.chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(
        tc(1),
        json!({"index":0,"function":{"arguments":"\":\"Paris\"}"}})
    );
    assert!(r.chunks[1]["choices"][0]["delta"].get("role").is_none());
    assert_eq!(
        tc(2),
        json!({"index":1,"id":"call_2","type":"function","function":{"name":"now","arguments":"{}"}})
    );
    assert_eq!(r.chunks[3]["choices"][0]["finish_reason"], "tool_calls");
    // A call without `index` gets its position in the list.
    let no_index = json!({"id":"u","created":5,"model":"glm-4","choices":[{"index":0,"delta":{"role":"assistant",
        "tool_calls":[{"id":"call_a","type":"function","function":{"name":"a","arguments":"{}"}},
                      {"id":"call_b","type":"function","function":{"name":"b","arguments":"{}"}}]}}]}).to_string();
    let r = run("glm-4", &[(None, &no_index)]).unwrap();
    let calls = &r.chunks[0]["choices"][0]["delta"]["tool_calls"];
    assert_eq!(
        (calls[0]["index"].clone(), calls[1]["index"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(calls[1]["id"], "call_b");
}

#[test]
fn v4_sensitive_network_error_and_error_objects() {
    let end = v4(
        "",
        Some("sensitive"),
        Some(json!({"prompt_tokens":1,"completion_tokens":1,"total_tokens":2})),
    );
    let r = run("glm-4", &[(None, &v4("a", None, None)), (None, &end)]).unwrap();
    assert_eq!(r.chunks[1]["choices"][0]["finish_reason"], "content_filter");
    let broken = v4("", Some("network_error"), None);
    let err = run("glm-4", &[(None, &v4("a", None, None)), (None, &broken)])
        .err()
        .unwrap();
    assert!(
        matches!(err, ConvertError::Upstream(e) if e.status == 502 && e.code.as_deref() == Some("upstream_network_error"))
    );
    let err = run(
        "glm-4",
        &[(None, r#"{"error":{"code":"1301","message":"unsafe"}}"#)],
    )
    .err()
    .unwrap();
    assert!(
        matches!(err, ConvertError::Upstream(e) if e.status == 400 && e.code.as_deref() == Some("content_filter"))
    );
    let err = run("glm-4", &[(None, "{not json")]).err().unwrap();
    assert!(matches!(err, ConvertError::Protocol(_)));
}

#[test]
fn v3_stream_events_become_chunks_and_finish_ends_the_stream() {
    let r = run(
        "chatglm_turbo",
        &[
            (Some("add"), "和支持"),
            (Some("add"), "line one\nline two"),
            (Some("finish"), ""),
        ],
    )
    .unwrap();
    assert!(r.done, "finish ends the stream (v3 sends no [DONE])");
    assert_eq!(r.chunks.len(), 3);
    assert_eq!(
        r.chunks[0]["choices"][0]["delta"],
        json!({"role":"assistant","content":"和支持"})
    );
    assert_eq!(
        r.chunks[1]["choices"][0]["delta"],
        json!({"content":"line one\nline two"})
    );
    assert_eq!(r.chunks[2]["choices"][0]["delta"], json!({}));
    assert_eq!(r.chunks[2]["choices"][0]["finish_reason"], "stop");
    assert!(r.usage.is_none(), "no `meta:` line, no usage");
    assert!(r.text.starts_with("和支持line one\nline two"));
}

#[test]
fn v3_usage_is_read_from_the_finish_meta_line() {
    let mut conv = adapter(Provider::Zhipu).stream_converter(&ctx("chatglm_std"));
    let mut emit = Emit::default();
    let ev = Event {
        event: Some("finish".into()),
        data: String::new(),
        meta: Some(r#"{"task_status":"SUCCESS","usage":{"completion_tokens":59,"prompt_tokens":7,"total_tokens":66},"task_id":"1","request_id":"1"}"#.into()),
    };
    assert_eq!(conv.event(&ev, &mut emit).unwrap(), StreamStep::Done);
    let u = emit.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (7, 59, 66)
    );
}

#[test]
fn v3_stream_errors() {
    for kind in ["error", "interrupted"] {
        let err = run("chatglm_std", &[(Some("add"), "x"), (Some(kind), "boom")])
            .err()
            .unwrap();
        let ConvertError::Upstream(e) = err else {
            panic!("{err:?}")
        };
        assert_eq!(e.status, 502);
        assert_eq!(e.code, Some(format!("upstream_{kind}")));
        assert!(e.message.contains("boom"));
    }
    let err = run(
        "chatglm_std",
        &[(None, r#"{"code":1002,"msg":"bad token","success":false}"#)],
    )
    .err()
    .unwrap();
    assert!(matches!(err, ConvertError::Upstream(e) if e.status == 401));
}
