//! Exact framing of answers and streams, tools, `sim_error:`, shared faults, embeddings and the
//! `switchyard-sim hunyuan` binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use switchyard_sim::Fault;
use switchyard_sim::SimHandle;
use switchyard_sim::hunyuan::{NOTE, TOOL_MODELS};

use super::{ID, KEY, Signer, assert_error, call, chat, send_raw, sim};
use crate::{client, eventually};

/// Splits a raw stream into its JSON frames, asserting Hunyuan's framing on the way.
fn frames(raw: &str) -> Vec<Value> {
    assert!(!raw.contains("[DONE]"), "Hunyuan sends no [DONE]");
    assert!(!raw.contains("event:") && !raw.contains("\r"));
    let body = raw
        .strip_suffix("\n\n")
        .unwrap_or_else(|| panic!("{raw:?}"));
    body.split("\n\n")
        .map(|ev| {
            assert!(!ev.contains('\n'), "one line per event: {ev:?}");
            let json = ev.strip_prefix("data: {").map(|j| format!("{{{j}"));
            serde_json::from_str(&json.unwrap_or_else(|| panic!("`data: ` then JSON: {ev:?}")))
                .unwrap()
        })
        .collect()
}

async fn stream(sim: &SimHandle, body: &Value) -> Vec<Value> {
    // The header carries the timestamp that was signed (a second boundary may pass between).
    let signer = Signer::new();
    let resp = client()
        .post(format!("{}/", sim.origin()))
        .header("content-type", "application/json")
        .header("x-tc-action", "ChatCompletions")
        .header("x-tc-version", "2023-09-01")
        .header("x-tc-timestamp", signer.timestamp.to_string())
        .header(
            "authorization",
            signer
                .sign(
                    &sim.addr().to_string(),
                    "ChatCompletions",
                    body.to_string().as_bytes(),
                )
                .0,
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert!(resp.headers().contains_key("x-tc-requestid"));
    frames(&resp.text().await.unwrap())
}

#[tokio::test]
async fn stream_framing_and_cumulative_usage() {
    let sim = sim().await;
    let f = stream(&sim, &chat("hunyuan-standard", "tell me", true)).await;
    assert_eq!(f.len(), 6, "5 pieces + the final frame");
    let text: String = f
        .iter()
        .map(|x| x["Choices"][0]["Delta"]["Content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Hello from hunyuan hunyuan-standard: tell me");
    for (i, x) in f.iter().enumerate() {
        assert_eq!(x["Note"], NOTE);
        assert!(x.get("Response").is_none(), "stream frames are not wrapped");
        assert_eq!(x["Id"], f[0]["Id"]);
        assert_eq!(x["Choices"][0]["Delta"]["Role"], "assistant");
        let completion = x["Usage"]["CompletionTokens"].as_u64().unwrap();
        assert_eq!(completion, (i as u64 + 1).min(5), "cumulative usage");
        assert_eq!(x["Usage"]["PromptTokens"], 4);
        assert_eq!(x["Usage"]["TotalTokens"].as_u64().unwrap(), 4 + completion);
        let finish = x["Choices"][0]["FinishReason"].as_str().unwrap();
        assert_eq!(finish, if i == 5 { "stop" } else { "" });
    }
    assert_eq!(f[5]["Choices"][0]["Delta"]["Content"], "");
    assert!(eventually(|| sim.completed_streams() == 1).await);
}

#[tokio::test]
async fn tools_only_for_tool_models_and_streamed_by_id() {
    let sim = sim().await;
    let tools = json!([{"Type": "function", "Function": {"Name": "get_weather", "Parameters": "{\"type\":\"object\"}"}}]);
    let mut body = chat("hunyuan-functioncall", "weather?", true);
    body["Tools"] = tools.clone();
    assert!(TOOL_MODELS.contains(&"hunyuan-functioncall"));
    let f = stream(&sim, &body).await;
    let calls: Vec<&Value> = f
        .iter()
        .filter_map(|x| x["Choices"][0]["Delta"]["ToolCalls"].get(0))
        .collect();
    assert_eq!(calls.len(), 5);
    let args: String = calls
        .iter()
        .map(|c| c["Function"]["Arguments"].as_str().unwrap())
        .collect();
    assert_eq!(args, r#"{"location":"Paris","unit":"celsius"}"#);
    assert!(calls.iter().all(|c| c["Id"] == calls[0]["Id"]
        && c["Function"]["Name"] == "get_weather"
        && c["Type"] == "function"));
    assert_eq!(
        f.last().unwrap()["Choices"][0]["FinishReason"],
        "tool_calls"
    );
    // Non-stream, forced with CustomTool.
    body["Stream"] = json!(false);
    body["ToolChoice"] = json!("custom");
    body["CustomTool"] = tools[0].clone();
    let v: Value = serde_json::from_str(&call(&sim, &body).await.2).unwrap();
    assert_eq!(
        v["Response"]["Choices"][0]["Message"]["ToolCalls"][0]["Function"]["Arguments"],
        r#"{"location":"Paris","unit":"celsius"}"#
    );
    // hunyuan-lite ignores tools; ToolChoice none too.
    body["Model"] = json!("hunyuan-lite");
    let v: Value = serde_json::from_str(&call(&sim, &body).await.2).unwrap();
    assert_eq!(v["Response"]["Choices"][0]["FinishReason"], "stop");
    body["Model"] = json!("hunyuan-functioncall");
    body["ToolChoice"] = json!("none");
    let v: Value = serde_json::from_str(&call(&sim, &body).await.2).unwrap();
    assert!(
        v["Response"]["Choices"][0]["Message"]
            .get("ToolCalls")
            .is_none()
    );
}

#[tokio::test]
async fn sim_error_injects_tencent_errors_with_http_200() {
    let sim = sim().await;
    for code in [
        "RequestLimitExceeded",
        "OperationDenied.TextIllegalDetected",
        "ResourceInsufficient.ChargeResourceExhaust",
        "InternalError",
    ] {
        assert_error(
            &call(
                &sim,
                &chat("hunyuan-lite", &format!("please sim_error:{code}."), false),
            )
            .await,
            code,
        );
        // Before a stream starts the error is plain JSON too.
        assert_error(
            &call(
                &sim,
                &chat("hunyuan-lite", &format!("sim_error:{code}"), true),
            )
            .await,
            code,
        );
    }
    let f = stream(&sim, &chat("hunyuan-lite", "x sim_error:sensitive", true)).await;
    assert_eq!(f.last().unwrap()["Choices"][0]["FinishReason"], "sensitive");
    assert_eq!(f.len(), 4, "3 of 5 pieces, then the moderation stop");
    let f = stream(&sim, &chat("hunyuan-lite", "x sim_error:stream4001", true)).await;
    assert_eq!(f.len(), 2);
    assert_eq!(
        f[1]["ErrorMsg"],
        json!({"Msg": "请求模型超时", "Code": 4001})
    );
    assert_error(
        &call(&sim, &chat("hunyuan-lite", "sim_error:stream4001", false)).await,
        "FailedOperation.EngineRequestTimeout",
    );
}

#[tokio::test]
async fn shared_faults_apply_after_auth() {
    let sim = sim().await;
    let got = call(
        &sim,
        &chat("hunyuan-lite", "sim_fault:status=503;retry_after=2", false),
    )
    .await;
    assert_eq!(got.0, 503);
    let v: Value = serde_json::from_str(&got.2).unwrap();
    assert_eq!(v["Response"]["Error"]["Code"], "ServiceUnavailable");
    // A fault is not consumed by a request that fails authentication.
    sim.push_fault(Fault::ResetMidStream { after_chunks: 2 });
    let bad = Signer {
        key: "nope".into(),
        ..Signer::new()
    };
    let body = chat("hunyuan-lite", "hi", true).to_string().into_bytes();
    assert_error(
        &send_raw(&sim, &bad, "ChatCompletions", body.clone(), None).await,
        "AuthFailure.SignatureFailure",
    );
    assert_eq!(sim.state().pending_faults(), 1);
    let (status, _, _) = send_raw(&sim, &Signer::new(), "ChatCompletions", body, None).await;
    assert_eq!(status, 200);
    assert!(eventually(|| sim.faulted_streams() == 1).await);
}

#[tokio::test]
async fn get_embedding_answers_in_order() {
    let sim = sim().await;
    let body = json!({"InputList": ["first text", "second"]});
    let got = send_raw(
        &sim,
        &Signer::new(),
        "GetEmbedding",
        body.to_string().into_bytes(),
        None,
    )
    .await;
    let v: Value = serde_json::from_str(&got.2).unwrap();
    let data = v["Response"]["Data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["Index"], 1);
    assert_eq!(data[0]["Object"], "embedding");
    assert_eq!(data[0]["Embedding"].as_array().unwrap().len(), 1024);
    assert_eq!(
        v["Response"]["Usage"],
        json!({"PromptTokens": 3, "TotalTokens": 3})
    );
    for bad in [
        json!({"Input": "a", "InputList": ["b"]}),
        json!({}),
        json!({"Model": "hunyuan-embedding", "Input": "a"}),
    ] {
        let got = send_raw(
            &sim,
            &Signer::new(),
            "GetEmbedding",
            bad.to_string().into_bytes(),
            None,
        )
        .await;
        let v: Value = serde_json::from_str(&got.2).unwrap();
        assert!(
            v["Response"]["Error"]["Code"]
                .as_str()
                .unwrap()
                .contains("Parameter"),
            "{v}"
        );
    }
    let got = send_raw(
        &sim,
        &Signer::new(),
        "DescribeInstances",
        b"{}".to_vec(),
        None,
    )
    .await;
    assert_error(&got, "InvalidAction");
}

#[tokio::test]
async fn binary_serves_hunyuan() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard-sim"))
        .args([
            "hunyuan",
            "--secret-id",
            ID,
            "--secret-key",
            KEY,
            "--chunks",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let origin = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    let body = chat("hunyuan-lite", "bin", false).to_string();
    let signer = Signer::new();
    let (auth, _) = signer.sign(&origin, "ChatCompletions", body.as_bytes());
    let text = client()
        .post(format!("http://{origin}/"))
        .header("content-type", "application/json")
        .header("authorization", auth)
        .header("x-tc-action", "ChatCompletions")
        .header("x-tc-version", "2023-09-01")
        .header("x-tc-timestamp", signer.timestamp.to_string())
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("\"CompletionTokens\":2"), "{text}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}
