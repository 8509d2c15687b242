//! The usage-log writer: rows go to an in-memory queue on the request path and are written in
//! batches by one background task, never on the hot path. The queue is unbounded so that no
//! accepted row is ever dropped; a database outage delays rows (retried) rather than losing them.

use std::sync::Arc;
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
    /// Writes what the queue holds, a batch at a time.
    async fn write_queued(&self) {
        let _writing = self.writing.lock().await;
        loop {
            let mut rows = {
                let mut q = self.queue.lock();
                let n = q.len().min(self.batch);
                q.drain(..n).collect::<Vec<_>>()
            };
            if rows.is_empty() {
                return;
            }
            write(&self.store, &mut rows).await;
        }
    }
}

/// Writes `rows`, retrying with back-off until the database takes them.
async fn write(store: &Store, rows: &mut Vec<UsageRow>) {
    if rows.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(50);
    for attempt in 0.. {
        match store.insert_usage_batch(rows).await {
            Ok(()) => {
                rows.clear();
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, rows = rows.len(), "usage batch write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
