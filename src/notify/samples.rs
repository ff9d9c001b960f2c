//! Sample data for checking templates: a made-up incident run through the real context builders.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::Value;

use super::Template;
use super::context;
use crate::incident::severity::Policy;
use crate::incident::{
    Actor, ChannelRef, Incident, IncidentId, Platform, Severity, Stamp, Status, TimelineEntry,
    TimelineEvent,
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
        version: 4,
    }
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
    let bob = person("bob");
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
                "rolling back",
                Some("20m"),
                Some(Status::Investigating),
                &bob,
                now,
            )),
        ),
        (
            Template::Update,
            value(context::update(
                &open,
                policy,
                "still rolling back",
                None,
                None,
                &bob,
                now,
            )),
        ),
        (
            Template::Resolved,
            value(context::resolved(&resolved, policy, now)),
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
            value(context::status(&open, policy, &timeline, now)),
        ),
        (
            Template::Status,
            value(context::status(
                &resolved,
                policy,
                &long_timeline(&timeline),
                now,
            )),
        ),
        (
            Template::Incidents,
            value(context::incidents(&[open, fresh], policy, now)),
        ),
        (
            Template::Incidents,
            value(context::incidents(&[], policy, now)),
        ),
    ]
}

/// A timeline longer than `/incident-status` shows, so the "earlier entries" line renders.
fn long_timeline(base: &[TimelineEntry]) -> Vec<TimelineEntry> {
    base.iter()
        .cycle()
        .take(context::STATUS_TIMELINE_LEN + 2)
        .cloned()
        .collect()
}
