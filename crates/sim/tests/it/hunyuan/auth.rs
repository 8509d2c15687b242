//! Signatures checked the Tencent way, and request validation.

use serde_json::{Value, json};
use switchyard_sim::hunyuan::NOTE;

use super::{Signer, assert_error, call, chat, now, send_raw, sim};
use crate::client;

#[tokio::test]
async fn good_signature_gets_the_documented_answer() {
    let sim = sim().await;
    let got = call(&sim, &chat("hunyuan-lite", "hi there", false)).await;
    assert_eq!((got.0, got.1.as_str()), (200, "application/json"));
    let v: Value = serde_json::from_str(&got.2).unwrap();
    let r = &v["Response"];
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    for k in ["RequestId", "Note", "Choices", "Created", "Id", "Usage"] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    assert_eq!(r["Note"], NOTE);
    assert_eq!(
        r["Choices"][0]["Message"],
        json!({"Role": "assistant", "Content": "Hello from hunyuan hunyuan-lite: hi there"})
    );
    assert_eq!(r["Choices"][0]["FinishReason"], "stop");
    // "hi there": 8 chars / 4 + 3 = 5 prompt tokens; 5 pieces.
    assert_eq!(
        r["Usage"],
        json!({"PromptTokens": 5, "CompletionTokens": 5, "TotalTokens": 10})
    );
    assert_eq!(sim.requests()[0], chat("hunyuan-lite", "hi there", false));
    // one-api style: x-tc-action signed too, value lower-cased.
    let mut s = Signer::new();
    s.sign_action = true;
    let got = send_raw(
        &sim,
        &s,
        "ChatCompletions",
        chat("hunyuan-pro", "x", false).to_string().into_bytes(),
        None,
    )
    .await;
    assert!(
        got.2.contains("Hello from hunyuan hunyuan-pro: x"),
        "{}",
        got.2
    );
}

#[tokio::test]
async fn credentials_are_checked_the_tencent_way() {
    let sim = sim().await;
    let body = chat("hunyuan-lite", "hi", false).to_string().into_bytes();
    let cases: Vec<(Signer, &str)> = vec![
        (
            Signer {
                key: "wrong-key".into(),
                ..Signer::new()
            },
            "AuthFailure.SignatureFailure",
        ),
        (
            Signer {
                host: Some("hunyuan.tencentcloudapi.com".into()),
                ..Signer::new()
            },
            "AuthFailure.SignatureFailure",
        ),
        (
            Signer {
                date: Some("2001-01-01".into()),
                ..Signer::new()
            },
            "AuthFailure.SignatureFailure",
        ),
        (
            Signer {
                id: "AKIDunknown".into(),
                ..Signer::new()
            },
            "AuthFailure.SecretIdNotFound",
        ),
        (
            Signer {
                timestamp: now() - 301,
                ..Signer::new()
            },
            "AuthFailure.SignatureExpire",
        ),
        (
            Signer {
                timestamp: now() + 3600,
                ..Signer::new()
            },
            "AuthFailure.SignatureExpire",
        ),
    ];
    for (signer, code) in cases {
        assert_error(
            &send_raw(&sim, &signer, "ChatCompletions", body.clone(), None).await,
            code,
        );
    }
    // A body changed after signing.
    let tampered = chat("hunyuan-lite", "hj", false).to_string().into_bytes();
    assert_error(
        &send_raw(
            &sim,
            &Signer::new(),
            "ChatCompletions",
            tampered,
            Some(&body),
        )
        .await,
        "AuthFailure.SignatureFailure",
    );
    // No or malformed Authorization.
    let resp = client()
        .post(format!("{}/", sim.origin()))
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-nope")
        .header("x-tc-action", "ChatCompletions")
        .header("x-tc-version", "2023-09-01")
        .header("x-tc-timestamp", now().to_string())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let got = (
        resp.status().as_u16(),
        "application/json".to_owned(),
        resp.text().await.unwrap(),
    );
    assert_error(&got, "AuthFailure.InvalidAuthorization");
    assert_eq!(sim.request_count(), 8, "rejected bodies are recorded too");
}

#[tokio::test]
async fn requests_are_validated_like_hunyuan() {
    let sim = sim().await;
    let cases = [
        (
            chat("hunyuan-nope", "hi", false),
            "InvalidParameterValue.Model",
        ),
        (chat("hunyuan", "hi", false), "InvalidParameterValue.Model"),
        (
            json!({"model": "hunyuan-lite", "messages": [{"role": "user", "content": "hi"}]}),
            "UnknownParameter",
        ),
        (
            json!({"Messages": [{"Role": "user", "Content": "hi"}]}),
            "MissingParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": []}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": [{"Role": "user", "Content": "a"}, {"Role": "user", "Content": "b"}]}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": [{"Role": "user", "Content": "a"}, {"Role": "system", "Content": "b"}, {"Role": "user", "Content": "c"}]}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": [{"Role": "assistant", "Content": "a"}]}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": [{"Role": "user", "Content": ""}]}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": [{"Role": "user", "Content": "a"}], "Temperature": 2.5}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": [{"Role": "user", "Content": "a"}], "TopP": 1.5}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-lite", "Messages": [{"Role": "user", "Content": "a"}], "Seed": 0}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-pro", "Messages": [{"Role": "user", "Content": "a"}],
                "Tools": [{"Type": "function", "Function": {"Name": "f", "Parameters": {"type": "object"}}}]}),
            "InvalidParameter",
        ),
        (
            json!({"Model": "hunyuan-pro", "Messages": [{"Role": "user", "Content": "a"}], "ToolChoice": "required"}),
            "InvalidParameter",
        ),
    ];
    for (body, code) in cases {
        let got = call(&sim, &body).await;
        assert_error(&got, code);
    }
    let ok = json!({"Model": "hunyuan-standard", "Messages": [
        {"Role": "system", "Content": "s"}, {"Role": "user", "Content": "a"},
        {"Role": "assistant", "Content": "b"}, {"Role": "user", "Content": "c"}],
        "Temperature": 2.0, "TopP": 0.0, "Seed": 10000, "Stop": ["x"], "EnableEnhancement": false});
    let got = call(&sim, &ok).await;
    assert!(
        got.2.contains("Hello from hunyuan hunyuan-standard: c"),
        "{}",
        got.2
    );
}
