//! The Tencent Hunyuan simulator: TC3 signature checks the way Tencent does them, HTTP-200
//! errors, exact framing of answers and streams, tools, `sim_error:` and shared faults.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use switchyard_sim::hunyuan::{NOTE, TOOL_MODELS};
use switchyard_sim::{Fault, HunyuanSimConfig, SimHandle, spawn_hunyuan};

use crate::{client, eventually};

const ID: &str = "AKIDsimTest0123456789abcdefghijklmn";
const KEY: &str = "simSecretKey0123456789abcdefghij";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hex_sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// How a test client signs (each field can be made wrong on purpose).
#[derive(Clone)]
struct Signer {
    id: String,
    key: String,
    host: Option<String>,
    timestamp: u64,
    date: Option<String>,
    /// Extra signed headers, e.g. `x-tc-action` (value lower-cased as Tencent requires).
    sign_action: bool,
}

impl Signer {
    fn new() -> Self {
        Self {
            id: ID.into(),
            key: KEY.into(),
            host: None,
            timestamp: now(),
            date: None,
            sign_action: false,
        }
    }

    /// `(authorization, canonical request)` for `body` sent to `host`.
    fn sign(&self, host: &str, action: &str, body: &[u8]) -> (String, String) {
        let date = self.date.clone().unwrap_or_else(|| {
            chrono::DateTime::from_timestamp(self.timestamp as i64, 0)
                .unwrap()
                .format("%Y-%m-%d")
                .to_string()
        });
        let host = self.host.as_deref().unwrap_or(host);
        let (headers, signed) = if self.sign_action {
            (
                format!(
                    "content-type:application/json\nhost:{host}\nx-tc-action:{}\n",
                    action.to_lowercase()
                ),
                "content-type;host;x-tc-action",
            )
        } else {
            (
                format!("content-type:application/json\nhost:{host}\n"),
                "content-type;host",
            )
        };
        let canonical = format!("POST\n/\n\n{headers}\n{signed}\n{}", hex_sha(body));
        let sts = format!(
            "TC3-HMAC-SHA256\n{}\n{date}/hunyuan/tc3_request\n{}",
            self.timestamp,
            hex_sha(canonical.as_bytes())
        );
        let k = hmac(format!("TC3{}", self.key).as_bytes(), date.as_bytes());
        let k = hmac(&hmac(&k, b"hunyuan"), b"tc3_request");
        let sig = hex::encode(hmac(&k, sts.as_bytes()));
        (
            format!(
                "TC3-HMAC-SHA256 Credential={}/{date}/hunyuan/tc3_request, SignedHeaders={signed}, Signature={sig}",
                self.id
            ),
            canonical,
        )
    }
}

#[test]
fn test_signer_reproduces_the_documented_vector() {
    let s = Signer {
        id: "AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1234".into(),
        key: "SECRETKEYEXAMPLEEXAMPLEEXAMPLE12".into(),
        host: None,
        timestamp: 1_705_634_813,
        date: None,
        sign_action: false,
    };
    let body =
        br#"{"Model":"hunyuan-lite","Messages":[{"Role":"user","Content":"hi"}],"Stream":false}"#;
    let (auth, canonical) = s.sign("hunyuan.tencentcloudapi.com", "ChatCompletions", body);
    assert_eq!(
        hex_sha(canonical.as_bytes()),
        "ac399ae4c55ba2092befd98a9fc3be6d17ab30fff47d00958057939ac6d0f598"
    );
    assert!(
        auth.ends_with(
            "Signature=ca372abd86e6b43de505b01b97b13fe6cc68ca3150ffcfcc70f3ddb307f3aee1"
        )
    );
}

async fn sim() -> SimHandle {
    spawn_hunyuan(HunyuanSimConfig::new(ID, KEY)).await.unwrap()
}

