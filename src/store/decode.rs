//! Stored rows as firewatch's types, the same for both stores: times are Unix milliseconds,
//! platforms, severities and statuses their names, timeline events JSON.

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::incident::{
    Actor, ChannelRef, Incident, IncidentId, Platform, Severity, Stamp, Status, TimelineEntry,
};
use crate::ops::jobs::Figures;
use crate::store::{Baseline, Error, Result};

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn time(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| Error::Corrupt(format!("time {ms}")))
}

pub(crate) fn platform(text: &str) -> Result<Platform> {
    Platform::parse(text).ok_or_else(|| Error::Corrupt(format!("platform '{text}'")))
}

/// Reads the `{prefix}_platform/_id/_name` and `{prefix}_at` columns as a stamp, if set.
pub(crate) fn stamp<R>(row: &R, prefix: &str) -> Result<Option<Stamp>>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    let at: Option<i64> = row.try_get(format!("{prefix}_at").as_str())?;
    let Some(at) = at else { return Ok(None) };
    let platform_name: String = row.try_get(format!("{prefix}_by_platform").as_str())?;
    Ok(Some(Stamp {
        by: Actor {
            platform: platform(&platform_name)?,
            id: row.try_get(format!("{prefix}_by_id").as_str())?,
            name: row.try_get(format!("{prefix}_by_name").as_str())?,
        },
        at: time(at)?,
    }))
}

pub(crate) fn incident<R>(row: &R) -> Result<Incident>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: i64 = row.try_get("id")?;
    let severity: String = row.try_get("severity")?;
    let status: String = row.try_get("status")?;
    let channel_platform: String = row.try_get("platform")?;
    let optional_time = |column: &str| -> Result<Option<DateTime<Utc>>> {
        row.try_get::<Option<i64>, _>(column)?.map(time).transpose()
    };
    Ok(Incident {
        id: IncidentId::new(id).ok_or_else(|| Error::Corrupt(format!("incident id {id}")))?,
        summary: row.try_get("summary")?,
        service: row.try_get("service")?,
        severity: Severity::parse(&severity).map_err(Error::Corrupt)?,
        severity_reason: row.try_get("severity_reason")?,
        status: Status::parse(&status).map_err(Error::Corrupt)?,
        channel: ChannelRef {
            platform: platform(&channel_platform)?,
            id: row.try_get("channel_id")?,
        },
        opened: stamp(row, "opened")?
            .ok_or_else(|| Error::Corrupt(format!("incident {id} has no opening")))?,
        acknowledged: stamp(row, "acknowledged")?,
        resolved: stamp(row, "resolved")?,
        root_cause: row.try_get("root_cause")?,
        resolution: row.try_get("resolution")?,
        closed_at: optional_time("closed_at")?,
        next_update_due: optional_time("next_update_due")?,
        ack_due: optional_time("ack_due")?,
        version: row.try_get("version")?,
    })
}

pub(crate) fn entry<R>(row: &R) -> Result<TimelineEntry>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    let detail: String = row.try_get("detail")?;
    let actor_platform: String = row.try_get("actor_platform")?;
    Ok(TimelineEntry {
        seq: row.try_get("seq")?,
        at: time(row.try_get("at")?)?,
        actor: Actor {
            platform: platform(&actor_platform)?,
            id: row.try_get("actor_id")?,
            name: row.try_get("actor_name")?,
        },
        event: serde_json::from_str(&detail)
            .map_err(|e| Error::Corrupt(format!("timeline entry: {e}")))?,
    })
}

/// A `baselines` row.
pub(crate) fn baseline<R>(row: &R) -> Result<Baseline>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> f64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    let incident: i64 = row.try_get("incident_id")?;
    let platform_name: String = row.try_get("recorded_by_platform")?;
    Ok(Baseline {
        service: row.try_get("service")?,
        job: row.try_get("job")?,
        figures: Figures {
            p95_ms: row.try_get("p95_ms")?,
            error_rate: row.try_get("error_rate")?,
            rps: row.try_get("rps")?,
        },
        incident: IncidentId::new(incident)
            .ok_or_else(|| Error::Corrupt(format!("baseline incident {incident}")))?,
        job_name: row.try_get("job_name")?,
        by: Actor {
            platform: platform(&platform_name)?,
            id: row.try_get("recorded_by_id")?,
            name: row.try_get("recorded_by_name")?,
        },
        at: time(row.try_get("recorded_at")?)?,
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
