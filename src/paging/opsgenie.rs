//! Opsgenie's Alert API, out: an alert per paged incident (`alias` = its page key), its
//! acknowledgement and its close, sent from the outbox by [`OpsgenieCourier`] with
//! `Authorization: GenieKey …`.
//!
//! Opsgenie answers 202 before it has done anything: the request is processed later and may
//! fail (an unknown team, a closed alert). After each 202 the courier stores a check of that
//! request right behind it in the incident's lane (`GET /v2/alerts/requests/{requestId}`): a
//! 404 there means "not processed yet" and is tried again with backoff; `isSuccess: false` is
//! a refusal, reported like PagerDuty's 400 with Opsgenie's status text.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Brief, Notices, PageOf, client, cut, read_json, retry_after, verb, with_json};
use crate::config::Settings;
use crate::delivery::{Courier, Sent};
use crate::incident::page::{self, Action, Pager};
use crate::incident::{Incident, Severity};
use crate::store::Post;

/// The outbox kind of Opsgenie's requests.
pub const KIND: &str = "opsgenie";
/// Opsgenie's longest alert `message`.
pub const MESSAGE_LIMIT: usize = 130;

/// An Opsgenie request as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// What it asks.
    pub action: Action,
    /// Who it pages, in words (the responder teams, or the service).
    pub target: String,
    /// The request itself.
    pub request: Request,
    /// The team an add-responder request (and its check) adds to a live page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adds: Option<String>,
    /// Whether the incident was acknowledged when this request was queued.
    #[serde(default)]
    pub acknowledged: bool,
}

impl Order {
    /// The page `post` (this order's) is for: the alert its lane names.
    fn page<'a>(&'a self, post: &'a Post) -> PageOf<'a> {
        PageOf {
            pager: Pager::Opsgenie,
            key: &post.destination,
            target: &self.target,
            asked: page::asked_by(self.action, self.acknowledged),
        }
    }
}

/// One call to the Alert API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Request {
    /// `POST /v2/alerts`.
    Create {
        /// The alert.
        body: Value,
    },
    /// `POST /v2/alerts/{alias}/acknowledge?identifierType=alias`.
    Acknowledge {
        /// Who and why.
        body: Value,
    },
    /// `POST /v2/alerts/{alias}/close?identifierType=alias`.
    Close {
        /// Who and why.
        body: Value,
    },
    /// `POST /v2/alerts/{alias}/responders?identifierType=alias`: one more team paged.
    AddResponder {
        /// The team, who adds it and why.
        body: Value,
    },
    /// `GET /v2/alerts/requests/{request_id}`: whether an accepted request worked.
    Check {
        /// Opsgenie's request id.
        request_id: String,
    },
}

/// Someone Opsgenie pages: a team, or a user by username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Responder {
    /// A team, by name.
    Team(String),
    /// A user, by username (their e-mail).
    User(String),
}

impl Responder {
    /// Its name as the page's target lists it.
    pub fn name(&self) -> &str {
        match self {
            Responder::Team(name) | Responder::User(name) => name,
        }
    }

    /// As the Alert API takes it.
    fn json(&self) -> Value {
        match self {
            Responder::Team(name) => json!({"type": "team", "name": name}),
            Responder::User(username) => json!({"type": "user", "username": username}),
        }
    }
}

/// Opsgenie's priority for a firewatch severity.
pub fn priority(severity: Severity) -> &'static str {
    match severity {
        Severity::P0 => "P1",
        Severity::P1 => "P2",
        Severity::P2 => "P3",
        Severity::P3 => "P4",
    }
}

