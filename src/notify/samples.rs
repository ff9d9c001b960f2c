//! Sample data for checking templates: a made-up incident run through the real context builders.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::Value;

use super::Template;
use super::context;
use crate::alerts::Member;
use crate::alerts::payload::{Alert, AlertStatus, Links};
use crate::incident::roles::Holder;
use crate::incident::severity::Policy;
use crate::incident::timers::{Timer, TimerKind};
use crate::incident::trail;
use crate::incident::{
    Actor, ChannelRef, Incident, IncidentId, Platform, Role, Severity, Stamp, Status,
    TimelineEntry, TimelineEvent,
};

fn person(name: &str) -> Actor {
    Actor {
        platform: Platform::Console,
        id: name.into(),
        name: name.into(),
    }
}

fn sample_incident(opened: DateTime<Utc>) -> Incident {
    Incident {
        id: IncidentId::new(42).expect("42 is positive"),
        summary: "API returning 500s since the last deploy".into(),
        service: "freightliner".into(),
        severity: Severity::P1,
        severity_reason: "matched '500s'".into(),
        status: Status::Mitigating,
        channel: ChannelRef {
            platform: Platform::Console,
            id: "ops".into(),
        },
        opened: Stamp {
            by: person("alice"),
            at: opened,
        },
        acknowledged: Some(Stamp {
            by: person("bob"),
            at: opened + TimeDelta::minutes(3),
        }),
        resolved: None,
        root_cause: None,
        resolution: None,
        closed_at: None,
        next_update_due: Some(opened + TimeDelta::minutes(40)),
        ack_due: None,
        roles: vec![
            Holder {
                role: Role::Commander,
                person: person("bob"),
                since: opened + TimeDelta::minutes(3),
            },
            Holder {
                role: Role::Comms,
                person: person("carol"),
                since: opened + TimeDelta::minutes(5),
            },
        ],
        version: 4,
    }
}

/// Two alerts of the sample incident: one resolved, one still firing without labels to show.
fn sample_alerts(opened: DateTime<Utc>) -> Vec<Member> {
    let alert = |name: &str, labels: &[(&str, &str)], ends: Option<i64>| Member {
        group: "{}:{alertname=\"HighErrorRate\"}".into(),
        alert: Alert {
            fingerprint: format!("{name}-1"),
            status: if ends.is_some() {
                AlertStatus::Resolved
            } else {
                AlertStatus::Firing
            },
            labels: labels
                .iter()
                .chain(&[("alertname", name)])
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            summary: "5xx above 5%".into(),
            starts_at: opened - TimeDelta::minutes(2),
            ends_at: ends.map(|m| opened + TimeDelta::minutes(m)),
            links: Links::default(),
            values: Vec::new(),
        },
        firings: 1,
        announced: true,
    };
    vec![
        alert("HighErrorRate", &[("instance", "web-1")], Some(30)),
        alert("HighLatency", &[], None),
    ]
}

fn value(data: impl serde::Serialize) -> Value {
    serde_json::to_value(data).expect("template data serialises")
}

