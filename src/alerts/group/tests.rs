use chrono::{TimeDelta, TimeZone};

use super::*;
use crate::alerts::payload::Links;
use crate::config::tests::{WEB, load};
use crate::incident::{ChannelRef, Platform, Severity, Status};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 3, 0, 0).unwrap()
}

fn rules() -> Rules {
    Rules::from_settings(&load(&format!("{WEB}\n[alerts]\nmax_new_incidents = 2\n")).unwrap())
        .unwrap()
}

fn alert(fingerprint: &str, severity: &str, minute: i64, resolved: Option<i64>) -> Alert {
    Alert {
        fingerprint: fingerprint.into(),
        status: if resolved.is_some() {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        },
        labels: [("alertname", "HighErrorRate"), ("severity", severity)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        summary: "errors".into(),
        starts_at: t0() + TimeDelta::minutes(minute),
        ends_at: resolved.map(|m| t0() + TimeDelta::minutes(m)),
        links: Links::default(),
        values: Vec::new(),
    }
}

/// A member that fired once.
fn member(a: Alert) -> Member {
    Member {
        group: "g".into(),
        firings: 1,
        announced: true,
        alert: a,
    }
}

fn incident(status: Status) -> Incident {
    Incident {
        summary: "errors".into(),
        severity_reason: "alert severity 'warning'".into(),
        status,
        channel: ChannelRef {
            platform: Platform::Console,
            id: "alerts".into(),
        },
        ..Incident::example(4, Severity::P2, "web", "alertmanager/am", t0())
    }
}

fn state(status: Status, members: Vec<Alert>) -> AlertState {
    AlertState {
        latest: Some(incident(status)),
        members: members.into_iter().map(member).collect(),
        ..AlertState::default()
    }
}

#[test]
fn a_repeat_changes_nothing() {
    let known = vec![alert("a", "warning", 0, None)];
    let p = plan(
        &state(Status::Investigating, known.clone()),
        "g",
        &known,
        &rules(),
    );
    assert_eq!(p.target, Target::Nothing);
    assert!(!p.merge.changed());
}

#[test]
fn a_new_alert_in_an_active_group_is_attached_and_says_how_severe_it_is() {
    let s = state(Status::Investigating, vec![alert("a", "warning", 0, None)]);
    let incoming = [
        alert("a", "warning", 0, None),
        alert("b", "critical", 1, None),
    ];
    let p = plan(&s, "g", &incoming, &rules());
    assert_eq!(p.target, Target::Latest);
    assert_eq!(p.merge.fired, ["b"]);
    assert_eq!(p.merge.written.len(), 1, "only the new one is written");
    assert!(!p.merge.written[0].announced);
    assert_eq!(p.severity.map(|c| c.severity), Some(Severity::P0));
    assert_eq!(p.all_resolved, None);
}

#[test]
fn older_states_never_overwrite_newer_ones() {
    let s = state(
        Status::Investigating,
        vec![alert("a", "warning", 5, Some(9))],
    );
    // The firing of the same start, arriving after its resolution (an HA peer's late copy).
    let late = plan(&s, "g", &[alert("a", "warning", 5, None)], &rules());
    assert_eq!(late.target, Target::Nothing);
    // A state of an earlier firing.
    let older = plan(&s, "g", &[alert("a", "warning", 1, None)], &rules());
    assert_eq!(older.target, Target::Nothing);
}

#[test]
fn the_last_resolution_resolves_all_and_counts_every_member() {
    let s = state(
        Status::Mitigating,
        vec![
            alert("a", "warning", 0, Some(3)),
            alert("b", "warning", 1, None),
        ],
    );
    let p = plan(&s, "g", &[alert("b", "warning", 1, Some(7))], &rules());
    assert_eq!(p.merge.resolved, ["b"]);
    assert_eq!(p.all_resolved, Some((2, t0() + TimeDelta::minutes(7))));
    // Another group of the same (storm) incident still fires: not all resolved.
    let mut storm = s.clone();
    storm.others = (3, 1);
    let p = plan(&storm, "g", &[alert("b", "warning", 1, Some(7))], &rules());
    assert_eq!(p.all_resolved, None);
}

#[test]
fn an_alert_firing_again_is_counted_and_shown_again() {
    let s = state(Status::Monitoring, vec![alert("a", "warning", 0, Some(3))]);
    let p = plan(&s, "g", &[alert("a", "warning", 10, None)], &rules());
    assert_eq!(p.target, Target::Latest);
    assert_eq!(p.merge.refired, ["a"]);
    let again = &p.merge.written[0];
    assert_eq!((again.firings, again.announced), (2, false));
}

#[test]
fn after_the_incident_ended_only_news_opens_a_new_one() {
    let firing = alert("a", "warning", 0, None);
    let over = state(Status::Resolved, vec![firing.clone()]);
    // A resend of what the resolved incident knew: recorded nowhere new.
    assert_eq!(
        plan(&over, "g", std::slice::from_ref(&firing), &rules()).target,
        Target::Nothing
    );
    // Its resolution is recorded under it, silently.
    let p = plan(&over, "g", &[alert("a", "warning", 0, Some(20))], &rules());
    assert_eq!(p.target, Target::Latest);
    assert_eq!(
        p.all_resolved, None,
        "nothing to announce on an incident that is over"
    );
    // A new firing opens a new incident, its members fresh.
    let closed = state(Status::Closed, vec![alert("a", "warning", 0, Some(20))]);
    let p = plan(&closed, "g", &[alert("a", "warning", 30, None)], &rules());
    assert_eq!(p.target, Target::Open);
    assert_eq!(p.merge.fired, ["a"], "new in the new incident");
    assert_eq!(p.merge.after[0].firings, 1);
}

#[test]
fn past_the_cap_a_new_group_joins_the_storm() {
    let mut s = AlertState::default();
    let incoming = [alert("a", "critical", 0, None)];
    assert_eq!(plan(&s, "g", &incoming, &rules()).target, Target::Open);
    s.opened_recently = 2;
    let p = plan(&s, "g", &incoming, &rules());
    assert_eq!(p.target, Target::Storm);
    assert_eq!(p.severity.map(|c| c.severity), Some(Severity::P0));
    // A group that only resolves opens nothing.
    let p = plan(
        &AlertState::default(),
        "g",
        &[alert("a", "critical", 0, Some(2))],
        &rules(),
    );
    assert_eq!(p.target, Target::Nothing);
}
