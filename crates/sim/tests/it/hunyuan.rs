//! The Tencent Hunyuan simulator: TC3 signature checks the way Tencent does them, HTTP-200
//! errors, exact framing of answers and streams, tools, `sim_error:` and shared faults.
//!
//! This file holds a test client that signs requests (checked against the documented vector);
//! the tests are in `hunyuan/auth.rs` (signatures, validation) and `hunyuan/answers.rs` (framing,
//! tools, injected errors, faults, embeddings, the binary).

mod answers;
mod auth;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use switchyard_sim::{HunyuanSimConfig, SimHandle, spawn_hunyuan};

use crate::client;

const ID: &str = "AKIDsimTest0123456789abcdefghijklmn";
const KEY: &str = "simSecretKey0123456789abcdefghij";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hex_sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// How a test client signs (each field can be made wrong on purpose).
#[derive(Clone)]
struct Signer {
    id: String,
    key: String,
    host: Option<String>,
    timestamp: u64,
    date: Option<String>,
    /// Extra signed headers, e.g. `x-tc-action` (value lower-cased as Tencent requires).
    sign_action: bool,
}

impl Signer {
    fn new() -> Self {
        Self {
            id: ID.into(),
            key: KEY.into(),
            host: None,
            timestamp: now(),
            date: None,
            sign_action: false,
        }
    }

    /// `(authorization, canonical request)` for `body` sent to `host`.
    fn sign(&self, host: &str, action: &str, body: &[u8]) -> (String, String) {
        let date = self.date.clone().unwrap_or_else(|| {
            chrono::DateTime::from_timestamp(self.timestamp as i64, 0)
                .unwrap()
                .format("%Y-%m-%d")
                .to_string()
        });
        let host = self.host.as_deref().unwrap_or(host);
        let (headers, signed) = if self.sign_action {
            (
                format!(
                    "content-type:application/json\nhost:{host}\nx-tc-action:{}\n",
                    action.to_lowercase()
                ),
                "content-type;host;x-tc-action",
            )
        } else {
            (
                format!("content-type:application/json\nhost:{host}\n"),
                "content-type;host",
            )
        };
        let canonical = format!("POST\n/\n\n{headers}\n{signed}\n{}", hex_sha(body));
        let sts = format!(
            "TC3-HMAC-SHA256\n{}\n{date}/hunyuan/tc3_request\n{}",
            self.timestamp,
            hex_sha(canonical.as_bytes())
        );
        let k = hmac(format!("TC3{}", self.key).as_bytes(), date.as_bytes());
        let k = hmac(&hmac(&k, b"hunyuan"), b"tc3_request");
        let sig = hex::encode(hmac(&k, sts.as_bytes()));
        (
            format!(
                "TC3-HMAC-SHA256 Credential={}/{date}/hunyuan/tc3_request, SignedHeaders={signed}, Signature={sig}",
                self.id
            ),
            canonical,
        )
    }
}

#[test]
fn test_signer_reproduces_the_documented_vector() {
    let s = Signer {
        id: "AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1234".into(),
        key: "SECRETKEYEXAMPLEEXAMPLEEXAMPLE12".into(),
        host: None,
        timestamp: 1_705_634_813,
        date: None,
        sign_action: false,
    };
    let body =
        br#"{"Model":"hunyuan-lite","Messages":[{"Role":"user","Content":"hi"}],"Stream":false}"#;
    let (auth, canonical) = s.sign("hunyuan.tencentcloudapi.com", "ChatCompletions", body);
    assert_eq!(
        hex_sha(canonical.as_bytes()),
        "ac399ae4c55ba2092befd98a9fc3be6d17ab30fff47d00958057939ac6d0f598"
    );
    assert!(
        auth.ends_with(
            "Signature=ca372abd86e6b43de505b01b97b13fe6cc68ca3150ffcfcc70f3ddb307f3aee1"
        )
    );
}

async fn sim() -> SimHandle {
    spawn_hunyuan(HunyuanSimConfig::new(ID, KEY)).await.unwrap()
}

/// Sends `body` (bytes as given) with the signer's headers; returns status, content type, text.
async fn send_raw(
    sim: &SimHandle,
    s: &Signer,
    action: &str,
    body: Vec<u8>,
    signed_body: Option<&[u8]>,
) -> (u16, String, String) {
    let host = sim.addr().to_string();
    let (auth, _) = s.sign(&host, action, signed_body.unwrap_or(&body));
    let resp = client()
        .post(format!("{}/", sim.origin()))
        .header("content-type", "application/json")
        .header("authorization", auth)
        .header("x-tc-action", action)
        .header("x-tc-version", "2023-09-01")
        .header("x-tc-timestamp", s.timestamp.to_string())
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap_or_default())
}

async fn call(sim: &SimHandle, body: &Value) -> (u16, String, String) {
    send_raw(
        sim,
        &Signer::new(),
        "ChatCompletions",
        body.to_string().into_bytes(),
        None,
    )
    .await
}

fn chat(model: &str, text: &str, stream: bool) -> Value {
    json!({"Model": model, "Messages": [{"Role": "user", "Content": text}], "Stream": stream})
}

/// Asserts an HTTP-200 `application/json` `Response.Error` with `code`.
fn assert_error(got: &(u16, String, String), code: &str) {
    assert_eq!(got.0, 200, "Tencent errors come with HTTP 200: {}", got.2);
    assert_eq!(got.1, "application/json");
    let v: Value = serde_json::from_str(&got.2).unwrap();
    assert_eq!(v["Response"]["Error"]["Code"], code, "{v}");
    assert!(
        v["Response"]["Error"]["Message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(v["Response"]["RequestId"].is_string());
}
