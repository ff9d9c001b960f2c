//! `POST /alerts/alertmanager`: Alertmanager's and Grafana's webhook notifications, taken the
//! way chat requests are ([`crate::chat::pipeline`]): stored in the request inbox before the
//! 2xx, run by the engine ([`Engine::take_alerts`]) in a task, replayed after a restart.
//!
//! # Guarantees
//! - Off (404) unless `alerts.token` is set; a request without that bearer token (compared in
//!   constant time) is answered 401 before its body is read, and nothing is stored.
//! - A body over `alerts.max_body` is answered 413 (a `Content-Length` over it before reading,
//!   a chunked one as soon as it passes it), one that does not arrive within
//!   `server.body_timeout` 408, one that is not a notification 400 with the reason; none is
//!   stored.
//! - A notification is in the inbox before it is answered 200; a duplicate (an HA pair's, a
//!   retry: the same group in the same alert states) is answered 200 and has no effect.
//! - A store failure is answered 503, so the sender retries.
//! - A run that fails on firewatch's side (the store unavailable) runs again with backoff, by the
//!   pipeline's rule, for up to an hour ([`Adapter::REPLY_WINDOW`]); its messages are stored in
//!   the outbox before the notification counts as answered, and reach the channel from there.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::TimeDelta;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::http::body::Bodies;
use crate::alerts::Rules;
use crate::alerts::payload::{self, KEY_PREFIX, Notification};
use crate::alerts::setup::PATH;
use crate::chat::Pipeline;
use crate::chat::pipeline::Adapter;
use crate::chat::replay::Replay;
use crate::config::Secret;
use crate::engine::{Answer, Audience, Caller, Engine, Outbox, Reply};
use crate::error_chain;
use crate::message::Message;

/// Alert notifications' side of the request pipeline: who sends them, how the engine runs them,
/// where what it says goes.
pub struct Alerts {
    engine: Arc<Engine>,
    outbox: Arc<dyn Outbox>,
}

impl Alerts {
    /// Notifications run by `engine`; its messages go to `outbox`.
    pub fn new(engine: Arc<Engine>, outbox: Arc<dyn Outbox>) -> Self {
        Self { engine, outbox }
    }

    fn rules(&self) -> &Rules {
        self.engine.alert_rules()
    }

    /// Posts `reply` into its channel; what is for the caller (a notice that firewatch keeps
    /// trying) goes to the alerts channel, where the team reads it.
    async fn post(&self, reply: &Reply) {
        let channel = match &reply.audience {
            Audience::Channel(channel) => channel.clone(),
            Audience::Caller => self.rules().default_channel(),
        };
        if let Err(e) = self.outbox.post(&channel, &reply.message).await {
            tracing::warn!(channel = %channel.id, error = %e, "could not post about alerts");
        }
    }
}

#[async_trait]
impl Adapter for Alerts {
    type Request = Notification;
    const PREFIX: &'static str = KEY_PREFIX;
    /// Senders repeat what still fires (Alertmanager every `group_interval` and
    /// `repeat_interval`): a notification older than this is news of the past.
    const REPLY_WINDOW: TimeDelta = TimeDelta::hours(1);

    fn key(n: &Notification) -> String {
        n.key()
    }

    fn line(n: &Notification) -> String {
        let firing = n.firing().count();
        format!(
            "the alert notification of {} for group {} ({firing} firing, {} resolved)",
            n.reporter(),
            n.group_key,
            n.alerts.len() - firing
        )
    }

    /// The bearer token decided that already: a notification has no workspace or server.
    fn admit(&self, _: &Notification) -> Result<(), String> {
        Ok(())
    }

    async fn caller(&self, n: &Notification) -> Caller {
        let channel = self.rules().default_channel();
        Caller {
            actor: Rules::reporter(n, &channel),
            channel,
            request: None,
            roles: Vec::new(),
        }
    }

    async fn attempt(&self, engine: &Engine, caller: &Caller, n: &Notification) -> Answer {
        engine.take_alerts(caller, n).await
    }

    async fn answer(&self, _: &Notification, _: &Caller, replies: Vec<Reply>) {
        for reply in &replies {
            self.post(reply).await;
        }
    }

    async fn tell(&self, _: &Notification, _: Replay, notice: Message) {
        let channel = self.rules().default_channel();
        if let Err(e) = self.outbox.post(&channel, &notice).await {
            tracing::warn!(channel = %channel.id, error = %e, "could not post a notice about alerts");
        }
    }
}

