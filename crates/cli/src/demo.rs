//! `switchyard demo`: simulators of every implemented provider and a gateway wired to them, on a
//! SQLite database in a temporary folder, so every model can be tried offline.

use anyhow::Context;
use switchyard_core::Config;
use switchyard_sim::{Flavor, OpenAiSimConfig, spawn_openai};

/// Runs the demo until Ctrl-C or SIGTERM.
pub(crate) async fn run(listen: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary folder")?;
    let mut channels = String::new();
    let mut sims = Vec::new();
    for (flavor, provider) in [
        (Flavor::OpenAi, "openai"),
        (Flavor::Moonshot, "moonshot"),
        (Flavor::StepFun, "stepfun"),
    ] {
        let key = format!("sk-demo-{provider}-upstream-key");
        let mut cfg = OpenAiSimConfig::new(flavor, key.clone());
        cfg.chunk_interval_ms = 30;
        let sim = spawn_openai(cfg).await.context("starting a simulator")?;
        channels.push_str(&format!(
            "[[channels]]\nname = \"{provider}-sim\"\nprovider = \"{provider}\"\nbase_url = \"{}\"\nkey = \"{key}\"\n\n",
            sim.base_url()
        ));
        sims.push(sim);
    }
    let db = dir.path().join("demo.db");
    let text = format!(
        "[server]\nlisten = \"{listen}\"\nshutdown_grace_secs = 2\n[database]\nurl = \"sqlite://{}\"\n[auth]\nadmin_key = \"{}\"\n\n{channels}",
        db.display(),
        switchyard_core::keys::generate(),
    );
    let config = Config::from_toml(&text, &[])?;
    let admin = config
        .auth
        .admin_key
        .clone()
        .map(|k| k.expose().to_owned())
        .unwrap_or_default();
    let store = switchyard_store::Store::connect(&config.database.url).await?;
    let (key, secret) = switchyard_server::create_key(
        &store,
        switchyard_server::CreateKey {
            name: "demo".into(),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!(e.message))?;
    let _ = key;
    // Bound now, so the hint below shows the real port when `listen` asks for port 0.
    let listener = crate::bind(&config).await?;
    let addr = listener.local_addr()?;
    println!(
        "demo: simulated providers openai, moonshot, stepfun (models: gpt-4, gpt-4o, moonshot-v1-8k, step-1-8k, …)"
    );
    println!("admin key: {admin}");
    println!("api key: {secret}");
    println!(
        "try: curl http://{addr}/v1/chat/completions -H 'authorization: Bearer {secret}' -H 'content-type: application/json' -d '{{\"model\":\"gpt-4o\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}]}}'"
    );
    store.close().await;
    crate::serve_on(listener, config).await?;
    drop(sims);
    Ok(())
}
