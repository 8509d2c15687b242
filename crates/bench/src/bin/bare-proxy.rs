//! `bare-proxy --listen ADDR --upstream http://HOST:PORT`: forwards every request unchanged
//! (streaming both ways) over a pooled HTTP/1.1 client. Prints `listening on http://ADDR`.

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Upstream origin, e.g. http://127.0.0.1:9000
    #[arg(long)]
    upstream: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let upstream: hyper::Uri = args.upstream.parse().context("upstream URL")?;
    let authority = upstream.authority().context("upstream host")?.clone();
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build(connector);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        let authority = authority.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |mut req: Request<Incoming>| {
                let client = client.clone();
                let authority = authority.clone();
                async move {
                    let pq = req
                        .uri()
                        .path_and_query()
                        .map_or("/", |p| p.as_str())
                        .to_owned();
                    let uri = hyper::Uri::builder()
                        .scheme("http")
                        .authority(authority)
                        .path_and_query(pq)
                        .build();
                    match uri {
                        Ok(uri) => *req.uri_mut() = uri,
                        Err(e) => return Err(anyhow::anyhow!(e)),
                    }
                    let resp = client.request(req).await?;
                    Ok::<Response<Incoming>, anyhow::Error>(resp)
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
