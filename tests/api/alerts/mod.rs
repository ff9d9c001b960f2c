//! Alerts open incidents: notifications built as Alertmanager's and Grafana's documentation
//! define them, taken by the engine on both backends ([`lifecycle`]), over HTTP by
//! `firewatch serve` against a fake Slack ([`intake`]), by the real binary killed after its
//! answer ([`crash`]) and by two replicas on one Postgres schema (`replicas`).

mod crash;
pub(crate) mod intake;
mod lifecycle;

use std::sync::Arc;

use chrono::TimeDelta;
use firewatch::alerts::{Notification, Rules, payload};
use firewatch::engine::{Caller, Reply};
use serde_json::{Value, json};

use crate::helpers::{Backend, Recorder, TestApp, test_start};

/// The token the tests configure (`alerts.token`).
pub const TOKEN: &str = "alerts-test-token-0123456789";

/// An alert as Alertmanager's webhook sends it: `startsAt` `minute` minutes after the test's
/// start, `endsAt` the zero time while firing.
pub fn alert(
    name: &str,
    fingerprint: &str,
    severity: &str,
    minute: i64,
    ended: Option<i64>,
) -> Value {
    let at = |m: i64| (test_start() + TimeDelta::minutes(m)).to_rfc3339();
    json!({
        "status": if ended.is_some() { "resolved" } else { "firing" },
        "labels": {
            "alertname": name,
            "severity": severity,
            "service": "freightliner",
            "instance": format!("{fingerprint}.freightliner:8080"),
        },
        "annotations": {
            "summary": format!("{name} on {fingerprint}"),
            "description": "5xx above 5% for 5 minutes",
        },
        "startsAt": at(minute),
        "endsAt": ended.map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), at),
        "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=rate%28http_errors%5B5m%5D%29",
        "fingerprint": fingerprint,
    })
}

/// Alertmanager's webhook body (`version: "4"`) for group `group` (its `groupKey` grouped by
/// `alertname`) of `alerts`.
pub fn notification(group: &str, alerts: &[Value]) -> Value {
    let firing = alerts.iter().any(|a| a["status"] == "firing");
    json!({
        "version": "4",
        "groupKey": format!("{{}}/{{severity=~\"critical|warning\"}}:{{alertname=\"{group}\"}}"),
        "truncatedAlerts": 0,
        "status": if firing { "firing" } else { "resolved" },
        "receiver": "firewatch",
        "groupLabels": {"alertname": group},
        "commonLabels": {"alertname": group, "service": "freightliner"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.org:9093",
        "alerts": alerts,
    })
}

/// Grafana's webhook contact point body (`version: "1"` with `orgId`, `title`, `message`, and
/// per-alert `silenceURL`, `dashboardURL`, `panelURL`, `values`), of one firing alert.
pub fn grafana(name: &str, fingerprint: &str) -> Value {
    let mut alert = alert(name, fingerprint, "critical", 0, None);
    alert["silenceURL"] = json!(format!(
        "https://grafana.example.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3D{name}"
    ));
    alert["dashboardURL"] = json!("https://grafana.example.org/d/freightliner");
    alert["panelURL"] = json!("https://grafana.example.org/d/freightliner?viewPanel=2");
    alert["values"] = json!({"B": 12.5, "C": 1});
    json!({
        "receiver": "oncall",
        "status": "firing",
        "orgId": 1,
        "alerts": [alert],
        "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name, "service": "freightliner"},
        "commonAnnotations": {},
        "externalURL": "https://grafana.example.org/",
        "version": "1",
        "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
        "truncatedAlerts": 0,
        "title": format!("[FIRING:1] {name}"),
        "state": "alerting",
        "message": "**Firing**",
    })
}

/// A firewatch whose alerts open incidents in the console channel `alerts`, with what it posts
/// on its own (the "more alerts" that waited) recorded.
pub struct Alerting {
    pub t: TestApp,
    pub posts: Arc<Recorder>,
}

impl Alerting {
    pub async fn on(backend: Backend, env: &[(&str, &str)]) -> Self {
        let mut all = vec![
            ("FIREWATCH__ALERTS__TOKEN".to_owned(), TOKEN.to_owned()),
            (
                "FIREWATCH__ALERTS__CHANNEL".to_owned(),
                "console:alerts".to_owned(),
            ),
        ];
        all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let t = TestApp::spawn_on_with(backend, all).await;
        let posts = t.record_posts();
        Self { t, posts }
    }

    /// Takes `body` as the intake would (its key as the request, so a second delivery has no
    /// effect); the messages for the channel.
    pub async fn send(&self, body: &Value) -> Vec<Reply> {
        let n = read(body);
        let mut caller = self.caller(&n);
        caller.request = Some(n.key());
        self.t.app.engine.take_alerts(&caller, &n).await.replies()
    }

    /// Takes `body` without a request key: a resend the inbox no longer remembers.
    pub async fn resend(&self, body: &Value) -> Vec<Reply> {
        let n = read(body);
        self.t
            .app
            .engine
            .take_alerts(&self.caller(&n), &n)
            .await
            .replies()
    }

    fn caller(&self, n: &Notification) -> Caller {
        let channel = self.t.app.engine.alert_rules().default_channel();
        Caller {
            actor: Rules::reporter(n, &channel),
            channel,
            request: None,
            roles: Vec::new(),
        }
    }

    /// Moves the clock and ticks the scheduler once.
    pub async fn after(&self, minutes: i64) {
        self.t.advance_minutes(minutes);
        self.t.tick().await;
    }
}

fn read(body: &Value) -> Notification {
    payload::read(body.to_string().as_bytes()).expect("a notification as documented")
}

/// The replies' text, one message after another.
pub fn text(replies: &[Reply]) -> String {
    replies
        .iter()
        .map(|r| {
            let mut t = r.message.plain_text();
            for b in &r.message.buttons {
                t.push_str(&format!("\n▸ {}: {}", b.label, b.command));
            }
            for l in &r.message.links {
                t.push_str(&format!("\n↗ {}: {}", l.label, l.url));
            }
            t
        })
        .collect::<Vec<_>>()
        .join("\n---\n")
}
