//! One upgraded Spark connection: read the request frame, validate it the way Spark does, then
//! answer with text or function-call frames (or an error frame) and close.
//!
//! Validation order and answers (each an error frame, then close):
//! not JSON → 10003 `ClientMsgError … invalid json`; schema (types, `uid` ≤ 32, `temperature`
//! in (0, 1], `top_k` in [1, 6], `max_tokens` ≥ 1, roles system/user/assistant, string content,
//! non-empty text) → 10004 `SchemaCheckError … '$.path' …`; `header.app_id` not the configured
//! one → 11200 `AppIdNoAuthError … app_id`; a domain Spark does not know → 10003
//! `ClientMsgError … invalid model domain`; a known domain on another version's path (or the
//! retired `general` on `/v1.1/chat`) → 11200 `AppIdNoAuthError … domain.<domain>`;
//! `max_tokens` above the version's limit → 10004; a `system` turn on a version without the
//! role → 10005; a prompt over the context → 10907. A second message before the answer is
//! complete → 10007.

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::frames::{
    Tokens, describe, error_frame, function_call_frame, sid, split_even, text_frames,
};
use super::{ERROR_MARKER, SparkSimConfig, Version, known_domain};
use crate::fault::Fault;
use crate::handle::SimState;

/// What the checks extracted from a valid request.
struct Checked {
    texts: Vec<(String, String)>,
    max_tokens: Option<u64>,
    function: Option<String>,
}

type Reject = (i64, String);

fn schema(path: &str, what: &str) -> Reject {
    (10004, format!("'{path}' {what}"))
}

fn check(v: &Value, version: &Version, cfg: &SparkSimConfig) -> Result<Checked, Reject> {
    let header = v
        .get("header")
        .ok_or_else(|| schema("$.header", "is required"))?;
    let app_id = header
        .get("app_id")
        .and_then(Value::as_str)
        .ok_or_else(|| schema("$.header.app_id", "is required"))?;
    if let Some(uid) = header.get("uid") {
        let uid = uid
            .as_str()
            .ok_or_else(|| schema("$.header.uid", "must be string"))?;
        if uid.chars().count() > 32 {
            return Err(schema(
                "$.header.uid",
                "length must be less or equal than 32",
            ));
        }
    }
    let chat = v
        .pointer("/parameter/chat")
        .ok_or_else(|| schema("$.parameter.chat", "is required"))?;
    let domain = chat
        .get("domain")
        .and_then(Value::as_str)
        .ok_or_else(|| schema("$.parameter.chat.domain", "is required"))?;
    if let Some(t) = chat.get("temperature") {
        let t = t
            .as_f64()
            .ok_or_else(|| schema("$.parameter.chat.temperature", "must be number"))?;
        if !(t > 0.0 && t <= 1.0) {
            return Err(schema("$.parameter.chat.temperature", "must be in (0, 1]"));
        }
    }
    if let Some(k) = chat.get("top_k") {
        match k.as_u64() {
            Some(1..=6) => {}
            _ => {
                return Err(schema(
                    "$.parameter.chat.top_k",
                    "must be an integer in [1, 6]",
                ));
            }
        }
    }
    let max_tokens = match chat.get("max_tokens") {
        None => None,
        Some(m) => match m.as_u64() {
            Some(n) if n >= 1 => Some(n),
            _ => {
                return Err(schema(
                    "$.parameter.chat.max_tokens",
                    "must be an integer >= 1",
                ));
            }
        },
    };
    let text = v
        .pointer("/payload/message/text")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| schema("$.payload.message.text", "must be a non-empty array"))?;
    let mut texts = Vec::with_capacity(text.len());
    for (i, m) in text.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str);
        let role = match role {
            Some(r @ ("system" | "user" | "assistant")) => r,
            _ => {
                return Err(schema(
                    &format!("$.payload.message.text[{i}].role"),
                    "must be one of system, user, assistant",
                ));
            }
        };
        let content = m.get("content").and_then(Value::as_str).ok_or_else(|| {
            schema(
                &format!("$.payload.message.text[{i}].content"),
                "must be string",
            )
        })?;
        texts.push((role.to_owned(), content.to_owned()));
    }
    let functions = match v.pointer("/payload/functions/text") {
        None => Vec::new(),
        Some(f) => {
            let list = f
                .as_array()
                .ok_or_else(|| schema("$.payload.functions.text", "must be array"))?;
            let mut names = Vec::new();
            for (i, func) in list.iter().enumerate() {
                let name = func.get("name").and_then(Value::as_str).ok_or_else(|| {
                    schema(
                        &format!("$.payload.functions.text[{i}].name"),
                        "is required",
                    )
                })?;
                names.push(name.to_owned());
            }
            names
        }
    };
    if app_id != cfg.app_id {
        return Err((11200, "app_id".to_owned()));
    }
    if !known_domain(domain) {
        return Err((10003, "invalid model domain".to_owned()));
    }
    if domain != version.domain {
        return Err((11200, format!("domain.{domain}")));
    }
    if max_tokens.is_some_and(|m| m > version.max_tokens) {
        return Err(schema(
            "$.parameter.chat.max_tokens",
            &format!("must be less or equal than {}", version.max_tokens),
        ));
    }
    if !version.system_role && texts.iter().any(|(r, _)| r == "system") {
        return Err((
            10005,
            format!("role system is not supported by domain {domain}"),
        ));
    }
    let last_user = texts
        .iter()
        .rev()
        .find(|(r, _)| r == "user")
        .map(|(_, c)| c.as_str());
    let function = (version.functions && last_user.is_some_and(|t| !t.starts_with("tool result")))
        .then(|| functions.first().cloned())
        .flatten();
    Ok(Checked {
        texts,
        max_tokens,
        function,
    })
}

