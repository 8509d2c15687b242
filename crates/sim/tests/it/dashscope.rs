//! The DashScope simulator over HTTP: auth, validation, exact native framing, vision, tools,
//! business errors (HTTP, inside a 200, `event:error`), shared faults and embeddings.

use serde_json::{Value, json};
use switchyard_sim::openai::embed;
use switchyard_sim::{DashScopeSimConfig, Fault, SimHandle, dashscope_base_url, spawn_dashscope};

use crate::{KEY, client, spawn_binary};

const TEXT: &str = "/services/aigc/text-generation/generation";
const VISION: &str = "/services/aigc/multimodal-generation/generation";
const EMBED: &str = "/services/embeddings/text-embedding/text-embedding";

async fn ds() -> SimHandle {
    spawn_dashscope(DashScopeSimConfig::new(KEY)).await.unwrap()
}

fn body(model: &str, text: &str, parameters: Value) -> Value {
    json!({"model": model, "input": {"messages": [{"role": "user", "content": text}]}, "parameters": parameters})
}

async fn post(sim: &SimHandle, path: &str, body: &Value, sse: bool) -> reqwest::Response {
    let mut req = client()
        .post(format!("{}{path}", dashscope_base_url(sim)))
        .bearer_auth(KEY)
        .json(body);
    if sse {
        req = req.header("X-DashScope-SSE", "enable");
    }
    req.send().await.unwrap()
}

async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// Splits a native stream into `(event, data)` pairs, asserting the exact framing.
fn parse_frames(raw: &str) -> Vec<(String, Value)> {
    assert!(
        !raw.contains("data: "),
        "DashScope writes data: without a space"
    );
    assert!(!raw.contains("[DONE]"), "no [DONE] in native streams");
    let body = raw.strip_suffix("\n\n").expect("ends with a blank line");
    body.split("\n\n")
        .enumerate()
        .map(|(i, block)| {
            let lines: Vec<&str> = block.split('\n').collect();
            assert_eq!(lines.len(), 4, "id, event, status comment, data: {block:?}");
            assert_eq!(lines[0], format!("id:{}", i + 1));
            let event = lines[1].strip_prefix("event:").unwrap().to_owned();
            assert!(lines[2].starts_with(":HTTP_STATUS/"), "{block}");
            let data = serde_json::from_str(lines[3].strip_prefix("data:").unwrap()).unwrap();
            (event, data)
        })
        .collect()
}

#[tokio::test]
async fn auth_is_checked_like_dashscope() {
    let sim = ds().await;
    let url = format!("{}{TEXT}", dashscope_base_url(&sim));
    let b = body("qwen-turbo", "hi", json!({}));
    let (status, v) = json_of(client().post(&url).json(&b).send().await.unwrap()).await;
    assert_eq!((status, v["code"].as_str()), (401, Some("InvalidApiKey")));
    assert_eq!(v["message"], "No API-key provided.");
    let (status, v) = json_of(
        client()
            .post(&url)
            .bearer_auth("sk-wrong")
            .json(&b)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, v["message"].as_str()),
        (401, Some("Invalid API-key provided."))
    );
    assert!(v["request_id"].is_string());

    let sim = spawn_dashscope(DashScopeSimConfig::new(KEY).with_workspace("ws_1"))
        .await
        .unwrap();
    let (status, v) = json_of(post(&sim, TEXT, &b, false).await).await;
    assert_eq!((status, v["code"].as_str()), (403, Some("AccessDenied")));
    let resp = client()
        .post(format!("{}{TEXT}", dashscope_base_url(&sim)))
        .bearer_auth(KEY)
        .header("X-DashScope-WorkSpace", "ws_1")
        .json(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, v) = json_of(post(&sim, "/services/nope", &b, false).await).await;
    assert_eq!((status, v["code"].as_str()), (404, Some("InvalidURL")));
}

