//! `[[channels]]` of the config are synced into the database at every start.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use switchyard_sim::Flavor;

use crate::harness::{
    ADMIN, Dir, Gateway, UPSTREAM_KEY, channel, chat_ok, config_text, get, serve_cmd, sim,
};

const MOONSHOT_KEY: &str = "sk-moonshot-upstream-secret-ABCDEFGH";

async fn channels(base: &str) -> (String, Vec<Value>) {
    let res = crate::harness::http()
        .get(format!("{base}/admin/channels"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("GET /admin/channels");
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("body");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    let data = v["data"].as_array().expect("data").clone();
    (text, data)
}

fn by_name<'a>(rows: &'a [Value], name: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("channel {name} missing: {rows:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_channels_are_synced_with_masked_keys_and_updated_in_place() {
    let upstream = sim(Flavor::OpenAi).await;
    let dir = Dir::new();
    let write = |openai_priority: i64| {
        dir.config(&config_text(
            &dir.sqlite_url("gw.db"),
            &format!(
                "{}{}",
                channel(
                    "openai-sim",
                    "openai",
                    &upstream.base_url(),
                    UPSTREAM_KEY,
                    openai_priority
                ),
                // Never contacted: only its record is checked.
                channel(
                    "moonshot-sim",
                    "moonshot",
                    "http://127.0.0.1:9/v1",
                    MOONSHOT_KEY,
                    1
                ),
            ),
        ))
    };
    let config = write(5);
    let mut gw = Gateway::start(serve_cmd(&config)).await;
    let (text, rows) = channels(&gw.url).await;
    assert_eq!(rows.len(), 2, "{text}");
    for secret in [UPSTREAM_KEY, MOONSHOT_KEY] {
        assert!(!text.contains(secret), "an upstream key is exposed: {text}");
    }
    let openai = by_name(&rows, "openai-sim").clone();
    assert_eq!(openai["provider"], "openai");
    assert_eq!(openai["base_url"], upstream.base_url());
    assert_eq!(openai["priority"], 5);
    assert_eq!(openai["enabled"], true);
    let masked = openai["key"].as_str().expect("key");
    assert!(masked != UPSTREAM_KEY && masked.contains('…'), "{masked}");
    assert!(masked.starts_with(&UPSTREAM_KEY[..4]), "{masked}");
    let moonshot_id = by_name(&rows, "moonshot-sim")["id"].clone();
    assert_eq!(by_name(&rows, "moonshot-sim")["provider"], "moonshot");

    // The synced channel really serves.
    let (status, body) = crate::harness::post(
        &format!("{}/admin/keys", gw.url),
        ADMIN,
        &serde_json::json!({"name": "ch"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let key = body["key"].as_str().expect("key").to_owned();
    chat_ok(&gw.url, &key, "gpt-4o").await;
    assert_eq!(upstream.request_count(), 1);
    gw.stop(Duration::from_secs(10)).await;

    // Restart with another priority: same records, updated.
    let config = write(42);
    let mut gw = Gateway::start(serve_cmd(&config)).await;
    let (text, rows) = channels(&gw.url).await;
    assert_eq!(rows.len(), 2, "{text}");
    let updated = by_name(&rows, "openai-sim");
    assert_eq!(updated["id"], openai["id"], "the channel got a new id");
    assert_eq!(updated["priority"], 42, "{text}");
    assert_eq!(by_name(&rows, "moonshot-sim")["id"], moonshot_id);
    let (status, _) = get(
        &format!("{}/admin/channels", gw.url),
        Some("sk-wrong-admin"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    gw.stop(Duration::from_secs(10)).await;
}
