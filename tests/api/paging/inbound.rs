//! The pagers' webhooks into `firewatch serve`: PagerDuty's signed webhooks v3 and Opsgenie's
//! outgoing webhook with its shared header, each taking an acknowledgement (once), a
//! resolution or an escalation of a firewatch page into the incident.

use std::net::SocketAddr;
use std::time::Duration;

use firewatch::app::serve::{self, Running};
use firewatch::incident::IncidentId;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::*;
use crate::fake_slack::FakeSlack;
use crate::helpers::assert_has;
use crate::slack::{send_command, slack_env};

pub(super) const SECRET: &str = "pd-webhook-secret-0123";
const TOKEN: &str = "opsgenie-webhook-token-4567";

struct Paged {
    t: TestApp,
    slack: FakeSlack,
    pagerduty: FakePagerDuty,
    running: Running,
}

impl Paged {
    /// `firewatch serve` paging through a fake PagerDuty, with incident #1 (P1) paged.
    async fn start() -> Self {
        let slack = FakeSlack::start().await;
        let pagerduty = FakePagerDuty::start().await;
        let mut env = slack_env(&slack, &[]);
        env.extend(pagerduty_env(
            &pagerduty,
            &[
                ("FIREWATCH__PAGERDUTY__WEBHOOK_SECRET", SECRET),
                ("FIREWATCH__OPSGENIE__WEBHOOK_TOKEN", TOKEN),
            ],
        ));
        let t = TestApp::spawn_with(env).await;
        let running = serve::start(&t.app, "127.0.0.1:0").await.unwrap();
        let (status, _) = send_command(
            running.addr,
            &slack,
            "alice",
            "C0INC",
            "/incident-assess checkout down --sev P1",
            "in.1",
        )
        .await;
        assert_eq!(status, 200);
        pagerduty.wait_events(1).await;
        Self {
            t,
            slack,
            pagerduty,
            running,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    async fn acknowledged(&self) -> bool {
        let incident = self.t.app.store.incident(IncidentId::new(1).unwrap()).await;
        incident.unwrap().unwrap().acknowledged.is_some()
    }
}

/// Waits (up to 10 s) until incident #1's timeline has an entry saying `what`.
pub(super) async fn wait_entry(t: &TestApp, what: &str) {
    for _ in 0..500 {
        if page_entries(t, 1).await.iter().any(|e| e.contains(what)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "no timeline entry '{what}': {:#?}",
        page_entries(t, 1).await
    );
}

/// A PagerDuty webhook v3 body: `event_type` on `incident_key`, by `agent`.
pub(super) fn pagerduty_event(
    id: &str,
    event_type: &str,
    incident_key: &str,
    agent: &str,
) -> Vec<u8> {
    json!({
        "event": {
            "id": id,
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-11-29T03:04:00.000Z",
            "agent": {"id": "PUSER01", "type": "user_reference", "summary": agent,
                      "self": "https://api.pagerduty.com/users/PUSER01",
                      "html_url": "https://example.pagerduty.com/users/PUSER01"},
            "client": null,
            "data": {
                "id": "Q0RIJJZL24RC6W", "type": "incident", "number": 42,
                "status": "acknowledged", "incident_key": incident_key,
                "title": "#1 P1 on freightliner: checkout down",
                "service": {"id": "PSVC01", "type": "service_reference", "summary": "Freightliner"},
                "assignees": [{"id": "PUSER02", "type": "user_reference", "summary": "Bob Oncall"}],
                "escalation_policy": {"id": "PEP01", "type": "escalation_policy_reference", "summary": "Freightliner"},
            }
        }
    })
    .to_string()
    .into_bytes()
}

pub(super) fn sign(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

pub(super) async fn post(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn pagerduty_news_is_taken_only_with_a_matching_signature_and_acknowledges_once() {
    let p = Paged::start().await;
    let body = pagerduty_event("01EVT1", "incident.acknowledged", "firewatch-1", "Jane Doe");
    let path = "/pagerduty/webhooks";
    let (status, _) = post(p.addr(), path, &[], &body).await;
    assert_eq!(status, 401, "missing");
    let wrong = sign(&body, "another-secret");
    let (status, _) = post(p.addr(), path, &[("X-PagerDuty-Signature", &wrong)], &body).await;
    assert_eq!(status, 401, "wrong");
    let tampered = sign(b"{}", SECRET);
    let (status, _) = post(
        p.addr(),
        path,
        &[("X-PagerDuty-Signature", &tampered)],
        &body,
    )
    .await;
    assert_eq!(status, 401, "signed another body");
    assert!(!p.acknowledged().await, "nothing was taken");

    // Secrets rotating: one of several signatures matches.
    let both = format!("{wrong},{}", sign(&body, SECRET));
    let (status, answer) = post(p.addr(), path, &[("X-PagerDuty-Signature", &both)], &body).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("accepted")));
    wait_entry(&p.t, "acknowledged in PagerDuty by Jane Doe").await;
    assert!(p.acknowledged().await);
    let (status, answer) = post(p.addr(), path, &[("X-PagerDuty-Signature", &both)], &body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );

    // Not sent back to PagerDuty; and an ack typed afterwards is not a second one.
    p.t.app.posts.deliver_due().await;
    assert_eq!(p.pagerduty.actions(), ["trigger"]);
    let _ = send_command(
        p.addr(),
        &p.slack,
        "alice",
        "C0INC",
        "/incident-ack #1",
        "in.2",
    )
    .await;
    p.slack.wait_calls("response_url", 1).await;
    p.t.app.posts.deliver_due().await;
    assert_eq!(p.pagerduty.actions(), ["trigger"]);
    let acks =
        p.t.timeline(1)
            .await
            .into_iter()
            .filter(|e| {
                matches!(
                    e.event,
                    firewatch::incident::TimelineEvent::Acknowledged { .. }
                )
            })
            .count();
    assert_eq!(acks, 1);
    p.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_resolution_and_an_escalation_in_pagerduty_go_on_the_timeline() {
    let p = Paged::start().await;
    let path = "/pagerduty/webhooks";
    let body = pagerduty_event("01EVT2", "incident.escalated", "firewatch-1", "PagerDuty");
    let signed = sign(&body, SECRET);
    let (status, _) = post(p.addr(), path, &[("X-PagerDuty-Signature", &signed)], &body).await;
    assert_eq!(status, 200);
    wait_entry(
        &p.t,
        "escalated in PagerDuty by PagerDuty; now paged: Bob Oncall",
    )
    .await;
    assert!(
        !p.acknowledged().await,
        "an escalation acknowledges nothing"
    );

    let body = pagerduty_event("01EVT3", "incident.resolved", "firewatch-1", "Jane Doe");
    let signed = sign(&body, SECRET);
    let (status, _) = post(p.addr(), path, &[("X-PagerDuty-Signature", &signed)], &body).await;
    assert_eq!(status, 200);
    wait_entry(&p.t, "resolved in PagerDuty by Jane Doe").await;
    let posted = p.slack.wait_posted(3).await;
    let text = posted
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert_has(&text, &["RESOLVED IN PAGERDUTY", "/incident-resolve #1"]);
    let incident =
        p.t.app
            .store
            .incident(IncidentId::new(1).unwrap())
            .await
            .unwrap()
            .unwrap();
    assert!(
        incident.status.is_active(),
        "resolving needs a root cause, typed here"
    );
    p.running.stop().await.unwrap();
}

#[tokio::test]
async fn news_of_pages_firewatch_did_not_make_is_answered_and_ignored() {
    let p = Paged::start().await;
    let path = "/pagerduty/webhooks";
    for (id, key) in [("01X", "checkout-db-42"), ("01Y", "firewatch-99")] {
        let body = pagerduty_event(id, "incident.acknowledged", key, "Jane Doe");
        let signed = sign(&body, SECRET);
        let (status, _) = post(p.addr(), path, &[("X-PagerDuty-Signature", &signed)], &body).await;
        assert_eq!(status, 200);
    }
    let body = pagerduty_event(
        "01Z",
        "incident.priority_updated",
        "firewatch-1",
        "Jane Doe",
    );
    let signed = sign(&body, SECRET);
    let (status, answer) = post(p.addr(), path, &[("X-PagerDuty-Signature", &signed)], &body).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("ignored")));
    let (status, _) = post(
        p.addr(),
        path,
        &[("X-PagerDuty-Signature", &signed)],
        b"[1,2]",
    )
    .await;
    assert_eq!(status, 401, "the signature is of another body");
    assert!(!p.acknowledged().await);
    p.running.stop().await.unwrap();
}

#[tokio::test]
async fn an_acknowledgement_in_opsgenie_takes_the_incident_with_the_shared_header() {
    let p = Paged::start().await;
    let path = "/opsgenie/webhooks";
    let body = json!({
        "action": "Acknowledge",
        "alert": {
            "alertId": "8418d193-2dab-4490-b331-8c02cdd196b7", "message": "#1 P1 on freightliner",
            "alias": "firewatch-1", "username": "jane@example.com", "source": "Web",
            "tags": ["firewatch"], "updatedAt": 1_764_385_440_000_000_000_i64
        },
        "source": {"name": "web", "type": "web"},
        "integrationName": "firewatch", "integrationType": "Webhook"
    })
    .to_string()
    .into_bytes();
    let (status, _) = post(p.addr(), path, &[], &body).await;
    assert_eq!(status, 401);
    let (status, _) = post(p.addr(), path, &[("X-Firewatch-Token", "guess")], &body).await;
    assert_eq!(status, 401);
    assert!(!p.acknowledged().await);
    let (status, _) = post(p.addr(), path, &[("X-Firewatch-Token", TOKEN)], &body).await;
    assert_eq!(status, 200);
    wait_entry(&p.t, "acknowledged in Opsgenie by jane@example.com").await;
    assert!(p.acknowledged().await);
    // PagerDuty hears of it: the page there stops escalating (sent by the server's delivery
    // or this one, whichever claims it).
    p.t.app.posts.deliver_due().await;
    p.pagerduty.wait_events(2).await;
    assert_eq!(p.pagerduty.actions(), ["trigger", "acknowledge"]);
    p.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_webhook_body_over_the_limit_is_refused_unread_and_unstored() {
    let p = Paged::start().await;
    let huge = vec![b' '; firewatch::app::pagers::MAX_BODY + 1];
    let signed = sign(&huge, SECRET);
    let (status, _) = post(
        p.addr(),
        "/pagerduty/webhooks",
        &[("X-PagerDuty-Signature", &signed)],
        &huge,
    )
    .await;
    assert_eq!(status, 413);
    let (status, _) = post(
        p.addr(),
        "/opsgenie/webhooks",
        &[("X-Firewatch-Token", TOKEN)],
        &huge,
    )
    .await;
    assert_eq!(status, 413);
    assert!(!p.acknowledged().await);
    p.running.stop().await.unwrap();
}
