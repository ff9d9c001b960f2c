use chrono::{TimeDelta, TimeZone};

use super::*;
use crate::incident::{Platform, Role};

fn policy() -> Policy {
    Policy::runbook()
}

pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 3, 0, 0).unwrap()
}

pub(crate) fn person(name: &str) -> Actor {
    Actor {
        platform: Platform::Console,
        id: name.into(),
        name: name.into(),
    }
}

pub(crate) fn incident(status: Status, acknowledged: bool) -> Incident {
    let draft = open(
        Report {
            summary: "API returning 500s".into(),
            service: "freightliner".into(),
            classification: policy().classify("API returning 500s", None),
            channel: ChannelRef {
                platform: Platform::Console,
                id: "ops".into(),
            },
            paged: policy().level(Severity::P1).roles.clone(),
        },
        &person("reporter"),
        t0(),
        &policy(),
    );
    Incident {
        id: IncidentId::new(7).unwrap(),
        summary: draft.summary,
        service: draft.service,
        severity: draft.severity,
        severity_reason: draft.severity_reason,
        status,
        channel: draft.channel,
        opened: draft.opened,
        acknowledged: acknowledged.then(|| Stamp {
            by: person("alice"),
            at: t0() + TimeDelta::minutes(2),
        }),
        resolved: None,
        root_cause: None,
        resolution: None,
        closed_at: None,
        next_update_due: Some(draft.next_update_due),
        ack_due: (!acknowledged).then_some(draft.ack_due),
        roles: Vec::new(),
        version: 3,
    }
}

/// The entry that makes `name` commander.
fn commander(name: &str) -> TimelineEvent {
    TimelineEvent::RoleAssigned {
        role: Role::Commander,
        person: person(name),
        previous: None,
    }
}

fn every_event() -> Vec<Event> {
    vec![
        Event::Acknowledge,
        Event::AssignRole {
            role: Role::Scribe,
            person: person("carol"),
        },
        Event::PostUpdate {
            status: None,
            progress: "looking at logs".into(),
            eta: None,
            users: None,
            impact: None,
        },
        Event::PostUpdate {
            status: Some(Status::Mitigating),
            progress: "rolling back".into(),
            eta: Some("20m".into()),
            users: None,
            impact: None,
        },
        Event::ChangeSeverity {
            to: Severity::P0,
            reason: Some("all regions".into()),
        },
        Event::AddNote {
            text: "pods restarting".into(),
        },
        Event::Resolve {
            root_cause: "bad config".into(),
            resolution: "rolled back".into(),
        },
        Event::Close {
            report: "docs/incidents/incident-20261129.md".into(),
        },
        Event::FollowUp(FollowUp::Add("alert on the 5xx rate".into())),
        Event::FollowUp(FollowUp::Done(1)),
    ]
}

fn later() -> DateTime<Utc> {
    t0() + TimeDelta::minutes(10)
}

#[test]
fn opening_starts_investigating_with_due_times_from_the_severity() {
    let draft = open(
        Report {
            summary: "checkout is down".into(),
            service: "freightliner".into(),
            classification: policy().classify("checkout is down", None),
            channel: ChannelRef {
                platform: Platform::Console,
                id: "ops".into(),
            },
            paged: policy().level(Severity::P0).roles.clone(),
        },
        &person("reporter"),
        t0(),
        &policy(),
    );
    assert_eq!(draft.severity, Severity::P0);
    assert_eq!(draft.severity_reason, "matched 'down'");
    assert_eq!(draft.next_update_due, t0() + TimeDelta::minutes(15));
    assert_eq!(draft.ack_due, t0() + TimeDelta::minutes(5));
    assert!(matches!(
        &draft.entries[..],
        [TimelineEvent::Detected { severity: Severity::P0, paged, .. }] if paged.len() == 3
    ));
}

#[test]
fn every_event_in_every_status_is_accepted_exactly_when_the_table_allows_it() {
    let expected_legal = |status: Status, event: &Event| match event {
        Event::AddNote { .. } | Event::AssignRole { .. } => matches!(
            status,
            Status::Investigating | Status::Mitigating | Status::Monitoring | Status::Resolved
        ),
        Event::Close { .. } => status == Status::Resolved,
        Event::FollowUp(_) => true,
        _ => status.is_active(),
    };
    for status in Status::ALL {
        for event in every_event() {
            let before = incident(status, false);
            let result = apply(&before, event.clone(), &person("bob"), later(), &policy());
            if expected_legal(status, &event) {
                let outcome = result.unwrap_or_else(|r| panic!("{event:?} in {status}: {r}"));
                assert!(
                    !outcome.entries.is_empty(),
                    "{event:?} in {status} records nothing"
                );
                assert_eq!(
                    outcome.incident.version, before.version,
                    "version is the store's"
                );
            } else {
                assert_eq!(
                    result,
                    Err(Refusal::WrongState {
                        id: before.id,
                        status,
                        step: event.step()
                    }),
                    "{event:?} in {status}"
                );
            }
        }
    }
}

