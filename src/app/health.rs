//! `GET /healthz`, `GET /readyz` and `GET /metrics` of `firewatch serve`.
//!
//! - `/healthz`: 200 `ok` while the process answers.
//!
//! - `/readyz`: 200 `ready` when the store is fit within [`STORE_CHECK`] ([`Store::ping`]: it
//!   answers a trivial query, its writes succeed, a SQLite file is still the one it opened), the
//!   templates are loaded and every live chat connection (Slack Socket Mode, the Discord
//!   gateway) is up; otherwise 503 with one reason per line. Never hangs: the store check is
//!   bounded.
//! - `/metrics`: the Prometheus text format ([`crate::metrics`]), with the open incidents per
//!   severity counted from the store at scrape time (left out when the store does not answer).
//!
//! Owns these two answers only; it changes nothing.

use std::sync::Arc;
use std::time::Duration;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::chat::Link;
use crate::error_chain;
use crate::incident::Severity;
use crate::metrics::{self, Metrics};
use crate::store::Store;

/// How long `/readyz` and `/metrics` wait for the store.
pub const STORE_CHECK: Duration = Duration::from_secs(2);

/// What the two endpoints read.
#[derive(Clone)]
pub struct Health {
    store: Arc<dyn Store>,
    readiness: Readiness,
    metrics: Arc<Metrics>,
}

impl Health {
    /// Health over these parts (tests give a store of their own).
    pub fn new(store: Arc<dyn Store>, readiness: Readiness, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            readiness,
            metrics,
        }
    }

    /// The registry acknowledgements are timed into.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// What is not ready, one reason each; empty when ready.
    pub async fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match tokio::time::timeout(STORE_CHECK, self.store.ping()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => problems.push(format!("store: {}", error_chain(&e))),
            Err(_) => problems.push(format!(
                "store: no answer within {} ms",
                STORE_CHECK.as_millis()
            )),
        }
        problems.extend(self.readiness.problems());
        problems
    }
}

/// The `/healthz`, `/readyz` and `/metrics` routes.
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(scrape))
        .with_state(health)
}

async fn readyz(State(health): State<Health>) -> Response {
    let problems = health.problems().await;
    if problems.is_empty() {
        return (StatusCode::OK, "ready\n").into_response();
    }
    tracing::warn!(problems = %problems.join("; "), "not ready");
    let mut body = problems.join("\n");
    body.push('\n');
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
}

async fn scrape(State(health): State<Health>) -> Response {
    let open = match tokio::time::timeout(STORE_CHECK, health.store.active_incidents()).await {
        Ok(Ok(incidents)) => Some(
            Severity::ALL
                .iter()
                .map(|s| {
                    let n = incidents.iter().filter(|i| i.severity == *s).count();
                    (*s, n as u64)
                })
                .collect::<Vec<_>>(),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %error_chain(&e), "metrics: open incidents not counted");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: the store did not answer; open incidents not counted");
            None
        }
    };
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::render(&health.metrics, open.as_deref()),
    )
        .into_response()
}

/// What `/readyz` checks besides the store: whether the templates are loaded and whether each
/// live chat connection is up. Shared by start-up (which loads the templates), the adapters
/// (which own the links) and the server.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    templates: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<Link>>>,
}

impl Readiness {
    /// Records that every template loaded and checked.
    pub fn templates_loaded(&self) {
        self.templates.store(true, Ordering::Relaxed);
    }

    /// A new live connection, down until it reports [`Link::connected`].
    pub fn link(&self, name: &'static str) -> Link {
        let link = Link::new(name);
        self.links
            .lock()
            .expect("the link list is never poisoned: nothing panics holding it")
            .push(link.clone());
        link
    }

    /// What is not ready, one reason per line; empty when everything is.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.templates.load(Ordering::Relaxed) {
            problems.push("templates: not loaded".to_owned());
        }
        let links = self
            .links
            .lock()
            .expect("the link list is never poisoned: nothing panics holding it");
        for link in links.iter().filter(|l| !l.is_up()) {
            problems.push(format!("{}: not connected", link.name()));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_once_templates_load_and_every_link_is_up() {
        let readiness = Readiness::default();
        assert_eq!(readiness.problems(), ["templates: not loaded"]);
        readiness.templates_loaded();
        let socket = readiness.link("slack socket mode");
        assert_eq!(readiness.problems(), ["slack socket mode: not connected"]);
        socket.connected();
        assert!(readiness.problems().is_empty());
        socket.disconnected();
        assert_eq!(readiness.problems(), ["slack socket mode: not connected"]);
    }
}