#[tokio::test]
async fn non_stream_answer_in_message_and_legacy_text_format() {
    let sim = ds().await;
    let (status, v) = json_of(
        post(
            &sim,
            TEXT,
            &body("qwen-plus", "hello", json!({"result_format": "message"})),
            false,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let text = "Hello from dashscope qwen-plus: hello";
    assert_eq!(
        v["output"],
        json!({"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": text}}]})
    );
    let prompt = 5 / 4 + 3;
    assert_eq!(
        v["usage"],
        json!({"input_tokens": prompt, "output_tokens": 5, "total_tokens": prompt + 5,
               "prompt_tokens_details": {"cached_tokens": 0}})
    );
    assert!(v["request_id"].is_string());
    // Without result_format the legacy text shape comes back.
    let (_, v) =
        json_of(post(&sim, TEXT, &body("qwen-plus", "hello", json!({})), false).await).await;
    assert_eq!(v["output"], json!({"text": text, "finish_reason": "stop"}));
    // max_tokens cuts the answer.
    let (_, v) = json_of(
        post(
            &sim,
            TEXT,
            &body(
                "qwen-plus",
                "hello",
                json!({"result_format": "message", "max_tokens": 2}),
            ),
            false,
        )
        .await,
    )
    .await;
    assert_eq!(v["output"]["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["output_tokens"], 2);
    assert_eq!(sim.request_count(), 3);
}

#[tokio::test]
async fn stream_framing_is_exact_with_cumulative_usage() {
    let sim = ds().await;
    let params = json!({"result_format": "message", "incremental_output": true});
    let resp = post(&sim, TEXT, &body("qwen-turbo", "abc", params), true).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/event-stream;charset=UTF-8"
    );
    let raw = resp.text().await.unwrap();
    assert!(raw.starts_with("id:1\nevent:result\n:HTTP_STATUS/200\ndata:{\"output\""));
    let frames = parse_frames(&raw);
    assert_eq!(frames.len(), 6, "5 pieces and the finish chunk");
    let mut text = String::new();
    for (i, (event, data)) in frames.iter().enumerate() {
        assert_eq!(event, "result");
        let choice = &data["output"]["choices"][0];
        let finish = if i == 5 { "stop" } else { "null" };
        assert_eq!(choice["finish_reason"], finish, "a string, not JSON null");
        assert_eq!(choice["message"]["role"], "assistant");
        text.push_str(choice["message"]["content"].as_str().unwrap());
        assert_eq!(
            data["usage"]["output_tokens"],
            (i as u64 + 1).min(5),
            "cumulative"
        );
        assert_eq!(data["request_id"], frames[0].1["request_id"]);
    }
    assert_eq!(text, "Hello from dashscope qwen-turbo: abc");
    assert_eq!(
        frames[5].1["output"]["choices"][0]["message"]["content"],
        ""
    );
    assert_eq!(sim.completed_streams(), 1);

    // Without incremental_output every chunk repeats the text so far.
    let params = json!({"result_format": "message"});
    let raw = post(&sim, TEXT, &body("qwen-turbo", "abc", params), true)
        .await
        .text()
        .await
        .unwrap();
    let contents: Vec<String> = parse_frames(&raw)
        .iter()
        .map(|(_, d)| {
            d["output"]["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        contents.windows(2).all(|w| w[1].starts_with(&w[0])),
        "{contents:?}"
    );
    assert_eq!(
        contents.last().unwrap(),
        "Hello from dashscope qwen-turbo: abc"
    );

    // Accept: text/event-stream also switches streaming on; no header means one JSON answer.
    let resp = client()
        .post(format!("{}{TEXT}", dashscope_base_url(&sim)))
        .bearer_auth(KEY)
        .header("accept", "text/event-stream")
        .json(&body("qwen-turbo", "abc", json!({})))
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let resp = post(&sim, TEXT, &body("qwen-turbo", "abc", json!({})), false).await;
    assert_eq!(resp.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn parameters_outside_dashscope_ranges_are_refused() {
    let sim = ds().await;
    for params in [
        json!({"top_p": 1.0}),
        json!({"top_p": 0}),
        json!({"temperature": 2.0}),
        json!({"max_tokens": 0}),
        json!({"n": 5}),
        json!({"result_format": "json"}),
        json!({"tools": [{"type": "function"}]}),
    ] {
        let (status, v) =
            json_of(post(&sim, TEXT, &body("qwen-turbo", "x", params.clone()), false).await).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (400, Some("InvalidParameter")),
            "{params}"
        );
    }
    // An OpenAI body, image parts on the text service, a vision model on the wrong service.
    let openai = json!({"model": "qwen-turbo", "messages": [{"role": "user", "content": "x"}]});
    let parts = json!({"model": "qwen-turbo", "input": {"messages": [{"role": "user", "content": [{"text": "x"}]}]}});
    for (path, b) in [
        (TEXT, openai),
        (TEXT, parts),
        (TEXT, body("qwen-vl-plus", "x", json!({}))),
        (
            VISION,
            body("qwen-vl-plus", "plain string content", json!({})),
        ),
    ] {
        let (status, v) = json_of(post(&sim, path, &b, false).await).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (400, Some("InvalidParameter")),
            "{b}"
        );
    }
    let sim = spawn_dashscope(DashScopeSimConfig::new(KEY).with_models(["qwen-max"]))
        .await
        .unwrap();
    let (status, v) =
        json_of(post(&sim, TEXT, &body("qwen-plus", "x", json!({})), false).await).await;
    assert_eq!(
        (status, v["message"].as_str()),
        (400, Some("Model not exist."))
    );
}

#[tokio::test]
async fn vision_answers_hold_parts_and_count_images() {
    let sim = ds().await;
    let b = json!({"model": "qwen-vl-plus", "input": {"messages": [
        {"role": "user", "content": [{"image": "https://x/cat.png"}, {"text": "what is it?"}]}
    ]}});
    let (status, v) = json_of(post(&sim, VISION, &b, false).await).await;
    assert_eq!(status, 200);
    let content = &v["output"]["choices"][0]["message"]["content"];
    assert_eq!(
        content,
        &json!([{"text": "Hello from dashscope qwen-vl-plus: what is it?"}])
    );
    assert_eq!(v["usage"]["image_tokens"], 64);
    assert!(v["usage"].get("total_tokens").is_none());
    let mut sb = b.clone();
    sb["parameters"] = json!({"incremental_output": true});
    let raw = post(&sim, VISION, &sb, true).await.text().await.unwrap();
    let frames = parse_frames(&raw);
    let text: String = frames
        .iter()
        .filter_map(|(_, d)| d["output"]["choices"][0]["message"]["content"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello from dashscope qwen-vl-plus: what is it?");
    assert_eq!(
        frames.last().unwrap().1["output"]["choices"][0]["message"]["content"],
        json!([])
    );
}

#[tokio::test]
async fn tools_are_called_in_both_modes() {
    let sim = ds().await;
    let params = json!({"result_format": "message", "incremental_output": true,
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]});
    let (_, v) = json_of(
        post(
            &sim,
            TEXT,
            &body("qwen-plus", "weather?", params.clone()),
            false,
        )
        .await,
    )
    .await;
    let choice = &v["output"]["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        call["function"]["arguments"],
        r#"{"location":"Paris","unit":"celsius"}"#
    );
    assert!(call["id"].as_str().unwrap().starts_with("call_"));

    let raw = post(&sim, TEXT, &body("qwen-plus", "weather?", params), true)
        .await
        .text()
        .await
        .unwrap();
    let frames = parse_frames(&raw);
    let calls: Vec<&Value> = frames
        .iter()
        .filter_map(|(_, d)| d["output"]["choices"][0]["message"]["tool_calls"].get(0))
        .collect();
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_eq!(calls[1]["id"], "", "later fragments have an empty id");
    let args: String = calls
        .iter()
        .map(|c| c["function"]["arguments"].as_str().unwrap())
        .collect();
    assert_eq!(args, r#"{"location":"Paris","unit":"celsius"}"#);
    assert_eq!(
        frames.last().unwrap().1["output"]["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn business_errors_over_http_inside_a_200_and_in_stream() {
    let sim = ds().await;
    let ask = |d: &str| {
        body(
            "qwen-plus",
            &format!("go sim_dashscope_error:{d}"),
            json!({"result_format": "message"}),
        )
    };
    let (status, v) = json_of(post(&sim, TEXT, &ask("Throttling.RateQuota"), false).await).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (429, Some("Throttling.RateQuota"))
    );
    let (status, v) = json_of(post(&sim, TEXT, &ask("Arrearage"), false).await).await;
    assert_eq!((status, v["code"].as_str()), (400, Some("Arrearage")));
    let (status, v) =
        json_of(post(&sim, TEXT, &ask("DataInspectionFailed;http=200"), false).await).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (200, Some("DataInspectionFailed"))
    );

    let resp = post(&sim, TEXT, &ask("Throttling.RateQuota;after=2"), true).await;
    assert_eq!(resp.status(), 200);
    let raw = resp.text().await.unwrap();
    assert!(
        raw.contains("id:3\nevent:error\n:HTTP_STATUS/429\ndata:{"),
        "{raw}"
    );
    let frames = parse_frames(&raw);
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[2].0, "error");
    assert_eq!(frames[2].1["code"], "Throttling.RateQuota");
    let resp = post(&sim, TEXT, &ask("InvalidApiKey;http=401"), true).await;
    assert_eq!(
        resp.status(),
        401,
        "with http=… a stream request gets a plain error"
    );
    let (status, v) = json_of(post(&sim, TEXT, &ask("Nope;after=x"), false).await).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("InvalidParameter"))
    );
}

#[tokio::test]
async fn shared_faults_apply_with_native_bodies_and_frames() {
    let sim = ds().await;
    let params = json!({"result_format": "message", "incremental_output": true});
    sim.push_fault(Fault::status(503));
    let (status, v) =
        json_of(post(&sim, TEXT, &body("qwen-plus", "x", params.clone()), false).await).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (503, Some("ServiceUnavailable"))
    );
    sim.push_fault(Fault::MalformedChunk { after_chunks: 1 });
    let raw = post(&sim, TEXT, &body("qwen-plus", "x", params.clone()), true)
        .await
        .text()
        .await
        .unwrap();
    assert!(raw.ends_with("data:{not json\n\n"), "{raw}");
    assert_eq!(sim.faulted_streams(), 1);
    let resp = post(
        &sim,
        TEXT,
        &body("qwen-plus", "sim_fault:reset_mid_stream=2", params),
        true,
    )
    .await;
    assert!(resp.text().await.is_err(), "the body is cut");
}

