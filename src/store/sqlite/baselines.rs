//! Load-test baselines: one row per service and load job, replaced with its timeline entries in
//! one transaction.

use sqlx::SqlitePool;

use super::rows::{append, millis};
use crate::incident::{Actor, TimelineEvent};
use crate::store::{Baseline, Result};

pub(super) async fn one(pool: &SqlitePool, service: &str, job: &str) -> Result<Option<Baseline>> {
    let row = sqlx::query("SELECT * FROM baselines WHERE service = ? AND job = ?")
        .bind(service)
        .bind(job)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(crate::store::decode::baseline).transpose()
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
