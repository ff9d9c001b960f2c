//! The SQLite store: one file, WAL journal, `synchronous = FULL` so a committed change survives
//! a crash or power loss. Times are stored as Unix milliseconds.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::{Decide, Error, Result, Store, Updated};
use crate::incident::{
    Actor, ChannelRef, Draft, Incident, IncidentId, Platform, Severity, Stamp, Status,
    TimelineEntry, TimelineEvent,
};

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

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url`: `sqlite://PATH` or `PATH`.
    ///
    /// # Errors
    /// [`Error::Open`] when the file cannot be opened or created, [`Error::Migrate`] when the
    /// schema cannot be brought up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        let path = database_path(url).map_err(|reason| Error::Location {
            url: url.to_owned(),
            reason,
        })?;
        let open_error = |source| Error::Open {
            url: url.to_owned(),
            source,
        };
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(open_error)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    /// The connection pool, for checks that need raw SQL (tests, integrity checks).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// The database file a store URL names: `sqlite://PATH`, `sqlite:PATH` or a plain `PATH`.
///
/// # Errors
/// Why the URL is not a durable SQLite file: another scheme, URL parameters, or an in-memory
/// database (which would lose every incident at exit).
pub fn database_path(url: &str) -> std::result::Result<&Path, String> {
    let url = url.trim();
    let path = match url.split_once("://") {
        Some(("sqlite", path)) => path,
        Some((scheme, _)) => {
            return Err(format!(
                "'{scheme}://' is not supported; use sqlite://PATH or a file path"
            ));
        }
        None => url.strip_prefix("sqlite:").unwrap_or(url),
    };
    if path.is_empty() {
        return Err("no database file is given; use sqlite://PATH or a file path".into());
    }
    if path.contains('?') {
        return Err("URL parameters ('?…') are not supported; give only the file path".into());
    }
    if path.starts_with(":memory:") {
        return Err("an in-memory database loses every incident at exit; give a file path".into());
    }
    Ok(Path::new(path))
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| Error::Corrupt(format!("time {ms}")))
}

fn platform(text: &str) -> Result<Platform> {
    Platform::parse(text).ok_or_else(|| Error::Corrupt(format!("platform '{text}'")))
}

/// Reads the `{prefix}_platform/_id/_name` and `{prefix}_at` columns as a stamp, if set.
fn stamp(row: &SqliteRow, prefix: &str) -> Result<Option<Stamp>> {
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

fn incident(row: &SqliteRow) -> Result<Incident> {
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
        last_update_at: time(row.try_get("last_update_at")?)?,
        next_update_due: optional_time("next_update_due")?,
        ack_due: optional_time("ack_due")?,
        version: row.try_get("version")?,
    })
}

