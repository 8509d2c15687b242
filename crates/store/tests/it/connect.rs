//! URL handling: schemes, in-memory SQLite, file creation, password redaction.

use switchyard_store::{Store, StoreError};

#[tokio::test]
async fn unsupported_scheme_is_rejected_without_leaking_password() {
    let err = Store::connect("mysql://root:hunter2@localhost/app")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::UnsupportedScheme { scheme } if scheme == "mysql"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("hunter2"));
    assert!(!format!("{err:?}").contains("hunter2"));

    let err = Store::connect("just-a-path.db").await.unwrap_err();
    assert!(
        matches!(err, StoreError::UnsupportedScheme { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn postgres_connect_failure_hides_password() {
    // Port 1 on loopback: connection refused immediately.
    let err = Store::connect("postgres://alice:hunter2@127.0.0.1:1/app")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("alice:***@127.0.0.1:1"), "{text}");
    assert!(!format!("{err:?}").contains("hunter2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_urls_share_one_database_per_store() {
    for url in ["sqlite::memory:", "sqlite://:memory:"] {
        let store = Store::connect(url).await.unwrap();
        assert_eq!(store.backend(), "sqlite");
        store.set_setting("k", url).await.unwrap();
        // Many concurrent reads all see the write.
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let s = store.clone();
            tasks.push(tokio::spawn(
                async move { s.get_setting("k").await.unwrap() },
            ));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().as_deref(), Some(url));
        }
        let key = store
            .insert_key(&crate::fixtures::plain_key("mem"))
            .await
            .unwrap();
        store
            .insert_usage_batch(&[crate::fixtures::usage_row(1, Some(key.id), 9)])
            .await
            .unwrap();
        assert_eq!(store.get_key(key.id).await.unwrap().unwrap().used_micros, 9);
        store.close().await;
    }
    // Two in-memory stores are separate databases.
    let a = Store::connect("sqlite::memory:").await.unwrap();
    let b = Store::connect("sqlite::memory:").await.unwrap();
    a.set_setting("only-a", "1").await.unwrap();
    assert_eq!(b.get_setting("only-a").await.unwrap(), None);
}

#[tokio::test]
async fn sqlite_file_is_created_but_parent_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    assert!(!path.exists());
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert_eq!(store.backend(), "sqlite");
    store.ping().await.unwrap();
    assert!(path.exists());
    let mut raw = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        path.display()
    ))
    .await
    .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(format!("{store:?}").contains("sqlite"));
    store.close().await;

    let missing = dir.path().join("no/such/dir/x.db");
    let err = Store::connect(&format!("sqlite://{}", missing.display()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn postgres_backend_name() {
    crate::harness::run_postgres(|store| async move {
        assert_eq!(store.backend(), "postgres");
        store.ping().await.unwrap();
    })
    .await;
}
