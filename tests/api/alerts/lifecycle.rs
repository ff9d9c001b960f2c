//! An alert group's incident through its life, taken by the engine on both backends: opened
//! (detected when its first alert started), more alerts attached at the incident's cadence,
//! repeats and duplicates without effect, a raise, all resolved, re-firing, a new incident after
//! the close, the storm cap, and the alerts in `/incident-status` and the report.

use chrono::TimeDelta;
use firewatch::incident::{IncidentId, Severity, Status, TimelineEvent};

use super::{Alerting, alert, notification, text};
use crate::helpers::{Backend, assert_has, on_both_backends, test_start};

on_both_backends!(
    an_alert_group_opens_one_incident_detected_when_its_first_alert_started,
    more_alerts_are_attached_with_at_most_one_message_per_update_every,
    a_large_group_is_listed_in_part_and_counted,
    a_repeat_and_a_duplicate_post_nothing,
    a_more_severe_alert_raises_the_severity_and_acknowledges_nothing,
    when_every_alert_resolved_the_channel_is_told_and_nothing_is_resolved,
    auto_monitor_moves_the_incident_to_monitoring_as_the_receiver,
    an_alert_firing_again_is_posted_as_firing_again,
    after_the_incident_is_closed_the_group_opens_a_new_incident_that_links_it,
    past_the_cap_alert_groups_join_one_storm_incident,
    status_and_report_list_the_alerts,
);

fn id(n: i64) -> IncidentId {
    IncidentId::new(n).unwrap()
}

async fn incident(a: &Alerting, n: i64) -> firewatch::incident::Incident {
    a.t.app
        .store
        .incident(id(n))
        .await
        .unwrap()
        .expect("incident exists")
}

async fn incidents(a: &Alerting) -> i64 {
    let mut n = 0;
    while a.t.app.store.incident(id(n + 1)).await.unwrap().is_some() {
        n += 1;
    }
    n
}

/// Alice resolves #1 in the alerts channel and writes its report; what the console printed.
async fn resolve_and_report(a: &Alerting) -> String {
    let lines = "/incident-resolve #1 a bad flag | rolled back\n/incident-report #1\n";
    a.t.console("alice", "alerts", lines).await
}

/// The "more alerts" messages posted since the last look.
fn more(a: &Alerting) -> Vec<firewatch::message::Message> {
    a.posts
        .take()
        .into_iter()
        .filter(|m| m.headline.starts_with('➕'))
        .collect()
}

/// The group `HighErrorRate` with alerts `fps`, all critical, started 4 minutes before the test.
fn errors(fps: &[&str]) -> serde_json::Value {
    let alerts: Vec<_> = fps
        .iter()
        .map(|fp| alert("HighErrorRate", fp, "critical", -4, None))
        .collect();
    notification("HighErrorRate", &alerts)
}