/// `prompt_tokens` = Σ (characters / 4 + 3) over the turns; `question_tokens` likewise for the
/// last turn.
fn count(texts: &[(String, String)]) -> (u64, u64) {
    let per = |s: &str| s.chars().count() as u64 / 4 + 3;
    let prompt = texts.iter().map(|(_, c)| per(c)).sum::<u64>().max(1);
    let question = texts.last().map(|(_, c)| per(c)).unwrap_or(1);
    (prompt, question)
}

/// Finds `sim_error:<code>` in the prompt.
fn sim_error(text: &str) -> Option<i64> {
    let start = text.find(ERROR_MARKER)? + ERROR_MARKER.len();
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Everything a session needs.
pub(super) struct Session {
    pub(super) cfg: std::sync::Arc<SparkSimConfig>,
    pub(super) sim: SimState,
    pub(super) version: Version,
    pub(super) fault: Option<Fault>,
    pub(super) alive: watch::Receiver<()>,
}

/// Waits `d`, watching the socket: a second text message is refused with 10007, a closed
/// socket ends the session. Returns false when the session must end.
async fn pause<S>(ws: &mut WebSocketStream<S>, d: Duration, sid: &str) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = Instant::now() + d;
    loop {
        tokio::select! {
            biased;
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(_) | Message::Binary(_))) => {
                    let f = error_frame(sid, 10007, describe(10007));
                    let _ = ws.send(Message::text(f)).await;
                    close(ws).await;
                    return false;
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return false,
                Some(Ok(_)) => {}
            },
            () = tokio::time::sleep_until(deadline) => return true,
        }
    }
}

