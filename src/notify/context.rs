//! The data each template sees. The engine and the `check-config` samples both build it here,
//! so templates are checked against exactly what they get in an incident.
//!
//! Every field is always present (optional ones as `null`), which strict mode needs.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::incident::severity::Policy;
use crate::incident::{Actor, Incident, Severity, Status, TimelineEntry};
use crate::interval::humanize;

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
    next_update: String,
    by: String,
}

/// Data for a status update; `previous_status` when the update moved the status.
pub fn update(
    incident: &Incident,
    policy: &Policy,
    progress: &str,
    eta: Option<&str>,
    previous_status: Option<Status>,
    by: &Actor,
    now: DateTime<Utc>,
) -> Update {
    Update {
        header: header(incident, policy),
        previous_status: previous_status.map(|s| s.to_string()),
        progress: progress.into(),
        eta: eta.unwrap_or("unknown").into(),
        next_update: next_update(incident.next_update_due, now),
        by: by.to_string(),
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
    time_to_acknowledge: String,
    by: String,
}

/// Data for the resolution of `incident` (already resolved).
pub fn resolved(incident: &Incident, policy: &Policy, now: DateTime<Utc>) -> Resolved {
    Resolved {
        header: header(incident, policy),
        duration: duration_until(incident, now),
        root_cause: incident.root_cause.clone().unwrap_or_default(),
        resolution: incident.resolution.clone().unwrap_or_default(),
        post_mortem: format!(
            "due; the review starts from the timeline (/incident-status {})",
            incident.id
        ),
        time_to_acknowledge: time_to_acknowledge(incident),
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
}

/// Data for one incident with the latest [`STATUS_TIMELINE_LEN`] entries of its timeline.
pub fn status(
    incident: &Incident,
    policy: &Policy,
    timeline: &[TimelineEntry],
    now: DateTime<Utc>,
) -> StatusView {
    let earlier = timeline.len().saturating_sub(STATUS_TIMELINE_LEN);
    let day = incident.opened.at.date_naive();
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
