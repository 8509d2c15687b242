//! `serve` and `keys` on PostgreSQL.

use std::time::Duration;

use reqwest::StatusCode;
use switchyard_sim::Flavor;

use crate::harness::{
    ADMIN, Dir, Gateway, UPSTREAM_KEY, channel, chat_ok, config_text, create_key, get, serve_cmd,
    sim, wait_usage, with_postgres,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_postgres_records_usage_and_stops_cleanly() {
    with_postgres(|url| async move {
        let upstream = sim(Flavor::OpenAi).await;
        let dir = Dir::new();
        let config = dir.config(&config_text(
            &url,
            &channel(
                "openai-sim",
                "openai",
                &upstream.base_url(),
                UPSTREAM_KEY,
                0,
            ),
        ));
        let mut c = serve_cmd(&config);
        c.current_dir(dir.dir.path());
        let mut gw = Gateway::start(c).await;
        let (status, body) = get(&format!("{}/readyz", gw.url), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let (key_id, key) = create_key(&config, &["--name", "pg"]).await;
        let answer = chat_ok(&gw.url, &key, "gpt-4o").await;
        let row = wait_usage(&gw.url, key_id, |r| r["status"] == 200).await;
        assert_eq!(row["key_id"], key_id);
        assert_eq!(row["requested_model"], "gpt-4o");
        assert_eq!(row["stream"], false);
        assert_eq!(
            row["total_tokens"], answer["usage"]["total_tokens"],
            "usage row {row} vs answer {answer}"
        );
        assert!(row["channel_id"].is_i64(), "{row}");

        let (status, body) = get(&format!("{}/admin/keys", gw.url), Some(ADMIN)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"][0]["name"], "pg");

        gw.stop(Duration::from_secs(10)).await;
        // Nothing touched SQLite.
        assert!(!dir.path("switchyard.db").exists());
    })
    .await;
}
