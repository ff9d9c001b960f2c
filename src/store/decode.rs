//! Stored rows as firewatch's types, the same for both databases: times are Unix milliseconds,
//! platforms, severities and states their names, timeline events and approved changes JSON.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::approval::{NewRequest, Request, State};
use crate::incident::roles::Holder;
use crate::incident::timers::{Timer, TimerKind};
use crate::incident::{
    Actor, ChannelRef, Incident, IncidentId, Platform, Role, Severity, Stamp, Status, TimelineEntry,
};
use crate::ops::jobs::Figures;
use crate::store::{Baseline, ClaimedPost, Error, Inbound, Post, Result};

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn time(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| Error::Corrupt(format!("time {ms}")))
}

/// The incident id in `column`.
fn incident_id(row: &AnyRow, column: &str) -> Result<IncidentId> {
    let id: i64 = row.try_get(column)?;
    IncidentId::new(id).ok_or_else(|| Error::Corrupt(format!("{column} {id}")))
}

/// The columns that name an actor: its platform, id and name.
type ActorColumns = [&'static str; 3];

fn actor(row: &AnyRow, [platform, id, name]: ActorColumns) -> Result<Actor> {
    let text: String = row.try_get(platform)?;
    Ok(Actor {
        platform: Platform::parse(&text)
            .ok_or_else(|| Error::Corrupt(format!("platform '{text}'")))?,
        id: row.try_get(id)?,
        name: row.try_get(name)?,
    })
}

/// The channel in `[platform, id]`.
fn channel(row: &AnyRow, [platform, id]: [&str; 2]) -> Result<ChannelRef> {
    let text: String = row.try_get(platform)?;
    Ok(ChannelRef {
        platform: Platform::parse(&text)
            .ok_or_else(|| Error::Corrupt(format!("platform '{text}'")))?,
        id: row.try_get(id)?,
    })
}

/// A stamp's columns: when, and by whom.
type StampColumns = (&'static str, ActorColumns);
const OPENED: StampColumns = (
    "opened_at",
    ["opened_by_platform", "opened_by_id", "opened_by_name"],
);
const ACKNOWLEDGED: StampColumns = (
    "acknowledged_at",
    [
        "acknowledged_by_platform",
        "acknowledged_by_id",
        "acknowledged_by_name",
    ],
);
const RESOLVED: StampColumns = (
    "resolved_at",
    ["resolved_by_platform", "resolved_by_id", "resolved_by_name"],
);

/// Reads a stamp's columns, if it is set.
fn stamp(row: &AnyRow, (at, by): StampColumns) -> Result<Option<Stamp>> {
    let Some(at) = row.try_get::<Option<i64>, _>(at)? else {
        return Ok(None);
    };
    Ok(Some(Stamp {
        by: actor(row, by)?,
        at: time(at)?,
    }))
}

/// An `incidents` row with its timers' due times (`next_update_due`, `ack_due`).
pub(crate) fn incident(row: &AnyRow) -> Result<Incident> {
    let id = incident_id(row, "id")?;
    let severity: String = row.try_get("severity")?;
    let status: String = row.try_get("status")?;
    let optional_time = |column: &str| -> Result<Option<DateTime<Utc>>> {
        row.try_get::<Option<i64>, _>(column)?.map(time).transpose()
    };
    Ok(Incident {
        id,
        summary: row.try_get("summary")?,
        service: row.try_get("service")?,
        severity: Severity::parse(&severity).map_err(Error::Corrupt)?,
        severity_reason: row.try_get("severity_reason")?,
        status: Status::parse(&status).map_err(Error::Corrupt)?,
        channel: channel(row, ["platform", "channel_id"])?,
        opened: stamp(row, OPENED)?
            .ok_or_else(|| Error::Corrupt(format!("incident {id} has no opening")))?,
        acknowledged: stamp(row, ACKNOWLEDGED)?,
        resolved: stamp(row, RESOLVED)?,
        root_cause: row.try_get("root_cause")?,
        resolution: row.try_get("resolution")?,
        closed_at: optional_time("closed_at")?,
        next_update_due: optional_time("next_update_due")?,
        ack_due: optional_time("ack_due")?,
        version: row.try_get("version")?,
        roles: Vec::new(),
    })
}

/// An `incident_roles` row.
pub(crate) fn holder(row: &AnyRow) -> Result<Holder> {
    let role: String = row.try_get("role")?;
    Ok(Holder {
        role: Role::parse(&role).map_err(Error::Corrupt)?,
        person: actor(row, ["person_platform", "person_id", "person_name"])?,
        since: time(row.try_get("since")?)?,
    })
}

/// A `timeline` row.
pub(crate) fn entry(row: &AnyRow) -> Result<TimelineEntry> {
    let detail: String = row.try_get("detail")?;
    Ok(TimelineEntry {
        seq: row.try_get("seq")?,
        at: time(row.try_get("at")?)?,
        actor: actor(row, ["actor_platform", "actor_id", "actor_name"])?,
        event: serde_json::from_str(&detail)
            .map_err(|e| Error::Corrupt(format!("timeline entry: {e}")))?,
    })
}

/// A `baselines` row.
pub(crate) fn baseline(row: &AnyRow) -> Result<Baseline> {
    Ok(Baseline {
        service: row.try_get("service")?,
        job: row.try_get("job")?,
        figures: Figures {
            p95_ms: row.try_get("p95_ms")?,
            error_rate: row.try_get("error_rate")?,
            rps: row.try_get("rps")?,
        },
        incident: incident_id(row, "incident_id")?,
        job_name: row.try_get("job_name")?,
        by: actor(
            row,
            ["recorded_by_platform", "recorded_by_id", "recorded_by_name"],
        )?,
        at: time(row.try_get("recorded_at")?)?,
    })
}

/// An `approval_votes` row's voter.
pub(crate) fn voter(row: &AnyRow) -> Result<Actor> {
    actor(row, ["voter_platform", "voter_id", "voter_name"])
}

/// An `approvals` row, with who approved it.
pub(crate) fn request(row: &AnyRow, approvers: Vec<Actor>) -> Result<Request> {
    let id: i64 = row.try_get("id")?;
    let action: String = row.try_get("action")?;
    let preview: String = row.try_get("preview")?;
    let (what, preview) = match preview.split_once('\n') {
        Some((what, preview)) => (what.to_owned(), preview.to_owned()),
        None => (preview, String::new()),
    };
    let state: String = row.try_get("state")?;
    let severity: String = row.try_get("severity")?;
    let required: i64 = row.try_get("required")?;
    let requested_by = [
        "requested_by_platform",
        "requested_by_id",
        "requested_by_name",
    ];
    Ok(Request {
        id,
        new: NewRequest {
            incident: incident_id(row, "incident_id")?,
            command: row.try_get("command")?,
            service: row.try_get("service")?,
            severity: Severity::parse(&severity).map_err(Error::Corrupt)?,
            change: serde_json::from_str(&action)
                .map_err(|e| Error::Corrupt(format!("approval R{id} change: {e}")))?,
            what,
            preview,
            reason: row.try_get("reason")?,
            requested_by: actor(row, requested_by)?,
            channel: channel(row, ["channel_platform", "channel_id"])?,
            requested_at: time(row.try_get("requested_at")?)?,
            expires_at: time(row.try_get("expires_at")?)?,
            required: u32::try_from(required).unwrap_or(0),
        },
        state: State::parse(&state)
            .ok_or_else(|| Error::Corrupt(format!("approval state '{state}'")))?,
        result: row.try_get("result")?,
        approvers,
    })
}

/// A `reminders` row.
pub(crate) fn timer(row: &AnyRow) -> Result<Timer> {
    let kind: String = row.try_get("kind")?;
    let fired: i64 = row.try_get("fired")?;
    Ok(Timer {
        incident: incident_id(row, "incident_id")?,
        kind: TimerKind::parse(&kind)
            .ok_or_else(|| Error::Corrupt(format!("timer kind '{kind}'")))?,
        due: time(row.try_get("due_at")?)?,
        fire_at: time(row.try_get("fire_at")?)?,
        fired: u32::try_from(fired).unwrap_or(u32::MAX),
    })
}

/// A `processed_requests` row as the take-over and the backlog read it (`handled` 0 or 1).
pub(crate) fn inbound(row: &AnyRow) -> Result<Inbound> {
    let handled: i64 = row.try_get("handled")?;
    let attempts: i64 = row.try_get("attempts")?;
    Ok(Inbound {
        key: row.try_get("request_key")?,
        payload: row.try_get("payload")?,
        received: time(row.try_get("seen_at")?)?,
        handled: handled != 0,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
    })
}

/// An `outbox` row as a claim returns it.
pub(crate) fn claimed_post(row: &AnyRow) -> Result<ClaimedPost> {
    let attempts: i64 = row.try_get("attempts")?;
    let incident = match row.try_get::<Option<i64>, _>("incident_id")? {
        Some(_) => Some(incident_id(row, "incident_id")?),
        None => None,
    };
    Ok(ClaimedPost {
        id: row.try_get("id")?,
        post: Post {
            kind: row.try_get("kind")?,
            destination: row.try_get("destination")?,
            lane: row.try_get("lane")?,
            payload: row.try_get("payload")?,
            summary: row.try_get("summary")?,
            incident,
            stored: time(row.try_get("stored_at")?)?,
            give_up_at: time(row.try_get("give_up_at")?)?,
        },
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last_error: row.try_get("last_error")?,
    })
}

/// A stamp as its four columns (`_by_platform`, `_by_id`, `_by_name`, `_at`), all `None` when unset.
pub(crate) fn stamp_parts(
    s: Option<&Stamp>,
) -> (Option<&str>, Option<&str>, Option<&str>, Option<i64>) {
    match s {
        Some(s) => (
            Some(s.by.platform.as_str()),
            Some(s.by.id.as_str()),
            Some(s.by.name.as_str()),
            Some(millis(s.at)),
        ),
        None => (None, None, None, None),
    }
}
