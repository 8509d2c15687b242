//! Integration tests of the gateway: handler tests through `Router::oneshot`, and real-socket
//! tests against the provider simulators for streaming, failover, disconnects, quota and
//! shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod chat;
mod failover;
mod handlers;
mod helpers;
mod images;
mod inbound;
mod native_anthropic;
mod native_dashscope;
mod native_gemini;
mod native_hunyuan;
mod native_qianfan;
mod native_spark;
mod native_zhipu;
mod passthrough;
mod quota;
mod shutdown;
mod stream;
mod tls;
