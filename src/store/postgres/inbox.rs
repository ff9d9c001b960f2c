//! The request inbox on Postgres: chat requests stored before they are acknowledged (one
//! `INSERT … ON CONFLICT DO NOTHING` each), marked done with their effect, and taken over after a
//! restart only when the process that accepted them is gone.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::LEASE_SECONDS;
use super::rows::{millis, time};
use crate::store::{Error, Inbound, Result};

/// Marks `request` done inside the transaction of its effect.
///
/// # Errors
/// [`Error::Replayed`] when it was done before; the caller must roll back. Of two transactions
/// marking the same key at once, the second waits for the first and then sees it done.
pub(super) async fn mark_done(
    tx: &mut Transaction<'_, Postgres>,
    request: Option<&str>,
    at: DateTime<Utc>,
) -> Result<()> {
    let Some(key) = request else {
        return Ok(());
    };
    // A key never accepted (a caller without an inbox) is recorded as done and delivered, so a
    // later delivery of it is recognised too.
    let marked = sqlx::query(
        "INSERT INTO processed_requests (request_key, seen_at, done_at, delivered_at) \
         VALUES ($1, $2, $2, $2) \
         ON CONFLICT (request_key) DO UPDATE SET done_at = excluded.seen_at \
         WHERE processed_requests.done_at IS NULL",
    )
    .bind(key)
    .bind(millis(at))
    .execute(&mut **tx)
    .await?;
    if marked.rows_affected() == 0 {
        return Err(Error::Replayed(key.to_owned()));
    }
    Ok(())
}

pub(super) async fn accept(pool: &PgPool, request: &Inbound, owner: &str) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO processed_requests (request_key, seen_at, payload, owner) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(&request.key)
    .bind(millis(request.received))
    .bind(&request.payload)
    .bind(owner)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn handled(pool: &PgPool, key: &str, at: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "UPDATE processed_requests SET done_at = $1 WHERE request_key = $2 AND done_at IS NULL",
    )
    .bind(millis(at))
    .bind(key)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn complete(pool: &PgPool, key: &str, at: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "UPDATE processed_requests SET done_at = coalesce(done_at, $1), delivered_at = $1 \
         WHERE request_key = $2 AND delivered_at IS NULL",
    )
    .bind(millis(at))
    .bind(key)
    .execute(pool)
    .await?;
    Ok(())
}

/// Takes over the requests no live process holds: no owner, or an owner other than `me` whose
/// lease ran out. Rows another process is taking over at this moment are skipped (`SKIP
/// LOCKED`), so each goes to one process.
pub(super) async fn pending(pool: &PgPool, prefix: &str, me: &str) -> Result<Vec<Inbound>> {
    let mut rows = sqlx::query(
        "WITH orphans AS ( \
             SELECT request_key FROM processed_requests r \
             WHERE delivered_at IS NULL AND payload IS NOT NULL AND starts_with(request_key, $2) \
             AND (owner IS NULL OR (owner <> $1 AND NOT EXISTS ( \
                 SELECT 1 FROM processes p WHERE p.id = r.owner \
                 AND p.heartbeat_at > now() - make_interval(secs => $3)))) \
             FOR UPDATE SKIP LOCKED) \
         UPDATE processed_requests SET attempts = attempts + 1, owner = $1 \
         FROM orphans WHERE processed_requests.request_key = orphans.request_key \
         RETURNING processed_requests.request_key, seen_at, payload, \
         done_at IS NOT NULL AS handled, attempts - 1 AS attempts",
    )
    .bind(me)
    .bind(prefix)
    .bind(f64::from(LEASE_SECONDS))
    .fetch_all(pool)
    .await?
    .iter()
    .map(inbound)
    .collect::<Result<Vec<_>>>()?;
    rows.sort_by(|a, b| (a.received, &a.key).cmp(&(b.received, &b.key)));
    Ok(rows)
}

pub(super) async fn backlog(
    pool: &PgPool,
    prefix: &str,
    limit: usize,
    me: &str,
) -> Result<Vec<Inbound>> {
    sqlx::query(
        "SELECT request_key, seen_at, payload, false AS handled, attempts \
         FROM processed_requests \
         WHERE done_at IS NULL AND delivered_at IS NULL AND payload IS NOT NULL AND attempts = 0 \
         AND owner = $1 \
         AND starts_with(request_key, $2) ORDER BY seen_at, request_key LIMIT $3",
    )
    .bind(me)
    .bind(prefix)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?
    .iter()
    .map(inbound)
    .collect()
}

pub(super) async fn prune(pool: &PgPool, before: DateTime<Utc>) -> Result<u64> {
    let deleted = sqlx::query(
        "DELETE FROM processed_requests WHERE delivered_at IS NOT NULL AND seen_at < $1",
    )
    .bind(millis(before))
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

fn inbound(row: &PgRow) -> Result<Inbound> {
    let attempts: i64 = row.try_get("attempts")?;
    Ok(Inbound {
        key: row.try_get("request_key")?,
        payload: row.try_get("payload")?,
        received: time(row.try_get("seen_at")?)?,
        handled: row.try_get("handled")?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
    })
}
