//! The `switchyard-sim` binary: announces its address, serves, exits 0 on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::client;

#[tokio::test]
async fn binary_announces_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard-sim"))
        .args([
            "moonshot",
            "--listen",
            "127.0.0.1:0",
            "--key",
            "sk-bin",
            "--models",
            "a,b",
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
    assert!(origin.starts_with("http://127.0.0.1:"), "{origin}");

    let body: Value = client()
        .get(format!("{origin}/v1/models"))
        .bearer_auth("sk-bin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"][1]["id"], "b");
    let denied = client()
        .get(format!("{origin}/v1/models"))
        .bearer_auth("sk-other")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);

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
