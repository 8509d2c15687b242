//! `serve` without any configuration: the defaults, the generated admin key, health endpoints.

use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::{Dir, Gateway, command, error_code, get};

const ADMIN_LINE: &str = "admin key (shown once, only its hash is stored): ";

fn serve_in(dir: &Dir) -> std::process::Command {
    let mut c = command();
    c.arg("serve")
        .current_dir(dir.dir.path())
        // Only the port: 8080 may be taken. Everything else is the default.
        .env("SWITCHYARD_SERVER__LISTEN", "127.0.0.1:0");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_config_uses_defaults_and_prints_the_admin_key_once() {
    let dir = Dir::new();
    let db = dir.path("switchyard.db");
    assert!(!db.exists());

    let mut gw = Gateway::start(serve_in(&dir)).await;
    assert!(
        gw.url.starts_with("http://127.0.0.1:") && !gw.url.ends_with(":0"),
        "{}",
        gw.url
    );
    assert!(
        db.is_file(),
        "the default database was not created in the cwd"
    );
    let admin = gw
        .line_after(ADMIN_LINE)
        .unwrap_or_else(|| panic!("no admin key printed: {:?}", gw.stdout));
    assert!(admin.starts_with("sk-") && admin.len() > 20, "{admin}");
    assert!(
        gw.stdout[0].starts_with(ADMIN_LINE),
        "the admin key comes before the listening line: {:?}",
        gw.stdout
    );
    assert!(
        !gw.stderr().contains(&admin),
        "the admin key was logged to stderr"
    );

    let (status, body) = get(&format!("{}/healthz", gw.url), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = get(&format!("{}/readyz", gw.url), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");

    let (status, body) = get(&format!("{}/admin/keys", gw.url), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(0), "{body}");

    let wrong = format!("{admin}x");
    let (status, body) = get(&format!("{}/admin/keys", gw.url), Some(&wrong)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(error_code(&body), "invalid_api_key");
    let (status, body) = get(&format!("{}/admin/keys", gw.url), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    error_code(&body);

    gw.stop(Duration::from_secs(10)).await;

    // Second start on the same database: no new admin key; the first one still works.
    let mut gw = Gateway::start(serve_in(&dir)).await;
    assert!(
        gw.line_after(ADMIN_LINE).is_none(),
        "admin key printed again: {:?}",
        gw.stdout
    );
    assert_eq!(gw.stdout.len(), 1, "{:?}", gw.stdout);
    let (status, body) = get(&format!("{}/admin/keys", gw.url), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    gw.stop(Duration::from_secs(10)).await;
}
