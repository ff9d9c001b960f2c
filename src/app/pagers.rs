//! `POST /pagerduty/webhooks` and `POST /opsgenie/webhooks`: news of firewatch's pages from
//! PagerDuty (webhooks v3) and Opsgenie (outgoing webhook), taken the way chat requests are
//! ([`crate::chat::pipeline`]): stored in the request inbox before the 2xx, run by the engine
//! ([`Engine::page_news`]) in a task, replayed after a restart.
//!
//! # Guarantees
//! - Each route is off (404) until its secret is set (`pagerduty.webhook_secret`,
//!   `opsgenie.webhook_token`).
//! - PagerDuty: a request without `X-PagerDuty-Signature` is answered 401 before its body is
//!   read; one whose body matches none of its `v1=` signatures (HMAC-SHA256 with the secret,
//!   each compared in constant time) is answered 401 after it. Opsgenie: a request without the
//!   configured header carrying the token (compared in constant time) is answered 401 before
//!   its body is read. Nothing is stored for any of them.
//! - A body over [`MAX_BODY`] is answered 413, an unreadable one 400; neither is stored.
//! - News of a page firewatch did not make (another integration's incident, an event type
//!   firewatch does not follow, the echo of firewatch's own acknowledgement) is answered 200
//!   and ignored. News of a firewatch page is in the inbox before its 200; a redelivery has no
//!   effect. A store failure is answered 503, so the pager retries.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::TimeDelta;
use serde_json::json;

use super::http::Refused;
use super::http::body::Bodies;
use crate::chat::Pipeline;
use crate::chat::pipeline::Adapter;
use crate::chat::replay::Replay;
use crate::config::Secret;
use crate::engine::{Answer, Audience, Caller, Engine, Outbox, PageNews, Reply};
use crate::error_chain;
use crate::incident::Actor;
use crate::incident::page::Pager;
use crate::message::Message;
use crate::paging::news;

/// The PagerDuty route.
pub const PAGERDUTY_PATH: &str = "/pagerduty/webhooks";
/// The Opsgenie route.
pub const OPSGENIE_PATH: &str = "/opsgenie/webhooks";
/// The largest webhook body taken: PagerDuty's and Opsgenie's are a few KiB.
pub const MAX_BODY: usize = 256 * 1024;
/// PagerDuty's signature header.
const SIGNATURE: &str = "x-pagerduty-signature";

/// The pagers' side of the request pipeline.
pub struct PagerNews {
    engine: Arc<Engine>,
    outbox: Arc<dyn Outbox>,
}

impl PagerNews {
    /// News run by `engine`; its messages go to `outbox`.
    pub fn new(engine: Arc<Engine>, outbox: Arc<dyn Outbox>) -> Self {
        Self { engine, outbox }
    }

    async fn post(&self, channel: &crate::incident::ChannelRef, message: &Message) {
        if let Err(e) = self.outbox.post(channel, message).await {
            tracing::warn!(channel = %channel.id, error = %e, "could not post a pager's news");
        }
    }
}

#[async_trait]
impl Adapter for PagerNews {
    type Request = PageNews;
    const PREFIX: &'static str = "pager:";
    /// Pagers retry for minutes to hours; news older than this is history.
    const REPLY_WINDOW: TimeDelta = TimeDelta::hours(1);

    fn key(news: &PageNews) -> String {
        format!("pager:{}:{}", news.pager.key(), news.id)
    }

    fn line(news: &PageNews) -> String {
        format!(
            "{} news of {}: {:?} by {}",
            news.pager, news.incident, news.what, news.by
        )
    }

    /// The signature or token decided that already.
    fn admit(&self, _: &PageNews) -> Result<(), String> {
        Ok(())
    }

    async fn caller(&self, news: &PageNews) -> Caller {
        let channel = self.engine.alert_rules().default_channel();
        Caller {
            actor: Actor {
                platform: channel.platform,
                id: format!("{}:{}", news.pager.key(), news.by),
                name: format!("{} ({})", news.by, news.pager),
            },
            channel,
            request: None,
            roles: Vec::new(),
        }
    }

    async fn attempt(&self, engine: &Engine, caller: &Caller, news: &PageNews) -> Answer {
        engine.take_page_news(caller, news).await
    }

    async fn answer(&self, _: &PageNews, caller: &Caller, replies: Vec<Reply>) {
        for reply in &replies {
            let channel = match &reply.audience {
                Audience::Channel(channel) => channel,
                Audience::Caller => &caller.channel,
            };
            self.post(channel, &reply.message).await;
        }
    }

