//! The Qianfan v1 simulator: embeddings with their batch limits, and the binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use super::{cfg, sim_with, token};
use crate::client;

#[tokio::test]
async fn embeddings_with_batch_limits() {
    let sim = sim_with(cfg()).await;
    let tok = token(&sim).await;
    let post = |ep: &str, body: Value| {
        let url = format!(
            "{}/rpc/2.0/ai_custom/v1/wenxinworkshop/embeddings/{ep}?access_token={tok}",
            sim.origin()
        );
        async move {
            client()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let v = post("embedding-v1", json!({"input": ["hello world", "b"]})).await;
    assert_eq!(v["object"], "embedding_list");
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 384);
    assert_eq!(v["data"][1]["index"], 1);
    assert_eq!(v["usage"], json!({"prompt_tokens": 3, "total_tokens": 3}));
    let many: Vec<String> = (0..17).map(|i| format!("t{i}")).collect();
    assert_eq!(
        post("embedding-v1", json!({"input": many})).await["error_code"],
        336003
    );
    assert_eq!(
        post("tao_8k", json!({"input": ["a", "b"]})).await["error_code"],
        336003
    );
    assert_eq!(
        post("bge_large_zh", json!({"input": ["a"]})).await["data"][0]["embedding"]
            .as_array()
            .unwrap()
            .len(),
        1024
    );
    assert_eq!(post("nope", json!({"input": ["a"]})).await["error_code"], 3);
    let anonymous = client()
        .post(format!(
            "{}/rpc/2.0/ai_custom/v1/wenxinworkshop/embeddings/embedding-v1",
            sim.origin()
        ))
        .json(&json!({"input": ["a"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.json::<Value>().await.unwrap()["error_code"], 110);
}

#[tokio::test]
async fn binary_serves_qianfan() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard-sim"))
        .args([
            "qianfan",
            "--api-key",
            "bin-ak",
            "--secret-key",
            "bin-sk",
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
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    let v: Value = client()
        .post(format!(
            "{origin}/oauth/2.0/token?grant_type=client_credentials&client_id=bin-ak&client_secret=bin-sk"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["access_token"].as_str().unwrap().starts_with("24."));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
}
