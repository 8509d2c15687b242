//! The Anthropic simulator's stream framing, usage and stream faults.

use serde_json::{Value, json};
use switchyard_sim::Fault;

use super::{msg, post, sim};
use crate::eventually;

/// Splits a raw Anthropic stream into `(event name, data JSON)`, asserting the framing: every
/// event is exactly `event: <name>\ndata: <json>` followed by a blank line, the data's `type`
/// equals the event name, and there is no `[DONE]`.
fn events(raw: &str) -> Vec<(String, Value)> {
    assert!(!raw.contains("[DONE]"), "no [DONE] in Anthropic streams");
    let body = raw
        .strip_suffix("\n\n")
        .unwrap_or_else(|| panic!("stream must end with a blank line: {raw:?}"));
    body.split("\n\n")
        .map(|ev| {
            let (name_line, data_line) = ev
                .split_once('\n')
                .unwrap_or_else(|| panic!("two lines per event: {ev:?}"));
            let name = name_line
                .strip_prefix("event: ")
                .unwrap_or_else(|| panic!("event line first: {ev:?}"));
            let data = data_line
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("data line second: {ev:?}"));
            assert!(!data.contains('\n'));
            let v: Value = serde_json::from_str(data).unwrap();
            assert_eq!(v["type"], name, "{ev}");
            (name.to_owned(), v)
        })
        .collect()
}

async fn stream_raw(sim: &switchyard_sim::SimHandle, mut body: Value) -> (u16, String) {
    body["stream"] = json!(true);
    let resp = post(sim, &body).await;
    let status = resp.status().as_u16();
    if status == 200 {
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert_eq!(ct, "text/event-stream; charset=utf-8");
        assert!(resp.headers().contains_key("request-id"));
    }
    (status, resp.text().await.unwrap_or_default())
}

#[tokio::test]
async fn text_stream_has_the_real_event_order_ping_and_cumulative_usage() {
    let sim = sim().await;
    let (status, raw) = stream_raw(&sim, msg("claude-3-5-haiku-20241022", "hi")).await;
    assert_eq!(status, 200);
    // The ping is spelled exactly as the API does, with a space after the colon.
    assert!(
        raw.contains("event: ping\ndata: {\"type\": \"ping\"}\n\n"),
        "{raw}"
    );
    let evs = events(&raw);
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start = &evs[0].1["message"];
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);
    assert_eq!(start["usage"]["input_tokens"], 3);
    assert_eq!(start["usage"]["output_tokens"], 1);
    assert_eq!(
        evs[1].1["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = evs
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, v)| v["delta"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, "Hello from anthropic claude-3-5-haiku-20241022: hi");
    assert_eq!(
        evs[9].1,
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"output_tokens": 5}})
    );
    assert!(eventually(|| sim.completed_streams() == 1).await);
}

#[tokio::test]
async fn tool_stream_sends_json_fragments_after_an_empty_one() {
    let sim = sim().await;
    let mut b = msg("claude-sonnet-4-5-20250929", "weather?");
    b["tools"] = json!([{"name": "get_weather", "input_schema": {"type": "object"}}]);
    b["tool_choice"] = json!({"type": "any"});
    let (status, raw) = stream_raw(&sim, b).await;
    assert_eq!(status, 200);
    let evs = events(&raw);
    let block = &evs[1].1["content_block"];
    assert_eq!(block["type"], "tool_use");
    assert_eq!(block["name"], "get_weather");
    assert_eq!(block["input"], json!({}));
    assert_eq!(evs[2].0, "ping");
    let fragments: Vec<&str> = evs
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, v)| {
            assert_eq!(v["delta"]["type"], "input_json_delta");
            v["delta"]["partial_json"].as_str().unwrap()
        })
        .collect();
    assert_eq!(fragments[0], "");
    assert_eq!(fragments.len(), 6);
    assert_eq!(
        fragments.concat(),
        r#"{"location":"Paris","unit":"celsius"}"#
    );
    let delta = &evs[evs.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 5);
}

#[tokio::test]
async fn an_injected_error_event_arrives_after_n_events_in_a_200() {
    let sim = sim().await;
    let (status, raw) = stream_raw(
        &sim,
        msg(
            "claude-3-haiku-20240307",
            "sim_error:overloaded_error;after=3",
        ),
    )
    .await;
    assert_eq!(status, 200);
    let evs = events(&raw);
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec!["message_start", "content_block_start", "ping", "error"]
    );
    assert_eq!(
        evs[3].1,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
    assert!(eventually(|| sim.faulted_streams() == 1).await);
    // Without `after`, the same error is an HTTP 529 before any event.
    let (status, body) = stream_raw(
        &sim,
        msg("claude-3-haiku-20240307", "sim_error:overloaded_error"),
    )
    .await;
    assert_eq!(status, 529);
    assert!(body.contains("\"overloaded_error\""));
}

#[tokio::test]
async fn shared_stream_faults_cut_or_corrupt_the_stream() {
    let sim = sim().await;
    sim.push_fault(Fault::ResetMidStream { after_chunks: 2 });
    let mut b = msg("claude-3-haiku-20240307", "hi");
    b["stream"] = json!(true);
    let resp = post(&sim, &b).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.is_err(), "the body must end in a reset");
    let (_, raw) = stream_raw(
        &sim,
        msg("claude-3-haiku-20240307", "sim_fault:malformed=1"),
    )
    .await;
    assert!(
        raw.ends_with("event: content_block_delta\ndata: {not json\n\n"),
        "{raw}"
    );
    assert!(raw.starts_with("event: message_start\n"), "{raw}");
    assert!(eventually(|| sim.faulted_streams() == 2).await);
}
