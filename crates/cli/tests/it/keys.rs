//! `switchyard keys` against the database a running `serve` uses.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use switchyard_sim::Flavor;

use crate::harness::{
    Dir, Gateway, UPSTREAM_KEY, channel, chat, chat_ok, command, config_text, create_key,
    error_code, keys, run, serve_cmd, sim,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_created_listed_and_revoked_by_the_cli_govern_a_running_gateway() {
    let upstream = sim(Flavor::OpenAi).await;
    let dir = Dir::new();
    let config = dir.config(&config_text(
        &dir.sqlite_url("gw.db"),
        &channel(
            "openai-sim",
            "openai",
            &upstream.base_url(),
            UPSTREAM_KEY,
            0,
        ),
    ));
    let mut gw = Gateway::start(serve_cmd(&config)).await;

    // Created while the gateway runs, in another process.
    let (id, key) = create_key(&config, &["--name", "alice"]).await;
    chat_ok(&gw.url, &key, "gpt-4o").await;
    assert_eq!(upstream.request_count(), 1);

    // --models restricts.
    let (_, limited) = create_key(
        &config,
        &["--name", "limited", "--models", "gpt-4o-mini,gpt-4"],
    )
    .await;
    chat_ok(&gw.url, &limited, "gpt-4o-mini").await;
    let (status, body) = chat(&gw.url, &limited, "gpt-4o").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "model_not_allowed");

    // --expires-at in the past.
    let (_, expired) = create_key(
        &config,
        &["--name", "old", "--expires-at", "2001-02-03T04:05:06Z"],
    )
    .await;
    let (status, body) = chat(&gw.url, &expired, "gpt-4o").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "key_expired");

    // --rpm and --quota-usd are stored.
    let (_, rpm1) = create_key(
        &config,
        &["--name", "slow", "--rpm", "1", "--quota-usd", "2.5"],
    )
    .await;
    chat_ok(&gw.url, &rpm1, "gpt-4o").await;
    let (status, body) = chat(&gw.url, &rpm1, "gpt-4o").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(error_code(&body), "rate_limit_exceeded");
    assert_eq!(
        upstream.request_count(),
        3,
        "refused requests reached the upstream"
    );

    // A key that was never created.
    let (status, body) = chat(&gw.url, "sk-not-a-key-0123456789abcdef", "gpt-4o").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(error_code(&body), "invalid_api_key");

    // keys list: one JSON object per key, with the prefix, never a key itself.
    let list = keys(&config, &["list"]).await;
    let rows: Vec<Value> = list
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(rows.len(), 4, "{}", list.stdout);
    for secret in [&key, &limited, &expired, &rpm1] {
        assert!(
            !list.stdout.contains(secret.as_str()),
            "keys list shows a key"
        );
        let prefix_shown = rows.iter().any(|r| {
            r["key_prefix"]
                .as_str()
                .is_some_and(|p| p.len() >= 4 && secret.starts_with(p) && p.len() < secret.len())
        });
        assert!(
            prefix_shown,
            "no key_prefix of a created key: {}",
            list.stdout
        );
    }
    let alice = rows.iter().find(|r| r["id"] == id).expect("alice listed");
    assert_eq!(alice["name"], "alice");
    assert_eq!(alice["revoked"], false);
    let slow = rows.iter().find(|r| r["name"] == "slow").expect("slow");
    assert_eq!(slow["rpm"], 1);
    assert_eq!(slow["quota_usd"], 2.5);
    let limited_row = rows
        .iter()
        .find(|r| r["name"] == "limited")
        .expect("limited");
    assert_eq!(
        limited_row["models"],
        serde_json::json!(["gpt-4o-mini", "gpt-4"])
    );
    assert!(
        !rows
            .iter()
            .any(|r| r.get("key").is_some() || r.get("key_hash").is_some())
    );

    // Revoked by another process: the gateway notices within its 5 s key cache.
    let out = keys(&config, &["revoke", &id.to_string()]).await;
    assert!(out.stdout.contains(&format!("revoked key {id}")), "{out:?}");
    let started = Instant::now();
    loop {
        let (status, body) = chat(&gw.url, &key, "gpt-4o").await;
        if status == StatusCode::FORBIDDEN {
            assert_eq!(error_code(&body), "key_revoked");
            break;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "revoked key still accepted after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let list = keys(&config, &["list"]).await;
    assert!(
        list.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|r| r["id"] == id && r["revoked"] == true),
        "{}",
        list.stdout
    );

    // Revoking a key that does not exist fails.
    let mut c = command();
    c.args(["keys", "revoke", "999999", "--config"])
        .arg(&config);
    let out = run(c).await;
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("999999"), "{out:?}");

    gw.stop(Duration::from_secs(10)).await;
}
