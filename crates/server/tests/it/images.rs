//! The image-URL guard: the gateway never fetches loopback, private or link-local addresses
//! for a client unless the operator allows it.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn loopback_image_urls_are_refused_before_anything_is_sent() {
    let gw = Gateway::start(&channel(
        "claude",
        "anthropic",
        "http://127.0.0.1:9/",
        "sk-ant-x",
        &["claude-3-haiku-20240307"],
        0,
    ))
    .await;
    let (id, key) = gw.plain_key().await;
    for url in [
        "http://127.0.0.1:1/cat.png",
        "http://localhost/cat.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x.png",
        "http://10.0.0.8/x.png",
    ] {
        let body = json!({
            "model": "claude-3-haiku-20240307",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": url}}
            ]}]
        });
        let resp = gw.post_chat(&key, &body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{url}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "invalid_image_url", "{url}: {v}");
    }
    let rows = gw.usage_n(id, 5).await;
    assert!(
        rows.iter()
            .all(|r| r.row.status == 400 && r.row.cost_micros == 0)
    );
}
