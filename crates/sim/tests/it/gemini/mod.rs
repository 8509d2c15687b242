//! The Gemini simulator: Google's key checks, camelCase/snake_case bodies, unknown fields and
//! roles refused, CRLF (or LF) framed streams without a sentinel, usage formulas, function
//! calls, thought signatures, embeddings and injected errors.

use serde_json::{Value, json};
use switchyard_sim::gemini::GeminiSimConfig;
use switchyard_sim::{SimHandle, spawn_gemini};

use super::client;

mod requests;
mod streams;

pub(crate) const GKEY: &str = "AIzaSyTest0123456789abcdefghijklmnopq";

pub(crate) async fn gsim() -> SimHandle {
    spawn_gemini(GeminiSimConfig::new(GKEY)).await.unwrap()
}

pub(crate) fn url(sim: &SimHandle, model: &str, method: &str) -> String {
    format!("{}/v1beta/models/{model}:{method}", sim.origin())
}

pub(crate) async fn post(
    sim: &SimHandle,
    model: &str,
    method: &str,
    body: &Value,
) -> (u16, String) {
    let resp = client()
        .post(url(sim, model, method))
        .header("x-goog-api-key", GKEY)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

pub(crate) async fn generate(sim: &SimHandle, model: &str, body: &Value) -> (u16, Value) {
    let (status, text) = post(sim, model, "generateContent", body).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub(crate) fn user(text: &str) -> Value {
    json!({"contents":[{"role":"user","parts":[{"text":text}]}]})
}

/// `(3 + chars/4)` per single-text turn, as the module docs say.
pub(crate) fn prompt_tokens(texts: &[&str]) -> u64 {
    texts
        .iter()
        .map(|t| 3 + t.chars().count() as u64 / 4)
        .sum::<u64>()
        .max(1)
}

pub(crate) fn err_status(v: &Value) -> (u64, &str) {
    (
        v["error"]["code"].as_u64().unwrap(),
        v["error"]["status"].as_str().unwrap(),
    )
}

#[tokio::test]
async fn keys_are_checked_the_way_google_does() {
    let sim = gsim().await;
    let body = user("hi");
    // Header and query parameter both work.
    let (status, _) = generate(&sim, "gemini-2.0-flash", &body).await;
    assert_eq!(status, 200);
    let resp = client()
        .post(format!(
            "{}?key={GKEY}",
            url(&sim, "gemini-2.0-flash", "generateContent")
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // A wrong key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID.
    let resp = client()
        .post(url(&sim, "gemini-2.0-flash", "generateContent"))
        .header("x-goog-api-key", "AIzaWrongKey")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(err_status(&v), (400, "INVALID_ARGUMENT"));
    assert_eq!(
        v["error"]["message"],
        json!("API key not valid. Please pass a valid API key.")
    );
    assert_eq!(v["error"]["details"][0]["reason"], json!("API_KEY_INVALID"));
    // A bearer token instead of a key: 401; nothing at all: 403.
    let resp = client()
        .post(url(&sim, "gemini-2.0-flash", "generateContent"))
        .bearer_auth(GKEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(err_status(&v), (401, "UNAUTHENTICATED"));
    let resp = client()
        .post(url(&sim, "gemini-2.0-flash", "generateContent"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(err_status(&v), (403, "PERMISSION_DENIED"));
    // Every request body was recorded, refused ones included.
    assert_eq!(sim.request_count(), 5);
}

#[tokio::test]
async fn models_and_paths() {
    let sim = gsim().await;
    let (status, v) = generate(&sim, "gemini-9-ultra", &user("hi")).await;
    assert_eq!(status, 404);
    assert_eq!(err_status(&v), (404, "NOT_FOUND"));
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("models/gemini-9-ultra is not found for API version v1beta")
    );
    let (status, _) = generate(&sim, "text-embedding-004", &user("hi")).await;
    assert_eq!(status, 404, "embedding models do not generate");
    let (status, _) = post(&sim, "gemini-2.0-flash", "batchEmbedContents", &json!({})).await;
    assert_eq!(status, 404, "chat models do not embed");
    let (status, text) = post(&sim, "gemini-2.0-flash", "explode", &user("hi")).await;
    assert_eq!(status, 404);
    assert!(text.contains("<!DOCTYPE html>"));
    let resp = client()
        .post(format!(
            "{}/v2/models/gemini-2.0-flash:generateContent",
            sim.origin()
        ))
        .header("x-goog-api-key", GKEY)
        .json(&user("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // v1 works as v1beta does; the list names every model.
    let resp = client()
        .post(format!(
            "{}/v1/models/gemini-2.5-flash:generateContent",
            sim.origin()
        ))
        .header("x-goog-api-key", GKEY)
        .json(&user("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let list: Value = client()
        .get(format!("{}/v1beta/models", sim.origin()))
        .header("x-goog-api-key", GKEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"models/gemini-2.5-pro") && names.contains(&"models/text-embedding-004")
    );
}

#[tokio::test]
async fn binary_subcommand_serves_gemini() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard-sim"))
        .args([
            "gemini",
            "--listen",
            "127.0.0.1:0",
            "--key",
            "AIzaBin",
            "--chunks",
            "2",
            "--lf",
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
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    let raw = client()
        .post(format!(
            "{origin}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        ))
        .header("x-goog-api-key", "AIzaBin")
        .json(&user("hi"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(raw.matches("data: ").count(), 2, "{raw}");
    assert!(raw.ends_with("}\n\n") && !raw.contains('\r'), "{raw:?}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
}
