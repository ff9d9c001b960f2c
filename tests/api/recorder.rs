//! What a fake API received, and waiting for it without sleeping: a call list plus a notifier
//! that wakes waiters on every new call. Shared by the fake Slack and Discord APIs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;

/// One request a fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// What was called: a Web API method, `response_url`, `PATCH /webhooks/…`, …
    pub method: String,
    /// The `Authorization` header.
    pub auth: Option<String>,
    /// The body as JSON (a string when it is not JSON).
    pub body: Value,
}

/// The calls a fake received.
#[derive(Default, Clone)]
pub struct Recorder {
    calls: Arc<Mutex<Vec<Call>>>,
    arrived: Arc<Notify>,
}

impl Recorder {
    pub fn record(&self, method: &str, auth: Option<String>, body: &[u8]) {
        let body = serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
        self.calls.lock().unwrap().push(Call {
            method: method.to_owned(),
            auth,
            body,
        });
        self.arrived.notify_waiters();
    }

    /// Wakes waiters (something other than a call changed).
    pub fn poke(&self) {
        self.arrived.notify_waiters();
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// Waits (up to 10 s) until `done` holds for the calls; panics with the calls otherwise.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Call]) -> bool) -> Vec<Call> {
        let waiting = async {
            loop {
                let notified = self.arrived.notified();
                let calls = self.calls();
                if done(&calls) {
                    return calls;
                }
                notified.await;
            }
        };
        match tokio::time::timeout(Duration::from_secs(10), waiting).await {
            Ok(calls) => calls,
            Err(_) => panic!("timed out waiting for {what}; calls: {:#?}", self.calls()),
        }
    }

    /// Waits for `n` calls of `method` and returns them.
    pub async fn wait_calls(&self, method: &str, n: usize) -> Vec<Call> {
        self.wait_for(&format!("{n} × {method}"), |calls| {
            calls.iter().filter(|c| c.method == method).count() >= n
        })
        .await
        .into_iter()
        .filter(|c| c.method == method)
        .collect()
    }
}
