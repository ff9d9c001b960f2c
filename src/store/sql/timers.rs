//! Firing due timers: one indexed query finds them; each is claimed, decided and recorded in a
//! write transaction of its own that locks its incident first (the lock every change to the
//! incident takes), so a timer fires once however many processes tick. On Postgres a process
//! that finds the incident locked leaves it to the one holding it and looks again next tick.
//! Every write to `reminders` happens under that lock, so the reminder row itself is not
//! locked.

use chrono::{DateTime, Utc};

use super::SqlStore;
use super::dialect::Row;
use super::incidents::{append, read};
use crate::store::decode::{millis, timer};
use crate::store::{Fired, OnDue, Result};

/// The due rows, oldest first: a range scan of `reminders_by_fire_at`. Parameters: now (Unix
/// milliseconds), the most rows to return.
pub const DUE: &str = "SELECT incident_id, kind FROM reminders \
     WHERE fire_at IS NOT NULL AND fire_at <= $1 ORDER BY fire_at LIMIT $2";

pub(super) async fn fire_due(
    store: &SqlStore,
    now: DateTime<Utc>,
    limit: u32,
    on_due: OnDue<'_>,
) -> Result<Vec<Fired>> {
    let due: Vec<(i64, String)> = sqlx::query_as(DUE)
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&store.reads)
        .await?;
    let mut fired = Vec::new();
    for (id, kind) in due {
        match fire_one(store, id, &kind, now, on_due).await {
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
    store: &SqlStore,
    id: i64,
    kind: &str,
    now: DateTime<Utc>,
    on_due: OnDue<'_>,
) -> Result<Option<Fired>> {
    let mut tx = store.write(None, now).await?;
    if !store
        .dialect
        .lock(&mut tx, Row::IncidentUnlessHeld, id)
        .await?
    {
        tx.rollback().await?;
        return Ok(None);
    }
    let claimed = sqlx::query(
        "SELECT incident_id, kind, due_at, fire_at, fired FROM reminders \
         WHERE incident_id = $1 AND kind = $2 AND fire_at IS NOT NULL AND fire_at <= $3",
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
    let before = read(&mut tx, timer.incident).await?;
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
