//! Firing due timers on Postgres: one indexed query finds them; each is claimed, decided and
//! recorded in its own transaction. The claim locks the incident with `FOR UPDATE SKIP LOCKED`
//! (the lock every change to the incident takes first), so replicas ticking together share the
//! work and a timer fires once: a replica that finds the incident locked leaves it to the one
//! holding it and looks again next tick.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};

use super::rows::{append, incident, millis, time};
use crate::incident::IncidentId;
use crate::incident::timers::{Timer, TimerKind};
use crate::store::{Error, Fired, OnDue, Result};

/// The due rows, oldest first: a range scan of `reminders_by_fire_at`. Parameters: now (Unix
/// milliseconds), the most rows to return.
pub const DUE: &str = "SELECT incident_id, kind FROM reminders \
     WHERE fire_at IS NOT NULL AND fire_at <= $1 ORDER BY fire_at LIMIT $2";

pub(super) async fn fire_due(
    pool: &PgPool,
    now: DateTime<Utc>,
    limit: u32,
    on_due: OnDue<'_>,
) -> Result<Vec<Fired>> {
    let due: Vec<(i64, String)> = sqlx::query_as(DUE)
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    let mut fired = Vec::new();
    for (id, kind) in due {
        match fire_one(pool, id, &kind, now, on_due).await {
            Ok(Some(one)) => fired.push(one),
            Ok(None) => {}
            Err(e) => tracing::error!(
                incident = id,
                timer = %kind,
                error = %crate::error_chain(&e),
                "a due timer could not be fired; it is tried again next tick"
            ),
        }
    }
    Ok(fired)
}

/// Claims one timer if it is still due and nobody else holds its incident, and commits its
/// firing. `None` when another process fired, moved or holds it, or when firing it had nothing
/// to say.
async fn fire_one(
    pool: &PgPool,
    id: i64,
    kind: &str,
    now: DateTime<Utc>,
    on_due: OnDue<'_>,
) -> Result<Option<Fired>> {
    let mut tx = pool.begin().await?;
    let before = sqlx::query(select_incidents!(
        "WHERE i.id = $1 FOR NO KEY UPDATE OF i SKIP LOCKED"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before.as_ref().map(incident).transpose()? else {
        // Another process holds the incident (firing this timer, or changing the incident).
        tx.rollback().await?;
        return Ok(None);
    };
    let claimed = sqlx::query(
        "SELECT incident_id, kind, due_at, fire_at, fired FROM reminders \
         WHERE incident_id = $1 AND kind = $2 AND fire_at IS NOT NULL AND fire_at <= $3 \
         FOR UPDATE",
    )
    .bind(id)
    .bind(kind)
    .bind(millis(now))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = claimed else {
        tx.rollback().await?;
        return Ok(None);
    };
    let timer = timer(&row)?;
    let firing = on_due(&before, &timer);
    append(&mut tx, timer.incident, &firing.entries, &firing.by, now).await?;
    sqlx::query(
        "UPDATE reminders SET fire_at = $1, fired = fired + 1 WHERE incident_id = $2 AND kind = $3",
    )
    .bind(firing.next.map(millis))
    .bind(id)
    .bind(kind)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if firing.entries.is_empty() {
        return Ok(None);
    }
    Ok(Some(Fired {
        incident: before,
        timer,
        entries: firing.entries,
        next: firing.next,
    }))
}

fn timer(row: &PgRow) -> Result<Timer> {
    let id: i64 = row.try_get("incident_id")?;
    let kind: String = row.try_get("kind")?;
    let fired: i64 = row.try_get("fired")?;
    Ok(Timer {
        incident: IncidentId::new(id).ok_or_else(|| Error::Corrupt(format!("incident id {id}")))?,
        kind: TimerKind::parse(&kind)
            .ok_or_else(|| Error::Corrupt(format!("timer kind '{kind}'")))?,
        due: time(row.try_get("due_at")?)?,
        fire_at: time(row.try_get("fire_at")?)?,
        fired: u32::try_from(fired).unwrap_or(u32::MAX),
    })
}
