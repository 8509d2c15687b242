//! Configuration errors and environment overrides, seen from the outside.

use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::{ADMIN, Dir, Gateway, command, get, run};

/// Runs `serve` in `dir` (cwd too, so a wrongly accepted config never touches the repo) and
/// expects it to refuse to start, naming `key` on stderr.
async fn refuses(dir: &Dir, config: Option<&str>, env: &[(&str, &str)], key: &str) {
    let mut c = command();
    c.arg("serve").current_dir(dir.dir.path());
    if let Some(text) = config {
        c.arg("--config").arg(dir.config(text));
    }
    // A valid free port, so only the unknown key can make it fail.
    c.env("SWITCHYARD_SERVER__LISTEN", "127.0.0.1:0");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = run(c).await;
    assert_ne!(out.code, Some(0), "started despite `{key}`: {out:?}");
    assert!(out.code.is_some(), "killed by a signal: {out:?}");
    assert!(
        out.stderr.contains(key),
        "stderr does not name `{key}`: {}",
        out.stderr
    );
    assert!(
        !out.stdout.contains("listening"),
        "it listened despite `{key}`: {out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_in_file_or_env_are_named_and_fatal() {
    let dir = Dir::new();
    refuses(
        &dir,
        Some("[server]\nlisten_addr = \"127.0.0.1:0\"\n"),
        &[],
        "listen_addr",
    )
    .await;
    refuses(
        &dir,
        Some("[sever]\nlisten = \"127.0.0.1:0\"\n"),
        &[],
        "sever",
    )
    .await;
    refuses(
        &dir,
        Some(
            "[[channels]]\nname = \"a\"\nprovider = \"openai\"\nkey = \"k\"\nmodle = [\"gpt-4o\"]\n",
        ),
        &[],
        "modle",
    )
    .await;
    refuses(&dir, None, &[("SWITCHYARD_SERVER__BOGUS", "1")], "bogus").await;
    refuses(
        &dir,
        Some("[server]\nlisten = \"127.0.0.1:0\"\n"),
        &[("SWITCHYARD_DATABASE__BOGUS", "1")],
        "bogus",
    )
    .await;
    // Nothing was created by the refused starts.
    assert!(!dir.path("switchyard.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_overrides_win_over_the_file() {
    let dir = Dir::new();
    let file_admin = "sk-admin-from-the-file-0123456789";
    // If the file's listen address were used, binding would fail (a TEST-NET address).
    let config = dir.config(&format!(
        "[server]\nlisten = \"192.0.2.1:9\"\n\n[database]\nurl = \"{}\"\n\n[auth]\nadmin_key = \"{file_admin}\"\n",
        dir.sqlite_url("file.db")
    ));
    let mut c = command();
    c.arg("serve")
        .current_dir(dir.dir.path())
        .env("SWITCHYARD_CONFIG", &config)
        .env("SWITCHYARD_SERVER__LISTEN", "127.0.0.1:0")
        .env("SWITCHYARD_DATABASE__URL", dir.sqlite_url("env.db"))
        .env("SWITCHYARD_ADMIN_KEY", ADMIN);
    let mut gw = Gateway::start(c).await;
    assert!(gw.url.starts_with("http://127.0.0.1:"), "{}", gw.url);
    assert!(dir.path("env.db").is_file(), "env database not created");
    assert!(!dir.path("file.db").exists(), "file database was used");
    assert!(
        !dir.path("switchyard.db").exists(),
        "default database was used"
    );
    assert_eq!(
        gw.stdout.len(),
        1,
        "an admin key was generated: {:?}",
        gw.stdout
    );

    let (status, _) = get(&format!("{}/admin/keys", gw.url), Some(ADMIN)).await;
    assert_eq!(status, StatusCode::OK, "env admin key refused");
    let (status, _) = get(&format!("{}/admin/keys", gw.url), Some(file_admin)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "file admin key accepted");
    gw.stop(Duration::from_secs(10)).await;
}
