//! The usage-log writer: rows go to an in-memory queue on the request path and are written in
//! batches by one background task, never on the hot path. The queue is unbounded so that no
//! accepted row is ever dropped; a database outage delays rows (retried) rather than losing them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use switchyard_core::config::UsageConfig;
use switchyard_store::{Store, UsageRow};
use tokio::sync::Notify;

/// Handle to the writer task.
#[derive(Clone)]
pub(crate) struct UsageWriter {
    shared: Arc<Shared>,
}

struct Shared {
    store: Store,
    /// Rows recorded and not yet taken by a write.
    queue: Mutex<Vec<UsageRow>>,
    /// Held while rows are being written, so that a flush also waits for a write under way.
    writing: tokio::sync::Mutex<()>,
    /// Woken when the queue holds a whole batch.
    full: Notify,
    batch: usize,
    /// Transactions written (each holds at most `batch` rows).
    writes: AtomicU64,
}

impl UsageWriter {
    /// Starts the writer task: it writes the queue every `flush_interval_ms`, or as soon as it
    /// holds `batch_size` rows. Recording a row wakes nothing else (a cross-thread wake-up per
    /// request cost more CPU than writing the row).
    pub(crate) fn start(store: Store, cfg: &UsageConfig) -> Self {
        let shared = Arc::new(Shared {
            store,
            queue: Mutex::new(Vec::with_capacity(cfg.batch_size)),
            writing: tokio::sync::Mutex::new(()),
            full: Notify::new(),
            batch: cfg.batch_size,
            writes: AtomicU64::new(0),
        });
        let interval = Duration::from_millis(cfg.flush_interval_ms);
        let weak = Arc::downgrade(&shared);
        tokio::spawn(async move {
            loop {
                let Some(shared) = weak.upgrade() else { return };
                tokio::select! {
                    () = shared.full.notified() => {}
                    () = tokio::time::sleep(interval) => {}
                }
                shared.write_queued().await;
            }
        });
        Self { shared }
    }

    /// Queues a row; never blocks and never drops it.
    pub(crate) fn record(&self, row: UsageRow) {
        let full = {
            let mut q = self.shared.queue.lock();
            q.push(row);
            q.len() == self.shared.batch
        };
        if full {
            self.shared.full.notify_one();
        }
    }

    /// Returns once every row recorded before the call is written.
    pub(crate) async fn flush(&self) {
        self.shared.write_queued().await;
    }
}

impl Shared {
    /// Writes what the queue holds now, a batch at a time. Rows recorded meanwhile wait for the
    /// next wake-up: taking them too would, under steady load, never stop writing, in
    /// transactions of a few rows each (each one rewrites the same pages).
    async fn write_queued(&self) {
        let _writing = self.writing.lock().await;
        let fresh = Vec::with_capacity(self.batch);
        let rows = std::mem::replace(&mut *self.queue.lock(), fresh);
        for batch in rows.chunks(self.batch) {
            write(&self.store, batch).await;
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Writes `rows`, retrying with back-off until the database takes them.
async fn write(store: &Store, rows: &[UsageRow]) {
    let mut delay = Duration::from_millis(50);
    for attempt in 0.. {
        match store.insert_usage_batch(rows).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, attempt, rows = rows.len(), "usage batch write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use switchyard_store::UsageFilter;

    use super::*;

    fn row(i: usize) -> UsageRow {
        UsageRow {
            request_id: format!("req-{i}").into(),
            created_at: chrono::Utc::now(),
            key_id: None,
            channel_id: None,
            endpoint: "chat/completions".into(),
            requested_model: "m".into(),
            upstream_model: None,
            prompt_tokens: 1,
            cached_tokens: 0,
            completion_tokens: 1,
            total_tokens: 2,
            estimated: false,
            cost_micros: 0,
            latency_ms: 0,
            ttft_ms: None,
            status: 200,
            error_code: None,
            stream: false,
        }
    }

    /// Rows that keep arriving while a batch is written wait for the next interval: the writer
    /// does not chase them with a transaction of a few rows each (it once did, dozens of
    /// commits a second under load instead of five).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_steady_stream_of_rows_is_written_once_per_interval() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("u.db").display());
        let store = Store::connect(&url).await.unwrap();
        let cfg = UsageConfig {
            batch_size: 100_000,
            flush_interval_ms: 100,
        };
        let writer = UsageWriter::start(store.clone(), &cfg);
        let recorder = writer.clone();
        let started = Instant::now();
        let n = std::thread::spawn(move || {
            let mut n = 0;
            while started.elapsed() < Duration::from_millis(600) {
                recorder.record(row(n));
                n += 1;
                std::thread::sleep(Duration::from_micros(20));
            }
            n
        })
        .join()
        .unwrap();
        writer.flush().await;
        let elapsed = started.elapsed().as_millis() as u64;
        let writes = writer.shared.writes.load(Ordering::Relaxed);
        // One write per interval that passed, one for the flush, and slack for a slow machine.
        let most = elapsed / cfg.flush_interval_ms + 3;
        assert!(
            writes <= most,
            "{writes} transactions for {n} rows in {elapsed} ms (at most {most} expected)"
        );
        let filter = UsageFilter {
            limit: Some(1),
            ..UsageFilter::default()
        };
        let last = store.list_usage(&filter).await.unwrap();
        assert_eq!(last[0].id, n as i64, "every row written, in order");
    }
}