/// Every template with data as the engine would build it.
pub(super) fn all(policy: &Policy) -> Vec<(Template, Value)> {
    let opened = Utc
        .with_ymd_and_hms(2026, 11, 29, 3, 0, 0)
        .single()
        .expect("valid date");
    let now = opened + TimeDelta::minutes(12);
    let open = sample_incident(opened);
    let mut fresh = open.clone();
    fresh.acknowledged = None;
    fresh.status = Status::Investigating;
    fresh.ack_due = Some(opened + TimeDelta::hours(1));
    let mut resolved = open.clone();
    resolved.status = Status::Resolved;
    resolved.resolved = Some(Stamp {
        by: person("bob"),
        at: opened + TimeDelta::minutes(47),
    });
    resolved.root_cause = Some("a config flag enabled an unfinished code path".into());
    resolved.resolution = Some("rolled back to revision 41".into());
    resolved.next_update_due = None;
    let roles: Vec<String> = policy.level(Severity::P1).roles.clone();
    let timeline: Vec<TimelineEntry> = [
        TimelineEvent::Detected {
            summary: open.summary.clone(),
            service: open.service.clone(),
            severity: Severity::P1,
            reason: open.severity_reason.clone(),
            paged: roles.clone(),
        },
        TimelineEvent::Acknowledged { implicit: false },
        TimelineEvent::RoleAssigned {
            role: Role::Comms,
            person: person("carol"),
            previous: None,
        },
        TimelineEvent::Note {
            text: "error rate 12%".into(),
        },
    ]
    .into_iter()
    .enumerate()
    .map(|(i, event)| TimelineEntry {
        seq: i64::try_from(i).unwrap_or_default() + 1,
        at: opened + TimeDelta::minutes(i64::try_from(i).unwrap_or_default()),
        actor: person("alice"),
        event,
    })
    .collect();
    let report_timeline = report_timeline(&resolved, &timeline);
    let full_trail = trail::derive(&resolved, &report_timeline);
    let bare_trail = trail::derive(&resolved, &timeline[..1]);
    let id = open.id;
    let timer = |kind| Timer {
        incident: id,
        kind,
        due: opened + TimeDelta::minutes(5),
        fire_at: opened + TimeDelta::minutes(5),
        fired: 0,
    };
    let bob = person("bob");
    let alerts = sample_alerts(opened);
    let mut raised = open.clone();
    raised.severity = Severity::P0;
    // Each conditional in the templates is reached both ways by some sample, so a misspelt
    // variable inside any branch fails the check.
    vec![
        (
            Template::Detected,
            value(context::detected(&fresh, policy, &roles, now)),
        ),
        (
            Template::Update,
            value(context::update(
                &open,
                policy,
                context::Posted {
                    progress: "rolling back",
                    eta: Some("20m"),
                    previous_status: Some(Status::Investigating),
                    by: &bob,
                },
                &full_trail,
                now,
            )),
        ),
        (
            Template::Update,
            value(context::update(
                &open,
                policy,
                context::Posted {
                    progress: "still rolling back",
                    eta: None,
                    previous_status: None,
                    by: &bob,
                },
                &bare_trail,
                now,
            )),
        ),
        (
            Template::Resolved,
            value(context::resolved(&resolved, policy, &full_trail, now)),
        ),
        (
            Template::Resolved,
            value(context::resolved(&resolved, policy, &bare_trail, now)),
        ),
        (
            Template::Severity,
            value(context::severity_change(
                &raised,
                policy,
                Severity::P1,
                Some("all regions"),
                &roles,
                &bob,
                now,
            )),
        ),
        (
            Template::Severity,
            value(context::severity_change(
                &open,
                policy,
                Severity::P0,
                None,
                &[],
                &bob,
                now,
            )),
        ),
        (
            Template::Acknowledged,
            value(context::acknowledged(&open, policy, now)),
        ),
        (
            Template::Note,
            value(context::note(&open, policy, &bob, "pods restarting")),
        ),
        (
            Template::Status,
            value(context::status(&open, policy, &timeline, &alerts, now)),
        ),
        (
            Template::Status,
            value(context::status(
                &resolved,
                policy,
                &long_timeline(&timeline),
                &[],
                now,
            )),
        ),
        (
            Template::Incidents,
            value(context::incidents(
                &[open.clone(), fresh.clone()],
                policy,
                now,
            )),
        ),
        (
            Template::Incidents,
            value(context::incidents(&[], policy, now)),
        ),
        (
            Template::Status,
            value(context::status(
                &resolved,
                policy,
                &report_timeline,
                &[],
                now,
            )),
        ),
        (
            Template::Reminder,
            value(context::reminder(
                &open,
                policy,
                &timer(TimerKind::Update),
                Some(now + TimeDelta::minutes(30)),
                now,
            )),
        ),
        (
            Template::Reminder,
            value(context::reminder(
                &fresh,
                policy,
                &timer(TimerKind::Update),
                None,
                now,
            )),
        ),
        (
            Template::Escalation,
            value(context::escalation(
                &fresh,
                policy,
                &timer(TimerKind::Ack),
                &roles,
                now,
            )),
        ),
        (
            Template::Report,
            value(context::report(
                &resolved,
                policy,
                &full_trail,
                &alerts,
                now,
            )),
        ),
        (
            Template::Report,
            value(context::report(&resolved, policy, &bare_trail, &[], now)),
        ),
        (
            Template::Closed,
            value(context::closed(
                &resolved,
                policy,
                &full_trail,
                "incident-20261129.md",
                false,
            )),
        ),
        (
            Template::Closed,
            value(context::closed(
                &resolved,
                policy,
                &bare_trail,
                "incident-20261129.md",
                true,
            )),
        ),
    ]
}

/// A timeline that reaches every milestone, with notes, users, a verification between two
/// updates and action items (one done).
fn report_timeline(resolved: &Incident, base: &[TimelineEntry]) -> Vec<TimelineEntry> {
    let opened = resolved.opened.at;
    let events = [
        TimelineEvent::Updated {
            progress: "errors since deploy 42".into(),
            eta: None,
            users: Some("about 2,000".into()),
            impact: Some("checkout unavailable in the EU".into()),
        },
        TimelineEvent::StatusChanged {
            from: Status::Investigating,
            to: Status::Monitoring,
        },
        TimelineEvent::Note {
            text: "prevention: canary the config flag".into(),
        },
        TimelineEvent::FollowupAdded {
            text: "alert on the 5xx rate".into(),
        },
        TimelineEvent::FollowupDone { n: 1 },
        TimelineEvent::JobFinished {
            job: "api-smoke".into(),
            name: "firewatch-1-api-smoke-1".into(),
            purpose: "smoke".into(),
            verdict: "passed".into(),
            passed: true,
            lines: vec!["ok: 12 checks".into()],
        },
        TimelineEvent::Updated {
            progress: "smoke tests pass".into(),
            eta: None,
            users: None,
            impact: None,
        },
        TimelineEvent::FollowupAdded {
            text: "test the flag in staging".into(),
        },
        TimelineEvent::Resolved {
            root_cause: "bad flag".into(),
            resolution: "rolled back".into(),
        },
    ];
    let mut timeline = base.to_vec();
    for (i, event) in events.into_iter().enumerate() {
        let i = i64::try_from(i).unwrap_or_default();
        timeline.push(TimelineEntry {
            seq: 10 + i,
            at: opened + TimeDelta::minutes(10 + i),
            actor: person("bob"),
            event,
        });
    }
    timeline
}

/// A timeline longer than `/incident-status` shows, so the "earlier entries" line renders.
fn long_timeline(base: &[TimelineEntry]) -> Vec<TimelineEntry> {
    base.iter()
        .cycle()
        .take(context::STATUS_TIMELINE_LEN + 2)
        .cloned()
        .collect()
}
