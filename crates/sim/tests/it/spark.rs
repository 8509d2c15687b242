//! The Spark simulator over real WebSockets: signed handshakes, request-frame validation,
//! exact frame sequences, function calls, injected error codes and faults.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchyard_sim::spark::auth::client_url;
use switchyard_sim::{Fault, SimHandle, SparkSimConfig, spawn_spark};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::eventually;

const APP: &str = "app-1234";
const KEY: &str = "key-abcdef0123456789";
const SECRET: &str = "secret-0123456789abcdef0123456789";

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn cfg() -> SparkSimConfig {
    SparkSimConfig::new(APP, KEY, SECRET)
}

async fn sim() -> SimHandle {
    spawn_spark(cfg()).await.unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn url(sim: &SimHandle, path: &str) -> String {
    client_url("ws", &sim.addr().to_string(), path, KEY, SECRET, now())
}

/// Connects; on a refused handshake returns its status and JSON body.
async fn connect(url: &str) -> Result<Ws, (u16, Value)> {
    match connect_async(url).await {
        Ok((ws, resp)) => {
            assert_eq!(resp.status(), 101);
            Ok(ws)
        }
        Err(WsError::Http(resp)) => {
            let body = resp.body().clone().unwrap_or_default();
            let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
            assert!(ct.starts_with("application/json"), "{ct}");
            Err((
                resp.status().as_u16(),
                serde_json::from_slice(&body).unwrap(),
            ))
        }
        Err(e) => panic!("unexpected handshake error {e}"),
    }
}

fn frame(domain: &str, text: &str) -> Value {
    json!({
        "header": {"app_id": APP, "uid": "u1"},
        "parameter": {"chat": {"domain": domain, "temperature": 0.5, "max_tokens": 1024}},
        "payload": {"message": {"text": [{"role": "user", "content": text}]}}
    })
}

/// What came back after the request frame: the raw text frames, and whether the server sent
/// a close frame (false: the connection just ended).
async fn exchange(ws: &mut Ws, request: &Value) -> (Vec<String>, bool) {
    ws.send(Message::text(request.to_string())).await.unwrap();
    read_all(ws).await
}

async fn read_all(ws: &mut Ws) -> (Vec<String>, bool) {
    let mut frames = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Err(_) => panic!("no frame within 5 s; got {frames:?}"),
            Ok(Some(Ok(Message::Text(t)))) => frames.push(t.to_string()),
            Ok(Some(Ok(Message::Close(_)))) => return (frames, true),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => return (frames, false),
        }
    }
}

