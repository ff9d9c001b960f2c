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
                Err(e) => {
                    tracing::warn!(
                        error = %crate::error_chain(&e),
                        writes = batch.len(),
                        "an inbox batch failed; writing its writes one by one"
                    );
                    for (write, reply) in batch.drain(..) {
                        let _ = reply.send(write_alone(&pool, &write, &owner).await);
                    }
                }
            }
        }
    });
    sender
}

/// Writes a batch in one transaction with one statement per kind of write (SQLite's `json_each`
/// turns the batch into rows), so a batch costs the same few round trips to the database thread
/// however many writes it holds. Accepts come first: a request's marks are only ever sent after
/// its accept was answered, so they are never in the same batch.
async fn write_all(pool: &SqlitePool, batch: &[Waiting], owner: &str) -> Result<Vec<bool>> {
    let mut accepts = Vec::new();
    let mut handled = Vec::new();
    let mut completed = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // A key twice in one batch (a redelivery racing the first delivery): only the first is new.
    let mut repeated = vec![false; batch.len()];
    for (i, (write, _)) in batch.iter().enumerate() {
        match write {
            Write::Accept(request) => {
                repeated[i] = !seen.insert(request.key.as_str());
                accepts.push(BatchRow {
                    k: &request.key,
                    t: millis(request.received),
                    p: Some(&request.payload),
                });
            }
            Write::Handled(key, at) => handled.push(BatchRow {
                k: key,
                t: millis(*at),
                p: None,
            }),
            Write::Complete(key, at) => completed.push(BatchRow {
                k: key,
                t: millis(*at),
                p: None,
            }),
        }
    }
    let mut tx = pool.begin().await?;
    let mut new = std::collections::HashSet::new();
    if !accepts.is_empty() {
        let keys: Vec<String> = sqlx::query_scalar(
            "INSERT INTO processed_requests (request_key, seen_at, payload, owner) \
             SELECT json_extract(value, '$.k'), json_extract(value, '$.t'), json_extract(value, '$.p'), ? \
             FROM json_each(?) WHERE true \
             ON CONFLICT DO NOTHING RETURNING request_key",
        )
        .bind(owner)
        .bind(rows(&accepts)?)
        .fetch_all(&mut *tx)
        .await?;
        new.extend(keys);
    }
    if !handled.is_empty() {
        sqlx::query(
            "UPDATE processed_requests SET done_at = json_extract(j.value, '$.t') \
             FROM json_each(?) AS j \
             WHERE processed_requests.request_key = json_extract(j.value, '$.k') \
             AND processed_requests.done_at IS NULL",
        )
        .bind(rows(&handled)?)
        .execute(&mut *tx)
        .await?;
    }
    if !completed.is_empty() {
        sqlx::query(
            "UPDATE processed_requests \
             SET done_at = coalesce(done_at, json_extract(j.value, '$.t')), \
                 delivered_at = json_extract(j.value, '$.t') \
             FROM json_each(?) AS j \
             WHERE processed_requests.request_key = json_extract(j.value, '$.k') \
             AND processed_requests.delivered_at IS NULL",
        )
        .bind(rows(&completed)?)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(batch
        .iter()
        .zip(repeated)
        .map(|((write, _), repeated)| match write {
            Write::Accept(request) => !repeated && new.contains(&request.key),
            // Nobody asks whether a mark changed anything: marks are idempotent.
            Write::Handled(..) | Write::Complete(..) => true,
        })
        .collect())
}

/// One write of a batch as `json_each` reads it: key, time (Unix ms), payload.
#[derive(serde::Serialize)]
struct BatchRow<'a> {
    k: &'a str,
    t: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    p: Option<&'a str>,
}

fn rows(rows: &[BatchRow<'_>]) -> Result<String> {
    serde_json::to_string(rows).map_err(|e| Error::Corrupt(format!("inbox batch: {e}")))
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

pub(super) async fn backlog(
    pool: &SqlitePool,
    prefix: &str,
    limit: usize,
    me: &str,
) -> Result<Vec<Inbound>> {
    let rows = sqlx::query(
        "SELECT request_key, seen_at, payload, 0 AS handled, attempts \
         FROM processed_requests \
         WHERE done_at IS NULL AND delivered_at IS NULL AND payload IS NOT NULL AND attempts = 0 \
         AND owner = ? \
         AND substr(request_key, 1, length(?)) = ? ORDER BY seen_at, request_key LIMIT ?",
    )
    .bind(me)
    .bind(prefix)
    .bind(prefix)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
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
