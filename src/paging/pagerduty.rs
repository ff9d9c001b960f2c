//! PagerDuty's Events API v2, out: `trigger`, `acknowledge` and `resolve` events with the
//! page's key as `dedup_key`, sent from the outbox by [`PagerDutyCourier`]. An incident's own
//! page goes to its service's routing key (else `pagerduty.routing_key`); a role's page
//! (`firewatch-12-dba`) to the role's own (`[roles.NAME] pagerduty_routing_key`). The
//! routing key is added when the event is sent: it is never stored in the outbox.
//!
//! Answers: 202 is taken; 400 (an invalid event, a bad routing key) is a refusal, reported
//! with PagerDuty's message and errors; 429, 5xx and network errors are tried again.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Brief, Notices, PageOf, client, cut, read_json, retry_after, verb, with_json};
use crate::config::Settings;
use crate::delivery::{Courier, Sent};
use crate::incident::page::{self, Action, Pager};
use crate::incident::{ChannelRef, Incident, Platform, Severity};
use crate::store::Post;

/// The outbox kind of PagerDuty's events.
pub const KIND: &str = "pagerduty";
/// PagerDuty's longest `summary`.
pub const SUMMARY_LIMIT: usize = 1024;

/// A PagerDuty event as the outbox keeps it: the event without its routing key, and the
/// service or role whose key it goes with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// What it asks.
    pub action: Action,
    /// The incident's service (its routing key is looked up when sent).
    pub service: String,
    /// The role whose own page this is (its routing key is looked up when sent); none for the
    /// incident's own page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The Events API v2 body, without `routing_key`.
    pub event: Value,
    /// Whether the incident was acknowledged when this event was queued.
    #[serde(default)]
    pub acknowledged: bool,
}

impl Order {
    /// The page's key (the event's `dedup_key`).
    pub fn key(&self) -> &str {
        self.event["dedup_key"].as_str().unwrap_or_default()
    }

    /// Who the page pages, in words: the role, else the service.
    pub fn target(&self) -> &str {
        self.role.as_deref().unwrap_or(&self.service)
    }

    fn page(&self) -> PageOf<'_> {
        PageOf {
            pager: Pager::PagerDuty,
            key: self.key(),
            target: self.target(),
            asked: page::asked_by(self.action, self.acknowledged),
        }
    }
}

/// PagerDuty's severity for a firewatch severity.
pub fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::P0 => "critical",
        Severity::P1 => "error",
        Severity::P2 => "warning",
        Severity::P3 => "info",
    }
}

/// The event for `action` on `incident`'s own page, or (with `role`) on that role's page; a
/// trigger tells `brief` too.
pub fn order(
    action: Action,
    incident: &Incident,
    role: Option<&str>,
    brief: &Brief,
    settings: &Settings,
) -> Order {
    let dedup_key = match role {
        Some(role) => page::role_page_key(incident.id, role),
        None => page::page_key(incident.id),
    };
    let mut event = match action {
        Action::Trigger => {
            let service = settings
                .services
                .iter()
                .find(|s| s.name == incident.service);
            let component = service
                .and_then(|s| s.deployment.clone())
                .unwrap_or_else(|| incident.service.clone());
            let summary = cut(
                &format!(
                    "{} {} on {}: {}",
                    incident.id, incident.severity, incident.service, incident.summary
                ),
                SUMMARY_LIMIT,
            );
            let link = channel_link(&incident.channel);
            let channel = format!(
                "{} channel {}",
                incident.channel.platform, incident.channel.id
            );
            json!({
                "event_action": "trigger",
                "dedup_key": dedup_key,
                "payload": {
                    "summary": summary,
                    "source": incident.service,
                    "severity": severity(incident.severity),
                    "timestamp": incident.opened.at.to_rfc3339(),
                    "component": component,
                    "group": service.map_or_else(|| incident.service.clone(), |s| s.namespace.clone()),
                    "class": "incident",
                    "custom_details": {
                        "incident": incident.id.to_string(),
                        "description": incident.summary,
                        "severity": incident.severity.as_str(),
                        "why this severity": incident.severity_reason,
                        "opened by": incident.opened.by.to_string(),
                        "paged role": role,
                        "why paged": brief.why,
                        "evidence": (!brief.evidence.is_empty()).then_some(&brief.evidence),
                        "incident page": brief.link,
                        "channel": channel,
                        "channel link": link,
                    },
                },
                "client": "firewatch",
                "links": brief.link.iter().map(|href| json!({
                    "href": href,
                    "text": format!("{} in firewatch", incident.id),
                })).chain(link.map(|href| json!({
                    "href": href,
                    "text": format!("{} in chat", incident.id),
                }))).collect::<Vec<_>>(),
            })
        }
        Action::Acknowledge | Action::Resolve => json!({
            "event_action": verb(action),
            "dedup_key": dedup_key,
        }),
    };
    // Details firewatch has no value for are left out, not sent as nulls (looked up without
    // indexing, which would add a payload to an acknowledgement).
    let details = event
        .get_mut("payload")
        .and_then(|payload| payload.get_mut("custom_details"))
        .and_then(Value::as_object_mut);
    if let Some(details) = details {
        details.retain(|_, value| !value.is_null());
    }
    Order {
        action,
        service: incident.service.clone(),
        role: role.map(str::to_owned),
        event,
        acknowledged: incident.acknowledged.is_some(),
    }
}

