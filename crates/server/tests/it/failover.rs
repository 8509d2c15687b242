//! Channel choice and failover before the first byte.

use serde_json::{Value, json};
use switchyard_sim::{Fault, Flavor};

use crate::helpers::*;

fn body(stream: bool) -> Value {
    json!({"model": "gpt-4", "stream": stream, "messages": user("x")})
}

#[tokio::test]
async fn fails_over_on_connect_error_5xx_429_timeout_and_early_reset() {
    let primary = sim(Flavor::OpenAi, "sk-p").await;
    let backup = sim(Flavor::OpenAi, "sk-b").await;
    let gw = Gateway::start_with(
        &format!(
            "{}{}{}",
            channel(
                "dead",
                "openai",
                "http://127.0.0.1:1/v1",
                "sk-d",
                &["gpt-4"],
                30
            ),
            channel(
                "primary",
                "openai",
                &primary.base_url(),
                "sk-p",
                &["gpt-4"],
                20
            ),
            channel(
                "backup",
                "openai",
                &backup.base_url(),
                "sk-b",
                &["gpt-4"],
                10
            )
        ),
        &[
            ("SWITCHYARD_UPSTREAM__FIRST_BYTE_TIMEOUT_MS", "500"),
            ("SWITCHYARD_UPSTREAM__FAILURE_THRESHOLD", "1000"),
        ],
    )
    .await;
    let (id, key) = gw.plain_key().await;
    let faults = [
        (Fault::status(500), false),
        (Fault::status(503), true),
        (
            Fault::Status {
                status: 429,
                body: None,
                retry_after: Some(3),
            },
            false,
        ),
        (Fault::Hang, false),
        (Fault::ResetBeforeFirstChunk, true),
        (Fault::MalformedChunk { after_chunks: 0 }, true),
    ];
    for (i, (fault, stream)) in faults.into_iter().enumerate() {
        primary.push_fault(fault.clone());
        let resp = gw.post_chat(&key, &body(stream)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{fault:?}");
        let text = resp.text().await.unwrap();
        if stream {
            let (data, _) = parse_sse(&text);
            assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{fault:?}");
        } else {
            assert!(text.contains("Hello from openai"), "{fault:?}: {text}");
        }
        assert_eq!(
            backup.request_count(),
            i + 1,
            "{fault:?} moved to the backup"
        );
    }
    let rows = gw.usage_n(id, 6).await;
    let backup_id = gw
        .state
        .store()
        .list_channels()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "backup")
        .unwrap()
        .id;
    assert!(
        rows.iter()
            .all(|r| r.row.channel_id == Some(backup_id) && r.row.status == 200)
    );
}

#[tokio::test]
async fn client_errors_are_not_failed_over() {
    let primary = sim(Flavor::OpenAi, "sk-p").await;
    let backup = sim(Flavor::OpenAi, "sk-b").await;
    let gw = Gateway::start(&format!(
        "{}{}",
        channel(
            "primary",
            "openai",
            &primary.base_url(),
            "sk-p",
            &["gpt-4"],
            20
        ),
        channel(
            "backup",
            "openai",
            &backup.base_url(),
            "sk-b",
            &["gpt-4"],
            10
        )
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    primary.push_fault(Fault::Status {
        status: 400,
        body: Some(r#"{"error":{"message":"context too long","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#.into()),
        retry_after: None,
    });
    let resp = gw.post_chat(&key, &body(false)).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "context_length_exceeded");
    assert_eq!(v["error"]["message"], "context too long");
    assert_eq!(backup.request_count(), 0);
}

#[tokio::test]
async fn when_every_channel_fails_the_last_failure_decides_the_status() {
    let a = sim(Flavor::OpenAi, "sk-a").await;
    let gw = Gateway::start_with(
        &channel("a", "openai", &a.base_url(), "sk-a", &["gpt-4"], 0),
        &[("SWITCHYARD_UPSTREAM__FIRST_BYTE_TIMEOUT_MS", "300")],
    )
    .await;
    let (_, key) = gw.plain_key().await;
    let cases = [
        (
            Fault::Status {
                status: 429,
                body: None,
                retry_after: Some(7),
            },
            429,
            Some("7"),
        ),
        (Fault::status(500), 502, None),
        (Fault::status(503), 503, Some("1")),
        (Fault::Hang, 504, None),
        (Fault::status(401), 502, None),
    ];
    for (fault, want, retry_after) in cases {
        a.push_fault(fault.clone());
        let resp = gw.post_chat(&key, &body(false)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), want, "{fault:?}");
        assert_eq!(
            resp.headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap()),
            retry_after,
            "{fault:?}"
        );
        let v: Value = resp.json().await.unwrap();
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(!msg.contains("sk-a"), "credential echoed: {msg}");
    }
    // A dead channel only: 502.
    let gw2 = Gateway::start(&channel(
        "dead",
        "openai",
        "http://127.0.0.1:1/v1",
        "sk-d",
        &["gpt-4"],
        0,
    ))
    .await;
    let (_, key2) = gw2.plain_key().await;
    let resp = gw2.post_chat(&key2, &body(true)).send().await.unwrap();
    assert_eq!(resp.status(), 502);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "upstream_unreachable"
    );
}

#[tokio::test]
async fn equal_priority_channels_share_by_weight() {
    let a = sim(Flavor::OpenAi, "sk-a").await;
    let b = sim(Flavor::OpenAi, "sk-b").await;
    let gw = Gateway::start(&format!(
        "{}\nweight = 3\n\n{}",
        channel("a", "openai", &a.base_url(), "sk-a", &["gpt-4"], 5).trim_end(),
        channel("b", "openai", &b.base_url(), "sk-b", &["gpt-4"], 5)
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    for _ in 0..80 {
        assert_eq!(
            gw.post_chat(&key, &body(false))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let (na, nb) = (a.request_count(), b.request_count());
    assert_eq!(na + nb, 80);
    // Expected 60/20; allow a wide margin so the test is not flaky.
    assert!(na >= 45 && nb >= 5, "a={na} b={nb}");
}
