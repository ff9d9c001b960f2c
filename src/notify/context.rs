//! The data each template sees. The engine and the `check-config` samples both build it here,
//! so templates are checked against exactly what they get in an incident.
//!
//! Every field is always present (optional ones as `null`), which strict mode needs.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::alerts::Member;
use crate::alerts::messages::labels_that_matter;
use crate::incident::roles::{self, Holder};
use crate::incident::severity::Policy;
use crate::incident::timers::Timer;
use crate::incident::trail::{self, ActionItem, Metrics, SeverityCourse, Trail};
use crate::incident::{Actor, Incident, Role, Severity, Status, TimelineEntry};
use crate::interval::humanize;
use crate::message::capitalise;
use crate::notify::markdown;

/// How many timeline entries `/incident-status` shows.
pub const STATUS_TIMELINE_LEN: usize = 15;

/// Fields every incident template has.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    /// `#3`
    pub id: String,
    /// `P1`
    pub severity: String,
    /// `High`
    pub severity_label: String,
    /// The service name.
    pub service: String,
    /// `Investigating`
    pub status: String,
    /// The reported impact.
    pub summary: String,
    /// Who holds each role now, in role order.
    pub roles: Vec<RoleLine>,
}

/// Who holds each role of `incident`; the commander of an incident acknowledged before roles
/// were kept is whoever acknowledged, since then.
fn role_lines(incident: &Incident) -> Vec<RoleLine> {
    let acknowledged = incident.acknowledged.as_ref().map(|a| Holder {
        role: Role::Commander,
        person: a.by.clone(),
        since: a.at,
    });
    Role::ALL
        .into_iter()
        .filter_map(|role| {
            roles::holder(&incident.roles, role)
                .or(acknowledged.as_ref().filter(|a| a.role == role))
        })
        .map(|h| RoleLine {
            title: capitalise(&h.role.to_string()),
            person: h.person.to_string(),
            since: at_time(h.since, incident.opened.at),
        })
        .collect()
}

/// A role's holder, as templates show it.
#[derive(Debug, Clone, Serialize)]
pub struct RoleLine {
    /// `Incident commander`, `Comms lead`, `Scribe`.
    pub title: String,
    /// Who.
    pub person: String,
    /// Since when: `04:02 UTC`, with the date when not the incident's first day.
    pub since: String,
}

/// The header of `incident`.
pub fn header(incident: &Incident, policy: &Policy) -> Header {
    Header {
        id: incident.id.to_string(),
        severity: incident.severity.to_string(),
        severity_label: policy.level(incident.severity).label.clone(),
        service: incident.service.clone(),
        status: incident.status.to_string(),
        summary: incident.summary.clone(),
        roles: role_lines(incident),
    }
}

/// `detected.hbs`
#[derive(Debug, Clone, Serialize)]
pub struct Detected {
    #[serde(flatten)]
    header: Header,
    severity_reason: String,
    impact: String,
    started: String,
    next_update: String,
    respond_within: String,
    ack_due: String,
    paging: String,
    opened_by: String,
}

/// Data for the alert of a new incident that pages `paged`.
pub fn detected(
    incident: &Incident,
    policy: &Policy,
    paged: &[String],
    now: DateTime<Utc>,
) -> Detected {
    Detected {
        header: header(incident, policy),
        severity_reason: incident.severity_reason.clone(),
        impact: incident.summary.clone(),
        started: timestamp(incident.opened.at),
        next_update: next_update(incident.next_update_due, now),
        respond_within: policy.level(incident.severity).respond_within.to_string(),
        ack_due: incident
            .ack_due
            .map_or_else(|| "now".into(), |t| at_time(t, now)),
        paging: paging(paged),
        opened_by: incident.opened.by.to_string(),
    }
}

/// `update.hbs`
#[derive(Debug, Clone, Serialize)]
pub struct Update {
    #[serde(flatten)]
    header: Header,
    previous_status: Option<String>,
    progress: String,
    eta: String,
    actions: Vec<String>,
    users_affected: String,
    next_update: String,
    by: String,
}

