//! Upstreams over TLS: the OpenAI simulator (HTTPS) and the Spark simulator (`wss://`) with a
//! certificate of a test CA (`fixtures/tls`, valid until 2126), trusted only through
//! `upstream.ca_file`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use switchyard_sim::{
    Flavor, OpenAiSimConfig, SimState, SparkSimConfig, openai_router, spark_router,
};
use tokio_rustls::TlsAcceptor;

use crate::helpers::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures/tls");

/// The OpenAI simulator on `https://127.0.0.1:PORT/v1`.
async fn https_sim() -> (String, SimState) {
    let (router, state) = openai_router(OpenAiSimConfig::new(Flavor::OpenAi, "sk-up"));
    let (origin, _) = tls_origin(router, HTTP1).await;
    (format!("{origin}/v1"), state)
}

const HTTP1: &[u8] = b"http/1.1";
const HTTP2: &[u8] = b"h2";

/// `router` served on `https://127.0.0.1:PORT` in the one protocol `alpn` offers (HTTP/1.1
/// with upgrades, or HTTP/2), and the count of TCP connections it accepted.
async fn tls_origin(router: axum::Router, alpn: &[u8]) -> (String, Arc<AtomicUsize>) {
    let certs = CertificateDer::pem_file_iter(format!("{FIXTURES}/server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{FIXTURES}/server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    cfg.alpn_protocols = vec![alpn.to_vec()];
    let h2 = alpn == HTTP2;
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let acceptor = TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let (acceptor, router) = (acceptor.clone(), router.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let (io, svc) = (TokioIo::new(tls), TowerToHyperService::new(router));
                if h2 {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, svc)
                        .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .with_upgrades()
                        .await;
                }
            });
        }
    });
    (format!("https://127.0.0.1:{port}"), accepted)
}

async fn gateway(base: &str, ca_file: Option<&str>) -> (Gateway, String) {
    one_channel_gateway(("openai", base, "sk-up", "gpt-4o"), ca_file).await
}

/// A gateway with one channel `(provider, base, key, model)`, trusting `ca_file` if given.
async fn one_channel_gateway(
    (provider, base, key, model): (&str, &str, &str, &str),
    ca_file: Option<&str>,
) -> (Gateway, String) {
    let upstream = ca_file.map_or(String::new(), |f| {
        format!("[upstream]\nca_file = \"{f}\"\n")
    });
    let gw = Gateway::start(&format!(
        "{upstream}{}",
        channel("tls", provider, base, key, &[model], 0)
    ))
    .await;
    let (_, key) = gw.plain_key().await;
    (gw, key)
}

fn spark_cfg() -> SparkSimConfig {
    SparkSimConfig::new(
        "app-tls",
        "key-spark-tls-0123",
        "secret-spark-tls-0123456789",
    )
}

/// Spark's WebSocket (`https://` base, so `wss://`) trusts the same `ca_file` as HTTP upstreams;
/// without it the handshake is refused.
#[tokio::test]
async fn a_wss_upstream_signed_by_the_configured_ca_is_relayed_and_refused_without_it() {
    let (router, sim) = spark_router(spark_cfg());
    let (base, _) = tls_origin(router, HTTP1).await;
    let channel = (
        "spark",
        base.as_str(),
        &*spark_cfg().channel_key(),
        "SparkDesk-v3.5",
    );
    let body = json!({"model": "SparkDesk-v3.5", "messages": user("over tls")});

    let (gw, key) = one_channel_gateway(channel, Some(&format!("{FIXTURES}/ca.pem"))).await;
    let (status, v) = chat(&gw, &key, &body).await;
    assert_eq!(status, 200, "{v}");
    let text = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.contains("over tls"), "{v}");
    assert_eq!(sim.request_count(), 1);

    let (gw, key) = one_channel_gateway(channel, None).await;
    let (status, v) = chat(&gw, &key, &body).await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(
        sim.request_count(),
        1,
        "no request reaches an untrusted upstream"
    );
}

#[tokio::test]
async fn an_https_upstream_signed_by_the_configured_ca_is_relayed() {
    let (base, sim) = https_sim().await;
    let (gw, key) = gateway(&base, Some(&format!("{FIXTURES}/ca.pem"))).await;
    let body = json!({"model": "gpt-4o", "messages": user("hello")});
    let (status, v) = chat(&gw, &key, &body).await;
    assert_eq!(status, 200, "{v}");
    assert!(
        v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("hello")
    );
    let chunks = stream_chat(
        &gw,
        &key,
        &json!({"model": "gpt-4o", "stream": true, "messages": user("hi")}),
    )
    .await;
    assert!(content_of(&chunks).contains("hi"));
    assert_eq!(sim.request_count(), 2);
}

/// An upstream that offers only HTTP/2 by ALPN gets it: after a first request, answers and
/// streams held 200 ms each all share that first connection.
#[tokio::test]
async fn an_https_upstream_offering_http2_serves_concurrent_requests_on_one_connection() {
    let mut cfg = OpenAiSimConfig::new(Flavor::OpenAi, "sk-up");
    cfg.latency_ms = 200;
    let (router, sim) = openai_router(cfg);
    let (origin, accepted) = tls_origin(router, HTTP2).await;
    let (gw, key) = gateway(&format!("{origin}/v1"), Some(&format!("{FIXTURES}/ca.pem"))).await;
    let body = json!({"model": "gpt-4o", "messages": user("first")});
    let (status, v) = chat(&gw, &key, &body).await;
    assert_eq!(status, 200, "{v}");
    let (gw, key) = (&gw, key.as_str());
    let plain = (0..4).map(|i| {
        let body = json!({"model": "gpt-4o", "messages": user(&format!("plain {i}"))});
        async move { chat(gw, key, &body).await }
    });
    let streamed = (0..2).map(|i| {
        let body =
            json!({"model": "gpt-4o", "stream": true, "messages": user(&format!("streamed {i}"))});
        async move { stream_chat(gw, key, &body).await }
    });
    let (plain, streamed) = tokio::join!(
        futures::future::join_all(plain),
        futures::future::join_all(streamed)
    );
    for (i, (status, v)) in plain.iter().enumerate() {
        assert_eq!(*status, 200, "{v}");
        let text = v["choices"][0]["message"]["content"].as_str().unwrap();
        assert!(text.contains(&format!("plain {i}")), "{v}");
    }
    for (i, chunks) in streamed.iter().enumerate() {
        assert!(content_of(chunks).contains(&format!("streamed {i}")));
    }
    assert_eq!(sim.request_count(), 7);
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one HTTP/2 connection");
}

#[tokio::test]
async fn an_https_upstream_with_an_untrusted_certificate_is_refused() {
    let (base, sim) = https_sim().await;
    let (gw, key) = gateway(&base, None).await;
    let body = json!({"model": "gpt-4o", "messages": user("hello")});
    let (status, v) = chat(&gw, &key, &body).await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["error"]["code"], "upstream_unreachable", "{v}");
    assert_eq!(sim.request_count(), 0);
}

#[tokio::test]
async fn a_ca_file_without_certificates_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let mut config = switchyard_core::Config::default();
    config.database.url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    config.upstream.ca_file = Some(empty.display().to_string());
    let store = switchyard_store::Store::connect(&config.database.url)
        .await
        .unwrap();
    let err = switchyard_server::AppState::start(config, store)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("holds no certificate"), "{err}");
}