/// Sends `body` (bytes as given) with the signer's headers; returns status, content type, text.
async fn send_raw(
    sim: &SimHandle,
    s: &Signer,
    action: &str,
    body: Vec<u8>,
    signed_body: Option<&[u8]>,
) -> (u16, String, String) {
    let host = sim.addr().to_string();
    let (auth, _) = s.sign(&host, action, signed_body.unwrap_or(&body));
    let resp = client()
        .post(format!("{}/", sim.origin()))
        .header("content-type", "application/json")
        .header("authorization", auth)
        .header("x-tc-action", action)
        .header("x-tc-version", "2023-09-01")
        .header("x-tc-timestamp", s.timestamp.to_string())
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap_or_default())
}

async fn call(sim: &SimHandle, body: &Value) -> (u16, String, String) {
    send_raw(
        sim,
        &Signer::new(),
        "ChatCompletions",
        body.to_string().into_bytes(),
        None,
    )
    .await
}

fn chat(model: &str, text: &str, stream: bool) -> Value {
    json!({"Model": model, "Messages": [{"Role": "user", "Content": text}], "Stream": stream})
}

/// Asserts an HTTP-200 `application/json` `Response.Error` with `code`.
fn assert_error(got: &(u16, String, String), code: &str) {
    assert_eq!(got.0, 200, "Tencent errors come with HTTP 200: {}", got.2);
    assert_eq!(got.1, "application/json");
    let v: Value = serde_json::from_str(&got.2).unwrap();
    assert_eq!(v["Response"]["Error"]["Code"], code, "{v}");
    assert!(
        v["Response"]["Error"]["Message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(v["Response"]["RequestId"].is_string());
}

#[tokio::test]
async fn good_signature_gets_the_documented_answer() {
    let sim = sim().await;
    let got = call(&sim, &chat("hunyuan-lite", "hi there", false)).await;
    assert_eq!((got.0, got.1.as_str()), (200, "application/json"));
    let v: Value = serde_json::from_str(&got.2).unwrap();
    let r = &v["Response"];
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    for k in ["RequestId", "Note", "Choices", "Created", "Id", "Usage"] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    assert_eq!(r["Note"], NOTE);
    assert_eq!(
        r["Choices"][0]["Message"],
        json!({"Role": "assistant", "Content": "Hello from hunyuan hunyuan-lite: hi there"})
    );
    assert_eq!(r["Choices"][0]["FinishReason"], "stop");
    // "hi there": 8 chars / 4 + 3 = 5 prompt tokens; 5 pieces.
    assert_eq!(
        r["Usage"],
        json!({"PromptTokens": 5, "CompletionTokens": 5, "TotalTokens": 10})
    );
    assert_eq!(sim.requests()[0], chat("hunyuan-lite", "hi there", false));
    // one-api style: x-tc-action signed too, value lower-cased.
    let mut s = Signer::new();
    s.sign_action = true;
    let got = send_raw(
        &sim,
        &s,
        "ChatCompletions",
        chat("hunyuan-pro", "x", false).to_string().into_bytes(),
        None,
    )
    .await;
    assert!(
        got.2.contains("Hello from hunyuan hunyuan-pro: x"),
        "{}",
        got.2
    );
}

#[tokio::test]
async fn credentials_are_checked_the_tencent_way() {
    let sim = sim().await;
    let body = chat("hunyuan-lite", "hi", false).to_string().into_bytes();
    let cases: Vec<(Signer, &str)> = vec![
        (
            Signer {
                key: "wrong-key".into(),
                ..Signer::new()
            },
            "AuthFailure.SignatureFailure",
        ),
        (
            Signer {
                host: Some("hunyuan.tencentcloudapi.com".into()),
                ..Signer::new()
            },
            "AuthFailure.SignatureFailure",
        ),
        (
            Signer {
                date: Some("2001-01-01".into()),
                ..Signer::new()
            },
            "AuthFailure.SignatureFailure",
        ),
        (
            Signer {
                id: "AKIDunknown".into(),
                ..Signer::new()
            },
            "AuthFailure.SecretIdNotFound",
        ),
        (
            Signer {
                timestamp: now() - 301,
                ..Signer::new()
            },
            "AuthFailure.SignatureExpire",
        ),
        (
            Signer {
                timestamp: now() + 3600,
                ..Signer::new()
            },
            "AuthFailure.SignatureExpire",
        ),
    ];
    for (signer, code) in cases {
        assert_error(
            &send_raw(&sim, &signer, "ChatCompletions", body.clone(), None).await,
            code,
        );
    }
    // A body changed after signing.
    let tampered = chat("hunyuan-lite", "hj", false).to_string().into_bytes();
    assert_error(
        &send_raw(
            &sim,
            &Signer::new(),
            "ChatCompletions",
            tampered,
            Some(&body),
        )
        .await,
        "AuthFailure.SignatureFailure",
    );
    // No or malformed Authorization.
    let resp = client()
        .post(format!("{}/", sim.origin()))
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-nope")
        .header("x-tc-action", "ChatCompletions")
        .header("x-tc-version", "2023-09-01")
        .header("x-tc-timestamp", now().to_string())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let got = (
        resp.status().as_u16(),
        "application/json".to_owned(),
        resp.text().await.unwrap(),
    );
    assert_error(&got, "AuthFailure.InvalidAuthorization");
    assert_eq!(sim.request_count(), 8, "rejected bodies are recorded too");
}

#[tokio::test]
async fn requests_are_validated_like_hunyuan() {
    let sim = sim().await;
    let cases = [
        (
            chat("hunyuan-nope", "hi", false),
            "InvalidParameterValue.Model",
        ),
        (chat("hunyuan", "hi", false), "InvalidParameterValue.Model"),
        (
            json!({"model": "hunyuan-lite", "messages": [{"role": "user", "content": "hi"}]}),
            "UnknownParameter",
        ),
        (
            json!({"Messages": [{"Role": "user", "Content": "hi"}]}),
            "MissingParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": []}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": [{"Role": "user", "Content": "a"}, {"Role": "user", "Content": "b"}]}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": [{"Role": "user", "Content": "a"}, {"Role": "system", "Content": "b"}, {"Role": "user", "Content": "c"}]}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": [{"Role": "assistant", "Content": "a"}]}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": [{"Role": "user", "Content": ""}]}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": [{"Role": "user", "Content": "a"}], "Temperature": 2.5}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": [{"Role": "user", "Content": "a"}], "TopP": 1.5}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": [{"Role": "user", "Content": "a"}], "Seed": 0}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-pro", "Messages": [{"Role": "user", "Content": "a"}],
                "Tools": [{"Type": "function", "Function": {"Name": "f", "Parameters": {"type": "object"}}}]}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-pro", "Messages": [{"Role": "user", "Content": "a"}], "ToolChoice": "required"}),
            "InvalidParameter",
        ),
    ];
    for (body, code) in cases {
        let got = call(&sim, &body).await;
        assert_error(&got, code);
    }
    let ok = json!({"Model": "hunyuan-standard", "Messages": [
        {"Role": "system", "Content": "s"}, {"Role": "user", "Content": "a"},
        {"Role": "assistant", "Content": "b"}, {"Role": "user", "Content": "c"}],
        "Temperature": 2.0, "TopP": 0.0, "Seed": 10000, "Stop": ["x"], "EnableEnhancement": false});
    let got = call(&sim, &ok).await;
    assert!(
        got.2.contains("Hello from hunyuan hunyuan-standard: c"),
        "{}",
        got.2
    );
}

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
    let resp = client()
        .post(format!("{}/", sim.origin()))
        .header("content-type", "application/json")
        .header("x-tc-action", "ChatCompletions")
        .header("x-tc-version", "2023-09-01")
        .header("x-tc-timestamp", now().to_string())
        .header(
            "authorization",
            Signer::new()
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
    let (auth, _) = Signer::new().sign(&origin, "ChatCompletions", body.as_bytes());
    let text = client()
        .post(format!("http://{origin}/"))
        .header("content-type", "application/json")
        .header("authorization", auth)
        .header("x-tc-action", "ChatCompletions")
        .header("x-tc-version", "2023-09-01")
        .header("x-tc-timestamp", now().to_string())
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
