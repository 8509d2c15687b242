//! Channels: upsert by name updates in place; JSON columns round-trip.

use std::collections::BTreeMap;

use switchyard_store::{NewChannel, Store};

use crate::harness::store_tests;

store_tests!(channel_upsert_in_place);

fn channel(name: &str) -> NewChannel {
    NewChannel {
        name: name.to_owned(),
        provider: "openai".to_owned(),
        base_url: "https://api.example.test/v1".to_owned(),
        key: "sk-upstream-secret".to_owned(),
        models: vec!["gpt-4o".to_owned(), "gpt-4o-mini".to_owned()],
        model_map: BTreeMap::from([
            ("gpt-4o".to_owned(), "gpt-4o-2024-08-06".to_owned()),
            ("weird \"name\" ü".to_owned(), "x'y".to_owned()),
        ]),
        priority: 10,
        weight: 3,
        enabled: true,
    }
}

async fn channel_upsert_in_place(store: Store) {
    assert!(store.list_channels().await.unwrap().is_empty());

    let first = store.upsert_channel(&channel("main")).await.unwrap();
    assert!(first.id > 0);
    assert_eq!(first.name, "main");
    assert_eq!(first.provider, "openai");
    assert_eq!(first.base_url, "https://api.example.test/v1");
    assert_eq!(first.key, "sk-upstream-secret");
    assert_eq!(first.models, channel("main").models);
    assert_eq!(first.model_map, channel("main").model_map);
    assert_eq!((first.priority, first.weight, first.enabled), (10, 3, true));
    assert_eq!(first.created_at, first.updated_at);

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let changed = NewChannel {
        provider: "anthropic".to_owned(),
        base_url: "https://other.example.test".to_owned(),
        key: "new-secret".to_owned(),
        models: vec![],
        model_map: BTreeMap::new(),
        priority: -1,
        weight: 0,
        enabled: false,
        ..channel("main")
    };
    let second = store.upsert_channel(&changed).await.unwrap();
    assert_eq!(second.id, first.id, "upsert keeps the id");
    assert_eq!(
        second.created_at, first.created_at,
        "upsert keeps created_at"
    );
    assert!(second.updated_at > first.updated_at);
    assert_eq!(second.provider, "anthropic");
    assert_eq!(second.base_url, "https://other.example.test");
    assert_eq!(second.key, "new-secret");
    assert!(second.models.is_empty());
    assert!(second.model_map.is_empty());
    assert_eq!(
        (second.priority, second.weight, second.enabled),
        (-1, 0, false)
    );

    let other = store.upsert_channel(&channel("backup")).await.unwrap();
    assert!(other.id > first.id);

    let listed = store.list_channels().await.unwrap();
    assert_eq!(listed, vec![second, other]);
}
