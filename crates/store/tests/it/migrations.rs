//! Migrations: idempotent on reconnect and safe when several processes
//! (here: several pools) start at once.

use switchyard_store::{Store, UsageFilter};

use crate::fixtures::usage_row;

use crate::harness::{applied_migrations, url_tests};

url_tests!(migrations_are_idempotent, concurrent_connects_migrate_once);

async fn migrations_are_idempotent(url: String) {
    let first = Store::connect(&url).await.unwrap();
    first.set_setting("survives", "yes").await.unwrap();
    let applied = applied_migrations(&url).await;
    assert!(applied >= 1);
    first.close().await;

    let second = Store::connect(&url).await.unwrap();
    assert_eq!(
        second.get_setting("survives").await.unwrap().as_deref(),
        Some("yes")
    );
    assert_eq!(
        applied_migrations(&url).await,
        applied,
        "nothing re-applied"
    );
    second.close().await;

    let third = Store::connect(&url).await.unwrap();
    third.ping().await.unwrap();
    third.close().await;
    assert_eq!(applied_migrations(&url).await, applied);
}

async fn concurrent_connects_migrate_once(url: String) {
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move { Store::connect(&url).await }));
    }
    let mut stores = Vec::new();
    for t in tasks {
        stores.push(t.await.unwrap().expect("every concurrent connect succeeds"));
    }
    let applied = applied_migrations(&url).await;
    assert!(applied >= 1);
    // All handles (separate pools, like separate processes) write at once.
    let mut writers = Vec::new();
    for (i, s) in stores.iter().enumerate() {
        let s = s.clone();
        writers.push(tokio::spawn(async move {
            s.set_setting(&format!("k{i}"), "v").await.unwrap();
            let rows: Vec<_> = (0..20).map(|n| usage_row(n, None, 1)).collect();
            for _ in 0..5 {
                s.insert_usage_batch(&rows).await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let all = stores[1]
        .list_usage(&UsageFilter {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 4 * 5 * 20);
    assert_eq!(
        stores[0].get_setting("k3").await.unwrap().as_deref(),
        Some("v")
    );
    for s in stores {
        s.close().await;
    }
    assert_eq!(applied_migrations(&url).await, applied);
}
