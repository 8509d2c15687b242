//! Faithful simulators of upstream LLM provider APIs, used by Switchyard's tests, demo and
//! benchmarks instead of mocks.
//!
//! A simulator checks credentials the way its provider does and answers in the provider's exact
//! framing, deterministically, with programmable faults ([`Fault`], see [`fault`] for the
//! `sim_fault:` prompt grammar). Each simulator is spawned on a local port and observed through a
//! [`SimHandle`].
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use switchyard_sim::{Fault, Flavor, OpenAiSimConfig, spawn_openai};
//! let sim = spawn_openai(OpenAiSimConfig::new(Flavor::OpenAi, "sk-test")).await?;
//! sim.push_fault(Fault::status(503));
//! println!("{}", sim.base_url()); // http://127.0.0.1:PORT/v1
//! # Ok(()) }
//! ```
//!
//! Modules: [`openai`] (OpenAI, Moonshot and StepFun dialects); shared plumbing in [`fault`],
//! [`handle`] and [`script`] for the simulators still to come.

pub mod anthropic;
pub mod dashscope;
pub mod fault;
pub mod gemini;
pub mod handle;
pub mod hunyuan;
pub mod openai;
pub mod qianfan;
pub mod script;
pub mod spark;
pub mod zhipu;

pub use anthropic::{AnthropicSimConfig, spawn_anthropic, spawn_anthropic_on};
pub use dashscope::{DashScopeSimConfig, dashscope_base_url, spawn_dashscope, spawn_dashscope_on};
pub use fault::{FAULT_MARKER, Fault, FaultSpecError};
pub use gemini::{GeminiSimConfig, spawn_gemini, spawn_gemini_on};
pub use handle::{SimHandle, SimState, StreamGuard, StreamOutcome, serve};
pub use hunyuan::{HunyuanSimConfig, spawn_hunyuan, spawn_hunyuan_on};
pub use openai::{Flavor, OpenAiSimConfig, openai_router, spawn_openai, spawn_openai_on};
pub use qianfan::{
    QianfanControl, QianfanSimConfig, QianfanV2SimConfig, spawn_qianfan, spawn_qianfan_on,
    spawn_qianfan_v2, spawn_qianfan_v2_on,
};
pub use spark::{SparkSimConfig, spark_router, spawn_spark, spawn_spark_on};
pub use zhipu::{ZhipuSimConfig, spawn_zhipu, spawn_zhipu_on};
