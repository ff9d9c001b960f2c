//! A fake Slack Web API on 127.0.0.1: records every request (method, auth, body) and answers
//! like Slack does, with switches for 429s, 5xx, stalls and channel errors, and keeps the
//! messages it took (`chat.postMessage` answered `ok`).

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::recorder::Recorder;

#[derive(Default)]
struct Inner {
    url: Mutex<String>,
    ws_url: Mutex<String>,
    sockets: Mutex<Vec<tokio::sync::mpsc::UnboundedSender<String>>>,
    recorder: Recorder,
    rate_limited: Mutex<usize>,
    held: Mutex<Option<Arc<tokio::sync::Semaphore>>>,
    not_in: Mutex<Vec<String>>,
    /// What the next `chat.postMessage` calls get, in order, before Slack answers normally.
    outage: Mutex<std::collections::VecDeque<Outage>>,
    /// The messages posted (`chat.postMessage` answered `ok`), in order.
    posted: Mutex<Vec<Value>>,
}

/// One failed answer to `chat.postMessage`.
#[derive(Debug, Clone, Copy)]
pub enum Outage {
    /// An HTTP error status with an HTML page, as Slack's edge sends.
    Status(u16),
    /// No answer for a minute (the caller times out first), then a 503.
    Stall,
    /// 429 with `Retry-After` of this many seconds.
    RateLimited(u64),
}

/// The running fake.
#[derive(Clone)]
pub struct FakeSlack {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    inner: Arc<Inner>,
}

impl FakeSlack {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/api/{method}", post(api).get(api_get))
            .route("/respond/{id}", post(respond))
            .route("/upload/{id}", post(upload))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        *inner.url.lock().unwrap() = url.clone();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        *inner.ws_url.lock().unwrap() = format!("ws://{}/link", ws.local_addr().unwrap());
        tokio::spawn(sockets(ws, Arc::clone(&inner)));
        Self { url, inner }
    }

    /// Sends a Socket Mode envelope on the first open connection (waiting for one).
    pub async fn send_envelope(&self, envelope: Value) {
        self.wait_for("a socket mode connection", |_| {
            !self.inner.sockets.lock().unwrap().is_empty()
        })
        .await;
        let first = self.inner.sockets.lock().unwrap()[0].clone();
        first.send(envelope.to_string()).unwrap();
    }

    /// The `response_url` to put in a slash command.
    pub fn response_url(&self, id: &str) -> String {
        format!("{}/respond/{id}", self.url)
    }

    /// The next `n` calls answer 429 with `Retry-After: 1`.
    pub fn rate_limit_next(&self, n: usize) {
        *self.inner.rate_limited.lock().unwrap() = n;
    }

    /// Web API calls and `response_url` posts wait (recorded, unanswered) until the returned
    /// gate gets permits: a slow Slack.
    pub fn hold(&self) -> Arc<tokio::sync::Semaphore> {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        *self.inner.held.lock().unwrap() = Some(Arc::clone(&gate));
        gate
    }

    /// The next `chat.postMessage` calls get `answers`, one each, in order; then Slack recovers.
    pub fn outage(&self, answers: &[Outage]) {
        self.inner
            .outage
            .lock()
            .unwrap()
            .extend(answers.iter().copied());
    }

    /// The messages Slack took (`chat.postMessage` answered `ok`), in order.
    pub fn posted(&self) -> Vec<Value> {
        self.inner.posted.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until Slack took `n` messages; returns them.
    pub async fn wait_posted(&self, n: usize) -> Vec<Value> {
        self.wait_for(&format!("{n} messages posted"), |_| {
            self.posted().len() >= n
        })
        .await;
        self.posted()
    }

    /// Posts into `channel` fail with `not_in_channel`.
    pub fn refuse_channel(&self, channel: &str) {
        self.inner.not_in.lock().unwrap().push(channel.into());
    }
}

impl std::ops::Deref for FakeSlack {
    type Target = Recorder;

    fn deref(&self) -> &Recorder {
        &self.inner.recorder
    }
}

fn record(inner: &Inner, method: &str, headers: &HeaderMap, body: &Bytes) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    inner.recorder.record(method, auth, body);
}

fn limited(inner: &Inner) -> Option<Response> {
    let mut left = inner.rate_limited.lock().unwrap();
    if *left == 0 {
        return None;
    }
    *left -= 1;
    Some(
        (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            Json(json!({"ok": false, "error": "ratelimited"})),
        )
            .into_response(),
    )
}

