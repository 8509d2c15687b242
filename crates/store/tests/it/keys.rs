//! API keys: insert, lookups, listing order, revocation, unknown ids.

use switchyard_store::{NewApiKey, Store};

use crate::fixtures::{ms, plain_key};
use crate::harness::store_tests;

store_tests!(key_lifecycle, duplicate_key_hash_is_rejected);

async fn key_lifecycle(store: Store) {
    assert!(store.list_keys().await.unwrap().is_empty());

    let before = chrono::Utc::now().timestamp_millis();
    let full = NewApiKey {
        name: "full".into(),
        key_hash: "a".repeat(64),
        key_prefix: "sk-sy-12".into(),
        quota_micros: Some(5_000_000),
        models: Some(vec!["gpt-4o".into(), "claude-3-5-sonnet".into()]),
        rpm: Some(60),
        expires_at: Some(ms(1_900_000_000_123)),
    };
    let a = store.insert_key(&full).await.unwrap();
    assert!(a.id > 0);
    assert_eq!(a.name, "full");
    assert_eq!(a.key_hash, full.key_hash);
    assert_eq!(a.key_prefix, "sk-sy-12");
    assert_eq!(a.quota_micros, Some(5_000_000));
    assert_eq!(a.used_micros, 0);
    assert_eq!(a.models, full.models);
    assert_eq!(a.rpm, Some(60));
    assert_eq!(a.expires_at, Some(ms(1_900_000_000_123)));
    assert!(!a.revoked);
    let created = a.created_at.timestamp_millis();
    assert!(created >= before && created <= chrono::Utc::now().timestamp_millis());

    let b = store.insert_key(&plain_key("plain")).await.unwrap();
    assert!(b.id > a.id);
    assert_eq!(b.models, None);
    assert_eq!(b.quota_micros, None);
    assert_eq!(b.rpm, None);
    assert_eq!(b.expires_at, None);

    // An empty allow-list is distinct from "all models".
    let mut empty = plain_key("empty-models");
    empty.models = Some(vec![]);
    let c = store.insert_key(&empty).await.unwrap();
    assert_eq!(c.models, Some(vec![]));

    assert_eq!(store.get_key(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.get_key(b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(
        store.get_key_by_hash(&full.key_hash).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.get_key_by_hash(&"f".repeat(64)).await.unwrap(), None);
    assert_eq!(store.get_key(i64::MAX).await.unwrap(), None);

    let listed = store.list_keys().await.unwrap();
    assert_eq!(listed, vec![a.clone(), b.clone(), c.clone()]);

    assert!(store.revoke_key(b.id).await.unwrap());
    let revoked = store.get_key(b.id).await.unwrap().unwrap();
    assert!(revoked.revoked);
    assert_eq!(
        revoked,
        switchyard_store::ApiKey {
            revoked: true,
            ..b.clone()
        }
    );
    // Revoking twice still finds the key; an unknown id does not.
    assert!(store.revoke_key(b.id).await.unwrap());
    assert!(!store.revoke_key(999_999).await.unwrap());
    assert!(!store.get_key(a.id).await.unwrap().unwrap().revoked);
    assert!(
        store
            .get_key_by_hash(&revoked.key_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
}

async fn duplicate_key_hash_is_rejected(store: Store) {
    let k = plain_key("one");
    store.insert_key(&k).await.unwrap();
    let err = store.insert_key(&k).await.unwrap_err();
    assert!(
        matches!(err, switchyard_store::StoreError::Database(_)),
        "{err:?}"
    );
    assert_eq!(store.list_keys().await.unwrap().len(), 1);
}
