//! `POST /api/paas/v4/chat/completions` and `POST /api/paas/v4/embeddings`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::auth::Api;
use super::errors::{code_for_status, lookup, ok_json, v4_error};
use super::reply::{self, Chat, ERROR_MARKER, FINISH_MARKER, Plan, marker};
use super::{App, sleep_ms, sse, with_retry_after};
use crate::fault::Fault;
use crate::script::{StreamScript, scripted_body};

fn now_secs() -> u64 {
    super::now_ms() / 1000
}

/// The `sim_error:<code>` answer, if the prompt asks for one.
pub(super) fn injected_error(
    text: &str,
    respond: fn(u32, Option<u16>, Option<&str>) -> Response,
) -> Option<Response> {
    let code = marker(text, ERROR_MARKER)?;
    Some(
        match code.parse::<u32>().ok().filter(|c| lookup(*c).is_some()) {
            Some(c) => respond(c, None, None),
            None => respond(
                1210,
                Some(400),
                Some(&format!("sim_error: unknown code `{code}`")),
            ),
        },
    )
}

/// Resolves the model of a v4 body: missing → 1213, unknown (or not a v4 chat model) → 1211.
fn chat_model(app: &App, body: &Value) -> Result<String, Box<Response>> {
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return Err(Box::new(v4_error(
            1213,
            None,
            Some("未正常接收到model参数。"),
        )));
    };
    if !app.cfg.knows(model) || model.starts_with("chatglm") || model.starts_with("embedding") {
        return Err(Box::new(v4_error(1211, None, None)));
    }
    Ok(model.to_owned())
}

/// The chat handler.
pub(super) async fn chat(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed = app.record(&body);
    if let Err(code) = app.auth(&headers, Api::V4) {
        return v4_error(code, None, None);
    }
    let Some(body) = parsed.filter(Value::is_object) else {
        return v4_error(1210, None, None);
    };
    let model = match chat_model(&app, &body) {
        Ok(m) => m,
        Err(resp) => return *resp,
    };
    let chat = match reply::parse_v4(&body, &model) {
        Ok(c) => c,
        Err(e) => return v4_error(e.code, None, Some(&e.message)),
    };
    if let Some(resp) = injected_error(&chat.last_user_text, v4_error) {
        return resp;
    }
    let fault = match app.fault(&chat.last_user_text) {
        Ok(f) => f,
        Err(msg) => return v4_error(1210, Some(400), Some(&msg)),
    };
    let mut latency = app.cfg.latency_ms;
    match &fault {
        Some(Fault::Status {
            status,
            body,
            retry_after,
        }) => {
            sleep_ms(latency).await;
            let resp = match body {
                Some(raw) => {
                    let mut r = ok_json(raw.clone());
                    *r.status_mut() = axum::http::StatusCode::from_u16(*status)
                        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
                    r
                }
                None => v4_error(code_for_status(*status), Some(*status), None),
            };
            return with_retry_after(resp, *retry_after);
        }
        Some(Fault::Hang) => futures::future::pending::<()>().await,
        Some(Fault::Latency { ms }) => latency += ms,
        _ => {}
    }
    let mut plan = reply::plan(&chat, app.cfg.chunks);
    match marker(&chat.last_user_text, FINISH_MARKER) {
        Some("sensitive") => plan.finish = "sensitive",
        Some("network_error") => plan.finish = "network_error",
        _ => {}
    }
    let id = reply::numeric_id();
    let created = now_secs();
    if chat.stream {
        let events = stream_events(&chat, &plan, &id, created)
            .into_iter()
            .map(|e| Bytes::from(format!("data: {e}\n\n")))
            .collect();
        let script = StreamScript {
            events,
            trailer: Some(Bytes::from_static(b"data: [DONE]\n\n")),
            first_delay: Duration::from_millis(latency),
            interval: Duration::from_millis(app.cfg.chunk_interval_ms),
            malformed: Bytes::from_static(b"data: {not json\n\n"),
        };
        let body = scripted_body(
            script.into_steps(fault.as_ref()),
            Some(app.sim.stream_guard()),
        );
        return sse(body, "text/event-stream;charset=UTF-8");
    }
    sleep_ms(latency).await;
    let answer = completion(&chat, &plan, &id, created).to_string();
    match fault {
        Some(
            ref f @ (Fault::ResetBeforeFirstChunk
            | Fault::ResetMidStream { .. }
            | Fault::MalformedChunk { .. }
            | Fault::HangMidStream { .. }),
        ) => {
            let bytes = Bytes::from(answer);
            let mid = bytes.len() / 2;
            let script = StreamScript {
                events: vec![bytes.slice(..mid), bytes.slice(mid..)],
                trailer: None,
                first_delay: Duration::ZERO,
                interval: Duration::ZERO,
                malformed: Bytes::from_static(b"{not json"),
            };
            let clamp = |n: &usize| (*n).min(1);
            let f = match f {
                Fault::ResetMidStream { after_chunks } => Fault::ResetMidStream {
                    after_chunks: clamp(after_chunks),
                },
                Fault::MalformedChunk { after_chunks } => Fault::MalformedChunk {
                    after_chunks: clamp(after_chunks),
                },
                Fault::HangMidStream { after_chunks } => Fault::HangMidStream {
                    after_chunks: clamp(after_chunks),
                },
                other => other.clone(),
            };
            let mut resp = Response::new(scripted_body(script.into_steps(Some(&f)), None));
            resp.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            );
            resp
        }
        _ => ok_json(answer),
    }
}

