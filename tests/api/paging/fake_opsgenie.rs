//! A fake Opsgenie Alert API on 127.0.0.1: records every call (`POST /v2/alerts`,
//! `POST /v2/alerts/{alias}/acknowledge|close?identifierType=alias`,
//! `GET /v2/alerts/requests/{id}`) and answers as Opsgenie documents it: 202
//! `{result, took, requestId}` at once, the request's outcome later (404 until processed, then
//! `{data: {success, isSuccess, status, alias, action}}`). A request can be scripted to fail.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::recorder::{Call, Recorder};

#[derive(Default)]
struct Inner {
    recorder: Recorder,
    /// Request id → (processed yet, failure status text).
    requests: Mutex<HashMap<String, (u32, Option<String>)>>,
    /// How many status reads of each request answer 404 before it is processed.
    unprocessed_reads: Mutex<u32>,
    /// Failures for the next accepted requests, in order (`None`: it works).
    failures: Mutex<VecDeque<Option<String>>>,
    next: Mutex<u32>,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeOpsgenie {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    inner: Arc<Inner>,
}

impl FakeOpsgenie {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/v2/alerts", post(create))
            .route("/v2/alerts/{alias}/{action}", post(act))
            .route("/v2/alerts/requests/{id}", get(request))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    /// Each request's status reads answer 404 this many times before it is processed.
    pub fn slow_processing(&self, reads: u32) {
        *self.inner.unprocessed_reads.lock().unwrap() = reads;
    }

    /// The next accepted request fails when processed, with this status text.
    pub fn fail_next(&self, status: &str) {
        self.inner
            .failures
            .lock()
            .unwrap()
            .push_back(Some(status.to_owned()));
    }

    /// Every call received, in order: `method` is `POST /v2/alerts`, `GET /v2/alerts/requests/…`.
    pub fn calls(&self) -> Vec<Call> {
        self.inner.recorder.calls()
    }

    /// The calls' methods and paths (with their query), in order.
    pub fn paths(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.method).collect()
    }
}

fn auth(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A 202 for an accepted request, remembered for its status read.
fn accept(inner: &Inner) -> Response {
    let mut next = inner.next.lock().unwrap();
    *next += 1;
    let id = format!("req-{next}");
    let failure = inner.failures.lock().unwrap().pop_front().flatten();
    let reads = *inner.unprocessed_reads.lock().unwrap();
    inner
        .requests
        .lock()
        .unwrap()
        .insert(id.clone(), (reads, failure));
    (
        StatusCode::ACCEPTED,
        Json(json!({"result": "Request will be processed", "took": 0.01, "requestId": id})),
    )
        .into_response()
}

fn unauthorized(headers: &HeaderMap) -> Option<Response> {
    let ok = auth(headers).is_some_and(|a| a.starts_with("GenieKey ") && a.len() > 9);
    (!ok).then(|| {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Could not authenticate", "took": 0.0, "requestId": "x"})),
        )
            .into_response()
    })
}

async fn create(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    inner
        .recorder
        .record("POST /v2/alerts", auth(&headers), &body);
    if let Some(refused) = unauthorized(&headers) {
        return refused;
    }
    let alert: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let message = alert["message"].as_str().unwrap_or_default();
    if message.is_empty() || message.chars().count() > 130 {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": "Request body is not processable", "errors": {"message": "Message can not be empty or longer than 130"}})),
        )
            .into_response();
    }
    accept(&inner)
}

async fn act(
    State(inner): State<Arc<Inner>>,
    Path((alias, action)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = query.unwrap_or_default();
    inner.recorder.record(
        &format!("POST /v2/alerts/{alias}/{action}?{query}"),
        auth(&headers),
        &body,
    );
    if let Some(refused) = unauthorized(&headers) {
        return refused;
    }
    accept(&inner)
}

async fn request(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    inner.recorder.record(
        &format!("GET /v2/alerts/requests/{id}"),
        auth(&headers),
        b"",
    );
    if let Some(refused) = unauthorized(&headers) {
        return refused;
    }
    let mut requests = inner.requests.lock().unwrap();
    let Some((reads, failure)) = requests.get_mut(&id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "Request not found"})),
        )
            .into_response();
    };
    if *reads > 0 {
        *reads -= 1;
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "Request not found. It might not be processed, yet.", "took": 0.0, "requestId": id})),
        )
            .into_response();
    }
    let (success, status) = match failure {
        Some(text) => (false, text.clone()),
        None => (true, "Created alert".to_owned()),
    };
    (
        StatusCode::OK,
        Json(json!({"data": {"success": success, "isSuccess": success, "status": status, "action": "Create", "processedAt": "2026-11-29T03:00:01.000Z"}, "took": 0.001, "requestId": id})),
    )
        .into_response()
}
