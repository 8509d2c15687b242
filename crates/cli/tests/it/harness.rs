//! Test harness: the `switchyard` process ([`Gateway`]), one-shot CLI runs, an HTTP client,
//! simulators and fresh PostgreSQL databases.

use std::hash::BuildHasher;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use switchyard_sim::{Flavor, OpenAiSimConfig, SimHandle, spawn_openai};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

/// The admin key written into test configs.
pub(crate) const ADMIN: &str = "sk-admin-cli-test-0123456789abcdef";

/// The upstream key the simulators accept (and channels send).
pub(crate) const UPSTREAM_KEY: &str = "sk-upstream-secret-0123456789";

/// How long a process may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A `switchyard` command with no `SWITCHYARD_*` variable inherited from the test's environment.
pub(crate) fn command() -> Command {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SWITCHYARD_") {
            c.env_remove(k);
        }
    }
    c.env("SWITCHYARD_LOG", "info");
    c
}

/// The `serve` command on `config`.
pub(crate) fn serve_cmd(config: &Path) -> Command {
    let mut c = command();
    c.arg("serve").arg("--config").arg(config);
    c
}

/// A running `switchyard` process (`serve` or `demo`), killed when dropped.
pub(crate) struct Gateway {
    child: Child,
    /// `http://IP:PORT`.
    pub(crate) url: String,
    /// Every stdout line up to and including the listening line.
    pub(crate) stdout: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Gateway {
    /// Spawns `cmd` and waits for `switchyard listening on http://…` on its stdout.
    pub(crate) async fn start(mut cmd: Command) -> Gateway {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn switchyard");
        let stderr = Arc::new(Mutex::new(String::new()));
        collect(child.stderr.take().expect("stderr"), stderr.clone());
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut gw = Gateway {
            child,
            url: String::new(),
            stdout: Vec::new(),
            stderr,
        };
        let started = Instant::now();
        loop {
            match rx.try_recv() {
                Ok(line) => {
                    let url = line
                        .strip_prefix("switchyard listening on ")
                        .map(str::to_owned);
                    gw.stdout.push(line);
                    if let Some(url) = url {
                        gw.url = url;
                        // Keep draining stdout so the process never blocks on a full pipe.
                        std::thread::spawn(move || while rx.recv().is_ok() {});
                        return gw;
                    }
                }
                Err(mpsc::TryRecvError::Disconnected) => {
                    let status = gw.wait_exit(Duration::from_secs(5)).await;
                    panic!(
                        "switchyard exited ({status}) before listening; stdout: {:?}\nstderr:\n{}",
                        gw.stdout,
                        gw.stderr()
                    );
                }
                Err(mpsc::TryRecvError::Empty) => {
                    assert!(
                        started.elapsed() < START_TIMEOUT,
                        "switchyard did not print its listening line within {START_TIMEOUT:?}; \
                         stdout: {:?}\nstderr:\n{}",
                        gw.stdout,
                        gw.stderr()
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// The rest of the stdout line that starts with `prefix`, if any.
    pub(crate) fn line_after(&self, prefix: &str) -> Option<String> {
        self.stdout
            .iter()
            .find_map(|l| l.strip_prefix(prefix).map(str::to_owned))
    }

    /// Sends SIGTERM (with the `kill` command, so the tests need no `libc`).
    pub(crate) fn sigterm(&self) {
        sigterm(self.pid());
    }

    /// Waits for the process to exit; panics after `timeout` (the process is then killed).
    pub(crate) async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if started.elapsed() > timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "switchyard did not exit within {timeout:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then asserts a clean exit (code 0) within `timeout`; returns the time it took.
    pub(crate) async fn stop(&mut self, timeout: Duration) -> Duration {
        let started = Instant::now();
        self.sigterm();
        let status = self.wait_exit(timeout).await;
        assert_eq!(
            status.code(),
            Some(0),
            "switchyard exited with {status} after SIGTERM; stderr:\n{}",
            self.stderr()
        );
        started.elapsed()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- switchyard (pid {}) stdout: {:?}\n--- stderr:\n{}",
                self.child.id(),
                self.stdout,
                self.stderr()
            );
        }
    }
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into
                    .lock()
                    .expect("stderr lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    });
}

/// Sends SIGTERM to `pid`.
pub(crate) fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM {pid} failed: {status}");
}

/// The outcome of a one-shot CLI run.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `cmd` to completion (off the async threads), failing the test after 30 s.
pub(crate) async fn run(mut cmd: Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn switchyard");
    let pid = child.id();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await;
    let out = match out {
        Ok(joined) => joined.expect("join").expect("wait"),
        Err(_) => {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            panic!("switchyard {cmd:?} did not finish within 30 s");
        }
    };
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `switchyard keys ARGS --config CONFIG`, asserted to succeed.
pub(crate) async fn keys(config: &Path, args: &[&str]) -> Output {
    let mut c = command();
    c.arg("keys").args(args).arg("--config").arg(config);
    let out = run(c).await;
    assert_eq!(out.code, Some(0), "keys {args:?} failed: {out:?}");
    out
}

/// `keys create` with `args`; returns (id, key).
pub(crate) async fn create_key(config: &Path, args: &[&str]) -> (i64, String) {
    let mut all = vec!["create"];
    all.extend_from_slice(args);
    let out = keys(config, &all).await;
    let key = out.stdout.lines().last().expect("a last line").to_owned();
    assert!(key.starts_with("sk-"), "last line is not a key: {out:?}");
    let id = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("created key id "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no key id in {out:?}"));
    (id, key)
}

/// A temporary folder with a config file in it.
pub(crate) struct Dir {
    pub(crate) dir: tempfile::TempDir,
}

impl Dir {
    pub(crate) fn new() -> Dir {
        Dir {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `sqlite://` URL of `name` in this folder.
    pub(crate) fn sqlite_url(&self, name: &str) -> String {
        format!("sqlite://{}", self.path(name).display())
    }

    /// Writes `config.toml`; returns its path.
    pub(crate) fn config(&self, text: &str) -> PathBuf {
        let p = self.path("config.toml");
        std::fs::write(&p, text).expect("write config");
        p
    }
}

/// A config on a free port with the test admin key, fast usage flushes and `extra` appended.
pub(crate) fn config_text(db_url: &str, extra: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nkeepalive_secs = 1\n\n[database]\nurl = \"{db_url}\"\n\n\
         [auth]\nadmin_key = \"{ADMIN}\"\n\n[usage]\nflush_interval_ms = 20\n\n{extra}"
    )
}

/// One `[[channels]]` entry (no `models`: the provider's defaults).
pub(crate) fn channel(
    name: &str,
    provider: &str,
    base_url: &str,
    key: &str,
    priority: i64,
) -> String {
    format!(
        "[[channels]]\nname = \"{name}\"\nprovider = \"{provider}\"\nbase_url = \"{base_url}\"\n\
         key = \"{key}\"\npriority = {priority}\n\n"
    )
}

/// A simulator of `flavor` accepting [`UPSTREAM_KEY`].
pub(crate) async fn sim(flavor: Flavor) -> SimHandle {
    sim_with(OpenAiSimConfig::new(flavor, UPSTREAM_KEY)).await
}

pub(crate) async fn sim_with(cfg: OpenAiSimConfig) -> SimHandle {
    spawn_openai(cfg).await.expect("spawn simulator")
}

/// An HTTP client that ignores proxy settings of the environment.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// GET `url` with an optional bearer token; returns status and JSON body (`Null` if not JSON).
pub(crate) async fn get(url: &str, bearer: Option<&str>) -> (StatusCode, Value) {
    let mut req = http().get(url);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let res = req.send().await.expect("GET");
    let status = res.status();
    let text = res.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// POST `body` as JSON with a bearer token; returns status and JSON body.
pub(crate) async fn post(url: &str, bearer: &str, body: &Value) -> (StatusCode, Value) {
    let res = http()
        .post(url)
        .bearer_auth(bearer)
        .json(body)
        .send()
        .await
        .expect("POST");
    let status = res.status();
    let text = res.text().await.expect("body");
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not JSON ({e}), status {status}: {text}"));
    (status, v)
}

/// A non-streaming chat completion; returns status and JSON body.
pub(crate) async fn chat(base: &str, key: &str, model: &str) -> (StatusCode, Value) {
    post(
        &format!("{base}/v1/chat/completions"),
        key,
        &json!({"model": model, "messages": [{"role": "user", "content": "hello"}]}),
    )
    .await
}

/// Asserts a 200 chat completion with a non-empty answer.
pub(crate) async fn chat_ok(base: &str, key: &str, model: &str) -> Value {
    let (status, body) = chat(base, key, model).await;
    assert_eq!(status, StatusCode::OK, "chat {model}: {body}");
    assert_eq!(body["object"], "chat.completion", "{body}");
    let text = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(!text.is_empty(), "empty answer: {body}");
    body
}

/// Asserts `body` is an OpenAI error object; returns its `code`.
pub(crate) fn error_code(body: &Value) -> String {
    let e = &body["error"];
    assert!(e["message"].is_string(), "no error.message: {body}");
    assert!(e["type"].is_string(), "no error.type: {body}");
    let obj = e.as_object().expect("error object");
    assert!(
        obj.contains_key("param") && obj.contains_key("code"),
        "error lacks param/code: {body}"
    );
    e["code"].as_str().unwrap_or_default().to_owned()
}

/// Polls `GET /admin/usage?key_id=ID` until `pred` holds for some row (5 s); returns that row.
pub(crate) async fn wait_usage(base: &str, key_id: i64, pred: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = get(&format!("{base}/admin/usage?key_id={key_id}"), Some(ADMIN)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if let Some(row) = body["data"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| pred(r)))
        {
            return row.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no matching usage row for key {key_id}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A random 64-bit value.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    std::collections::hash_map::RandomState::new().hash_one((
        std::process::id(),
        std::time::SystemTime::now(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
    ))
}

/// The admin URL of the test PostgreSQL server.
fn postgres_admin_url() -> String {
    std::env::var("SWITCHYARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    format!("{}/{db}{query}", &base[..authority_end])
}

/// Runs `f` with the URL of a fresh PostgreSQL database (`sy_cli_<random>`), dropped afterwards
/// (also when `f` panics). When PostgreSQL is unreachable: fails under `CI=true`, else explains
/// how to start it and returns without running `f`.
pub(crate) async fn with_postgres<F, Fut>(f: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin_url = postgres_admin_url();
    let mut admin = match PgConnection::connect(&admin_url).await {
        Ok(c) => c,
        Err(e) => {
            let msg = format!(
                "PostgreSQL not reachable at {} ({e}). Start it with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                 or set SWITCHYARD_TEST_POSTGRES_URL.",
                switchyard_store::redact_url(&admin_url)
            );
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{msg}");
            }
            eprintln!("SKIPPING PostgreSQL test: {msg}");
            return;
        }
    };
    let db = format!("sy_cli_{:016x}", random_u64());
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .await
        .expect("create test database");
    let outcome = tokio::spawn(f(with_database(&admin_url, &db))).await;
    admin
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
        )))
        .await
        .expect("drop test database");
    admin.close().await.ok();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Reads an SSE response to its end (or `limit`), calling `on_chunk` with the text so far after
/// each chunk; returns the whole text.
pub(crate) async fn read_stream(
    mut res: reqwest::Response,
    limit: Duration,
    mut on_chunk: impl FnMut(&str),
) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let next = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .unwrap_or_else(|_| panic!("stream did not end within {limit:?}; got:\n{text}"));
        match next {
            Ok(Some(bytes)) => {
                text.push_str(&String::from_utf8_lossy(&bytes));
                on_chunk(&text);
            }
            Ok(None) => return text,
            Err(e) => panic!("stream failed: {e}; got:\n{text}"),
        }
    }
}

#[test]
fn with_database_replaces_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "sy_cli_1"),
        "postgres://postgres@127.0.0.1:5432/sy_cli_1"
    );
    assert_eq!(
        with_database("postgres://u:p@h:1/test?sslmode=disable", "x"),
        "postgres://u:p@h:1/x?sslmode=disable"
    );
}
