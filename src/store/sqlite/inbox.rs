//! The request inbox: chat requests stored before they are acknowledged, marked done with
//! their effect.

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{Row, Sqlite, Transaction};

use super::rows::{millis, time};
use crate::store::{Error, Inbound, Result};

/// Marks `request` done inside the transaction of its effect.
///
/// # Errors
/// [`Error::Replayed`] when it was done before; the caller must roll back.
pub(super) async fn mark_done(
    tx: &mut Transaction<'_, Sqlite>,
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
         VALUES (?, ?, ?, ?) \
         ON CONFLICT (request_key) DO UPDATE SET done_at = excluded.seen_at \
         WHERE processed_requests.done_at IS NULL",
    )
    .bind(key)
    .bind(millis(at))
    .bind(millis(at))
    .bind(millis(at))
    .execute(&mut **tx)
    .await?;
    if marked.rows_affected() == 0 {
        return Err(Error::Replayed(key.to_owned()));
    }
    Ok(())
}

pub(super) async fn accept(pool: &SqlitePool, request: &Inbound) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO processed_requests (request_key, seen_at, payload) VALUES (?, ?, ?) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&request.key)
    .bind(millis(request.received))
    .bind(&request.payload)
    .execute(pool)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub(super) async fn handled(pool: &SqlitePool, key: &str, at: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "UPDATE processed_requests SET done_at = ? WHERE request_key = ? AND done_at IS NULL",
    )
    .bind(millis(at))
    .bind(key)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn complete(pool: &SqlitePool, key: &str, at: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "UPDATE processed_requests SET done_at = coalesce(done_at, ?), delivered_at = ? \
         WHERE request_key = ? AND delivered_at IS NULL",
    )
    .bind(millis(at))
    .bind(millis(at))
    .bind(key)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn pending(pool: &SqlitePool, prefix: &str) -> Result<Vec<Inbound>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let rows = sqlx::query(
        "SELECT request_key, seen_at, payload, done_at IS NOT NULL AS handled, attempts \
         FROM processed_requests \
         WHERE delivered_at IS NULL AND payload IS NOT NULL \
         AND substr(request_key, 1, length(?)) = ? ORDER BY seen_at, request_key",
    )
    .bind(prefix)
    .bind(prefix)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE processed_requests SET attempts = attempts + 1 \
         WHERE delivered_at IS NULL AND payload IS NOT NULL AND substr(request_key, 1, length(?)) = ?",
    )
    .bind(prefix)
    .bind(prefix)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter().map(inbound).collect()
}

pub(super) async fn prune(pool: &SqlitePool, before: DateTime<Utc>) -> Result<u64> {
    let deleted = sqlx::query(
        "DELETE FROM processed_requests WHERE delivered_at IS NOT NULL AND seen_at < ?",
    )
    .bind(millis(before))
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

fn inbound(row: &SqliteRow) -> Result<Inbound> {
    let attempts: i64 = row.try_get("attempts")?;
    Ok(Inbound {
        key: row.try_get("request_key")?,
        payload: row.try_get("payload")?,
        received: time(row.try_get("seen_at")?)?,
        handled: row.try_get("handled")?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
    })
}