async fn an_alert_group_opens_one_incident_detected_when_its_first_alert_started(backend: Backend) {
    let a = Alerting::on(backend, &[]).await;
    let body = notification(
        "HighErrorRate",
        &[
            alert("HighErrorRate", "fp-a", "critical", -4, None),
            alert("HighErrorRate", "fp-b", "warning", -2, None),
        ],
    );
    let replies = a.send(&body).await;
    assert_eq!(replies.len(), 1, "{}", text(&replies));
    let said = text(&replies);
    assert_has(
        &said,
        &[
            "🚨 INCIDENT DETECTED - P0",
            "alert severity 'critical'",
            "Service: freightliner",
            "Impact: HighErrorRate\n",
            "Started: 2026-11-29 02:56 UTC",
            "Reported by: alertmanager/firewatch",
            "🔎 Evidence",
            "🔔 Alerts firing (2)",
            "🔥 HighErrorRate — HighErrorRate on fp-a · instance=fp-a.freightliner:8080, service=freightliner · critical · since 02:56 UTC",
            "🔥 HighErrorRate — HighErrorRate on fp-b",
            "▸ Acknowledge: /incident-ack #1",
            "↗ Silence: http://alertmanager.example.org:9093/#/silences/new?filter=%7Balertname%3D%22HighErrorRate%22%7D",
            "↗ Source: http://prometheus.example.org:9090/graph",
        ],
    );
    let reply = &replies[0];
    assert!(!reply.message.paged_roles.is_empty(), "P0 pages its roles");
    let opened = incident(&a, 1).await;
    assert_eq!(opened.channel.id, "alerts");
    assert_eq!(opened.opened.by.name, "alertmanager/firewatch");
    // Detection is when the problem began: the response target counts from there.
    let began = test_start() - TimeDelta::minutes(4);
    assert_eq!(opened.opened.at, began);
    assert_eq!(opened.ack_due, Some(began + TimeDelta::minutes(5)));
    assert_eq!(
        opened.next_update_due,
        Some(test_start() + TimeDelta::minutes(15))
    );
    let timeline = a.t.timeline(1).await;
    assert!(matches!(timeline[0].event, TimelineEvent::Detected { .. }));
    assert_eq!(timeline[0].at, began);
    assert!(
        timeline.iter().any(|e| matches!(&e.event,
            TimelineEvent::AlertsFired { count: 2, alerts, .. } if alerts.len() == 2)),
        "{timeline:#?}"
    );
    let members = a.t.app.store.alerts_of(id(1)).await.unwrap();
    assert_eq!(members.len(), 2);
    assert!(members.iter().all(|m| m.firing() && m.announced));
}

async fn more_alerts_are_attached_with_at_most_one_message_per_update_every(backend: Backend) {
    let a = Alerting::on(backend, &[]).await;
    a.send(&errors(&["fp-a"])).await;
    let seconds = |s| a.t.clock.advance(TimeDelta::seconds(s));
    seconds(20);
    assert!(
        a.send(&errors(&["fp-a", "fp-b"])).await.is_empty(),
        "within the minute: waits"
    );
    seconds(20);
    assert!(a.send(&errors(&["fp-a", "fp-b", "fp-c"])).await.is_empty());
    a.t.tick().await;
    assert!(more(&a).is_empty(), "not due yet");
    seconds(20);
    a.t.tick().await;
    // (The response target, counted from the alert's start, was missed too.)
    let posted = more(&a);
    assert_eq!(posted.len(), 1, "one message for both");
    assert_has(
        &posted[0].plain_text(),
        &[
            "➕ 2 more alerts firing on #1",
            "HighErrorRate on fp-b",
            "HighErrorRate on fp-c",
        ],
    );
    a.t.tick().await;
    assert!(more(&a).is_empty(), "posted once");
    // The next one waits a minute from that message, then comes at once.
    seconds(10);
    assert!(
        a.send(&errors(&["fp-a", "fp-b", "fp-c", "fp-d"]))
            .await
            .is_empty()
    );
    seconds(50);
    a.t.tick().await;
    assert_has(
        &more(&a)[0].plain_text(),
        &["➕ 1 more alert firing on #1", "fp-d"],
    );
    seconds(70);
    let replies = a
        .send(&errors(&["fp-a", "fp-b", "fp-c", "fp-d", "fp-e"]))
        .await;
    assert_has(&text(&replies), &["➕ 1 more alert firing on #1", "fp-e"]);
    assert_eq!(incidents(&a).await, 1);
    let fired =
        a.t.timeline(1)
            .await
            .iter()
            .filter(|e| matches!(e.event, TimelineEvent::AlertsFired { .. }))
            .count();
    assert_eq!(fired, 5, "every alert on the timeline as it came");
}

