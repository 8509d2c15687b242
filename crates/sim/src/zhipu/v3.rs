//! The legacy v3 model API: `POST /api/paas/v3/model-api/{model}/invoke` (JSON, the text
//! JSON-quoted) and `…/sse-invoke` (`event:add` raw text frames, `event:finish` + `meta:`).
//! Every v3 error is HTTP 200 with `{"code":N,"msg":…,"success":false}`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::auth::Api;
use super::errors::{code_for_status, ok_json, v3_error};
use super::reply::{self, Chat, EVENT_MARKER, Plan, marker};
use super::v4::injected_error;
use super::{App, sleep_ms, sse, with_retry_after};
use crate::fault::Fault;
use crate::script::{StreamScript, scripted_body};

/// One SSE event in v3 framing: no space after the colons, a `data:` line per text line.
fn event(kind: &str, id: &str, text: &str, meta: Option<&Value>) -> Bytes {
    let mut out = format!("event:{kind}\nid:{id}\n");
    for line in text.split('\n') {
        out.push_str("data:");
        out.push_str(line);
        out.push('\n');
    }
    if let Some(meta) = meta {
        out.push_str("meta:");
        out.push_str(&meta.to_string());
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

fn usage(plan: &Plan) -> Value {
    json!({
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": plan.completion_tokens,
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
    })
}

/// The `invoke` / `sse-invoke` handler.
pub(super) async fn invoke(
    State(app): State<App>,
    Path((model, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let stream = match action.as_str() {
        "invoke" => false,
        "sse-invoke" => true,
        _ => return v3_error(1222, None, None),
    };
    let parsed = app.record(&body);
    if let Err(code) = app.auth(&headers, Api::V3) {
        return v3_error(code, None, None);
    }
    if !app.cfg.knows(&model) || !model.starts_with("chatglm") {
        return v3_error(1211, None, None);
    }
    let Some(body) = parsed.filter(Value::is_object) else {
        return v3_error(1210, None, None);
    };
    let chat = match reply::parse_v3(&body, &model, stream) {
        Ok(c) => c,
        Err(e) => return v3_error(e.code, None, Some(&e.message)),
    };
    if let Some(resp) = injected_error(&chat.last_user_text, v3_error) {
        return resp;
    }
    let fault = match app.fault(&chat.last_user_text) {
        Ok(f) => f,
        Err(msg) => return v3_error(1210, None, Some(&msg)),
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
                Some(raw) => ok_json(raw.clone()),
                None => v3_error(code_for_status(*status), None, None),
            };
            let mut resp = with_retry_after(resp, *retry_after);
            *resp.status_mut() = axum::http::StatusCode::from_u16(*status)
                .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
            return resp;
        }
        Some(Fault::Hang) => futures::future::pending::<()>().await,
        Some(Fault::Latency { ms }) => latency += ms,
        _ => {}
    }
    let plan = reply::plan(&chat, app.cfg.chunks);
    let task_id = reply::numeric_id();
    if stream {
        let script = StreamScript {
            events: stream_events(&chat, &plan, &task_id),
            trailer: None,
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
    // The default `return_type` is `json_string`: the text arrives as a JSON string literal.
    let quoted = Value::String(plan.pieces.concat()).to_string();
    ok_json(
        json!({
            "code": 200, "msg": "操作成功", "success": true,
            "data": {
                "request_id": task_id, "task_id": task_id, "task_status": "SUCCESS",
                "choices": [{"role": "assistant", "content": quoted}],
                "usage": usage(&plan),
            },
        })
        .to_string(),
    )
}

/// `add` events (deltas, or the whole text so far with `incremental:false`), then `finish`
/// with the usage in `meta:` — or `error` / `interrupted` when the prompt asks for it.
fn stream_events(chat: &Chat, plan: &Plan, task_id: &str) -> Vec<Bytes> {
    let mut so_far = String::new();
    let mut out: Vec<Bytes> = plan
        .pieces
        .iter()
        .map(|p| {
            so_far.push_str(p);
            let text = if chat.incremental {
                p.as_str()
            } else {
                so_far.as_str()
            };
            event("add", task_id, text, None)
        })
        .collect();
    match marker(&chat.last_user_text, EVENT_MARKER) {
        Some(kind @ ("error" | "interrupted")) => {
            out.push(event(kind, task_id, "服务异常，请稍后重试", None));
        }
        _ => {
            let meta = json!({
                "task_status": "SUCCESS", "usage": usage(plan),
                "task_id": task_id, "request_id": task_id,
            });
            out.push(event("finish", task_id, "", Some(&meta)));
        }
    }
    out
}
