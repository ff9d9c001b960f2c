//! Incidents, their timelines and their timers: opening one, changing one inside a write
//! transaction that locked it first, and reading them.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, AnyPool};

use super::dialect::{Dialect, Row as Locked};
use crate::incident::lifecycle::Outcome;
use crate::incident::{
    Actor, ChannelRef, Draft, Incident, IncidentId, Status, TimelineEntry, TimelineEvent,
};
use crate::store::decode::{entry, holder, incident, millis, stamp_parts};
use crate::store::{Decide, Error, Result, Updated};

/// The incident columns plus its pending timers; append a `WHERE`/`ORDER BY` clause.
macro_rules! select_incidents {
    ($rest:literal) => {
        concat!(
            "SELECT i.*, ",
            "(SELECT due_at FROM reminders r WHERE r.incident_id = i.id AND r.kind = 'update') AS next_update_due, ",
            "(SELECT due_at FROM reminders r WHERE r.incident_id = i.id AND r.kind = 'ack') AS ack_due ",
            "FROM incidents i ",
            $rest
        )
    };
}

/// One incident ($1: its id).
const ONE: &str = select_incidents!("WHERE i.id = $1");

pub(super) async fn one(pool: &AnyPool, id: IncidentId) -> Result<Option<Incident>> {
    let mut conn = pool.acquire().await?;
    let row = sqlx::query(ONE)
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await?;
    match row.as_ref().map(incident).transpose()? {
        Some(found) => Ok(Some(with_roles(&mut conn, found).await?)),
        None => Ok(None),
    }
}

/// Incident `id` as the transaction `tx` sees it.
pub(super) async fn read(tx: &mut AnyConnection, id: IncidentId) -> Result<Incident> {
    let row = sqlx::query(ONE)
        .bind(id.get())
        .fetch_optional(&mut *tx)
        .await?;
    let found = row
        .as_ref()
        .map(incident)
        .transpose()?
        .ok_or(Error::NotFound(id))?;
    with_roles(tx, found).await
}

/// `found` with the holders of its roles.
async fn with_roles(conn: &mut AnyConnection, mut found: Incident) -> Result<Incident> {
    found.roles = sqlx::query("SELECT * FROM incident_roles WHERE incident_id = $1 ORDER BY role")
        .bind(found.id.get())
        .fetch_all(conn)
        .await?
        .iter()
        .map(holder)
        .collect::<Result<_>>()?;
    Ok(found)
}

/// `found`, each with the holders of its roles.
async fn all_with_roles(pool: &AnyPool, found: Vec<Incident>) -> Result<Vec<Incident>> {
    let mut conn = pool.acquire().await?;
    let mut all = Vec::with_capacity(found.len());
    for one in found {
        all.push(with_roles(conn.as_mut(), one).await?);
    }
    Ok(all)
}