fn entry(row: &SqliteRow) -> Result<TimelineEntry> {
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

async fn append(
    tx: &mut Transaction<'_, Sqlite>,
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
             VALUES (?, ?, ?, ?, ?, ?, ?)",
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
async fn sync_timers(
    tx: &mut Transaction<'_, Sqlite>,
    id: IncidentId,
    timers: [(&str, Option<DateTime<Utc>>); 2],
) -> Result<()> {
    for (kind, due) in timers {
        match due {
            Some(due) => {
                sqlx::query(
                    "INSERT INTO reminders (incident_id, kind, due_at) VALUES (?, ?, ?) \
                     ON CONFLICT (incident_id, kind) DO UPDATE SET due_at = excluded.due_at",
                )
                .bind(id.get())
                .bind(kind)
                .bind(millis(due))
                .execute(&mut **tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM reminders WHERE incident_id = ? AND kind = ?")
                    .bind(id.get())
                    .bind(kind)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    Ok(())
}

fn stamp_parts(s: Option<&Stamp>) -> (Option<&str>, Option<&str>, Option<&str>, Option<i64>) {
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

#[async_trait]
impl Store for SqliteStore {
    async fn open_incident(&self, draft: &Draft) -> Result<Incident> {
        let mut tx = self.pool.begin().await?;
        let opened = &draft.opened;
        let row = sqlx::query(
            "INSERT INTO incidents (summary, service, severity, severity_reason, status, platform, channel_id, \
             opened_by_platform, opened_by_id, opened_by_name, opened_at, last_update_at) \
             VALUES (?, ?, ?, ?, 'investigating', ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
        .bind(millis(opened.at))
        .fetch_one(&mut *tx)
        .await?;
        let raw: i64 = row.try_get("id")?;
        let id = IncidentId::new(raw).ok_or_else(|| Error::Corrupt(format!("new id {raw}")))?;
        append(&mut tx, id, &draft.entries, &opened.by, opened.at).await?;
        sync_timers(
            &mut tx,
            id,
            [
                ("update", Some(draft.next_update_due)),
                ("ack", Some(draft.ack_due)),
            ],
        )
        .await?;
        tx.commit().await?;
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
            last_update_at: opened.at,
            next_update_due: Some(draft.next_update_due),
            ack_due: Some(draft.ack_due),
            version: 0,
        })
    }

    async fn incident(&self, id: IncidentId) -> Result<Option<Incident>> {
        sqlx::query(select_incidents!("WHERE i.id = ?"))
            .bind(id.get())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(incident)
            .transpose()
    }

    async fn incidents_in(&self, channel: &ChannelRef) -> Result<Vec<Incident>> {
        sqlx::query(select_incidents!(
            "WHERE i.platform = ? AND i.channel_id = ? AND i.status <> 'closed' ORDER BY i.id DESC"
        ))
        .bind(channel.platform.as_str())
        .bind(&channel.id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(incident)
        .collect()
    }

    async fn active_incidents(&self) -> Result<Vec<Incident>> {
        sqlx::query(select_incidents!(
            "WHERE i.status IN ('investigating', 'mitigating', 'monitoring') ORDER BY i.severity, i.id DESC"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(incident)
        .collect()
    }

    async fn timeline(&self, id: IncidentId) -> Result<Vec<TimelineEntry>> {
        sqlx::query("SELECT * FROM timeline WHERE incident_id = ? ORDER BY seq")
            .bind(id.get())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(entry)
            .collect()
    }

    async fn update(
        &self,
        id: IncidentId,
        actor: &Actor,
        at: DateTime<Utc>,
        decide: Decide<'_>,
    ) -> Result<Updated> {
        // IMMEDIATE takes the write lock first, so the read below is the state the write replaces.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let before = sqlx::query(select_incidents!("WHERE i.id = ?"))
            .bind(id.get())
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(incident)
            .transpose()?
            .ok_or(Error::NotFound(id))?;
        let outcome = match decide(&before) {
            Ok(outcome) => outcome,
            Err(refusal) => {
                tx.rollback().await?;
                return Ok(Updated::Refused {
                    incident: Box::new(before),
                    refusal,
                });
            }
        };
        let next = &outcome.incident;
        let (ack_platform, ack_id, ack_name, ack_at) = stamp_parts(next.acknowledged.as_ref());
        let (res_platform, res_id, res_name, res_at) = stamp_parts(next.resolved.as_ref());
        sqlx::query(
            "UPDATE incidents SET severity = ?, severity_reason = ?, status = ?, \
             acknowledged_by_platform = ?, acknowledged_by_id = ?, acknowledged_by_name = ?, acknowledged_at = ?, \
             resolved_by_platform = ?, resolved_by_id = ?, resolved_by_name = ?, resolved_at = ?, \
             root_cause = ?, resolution = ?, closed_at = ?, last_update_at = ?, version = version + 1 \
             WHERE id = ?",
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
        .bind(millis(next.last_update_at))
        .bind(id.get())
        .execute(&mut *tx)
        .await?;
        append(&mut tx, id, &outcome.entries, actor, at).await?;
        sync_timers(
            &mut tx,
            id,
            [("update", next.next_update_due), ("ack", next.ack_due)],
        )
        .await?;
        tx.commit().await?;
        let after = Incident {
            id,
            version: before.version + 1,
            ..outcome.incident
        };
        Ok(Updated::Changed {
            before: Box::new(before),
            after: Box::new(after),
        })
    }

    async fn first_sighting(&self, request_key: &str, at: DateTime<Utc>) -> Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO processed_requests (request_key, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(request_key)
        .bind(millis(at))
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