/// What a status update said, as posted.
#[derive(Debug, Clone, Copy)]
pub struct Posted<'a> {
    /// What happened since the last update.
    pub progress: &'a str,
    /// The expected time to resolution, as written.
    pub eta: Option<&'a str>,
    /// The status before, when the update moved it.
    pub previous_status: Option<Status>,
    /// Who posted it.
    pub by: &'a Actor,
}

/// Data for a status update `posted` on `incident`, whose `trail` already holds it: the
/// changes and verdicts since the update before, and the users affected as last given.
pub fn update(
    incident: &Incident,
    policy: &Policy,
    posted: Posted<'_>,
    trail: &Trail,
    now: DateTime<Utc>,
) -> Update {
    Update {
        header: header(incident, policy),
        previous_status: posted.previous_status.map(|s| s.to_string()),
        progress: posted.progress.into(),
        eta: posted.eta.unwrap_or("unknown").into(),
        actions: trail::since_last_update(&trail.actions)
            .map(|a| format!("{} {} — {}", a.at.format("%H:%M"), a.what, a.who))
            .collect(),
        users_affected: trail.users_affected.clone().unwrap_or_else(|| {
            format!(
                "not recorded (/incident-update {} --users 1200|~40%|all)",
                incident.id
            )
        }),
        next_update: next_update(incident.next_update_due, now),
        by: posted.by.to_string(),
    }
}

/// `resolved.hbs`
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    #[serde(flatten)]
    header: Header,
    duration: String,
    root_cause: String,
    resolution: String,
    post_mortem: String,
    open_items: Vec<String>,
    add_item: String,
    #[serde(flatten)]
    times: Times,
    by: String,
}

/// Data for the resolution of `incident` (already resolved), from its `trail`: the response
/// times and the action items still open.
pub fn resolved(
    incident: &Incident,
    policy: &Policy,
    trail: &Trail,
    now: DateTime<Utc>,
) -> Resolved {
    let id = incident.id;
    Resolved {
        header: header(incident, policy),
        duration: duration_until(incident, now),
        root_cause: incident.root_cause.clone().unwrap_or_default(),
        resolution: incident.resolution.clone().unwrap_or_default(),
        post_mortem: format!(
            "due; /incident-report {id} writes it from the timeline and closes the incident"
        ),
        open_items: trail
            .action_items
            .iter()
            .filter(|i| !i.done)
            .map(|i| format!("{}. {} ({})", i.n, i.text, i.by))
            .collect(),
        add_item: format!("/incident-followup {id} <text> adds an action item"),
        times: times(&trail.metrics),
        by: incident
            .resolved
            .as_ref()
            .map(|s| s.by.to_string())
            .unwrap_or_default(),
    }
}

/// `severity.hbs`
#[derive(Debug, Clone, Serialize)]
pub struct SeverityChange {
    #[serde(flatten)]
    header: Header,
    from: String,
    raised: bool,
    reason: String,
    paging: Option<String>,
    next_update: String,
    by: String,
}

/// Data for a severity change from `from`; `newly_paged` are roles the new severity adds.
pub fn severity_change(
    incident: &Incident,
    policy: &Policy,
    from: Severity,
    reason: Option<&str>,
    newly_paged: &[String],
    by: &Actor,
    now: DateTime<Utc>,
) -> SeverityChange {
    SeverityChange {
        header: header(incident, policy),
        from: from.to_string(),
        raised: incident.severity < from,
        reason: reason.unwrap_or("none given").into(),
        paging: (!newly_paged.is_empty()).then(|| paging(newly_paged)),
        next_update: next_update(incident.next_update_due, now),
        by: by.to_string(),
    }
}

/// `acknowledged.hbs`
#[derive(Debug, Clone, Serialize)]
pub struct Acknowledged {
    #[serde(flatten)]
    header: Header,
    by: String,
    time_to_acknowledge: String,
    next_update: String,
}

