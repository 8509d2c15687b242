//! Usage log: batch inserts charge keys exactly, listing filters and order,
//! empty and large batches, and concurrent writers.

use std::sync::Arc;

use switchyard_store::{Store, UsageFilter, UsageRecord, UsageRow};

use crate::fixtures::{plain_key, usage_row};
use crate::harness::store_tests;

store_tests!(
    usage_batch_charges_keys,
    empty_batch_is_noop,
    batch_of_1000_rows,
    concurrent_batches,
);

fn filter(key_id: Option<i64>, limit: Option<i64>, before_id: Option<i64>) -> UsageFilter {
    UsageFilter {
        key_id,
        limit,
        before_id,
    }
}

fn rows_of(records: &[UsageRecord]) -> Vec<UsageRow> {
    records.iter().map(|r| r.row.clone()).collect()
}

async fn usage_batch_charges_keys(store: Store) {
    let a = store.insert_key(&plain_key("a")).await.unwrap();
    let b = store.insert_key(&plain_key("b")).await.unwrap();

    let rows = vec![
        usage_row(0, Some(a.id), 100),
        usage_row(1, Some(b.id), 7),
        usage_row(2, None, 1_000),
        usage_row(3, Some(a.id), 250),
        usage_row(4, Some(a.id), 0),
        usage_row(5, Some(b.id), 3),
    ];
    store.insert_usage_batch(&rows).await.unwrap();
    assert_eq!(store.get_key(a.id).await.unwrap().unwrap().used_micros, 350);
    assert_eq!(store.get_key(b.id).await.unwrap().unwrap().used_micros, 10);

    // A second batch adds on top.
    store
        .insert_usage_batch(&[usage_row(6, Some(a.id), 50)])
        .await
        .unwrap();
    assert_eq!(store.get_key(a.id).await.unwrap().unwrap().used_micros, 400);

    // Everything, newest first, round-trips field by field.
    let all = store.list_usage(&UsageFilter::default()).await.unwrap();
    assert_eq!(all.len(), 7);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "id desc");
    let mut expected = rows.clone();
    expected.push(usage_row(6, Some(a.id), 50));
    expected.reverse();
    assert_eq!(rows_of(&all), expected);

    // Filter by key.
    let only_a = store
        .list_usage(&filter(Some(a.id), None, None))
        .await
        .unwrap();
    let ids: Vec<&str> = only_a.iter().map(|r| &*r.row.request_id).collect();
    assert_eq!(ids, ["req-6", "req-4", "req-3", "req-0"]);

    // Limit, then keyset pagination with before_id.
    let page1 = store
        .list_usage(&filter(None, Some(3), None))
        .await
        .unwrap();
    assert_eq!(page1.len(), 3);
    assert_eq!(page1[0].id, all[0].id);
    let page2 = store
        .list_usage(&filter(None, Some(3), Some(page1[2].id)))
        .await
        .unwrap();
    assert_eq!(page2, all[3..6].to_vec());
    let last = store
        .list_usage(&filter(None, Some(3), Some(page2[2].id)))
        .await
        .unwrap();
    assert_eq!(last, all[6..].to_vec());

    // Key filter combined with before_id.
    let a_older = store
        .list_usage(&filter(Some(a.id), Some(2), Some(only_a[1].id)))
        .await
        .unwrap();
    assert_eq!(a_older, only_a[2..4].to_vec());

    // Unknown key: nothing.
    assert!(
        store
            .list_usage(&filter(Some(424_242), None, None))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn empty_batch_is_noop(store: Store) {
    let a = store.insert_key(&plain_key("a")).await.unwrap();
    store.insert_usage_batch(&[]).await.unwrap();
    assert!(
        store
            .list_usage(&UsageFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.get_key(a.id).await.unwrap().unwrap().used_micros, 0);
}

async fn batch_of_1000_rows(store: Store) {
    let keys = [
        store.insert_key(&plain_key("k1")).await.unwrap().id,
        store.insert_key(&plain_key("k2")).await.unwrap().id,
        store.insert_key(&plain_key("k3")).await.unwrap().id,
    ];
    let rows: Vec<UsageRow> = (0..1000)
        .map(|i| {
            let key = (i % 4 != 3).then(|| keys[(i % 4) as usize]);
            usage_row(i, key, i * 3 + 1)
        })
        .collect();
    let mut expected = [0i64; 3];
    for r in &rows {
        if let Some(k) = r.key_id {
            let slot = keys.iter().position(|x| *x == k).unwrap();
            expected[slot] += r.cost_micros;
        }
    }
    store.insert_usage_batch(&rows).await.unwrap();
    for (slot, id) in keys.iter().enumerate() {
        let used = store.get_key(*id).await.unwrap().unwrap().used_micros;
        assert_eq!(used, expected[slot], "key {id}");
    }

    assert_eq!(
        store
            .list_usage(&UsageFilter::default())
            .await
            .unwrap()
            .len(),
        100
    );
    let max = store
        .list_usage(&filter(None, Some(5000), None))
        .await
        .unwrap();
    assert_eq!(max.len(), 1000, "limit clamps to 1000");
    let mut newest_first = rows.clone();
    newest_first.reverse();
    assert_eq!(rows_of(&max), newest_first);

    // Page through one key's rows.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list_usage(&filter(Some(keys[1]), Some(64), before))
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        seen.extend(page.into_iter().map(|r| r.row.request_id));
    }
    assert_eq!(seen.len(), 250);
    assert_eq!(seen.first().map(|s| &**s), Some("req-997"));
    assert_eq!(seen.last().map(|s| &**s), Some("req-1"));
}

async fn concurrent_batches(store: Store) {
    const TASKS: i64 = 8;
    const BATCHES: i64 = 10;
    const ROWS: i64 = 50;
    let a = store.insert_key(&plain_key("a")).await.unwrap().id;
    let b = store.insert_key(&plain_key("b")).await.unwrap().id;

    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..BATCHES {
                let base = (t * BATCHES + n) * ROWS;
                let rows: Vec<UsageRow> = (0..ROWS)
                    .map(|i| {
                        // Alternate key order so batches touch both keys.
                        let key = if (i + t) % 2 == 0 { a } else { b };
                        usage_row(base + i, Some(key), 2)
                    })
                    .collect();
                store.insert_usage_batch(&rows).await.unwrap();
                // Interleave reads with the writes.
                store.get_key(a).await.unwrap().unwrap();
                store
                    .list_usage(&filter(Some(b), Some(10), None))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total_rows = TASKS * BATCHES * ROWS;
    let used_a = store.get_key(a).await.unwrap().unwrap().used_micros;
    let used_b = store.get_key(b).await.unwrap().unwrap().used_micros;
    assert_eq!(used_a + used_b, total_rows * 2);
    assert_eq!(used_a, used_b);
    let all = store
        .list_usage(&filter(None, Some(1000), None))
        .await
        .unwrap();
    assert_eq!(all.len() as i64, 1000.min(total_rows));
    let mut ids: Vec<Arc<str>> = all.into_iter().map(|r| r.row.request_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1000, "no duplicated rows");
}