#[test]
fn explicit_acknowledgement_makes_the_commander_and_cancels_the_ack_deadline() {
    let before = incident(Status::Investigating, false);
    let out = apply(
        &before,
        Event::Acknowledge,
        &person("bob"),
        later(),
        &policy(),
    )
    .unwrap();
    assert_eq!(out.incident.commander(), Some(&person("bob")));
    assert_eq!(out.incident.ack_due, None);
    assert_eq!(
        out.incident.next_update_due, before.next_update_due,
        "ack is no update"
    );
    assert_eq!(
        out.entries,
        vec![
            TimelineEvent::Acknowledged { implicit: false },
            commander("bob")
        ]
    );
}

#[test]
fn a_second_acknowledgement_is_refused_naming_the_first() {
    let before = incident(Status::Mitigating, true);
    let refusal = apply(
        &before,
        Event::Acknowledge,
        &person("bob"),
        later(),
        &policy(),
    )
    .expect_err("already acknowledged");
    assert_eq!(
        refusal.to_string(),
        "#7 was already acknowledged by alice at 03:02 UTC"
    );
}

#[test]
fn the_first_responder_action_acknowledges_implicitly() {
    let before = incident(Status::Investigating, false);
    let note = Event::AddNote {
        text: "looking".into(),
    };
    let out = apply(&before, note, &person("carol"), later(), &policy()).unwrap();
    assert_eq!(out.incident.commander(), Some(&person("carol")));
    assert_eq!(
        out.entries[0],
        TimelineEvent::Acknowledged { implicit: true }
    );

    let acked = incident(Status::Investigating, true);
    let note = Event::AddNote {
        text: "more".into(),
    };
    let out = apply(&acked, note, &person("carol"), later(), &policy()).unwrap();
    assert_eq!(
        out.incident.commander(),
        Some(&person("alice")),
        "commander stays"
    );
    assert_eq!(out.entries.len(), 1);
}

#[test]
fn a_note_on_a_resolved_incident_does_not_acknowledge_it() {
    let before = incident(Status::Resolved, false);
    let note = Event::AddNote {
        text: "later finding".into(),
    };
    let out = apply(&before, note, &person("dan"), later(), &policy()).unwrap();
    assert_eq!(out.incident.acknowledged, None);
    assert_eq!(
        out.entries,
        vec![TimelineEvent::Note {
            text: "later finding".into()
        }]
    );
}

#[test]
fn an_update_moves_the_status_either_way_and_promises_the_next_update() {
    let before = incident(Status::Monitoring, true);
    let update = Event::PostUpdate {
        status: Some(Status::Investigating),
        progress: "errors are back".into(),
        eta: None,
        users: None,
        impact: None,
    };
    let out = apply(&before, update, &person("bob"), later(), &policy()).unwrap();
    assert_eq!(out.incident.status, Status::Investigating);
    assert_eq!(
        out.incident.next_update_due,
        Some(later() + TimeDelta::minutes(30)),
        "P1 cadence"
    );
    assert_eq!(
        out.entries[0],
        TimelineEvent::StatusChanged {
            from: Status::Monitoring,
            to: Status::Investigating
        }
    );

    let same = Event::PostUpdate {
        status: Some(Status::Monitoring),
        progress: "still fine".into(),
        eta: None,
        users: None,
        impact: None,
    };
    let out = apply(&before, same, &person("bob"), later(), &policy()).unwrap();
    assert_eq!(
        out.entries.len(),
        1,
        "no status entry when the status stays"
    );
}

#[test]
fn a_severity_change_moves_the_update_cadence_and_refuses_no_ops() {
    let before = incident(Status::Investigating, true);
    let raise = Event::ChangeSeverity {
        to: Severity::P0,
        reason: Some("all regions".into()),
    };
    let out = apply(&before, raise, &person("bob"), later(), &policy()).unwrap();
    assert_eq!(out.incident.severity, Severity::P0);
    assert_eq!(out.incident.severity_reason, "changed by bob: all regions");
    assert_eq!(
        out.incident.next_update_due,
        Some(later() + TimeDelta::minutes(15))
    );

    let same = Event::ChangeSeverity {
        to: Severity::P1,
        reason: None,
    };
    let refusal = apply(&before, same, &person("bob"), later(), &policy()).unwrap_err();
    assert_eq!(refusal.to_string(), "#7 is already P1");
}

