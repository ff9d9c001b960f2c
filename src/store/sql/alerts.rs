//! Alert groups, the alerts their incidents keep, and the "more alerts firing" cadence. Every
//! alert transaction first takes the alerts' turn ([`Dialect::take_alert_turn`]), so the storm
//! cap's count and a group's incident are read as the last notification left them, in any
//! process; then it locks the incidents it reads, as every change to an incident does.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::SqlStore;
use super::dialect::{Dialect, Row as Locked};
use super::incidents;
use crate::alerts::messages::{LISTED, Shown};
use crate::alerts::{AlertState, Change, Member};
use crate::incident::{Actor, Incident, IncidentId};
use crate::store::decode::millis;
use crate::store::{AlertDecide, AlertsTaken, Announcement, Error, Result, Taken};

/// The group whose row holds the storm incident (and whose lock is the alerts' turn).
pub(super) const STORM: &str = "firewatch/storm";
/// How far back openings count against `alerts.max_new_incidents`.
const STORM_WINDOW: TimeDelta = TimeDelta::minutes(1);

/// What a notification of `group` finds, as `conn` sees it; with `lock` (inside a write
/// transaction) the incidents it reads are locked.
pub(super) async fn state(
    conn: &mut AnyConnection,
    dialect: Dialect,
    group: &str,
    at: DateTime<Utc>,
    lock: bool,
) -> Result<AlertState> {
    let storm_id = group_incident(conn, STORM).await?;
    let latest_id = group_incident(conn, group).await?;
    let storm = incident(conn, dialect, storm_id, lock).await?;
    let latest = if latest_id == storm_id {
        storm.clone()
    } else {
        incident(conn, dialect, latest_id, lock).await?
    };
    let (members, others) = match &latest {
        Some(latest) => {
            let members = sqlx::query(
                "SELECT * FROM alerts WHERE incident_id = $1 AND group_key = $2 \
                 ORDER BY starts_at, fingerprint",
            )
            .bind(latest.id.get())
            .bind(group)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(member)
            .collect::<Result<Vec<_>>>()?;
            let (total, firing): (i64, i64) = sqlx::query_as(
                "SELECT count(*), count(CASE WHEN status = 'firing' THEN 1 END) FROM alerts \
                 WHERE incident_id = $1 AND group_key <> $2",
            )
            .bind(latest.id.get())
            .bind(group)
            .fetch_one(&mut *conn)
            .await?;
            (members, (count(total), count(firing)))
        }
        None => (Vec::new(), (0, 0)),
    };
    let opened: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM alert_groups WHERE opened_at > $1 AND group_key <> $2",
    )
    .bind(millis(at - STORM_WINDOW))
    .bind(STORM)
    .fetch_one(&mut *conn)
    .await?;
    Ok(AlertState {
        latest,
        members,
        others,
        storm,
        opened_recently: count(opened),
    })
}

fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The incident `group` belongs to now.
async fn group_incident(conn: &mut AnyConnection, group: &str) -> Result<Option<i64>> {
    let id: Option<Option<i64>> =
        sqlx::query_scalar("SELECT incident_id FROM alert_groups WHERE group_key = $1")
            .bind(group)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(id.flatten())
}

async fn incident(
    conn: &mut AnyConnection,
    dialect: Dialect,
    id: Option<i64>,
    lock: bool,
) -> Result<Option<Incident>> {
    let Some(id) = id.and_then(IncidentId::new) else {
        return Ok(None);
    };
    if lock {
        dialect.lock(conn, Locked::Incident, id.get()).await?;
    }
    incidents::read(conn, id).await.map(Some)
}

/// A row of `alerts`.
fn member(row: &AnyRow) -> Result<Member> {
    let detail: String = row.try_get("detail")?;
    let firings: i64 = row.try_get("firings")?;
    let announced: i64 = row.try_get("announced")?;
    Ok(Member {
        group: row.try_get("group_key")?,
        alert: serde_json::from_str(&detail)
            .map_err(|e| Error::Corrupt(format!("stored alert: {e}")))?,
        firings: count(firings),
        announced: announced != 0,
    })
}