/// The request for `action` on `incident`, paging `responders` (the paged roles' teams, and
/// whom `/incident-page` adds); a new alert tells `brief` too.
pub fn order(
    action: Action,
    incident: &Incident,
    responders: &[Responder],
    brief: &Brief,
    settings: &Settings,
) -> Order {
    let target = if responders.is_empty() {
        incident.service.clone()
    } else {
        let names: Vec<&str> = responders.iter().map(Responder::name).collect();
        names.join(", ")
    };
    let note = |what: &str| {
        json!({
            "user": crate::incident::timers::BOT_NAME,
            "source": "firewatch",
            "note": format!("{what} in firewatch ({})", incident.id),
        })
    };
    let request = match action {
        Action::Trigger => {
            let namespace = settings
                .services
                .iter()
                .find(|s| s.name == incident.service)
                .map(|s| s.namespace.clone());
            let responders: Vec<Value> = responders.iter().map(Responder::json).collect();
            let mut body = json!({
                "message": cut(
                    &format!("{} {} on {}: {}", incident.id, incident.severity, incident.service, incident.summary),
                    MESSAGE_LIMIT,
                ),
                "alias": page::page_key(incident.id),
                "description": cut(&description(incident, brief), 15_000),
                "responders": responders,
                "priority": priority(incident.severity),
                "source": "firewatch",
                "entity": incident.service,
                "tags": ["firewatch", incident.severity.as_str(), incident.service.as_str()],
                "details": {
                    "incident": incident.id.to_string(),
                    "service": incident.service,
                    "namespace": namespace.unwrap_or_default(),
                    "why this severity": incident.severity_reason,
                    "opened by": incident.opened.by.to_string(),
                    "channel": format!("{} channel {}", incident.channel.platform, incident.channel.id),
                    "incident page": brief.link.clone().unwrap_or_default(),
                    "why paged": brief.why.clone().unwrap_or_default(),
                },
            });
            // Details firewatch has no value for are left out.
            if let Some(details) = body["details"].as_object_mut() {
                details.retain(|_, value| value.as_str().is_none_or(|v| !v.is_empty()));
            }
            Request::Create { body }
        }
        Action::Acknowledge => Request::Acknowledge {
            body: note("acknowledged"),
        },
        Action::Resolve => Request::Close {
            body: note("resolved"),
        },
    };
    Order {
        action,
        target,
        request,
        adds: None,
        acknowledged: incident.acknowledged.is_some(),
    }
}

/// An alert's description: what is wrong, why it was paged, and the evidence gathered.
fn description(incident: &Incident, brief: &Brief) -> String {
    let mut text = incident.summary.clone();
    if let Some(why) = &brief.why {
        text.push_str(&format!("\n\nPaged: {why}"));
    }
    if !brief.evidence.is_empty() {
        text.push_str("\n\nEvidence:");
        for line in &brief.evidence {
            text.push_str(&format!("\n- {line}"));
        }
    }
    if let Some(link) = &brief.link {
        text.push_str(&format!("\n\n{link}"));
    }
    text
}

/// The request that adds `responder` to an incident's alert, with `note`; `target` is who the
/// page pages once it is added.
pub fn add_responder(responder: &Responder, note: &str, target: String) -> Order {
    Order {
        action: Action::Trigger,
        target,
        adds: Some(responder.name().to_owned()),
        acknowledged: false,
        request: Request::AddResponder {
            body: json!({
                "responder": responder.json(),
                "user": crate::incident::timers::BOT_NAME,
                "source": "firewatch",
                "note": cut(note, 25_000),
            }),
        },
    }
}

/// Sends Opsgenie's requests from the outbox.
pub struct OpsgenieCourier {
    http: reqwest::Client,
    settings: Arc<Settings>,
    notices: Notices,
}

impl OpsgenieCourier {
    /// Requests to `settings.opsgenie.api_url` with its API key.
    pub fn new(settings: Arc<Settings>, notices: Notices) -> Self {
        Self {
            http: client(),
            settings,
            notices,
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.settings.opsgenie.api_url.trim_end_matches('/')
        )
    }
}

