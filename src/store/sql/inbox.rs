//! The request inbox: chat requests stored before they are acknowledged (an `INSERT … ON
//! CONFLICT DO NOTHING` each, committed before the answer, several together when they arrive
//! together: [`super::marks`]), marked done in the transaction of their effect, and taken over
//! after a restart only when the process that accepted them is gone.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, AnyPool};

use super::SqlStore;
use super::marks::Mark;
use crate::store::decode::{inbound, millis};
use crate::store::{Error, Inbound, Result};

/// Marks `request` done inside the transaction of its effect.
///
/// # Errors
/// [`Error::Replayed`] when it was done before; the caller must roll back. Of two transactions
/// marking the same key at once, the second waits for the first and then sees it done.
pub(super) async fn mark_done(
    tx: &mut AnyConnection,
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
    .execute(&mut *tx)
    .await?;
    if marked.rows_affected() == 0 {
        return Err(Error::Replayed(key.to_owned()));
    }
    Ok(())
}

/// Writes one of the inbox's marks on `conn` (in the batch's transaction): an accept answers
/// whether its key is new; the others always `true`.
pub(super) async fn mark(conn: &mut AnyConnection, mark: &Mark, owner: &str) -> Result<bool> {
    let written =
        match mark {
            Mark::Accept(request) => {
                sqlx::query(
                    "INSERT INTO processed_requests (request_key, seen_at, payload, owner) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(&request.key)
                .bind(millis(request.received))
                .bind(&request.payload)
                .bind(owner)
                .execute(&mut *conn)
                .await?
            }
            Mark::Handled(key, at) => {
                sqlx::query(
                    "UPDATE processed_requests SET done_at = $1 \
                 WHERE request_key = $2 AND done_at IS NULL",
                )
                .bind(millis(*at))
                .bind(key)
                .execute(&mut *conn)
                .await?
            }
            Mark::Complete(key, at) => sqlx::query(
                "UPDATE processed_requests SET done_at = coalesce(done_at, $1), delivered_at = $1 \
                 WHERE request_key = $2 AND delivered_at IS NULL",
            )
            .bind(millis(*at))
            .bind(key)
            .execute(&mut *conn)
            .await?,
        };
    Ok(!matches!(mark, Mark::Accept(_)) || written.rows_affected() == 1)
}

/// Takes over the undelivered requests with the key prefix `prefix` that no live process holds
/// (one statement: [`super::dialect::Dialect::take_over`]), oldest first.
pub(super) async fn take_over(store: &SqlStore, prefix: &str) -> Result<Vec<Inbound>> {
    let mut taken = sqlx::query(store.dialect.take_over())
        .bind(&*store.process)
        .bind(prefix)
        .fetch_all(&store.writes)
        .await?
        .iter()
        .map(inbound)
        .collect::<Result<Vec<_>>>()?;
    taken.sort_by(|a, b| (a.received, &a.key).cmp(&(b.received, &b.key)));
    Ok(taken)
}

/// Requests with the key prefix `prefix` that `me` (this process) accepted and has not started,
/// oldest first, at most `limit`.
pub(super) async fn backlog(
    pool: &AnyPool,
    prefix: &str,
    limit: usize,
    me: &str,
) -> Result<Vec<Inbound>> {
    sqlx::query(
        "SELECT request_key, seen_at, payload, 0 AS handled, attempts FROM processed_requests \
         WHERE done_at IS NULL AND delivered_at IS NULL AND payload IS NOT NULL AND attempts = 0 \
         AND owner = $1 AND substr(request_key, 1, length($2)) = $2 \
         ORDER BY seen_at, request_key LIMIT $3",
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

pub(super) async fn prune(pool: &AnyPool, before: DateTime<Utc>) -> Result<u64> {
    let deleted = sqlx::query(
        "DELETE FROM processed_requests WHERE delivered_at IS NOT NULL AND seen_at < $1",
    )
    .bind(millis(before))
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}
