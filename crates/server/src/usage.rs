//! The usage-log writer: rows go to an in-memory queue on the request path and are written in
//! batches by one background task, never on the hot path. The queue is unbounded so that no
//! accepted row is ever dropped; a database outage delays rows (retried) rather than losing them.

use std::time::Duration;

use switchyard_core::config::UsageConfig;
use switchyard_store::{Store, UsageRow};
use tokio::sync::{mpsc, oneshot};

enum Msg {
    Row(Box<UsageRow>),
    Flush(oneshot::Sender<()>),
}

/// Handle to the writer task.
#[derive(Clone)]
pub(crate) struct UsageWriter {
    tx: mpsc::UnboundedSender<Msg>,
}

impl UsageWriter {
    pub(crate) fn start(store: Store, cfg: &UsageConfig) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(
            store,
            rx,
            cfg.batch_size,
            Duration::from_millis(cfg.flush_interval_ms),
        ));
        Self { tx }
    }

    /// Queues a row.
    pub(crate) fn record(&self, row: UsageRow) {
        if self.tx.send(Msg::Row(Box::new(row))).is_err() {
            tracing::error!("usage writer is gone; a usage row was not recorded");
        }
    }

    /// Writes everything queued so far; returns when it is in the database.
    pub(crate) async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<Msg>, batch: usize, interval: Duration) {
    let mut rows: Vec<UsageRow> = Vec::with_capacity(batch);
    loop {
        let msg = if rows.is_empty() {
            rx.recv().await
        } else {
            match tokio::time::timeout(interval, rx.recv()).await {
                Ok(m) => m,
                Err(_) => {
                    write(&store, &mut rows).await;
                    continue;
                }
            }
        };
        match msg {
            Some(Msg::Row(r)) => {
                rows.push(*r);
                while rows.len() < batch {
                    match rx.try_recv() {
                        Ok(Msg::Row(r)) => rows.push(*r),
                        Ok(Msg::Flush(ack)) => {
                            write(&store, &mut rows).await;
                            let _ = ack.send(());
                        }
                        Err(_) => break,
                    }
                }
                if rows.len() >= batch {
                    write(&store, &mut rows).await;
                }
            }
            Some(Msg::Flush(ack)) => {
                write(&store, &mut rows).await;
                let _ = ack.send(());
            }
            None => {
                write(&store, &mut rows).await;
                return;
            }
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
