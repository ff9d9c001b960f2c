//! The request inbox: chat requests stored before they are acknowledged, marked done with
//! their effect.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::{mpsc, oneshot};

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

/// Writes `write` on its own (when the group-commit writer is gone).
pub(super) async fn write_now(pool: &SqlitePool, write: &Write, owner: &str) -> Result<bool> {
    write_alone(pool, write, owner).await
}

fn insert<'q>(
    request: &'q Inbound,
    owner: &'q str,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments> {
    sqlx::query(
        "INSERT INTO processed_requests (request_key, seen_at, payload, owner) VALUES (?, ?, ?, ?) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&request.key)
    .bind(millis(request.received))
    .bind(&request.payload)
    .bind(owner)
}

/// One inbox write waiting for the next group commit.
#[derive(Debug)]
pub(super) enum Write {
    /// Store a new request; answers whether it was new.
    Accept(Inbound),
    /// Mark a request handled (its effect, if any, is committed).
    Handled(String, DateTime<Utc>),
    /// Mark a request delivered (and handled).
    Complete(String, DateTime<Utc>),
}

/// A write with where its answer goes.
pub(super) type Waiting = (Write, oneshot::Sender<Result<bool>>);

/// The most writes one transaction commits, and how many may wait for it.
const MOST_PER_COMMIT: usize = 256;
const MOST_WAITING: usize = 4096;

/// Starts the group-commit writer of the inbox: accepts and handled/delivered marks that arrive
/// together are written in one transaction, so they share one `fsync` instead of queueing for
/// the write lock one by one.
///
/// # Guarantees
/// A write is answered only after the transaction holding it committed (durably, with
/// `synchronous = FULL`); writes keep their order; if a batch fails, each write is tried again on
/// its own and gets its own answer. The writer ends when the store is dropped.
/// Requests are recorded as accepted by `owner` (this process).
pub(super) fn group_commit(pool: SqlitePool, owner: Arc<str>) -> mpsc::Sender<Waiting> {
    let (sender, mut waiting) = mpsc::channel::<Waiting>(MOST_WAITING);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MOST_PER_COMMIT);
        while waiting.recv_many(&mut batch, MOST_PER_COMMIT).await > 0 {
            match write_all(&pool, &batch, &owner).await {
                Ok(answers) => {
                    for ((_, reply), answer) in batch.drain(..).zip(answers) {
                        let _ = reply.send(Ok(answer));
                    }
                }
                Err(_) => {
                    for (write, reply) in batch.drain(..) {
                        let _ = reply.send(write_alone(&pool, &write, &owner).await);
                    }
                }
            }
        }
    });
    sender
}

async fn write_all(pool: &SqlitePool, batch: &[Waiting], owner: &str) -> Result<Vec<bool>> {
    let mut tx = pool.begin().await?;
    let mut answers = Vec::with_capacity(batch.len());
    for (write, _) in batch {
        answers.push(apply(&mut tx, write, owner).await?);
    }
    tx.commit().await?;
    Ok(answers)
}

async fn write_alone(pool: &SqlitePool, write: &Write, owner: &str) -> Result<bool> {
    let mut conn = pool.acquire().await?;
    apply(&mut conn, write, owner).await
}

async fn apply(conn: &mut sqlx::SqliteConnection, write: &Write, owner: &str) -> Result<bool> {
    let done = match write {
        Write::Accept(request) => insert(request, owner).execute(&mut *conn).await?,
        Write::Handled(key, at) => sqlx::query(
            "UPDATE processed_requests SET done_at = ? WHERE request_key = ? AND done_at IS NULL",
        )
        .bind(millis(*at))
        .bind(key)
        .execute(&mut *conn)
        .await?,
        Write::Complete(key, at) => {
            sqlx::query(
                "UPDATE processed_requests SET done_at = coalesce(done_at, ?), delivered_at = ? \
                 WHERE request_key = ? AND delivered_at IS NULL",
            )
            .bind(millis(*at))
            .bind(millis(*at))
            .bind(key)
            .execute(&mut *conn)
            .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

/// Takes over what earlier processes left: requests not delivered and not accepted by `me`
/// (there is one writer on the file, so any other owner is gone), each counted as one more
/// attempt and recorded as `me`'s.
pub(super) async fn pending(pool: &SqlitePool, prefix: &str, me: &str) -> Result<Vec<Inbound>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let rows = sqlx::query(
        "SELECT request_key, seen_at, payload, done_at IS NOT NULL AS handled, attempts \
         FROM processed_requests \
         WHERE delivered_at IS NULL AND payload IS NOT NULL AND owner IS NOT ? \
         AND substr(request_key, 1, length(?)) = ? ORDER BY seen_at, request_key",
    )
    .bind(me)
    .bind(prefix)
    .bind(prefix)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE processed_requests SET attempts = attempts + 1, owner = ? \
         WHERE delivered_at IS NULL AND payload IS NOT NULL AND owner IS NOT ? \
         AND substr(request_key, 1, length(?)) = ?",
    )
    .bind(me)
    .bind(me)
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
