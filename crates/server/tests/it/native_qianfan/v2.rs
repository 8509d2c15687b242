//! Baidu Qianfan v2 (OpenAI-shaped, `bce-v3/…` bearer key) through the gateway against the v2
//! simulator: every default model stream and non-stream with usage, mapped errors.

use serde_json::json;
use switchyard_providers::qianfan::DEFAULT_MODELS_V2;
use switchyard_sim::{QianfanV2SimConfig, SimHandle, spawn_qianfan_v2};

use crate::helpers::*;

const KEY: &str = "bce-v3/ALTAK-gw0123456789/abcdef0123456789abcdef";

async fn v2_sim() -> SimHandle {
    spawn_qianfan_v2(QianfanV2SimConfig::new(KEY))
        .await
        .unwrap()
}

async fn gateway(sim: &SimHandle, key: &str) -> Gateway {
    Gateway::start_with(
        &channel(
            "qf2",
            "qianfan-v2",
            &format!("{}/v2", sim.origin()),
            key,
            &[],
            0,
        ),
        &[("SWITCHYARD_UPSTREAM__FAILURE_THRESHOLD", "1000")],
    )
    .await
}

#[tokio::test]
async fn every_default_v2_model_non_stream_and_stream() {
    let up = v2_sim().await;
    let gw = gateway(&up, KEY).await;
    let (id, key) = gw.plain_key().await;
    let mut rows_seen = 0;
    for model in DEFAULT_MODELS_V2 {
        let body = json!({"model": model, "messages": user("hello"), "temperature": 0});
        let (status, v) = chat(&gw, &key, &body).await;
        assert_eq!(status, 200, "{model}");
        assert_eq!(v["model"], *model);
        let choice = &v["choices"][0];
        assert_eq!(
            choice["message"]["content"],
            format!("Hello from qianfan-v2 {model}: hello")
        );
        assert_eq!(choice["finish_reason"], "stop");
        assert!(choice.get("flag").is_none(), "{v}");
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9})
        );
        // ERNIE refuses temperature 0: the adapter sent the smallest accepted value.
        assert_eq!(up.requests().last().unwrap()["temperature"], json!(0.01));
        rows_seen += 1;
        assert_row(&gw.last_row(id, rows_seen).await, model, (4, 5), false);

        let body = json!({"model": model, "messages": user("stream me"), "stream": true,
                          "stream_options": {"include_usage": true}});
        let chunks = stream_chat(&gw, &key, &body).await;
        assert_eq!(chunks.len(), 7, "{chunks:?}");
        let want = format!("Hello from qianfan-v2 {model}: stream me");
        // Upstream usage (asked for with include_usage), once, in the gateway's final chunk.
        assert_openai_stream(&chunks, model, &want, (5, 5));
        assert_eq!(
            up.requests().last().unwrap()["stream_options"],
            json!({"include_usage": true})
        );
        rows_seen += 1;
        assert_row(&gw.last_row(id, rows_seen).await, model, (5, 5), true);
    }
}

#[tokio::test]
async fn v2_errors_are_mapped() {
    let up = v2_sim().await;
    let gw = gateway(&up, KEY).await;
    let (_, key) = gw.plain_key().await;
    for (code, status, openai) in [
        ("rpm_rate_limit_exceeded", 429, "rate_limit_exceeded"),
        ("image_url_unsafe", 400, "content_filter"),
        ("tokens_too_long", 400, "context_length_exceeded"),
        ("server_high_load", 503, "server_overloaded"),
        ("account_overdue", 502, "upstream_auth_failed"),
    ] {
        let (st, v) = chat(
            &gw,
            &key,
            &json!({"model": "ernie-3.5-8k", "messages": user(&format!("sim_error:{code}"))}),
        )
        .await;
        assert_eq!(st, status, "{code}");
        assert_eq!(v["error"]["code"], openai, "{code}: {v}");
    }
    // A key the upstream refuses: 401 there, an upstream auth failure here.
    let gw = gateway(&up, "bce-v3/ALTAK-gw0123456789/wrong").await;
    let (_, key) = gw.plain_key().await;
    let (st, v) = chat(
        &gw,
        &key,
        &json!({"model": "ernie-3.5-8k", "messages": user("hi")}),
    )
    .await;
    assert_eq!(st, 502);
    assert_eq!(v["error"]["code"], "upstream_auth_failed");
    assert!(!v.to_string().contains("wrong"), "{v}");
    // A key that is not a v2 key at all is the client's 400.
    let gw = gateway(&up, "sk-not-a-bce-key").await;
    let (_, key) = gw.plain_key().await;
    let resp = gw
        .post_chat(
            &key,
            &json!({"model": "ernie-3.5-8k", "messages": user("hi")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}
