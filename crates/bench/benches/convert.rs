//! Conversion cost per stream chunk: one typical mid-stream text event of each native
//! adapter, run through its [`StreamConverter`] (provider frame → canonical OpenAI chunk), and
//! one canonical chunk through each inbound encoder (OpenAI chunk → Anthropic / Gemini events).
//!
//! `cargo bench -p switchyard-bench --bench convert` prints divan's table; `bench/run.py`
//! runs it in full mode and puts the medians in its report. Each converter first sees the
//! events a real stream opens with (Anthropic's `message_start`), then the same text event is
//! fed again and again: the steady state of a long answer.

use std::hint::black_box;

use divan::Bencher;
use switchyard_providers::inbound;
use switchyard_providers::{Emit, Provider, ResponseCtx, StreamConverter, adapter};
use switchyard_sse::Event;

fn main() {
    divan::main();
}

/// `(provider, upstream model, opening events, the repeated text event)`; an event is
/// `(event name, data)`.
type Case = (
    Provider,
    &'static str,
    &'static [(Option<&'static str>, &'static str)],
    (Option<&'static str>, &'static str),
);

const OPENAI: Case = (
    Provider::OpenAi,
    "gpt-4o-mini",
    &[],
    (
        None,
        r#"{"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}]}"#,
    ),
);

const DASHSCOPE: Case = (
    Provider::DashScope,
    "qwen-plus",
    &[],
    (
        Some("result"),
        r#"{"output":{"choices":[{"message":{"content":"通义千","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":30,"output_tokens":4,"input_tokens":26,"prompt_tokens_details":{"cached_tokens":0}},"request_id":"d30a9914-ac97-9102-b746-ce0cb35e3fa2"}"#,
    ),
);

const QIANFAN: Case = (
    Provider::Qianfan,
    "ernie-4.0-8k",
    &[],
    (
        None,
        r#"{"id":"as-vb0m37ti8y","object":"chat.completion","created":1709089502,"sentence_id":0,"is_end":false,"is_truncated":false,"result":"当然可以，","need_clear_history":false,"finish_reason":"normal","usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#,
    ),
);

const ZHIPU: Case = (
    Provider::Zhipu,
    "glm-4",
    &[],
    (
        None,
        r#"{"id":"8439641316893948328","created":1709453054,"model":"glm-4","choices":[{"index":0,"delta":{"role":"assistant","content":"你好"}}]}"#,
    ),
);

const HUNYUAN: Case = (
    Provider::Hunyuan,
    "hunyuan-lite",
    &[],
    (
        None,
        r#"{"Note":"以上内容为AI生成，不代表开发者立场，请勿删除或修改本标记","Choices":[{"FinishReason":"","Delta":{"Role":"assistant","Content":"你好"}}],"Created":1700549760,"Id":"148b89ef-14e1-489f-8e70-b767e5b27d56","Usage":{"PromptTokens":4,"CompletionTokens":2,"TotalTokens":6}}"#,
    ),
);

const SPARK: Case = (
    Provider::Spark,
    "generalv3.5",
    &[],
    (
        None,
        r#"{"header":{"code":0,"message":"Success","sid":"cht000b702a@dx18d6fb9d758b894540","status":1},"payload":{"choices":{"status":1,"seq":1,"text":[{"content":"可以通过以下","role":"assistant","index":0}]}}}"#,
    ),
);

const ANTHROPIC: Case = (
    Provider::Anthropic,
    "claude-sonnet-4-20250514",
    &[
        (
            Some("message_start"),
            r#"{"type":"message_start","message":{"id":"msg_019Q1hrJbZG26Fb9BQhrkHEr","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":377,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}"#,
        ),
        (
            Some("content_block_start"),
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
    ],
    (
        Some("content_block_delta"),
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" world"}}"#,
    ),
);

const GEMINI: Case = (
    Provider::Gemini,
    "gemini-2.0-flash",
    &[],
    (
        None,
        r#"{"candidates":[{"content":{"parts":[{"text":" world"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2,"totalTokenCount":7},"modelVersion":"gemini-2.0-flash"}"#,
    ),
);

fn event((name, data): (Option<&str>, &str)) -> Event {
    Event {
        event: name.map(str::to_owned),
        data: data.to_owned(),
        meta: None,
    }
}

/// A converter that has seen the opening events, and the text event to feed it.
fn opened(case: &Case) -> (Box<dyn StreamConverter>, Event) {
    let (provider, model, opening, text) = *case;
    let ctx = ResponseCtx {
        requested_model: "bench-model",
        upstream_model: model,
        now_unix: 1_700_000_000,
    };
    let mut conv = adapter(provider).stream_converter(&ctx);
    let mut emit = Emit::default();
    for ev in opening {
        emit.clear();
        if let Err(e) = conv.event(&event(*ev), &mut emit) {
            panic!("{provider:?}: opening event refused: {e:?}");
        }
    }
    (conv, event(text))
}

fn per_chunk(bencher: Bencher<'_, '_>, case: &Case) {
    let (mut conv, ev) = opened(case);
    let mut emit = Emit::default();
    // The event must convert to at least one chunk, or the figure means nothing.
    if conv.event(&ev, &mut emit).is_err() || emit.chunks.is_empty() {
        panic!("{:?}: the text event gave no chunk", case.0);
    }
    bencher.bench_local(move || {
        emit.clear();
        let step = conv.event(black_box(&ev), &mut emit);
        black_box((&step, &emit.chunks));
    });
}

/// Provider frame → canonical chunk, per native adapter.
mod stream_converter {
    use super::*;

    #[divan::bench]
    fn openai(b: Bencher<'_, '_>) {
        per_chunk(b, &OPENAI);
    }
    #[divan::bench]
    fn dashscope(b: Bencher<'_, '_>) {
        per_chunk(b, &DASHSCOPE);
    }
    #[divan::bench]
    fn qianfan(b: Bencher<'_, '_>) {
        per_chunk(b, &QIANFAN);
    }
    #[divan::bench]
    fn zhipu(b: Bencher<'_, '_>) {
        per_chunk(b, &ZHIPU);
    }
    #[divan::bench]
    fn hunyuan(b: Bencher<'_, '_>) {
        per_chunk(b, &HUNYUAN);
    }
    #[divan::bench]
    fn spark(b: Bencher<'_, '_>) {
        per_chunk(b, &SPARK);
    }
    #[divan::bench]
    fn anthropic(b: Bencher<'_, '_>) {
        per_chunk(b, &ANTHROPIC);
    }
    #[divan::bench]
    fn gemini(b: Bencher<'_, '_>) {
        per_chunk(b, &GEMINI);
    }
}

/// A canonical text chunk as the gateway hands it to an inbound encoder.
const CANONICAL: &[u8] = br#"{"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1700000000,"model":"bench-model","choices":[{"index":0,"delta":{"content":" world"},"finish_reason":null}]}"#;

/// Canonical chunk → the client's dialect, per inbound API.
mod inbound_encoder {
    use super::*;

    #[divan::bench]
    fn anthropic_messages(bencher: Bencher<'_, '_>) {
        let mut enc = inbound::anthropic::StreamEncoder::new("bench-model", 12);
        let _ = enc.chunk(CANONICAL);
        bencher.bench_local(move || black_box(enc.chunk(black_box(CANONICAL))));
    }

    #[divan::bench]
    fn gemini_generate_content(bencher: Bencher<'_, '_>) {
        let mut enc = inbound::gemini::StreamEncoder::new("bench-model");
        let _ = enc.chunk(CANONICAL);
        bencher.bench_local(move || black_box(enc.chunk(black_box(CANONICAL))));
    }
}