/// Sends PagerDuty's events from the outbox.
pub struct PagerDutyCourier {
    http: reqwest::Client,
    settings: Arc<Settings>,
    notices: Notices,
}

impl PagerDutyCourier {
    /// Events to `settings.pagerduty.events_url`, with the routing keys of `settings`.
    pub fn new(settings: Arc<Settings>, notices: Notices) -> Self {
        Self {
            http: client(),
            settings,
            notices,
        }
    }
}

/// PagerDuty's answer to an event.
#[derive(Debug, Default, Deserialize)]
struct Answer {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<String>,
}

#[async_trait]
impl Courier for PagerDutyCourier {
    async fn send(&self, post: &Post) -> Sent {
        let order: Order = match serde_json::from_str(&post.payload) {
            Ok(order) => order,
            Err(e) => return Sent::Refused(format!("unreadable page event: {e}")),
        };
        let key = match &order.role {
            Some(role) => self.settings.role_routing_key(role),
            None => self.settings.routing_key(&order.service),
        };
        let Some(key) = key else {
            return Sent::Refused(match &order.role {
                Some(role) => format!("no PagerDuty routing key for role '{role}'"),
                None => format!("no PagerDuty routing key for service '{}'", order.service),
            });
        };
        let mut body = order.event.clone();
        body["routing_key"] = Value::String(key.expose().to_owned());
        let request = self.http.post(&self.settings.pagerduty.events_url);
        let sent = with_json(request, &body).send().await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => return Sent::retry(format!("PagerDuty unreachable: {}", e.without_url())),
        };
        let status = response.status().as_u16();
        let after = retry_after(&response);
        let answer: Answer = read_json(response).await;
        if (200..300).contains(&status) {
            self.notices
                .record(post, order.page(), order.action.done(), None)
                .await;
            return Sent::Delivered;
        }
        let mut said = answer.message;
        if !answer.errors.is_empty() {
            said = format!("{said} ({})", answer.errors.join("; "));
        }
        Sent::from_status(
            status,
            after,
            format!("PagerDuty answered {status}: {said}"),
        )
    }

    async fn given_up(&self, post: &Post, why: &str) {
        let Ok(order) = serde_json::from_str::<Order>(&post.payload) else {
            return;
        };
        self.notices
            .failed(post, order.page(), order.action, why, None)
            .await;
    }
}

/// A link that opens `channel` (Slack's redirect to the channel); none for the others, whose
/// links need more than the channel id.
fn channel_link(channel: &ChannelRef) -> Option<String> {
    (channel.platform == Platform::Slack)
        .then(|| format!("https://slack.com/app_redirect?channel={}", channel.id))
}