#[test]
fn resolving_stops_every_timer_and_keeps_the_cause() {
    let before = incident(Status::Mitigating, false);
    let resolve = Event::Resolve {
        root_cause: "bad config".into(),
        resolution: "rolled back".into(),
    };
    let out = apply(&before, resolve, &person("bob"), later(), &policy()).unwrap();
    assert_eq!(out.incident.status, Status::Resolved);
    assert_eq!(out.incident.next_update_due, None);
    assert_eq!(out.incident.ack_due, None);
    assert_eq!(out.incident.root_cause.as_deref(), Some("bad config"));
    assert_eq!(out.incident.resolved.as_ref().map(|s| s.at), Some(later()));
    assert_eq!(
        out.entries.len(),
        3,
        "implicit ack, commander, then resolved"
    );
}

#[test]
fn closing_needs_a_resolved_incident() {
    let resolved = incident(Status::Resolved, true);
    let close = Event::Close {
        report: "r.md".into(),
    };
    let out = apply(&resolved, close.clone(), &person("bob"), later(), &policy()).unwrap();
    assert_eq!(out.incident.status, Status::Closed);
    assert_eq!(out.incident.closed_at, Some(later()));
    let closed = out.incident;
    for event in every_event() {
        let result = apply(&closed, event.clone(), &person("bob"), later(), &policy());
        let follow_up = matches!(event, Event::FollowUp(_));
        assert_eq!(
            result.is_ok(),
            follow_up,
            "{event:?} on a closed incident: only follow-ups"
        );
    }
}

#[test]
fn follow_ups_are_recorded_in_every_status_and_count_as_acting() {
    let fresh = incident(Status::Investigating, false);
    let add = Event::FollowUp(FollowUp::Add("alert on 5xx".into()));
    let out = apply(&fresh, add, &person("bob"), later(), &policy()).unwrap();
    assert_eq!(
        out.entries,
        vec![
            TimelineEvent::Acknowledged { implicit: true },
            commander("bob"),
            TimelineEvent::FollowupAdded {
                text: "alert on 5xx".into()
            }
        ]
    );
    let closed = incident(Status::Closed, true);
    let done = Event::FollowUp(FollowUp::Done(1));
    let out = apply(&closed, done, &person("bob"), later(), &policy()).unwrap();
    assert_eq!(out.entries, vec![TimelineEvent::FollowupDone { n: 1 }]);
    assert_eq!(out.incident.status, Status::Closed);
}

// Timers and the paper trail are pure functions of the same incidents.

mod timers_and_trail {
    use super::*;
    use crate::incident::timers::{Timer, TimerKind, on_due};
    use crate::incident::trail::{Milestone, derive};
    use crate::incident::{TimelineEntry, TimelineEvent};

    fn timer(kind: TimerKind, fired: u32) -> Timer {
        Timer {
            incident: IncidentId::new(7).unwrap(),
            kind,
            due: t0() + TimeDelta::minutes(30),
            fire_at: t0() + TimeDelta::minutes(30),
            fired,
        }
    }

    #[test]
    fn a_response_target_escalates_only_an_active_unacknowledged_incident_and_never_again() {
        let now = t0() + TimeDelta::hours(1);
        let roles = vec!["cloud-architect".to_owned()];
        let fresh = incident(Status::Investigating, false);
        let fired = on_due(&fresh, &timer(TimerKind::Ack, 0), now, &policy(), &roles);
        assert_eq!(fired.by.name, "firewatch");
        assert_eq!(fired.next, None);
        assert_eq!(
            fired.entries,
            vec![TimelineEvent::ResponseTargetMissed {
                target: "1h".into(),
                paged: roles.clone()
            }]
        );
        for stale in [
            incident(Status::Investigating, true),
            incident(Status::Resolved, false),
        ] {
            let fired = on_due(&stale, &timer(TimerKind::Ack, 0), now, &policy(), &roles);
            assert!(fired.entries.is_empty() && fired.next.is_none());
        }
    }