async fn a_large_group_is_listed_in_part_and_counted(backend: Backend) {
    let a = Alerting::on(backend, &[]).await;
    let fps: Vec<String> = (0..25).map(|i| format!("fp-{i:02}")).collect();
    let fps: Vec<&str> = fps.iter().map(String::as_str).collect();
    let said = text(&a.send(&errors(&fps)).await);
    assert_has(
        &said,
        &["🔔 Alerts firing (25)", "on fp-19 ·", "… and 5 more"],
    );
    assert!(!said.contains("on fp-20 ·"), "{said}");
    let fired =
        a.t.timeline(1)
            .await
            .into_iter()
            .find_map(|e| match e.event {
                TimelineEvent::AlertsFired { count, alerts, .. } => Some((count, alerts)),
                _ => None,
            })
            .expect("the alerts are on the timeline");
    assert_eq!(fired.0, 25);
    assert_eq!(fired.1.len(), 21);
    assert_eq!(fired.1[20], "… and 5 more");
    assert_eq!(
        a.t.app.store.alerts_of(id(1)).await.unwrap().len(),
        25,
        "all recorded"
    );
}

async fn a_repeat_and_a_duplicate_post_nothing(backend: Backend) {
    let a = Alerting::on(backend, &[]).await;
    let body = errors(&["fp-a"]);
    assert_eq!(a.send(&body).await.len(), 1);
    let before = a.t.timeline(1).await.len();
    // An HA pair's second copy: the same request key.
    assert!(a.send(&body).await.is_empty());
    // Alertmanager's repeat, long after: the alerts as they are known.
    a.t.advance_minutes(240);
    assert!(a.resend(&body).await.is_empty());
    a.t.tick().await;
    assert!(
        a.posts.take().iter().all(|m| !m.headline.contains("alert")),
        "no alert message"
    );
    assert_eq!(incidents(&a).await, 1);
    assert_eq!(
        a.t.timeline(1)
            .await
            .iter()
            .filter(|e| !matches!(
                e.event,
                TimelineEvent::ResponseTargetMissed { .. } | TimelineEvent::UpdateOverdue { .. }
            ))
            .count(),
        before
    );
}

async fn a_more_severe_alert_raises_the_severity_and_acknowledges_nothing(backend: Backend) {
    let a = Alerting::on(backend, &[]).await;
    let warning = alert("HighErrorRate", "fp-a", "warning", -4, None);
    let opened = text(
        &a.send(&notification(
            "HighErrorRate",
            std::slice::from_ref(&warning),
        ))
        .await,
    );
    assert_has(&opened, &["INCIDENT DETECTED - P2"]);
    let critical = alert("HighErrorRate", "fp-b", "critical", -1, None);
    let replies = a
        .send(&notification("HighErrorRate", &[warning, critical]))
        .await;
    assert_has(
        &text(&replies),
        &[
            "🔺 SEVERITY RAISED - P2 → P0",
            "Reason: HighErrorRate fired (alert severity 'critical')",
            "Changed by: alertmanager/firewatch",
        ],
    );
    assert!(
        !replies[0].message.paged_roles.is_empty(),
        "P0's roles paged"
    );
    let raised = incident(&a, 1).await;
    assert_eq!(raised.severity, Severity::P0);
    assert_eq!(
        raised.acknowledged, None,
        "the receiver is not the commander"
    );
}

async fn when_every_alert_resolved_the_channel_is_told_and_nothing_is_resolved(backend: Backend) {
    let a = Alerting::on(backend, &[]).await;
    let firing = |fp| alert("HighErrorRate", fp, "critical", -4, None);
    let resolved = |fp, m| alert("HighErrorRate", fp, "critical", -4, Some(m));
    a.send(&notification(
        "HighErrorRate",
        &[firing("fp-a"), firing("fp-b")],
    ))
    .await;
    let one = a
        .send(&notification(
            "HighErrorRate",
            &[resolved("fp-a", 3), firing("fp-b")],
        ))
        .await;
    assert!(one.is_empty(), "one still fires: {}", text(&one));
    let all = a
        .send(&notification(
            "HighErrorRate",
            &[resolved("fp-a", 3), resolved("fp-b", 5)],
        ))
        .await;
    assert_has(
        &text(&all),
        &[
            "✅ All 2 alerts of #1 resolved at 03:05 UTC",
            "/incident-update #1 --status monitoring",
            "▸ Move to Monitoring: /incident-update #1 --status monitoring all alerts resolved",
            "/incident-resolve #1",
        ],
    );
    let after = incident(&a, 1).await;
    assert_eq!(after.status, Status::Investigating, "only suggested");
    assert!(
        a.t.timeline(1)
            .await
            .iter()
            .any(|e| matches!(e.event, TimelineEvent::AlertsResolved { count: 2, .. }))
    );
    // A repeat of the resolution says nothing again.
    assert!(
        a.resend(&notification(
            "HighErrorRate",
            &[resolved("fp-a", 3), resolved("fp-b", 5)]
        ))
        .await
        .is_empty()
    );
}

