//! Rows of the Postgres store: turning stored rows into incidents and timeline entries, and
//! writing timeline entries and timers inside a transaction.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use crate::incident::{
    Actor, ChannelRef, Incident, IncidentId, Platform, Severity, Stamp, Status, TimelineEntry,
    TimelineEvent,
};
use crate::store::{Error, Result};

pub(super) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(super) fn time(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| Error::Corrupt(format!("time {ms}")))
}

pub(super) fn platform(text: &str) -> Result<Platform> {
    Platform::parse(text).ok_or_else(|| Error::Corrupt(format!("platform '{text}'")))
}

/// Reads the `{prefix}_platform/_id/_name` and `{prefix}_at` columns as a stamp, if set.
pub(super) fn stamp(row: &PgRow, prefix: &str) -> Result<Option<Stamp>> {
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

pub(super) fn incident(row: &PgRow) -> Result<Incident> {
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

pub(super) fn entry(row: &PgRow) -> Result<TimelineEntry> {
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

pub(super) async fn append(
    tx: &mut Transaction<'_, Postgres>,
    id: IncidentId,
    entries: &[TimelineEvent],
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<()> {
    for event in entries {
        let detail = serde_json::to_string(event)
            .map_err(|e| Error::Corrupt(format!("timeline entry: {e}")))?;
        sqlx::query(
            "INSERT INTO timeline (incident_id, at, actor_platform, actor_id, actor_name, kind, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.get())
        .bind(millis(at))
        .bind(actor.platform.as_str())
        .bind(&actor.id)
        .bind(&actor.name)
        .bind(event.kind())
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Makes the `reminders` rows of `id` match its due times.
pub(super) async fn sync_timers(
    tx: &mut Transaction<'_, Postgres>,
    id: IncidentId,
    timers: [(&str, Option<DateTime<Utc>>); 2],
) -> Result<()> {
    for (kind, due) in timers {
        match due {
            Some(due) => {
                // A new due time fires anew; the same one (any other change to the incident) keeps
                // whatever firing already happened.
                sqlx::query(
                    "INSERT INTO reminders (incident_id, kind, due_at, fire_at, fired) VALUES ($1, $2, $3, $4, 0) \
                     ON CONFLICT (incident_id, kind) DO UPDATE SET \
                     due_at = excluded.due_at, fire_at = excluded.fire_at, fired = 0 \
                     WHERE reminders.due_at <> excluded.due_at",
                )
                .bind(id.get())
                .bind(kind)
                .bind(millis(due))
                .bind(millis(due))
                .execute(&mut **tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM reminders WHERE incident_id = $1 AND kind = $2")
                    .bind(id.get())
                    .bind(kind)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    Ok(())
}

pub(super) fn stamp_parts(
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
