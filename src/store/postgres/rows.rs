//! Rows of the Postgres store: writing timeline entries and timers inside a transaction. Rows are
//! read by `store::decode`, the same for both stores.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};

use crate::incident::{Actor, IncidentId, TimelineEvent};
use crate::store::{Error, Result};

pub(super) use crate::store::decode::{entry, incident, millis, platform, stamp_parts, time};

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
