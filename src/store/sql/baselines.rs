//! Load-test baselines: one row per service and load job, replaced with its timeline entries in
//! one transaction.

use sqlx::{AnyConnection, AnyPool};

use super::dialect::{Dialect, Row};
use super::incidents::append;
use crate::incident::{Actor, TimelineEvent};
use crate::store::decode::{baseline, millis};
use crate::store::{Baseline, Result};

pub(super) async fn one(pool: &AnyPool, service: &str, job: &str) -> Result<Option<Baseline>> {
    let row = sqlx::query("SELECT * FROM baselines WHERE service = $1 AND job = $2")
        .bind(service)
        .bind(job)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(baseline).transpose()
}

/// Stores `new` in place of its service's and job's last baseline, with `entries` (by `actor`)
/// on its incident's timeline.
pub(super) async fn store(
    tx: &mut AnyConnection,
    dialect: Dialect,
    new: &Baseline,
    entries: &[TimelineEvent],
    actor: &Actor,
) -> Result<()> {
    // Ordered with the incident's other changes, as an update is.
    dialect.lock(tx, Row::Incident, new.incident.get()).await?;
    sqlx::query(
        "INSERT INTO baselines (service, job, p95_ms, error_rate, rps, incident_id, job_name, \
         recorded_by_platform, recorded_by_id, recorded_by_name, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (service, job) DO UPDATE SET p95_ms = excluded.p95_ms, \
         error_rate = excluded.error_rate, rps = excluded.rps, incident_id = excluded.incident_id, \
         job_name = excluded.job_name, recorded_by_platform = excluded.recorded_by_platform, \
         recorded_by_id = excluded.recorded_by_id, recorded_by_name = excluded.recorded_by_name, \
         recorded_at = excluded.recorded_at",
    )
    .bind(&new.service)
    .bind(&new.job)
    .bind(new.figures.p95_ms)
    .bind(new.figures.error_rate)
    .bind(new.figures.rps)
    .bind(new.incident.get())
    .bind(&new.job_name)
    .bind(new.by.platform.as_str())
    .bind(&new.by.id)
    .bind(&new.by.name)
    .bind(millis(new.at))
    .execute(&mut *tx)
    .await?;
    append(tx, new.incident, entries, actor, new.at).await
}
