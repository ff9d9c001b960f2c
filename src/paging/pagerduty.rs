//! PagerDuty's Events API v2, out: `trigger`, `acknowledge` and `resolve` events with the
//! incident's page key as `dedup_key`, sent from the outbox by [`PagerDutyCourier`]. The
//! routing key is added when the event is sent (the service's, else `pagerduty.routing_key`):
//! it is never stored in the outbox.
//!
//! Answers: 202 is taken; 400 (an invalid event, a bad routing key) is a refusal, reported
//! with PagerDuty's message and errors; 429, 5xx and network errors are tried again.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Notices, client, cut, read_json, retry_after, verb, with_json};
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
/// service whose key it goes with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// What it asks.
    pub action: Action,
    /// The service (its routing key is looked up when sent).
    pub service: String,
    /// The Events API v2 body, without `routing_key`.
    pub event: Value,
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

/// The event for `action` on `incident`.
pub fn order(action: Action, incident: &Incident, settings: &Settings) -> Order {
    let dedup_key = page::page_key(incident.id);
    let event = match action {
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
                        "channel": channel,
                        "channel link": link,
                    },
                },
                "client": "firewatch",
                "links": link.map(|href| vec![json!({
                    "href": href,
                    "text": format!("{} in chat", incident.id),
                })]).unwrap_or_default(),
            })
        }
        Action::Acknowledge | Action::Resolve => json!({
            "event_action": verb(action),
            "dedup_key": dedup_key,
        }),
    };
    Order {
        action,
        service: incident.service.clone(),
        event,
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
        let Some(key) = self.settings.routing_key(&order.service) else {
            return Sent::Refused(format!(
                "no PagerDuty routing key for service '{}'",
                order.service
            ));
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
            if let Some(id) = post.incident {
                self.notices
                    .record(
                        id,
                        Pager::PagerDuty,
                        order.action.done(),
                        &order.service,
                        None,
                    )
                    .await;
            }
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
            .failed(
                post,
                Pager::PagerDuty,
                order.action,
                &order.service,
                why,
                None,
            )
            .await;
    }
}

/// A link that opens `channel` (Slack's redirect to the channel); none for the others, whose
/// links need more than the channel id.
fn channel_link(channel: &ChannelRef) -> Option<String> {
    (channel.platform == Platform::Slack)
        .then(|| format!("https://slack.com/app_redirect?channel={}", channel.id))
}