/// Data for an acknowledgement of `incident` (already acknowledged).
pub fn acknowledged(incident: &Incident, policy: &Policy, now: DateTime<Utc>) -> Acknowledged {
    Acknowledged {
        header: header(incident, policy),
        by: incident
            .commander()
            .map(ToString::to_string)
            .unwrap_or_default(),
        time_to_acknowledge: time_to_acknowledge(incident),
        next_update: next_update(incident.next_update_due, now),
    }
}

/// `note.hbs`
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    #[serde(flatten)]
    header: Header,
    by: String,
    text: String,
}

/// Data for a note.
pub fn note(incident: &Incident, policy: &Policy, by: &Actor, text: &str) -> Note {
    Note {
        header: header(incident, policy),
        by: by.to_string(),
        text: text.into(),
    }
}

/// One timeline line in `status.hbs`.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    time: String,
    who: String,
    what: String,
}

/// `status.hbs`
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    #[serde(flatten)]
    header: Header,
    severity_reason: String,
    started: String,
    age: String,
    opened_by: String,
    commander: String,
    next_update: Option<String>,
    root_cause: Option<String>,
    resolution: Option<String>,
    duration: String,
    earlier: usize,
    timeline: Vec<Line>,
    action_items: Vec<ActionItem>,
    alerts: Vec<AlertView>,
}

/// One alert of an incident, in `status.hbs` and the report.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    /// `🔥` firing, `✅` resolved.
    mark: String,
    /// Its `alertname`.
    name: String,
    /// The labels that tell it from the others (`instance=web-1`), maybe empty.
    labels: String,
    /// `firing` or `resolved`.
    state: String,
    /// When it started.
    start: String,
    /// When it ended, if it did.
    end: Option<String>,
}

/// The alerts of an incident as the templates list them (times on `day` without their date).
fn alert_views(alerts: &[Member], day: chrono::NaiveDate) -> Vec<AlertView> {
    let when = |t: DateTime<Utc>| {
        if t.date_naive() == day {
            t.format("%H:%M UTC").to_string()
        } else {
            timestamp(t)
        }
    };
    alerts
        .iter()
        .map(|m| AlertView {
            mark: if m.firing() { "🔥" } else { "✅" }.into(),
            name: m.alert.name().to_owned(),
            labels: labels_that_matter(&m.alert),
            state: m.alert.status.as_str().into(),
            start: when(m.alert.starts_at),
            end: m.alert.ends_at.map(when),
        })
        .collect()
}

/// Data for one incident with the latest [`STATUS_TIMELINE_LEN`] entries of its timeline and
/// its `alerts`.
pub fn status(
    incident: &Incident,
    policy: &Policy,
    timeline: &[TimelineEntry],
    alerts: &[Member],
    now: DateTime<Utc>,
) -> StatusView {
    let earlier = timeline.len().saturating_sub(STATUS_TIMELINE_LEN);
    let day = incident.opened.at.date_naive();
    let action_items = trail::derive(incident, timeline).action_items;
    StatusView {
        header: header(incident, policy),
        severity_reason: incident.severity_reason.clone(),
        started: timestamp(incident.opened.at),
        age: humanize(now - incident.opened.at),
        opened_by: incident.opened.by.to_string(),
        commander: incident.commander().map_or_else(
            || "none yet (/incident-ack to take command)".into(),
            ToString::to_string,
        ),
        next_update: incident
            .next_update_due
            .map(|due| next_update(Some(due), now)),
        root_cause: incident.root_cause.clone(),
        resolution: incident.resolution.clone(),
        duration: duration_until(incident, now),
        earlier,
        timeline: timeline[earlier..]
            .iter()
            .map(|e| Line {
                time: if e.at.date_naive() == day {
                    e.at.format("%H:%M").to_string()
                } else {
                    e.at.format("%b %d %H:%M").to_string()
                },
                who: e.actor.to_string(),
                what: e.event.describe(),
            })
            .collect(),
        action_items,
        alerts: alert_views(alerts, day),
    }
}