    #[test]
    fn an_update_reminder_names_the_commander_and_repeats_at_the_current_cadence() {
        let now = t0() + TimeDelta::minutes(31);
        let mut led = incident(Status::Mitigating, true);
        let fired = on_due(&led, &timer(TimerKind::Update, 0), now, &policy(), &[]);
        assert_eq!(
            fired.entries,
            vec![TimelineEvent::UpdateOverdue {
                due: t0() + TimeDelta::minutes(30),
                commander: Some("alice".into())
            }]
        );
        assert_eq!(fired.next, Some(now + TimeDelta::minutes(30)), "P1 cadence");
        led.severity = Severity::P0;
        let fired = on_due(&led, &timer(TimerKind::Update, 1), now, &policy(), &[]);
        assert_eq!(fired.next, Some(now + TimeDelta::minutes(15)), "P0 cadence");
        let over = incident(Status::Closed, true);
        let fired = on_due(&over, &timer(TimerKind::Update, 0), now, &policy(), &[]);
        assert!(fired.entries.is_empty() && fired.next.is_none());
    }

    fn entry(minute: i64, who: &str, event: TimelineEvent) -> TimelineEntry {
        TimelineEntry {
            seq: minute,
            at: t0() + TimeDelta::minutes(minute),
            actor: person(who),
            event,
        }
    }

    #[test]
    fn the_trail_finds_milestones_metrics_and_action_items_in_the_timeline() {
        let mut resolved = incident(Status::Resolved, true);
        resolved.resolved = Some(Stamp {
            by: person("bob"),
            at: t0() + TimeDelta::minutes(50),
        });
        let timeline = vec![
            entry(
                0,
                "reporter",
                TimelineEvent::Detected {
                    summary: "API returning 500s".into(),
                    service: "freightliner".into(),
                    severity: Severity::P1,
                    reason: "matched '500s'".into(),
                    paged: vec![],
                },
            ),
            entry(2, "alice", TimelineEvent::Acknowledged { implicit: false }),
            entry(
                5,
                "alice",
                TimelineEvent::FollowupAdded {
                    text: "alert".into(),
                },
            ),
            entry(6, "alice", TimelineEvent::FollowupDone { n: 9 }),
            entry(
                7,
                "alice",
                TimelineEvent::StatusChanged {
                    from: Status::Investigating,
                    to: Status::Monitoring,
                },
            ),
            entry(
                7,
                "alice",
                TimelineEvent::Updated {
                    progress: "fixed".into(),
                    eta: None,
                    users: Some("all EU".into()),
                    impact: None,
                },
            ),
            entry(
                9,
                "alice",
                TimelineEvent::Note {
                    text: "Prevention : canary".into(),
                },
            ),
            entry(
                50,
                "bob",
                TimelineEvent::Resolved {
                    root_cause: "flag".into(),
                    resolution: "rollback".into(),
                },
            ),
        ];
        let trail = derive(&resolved, &timeline);
        let milestones: Vec<(Milestone, i64)> = trail
            .moments
            .iter()
            .filter_map(|m| m.milestone.map(|k| (k, (m.at - t0()).num_minutes())))
            .collect();
        assert_eq!(
            milestones,
            [
                (Milestone::Detected, 0),
                (Milestone::AssessmentComplete, 7),
                (Milestone::MitigationImplemented, 7),
                (Milestone::FixDeployed, 7),
                (Milestone::RootCauseIdentified, 50),
                (Milestone::Resolved, 50),
            ]
        );
        assert_eq!(trail.metrics.acknowledge, Some(TimeDelta::minutes(2)));
        assert_eq!(trail.metrics.mitigate, Some(TimeDelta::minutes(7)));
        assert_eq!(trail.metrics.resolve, Some(TimeDelta::minutes(50)));
        let fix = trail.moments.iter().find(|m| m.what.starts_with("Fix"));
        assert_eq!(
            fix.map(|m| m.what.as_str()),
            Some("Fix deployed (status Monitoring): fixed"),
            "a milestone carries the words of the update that reached it"
        );
        assert_eq!(trail.users_affected.as_deref(), Some("all EU"));
        assert_eq!(trail.prevention, ["canary"]);
        assert_eq!(trail.action_items.len(), 1);
        assert!(!trail.action_items[0].done, "done 9 names no item");
    }
}

