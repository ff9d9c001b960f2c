//! Load-test baselines: one row per service and load job, replaced with its timeline entries in
//! one transaction.

use sqlx::{Row, SqlitePool};

use super::rows::{append, millis, platform, time};
use crate::incident::{Actor, IncidentId, TimelineEvent};
use crate::ops::jobs::Figures;
use crate::store::{Baseline, Error, Result};

pub(super) async fn one(pool: &SqlitePool, service: &str, job: &str) -> Result<Option<Baseline>> {
    let row = sqlx::query("SELECT * FROM baselines WHERE service = ? AND job = ?")
        .bind(service)
        .bind(job)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let incident: i64 = row.try_get("incident_id")?;
    Ok(Some(Baseline {
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
            platform: platform(row.try_get("recorded_by_platform")?)?,
            id: row.try_get("recorded_by_id")?,
            name: row.try_get("recorded_by_name")?,
        },
        at: time(row.try_get("recorded_at")?)?,
    }))
}

pub(super) async fn store(
    pool: &SqlitePool,
    baseline: &Baseline,
    entries: &[TimelineEvent],
    actor: &Actor,
    request: Option<&str>,
) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    super::inbox::mark_done(&mut tx, request, baseline.at).await?;
    sqlx::query(
        "INSERT INTO baselines (service, job, p95_ms, error_rate, rps, incident_id, job_name, \
         recorded_by_platform, recorded_by_id, recorded_by_name, recorded_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (service, job) DO UPDATE SET p95_ms = excluded.p95_ms, \
         error_rate = excluded.error_rate, rps = excluded.rps, incident_id = excluded.incident_id, \
         job_name = excluded.job_name, recorded_by_platform = excluded.recorded_by_platform, \
         recorded_by_id = excluded.recorded_by_id, recorded_by_name = excluded.recorded_by_name, \
         recorded_at = excluded.recorded_at",
    )
    .bind(&baseline.service)
    .bind(&baseline.job)
    .bind(baseline.figures.p95_ms)
    .bind(baseline.figures.error_rate)
    .bind(baseline.figures.rps)
    .bind(baseline.incident.get())
    .bind(&baseline.job_name)
    .bind(baseline.by.platform.as_str())
    .bind(&baseline.by.id)
    .bind(&baseline.by.name)
    .bind(millis(baseline.at))
    .execute(&mut *tx)
    .await?;
    append(&mut tx, baseline.incident, entries, actor, baseline.at).await?;
    tx.commit().await?;
    Ok(())
}
