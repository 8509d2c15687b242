//! Quota pre-authorisation under concurrency: a burst cannot overspend.

use serde_json::json;
use switchyard_server::CreateKey;
use switchyard_sim::{Flavor, OpenAiSimConfig, SimHandle, spawn_openai};

use crate::helpers::*;

/// A gateway serving `q-model` from `up` at `(input, output)` USD per million tokens, and a key
/// with `quota_usd`.
async fn priced(
    up: &SimHandle,
    (input, output): (f64, f64),
    quota_usd: f64,
) -> (Gateway, i64, String) {
    let gw = Gateway::start(&format!(
        "[prices.\"q-model\"]\ninput = {input:?}\noutput = {output:?}\n\n{}",
        channel("oa", "openai", &up.base_url(), "sk-a", &["q-model"], 0)
    ))
    .await;
    let (id, key) = gw
        .key(CreateKey {
            name: "q".into(),
            quota_usd: Some(quota_usd),
            ..Default::default()
        })
        .await;
    (gw, id, key)
}

#[tokio::test]
async fn concurrent_burst_cannot_overspend_and_settles_exactly() {
    let up = spawn_openai(OpenAiSimConfig::new(Flavor::OpenAi, "sk-a").with_latency_ms(300))
        .await
        .unwrap();
    // 1 USD per completion token, prompts free: each request reserves and costs exactly 5 USD.
    let (gw, id, key) = priced(&up, (0.0, 1_000_000.0), 15.0).await;
    let body = json!({"model": "q-model", "max_tokens": 5, "messages": user("x")});
    let calls = (0..10).map(|_| gw.post_chat(&key, &body).send());
    let statuses: Vec<u16> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 403).count();
    assert_eq!((ok, refused), (3, 7), "{statuses:?}");
    assert_eq!(
        up.request_count(),
        3,
        "refused requests never reached the upstream"
    );
    // The quota is now spent exactly: the next request is refused too.
    let r = gw.post_chat(&key, &body).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "insufficient_quota"
    );
    let rows = gw.usage_n(id, 11).await;
    let billed: i64 = rows.iter().map(|r| r.row.cost_micros).sum();
    assert_eq!(billed, 15_000_000);
    let k = gw.state.store().get_key(id).await.unwrap().unwrap();
    assert_eq!(k.used_micros, 15_000_000);
}

/// The reservation starts from an estimate that leans high; a key whose remaining quota covers
/// the exact prompt count but not the estimate is still served, and then exhausted.
#[tokio::test]
async fn a_quota_that_fits_the_exact_prompt_but_not_the_estimate_is_served() {
    let up = spawn_openai(OpenAiSimConfig::new(Flavor::OpenAi, "sk-a"))
        .await
        .unwrap();
    let messages = user("Summarise the quarterly figures, then list three risks in 2025.");
    let msgs: Vec<switchyard_types::ChatMessage> =
        serde_json::from_value(messages.clone()).unwrap();
    let prompt = switchyard_core::tokens::Prompt::new("q-model", &msgs, None);
    let (estimate, exact) = (prompt.estimate(), prompt.exact());
    assert!(estimate > exact, "{estimate} vs {exact}");
    // 1 USD per prompt token, completions free.
    let (gw, _, key) = priced(&up, (1_000_000.0, 0.0), exact as f64).await;
    let body = json!({"model": "q-model", "messages": messages});
    let r = gw.post_chat(&key, &body).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = gw.post_chat(&key, &body).send().await.unwrap();
    assert_eq!(r.status(), 403);
}