pub(super) async fn take(
    store: &SqlStore,
    group: &str,
    actor: &Actor,
    at: DateTime<Utc>,
    every: TimeDelta,
    request: Option<&str>,
    decide: AlertDecide<'_>,
) -> Result<AlertsTaken> {
    let mut tx = store.write(request, at).await?;
    store.dialect.take_alert_turn(&mut tx).await?;
    let state = state(&mut tx, store.dialect, group, at, true).await?;
    let decision = decide(&state);
    let AlertState { latest, storm, .. } = state;
    let nothing = |taken| AlertsTaken {
        taken,
        announce: Shown::default(),
        previous: latest.clone(),
    };
    let (taken, id, opened) = match decision.change {
        Change::Nothing => {
            tx.rollback().await?;
            return Ok(nothing(Taken::Nothing));
        }
        Change::NeedsDraft => {
            tx.rollback().await?;
            return Ok(nothing(Taken::NeedsDraft));
        }
        Change::Keep => {
            let Some(incident) = latest.clone() else {
                tx.rollback().await?;
                return Ok(nothing(Taken::Nothing));
            };
            let id = incident.id;
            (Taken::Kept(Box::new(incident)), id, false)
        }
        Change::Update { id, outcome } => {
            let before = match [&latest, &storm].into_iter().flatten().find(|i| i.id == id) {
                Some(known) => known.clone(),
                None => {
                    store
                        .dialect
                        .lock(&mut tx, Locked::Incident, id.get())
                        .await?;
                    incidents::read(&mut tx, id).await?
                }
            };
            let entries = outcome.entries.clone();
            let after = incidents::write(&mut tx, &before, *outcome, actor, at).await?;
            join(&mut tx, group, id, None).await?;
            let taken = Taken::Updated {
                before: Box::new(before),
                after: Box::new(after),
                entries,
            };
            (taken, id, false)
        }
        Change::Open { draft, storm } => {
            let incident = incidents::open(&mut tx, &draft).await?;
            if storm {
                join(&mut tx, STORM, incident.id, None).await?;
            }
            // Only the group's own incident counts against the storm cap.
            join(&mut tx, group, incident.id, (!storm).then_some(at)).await?;
            cadence(&mut tx, incident.id, at).await?;
            let id = incident.id;
            let taken = Taken::Opened {
                incident: Box::new(incident),
                storm,
            };
            (taken, id, true)
        }
    };
    for m in &decision.members {
        let shown = Member {
            // A new incident's message shows every alert firing in it.
            announced: m.announced || (opened && m.firing()),
            ..m.clone()
        };
        keep(&mut tx, id, &shown).await?;
    }
    let announce = if opened {
        Shown::all(
            decision
                .members
                .into_iter()
                .filter(Member::firing)
                .collect(),
        )
    } else if decision.announce {
        announce(&mut tx, id, at, every).await?
    } else {
        Shown::default()
    };
    tx.commit().await?;
    Ok(AlertsTaken {
        taken,
        announce,
        previous: latest,
    })
}

/// `group` belongs to incident `id` from now on; `opened` when firewatch opened it for the
/// group now (the storm cap counts it).
async fn join(
    tx: &mut AnyConnection,
    group: &str,
    id: IncidentId,
    opened: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO alert_groups (group_key, incident_id, opened_at) VALUES ($1, $2, $3) \
         ON CONFLICT (group_key) DO UPDATE SET incident_id = excluded.incident_id, \
         opened_at = coalesce(excluded.opened_at, alert_groups.opened_at)",
    )
    .bind(group)
    .bind(id.get())
    .bind(opened.map(millis))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A new incident's cadence: its first message, the one that opens it, is now.