fn usage(plan: &Plan) -> Value {
    json!({
        "completion_tokens": plan.completion_tokens,
        "prompt_tokens": plan.prompt_tokens,
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
    })
}

fn tool_call(plan: &Plan, id: &str) -> Option<Value> {
    plan.tool.as_ref().map(|(name, args)| {
        json!({"function": {"arguments": args, "name": name}, "id": format!("call_{id}"), "index": 0, "type": "function"})
    })
}

/// The non-stream answer (no `object` field, `request_id` equal to `id`).
fn completion(chat: &Chat, plan: &Plan, id: &str, created: u64) -> Value {
    let mut message = json!({"content": plan.pieces.concat(), "role": "assistant"});
    if let Some(call) = tool_call(plan, id) {
        message["tool_calls"] = json!([call]);
    }
    json!({
        "choices": [{"finish_reason": plan.finish, "index": 0, "message": message}],
        "created": created, "id": id, "model": chat.model, "request_id": id,
        "usage": usage(plan),
    })
}

/// The stream chunks: one per piece (or one whole tool call), then the finish chunk with usage.
fn stream_events(chat: &Chat, plan: &Plan, id: &str, created: u64) -> Vec<String> {
    let chunk = |delta: Value| json!({"id": id, "created": created, "model": chat.model, "choices": [{"index": 0, "delta": delta}]});
    let mut out: Vec<String> = plan
        .pieces
        .iter()
        .map(|p| chunk(json!({"role": "assistant", "content": p})).to_string())
        .collect();
    if let Some(call) = tool_call(plan, id) {
        out.push(chunk(json!({"role": "assistant", "tool_calls": [call]})).to_string());
    }
    let last = json!({
        "id": id, "created": created, "model": chat.model,
        "choices": [{"index": 0, "finish_reason": plan.finish, "delta": {"role": "assistant", "content": ""}}],
        "usage": usage(plan),
    });
    out.push(last.to_string());
    out
}

/// The embeddings handler: `embedding-2` (1024 dimensions, one text) and `embedding-3`
/// (a list, `dimensions` 256/512/1024/2048, default 2048).
pub(super) async fn embeddings(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = app.record(&body);
    if let Err(code) = app.auth(&headers, Api::V4) {
        return v4_error(code, None, None);
    }
    let Some(body) = parsed.filter(Value::is_object) else {
        return v4_error(1210, None, None);
    };
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return v4_error(1213, None, Some("未正常接收到model参数。"));
    };
    if !app.cfg.knows(model) || !model.starts_with("embedding") {
        return v4_error(1211, None, None);
    }
    let legacy = model == "embedding-2";
    let texts: Vec<String> = match body.get("input") {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(items))
            if !items.is_empty() && (!legacy || items.len() == 1) && items.len() <= 64 =>
        {
            match items
                .iter()
                .map(|i| i.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
                .collect()
            {
                Some(t) => t,
                None => return v4_error(1214, None, Some("input参数非法。请检查文档。")),
            }
        }
        None | Some(Value::Null) => return v4_error(1213, None, Some("未正常接收到input参数。")),
        Some(_) => return v4_error(1214, None, Some("input参数非法。请检查文档。")),
    };
    let dims = match (legacy, body.get("dimensions")) {
        (true, _) | (false, None | Some(Value::Null)) => {
            if legacy {
                1024
            } else {
                2048
            }
        }
        (false, Some(v)) => match v.as_u64().filter(|d| [256, 512, 1024, 2048].contains(d)) {
            Some(d) => d as usize,
            None => return v4_error(1214, None, Some("dimensions参数非法。请检查文档。")),
        },
    };
    let tokens: u64 = texts
        .iter()
        .map(|t| (t.chars().count() as u64 / 4).max(1))
        .sum();
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"embedding": crate::openai::embed(t, dims), "index": i, "object": "embedding"}))
        .collect();
    ok_json(
        json!({"model": model, "data": data, "object": "list",
            "usage": {"completion_tokens": 0, "prompt_tokens": tokens, "total_tokens": tokens}})
        .to_string(),
    )
}