#[test]
fn a_record_appends_its_entries_and_only_a_responder_step_acknowledges() {
    let evidence = TimelineEvent::Evidence {
        findings: vec!["Readiness: web ready 3/3".into()],
        late: true,
    };
    let open_one = incident(Status::Investigating, false);
    let by_firewatch = Event::Record {
        step: Step::Read,
        entries: vec![evidence.clone()],
        raise: None,
    };
    let out = apply(&open_one, by_firewatch, &person("bob"), t0(), &policy()).unwrap();
    assert_eq!(out.entries, std::slice::from_ref(&evidence));
    assert!(out.incident.acknowledged.is_none());
    let by_responder = Event::Record {
        step: Step::Mitigate,
        entries: vec![evidence.clone()],
        raise: None,
    };
    let out = apply(
        &open_one,
        by_responder.clone(),
        &person("bob"),
        t0(),
        &policy(),
    )
    .unwrap();
    assert_eq!(
        out.entries,
        [
            TimelineEvent::Acknowledged { implicit: true },
            commander("bob"),
            evidence
        ]
    );
    let resolved = incident(Status::Resolved, true);
    assert!(matches!(
        apply(&resolved, by_responder, &person("bob"), t0(), &policy()),
        Err(Refusal::WrongState {
            step: Step::Mitigate,
            ..
        })
    ));
}

#[test]
fn a_record_with_a_live_signal_raises_the_severity_but_never_lowers_it() {
    let p1 = incident(Status::Investigating, false);
    assert_eq!(p1.severity, Severity::P1);
    let raise = |to| Event::Record {
        step: Step::Read,
        entries: Vec::new(),
        raise: Some((to, "0/3 replicas of web ready".to_owned())),
    };
    let out = apply(
        &p1,
        raise(Severity::P0),
        &person("firewatch"),
        t0(),
        &policy(),
    )
    .unwrap();
    assert_eq!(out.incident.severity, Severity::P0);
    assert!(out.incident.acknowledged.is_none());
    assert_eq!(
        out.entries,
        [TimelineEvent::SeverityChanged {
            from: Severity::P1,
            to: Severity::P0,
            reason: Some("raised by the cluster: 0/3 replicas of web ready".into()),
        }]
    );
    assert_eq!(
        out.incident.next_update_due,
        Some(t0() + policy().level(Severity::P0).update_every.as_delta())
    );
    // Nobody acknowledged a P1 (1 h target) that is now P0: acknowledgement is due by P0's target.
    assert_eq!(p1.ack_due, Some(t0() + TimeDelta::hours(1)));
    assert_eq!(
        out.incident.ack_due,
        Some(t0() + policy().level(Severity::P0).respond_within.as_delta())
    );
    let out = apply(
        &p1,
        raise(Severity::P2),
        &person("firewatch"),
        t0(),
        &policy(),
    )
    .unwrap();
    assert_eq!(out.incident.severity, Severity::P1);
    assert!(out.entries.is_empty());
}

#[test]
fn the_first_to_acknowledge_is_commander_unless_someone_was_named() {
    let fresh = incident(Status::Investigating, false);
    let name_dave = Event::AssignRole {
        role: Role::Commander,
        person: person("dave"),
    };
    let named = apply(&fresh, name_dave, &person("bob"), later(), &policy()).unwrap();
    assert_eq!(named.incident.commander(), Some(&person("dave")));
    assert_eq!(
        named.entries,
        [
            TimelineEvent::Acknowledged { implicit: true },
            commander("dave")
        ],
        "bob acknowledged by naming dave; dave leads"
    );
    let comms = Event::AssignRole {
        role: Role::Comms,
        person: person("erin"),
    };
    let out = apply(&fresh, comms, &person("bob"), later(), &policy()).unwrap();
    assert_eq!(out.incident.commander(), Some(&person("bob")));
    assert_eq!(out.incident.holder(Role::Comms), Some(&person("erin")));
    assert_eq!(out.incident.update_lead(), Some(&person("erin")));
}

#[test]
fn a_handover_names_the_previous_holder_and_the_same_holder_is_refused() {
    let fresh = incident(Status::Investigating, false);
    let acked = apply(&fresh, Event::Acknowledge, &person("bob"), t0(), &policy()).unwrap();
    let hand_over = Event::AssignRole {
        role: Role::Commander,
        person: person("carol"),
    };
    let out = apply(
        &acked.incident,
        hand_over.clone(),
        &person("bob"),
        later(),
        &policy(),
    )
    .unwrap();
    assert_eq!(
        out.entries,
        [TimelineEvent::RoleAssigned {
            role: Role::Commander,
            person: person("carol"),
            previous: Some(person("bob")),
        }]
    );
    assert_eq!(out.incident.roles.len(), 1);
    assert_eq!(out.incident.roles[0].since, later());
    let again = apply(&out.incident, hand_over, &person("bob"), later(), &policy());
    assert!(
        matches!(
            again,
            Err(Refusal::AlreadyHolds {
                role: Role::Commander,
                ..
            })
        ),
        "{again:?}"
    );
}
