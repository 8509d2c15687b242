//! `switchyard demo`: simulators of every implemented provider and a gateway wired to them, on a
//! SQLite database in a temporary folder, so every model can be tried offline.

use anyhow::Context;
use switchyard_core::Config;
use switchyard_sim::{
    AnthropicSimConfig, DashScopeSimConfig, Flavor, GeminiSimConfig, HunyuanSimConfig,
    OpenAiSimConfig, QianfanSimConfig, QianfanV2SimConfig, SimHandle, SparkSimConfig,
    ZhipuSimConfig, dashscope_base_url, spawn_anthropic, spawn_dashscope, spawn_gemini,
    spawn_hunyuan, spawn_openai, spawn_qianfan, spawn_qianfan_v2, spawn_spark, spawn_zhipu,
};

/// Starts one simulator of every native provider; returns (provider, base URL, key) per channel.
async fn native_sims(
    sims: &mut Vec<SimHandle>,
) -> anyhow::Result<Vec<(&'static str, String, String)>> {
    let mut out = Vec::new();
    let h = spawn_hunyuan(HunyuanSimConfig::new(
        "AKIDdemo0123456789",
        "demo-secret-key-0123",
    ))
    .await?;
    out.push((
        "hunyuan",
        h.origin(),
        "AKIDdemo0123456789|demo-secret-key-0123".to_owned(),
    ));
    sims.push(h);
    let z = spawn_zhipu(ZhipuSimConfig::new("demo0123456789.demosecret0123456789")).await?;
    out.push((
        "zhipu",
        z.origin(),
        "demo0123456789.demosecret0123456789".to_owned(),
    ));
    sims.push(z);
    let q = spawn_qianfan(QianfanSimConfig::new(
        "demo-qianfan-api-key",
        "demo-qianfan-secret",
    ))
    .await?;
    out.push((
        "qianfan",
        q.origin(),
        "demo-qianfan-api-key|demo-qianfan-secret".to_owned(),
    ));
    sims.push(q);
    let q2 = spawn_qianfan_v2(QianfanV2SimConfig::new(
        "bce-v3/ALTAK-demo/0123456789abcdef",
    ))
    .await?;
    out.push((
        "qianfan-v2",
        format!("{}/v2", q2.origin()),
        "bce-v3/ALTAK-demo/0123456789abcdef".to_owned(),
    ));
    sims.push(q2);
    let spark = SparkSimConfig::new("demoapp1", "demo-spark-api-key", "demo-spark-api-secret");
    let key = spark.channel_key();
    let sp = spawn_spark(spark).await?;
    out.push(("spark", format!("ws://{}", sp.addr()), key));
    sims.push(sp);
    let a = spawn_anthropic(AnthropicSimConfig::new("sk-ant-demo-0123456789")).await?;
    out.push(("anthropic", a.origin(), "sk-ant-demo-0123456789".to_owned()));
    sims.push(a);
    let g = spawn_gemini(GeminiSimConfig::new("AIzaDemo0123456789")).await?;
    out.push(("gemini", g.origin(), "AIzaDemo0123456789".to_owned()));
    sims.push(g);
    let d = spawn_dashscope(DashScopeSimConfig::new("sk-demo-dashscope-0123456789")).await?;
    out.push((
        "dashscope",
        dashscope_base_url(&d),
        "sk-demo-dashscope-0123456789".to_owned(),
    ));
    sims.push(d);
    Ok(out)
}

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
    for (provider, base_url, key) in native_sims(&mut sims)
        .await
        .context("starting a simulator")?
    {
        channels.push_str(&format!(
            "[[channels]]\nname = \"{provider}-sim\"\nprovider = \"{provider}\"\nbase_url = \"{base_url}\"\nkey = \"{key}\"\n\n"
        ));
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
        "demo: simulated providers openai, moonshot, stepfun, hunyuan, zhipu, qianfan, qianfan-v2, spark, anthropic, gemini, dashscope (GET /v1/models lists every model)"
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