#[tokio::test]
async fn embeddings_are_deterministic_and_limited() {
    let sim = ds().await;
    let (status, v) = json_of(
        post(
            &sim,
            EMBED,
            &json!({"model": "text-embedding-v1", "input": {"texts": ["alpha", "beta gamma"]}}),
            false,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let items = v["output"]["embeddings"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["text_index"], 1);
    let v1: Vec<f32> = items[1]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(
        v1,
        embed("beta gamma", switchyard_sim::dashscope::V1_V2_DIMENSIONS)
    );
    assert_eq!(v["usage"]["total_tokens"], 1 + 2);

    let many: Vec<String> = (0..26).map(|i| format!("t{i}")).collect();
    let (status, v) = json_of(
        post(
            &sim,
            EMBED,
            &json!({"model": "text-embedding-v2", "input": {"texts": many}}),
            false,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("InvalidParameter"))
    );
    let (status, v) = json_of(
        post(&sim, EMBED, &json!({"model": "text-embedding-v3", "input": {"texts": ["a"]}, "parameters": {"dimension": 64}}), false).await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        v["output"]["embeddings"][0]["embedding"]
            .as_array()
            .unwrap()
            .len(),
        64
    );
    for bad in [
        json!({"model": "text-embedding-v1", "input": {"texts": ["a"]}, "parameters": {"dimension": 64}}),
        json!({"model": "text-embedding-ada-002", "input": {"texts": ["a"]}}),
        json!({"model": "text-embedding-v1", "input": ["a"]}),
    ] {
        let (status, _) = json_of(post(&sim, EMBED, &bad, false).await).await;
        assert_eq!(status, 400, "{bad}");
    }
}

#[tokio::test]
async fn binary_runs_the_dashscope_simulator() {
    let (mut child, origin) = spawn_binary(&[
        "dashscope",
        "--key",
        KEY,
        "--workspace",
        "ws_bin",
        "--chunks",
        "2",
    ]);
    let resp = client()
        .post(format!("{origin}/api/v1{TEXT}"))
        .bearer_auth(KEY)
        .header("X-DashScope-WorkSpace", "ws_bin")
        .json(&body(
            "qwen-turbo",
            "hi",
            json!({"result_format": "message"}),
        ))
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(resp).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["usage"]["output_tokens"], 2);
    child.kill().unwrap();
    child.wait().unwrap();
}
