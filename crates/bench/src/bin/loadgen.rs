//! `loadgen`: drives one URL with POST requests and prints a JSON summary.
//!
//! Modes: `rate` (open loop at a fixed rate; latency is measured from each request's intended
//! send time, so queueing inside the server is counted, not hidden; pacing runs on its own
//! thread, so the generator's timer adds tens of µs, not tokio's millisecond), `closed` (C
//! workers back to back: maximum throughput, or C=1 for one request at a time), and `hold` (N
//! concurrent streams kept open for the whole duration, for memory measurements). With
//! `--stream`, time to the first body bytes and to the end are both recorded. Latencies are in
//! microseconds.

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use tokio::sync::Mutex;

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Rate,
    Closed,
    Hold,
}

#[derive(Parser)]
struct Args {
    #[arg(value_enum)]
    mode: Mode,
    #[arg(long)]
    url: String,
    /// JSON body.
    #[arg(long)]
    body: String,
    /// Extra headers, `name: value`.
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Requests per second (rate mode).
    #[arg(long, default_value_t = 100)]
    rps: u64,
    /// Workers (closed mode) or open streams (hold mode).
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Seconds to run (rate, closed) or to hold (hold).
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Requests to send at most (closed mode; 0 = no limit).
    #[arg(long, default_value_t = 0)]
    requests: u64,
    /// Record time to first byte separately (streams).
    #[arg(long)]
    stream: bool,
    /// Seconds a request may take before it counts as an error (0: no limit). Keeps an
    /// overloaded contender from holding the run for minutes.
    #[arg(long, default_value_t = 0.0)]
    timeout: f64,
    /// Requests sent one at a time before the run (closed mode) and reported apart, under
    /// `warmup`: the first of them pays for new connections on both sides of a proxy.
    #[arg(long, default_value_t = 0)]
    warmup: u64,
    /// Also write every successful request as a line `start_us first_byte_us total_us` (start
    /// counted from the generator's start, warm-up included) to this file, to find when the
    /// slow ones happened.
    #[arg(long)]
    samples: Option<std::path::PathBuf>,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

struct Stats {
    total: Histogram<u64>,
    first: Histogram<u64>,
    /// (start, first byte, total) in µs, kept only with `--samples`.
    samples: Vec<(u64, u64, u64)>,
}

struct Shared {
    client: HttpClient,
    args: Args,
    stats: Mutex<Stats>,
    ok: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    started: Instant,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

async fn one(shared: &Shared, intended: Instant) {
    let mut req =
        hyper::Request::post(shared.args.url.as_str()).header("content-type", "application/json");
    for h in &shared.args.headers {
        if let Some((k, v)) = h.split_once(':') {
            req = req.header(k.trim(), v.trim());
        }
    }
    let Ok(req) = req.body(Full::new(Bytes::from(shared.args.body.clone()))) else {
        shared.errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let work = async {
        let resp = shared.client.request(req).await?;
        let ok = resp.status().is_success();
        let mut body = resp.into_body();
        let mut first = None;
        while let Some(frame) = body.frame().await {
            let frame = frame?;
            if first.is_none() && frame.data_ref().is_some_and(|d| !d.is_empty()) {
                first = Some(intended.elapsed());
            }
        }
        Ok::<_, anyhow::Error>((ok, first))
    };
    let result = if shared.args.timeout > 0.0 {
        let limit = Duration::from_secs_f64(shared.args.timeout);
        match tokio::time::timeout(limit, work).await {
            Ok(r) => r,
            Err(_) => {
                shared.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(anyhow::anyhow!("timed out"))
            }
        }
    } else {
        work.await
    };
    let total = intended.elapsed();
    match result {
        Ok((true, first)) => {
            shared.ok.fetch_add(1, Ordering::Relaxed);
            let mut s = shared.stats.lock().await;
            let _ = s.total.record(total.as_micros().max(1) as u64);
            if let Some(f) = first {
                let _ = s.first.record(f.as_micros().max(1) as u64);
            }
            if shared.args.samples.is_some() {
                let start = intended
                    .saturating_duration_since(shared.started)
                    .as_micros() as u64;
                let first = first.map_or(0, |f| f.as_micros() as u64);
                s.samples.push((start, first, total.as_micros() as u64));
            }
        }
        _ => {
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn summary(h: &Histogram<u64>) -> serde_json::Value {
    json!({
        "count": h.len(),
        "p50": h.value_at_quantile(0.50), "p90": h.value_at_quantile(0.90),
        "p99": h.value_at_quantile(0.99), "p999": h.value_at_quantile(0.999),
        "max": h.max(), "mean": h.mean(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(usize::MAX)
        .build(connector);
    let duration = Duration::from_secs_f64(args.duration);
    let mode = args.mode;
    let shared = Arc::new(Shared {
        client,
        args,
        stats: Mutex::new(Stats {
            total: histogram(),
            first: histogram(),
            samples: Vec::new(),
        }),
        ok: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        timeouts: AtomicU64::new(0),
        started: Instant::now(),
    });
    let mut warmup = serde_json::Value::Null;
    if shared.args.warmup > 0 {
        for _ in 0..shared.args.warmup {
            one(&shared, Instant::now()).await;
        }
        let mut s = shared.stats.lock().await;
        warmup = json!({
            "sent": shared.args.warmup,
            "ok": shared.ok.swap(0, Ordering::Relaxed),
            "errors": shared.errors.swap(0, Ordering::Relaxed),
            "latency_us": summary(&s.total), "first_byte_us": summary(&s.first),
        });
        s.total.reset();
        s.first.reset();
        s.samples.clear();
    }
    let started = Instant::now();
    let mut sent = 0u64;
    match mode {
        Mode::Rate => {
            // Paced on a blocking thread with the OS sleep (tens of µs late at most): tokio's
            // timer ticks in whole milliseconds, which would add up to a millisecond to every
            // latency measured from the intended send time, at any rate and for every contender.
            let interval = Duration::from_secs_f64(1.0 / shared.args.rps.max(1) as f64);
            let handle = tokio::runtime::Handle::current();
            let pacer = shared.clone();
            let tasks = tokio::task::spawn_blocking(move || {
                let mut tasks = Vec::new();
                let mut next = Instant::now();
                while started.elapsed() < duration {
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    }
                    let intended = next;
                    let s = pacer.clone();
                    tasks.push(handle.spawn(async move { one(&s, intended).await }));
                    next += interval;
                }
                tasks
            })
            .await?;
            sent = tasks.len() as u64;
            for t in tasks {
                let _ = t.await;
            }
        }
        Mode::Closed => {
            let limit = shared.args.requests;
            let counter = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            for _ in 0..shared.args.concurrency.max(1) {
                let s = shared.clone();
                let counter = counter.clone();
                tasks.push(tokio::spawn(async move {
                    while started.elapsed() < duration {
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        if limit > 0 && n >= limit {
                            break;
                        }
                        one(&s, Instant::now()).await;
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
            sent = counter
                .load(Ordering::Relaxed)
                .min(if limit > 0 { limit } else { u64::MAX });
        }
        Mode::Hold => {
            let mut tasks = Vec::new();
            for _ in 0..shared.args.concurrency {
                let s = shared.clone();
                tasks.push(tokio::spawn(async move { one(&s, Instant::now()).await }));
                sent += 1;
            }
            for t in tasks {
                let _ = t.await;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = shared.stats.lock().await;
    let ok = shared.ok.load(Ordering::Relaxed);
    if let Some(path) = &shared.args.samples {
        let mut out = String::new();
        for (start, first, total) in &stats.samples {
            out.push_str(&format!("{start} {first} {total}\n"));
        }
        std::fs::write(path, out)?;
    }
    println!(
        "{}",
        json!({
            "sent": sent, "ok": ok, "errors": shared.errors.load(Ordering::Relaxed),
            "timeouts": shared.timeouts.load(Ordering::Relaxed),
            "elapsed_s": elapsed, "achieved_rps": ok as f64 / elapsed,
            "latency_us": summary(&stats.total), "first_byte_us": summary(&stats.first),
            "warmup": warmup,
        })
    );
    Ok(())
}