async fn cadence(tx: &mut AnyConnection, id: IncidentId, at: DateTime<Utc>) -> Result<()> {
    sqlx::query("INSERT INTO alert_incidents (incident_id, announced_at) VALUES ($1, $2)")
        .bind(id.get())
        .bind(millis(at))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Writes member `m` of incident `id`.
async fn keep(tx: &mut AnyConnection, id: IncidentId, m: &Member) -> Result<()> {
    let detail =
        serde_json::to_string(&m.alert).map_err(|e| Error::Corrupt(format!("alert: {e}")))?;
    sqlx::query(
        "INSERT INTO alerts (incident_id, group_key, fingerprint, status, starts_at, firings, \
         announced, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (incident_id, group_key, fingerprint) DO UPDATE SET \
         status = excluded.status, starts_at = excluded.starts_at, firings = excluded.firings, \
         announced = excluded.announced, detail = excluded.detail",
    )
    .bind(id.get())
    .bind(&m.group)
    .bind(&m.alert.fingerprint)
    .bind(m.alert.status.as_str())
    .bind(millis(m.alert.starts_at))
    .bind(i64::from(m.firings))
    .bind(i64::from(m.announced))
    .bind(detail)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Alerts of incident `id` wait to be shown: the ones not shown yet, marked shown, when its
/// last message about its alerts is `every` old; otherwise none, and the incident is due then.
async fn announce(
    tx: &mut AnyConnection,
    id: IncidentId,
    at: DateTime<Utc>,
    every: TimeDelta,
) -> Result<Shown> {
    let last: Option<i64> =
        sqlx::query_scalar("SELECT announced_at FROM alert_incidents WHERE incident_id = $1")
            .bind(id.get())
            .fetch_optional(&mut *tx)
            .await?;
    match last {
        Some(last) if last + every.num_milliseconds() > millis(at) => {
            sqlx::query(
                "UPDATE alert_incidents SET due_at = $1 WHERE incident_id = $2 AND due_at IS NULL",
            )
            .bind(last + every.num_milliseconds())
            .bind(id.get())
            .execute(&mut *tx)
            .await?;
            Ok(Shown::default())
        }
        Some(_) => show_waiting(tx, id, at).await,
        None => {
            cadence(tx, id, at).await?;
            show_waiting(tx, id, at).await
        }
    }
}

/// The firing alerts of `id` not shown yet (the first [`LISTED`] read), marked shown now.
async fn show_waiting(tx: &mut AnyConnection, id: IncidentId, at: DateTime<Utc>) -> Result<Shown> {
    let first = sqlx::query(
        "SELECT * FROM alerts WHERE incident_id = $1 AND announced = 0 AND status = 'firing' \
         ORDER BY starts_at, group_key, fingerprint LIMIT $2",
    )
    .bind(id.get())
    .bind(LISTED as i64)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|row| {
        member(row).map(|m| Member {
            announced: true,
            ..m
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let (count, again): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(CASE WHEN firings > 1 THEN 1 END) FROM alerts \
         WHERE incident_id = $1 AND announced = 0 AND status = 'firing'",
    )
    .bind(id.get())
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE alerts SET announced = 1 \
         WHERE incident_id = $1 AND announced = 0 AND status = 'firing'",
    )
    .bind(id.get())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE alert_incidents SET announced_at = $1, due_at = NULL WHERE incident_id = $2",
    )
    .bind(millis(at))
    .bind(id.get())
    .execute(&mut *tx)
    .await?;
    Ok(Shown {
        first,
        count: usize::try_from(count).unwrap_or_default(),
        again: usize::try_from(again).unwrap_or_default(),
    })
}

pub(super) async fn of_incident(store: &SqlStore, id: IncidentId) -> Result<Vec<Member>> {
    sqlx::query(
        "SELECT * FROM alerts WHERE incident_id = $1 ORDER BY group_key, starts_at, fingerprint",
    )
    .bind(id.get())
    .fetch_all(&store.reads)
    .await?
    .iter()
    .map(member)
    .collect()
}

pub(super) async fn due(
    store: &SqlStore,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Announcement>> {
    let due: Vec<i64> = sqlx::query_scalar(
        "SELECT incident_id FROM alert_incidents WHERE due_at IS NOT NULL AND due_at <= $1 \
         ORDER BY due_at LIMIT $2",
    )
    .bind(millis(now))
    .bind(i64::from(limit))
    .fetch_all(&store.reads)
    .await?;
    let mut claimed = Vec::new();
    for id in due.into_iter().filter_map(IncidentId::new) {
        match claim(store, id, now).await {
            Ok(Some(one)) => claimed.push(one),
            Ok(None) => {}
            Err(e) => tracing::error!(
                incident = %id,
                error = %crate::error_chain(&e),
                "could not claim a due \"more alerts\" message; trying again next tick"
            ),
        }
    }
    Ok(claimed)
}

/// Claims incident `id`'s due message, unless another process did.
async fn claim(
    store: &SqlStore,
    id: IncidentId,
    now: DateTime<Utc>,
) -> Result<Option<Announcement>> {
    let mut tx = store.write(None, now).await?;
    store.dialect.take_alert_turn(&mut tx).await?;
    let due: Option<Option<i64>> =
        sqlx::query_scalar("SELECT due_at FROM alert_incidents WHERE incident_id = $1")
            .bind(id.get())
            .fetch_optional(&mut *tx)
            .await?;
    if due.flatten().is_none_or(|due| due > millis(now)) {
        tx.rollback().await?;
        return Ok(None);
    }
    let shown = show_waiting(&mut tx, id, now).await?;
    let incident = incidents::read(&mut tx, id).await?;
    tx.commit().await?;
    Ok((!shown.is_empty() && incident.status.is_active())
        .then_some(Announcement { incident, shown }))
}