/// The endpoint: the pipeline, the token, the largest body.
pub struct Endpoint {
    pipeline: Arc<Pipeline<Alerts>>,
    token: Secret,
    max_body: u64,
}

impl Endpoint {
    /// Notifications into `pipeline`, from senders with `token`, at most `max_body` bytes.
    pub fn new(pipeline: Arc<Pipeline<Alerts>>, token: Secret, max_body: u64) -> Self {
        Self {
            pipeline,
            token,
            max_body,
        }
    }
}

/// The route; without an endpoint (no token configured) it answers 404. Bodies are read by the
/// server's reader ([`Bodies`]: its timeout and memory budget), up to `alerts.max_body`.
pub fn router(endpoint: Option<Endpoint>, bodies: Bodies) -> Router {
    Router::new()
        .route(PATH, post(receive))
        .with_state(Arc::new(Route { endpoint, bodies }))
}

/// What the route holds.
struct Route {
    endpoint: Option<Endpoint>,
    bodies: Bodies,
}

/// Why a notification was not taken (the body's own refusals, 413 and 408, are the reader's).
enum Refused {
    Off,
    Unauthorized,
    Unreadable(String),
    NotStored,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Off => (
                StatusCode::NOT_FOUND,
                "alerts are not configured (set alerts.token)",
            )
                .into_response(),
            Refused::Unauthorized => {
                tracing::warn!("rejected an alert notification without the alerts token");
                (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                    "missing or wrong bearer token",
                )
                    .into_response()
            }
            Refused::Unreadable(reason) => {
                tracing::warn!(%reason, "rejected an unreadable alert notification");
                (StatusCode::BAD_REQUEST, reason).into_response()
            }
            Refused::NotStored => (
                StatusCode::SERVICE_UNAVAILABLE,
                "firewatch could not record the notification (its store is unavailable); send it again",
            )
                .into_response(),
        }
    }
}

async fn receive(State(route): State<Arc<Route>>, request: Request) -> Response {
    let Some(endpoint) = &route.endpoint else {
        return Refused::Off.into_response();
    };
    // The token first: nothing of the body is read for a request without it.
    if !authorized(request.headers(), &endpoint.token) {
        return Refused::Unauthorized.into_response();
    }
    let limit = usize::try_from(endpoint.max_body).unwrap_or(usize::MAX);
    let body = match route.bodies.read(request, limit, |_| Ok(())).await {
        Ok((_, body)) => body,
        Err(refused) => return refused.into_response(),
    };
    let notification = match payload::read(&body) {
        Ok(notification) => notification,
        Err(e) => return Refused::Unreadable(e.to_string()).into_response(),
    };
    match endpoint.pipeline.take(notification).await {
        Ok(new) => {
            let status = if new { "accepted" } else { "duplicate" };
            (StatusCode::OK, Json(json!({"status": status}))).into_response()
        }
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "could not store an alert notification");
            Refused::NotStored.into_response()
        }
    }
}

/// Whether `headers` carry `Authorization: Bearer <token>`. The two are compared as SHA-256
/// digests, byte by byte without stopping early, so the time taken says nothing about the token.
fn authorized(headers: &HeaderMap, token: &Secret) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credentials)| credentials.trim())
    else {
        return false;
    };
    let digest = |text: &str| Sha256::digest(text.as_bytes());
    let (given, expected) = (digest(given), digest(token.expose()));
    given
        .iter()
        .zip(expected.iter())
        .fold(0u8, |differ, (a, b)| differ | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_largest_alert_body_fits_the_servers_budget() {
        let largest = usize::try_from(crate::config::MAX_MAX_BODY).unwrap();
        assert!(largest <= super::super::http::body::BODY_BUDGET);
    }

    #[test]
    fn only_the_configured_bearer_token_is_authorized() {
        let token = Secret::new("s3cret-token");
        assert!(authorized(&with("Bearer s3cret-token"), &token));
        assert!(authorized(&with("bearer s3cret-token"), &token));
        assert!(!authorized(&with("Bearer s3cret-tokeN"), &token));
        assert!(!authorized(&with("Bearer s3cret"), &token));
        assert!(!authorized(&with("Basic s3cret-token"), &token));
        assert!(!authorized(&with("s3cret-token"), &token));
        assert!(!authorized(&HeaderMap::new(), &token));
    }
}
