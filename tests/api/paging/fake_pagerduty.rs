//! A fake PagerDuty Events API v2 on 127.0.0.1: `POST /v2/enqueue` records every event and
//! answers as PagerDuty documents it (202 `{status, message, dedup_key}`), or with the next
//! scripted failure: 429 with `Retry-After`, a 5xx, or 400 with PagerDuty's error body.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::recorder::{Call, Recorder};

/// One failed answer to the next event.
#[derive(Debug, Clone)]
pub enum Failure {
    /// 429 with `Retry-After` of this many seconds.
    RateLimited(u64),
    /// This status, with an HTML body as an edge would send.
    Status(u16),
    /// 400 with this reason in `errors`.
    Invalid(&'static str),
}

#[derive(Default)]
struct Inner {
    recorder: Recorder,
    failures: Mutex<VecDeque<Failure>>,
}

/// The running fake.
#[derive(Clone)]
pub struct FakePagerDuty {
    /// `http://127.0.0.1:PORT/v2/enqueue`.
    pub events_url: String,
    inner: Arc<Inner>,
}

impl FakePagerDuty {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/v2/enqueue", post(enqueue))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let events_url = format!("http://{}/v2/enqueue", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { events_url, inner }
    }

    /// The next events get these answers, in order, before PagerDuty answers normally.
    pub fn fail(&self, failures: &[Failure]) {
        self.inner
            .failures
            .lock()
            .unwrap()
            .extend(failures.iter().cloned());
    }

    /// Every event received (also the failed ones), in order.
    pub fn events(&self) -> Vec<Value> {
        self.inner
            .recorder
            .calls()
            .into_iter()
            .map(|c| c.body)
            .collect()
    }

    /// The `event_action`s received, in order.
    pub fn actions(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["event_action"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits for `n` events.
    pub async fn wait_events(&self, n: usize) -> Vec<Call> {
        self.inner.recorder.wait_calls("enqueue", n).await
    }
}

async fn enqueue(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    inner.recorder.record("enqueue", auth, &body);
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let next = inner.failures.lock().unwrap().pop_front();
    match next {
        Some(Failure::RateLimited(seconds)) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", seconds.to_string())],
            Json(json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly."})),
        )
            .into_response(),
        Some(Failure::Status(status)) => (
            StatusCode::from_u16(status).unwrap(),
            "<html><body>upstream unavailable</body></html>",
        )
            .into_response(),
        Some(Failure::Invalid(reason)) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "invalid event", "message": "Event object is invalid", "errors": [reason]})),
        )
            .into_response(),
        None => {
            let valid = event["routing_key"].as_str().is_some_and(|k| k.len() == 32)
                && event["dedup_key"].as_str().is_some_and(|k| !k.is_empty() && k.len() <= 255)
                && matches!(
                    event["event_action"].as_str(),
                    Some("trigger" | "acknowledge" | "resolve")
                );
            if !valid {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"status": "invalid event", "message": "Event object is invalid", "errors": ["Invalid routing key or event"]})),
                )
                    .into_response();
            }
            (
                StatusCode::ACCEPTED,
                Json(json!({"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]})),
            )
                .into_response()
        }
    }
}
