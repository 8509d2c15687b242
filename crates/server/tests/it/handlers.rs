//! Handler tests through `Router::oneshot`: every refusal is OpenAI-shaped with the right status.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use switchyard_server::CreateKey;
use switchyard_sim::Flavor;
use tower::ServiceExt;

use crate::helpers::*;

async fn call(
    gw: &Gateway,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Body,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let res = switchyard_server::app(gw.state.clone())
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, v)
}

fn assert_error_shape(v: &Value) {
    let e = v["error"]
        .as_object()
        .unwrap_or_else(|| panic!("not an error body: {v}"));
    for k in ["message", "type", "param", "code"] {
        assert!(e.contains_key(k), "missing {k}: {v}");
    }
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
}

fn chat(model: &str) -> Body {
    Body::from(json!({"model": model, "messages": user("hi")}).to_string())
}

#[tokio::test]
async fn refusals_have_honest_statuses() {
    let up = sim(Flavor::OpenAi, "sk-up").await;
    let gw = Gateway::start_with(
        &channel(
            "oa",
            "openai",
            &up.base_url(),
            "sk-up",
            &["gpt-4", "gpt-3.5-turbo"],
            0,
        ),
        &[("SWITCHYARD_SERVER__MAX_BODY_BYTES", "2048")],
    )
    .await;
    let (_, key) = gw.plain_key().await;
    let p = "/v1/chat/completions";

    let (s, h, v) = call(&gw, "POST", p, None, chat("gpt-4")).await;
    assert_eq!(s, 401);
    assert_error_shape(&v);
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert!(h.contains_key("x-request-id"));

    let (s, _, v) = call(
        &gw,
        "POST",
        p,
        Some("sk-nope-0123456789abcdef"),
        chat("gpt-4"),
    )
    .await;
    assert_eq!(s, 401);
    assert!(
        !v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sk-nope-0123456789abcdef"),
        "key echoed: {v}"
    );

    let (s, _, v) = call(&gw, "POST", p, Some(&key), Body::from("{not json")).await;
    assert_eq!(s, 400);
    assert_error_shape(&v);

    let (s, _, v) = call(
        &gw,
        "POST",
        p,
        Some(&key),
        Body::from(r#"{"messages":[{"role":"user","content":"x"}]}"#),
    )
    .await;
    assert_eq!(
        (s, v["error"]["param"].as_str()),
        (StatusCode::BAD_REQUEST, Some("model"))
    );

    let (s, _, v) = call(
        &gw,
        "POST",
        p,
        Some(&key),
        Body::from(r#"{"model":"gpt-4"}"#),
    )
    .await;
    assert_eq!(
        (s, v["error"]["param"].as_str()),
        (StatusCode::BAD_REQUEST, Some("messages"))
    );

    let (s, _, v) = call(&gw, "POST", p, Some(&key), chat("no-such-model")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("model_not_found"))
    );

    let big = json!({"model": "gpt-4", "messages": user(&"x".repeat(4096))}).to_string();
    let (s, _, v) = call(&gw, "POST", p, Some(&key), Body::from(big)).await;
    assert_eq!(s, 413);
    assert_error_shape(&v);

    // Through the router (only POST takes the direct way): the request id is there too.
    let (s, h, v) = call(&gw, "GET", p, Some(&key), Body::empty()).await;
    assert_eq!(s, 405);
    assert_error_shape(&v);
    assert!(h.contains_key("x-request-id"));

    let (s, h, v) = call(&gw, "GET", "/v1/nowhere", Some(&key), Body::empty()).await;
    assert_eq!(s, 404);
    assert_error_shape(&v);
    assert!(h.contains_key("x-request-id"));
    assert_eq!(
        up.request_count(),
        0,
        "nothing refused reached the upstream"
    );
}

/// A key revoked in the database by another process (not through this one's admin API) is still
/// served from the cache at first, and refused once the record is read again: ahead of its 5 s
/// expiry, in the background, by a request made past half that life.
#[tokio::test]
async fn a_key_revoked_elsewhere_is_refused_once_its_record_is_refreshed() {
    let (_up, gw) = openai_gateway(&["gpt-4"]).await;
    let p = "/v1/chat/completions";
    let (id, key) = gw.plain_key().await;
    let read = std::time::Instant::now();
    let (s, _, _) = call(&gw, "POST", p, Some(&key), chat("gpt-4")).await;
    assert_eq!(s, 200);
    assert!(gw.state.store().revoke_key(id).await.unwrap());
    let (s, _, _) = call(&gw, "POST", p, Some(&key), chat("gpt-4")).await;
    assert_eq!(s, 200, "the cached record is used");
    let refused = loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (s, _, v) = call(&gw, "POST", p, Some(&key), chat("gpt-4")).await;
        if s == StatusCode::FORBIDDEN {
            assert_eq!(v["error"]["code"], "key_revoked");
            break read.elapsed();
        }
        assert_eq!(s, 200);
        assert!(read.elapsed().as_secs() < 10, "never refused");
    };
    // Refreshed at 2.5 s; without the refresh ahead it would take the whole 5 s.
    assert!(refused.as_millis() < 4500, "refused only after {refused:?}");
}