/// One incident in `incidents.hbs`.
#[derive(Debug, Clone, Serialize)]
pub struct ListItem {
    #[serde(flatten)]
    header: Header,
    age: String,
    next_update: String,
}

/// `incidents.hbs`
#[derive(Debug, Clone, Serialize)]
pub struct IncidentList {
    count: usize,
    incidents: Vec<ListItem>,
}

/// Data for a list of incidents.
pub fn incidents(list: &[Incident], policy: &Policy, now: DateTime<Utc>) -> IncidentList {
    IncidentList {
        count: list.len(),
        incidents: list
            .iter()
            .map(|i| ListItem {
                header: header(i, policy),
                age: humanize(now - i.opened.at),
                next_update: next_update(i.next_update_due, now),
            })
            .collect(),
    }
}

/// `2026-11-29 03:05 UTC`
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `03:05 UTC` when `t` is on the same day as `now`, the full timestamp otherwise.
fn at_time(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if t.date_naive() == now.date_naive() {
        t.format("%H:%M UTC").to_string()
    } else {
        timestamp(t)
    }
}

/// `03:20 UTC (in 15m)`, `03:20 UTC (overdue by 5m)`, or `none (resolved)`.
pub fn next_update(due: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match due {
        None => "none (resolved)".into(),
        Some(due) if due >= now => format!("{} (in {})", at_time(due, now), humanize(due - now)),
        Some(due) => format!("{} (overdue by {})", at_time(due, now), humanize(now - due)),
    }
}

