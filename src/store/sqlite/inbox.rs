//! The request inbox: chat requests stored before they are acknowledged, marked done with
//! their effect.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqlitePool;
use sqlx::{Sqlite, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::rows::{millis, time};
use crate::store::decode::Columns;
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

/// What the group-commit writer is sent.
#[derive(Debug)]
pub(super) enum Job {
    /// A write to commit with the next batch.
    Write(Waiting),
    /// Commit the writes already sent, close the connection, then answer.
    Close(oneshot::Sender<()>),
}

/// The most writes one transaction commits, and how many may wait for it.
const MOST_PER_COMMIT: usize = 256;
const MOST_WAITING: usize = 4096;

/// Starts the group-commit writer of the inbox on a thread of its own, with a connection of its
/// own to the database at `path`: accepts and handled/delivered marks that arrive together are
/// written in one transaction, so they share one `fsync` instead of queueing for the write lock
/// one by one.
///
/// Every acknowledgement waits for this writer, so a commit involves no other thread: the
/// writer thread runs the statements itself (sqlx would hand each statement to its connection's
/// thread and back, and on a busy machine each hand-off waits for a time slice). It runs at the
/// priority of the thread that opened the store, not the engine's lower one.
///
/// # Guarantees
/// A write is answered only after the transaction holding it committed (durably, with
/// `synchronous = FULL`); writes keep their order; if a batch fails, each write is tried again in
/// a transaction of its own and gets its own answer. The writer ends when the store is closed
/// ([`Job::Close`]) or dropped. Requests are recorded as accepted by `owner` (this process).
///
/// # Errors
/// The connection could not be opened or the thread not started.
pub(super) fn group_commit(path: &Path, owner: Arc<str>) -> Result<mpsc::Sender<Job>> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // WAL is a property of the file (set when the pool opened it); durability is per connection.
    conn.pragma_update(None, "synchronous", "FULL")?;
    let (sender, waiting) = mpsc::channel::<Job>(MOST_WAITING);
    std::thread::Builder::new()
        .name("firewatch-inbox".into())
        .spawn(move || write_batches(&conn, &owner, waiting))
        .map_err(|e| Error::Query(sqlx::Error::Io(e)))?;
    Ok(sender)
}

fn write_batches(conn: &rusqlite::Connection, owner: &str, mut waiting: mpsc::Receiver<Job>) {
    let mut batch: Vec<Waiting> = Vec::with_capacity(MOST_PER_COMMIT);
    let mut closed = None;
    while closed.is_none() {
        let Some(mut job) = waiting.blocking_recv() else {
            break;
        };
        // Whatever else waits, up to a full batch.
        loop {
            match job {
                Job::Write(write) => batch.push(write),
                // Everything sent before the close is in this batch: commit it, then stop.
                Job::Close(done) => {
                    closed = Some(done);
                    break;
                }
            }
            if batch.len() == MOST_PER_COMMIT {
                break;
            }
            match waiting.try_recv() {
                Ok(next) => job = next,
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        match commit(conn, batch.iter().map(|(write, _)| write), owner) {
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
                    let _ = reply.send(commit(conn, [&write], owner).map(|answers| answers[0]));
                }
            }
        }
    }
    waiting.close();
    if let Some(done) = closed {
        let _ = done.send(());
    }
}

/// Writes `writes` in one transaction; for each, whether it changed a row (for an accept:
/// whether the request is new, so a key twice in one batch is new only the first time).
fn commit<'w>(
    conn: &rusqlite::Connection,
    writes: impl IntoIterator<Item = &'w Write>,
    owner: &str,
) -> Result<Vec<bool>> {
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    let mut answers = Vec::with_capacity(MOST_PER_COMMIT);
    for write in writes {
        let changed = match write {
            Write::Accept(request) => tx
                .prepare_cached(
                    "INSERT INTO processed_requests (request_key, seen_at, payload, owner) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                )?
                .execute(rusqlite::params![
                    request.key,
                    millis(request.received),
                    request.payload,
                    owner
                ])?,
            Write::Handled(key, at) => tx
                .prepare_cached(
                    "UPDATE processed_requests SET done_at = ?1 \
                     WHERE request_key = ?2 AND done_at IS NULL",
                )?
                .execute(rusqlite::params![millis(*at), key])?,
            Write::Complete(key, at) => tx
                .prepare_cached(
                    "UPDATE processed_requests SET done_at = coalesce(done_at, ?1), \
                     delivered_at = ?1 WHERE request_key = ?2 AND delivered_at IS NULL",
                )?
                .execute(rusqlite::params![millis(*at), key])?,
        };
        answers.push(match write {
            Write::Accept(_) => changed == 1,
            // Nobody asks whether a mark changed anything: marks are idempotent.
            Write::Handled(..) | Write::Complete(..) => true,
        });
    }
    tx.commit()?;
    Ok(answers)
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

/// A `processed_requests` row as [`pending`] and the backlog sweep (`read::Readers::backlog`)
/// read it.
pub(super) fn inbound(row: &impl Columns) -> Result<Inbound> {
    let attempts: i64 = row.get("attempts")?;
    Ok(Inbound {
        key: row.get("request_key")?,
        payload: row.get("payload")?,
        received: time(row.get("seen_at")?)?,
        handled: row.get("handled")?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
    })
}