async fn close<S>(ws: &mut WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    let _ = ws.close(Some(frame)).await;
    // Let the client answer the close handshake.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// Keeps the socket open without answering until the client leaves.
async fn hang<S>(ws: &mut WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(Ok(_)) = ws.next().await {}
}

impl Session {
    /// Runs the session until the answer is complete, the client leaves or the simulator stops.
    pub(super) async fn run<S>(mut self, mut ws: WebSocketStream<S>)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut alive = self.alive.clone();
        tokio::select! {
            () = self.answer(&mut ws) => {}
            _ = alive.changed() => {}
        }
    }

    async fn answer<S>(&mut self, ws: &mut WebSocketStream<S>)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let sid = sid();
        let raw = loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => break t.to_string(),
                Some(Ok(Message::Binary(b))) => break String::from_utf8_lossy(&b).into_owned(),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        };
        let json = match serde_json::from_str::<Value>(&raw) {
            Ok(v) => {
                self.sim.record_request(v.clone());
                v
            }
            Err(_) => {
                self.sim.record_request(Value::String(raw));
                return self
                    .refuse(ws, &sid, (10003, "invalid json".to_owned()))
                    .await;
            }
        };
        let checked = match check(&json, &self.version, &self.cfg) {
            Ok(c) => c,
            Err(rej) => return self.refuse(ws, &sid, rej).await,
        };
        let (prompt, question) = count(&checked.texts);
        if prompt > self.version.context_tokens {
            return self
                .refuse(ws, &sid, (10907, describe(10907).to_owned()))
                .await;
        }
        let last_user = checked
            .texts
            .iter()
            .rev()
            .find(|(r, _)| r == "user")
            .map(|(_, c)| c.clone())
            .unwrap_or_default();
        let fault = match self.fault.take() {
            Some(f) => Some(f),
            None => match Fault::from_prompt(&last_user) {
                None => None,
                Some(Err(e)) => return self.refuse(ws, &sid, (10005, e.to_string())).await,
                Some(Ok(Fault::Status { .. })) => {
                    let msg = "sim_fault: status faults happen at the handshake; queue them with push_fault";
                    return self.refuse(ws, &sid, (10005, msg.to_owned())).await;
                }
                Some(Ok(f)) => Some(f),
            },
        };
        let mut guard = self.sim.stream_guard();
        if let Some(Fault::Hang) = fault {
            return hang(ws).await;
        }
        let mut first_delay = self.cfg.latency_ms;
        if let Some(Fault::Latency { ms }) = fault {
            first_delay += ms;
        }
        let cfg = &self.cfg;
        let chunks = cfg.chunks.max(1);
        let mut frames = match (sim_error(&last_user), &checked.function) {
            (Some(code), _) => {
                let err = error_frame(&sid, code, describe(code));
                if code == 10014 {
                    // Output moderation strikes after some text went out.
                    let text = format!("Hello from spark {}: ", self.version.domain);
                    let mut f = text_frames(
                        &sid,
                        &split_even(&text, 3),
                        Tokens {
                            question,
                            prompt,
                            completion: 3,
                        },
                    );
                    f.truncate(2);
                    f.push(err);
                    f
                } else {
                    vec![err]
                }
            }
            (None, Some(name)) => {
                let tokens = Tokens {
                    question,
                    prompt,
                    completion: chunks as u64,
                };
                vec![function_call_frame(&sid, name, tokens)]
            }
            (None, None) => {
                let text = format!("Hello from spark {}: {last_user}", self.version.domain);
                let mut pieces = split_even(&text, chunks);
                if let Some(max) = checked.max_tokens
                    && (max as usize) < pieces.len()
                {
                    pieces.truncate(max as usize);
                }
                let tokens = Tokens {
                    question,
                    prompt,
                    completion: pieces.len() as u64,
                };
                text_frames(&sid, &pieces, tokens)
            }
        };
        let cut = match fault {
            Some(
                Fault::ResetMidStream { after_chunks }
                | Fault::MalformedChunk { after_chunks }
                | Fault::HangMidStream { after_chunks },
            ) => after_chunks.min(frames.len()),
            Some(Fault::ResetBeforeFirstChunk) => 0,
            _ => frames.len(),
        };
        let rest = frames.split_off(cut);
        for (i, frame) in frames.into_iter().enumerate() {
            let wait = if i == 0 {
                first_delay
            } else {
                cfg.chunk_interval_ms
            };
            if !pause(ws, Duration::from_millis(wait), &sid).await {
                return;
            }
            if ws.send(Message::text(frame)).await.is_err() {
                return;
            }
        }
        match fault {
            Some(Fault::ResetBeforeFirstChunk) | Some(Fault::ResetMidStream { .. })
                if !rest.is_empty() =>
            {
                guard.fault();
                // Dropping the socket without a close frame is a reset for the client.
                let _ = ws.flush().await;
            }
            Some(Fault::MalformedChunk { .. }) => {
                guard.fault();
                let _ = ws.send(Message::text("{not json")).await;
                close(ws).await;
            }
            Some(Fault::HangMidStream { .. }) if !rest.is_empty() => {
                guard.fault();
                hang(ws).await;
            }
            _ => {
                guard.complete();
                close(ws).await;
            }
        }
    }

    async fn refuse<S>(&self, ws: &mut WebSocketStream<S>, sid: &str, (code, detail): Reject)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let _ = ws
            .send(Message::text(error_frame(sid, code, &detail)))
            .await;
        close(ws).await;
    }
}