#[tokio::test]
async fn key_status_expiry_allow_list_and_rpm() {
    let (_up, gw) = openai_gateway(&["gpt-4", "gpt-3.5-turbo"]).await;
    let p = "/v1/chat/completions";

    let (id, revoked) = gw.plain_key().await;
    let (s, _, _) = call(&gw, "POST", p, Some(&revoked), chat("gpt-4")).await;
    assert_eq!(s, 200);
    let (s, _, _) = call(
        &gw,
        "DELETE",
        &format!("/admin/keys/{id}"),
        Some(ADMIN),
        Body::empty(),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _, v) = call(&gw, "POST", p, Some(&revoked), chat("gpt-4")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("key_revoked"))
    );

    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let (_, expired) = gw
        .key(CreateKey {
            name: "e".into(),
            expires_at: Some(past),
            ..Default::default()
        })
        .await;
    let (s, _, v) = call(&gw, "POST", p, Some(&expired), chat("gpt-4")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("key_expired"))
    );

    let (_, narrow) = gw
        .key(CreateKey {
            name: "m".into(),
            models: Some(vec!["gpt-3.5-turbo".into()]),
            ..Default::default()
        })
        .await;
    let (s, _, v) = call(&gw, "POST", p, Some(&narrow), chat("gpt-4")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("model_not_allowed"))
    );
    let (s, _, _) = call(&gw, "POST", p, Some(&narrow), chat("gpt-3.5-turbo")).await;
    assert_eq!(s, 200);

    let (_, slow) = gw
        .key(CreateKey {
            name: "r".into(),
            rpm: Some(1),
            ..Default::default()
        })
        .await;
    let (s, _, _) = call(&gw, "POST", p, Some(&slow), chat("gpt-4")).await;
    assert_eq!(s, 200);
    let (s, h, v) = call(&gw, "POST", p, Some(&slow), chat("gpt-4")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limit_exceeded"))
    );
    let secs: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&secs));
}

#[tokio::test]
async fn admin_api_needs_the_admin_key_and_never_shows_secrets() {
    let up = sim(Flavor::OpenAi, "sk-upstream-secret-value").await;
    let gw = Gateway::start(&channel(
        "oa",
        "openai",
        &up.base_url(),
        "sk-upstream-secret-value",
        &["gpt-4"],
        0,
    ))
    .await;
    let (s, _, v) = call(&gw, "GET", "/admin/keys", Some("sk-wrong"), Body::empty()).await;
    assert_eq!(s, 401);
    assert_error_shape(&v);
    let body = json!({"name": "web", "quota_usd": 1.5, "models": ["gpt-4"], "expires_at": "2030-01-01T00:00:00Z"}).to_string();
    let (s, _, created) = call(&gw, "POST", "/admin/keys", Some(ADMIN), Body::from(body)).await;
    assert_eq!(s, 201);
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk-"));
    assert_eq!(created["quota_usd"], 1.5);
    let (s, _, list) = call(&gw, "GET", "/admin/keys", Some(ADMIN), Body::empty()).await;
    assert_eq!(s, 200);
    let text = list.to_string();
    assert!(!text.contains(&key), "a listing must never contain a key");
    assert!(
        list["data"][0]["key_prefix"]
            .as_str()
            .is_some_and(|p| key.starts_with(p))
    );
    let stored = gw.state.store().list_keys().await.unwrap();
    assert_eq!(
        stored[0].key_hash,
        switchyard_core::keys::hash(&key),
        "only the hash is stored"
    );
    let (s, _, ch) = call(&gw, "GET", "/admin/channels", Some(ADMIN), Body::empty()).await;
    assert_eq!(s, 200);
    assert!(!ch.to_string().contains("sk-upstream-secret-value"));
    let (s, _, v) = call(
        &gw,
        "POST",
        "/admin/keys",
        Some(ADMIN),
        Body::from(r#"{"name":"x","quota":1}"#),
    )
    .await;
    assert_eq!(s, 400, "unknown fields are refused: {v}");
    let (s, _, _) = call(&gw, "DELETE", "/admin/keys/999", Some(ADMIN), Body::empty()).await;
    assert_eq!(s, 404);
    let (s, _, v) = call(
        &gw,
        "GET",
        "/admin/usage?limit=abc",
        Some(ADMIN),
        Body::empty(),
    )
    .await;
    assert_eq!(s, 400);
    assert_error_shape(&v);
    let (s, _, v) = call(&gw, "GET", "/healthz", None, Body::empty()).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, _, _) = call(&gw, "GET", "/readyz", None, Body::empty()).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn rejected_requests_still_write_a_usage_row() {
    let (_up, gw) = openai_gateway(&["gpt-4"]).await;
    let (id, key) = gw.plain_key().await;
    let (s, _, _) = call(
        &gw,
        "POST",
        "/v1/chat/completions",
        Some(&key),
        chat("unknown-model"),
    )
    .await;
    assert_eq!(s, 404);
    let rows = gw.usage_n(id, 1).await;
    assert_eq!(rows[0].row.status, 404);
    assert_eq!(&*rows[0].row.requested_model, "unknown-model");
    assert_eq!(rows[0].row.cost_micros, 0);
}
