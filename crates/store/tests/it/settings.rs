//! Settings: get/set/upsert and the atomic `set_setting_if_absent`.

use switchyard_store::Store;

use crate::harness::store_tests;

store_tests!(settings_roundtrip, setting_if_absent_race);

async fn settings_roundtrip(store: Store) {
    assert_eq!(store.get_setting("admin_key_hash").await.unwrap(), None);

    store.set_setting("admin_key_hash", "aaa").await.unwrap();
    assert_eq!(
        store
            .get_setting("admin_key_hash")
            .await
            .unwrap()
            .as_deref(),
        Some("aaa")
    );

    store.set_setting("admin_key_hash", "bbb").await.unwrap();
    assert_eq!(
        store
            .get_setting("admin_key_hash")
            .await
            .unwrap()
            .as_deref(),
        Some("bbb")
    );

    assert!(
        !store
            .set_setting_if_absent("admin_key_hash", "ccc")
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_setting("admin_key_hash")
            .await
            .unwrap()
            .as_deref(),
        Some("bbb"),
        "if_absent must not overwrite"
    );

    assert!(
        store
            .set_setting_if_absent("other", "x\"y'z ü")
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_setting("other").await.unwrap().as_deref(),
        Some("x\"y'z ü")
    );
    store.ping().await.unwrap();
}

async fn setting_if_absent_race(store: Store) {
    const CALLERS: usize = 16;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CALLERS));
    let mut tasks = Vec::new();
    for i in 0..CALLERS {
        let store = store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let value = format!("v{i}");
            let won = store.set_setting_if_absent("race", &value).await.unwrap();
            (won, value)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (won, value) = t.await.unwrap();
        if won {
            winners.push(value);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one caller inserts: {winners:?}");
    assert_eq!(
        store.get_setting("race").await.unwrap(),
        Some(winners[0].clone())
    );
}