/// Makes the `incident_roles` rows of `next` match its holders (a role is never vacated).
async fn sync_roles(tx: &mut AnyConnection, before: &Incident, next: &Incident) -> Result<()> {
    for holder in next.roles.iter().filter(|h| !before.roles.contains(h)) {
        sqlx::query(
            "INSERT INTO incident_roles (incident_id, role, person_platform, person_id, \
             person_name, since) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (incident_id, role) DO UPDATE SET \
             person_platform = excluded.person_platform, person_id = excluded.person_id, \
             person_name = excluded.person_name, since = excluded.since",
        )
        .bind(next.id.get())
        .bind(holder.role.as_str())
        .bind(holder.person.platform.as_str())
        .bind(&holder.person.id)
        .bind(&holder.person.name)
        .bind(millis(holder.since))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

pub(super) async fn in_channel(pool: &AnyPool, channel: &ChannelRef) -> Result<Vec<Incident>> {
    let found = sqlx::query(select_incidents!(
        "WHERE i.platform = $1 AND i.channel_id = $2 AND i.status <> 'closed' ORDER BY i.id DESC"
    ))
    .bind(channel.platform.as_str())
    .bind(&channel.id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(incident)
    .collect::<Result<_>>()?;
    all_with_roles(pool, found).await
}

pub(super) async fn active(pool: &AnyPool) -> Result<Vec<Incident>> {
    let found = sqlx::query(select_incidents!(
        "WHERE i.status IN ('investigating', 'mitigating', 'monitoring') ORDER BY i.severity, i.id DESC"
    ))
    .fetch_all(pool)
    .await?
    .iter()
    .map(incident)
    .collect::<Result<_>>()?;
    all_with_roles(pool, found).await
}

pub(super) async fn timeline(pool: &AnyPool, id: IncidentId) -> Result<Vec<TimelineEntry>> {
    sqlx::query("SELECT * FROM timeline WHERE incident_id = $1 ORDER BY seq")
        .bind(id.get())
        .fetch_all(pool)
        .await?
        .iter()
        .map(entry)
        .collect()
}

/// How many incidents opened on `incident`'s UTC day before it (by id, the order they opened).
pub(super) async fn earlier_that_day(pool: &AnyPool, incident: &Incident) -> Result<u32> {
    let start = incident
        .opened
        .at
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let end = start + chrono::TimeDelta::days(1);
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM incidents WHERE opened_at >= $1 AND opened_at < $2 AND id < $3",
    )
    .bind(millis(start))
    .bind(millis(end))
    .bind(incident.id.get())
    .fetch_one(pool)
    .await?;
    u32::try_from(n).map_err(|_| Error::Corrupt(format!("count {n}")))
}

/// Stores a new incident with its first timeline entries and timers.
pub(super) async fn open(tx: &mut AnyConnection, draft: &Draft) -> Result<Incident> {
    let opened = &draft.opened;
    let raw: i64 = sqlx::query_scalar(
        "INSERT INTO incidents (summary, service, severity, severity_reason, status, platform, \
         channel_id, opened_by_platform, opened_by_id, opened_by_name, opened_at) \
         VALUES ($1, $2, $3, $4, 'investigating', $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(&draft.summary)
    .bind(&draft.service)
    .bind(draft.severity.as_str())
    .bind(&draft.severity_reason)
    .bind(draft.channel.platform.as_str())
    .bind(&draft.channel.id)
    .bind(opened.by.platform.as_str())
    .bind(&opened.by.id)
    .bind(&opened.by.name)
    .bind(millis(opened.at))
    .fetch_one(&mut *tx)
    .await?;
    let id = IncidentId::new(raw).ok_or_else(|| Error::Corrupt(format!("new id {raw}")))?;
    append(tx, id, &draft.entries, &opened.by, opened.at).await?;
    let timers = [
        ("update", Some(draft.next_update_due)),
        ("ack", Some(draft.ack_due)),
    ];
    sync_timers(tx, id, timers).await?;
    // Built from what was written rather than read back: once committed, the incident
    // exists, and a failed read must not make it look as if it did not.
    Ok(Incident {
        id,
        summary: draft.summary.clone(),
        service: draft.service.clone(),
        severity: draft.severity,
        severity_reason: draft.severity_reason.clone(),
        status: Status::Investigating,
        channel: draft.channel.clone(),
        opened: draft.opened.clone(),
        acknowledged: None,
        resolved: None,
        root_cause: None,
        resolution: None,
        closed_at: None,
        next_update_due: Some(draft.next_update_due),
        ack_due: Some(draft.ack_due),
        roles: Vec::new(),
        version: 0,
    })
}

/// Changes incident `id` as `decide` says (by `actor`, at `at`), or writes nothing (the caller
/// rolls back) when it refuses.
pub(super) async fn update(
    tx: &mut AnyConnection,
    dialect: Dialect,
    id: IncidentId,
    actor: &Actor,
    at: DateTime<Utc>,
    decide: Decide<'_>,
) -> Result<Updated> {
    // Locked first, so the read below is the state the write replaces, in this process or any
    // other.
    dialect.lock(tx, Locked::Incident, id.get()).await?;
    let before = read(tx, id).await?;
    let outcome = match decide(&before) {
        Ok(outcome) => outcome,
        Err(refusal) => return Ok(Updated::Refused(refusal)),
    };
    let after = write(tx, &before, outcome, actor, at).await?;
    Ok(Updated::Changed {
        before: Box::new(before),
        after: Box::new(after),
    })
}

/// Writes `outcome` (decided on `before`, as this transaction read it with its lock held): the
/// incident's fields, its new timeline entries (by `actor`, at `at`) and its timers; the
/// incident after, with its new version.
pub(super) async fn write(
    tx: &mut AnyConnection,
    before: &Incident,
    outcome: Outcome,
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<Incident> {
    let id = before.id;
    let next = &outcome.incident;
    let (ack_platform, ack_id, ack_name, ack_at) = stamp_parts(next.acknowledged.as_ref());
    let (res_platform, res_id, res_name, res_at) = stamp_parts(next.resolved.as_ref());
    sqlx::query(
        "UPDATE incidents SET severity = $1, severity_reason = $2, status = $3, \
         acknowledged_by_platform = $4, acknowledged_by_id = $5, acknowledged_by_name = $6, \
         acknowledged_at = $7, resolved_by_platform = $8, resolved_by_id = $9, \
         resolved_by_name = $10, resolved_at = $11, root_cause = $12, resolution = $13, \
         closed_at = $14, platform = $15, channel_id = $16, version = version + 1 WHERE id = $17",
    )
    .bind(next.severity.as_str())
    .bind(&next.severity_reason)
    .bind(next.status.as_str())
    .bind(ack_platform)
    .bind(ack_id)
    .bind(ack_name)
    .bind(ack_at)
    .bind(res_platform)
    .bind(res_id)
    .bind(res_name)
    .bind(res_at)
    .bind(&next.root_cause)
    .bind(&next.resolution)
    .bind(next.closed_at.map(millis))
    .bind(next.channel.platform.as_str())
    .bind(&next.channel.id)
    .bind(id.get())
    .execute(&mut *tx)
    .await?;
    sync_roles(tx, before, next).await?;
    append(tx, id, &outcome.entries, actor, at).await?;
    let timers = [("update", next.next_update_due), ("ack", next.ack_due)];
    sync_timers(tx, id, timers).await?;
    Ok(Incident {
        id,
        version: before.version + 1,
        ..outcome.incident
    })
}

/// Appends `entries` (by `actor`, at `at`) to incident `id`'s timeline.
pub(super) async fn append(
    tx: &mut AnyConnection,
    id: IncidentId,
    entries: &[TimelineEvent],
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<()> {
    for event in entries {
        let detail = serde_json::to_string(event)
            .map_err(|e| Error::Corrupt(format!("timeline entry: {e}")))?;
        sqlx::query(
            "INSERT INTO timeline (incident_id, at, actor_platform, actor_id, actor_name, kind, \
             detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.get())
        .bind(millis(at))
        .bind(actor.platform.as_str())
        .bind(&actor.id)
        .bind(&actor.name)
        .bind(event.kind())
        .bind(detail)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Makes the `reminders` rows of `id` match its due times (by kind; `None`: nothing due).
async fn sync_timers(
    tx: &mut AnyConnection,
    id: IncidentId,
    timers: [(&str, Option<DateTime<Utc>>); 2],
) -> Result<()> {
    for (kind, due) in timers {
        let Some(due) = due else {
            sqlx::query("DELETE FROM reminders WHERE incident_id = $1 AND kind = $2")
                .bind(id.get())
                .bind(kind)
                .execute(&mut *tx)
                .await?;
            continue;
        };
        // A new due time fires anew; the same one (any other change to the incident) keeps
        // whatever firing already happened.
        sqlx::query(
            "INSERT INTO reminders (incident_id, kind, due_at, fire_at, fired) \
             VALUES ($1, $2, $3, $3, 0) \
             ON CONFLICT (incident_id, kind) DO UPDATE SET \
             due_at = excluded.due_at, fire_at = excluded.fire_at, fired = 0 \
             WHERE reminders.due_at <> excluded.due_at",
        )
        .bind(id.get())
        .bind(kind)
        .bind(millis(due))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