async fn auto_monitor_moves_the_incident_to_monitoring_as_the_receiver(backend: Backend) {
    let a = Alerting::on(backend, &[("FIREWATCH__ALERTS__AUTO_MONITOR", "true")]).await;
    a.send(&errors(&["fp-a"])).await;
    let resolved = alert("HighErrorRate", "fp-a", "critical", -4, Some(6));
    let replies = a.send(&notification("HighErrorRate", &[resolved])).await;
    assert_has(
        &text(&replies),
        &[
            "✅ The alert of #1 resolved at 03:06 UTC",
            "firewatch moved #1 to Monitoring (alerts.auto_monitor)",
        ],
    );
    let after = incident(&a, 1).await;
    assert_eq!(after.status, Status::Monitoring);
    assert_eq!(after.resolved, None, "resolving needs a person");
    assert_eq!(after.acknowledged, None);
    let moved =
        a.t.timeline(1)
            .await
            .into_iter()
            .find(|e| matches!(e.event, TimelineEvent::StatusChanged { .. }))
            .expect("the move is on the timeline");
    assert_eq!(moved.actor.name, "alertmanager/firewatch");
}

async fn an_alert_firing_again_is_posted_as_firing_again(backend: Backend) {
    let a = Alerting::on(backend, &[]).await;
    a.send(&errors(&["fp-a"])).await;
    let resolved = alert("HighErrorRate", "fp-a", "critical", -4, Some(1));
    a.send(&notification("HighErrorRate", &[resolved])).await;
    a.t.advance_minutes(10);
    let again = alert("HighErrorRate", "fp-a", "critical", 8, None);
    let replies = a.send(&notification("HighErrorRate", &[again])).await;
    assert_has(
        &text(&replies),
        &[
            "🔁 1 alert firing again on #1",
            "🔁 HighErrorRate",
            "fired again 03:08 UTC",
        ],
    );
    assert_eq!(incidents(&a).await, 1, "the active incident takes it");
    assert!(
        a.t.timeline(1)
            .await
            .iter()
            .any(|e| matches!(e.event, TimelineEvent::AlertsFired { refired: 1, .. }))
    );
}

async fn after_the_incident_is_closed_the_group_opens_a_new_incident_that_links_it(
    backend: Backend,
) {
    let a = Alerting::on(backend, &[]).await;
    a.send(&errors(&["fp-a"])).await;
    let resolved = alert("HighErrorRate", "fp-a", "critical", -4, Some(2));
    a.send(&notification("HighErrorRate", &[resolved])).await;
    let closing = resolve_and_report(&a).await;
    assert_has(
        &closing,
        &["📄 POST-INCIDENT REPORT - #1", "Status: Closed"],
    );
    a.t.advance_minutes(120);
    let again = alert("HighErrorRate", "fp-a", "critical", 118, None);
    let replies = a.send(&notification("HighErrorRate", &[again])).await;
    assert_has(
        &text(&replies),
        &[
            "INCIDENT DETECTED",
            "Incident: #2",
            "🔁 Fired again; previous #1 closed 2h 00m ago",
        ],
    );
    assert_eq!(incident(&a, 1).await.status, Status::Closed);
    assert!(a.t.timeline(2).await.iter().any(|e| matches!(
        &e.event,
        TimelineEvent::AlertsFired { previous: Some(p), .. } if p == "#1 closed 2h 00m ago"
    )));
}