async fn api(
    State(inner): State<Arc<Inner>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&inner, &method, &headers, &body);
    let gate = inner.held.lock().unwrap().clone();
    if let Some(gate) = gate {
        gate.acquire().await.unwrap().forget();
    }
    if let Some(answer) = limited(&inner) {
        return answer;
    }
    if method == "chat.postMessage" {
        let outage = inner.outage.lock().unwrap().pop_front();
        match outage {
            Some(Outage::Status(status)) => {
                let status = StatusCode::from_u16(status).unwrap();
                return (status, "<html><body>upstream error</body></html>").into_response();
            }
            Some(Outage::Stall) => {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            Some(Outage::RateLimited(seconds)) => {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", seconds.to_string())],
                    Json(json!({"ok": false, "error": "ratelimited"})),
                )
                    .into_response();
            }
            None => {}
        }
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Err(problem) = valid_blocks(&request) {
        return Json(json!({"ok": false, "error": "invalid_blocks", "errors": [problem]}))
            .into_response();
    }
    let channel = request["channel"].as_str().unwrap_or_default().to_owned();
    if inner.not_in.lock().unwrap().contains(&channel) {
        return Json(json!({"ok": false, "error": "not_in_channel"})).into_response();
    }
    if method == "chat.postMessage" {
        inner.posted.lock().unwrap().push(request.clone());
        inner.recorder.poke();
    }
    let answer = match method.as_str() {
        "chat.postMessage" => json!({
            "ok": true, "channel": channel, "ts": "1764385200.000100",
            "message": {"ts": "1764385200.000100", "text": request["text"], "type": "message"}
        }),
        "chat.postEphemeral" => json!({"ok": true, "message_ts": "1764385200.000200"}),
        "chat.update" => json!({
            "ok": true, "channel": channel, "ts": request["ts"],
            "message": {"text": request["text"], "type": "message"}
        }),
        "conversations.create" => json!({
            "ok": true,
            "channel": {"id": "CINC0001", "created": 1764385200, "name": request["name"], "is_channel": true}
        }),
        "files.completeUploadExternal" => json!({
            "ok": true,
            "files": [{"id": request["files"][0]["id"], "title": request["files"][0]["title"]}]
        }),
        "apps.connections.open" => json!({"ok": true, "url": *inner.ws_url.lock().unwrap()}),
        "conversations.invite" => json!({
            "ok": true,
            "channel": {"id": channel, "created": 1764385200, "is_channel": true}
        }),
        _ => json!({"ok": false, "error": "unknown_method"}),
    };
    Json(answer).into_response()
}

/// GET methods (`files.getUploadURLExternal`): the query is recorded as the body.
async fn api_get(
    State(inner): State<Arc<Inner>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let query: serde_json::Map<String, Value> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(uri.query().unwrap_or_default())
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
    let body = Value::Object(query).to_string();
    record(&inner, &method, &headers, &Bytes::from(body));
    match method.as_str() {
        "users.info" => {
            let user = query_user(&uri);
            Json(json!({"ok": true, "user": {"id": user, "name": user.trim_start_matches('U').to_lowercase()}}))
                .into_response()
        }
        "files.getUploadURLExternal" => {
            let url = inner.url.lock().unwrap().clone();
            Json(json!({"ok": true, "upload_url": format!("{url}/upload/F0001"), "file_id": "F0001"}))
                .into_response()
        }
        _ => Json(json!({"ok": false, "error": "unknown_method"})).into_response(),
    }
}

fn query_user(uri: &axum::http::Uri) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(uri.query().unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == "user")
        .map(|(_, v)| v)
        .unwrap_or_default()
}

/// The upload URL: takes the file's bytes.
async fn upload(
    State(inner): State<Arc<Inner>>,
    Path(_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&inner, "upload", &headers, &body);
    (StatusCode::OK, "OK - 1").into_response()
}

async fn respond(
    State(inner): State<Arc<Inner>>,
    Path(_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&inner, "response_url", &headers, &body);
    let gate = inner.held.lock().unwrap().clone();
    if let Some(gate) = gate {
        gate.acquire().await.unwrap().forget();
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match valid_blocks(&request) {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "invalid_blocks").into_response(),
    }
}

/// Block Kit's documented limits, as Slack enforces them (`invalid_blocks`).
fn valid_blocks(request: &Value) -> Result<(), String> {
    let Some(blocks) = request["blocks"].as_array() else {
        return Ok(());
    };
    let chars = |v: &Value| v.as_str().map_or(0, |t| t.chars().count());
    if blocks.len() > 50 {
        return Err(format!("{} blocks", blocks.len()));
    }
    for block in blocks {
        let text = &block["text"]["text"];
        match block["type"].as_str() {
            Some("header") if chars(text) == 0 || chars(text) > 150 => {
                return Err("header text".into());
            }
            Some("section") => {
                let fields = block["fields"].as_array().cloned().unwrap_or_default();
                if chars(text) > 3000
                    || fields.len() > 10
                    || fields.iter().any(|f| chars(&f["text"]) > 2000)
                {
                    return Err("section too long".into());
                }
            }
            Some("actions") => {
                let elements = block["elements"].as_array().cloned().unwrap_or_default();
                if elements.len() > 25 || elements.iter().any(|e| chars(&e["value"]) > 2000) {
                    return Err("actions".into());
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Accepts Socket Mode websockets: says hello, records every frame the client sends as a
/// `socket` call, and sends what [`FakeSlack::send_envelope`] queues.
async fn sockets(listener: tokio::net::TcpListener, inner: Arc<Inner>) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    while let Ok((stream, _)) = listener.accept().await {
        let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
            continue;
        };
        let (mut sink, mut stream) = ws.split();
        let hello = json!({
            "type": "hello", "num_connections": 1,
            "debug_info": {"host": "fake", "approximate_connection_time": 18060},
            "connection_info": {"app_id": "A123456"}
        });
        if sink.send(Message::text(hello.to_string())).await.is_err() {
            continue;
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        inner.sockets.lock().unwrap().push(tx);
        inner.recorder.poke();
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
                if let Message::Text(text) = frame {
                    inner.recorder.record("socket", None, text.as_bytes());
                }
            }
        });
    }
}
