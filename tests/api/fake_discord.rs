//! A fake Discord REST API on 127.0.0.1: records every request as `METHOD /path` (with the
//! interaction token shown as `{token}`) and answers with Discord's shapes; can answer 429 or
//! an HTTP error.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::recorder::Recorder;

#[derive(Default)]
struct Inner {
    recorder: Recorder,
    /// The gateway's `ws://` URL, and the connections that identified.
    gateway_url: Mutex<String>,
    sessions: Mutex<Vec<tokio::sync::mpsc::UnboundedSender<String>>>,
    /// Calls starting with this (`PATCH /webhooks`) answer 429, this many times.
    rate_limited: Mutex<(String, usize)>,
    /// Calls starting with this answer this HTTP status, this many times.
    failing: Mutex<(String, usize, u16)>,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeDiscord {
    /// `http://127.0.0.1:PORT`, the `discord.api_url`.
    pub url: String,
    inner: Arc<Inner>,
}

impl FakeDiscord {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new().fallback(any).with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let gateway = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        *inner.gateway_url.lock().unwrap() = format!("ws://{}", gateway.local_addr().unwrap());
        tokio::spawn(gateway_sessions(gateway, Arc::clone(&inner)));
        Self { url, inner }
    }

    /// Sends a gateway dispatch (`INTERACTION_CREATE`, …) on the first session that identified,
    /// waiting for one.
    pub async fn dispatch(&self, event: &str, data: Value) {
        self.wait_for("an identified gateway session", |_| {
            !self.inner.sessions.lock().unwrap().is_empty()
        })
        .await;
        let session = self.inner.sessions.lock().unwrap()[0].clone();
        let frame = json!({"op": 0, "s": 2, "t": event, "d": data});
        session.send(frame.to_string()).unwrap();
    }

    /// The next `n` calls whose `METHOD /path` starts with `calls` answer HTTP `status` (a 500,
    /// a 502 from Discord's edge) with an HTML page.
    pub fn fail_next(&self, calls: &str, n: usize, status: u16) {
        *self.inner.failing.lock().unwrap() = (calls.to_owned(), n, status);
    }

    /// The next `n` calls whose `METHOD /path` starts with `calls` answer 429 with
    /// `retry_after` 0.2 s.
    pub fn rate_limit_next(&self, calls: &str, n: usize) {
        *self.inner.rate_limited.lock().unwrap() = (calls.to_owned(), n);
    }
}

impl std::ops::Deref for FakeDiscord {
    type Target = Recorder;

    fn deref(&self) -> &Recorder {
        &self.inner.recorder
    }
}

/// A message object as Discord returns it.
fn message(channel: &str, body: &Value) -> Value {
    json!({
        "id": "1300000000000000001", "channel_id": channel, "type": 0,
        "content": body["content"].as_str().unwrap_or(""),
        "embeds": body["embeds"].clone(),
        "author": {"id": "1180000000000000000", "username": "firewatch", "discriminator": "0", "bot": true},
        "timestamp": "2026-11-29T03:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "pinned": false
    })
}

async fn any(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_start_matches("/api/v10");
    let parts: Vec<&str> = path.split('/').collect();
    // Tokens are secrets in real life; the recorded name shows where one was.
    let shown: Vec<&str> = match parts.as_slice() {
        ["", "webhooks", app, _token, rest @ ..] => {
            [&["", "webhooks", *app, "{token}"][..], rest].concat()
        }
        ["", "interactions", id, _token, "callback"] => {
            vec!["", "interactions", *id, "{token}", "callback"]
        }
        _ => parts.clone(),
    };
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let name = format!("{method} {}", shown.join("/"));
    inner.recorder.record(&name, auth, &body);
    {
        let mut limited = inner.rate_limited.lock().unwrap();
        let (prefix, left) = &mut *limited;
        if *left > 0 && name.starts_with(prefix.as_str()) {
            *left -= 1;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({"message": "You are being rate limited.", "retry_after": 0.2, "global": false})),
            )
                .into_response();
        }
    }
    {
        let mut failing = inner.failing.lock().unwrap();
        let (prefix, left, status) = &mut *failing;
        if *left > 0 && name.starts_with(prefix.as_str()) {
            *left -= 1;
            let status = StatusCode::from_u16(*status).unwrap();
            return (status, "<html><body>upstream error</body></html>").into_response();
        }
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match (method.as_str(), shown.as_slice()) {
        ("POST", ["", "channels", channel, "messages"]) => {
            axum::Json(message(channel, &request)).into_response()
        }
        ("PATCH", ["", "channels", channel, "messages", _id]) => {
            axum::Json(message(channel, &request)).into_response()
        }
        ("POST" | "PATCH", ["", "webhooks", ..]) => {
            axum::Json(message("1160000000000000000", &request)).into_response()
        }
        ("POST", ["", "interactions", ..]) => StatusCode::NO_CONTENT.into_response(),
        ("DELETE", ["", "webhooks", .., "messages", "@original"]) => {
            StatusCode::NO_CONTENT.into_response()
        }
        ("GET", ["", "gateway"]) => {
            let url = inner.gateway_url.lock().unwrap().clone();
            axum::Json(json!({"url": url})).into_response()
        }
        ("PUT", ["", "applications", ..]) => {
            let registered: Vec<Value> = request
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, c)| {
                    let mut c = c.clone();
                    c["id"] = json!(format!("14000000000000000{i:02}"));
                    c["application_id"] = json!("1180000000000000000");
                    c["version"] = json!("1");
                    c
                })
                .collect();
            axum::Json(Value::Array(registered)).into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "404: Not Found", "code": 0})),
        )
            .into_response(),
    }
}

/// The gateway: HELLO, then READY once the client identifies (op 2); every frame the client sends
/// is recorded as `gateway op N`. Frames are plain JSON text (no compression).
async fn gateway_sessions(listener: tokio::net::TcpListener, inner: Arc<Inner>) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    while let Ok((stream, _)) = listener.accept().await {
        let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
            continue;
        };
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let hello = json!({"op": 10, "d": {"heartbeat_interval": 45000}});
        tx.send(hello.to_string()).unwrap();
        tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        let inner = Arc::clone(&inner);
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                let Message::Text(text) = frame else { continue };
                let value: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                let op = value["op"].as_i64().unwrap_or(-1);
                inner
                    .recorder
                    .record(&format!("gateway op {op}"), None, text.as_bytes());
                match op {
                    // Heartbeat → heartbeat ACK.
                    1 => {
                        let _ = tx.send(json!({"op": 11}).to_string());
                    }
                    // Identify → READY, and the session takes dispatches.
                    2 => {
                        let url = inner.gateway_url.lock().unwrap().clone();
                        let ready = json!({"op": 0, "s": 1, "t": "READY", "d": {
                            "v": 10,
                            "user": {"id": "1180000000000000000", "username": "firewatch",
                                     "discriminator": "0", "global_name": null, "avatar": null,
                                     "bot": true, "verified": true, "mfa_enabled": false, "flags": 0},
                            "guilds": [], "session_id": "fake-session",
                            "resume_gateway_url": url, "shard": [0, 1],
                            "application": {"id": "1180000000000000000", "flags": 0}
                        }});
                        let _ = tx.send(ready.to_string());
                        inner.sessions.lock().unwrap().push(tx.clone());
                        inner.recorder.poke();
                    }
                    _ => {}
                }
            }
        });
    }
}
