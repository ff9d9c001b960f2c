//! Stored rows as firewatch's types, the same for both stores and both SQLite drivers: times are
//! Unix milliseconds, platforms, severities and statuses their names, timeline events JSON.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::incident::{
    Actor, ChannelRef, Incident, IncidentId, Platform, Severity, Stamp, Status, TimelineEntry,
};
use crate::ops::jobs::Figures;
use crate::store::{Baseline, Error, Result};

/// A stored row's columns by name, whichever driver read it: sqlx's rows for both stores, and
/// rusqlite's for the SQLite store's own readers (`store::sqlite::read`).
pub(crate) trait Columns {
    /// The column named `column`, as `T` (an `Option` for a column that may be NULL).
    fn get<T: Value>(&self, column: &str) -> Result<T>;
}

/// A type a column decodes to in every driver.
pub(crate) trait Value:
    for<'r> sqlx::Decode<'r, sqlx::Sqlite>
    + sqlx::Type<sqlx::Sqlite>
    + for<'r> sqlx::Decode<'r, sqlx::Postgres>
    + sqlx::Type<sqlx::Postgres>
    + rusqlite::types::FromSql
{
}

impl<T> Value for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + rusqlite::types::FromSql
{
}

impl Columns for sqlx::sqlite::SqliteRow {
    fn get<T: Value>(&self, column: &str) -> Result<T> {
        Ok(self.try_get(column)?)
    }
}

impl Columns for sqlx::postgres::PgRow {
    fn get<T: Value>(&self, column: &str) -> Result<T> {
        Ok(self.try_get(column)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn get<T: Value>(&self, column: &str) -> Result<T> {
        Ok(rusqlite::Row::get(self, column)?)
    }
}

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn time(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| Error::Corrupt(format!("time {ms}")))
}

pub(crate) fn platform(text: &str) -> Result<Platform> {
    Platform::parse(text).ok_or_else(|| Error::Corrupt(format!("platform '{text}'")))
}

/// A stamp's columns: `_at`, `_by_platform`, `_by_id` and `_by_name` of one prefix.
type StampColumns = [&'static str; 4];
const OPENED: StampColumns = [
    "opened_at",
    "opened_by_platform",
    "opened_by_id",
    "opened_by_name",
];
const ACKNOWLEDGED: StampColumns = [
    "acknowledged_at",
    "acknowledged_by_platform",
    "acknowledged_by_id",
    "acknowledged_by_name",
];
const RESOLVED: StampColumns = [
    "resolved_at",
    "resolved_by_platform",
    "resolved_by_id",
    "resolved_by_name",
];

/// Reads a stamp's columns, if it is set.
fn stamp(
    row: &impl Columns,
    [at, by_platform, by_id, by_name]: StampColumns,
) -> Result<Option<Stamp>> {
    let Some(at) = row.get::<Option<i64>>(at)? else {
        return Ok(None);
    };
    Ok(Some(Stamp {
        by: Actor {
            platform: platform(&row.get::<String>(by_platform)?)?,
            id: row.get(by_id)?,
            name: row.get(by_name)?,
        },
        at: time(at)?,
    }))
}

pub(crate) fn incident(row: &impl Columns) -> Result<Incident> {
    let id: i64 = row.get("id")?;
    let severity: String = row.get("severity")?;
    let status: String = row.get("status")?;
    let channel_platform: String = row.get("platform")?;
    let optional_time = |column: &str| -> Result<Option<DateTime<Utc>>> {
        row.get::<Option<i64>>(column)?.map(time).transpose()
    };
    Ok(Incident {
        id: IncidentId::new(id).ok_or_else(|| Error::Corrupt(format!("incident id {id}")))?,
        summary: row.get("summary")?,
        service: row.get("service")?,
        severity: Severity::parse(&severity).map_err(Error::Corrupt)?,
        severity_reason: row.get("severity_reason")?,
        status: Status::parse(&status).map_err(Error::Corrupt)?,
        channel: ChannelRef {
            platform: platform(&channel_platform)?,
            id: row.get("channel_id")?,
        },
        opened: stamp(row, OPENED)?
            .ok_or_else(|| Error::Corrupt(format!("incident {id} has no opening")))?,
        acknowledged: stamp(row, ACKNOWLEDGED)?,
        resolved: stamp(row, RESOLVED)?,
        root_cause: row.get("root_cause")?,
        resolution: row.get("resolution")?,
        closed_at: optional_time("closed_at")?,
        next_update_due: optional_time("next_update_due")?,
        ack_due: optional_time("ack_due")?,
        version: row.get("version")?,
    })
}

pub(crate) fn entry(row: &impl Columns) -> Result<TimelineEntry> {
    let detail: String = row.get("detail")?;
    let actor_platform: String = row.get("actor_platform")?;
    Ok(TimelineEntry {
        seq: row.get("seq")?,
        at: time(row.get("at")?)?,
        actor: Actor {
            platform: platform(&actor_platform)?,
            id: row.get("actor_id")?,
            name: row.get("actor_name")?,
        },
        event: serde_json::from_str(&detail)
            .map_err(|e| Error::Corrupt(format!("timeline entry: {e}")))?,
    })
}

/// A `baselines` row.
pub(crate) fn baseline(row: &impl Columns) -> Result<Baseline> {
    let incident: i64 = row.get("incident_id")?;
    let platform_name: String = row.get("recorded_by_platform")?;
    Ok(Baseline {
        service: row.get("service")?,
        job: row.get("job")?,
        figures: Figures {
            p95_ms: row.get("p95_ms")?,
            error_rate: row.get("error_rate")?,
            rps: row.get("rps")?,
        },
        incident: IncidentId::new(incident)
            .ok_or_else(|| Error::Corrupt(format!("baseline incident {incident}")))?,
        job_name: row.get("job_name")?,
        by: Actor {
            platform: platform(&platform_name)?,
            id: row.get("recorded_by_id")?,
            name: row.get("recorded_by_name")?,
        },
        at: time(row.get("recorded_at")?)?,
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