fn paging(roles: &[String]) -> String {
    if roles.is_empty() {
        return "nobody (no roles configured for this severity)".into();
    }
    roles
        .iter()
        .map(|r| format!("@{r}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The team's response times, as templates show them.
#[derive(Debug, Clone, Serialize)]
pub struct Times {
    time_to_acknowledge: String,
    time_to_mitigate: String,
    time_to_resolve: String,
}

/// `12m`, or `not recorded` when the milestone was never reached.
pub fn times(metrics: &Metrics) -> Times {
    let show = |d: Option<chrono::TimeDelta>| d.map_or_else(|| "not recorded".into(), humanize);
    Times {
        time_to_acknowledge: show(metrics.acknowledge),
        time_to_mitigate: show(metrics.mitigate),
        time_to_resolve: show(metrics.resolve),
    }
}

/// `reminder.hbs`
#[derive(Debug, Clone, Serialize)]
pub struct Reminder {
    #[serde(flatten)]
    header: Header,
    /// Who owes the update: the comms lead, else the commander.
    commander: Option<String>,
    /// Their role: `Comms lead` or `Commander`.
    lead: String,
    due: String,
    overdue: String,
    cadence: String,
    next_reminder: String,
    reminder: u32,
}

/// Data for a reminder that the update promised by `timer` is overdue; `next` is when the next
/// reminder comes if there is still no update.
pub fn reminder(
    incident: &Incident,
    policy: &Policy,
    timer: &Timer,
    next: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Reminder {
    Reminder {
        header: header(incident, policy),
        commander: incident.update_lead().map(ToString::to_string),
        lead: if incident.holder(Role::Comms).is_some() {
            "Comms lead".into()
        } else {
            "Commander".into()
        },
        due: at_time(timer.due, now),
        overdue: humanize(now - timer.due),
        cadence: policy.level(incident.severity).update_every.to_string(),
        next_reminder: next.map_or_else(|| "none".into(), |t| at_time(t, now)),
        reminder: timer.fired + 1,
    }
}

/// `escalation.hbs`
#[derive(Debug, Clone, Serialize)]
pub struct Escalation {
    #[serde(flatten)]
    header: Header,
    started: String,
    age: String,
    respond_within: String,
    due: String,
    paging: String,
}

/// Data for the escalation of `incident`, not acknowledged by `timer.due`; pages `paged`.
pub fn escalation(
    incident: &Incident,
    policy: &Policy,
    timer: &Timer,
    paged: &[String],
    now: DateTime<Utc>,
) -> Escalation {
    Escalation {
        header: header(incident, policy),
        started: timestamp(incident.opened.at),
        age: humanize(now - incident.opened.at),
        respond_within: policy.level(incident.severity).respond_within.to_string(),
        due: at_time(timer.due, now),
        paging: paging(paged),
    }
}

/// One line of the report's Timeline or Actions Taken list.
#[derive(Debug, Clone, Serialize)]
pub struct Moment {
    time: String,
    what: String,
    who: String,
    milestone: bool,
}

/// A role in the report: who held it, from when.
#[derive(Debug, Clone, Serialize)]
pub struct RoleHistory {
    /// `Comms lead`.
    title: String,
    /// `alice (from 04:02), bob (from 04:30)`.
    held: String,
}

/// Who held `role` and from when, in order (`alice (from 04:02), bob (from 04:30)`); `None`
/// when nobody did. Times on another day than `day` carry their date.
fn held(trail: &Trail, role: Role, day: chrono::NaiveDate) -> Option<String> {
    let spells: Vec<String> = trail
        .roles
        .iter()
        .filter(|s| s.role == role)
        .map(|s| {
            let from = if s.from.date_naive() == day {
                s.from.format("%H:%M").to_string()
            } else {
                s.from.format("%b %d %H:%M").to_string()
            };
            format!("{} (from {from})", s.person)
        })
        .collect();
    (!spells.is_empty()).then(|| spells.join(", "))
}

/// An action item as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ReportItem {
    text: String,
    by: String,
    done: bool,
    /// Its issue as a Markdown link, once filed in a tracker.
    issue: Option<String>,
    unfiled: bool,
}

/// `report.md.hbs`. Every value that came from people or the cluster is escaped for Markdown
/// ([`markdown::escape`]): the template's structure is the template's alone.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(flatten)]
    header: Header,
    date: String,
    severity_course: String,
    severity_reason: String,
    started: String,
    resolved: String,
    opened_by: String,
    commander: String,
    /// The comms leads and scribes, each role with who held it from when.
    roles_held: Vec<RoleHistory>,
    resolved_by: String,
    duration: String,
    #[serde(flatten)]
    times: Times,
    timeline: Vec<Moment>,
    actions: Vec<Moment>,
    users_affected: Option<String>,
    business_impact: Option<String>,
    services: String,
    root_cause: String,
    resolution: String,
    prevention: Vec<String>,
    verification: Vec<String>,
    action_items: Vec<ReportItem>,
    alerts: Vec<AlertView>,
    generated: String,
}

/// Data for the post-incident report of `incident` (resolved), from its `trail` and `alerts`.
pub fn report(
    incident: &Incident,
    policy: &Policy,
    trail: &Trail,
    alerts: &[Member],
    now: DateTime<Utc>,
) -> Report {
    let day = incident.opened.at.date_naive();
    let md = |text: &str| markdown::escape(text);
    let time = |at: DateTime<Utc>| {
        if at.date_naive() == day {
            at.format("%H:%M").to_string()
        } else {
            at.format("%b %d %H:%M").to_string()
        }
    };
    let line = |at: DateTime<Utc>, what: &str, who: &str, milestone: bool| Moment {
        time: time(at),
        what: md(what),
        who: md(who),
        milestone,
    };
    let mut header = header(incident, policy);
    header.summary = md(&header.summary);
    header.service = md(&header.service);
    Report {
        header,
        date: incident.opened.at.format("%Y-%m-%d").to_string(),
        severity_course: md(&severity_course(incident, policy, &trail.severity)),
        severity_reason: md(&incident.severity_reason),
        started: timestamp(incident.opened.at),
        resolved: incident
            .resolved
            .as_ref()
            .map_or_else(|| "not yet".into(), |r| timestamp(r.at)),
        opened_by: md(&incident.opened.by.to_string()),
        commander: md(&held(trail, Role::Commander, day).unwrap_or_else(|| {
            incident
                .commander()
                .map_or_else(|| "none (never acknowledged)".into(), ToString::to_string)
        })),
        roles_held: [Role::Comms, Role::Scribe]
            .into_iter()
            .filter_map(|role| {
                Some(RoleHistory {
                    title: capitalise(&role.to_string()),
                    held: md(&held(trail, role, day)?),
                })
            })
            .collect(),
        resolved_by: incident
            .resolved
            .as_ref()
            .map_or_else(String::new, |r| md(&r.by.to_string())),
        duration: duration_until(incident, now),
        times: times(&trail.metrics),
        timeline: trail
            .moments
            .iter()
            .map(|m| line(m.at, &m.what, &m.who, m.milestone.is_some()))
            .collect(),
        actions: trail
            .actions
            .iter()
            .map(|a| line(a.at, &a.what, &a.who, false))
            .collect(),
        users_affected: trail.users_affected.as_deref().map(md),
        business_impact: trail.business_impact.as_deref().map(md),
        services: md(&trail.services.join(", ")),
        root_cause: md(incident.root_cause.as_deref().unwrap_or_default()),
        resolution: md(incident.resolution.as_deref().unwrap_or_default()),
        prevention: trail.prevention.iter().map(|p| md(p)).collect(),
        verification: trail.verification.iter().map(|v| md(v)).collect(),
        action_items: trail
            .action_items
            .iter()
            .map(|i| ReportItem {
                text: md(&i.text),
                by: md(&i.by),
                done: i.done,
                issue: i
                    .issue
                    .as_ref()
                    .map(|(key, url)| format!("[{}](<{url}>)", md(key))),
                unfiled: i.unfiled,
            })
            .collect(),
        alerts: alert_views(alerts, day)
            .into_iter()
            .map(|a| AlertView {
                name: md(&a.name),
                labels: md(&a.labels),
                ..a
            })
            .collect(),
        generated: timestamp(now),
    }
}

/// The severity as the report's Summary gives it: the highest it reached and, when it ended
/// lower, the final one with when and by whom (`P0 Critical, lowered to P1 High at 04:10 by bob`).
pub fn severity_course(incident: &Incident, policy: &Policy, course: &SeverityCourse) -> String {
    let named = |s: Severity| format!("{s} {}", policy.level(s).label);
    let last = incident.severity;
    match (course.peak, &course.last_change) {
        (Some(peak), Some((to, at, by))) if peak < last && *to == last => format!(
            "{}, lowered to {} at {} by {by}",
            named(peak),
            named(last),
            at.format("%H:%M")
        ),
        (Some(peak), _) if peak < last => format!("{}, lowered to {}", named(peak), named(last)),
        _ => named(last),
    }
}

/// `closed.hbs`
#[derive(Debug, Clone, Serialize)]
pub struct Closed {
    #[serde(flatten)]
    header: Header,
    file: String,
    rewritten: bool,
    #[serde(flatten)]
    times: Times,
    open_items: usize,
    action_items: usize,
}

/// Data for the channel message that carries the report written to `file` (its name in the
/// reports folder); `rewritten` when an existing report of a closed incident was written again.
pub fn closed(
    incident: &Incident,
    policy: &Policy,
    trail: &Trail,
    file: &str,
    rewritten: bool,
) -> Closed {
    Closed {
        header: header(incident, policy),
        file: file.into(),
        rewritten,
        times: times(&trail.metrics),
        open_items: trail.action_items.iter().filter(|i| !i.done).count(),
        action_items: trail.action_items.len(),
    }
}

fn time_to_acknowledge(incident: &Incident) -> String {
    incident.acknowledged.as_ref().map_or_else(
        || "never acknowledged".into(),
        |a| humanize(a.at - incident.opened.at),
    )
}

/// Detection to resolution, or to `now` while still open.
fn duration_until(incident: &Incident, now: DateTime<Utc>) -> String {
    let end = incident.resolved.as_ref().map_or(now, |r| r.at);
    humanize(end - incident.opened.at)
}