async fn past_the_cap_alert_groups_join_one_storm_incident(backend: Backend) {
    let a = Alerting::on(backend, &[("FIREWATCH__ALERTS__MAX_NEW_INCIDENTS", "2")]).await;
    let group = |name: &str, severity: &str| {
        notification(
            name,
            &[alert(name, &format!("{name}-1"), severity, -1, None)],
        )
    };
    let first = text(&a.send(&group("DiskFull", "warning")).await);
    assert_has(&first, &["INCIDENT DETECTED - P2", "Incident: #1"]);
    a.send(&group("HighLatency", "warning")).await;
    let storm = text(&a.send(&group("PodCrashLooping", "critical")).await);
    assert_has(
        &storm,
        &[
            "INCIDENT DETECTED - P0",
            "Incident: #3",
            "Impact: ⛈️ Alert storm: more than 2 alert groups fired within a minute",
            "⛈️ Alert storm",
            "PodCrashLooping",
        ],
    );
    // Further groups join it: recorded, shown at its cadence, paging nobody again.
    assert!(a.send(&group("NodeNotReady", "warning")).await.is_empty());
    assert!(a.send(&group("ApiDown", "critical")).await.is_empty());
    assert_eq!(incidents(&a).await, 3);
    let members = a.t.app.store.alerts_of(id(3)).await.unwrap();
    assert_eq!(members.len(), 3, "every alert is recorded");
    a.after(1).await;
    let posted = more(&a);
    assert_eq!(posted.len(), 1);
    assert_has(
        &posted[0].plain_text(),
        &["➕ 2 more alerts firing on #3", "NodeNotReady", "ApiDown"],
    );
    assert!(posted[0].paged_roles.is_empty());
    // A minute later the cap has room again.
    a.t.advance_minutes(1);
    let later = text(&a.send(&group("CertExpiring", "info")).await);
    assert_has(&later, &["Incident: #4", "INCIDENT DETECTED - P3"]);
}

async fn status_and_report_list_the_alerts(backend: Backend) {
    let a = Alerting::on(backend, &[]).await;
    let firing = |fp| alert("HighErrorRate", fp, "critical", -4, None);
    a.send(&notification(
        "HighErrorRate",
        &[firing("fp-a"), firing("fp-b")],
    ))
    .await;
    let resolved = alert("HighErrorRate", "fp-a", "critical", -4, Some(3));
    a.send(&notification("HighErrorRate", &[resolved, firing("fp-b")]))
        .await;
    let status =
        a.t.console("alice", "alerts", "/incident-status #1\n")
            .await;
    assert_has(
        &status,
        &[
            "Alerts:",
            "✅ HighErrorRate (instance=fp-a.freightliner:8080, service=freightliner) — resolved, started 02:56 UTC, ended 03:03 UTC",
            "🔥 HighErrorRate (instance=fp-b.freightliner:8080, service=freightliner) — firing, started 02:56 UTC",
            "alerts fired: HighErrorRate (instance=fp-a",
        ],
    );
    let ended = |fp, m| alert("HighErrorRate", fp, "critical", -4, Some(m));
    a.send(&notification(
        "HighErrorRate",
        &[ended("fp-a", 3), ended("fp-b", 5)],
    ))
    .await;
    let report = resolve_and_report(&a).await;
    assert_has(
        &report,
        &[
            "## Alerts",
            "- **HighErrorRate** (instance=fp-a.freightliner:8080, service=freightliner): started 02:56 UTC, ended 03:03 UTC",
            "- **HighErrorRate** (instance=fp-b.freightliner:8080, service=freightliner): started 02:56 UTC, ended 03:05 UTC",
            "Alert fired: HighErrorRate (instance=fp-a.freightliner:8080, service=freightliner) since 02:56 UTC",
            "Alerts resolved: all 2 alerts resolved at 03:05 UTC",
        ],
    );
}
