//! `switchyard demo`: simulators of every provider behind a gateway, offline.

use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::{Dir, Gateway, chat_ok, command, get};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_every_provider_with_the_printed_key() {
    let dir = Dir::new();
    let mut c = command();
    c.args(["demo", "--listen", "127.0.0.1:0"])
        .current_dir(dir.dir.path());
    let mut gw = Gateway::start(c).await;
    let admin = gw
        .line_after("admin key: ")
        .unwrap_or_else(|| panic!("no admin key line: {:?}", gw.stdout));
    let api = gw
        .line_after("api key: ")
        .unwrap_or_else(|| panic!("no api key line: {:?}", gw.stdout));
    assert!(admin.starts_with("sk-") && api.starts_with("sk-") && admin != api);
    // The hint names the address actually bound, not the requested port 0.
    let hint = gw
        .line_after("try: curl ")
        .unwrap_or_else(|| panic!("no curl hint: {:?}", gw.stdout));
    assert!(
        hint.starts_with(&format!("{}/v1/chat/completions ", gw.url)) && hint.contains(&api),
        "{hint}"
    );

    for model in ["gpt-4o", "moonshot-v1-8k", "step-1-8k", "qwen-plus"] {
        let answer = chat_ok(&gw.url, &api, model).await;
        assert_eq!(answer["model"], model, "{answer}");
    }
    let (status, body) = get(&format!("{}/admin/keys", gw.url), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"][0]["name"], "demo", "{body}");
    let (status, _) = get(&format!("{}/admin/keys", gw.url), Some(&api)).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the api key is not an admin key"
    );

    gw.stop(Duration::from_secs(10)).await;
    // The demo keeps its database in its own temporary folder, not in the cwd.
    assert_eq!(std::fs::read_dir(dir.dir.path()).expect("dir").count(), 0);
}