/// Opsgenie's answer to an accepted request.
#[derive(Debug, Default, Deserialize)]
struct Accepted {
    #[serde(default, rename = "requestId")]
    request_id: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Opsgenie's answer about a request (`GET /v2/alerts/requests/{id}`).
#[derive(Debug, Default, Deserialize)]
struct Status {
    #[serde(default)]
    data: StatusData,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct StatusData {
    #[serde(default, rename = "isSuccess")]
    is_success: bool,
    #[serde(default)]
    status: String,
}

#[async_trait]
impl Courier for OpsgenieCourier {
    async fn send(&self, post: &Post) -> Sent {
        let order: Order = match serde_json::from_str(&post.payload) {
            Ok(order) => order,
            Err(e) => return Sent::Refused(format!("unreadable page request: {e}")),
        };
        let Some(key) = &self.settings.opsgenie.api_key else {
            return Sent::Refused("opsgenie.api_key is not set".into());
        };
        let alias = &post.destination;
        let request = match &order.request {
            Request::Create { body } => with_json(self.http.post(self.url("/v2/alerts")), body),
            Request::Acknowledge { body } => with_json(
                self.http
                    .post(self.url(&format!("/v2/alerts/{alias}/acknowledge")))
                    .query(&[("identifierType", "alias")]),
                body,
            ),
            Request::Close { body } => with_json(
                self.http
                    .post(self.url(&format!("/v2/alerts/{alias}/close")))
                    .query(&[("identifierType", "alias")]),
                body,
            ),
            Request::AddResponder { body } => with_json(
                self.http
                    .post(self.url(&format!("/v2/alerts/{alias}/responders")))
                    .query(&[("identifierType", "alias")]),
                body,
            ),
            Request::Check { request_id } => self
                .http
                .get(self.url(&format!("/v2/alerts/requests/{request_id}"))),
        };
        let sent = request
            .header(
                reqwest::header::AUTHORIZATION,
                format!("GenieKey {}", key.expose()),
            )
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => return Sent::retry(format!("Opsgenie unreachable: {}", e.without_url())),
        };
        let status = response.status().as_u16();
        let after = retry_after(&response);
        if let Request::Check { .. } = order.request {
            return self.checked(post, &order, status, after, response).await;
        }
        if !(200..300).contains(&status) {
            let said: Accepted = read_json(response).await;
            let said = said.message.unwrap_or_default();
            return Sent::from_status(status, after, format!("Opsgenie answered {status}: {said}"));
        }
        let accepted: Accepted = read_json(response).await;
        let Some(request_id) = accepted.request_id else {
            return self.done(post, &order).await;
        };
        let check = Order {
            request: Request::Check { request_id },
            ..order.clone()
        };
        let summary = format!("Opsgenie {} check: {alias}", verb(order.action));
        if !self.notices.follow_up(post, &check, &summary).await {
            // Unchecked, it is taken as Opsgenie's 202 said.
            return self.done(post, &order).await;
        }
        Sent::Delivered
    }

    async fn given_up(&self, post: &Post, why: &str) {
        let Ok(order) = serde_json::from_str::<Order>(&post.payload) else {
            return;
        };
        self.notices
            .failed(
                post,
                order.page(post),
                order.action,
                why,
                order.adds.as_deref(),
            )
            .await;
    }
}

impl OpsgenieCourier {
    /// What the answer about an accepted request means: done, not processed yet (404: try
    /// again), or failed.
    async fn checked(
        &self,
        post: &Post,
        order: &Order,
        status: u16,
        after: Option<std::time::Duration>,
        response: reqwest::Response,
    ) -> Sent {
        let answer: Status = read_json(response).await;
        match status {
            200..300 if answer.data.is_success => self.done(post, order).await,
            200..300 => Sent::Refused(format!(
                "Opsgenie could not {} the alert: {}",
                verb(order.action),
                answer.data.status
            )),
            404 => Sent::retry("Opsgenie has not processed the request yet".into()),
            _ => Sent::from_status(
                status,
                after,
                format!(
                    "Opsgenie answered {status} about the request: {}",
                    answer.message.unwrap_or_default()
                ),
            ),
        }
    }

    /// The request worked: the page moves on.
    async fn done(&self, post: &Post, order: &Order) -> Sent {
        self.notices
            .record(post, order.page(post), order.action.done(), None)
            .await;
        Sent::Delivered
    }
}