    async fn tell(&self, _: &PageNews, _: Replay, notice: Message) {
        let channel = self.engine.alert_rules().default_channel();
        self.post(&channel, &notice).await;
    }
}

/// The endpoints: the pipeline, and each pager's secret (`None`: that route is off).
pub struct Endpoint {
    pipeline: Arc<Pipeline<PagerNews>>,
    pagerduty: Option<Secret>,
    opsgenie: Option<(String, Secret)>,
}

impl Endpoint {
    /// News into `pipeline`, PagerDuty's signed with `pagerduty`, Opsgenie's carrying the
    /// token in the header named (`opsgenie`).
    pub fn new(
        pipeline: Arc<Pipeline<PagerNews>>,
        pagerduty: Option<Secret>,
        opsgenie: Option<(String, Secret)>,
    ) -> Self {
        Self {
            pipeline,
            pagerduty,
            opsgenie,
        }
    }
}

struct Route {
    endpoint: Option<Endpoint>,
    bodies: Bodies,
}

/// The routes; without an endpoint both answer 404.
pub fn router(endpoint: Option<Endpoint>, bodies: Bodies) -> Router {
    Router::new()
        .route(PAGERDUTY_PATH, post(pagerduty))
        .route(OPSGENIE_PATH, post(opsgenie))
        .with_state(Arc::new(Route { endpoint, bodies }))
}

async fn pagerduty(State(route): State<Arc<Route>>, request: Request) -> Response {
    let Some((endpoint, secret)) = route
        .endpoint
        .as_ref()
        .and_then(|e| e.pagerduty.as_ref().map(|s| (e, s)))
    else {
        return Refused::NotConfigured("pagerduty.webhook_secret").into_response();
    };
    let read = route.bodies.read(request, MAX_BODY, |headers| {
        header(headers, SIGNATURE)
            .map(|_| ())
            .ok_or_else(|| "missing X-PagerDuty-Signature".to_owned())
    });
    let (headers, body) = match read.await {
        Ok(read) => read,
        Err(refused) => return refused.into_response(),
    };
    let signature = header(&headers, SIGNATURE).unwrap_or_default();
    if !news::signed(signature, &body, secret.expose()) {
        return Refused::Unsigned("no PagerDuty signature matches the body".into()).into_response();
    }
    match news::pagerduty(&body) {
        Ok(news) => take(endpoint, news, &body).await,
        Err(e) => Refused::Unreadable(e.to_string()).into_response(),
    }
}

async fn opsgenie(State(route): State<Arc<Route>>, request: Request) -> Response {
    let Some((endpoint, (name, token))) = route
        .endpoint
        .as_ref()
        .and_then(|e| e.opsgenie.as_ref().map(|o| (e, o)))
    else {
        return Refused::NotConfigured("opsgenie.webhook_token").into_response();
    };
    let read = route
        .bodies
        .read(request, MAX_BODY, |headers| match header(headers, name) {
            Some(given) if news::same_token(given, token.expose()) => Ok(()),
            Some(_) => Err(format!("wrong {name}")),
            None => Err(format!("missing {name}")),
        });
    let (_, body) = match read.await {
        Ok(read) => read,
        Err(refused) => return refused.into_response(),
    };
    match news::opsgenie(&body) {
        Ok(news) => take(endpoint, news, &body).await,
        Err(e) => Refused::Unreadable(e.to_string()).into_response(),
    }
}

/// Stores and runs `news` (none: answered and ignored).
async fn take(endpoint: &Endpoint, news: Option<PageNews>, body: &[u8]) -> Response {
    let Some(mut news) = news else {
        return (StatusCode::OK, Json(json!({"status": "ignored"}))).into_response();
    };
    if news.id.is_empty() {
        // Without the pager's own id, the body itself identifies a delivery.
        use sha2::{Digest, Sha256};
        news.id = hex::encode(&Sha256::digest(body)[..16]);
    }
    let pager: Pager = news.pager;
    match endpoint.pipeline.take(news).await {
        Ok(new) => {
            let status = if new { "accepted" } else { "duplicate" };
            (StatusCode::OK, Json(json!({"status": status}))).into_response()
        }
        Err(e) => {
            tracing::error!(%pager, error = %error_chain(&e), "could not store a pager's news");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "firewatch could not record the webhook (its store is unavailable); send it again",
            )
                .into_response()
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
