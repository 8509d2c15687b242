//! The Zhipu simulator's v3 model API, embeddings and the `switchyard-sim zhipu` binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use switchyard_sim::zhipu::reply::split_even;
use switchyard_sim::{ZhipuSimConfig, spawn_zhipu};

use super::{KEY, V4, chat, json_of, post, sim, token, v3};
use crate::client;

#[tokio::test]
async fn v3_invoke_quotes_the_text() {
    let sim = sim().await;
    let body =
        json!({"prompt":[{"role":"user","content":"line \"one\""}],"temperature":1.0,"top_p":0.7});
    let (status, ct, text) =
        post(&sim, &v3("chatglm_turbo", "invoke"), Some(&token()), &body).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("application/json"));
    let v = json_of(&text);
    assert_eq!(
        (v["code"].clone(), v["success"].clone(), v["msg"].clone()),
        (json!(200), json!(true), json!("操作成功"))
    );
    let content = v["data"]["choices"][0]["content"].as_str().unwrap();
    assert_eq!(
        content, r#""Hello from zhipu chatglm_turbo: line \"one\"""#,
        "JSON-quoted"
    );
    assert_eq!(v["data"]["task_status"], "SUCCESS");
    assert_eq!(
        v["data"]["usage"],
        json!({"prompt_tokens":5,"completion_tokens":5,"total_tokens":10})
    );
    // Unknown model and a bad body, both inside a 200.
    let v = json_of(
        &post(&sim, &v3("chatglm_ultra", "invoke"), Some(&token()), &body)
            .await
            .2,
    );
    assert_eq!(
        (v["code"].clone(), v["success"].clone()),
        (json!(1211), json!(false))
    );
    let v = json_of(
        &post(
            &sim,
            &v3("chatglm_pro", "invoke"),
            Some(&token()),
            &json!({"prompt":[{"role":"system","content":"x"}]}),
        )
        .await
        .2,
    );
    assert_eq!(v["code"], 1214);
}

#[tokio::test]
async fn v3_sse_framing_is_exact() {
    let sim = spawn_zhipu(ZhipuSimConfig::new(KEY).with_chunks(3))
        .await
        .unwrap();
    let body = json!({"prompt":[{"role":"user","content":"a\nb"}],"incremental":true});
    let (status, ct, raw) = post(
        &sim,
        &v3("chatglm_lite", "sse-invoke"),
        Some(&token()),
        &body,
    )
    .await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    assert!(
        !raw.contains("[DONE]") && !raw.contains("data: "),
        "no [DONE], no space after data: {raw:?}"
    );
    let events: Vec<&str> = raw.strip_suffix("\n\n").unwrap().split("\n\n").collect();
    assert_eq!(events.len(), 4, "{raw:?}");
    let pieces = split_even("Hello from zhipu chatglm_lite: a\nb", 3);
    for (e, piece) in events.iter().zip(&pieces) {
        let mut lines = e.lines();
        assert_eq!(lines.next(), Some("event:add"));
        assert!(lines.next().unwrap().starts_with("id:"));
        let text: Vec<&str> = lines.map(|l| l.strip_prefix("data:").unwrap()).collect();
        assert_eq!(text.join("\n"), *piece, "one data: line per text line");
    }
    let finish: Vec<&str> = events[3].lines().collect();
    assert_eq!(finish[0], "event:finish");
    assert_eq!(finish[2], "data:");
    let meta = json_of(finish[3].strip_prefix("meta:").unwrap());
    assert_eq!(
        meta["usage"],
        json!({"prompt_tokens":3,"completion_tokens":3,"total_tokens":6})
    );
    assert_eq!(meta["task_status"], "SUCCESS");
    // incremental:false repeats the whole text so far.
    let body = json!({"prompt":[{"role":"user","content":"z"}],"incremental":false});
    let raw = post(
        &sim,
        &v3("chatglm_lite", "sse-invoke"),
        Some(&token()),
        &body,
    )
    .await
    .2;
    let last_add = raw
        .split("\n\n")
        .filter(|e| e.starts_with("event:add"))
        .last()
        .unwrap();
    assert!(
        last_add.ends_with("data:Hello from zhipu chatglm_lite: z"),
        "{last_add}"
    );
    // A stream that ends in `interrupted`.
    let body = json!({"prompt":[{"role":"user","content":"sim_event:interrupted"}]});
    let raw = post(
        &sim,
        &v3("chatglm_lite", "sse-invoke"),
        Some(&token()),
        &body,
    )
    .await
    .2;
    assert!(
        raw.contains("event:interrupted\n") && !raw.contains("event:finish"),
        "{raw}"
    );
}

#[tokio::test]
async fn embeddings_v4() {
    let sim = sim().await;
    let path = "/api/paas/v4/embeddings";
    let auth = format!("Bearer {}", token());
    let v = json_of(
        &post(
            &sim,
            path,
            Some(&auth),
            &json!({"model":"embedding-2","input":"hello world"}),
        )
        .await
        .2,
    );
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 1024);
    assert_eq!(
        v["usage"],
        json!({"completion_tokens":0,"prompt_tokens":2,"total_tokens":2})
    );
    let (s, _, text) = post(
        &sim,
        path,
        Some(&auth),
        &json!({"model":"embedding-2","input":["a","b"]}),
    )
    .await;
    assert_eq!(
        (s, json_of(&text)["error"]["code"].clone()),
        (400, json!("1214"))
    );
    let v = json_of(
        &post(
            &sim,
            path,
            Some(&auth),
            &json!({"model":"embedding-3","input":["a","b"],"dimensions":256}),
        )
        .await
        .2,
    );
    assert_eq!(v["data"][1]["embedding"].as_array().unwrap().len(), 256);
    assert_eq!(v["data"][1]["index"], 1);
    let (s, _, _) = post(
        &sim,
        path,
        None,
        &json!({"model":"embedding-2","input":"x"}),
    )
    .await;
    assert_eq!(s, 401);
    let (s, _, text) = post(
        &sim,
        path,
        Some(&auth),
        &json!({"model":"glm-4","input":"x"}),
    )
    .await;
    assert_eq!(
        (s, json_of(&text)["error"]["code"].clone()),
        (400, json!("1211"))
    );
}

#[tokio::test]
async fn binary_runs_the_zhipu_simulator() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard-sim"))
        .args([
            "zhipu",
            "--listen",
            "127.0.0.1:0",
            "--key",
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
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let resp = client()
        .post(format!("{origin}{V4}"))
        .header("authorization", format!("Bearer {}", token()))
        .json(&chat("glm-3-turbo", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["usage"]["completion_tokens"], 2);
    child.kill().unwrap();
    child.wait().unwrap();
}
