//! What the Anthropic simulator refuses, with the real API's wording.

use serde_json::{Value, json};

use super::{post, refused, sim};

#[tokio::test]
async fn what_the_api_refuses_is_refused_with_its_words() {
    let sim = sim().await;
    let m = "claude-3-5-sonnet-20241022";
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"model": m, "messages": [{"role": "user", "content": "x"}]}),
            400,
            "max_tokens: Field required",
        ),
        (
            json!({"model": m, "max_tokens": 16000, "messages": [{"role": "user", "content": "x"}]}),
            400,
            "max_tokens: 16000 > 8192, which is the maximum allowed number of output tokens for claude-3-5-sonnet-20241022",
        ),
        (
            json!({"model": m, "max_tokens": 5, "n": 1, "messages": [{"role": "user", "content": "x"}]}),
            400,
            "n: Extra inputs are not permitted",
        ),
        (
            json!({"model": "gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
            404,
            "model: gpt-4o",
        ),
        (
            json!({"model": m, "max_tokens": 5, "temperature": 1.5, "messages": [{"role": "user", "content": "x"}]}),
            400,
            "temperature: Input should be less than or equal to 1",
        ),
        (
            json!({"model": "claude-sonnet-4-5-20250929", "max_tokens": 5, "temperature": 0.5, "top_p": 0.5,
                   "messages": [{"role": "user", "content": "x"}]}),
            400,
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
        ),
        (
            json!({"model": m, "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}),
            400,
            "messages.0.role: Input should be 'user' or 'assistant'",
        ),
        (
            json!({"model": m, "max_tokens": 5, "messages": [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]}),
            400,
            "messages: first message must use the \"user\" role",
        ),
        (
            json!({"model": m, "max_tokens": 5, "messages": [{"role": "user", "content": "x"}, {"role": "user", "content": "y"}]}),
            400,
            "messages: roles must alternate between \"user\" and \"assistant\", but found multiple \"user\" roles in a row",
        ),
        (
            json!({"model": m, "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}),
            400,
            "messages: text content blocks must be non-empty",
        ),
        (
            json!({"model": m, "max_tokens": 5, "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y "}]}),
            400,
            "messages: final assistant content cannot end with trailing whitespace",
        ),
        (
            json!({"model": m, "max_tokens": 5, "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "aGkh"}}]}]}),
            400,
            "messages.0.content.0.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
        ),
        (
            json!({"model": m, "max_tokens": 5, "tools": [{"type": "function", "function": {"name": "f"}}],
                   "messages": [{"role": "user", "content": "x"}]}),
            400,
            "tools.0.custom.function: Extra inputs are not permitted",
        ),
    ];
    for (body, status, message) in cases {
        let (s, kind, msg) = refused(&sim, body.clone()).await;
        assert_eq!((s, msg.as_str()), (status, message), "{body}");
        let want_kind = if status == 404 {
            "not_found_error"
        } else {
            "invalid_request_error"
        };
        assert_eq!(kind, want_kind);
    }
}

fn tool_turns(results: Value) -> Value {
    json!({"model": "claude-3-7-sonnet-20250219", "max_tokens": 50,
    "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
    "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_A", "name": "get_weather", "input": {}},
            {"type": "tool_use", "id": "toolu_B", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": results}
    ]})
}

#[tokio::test]
async fn tool_results_must_open_the_next_message_and_answer_known_ids() {
    let sim = sim().await;
    let missing = "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_B. Each `tool_use` block must have a corresponding `tool_result` block in the next message.";
    let (s, _, m) = refused(
        &sim,
        tool_turns(json!([{"type": "tool_result", "tool_use_id": "toolu_A", "content": "1"}])),
    )
    .await;
    assert_eq!((s, m.as_str()), (400, missing));
    // A result after a text block does not count as "immediately after".
    let (_, _, m) = refused(
        &sim,
        tool_turns(json!([
            {"type": "tool_result", "tool_use_id": "toolu_A", "content": "1"},
            {"type": "text", "text": "and"},
            {"type": "tool_result", "tool_use_id": "toolu_B", "content": "2"}])),
    )
    .await;
    assert_eq!(m, missing);
    let (_, _, m) = refused(
        &sim,
        tool_turns(json!([
            {"type": "tool_result", "tool_use_id": "toolu_A", "content": "1"},
            {"type": "tool_result", "tool_use_id": "toolu_Z", "content": "2"}])),
    )
    .await;
    assert_eq!(
        m,
        "messages.2.content.1: unexpected `tool_use_id` found in `tool_result` blocks: toolu_Z. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
    );
    let mut no_tools = tool_turns(json!([
        {"type": "tool_result", "tool_use_id": "toolu_A", "content": "1"},
        {"type": "tool_result", "tool_use_id": "toolu_B", "content": "2"}]));
    no_tools.as_object_mut().unwrap().remove("tools");
    let (_, _, m) = refused(&sim, no_tools).await;
    assert_eq!(
        m,
        "Requests which include `tool_use` or `tool_result` blocks must define tools."
    );
    // In order, results first: accepted, and the answer echoes the results.
    let ok = post(
        &sim,
        &tool_turns(json!([
            {"type": "tool_result", "tool_use_id": "toolu_A", "content": "18C"},
            {"type": "tool_result", "tool_use_id": "toolu_B", "content": [{"type": "text", "text": "21C"}]},
            {"type": "text", "text": "thanks"}])),
    )
    .await;
    assert_eq!(ok.status(), 200);
    let m: Value = ok.json().await.unwrap();
    assert_eq!(
        m["content"][0]["text"],
        "Hello from anthropic claude-3-7-sonnet-20250219: tool result: 18C 21C"
    );
    assert_eq!(m["stop_reason"], "end_turn");
}