fn parse(frames: &[String]) -> Vec<Value> {
    frames
        .iter()
        .map(|f| serde_json::from_str(f).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect()
}

async fn one_error(path: &str, request: Value) -> (i64, String) {
    let sim = sim().await;
    let mut ws = connect(&url(&sim, path)).await.unwrap();
    let (frames, closed) = exchange(&mut ws, &request).await;
    assert!(closed, "the server closes after an error frame");
    assert_eq!(frames.len(), 1, "{frames:?}");
    let v: Value = serde_json::from_str(&frames[0]).unwrap();
    assert_eq!(v["header"]["status"], 2);
    assert!(v.get("payload").is_none());
    assert!(v["header"]["sid"].as_str().unwrap().starts_with("cht"));
    (
        v["header"]["code"].as_i64().unwrap(),
        v["header"]["message"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn every_version_answers_in_status_0_1_2_frames_with_usage_last() {
    let cases = [
        ("/v1.1/chat", "lite"),
        ("/v2.1/chat", "generalv2"),
        ("/v3.1/chat", "generalv3"),
        ("/chat/pro-128k", "pro-128k"),
        ("/v3.5/chat", "generalv3.5"),
        ("/chat/max-32k", "max-32k"),
        ("/v4.0/chat", "4.0Ultra"),
    ];
    let sim = sim().await;
    for (path, domain) in cases {
        let mut ws = connect(&url(&sim, path)).await.unwrap();
        let (raw, closed) = exchange(&mut ws, &frame(domain, "hello there")).await;
        assert!(closed, "{path}: closed after the last frame");
        assert_eq!(raw.len(), 5, "{path}");
        assert!(raw[0].starts_with(r#"{"header":{"code":0,"message":"Success","sid":"cht"#));
        let frames = parse(&raw);
        let sid = &frames[0]["header"]["sid"];
        let mut text = String::new();
        for (i, f) in frames.iter().enumerate() {
            let status = match i {
                0 => 0,
                4 => 2,
                _ => 1,
            };
            assert_eq!(f["header"]["status"], status, "{path} frame {i}");
            assert_eq!(f["header"]["sid"], *sid);
            assert_eq!(f["payload"]["choices"]["status"], status);
            assert_eq!(f["payload"]["choices"]["seq"], i);
            let item = &f["payload"]["choices"]["text"][0];
            assert_eq!(item["role"], "assistant");
            assert_eq!(item["index"], 0);
            text.push_str(item["content"].as_str().unwrap());
            assert_eq!(f["payload"].get("usage").is_some(), i == 4);
        }
        assert_eq!(text, format!("Hello from spark {domain}: hello there"));
        // 11 characters / 4 + 3 = 5 prompt tokens, one token per frame.
        assert_eq!(
            frames[4]["payload"]["usage"]["text"],
            json!({"question_tokens": 5, "prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10})
        );
    }
    assert_eq!(sim.request_count(), 7);
    assert_eq!(
        sim.requests()[4]["parameter"]["chat"]["domain"],
        "generalv3.5"
    );
    assert!(eventually(|| sim.completed_streams() == 7).await);
}

#[tokio::test]
async fn max_tokens_cuts_the_answer_and_the_usage() {
    let sim = sim().await;
    let mut ws = connect(&url(&sim, "/v3.5/chat")).await.unwrap();
    let mut req = frame("generalv3.5", "hi");
    req["parameter"]["chat"]["max_tokens"] = json!(2);
    req["payload"]["message"]["text"] = json!([
        {"role": "system", "content": "Be brief, always."},
        {"role": "user", "content": "hi"}
    ]);
    let (raw, _) = exchange(&mut ws, &req).await;
    let frames = parse(&raw);
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1]["header"]["status"], 2);
    assert_eq!(
        frames[1]["payload"]["usage"]["text"],
        json!({"question_tokens": 3, "prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12})
    );
}

#[tokio::test]
async fn handshake_refusals_match_the_service() {
    let sim = sim().await;
    let host = sim.addr().to_string();
    let base = format!("ws://{host}/v3.5/chat");
    // No authorization at all.
    assert_eq!(
        connect(&base).await.err(),
        Some((401, json!({"message": "Unauthorized"})))
    );
    // Wrong secret.
    let wrong_secret = client_url("ws", &host, "/v3.5/chat", KEY, "not-the-secret", now());
    assert_eq!(
        connect(&wrong_secret).await.err(),
        Some((401, json!({"message": "HMAC signature does not match"})))
    );
    // Unknown key.
    let wrong_key = client_url("ws", &host, "/v3.5/chat", "other-key", SECRET, now());
    assert_eq!(
        connect(&wrong_key).await.err(),
        Some((401, json!({"message": "HMAC signature cannot be verified"})))
    );
    // Signed for another path.
    let signed = client_url("ws", &host, "/v3.1/chat", KEY, SECRET, now());
    let moved = signed.replace("/v3.1/chat", "/v3.5/chat");
    assert_eq!(
        connect(&moved).await.err(),
        Some((401, json!({"message": "HMAC signature does not match"})))
    );
    // Signed for the public host, sent to this one.
    let public = client_url(
        "ws",
        "spark-api.xf-yun.com",
        "/v3.5/chat",
        KEY,
        SECRET,
        now(),
    );
    let redirected = public.replace("ws://spark-api.xf-yun.com", &format!("ws://{host}"));
    assert_eq!(
        connect(&redirected).await.err(),
        Some((401, json!({"message": "HMAC signature does not match"})))
    );
    // Clock skew over five minutes, either way; just under it is fine.
    let bad_date = json!({"message": "HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication"});
    for skew in [-400, 400] {
        let u = client_url("ws", &host, "/v3.5/chat", KEY, SECRET, now() + skew);
        assert_eq!(
            connect(&u).await.err(),
            Some((403, bad_date.clone())),
            "{skew}"
        );
    }
    let u = client_url("ws", &host, "/v3.5/chat", KEY, SECRET, now() - 240);
    assert!(connect(&u).await.is_ok());
    // Garbage authorization.
    let garbage = format!("{base}?authorization=%21%21&date=x&host={host}");
    assert_eq!(connect(&garbage).await.err().map(|e| e.0), Some(403));
    // Unknown path.
    let nowhere = client_url("ws", &host, "/v9.9/chat", KEY, SECRET, now());
    assert_eq!(
        connect(&nowhere).await.err(),
        Some((
            404,
            json!({"message": "no Route matched with those values"})
        ))
    );
    assert_eq!(sim.request_count(), 0, "nothing reaches the model");
}

#[tokio::test]
async fn one_api_style_authorization_is_accepted() {
    use base64::Engine as _;
    let sim = sim().await;
    let host = sim.addr().to_string();
    let date = switchyard_sim::spark::auth::rfc1123(now());
    let sig =
        switchyard_sim::spark::auth::signature(SECRET, &host, &date, "GET /v3.5/chat HTTP/1.1");
    let origin = format!(
        "hmac username=\"{KEY}\", algorithm=\"hmac-sha256\", headers=\"host date request-line\", signature=\"{sig}\""
    );
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let u = format!(
        "ws://{host}/v3.5/chat?host={}&date={}&authorization={}",
        enc(&host),
        enc(&date),
        enc(&base64::engine::general_purpose::STANDARD.encode(origin))
    );
    let mut ws = connect(&u).await.unwrap();
    let (raw, closed) = exchange(&mut ws, &frame("generalv3.5", "hi")).await;
    assert!(closed);
    assert_eq!(raw.len(), 5);
}

#[tokio::test]
async fn request_frames_are_validated_like_spark() {
    let (code, msg) = one_error("/v3.5/chat", {
        let mut f = frame("generalv3.5", "hi");
        f["header"]["app_id"] = json!("someone-else");
        f
    })
    .await;
    assert_eq!(code, 11200);
    assert!(msg.starts_with("AppIdNoAuthError:("), "{msg}");

    let (code, msg) = one_error("/v3.5/chat", frame("generalv9", "hi")).await;
    assert_eq!(code, 10003);
    assert!(
        msg.starts_with("ClientMsgError:(") && msg.ends_with("invalid model domain"),
        "{msg}"
    );

    let (code, msg) = one_error("/v3.5/chat", frame("generalv3", "hi")).await;
    assert_eq!(
        (code, msg.ends_with("domain.generalv3")),
        (11200, true),
        "{msg}"
    );

    // The retired Lite domain is refused since the rename.
    let (code, msg) = one_error("/v1.1/chat", frame("general", "hi")).await;
    assert_eq!(
        (code, msg.ends_with("domain.general")),
        (11200, true),
        "{msg}"
    );

    let (code, msg) = one_error("/v3.5/chat", {
        let mut f = frame("generalv3.5", "hi");
        f["header"]["uid"] = json!("u".repeat(33));
        f
    })
    .await;
    assert_eq!(code, 10004);
    assert!(
        msg.starts_with("SchemaCheckError:(")
            && msg.ends_with("'$.header.uid' length must be less or equal than 32"),
        "{msg}"
    );

    for (path, value) in [
        ("temperature", json!(0)),
        ("temperature", json!(1.5)),
        ("top_k", json!(7)),
        ("max_tokens", json!(0)),
        ("max_tokens", json!(8193)),
    ] {
        let mut f = frame("generalv3.5", "hi");
        f["parameter"]["chat"][path] = value.clone();
        let (code, msg) = one_error("/v3.5/chat", f).await;
        assert_eq!(code, 10004, "{path}={value}");
        assert!(msg.contains(&format!("$.parameter.chat.{path}")), "{msg}");
    }
    // Lite allows 4096 output tokens at most.
    let mut f = frame("lite", "hi");
    f["parameter"]["chat"]["max_tokens"] = json!(4097);
    assert_eq!(one_error("/v1.1/chat", f).await.0, 10004);

    let mut f = frame("lite", "hi");
    f["payload"]["message"]["text"] =
        json!([{"role": "system", "content": "x"}, {"role": "user", "content": "hi"}]);
    assert_eq!(one_error("/v1.1/chat", f).await.0, 10005);

    let mut f = frame("generalv3.5", "hi");
    f["payload"]["message"]["text"] = json!([{"role": "tool", "content": "x"}]);
    assert_eq!(one_error("/v3.5/chat", f).await.0, 10004);

    let mut f = frame("generalv3.5", "hi");
    f["payload"]["message"]["text"] = json!([{"role": "user", "content": ["x"]}]);
    assert_eq!(one_error("/v3.5/chat", f).await.0, 10004);

    let mut f = frame("generalv3.5", "hi");
    f["payload"]["message"]["text"][0]["content"] = json!("字".repeat(40_000));
    assert_eq!(one_error("/v3.5/chat", f).await.0, 10907);

    let sim = sim().await;
    let mut ws = connect(&url(&sim, "/v3.5/chat")).await.unwrap();
    ws.send(Message::text("{not json")).await.unwrap();
    let (raw, _) = read_all(&mut ws).await;
    assert_eq!(parse(&raw)[0]["header"]["code"], 10003);
    assert_eq!(sim.requests(), vec![Value::String("{not json".into())]);
}

#[tokio::test]
async fn functions_get_one_function_call_frame() {
    let sim = sim().await;
    let mut ws = connect(&url(&sim, "/v3.5/chat")).await.unwrap();
    let mut f = frame("generalv3.5", "weather in Paris?");
    f["payload"]["functions"] = json!({"text": [
        {"name": "get_weather", "description": "d", "parameters": {"type": "object"}},
        {"name": "other", "parameters": {"type": "object"}}
    ]});
    let (raw, closed) = exchange(&mut ws, &f).await;
    assert!(closed);
    assert_eq!(raw.len(), 1);
    let v: Value = serde_json::from_str(&raw[0]).unwrap();
    assert_eq!(v["header"]["status"], 2);
    let item = &v["payload"]["choices"]["text"][0];
    assert_eq!(item["content"], "");
    assert_eq!(item["content_type"], "text");
    assert_eq!(
        item["function_call"],
        json!({"arguments": "{\"location\":\"Paris\",\"unit\":\"celsius\"}", "name": "get_weather"})
    );
    assert_eq!(v["payload"]["usage"]["text"]["completion_tokens"], 5);

    // After the tool result comes back as a user turn, the model answers in text.
    let mut ws = connect(&url(&sim, "/v3.5/chat")).await.unwrap();
    f["payload"]["message"]["text"] = json!([
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": "function_call get_weather({})"},
        {"role": "user", "content": "tool result (call_1): sunny"}
    ]);
    let (raw, _) = exchange(&mut ws, &f).await;
    let text: String = parse(&raw)
        .iter()
        .map(|v| {
            v["payload"]["choices"]["text"][0]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        text,
        "Hello from spark generalv3.5: tool result (call_1): sunny"
    );

    // Lite has no function calling: the functions are ignored.
    let mut ws = connect(&url(&sim, "/v1.1/chat")).await.unwrap();
    let mut f = frame("lite", "hi");
    f["payload"]["functions"] = json!({"text": [{"name": "get_weather"}]});
    let (raw, _) = exchange(&mut ws, &f).await;
    assert_eq!(raw.len(), 5);
}

#[tokio::test]
async fn sim_error_codes_come_as_error_frames() {
    for code in [
        10013, 10019, 10907, 11200, 11201, 11202, 11203, 10008, 10110,
    ] {
        let (got, msg) = one_error(
            "/v3.5/chat",
            frame("generalv3.5", &format!("x sim_error:{code}")),
        )
        .await;
        assert_eq!(got, code);
        assert!(msg.contains(":(") && msg.contains(')'), "{msg}");
    }
    // Output moderation strikes after text went out.
    let sim = sim().await;
    let mut ws = connect(&url(&sim, "/v3.5/chat")).await.unwrap();
    let (raw, closed) = exchange(&mut ws, &frame("generalv3.5", "sim_error:10014")).await;
    assert!(closed);
    let frames = parse(&raw);
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0]["header"]["status"], 0);
    assert_eq!(frames[1]["header"]["status"], 1);
    assert_eq!(frames[2]["header"]["code"], 10014);
    assert_eq!(frames[2]["header"]["status"], 2);
}

#[tokio::test]
async fn a_second_question_before_the_answer_is_refused_with_10007() {
    let sim = spawn_spark(cfg().with_chunk_interval_ms(100))
        .await
        .unwrap();
    let mut ws = connect(&url(&sim, "/v3.5/chat")).await.unwrap();
    let f = frame("generalv3.5", "hi");
    ws.send(Message::text(f.to_string())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    ws.send(Message::text(f.to_string())).await.unwrap();
    let (raw, closed) = read_all(&mut ws).await;
    assert!(closed);
    let frames = parse(&raw);
    assert_eq!(frames.last().unwrap()["header"]["code"], 10007, "{raw:?}");
    assert!(frames.len() < 5);
}

#[tokio::test]
async fn programmed_status_faults_answer_the_handshake() {
    let sim = sim().await;
    sim.push_fault(Fault::Status {
        status: 429,
        body: None,
        retry_after: Some(3),
    });
    let resp = match connect_async(url(&sim, "/v3.5/chat")).await {
        Err(WsError::Http(resp)) => resp,
        other => panic!("{:?}", other.map(|_| ())),
    };
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    // A failed signature never consumes the fault queue.
    sim.push_fault(Fault::status(503));
    let bad = client_url("ws", &sim.addr().to_string(), "/v3.5/chat", KEY, "x", now());
    assert_eq!(connect(&bad).await.err().map(|e| e.0), Some(401));
    assert_eq!(sim.state().pending_faults(), 1);
    assert_eq!(
        connect(&url(&sim, "/v3.5/chat")).await.err().map(|e| e.0),
        Some(503)
    );
}

#[tokio::test]
async fn body_faults_cut_reset_or_corrupt_the_frames() {
    let sim = sim().await;
    // Reset after two frames: no close frame.
    let mut ws = connect(&url(&sim, "/v3.5/chat")).await.unwrap();
    let (raw, closed) = exchange(
        &mut ws,
        &frame("generalv3.5", "hi sim_fault:reset_mid_stream=2"),
    )
    .await;
    assert_eq!((raw.len(), closed), (2, false));
    // Malformed third frame.
    sim.push_fault(Fault::MalformedChunk { after_chunks: 1 });
    let mut ws = connect(&url(&sim, "/v3.5/chat")).await.unwrap();
    let (raw, _) = exchange(&mut ws, &frame("generalv3.5", "hi")).await;
    assert_eq!(raw.len(), 2);
    assert_eq!(raw[1], "{not json");
    // Reset before any frame.
    let mut ws = connect(&url(&sim, "/v3.5/chat")).await.unwrap();
    let (raw, closed) = exchange(
        &mut ws,
        &frame("generalv3.5", "sim_fault:reset_before_first_chunk"),
    )
    .await;
    assert_eq!((raw.len(), closed), (0, false));
    assert!(eventually(|| sim.faulted_streams() == 3).await);
    // Latency delays the first frame.
    let mut ws = connect(&url(&sim, "/v3.5/chat")).await.unwrap();
    let start = std::time::Instant::now();
    let (raw, _) = exchange(&mut ws, &frame("generalv3.5", "sim_fault:latency=200")).await;
    assert_eq!(raw.len(), 5);
    assert!(start.elapsed() >= Duration::from_millis(200));
    // A status fault cannot come from the prompt over a WebSocket.
    let (code, msg) = one_error("/v3.5/chat", frame("generalv3.5", "sim_fault:status=500")).await;
    assert_eq!(code, 10005);
    assert!(msg.contains("push_fault"), "{msg}");
    let (code, _) = one_error("/v3.5/chat", frame("generalv3.5", "sim_fault:bogus")).await;
    assert_eq!(code, 10005);
}

#[tokio::test]
async fn a_client_leaving_mid_answer_is_counted_as_cancelled() {
    let sim = spawn_spark(cfg().with_chunk_interval_ms(200))
        .await
        .unwrap();
    let mut ws = connect(&url(&sim, "/v3.5/chat")).await.unwrap();
    ws.send(Message::text(frame("generalv3.5", "hi").to_string()))
        .await
        .unwrap();
    let first = ws.next().await.unwrap().unwrap();
    assert!(first.is_text());
    drop(ws);
    assert!(eventually(|| sim.cancelled_streams() == 1).await);
    assert_eq!(sim.completed_streams(), 0);
}

#[tokio::test]
async fn binary_serves_spark() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard-sim"))
        .args([
            "spark",
            "--listen",
            "127.0.0.1:0",
            "--app-id",
            APP,
            "--api-key",
            KEY,
            "--api-secret",
            SECRET,
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
        .unwrap()
        .to_owned();
    let u = client_url("ws", &origin, "/v4.0/chat", KEY, SECRET, now());
    let mut ws = connect(&u).await.unwrap();
    let (raw, _) = exchange(&mut ws, &frame("4.0Ultra", "hi")).await;
    assert_eq!(raw.len(), 2);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status}");
}
