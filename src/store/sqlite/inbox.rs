//! The request inbox: chat requests stored before they are acknowledged, marked done with
//! their effect.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// Commits of the writer between two nudges of the checkpointer (each commit adds a few pages
/// to the WAL, a batch of hundreds a few dozen).
const COMMITS_PER_CHECKPOINT: u64 = 32;

/// WAL pages from which the writer finishes a copy the checkpointer could not (2 MiB of 4 KiB
/// pages): below, the checkpointer's next copy may well finish it.
const RESTART_PAGES: i64 = 512;

/// WAL pages past which the writer's own connection checkpoints after a commit, as SQLite does
/// by default at 1 000: a backstop, should the checkpointer thread be gone.
const WRITER_CHECKPOINT_PAGES: u32 = 4096;

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
/// Copying the WAL back into the database (a checkpoint, which SQLite runs after the commit
/// that takes the WAL past 1 000 pages, and again after every later commit while it cannot
/// finish) is left to a thread of its own, nudged every [`COMMITS_PER_CHECKPOINT`] commits:
/// inline, it sorts the WAL's pages, copies them and syncs the database file while every
/// acknowledgement waits. See [`Checkpoints`] for how the WAL still starts over.
///
/// # Guarantees
/// A write is answered only after the transaction holding it committed (durably, with
/// `synchronous = FULL`); writes keep their order; if a batch fails, each write is tried again in
/// a transaction of its own and gets its own answer. The writer ends when the store is closed
/// ([`Job::Close`]) or dropped. Requests are recorded as accepted by `owner` (this process).
///
/// # Errors
/// The connection could not be opened, its statements not prepared or the thread not started.
pub(super) fn group_commit(path: &Path, owner: Arc<str>) -> Result<mpsc::Sender<Job>> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // WAL is a property of the file (set when the pool opened it); durability is per connection.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
    let checkpoints = Checkpoints::start(path)?;
    let (sender, waiting) = mpsc::channel::<Job>(MOST_WAITING);
    let (ready, prepared) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("firewatch-inbox".into())
        .spawn(move || match Statements::prepare(&conn) {
            Ok(statements) => {
                let _ = ready.send(Ok(()));
                write_batches(statements, &owner, waiting, checkpoints);
            }
            Err(e) => {
                let _ = ready.send(Err(e));
            }
        })
        .map_err(|e| Error::Query(sqlx::Error::Io(e)))?;
    prepared.recv().map_err(|_| {
        Error::Query(sqlx::Error::Io(std::io::Error::other(
            "the inbox writer stopped while it started",
        )))
    })??;
    Ok(sender)
}

/// The writer's side of the checkpointer thread.
///
/// A passive checkpoint copies what no reader still needs and waits for nobody, so the writer
/// goes on committing meanwhile. The WAL starts over from its beginning (instead of growing)
/// only when a write transaction begins after a checkpoint copied all of it, which under a
/// steady load of commits a checkpoint beside them seldom does: once the WAL holds
/// [`RESTART_PAGES`], the checkpointer then tells the writer, which finishes the copy after its
/// next commit (the few pages committed since) so its next transaction starts the WAL over.
struct Checkpoints {
    nudge: std::sync::mpsc::SyncSender<()>,
    /// Set when the checkpointer's last copy did not reach the end of the WAL.
    unfinished: Arc<AtomicBool>,
    /// The writer's commits, so the checkpointer knows whether one came during its copy.
    committed: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Checkpoints {
    /// Starts the checkpointer thread, with a connection of its own to the database at `path`;
    /// it ends when the writer does.
    fn start(path: &Path) -> Result<Self> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // The database file is synced after a checkpoint as after a commit.
        conn.pragma_update(None, "synchronous", "FULL")?;
        let (nudge, nudged) = std::sync::mpsc::sync_channel::<()>(1);
        let unfinished = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicU64::new(0));
        let (told, commits) = (Arc::clone(&unfinished), Arc::clone(&committed));
        let thread = std::thread::Builder::new()
            .name("firewatch-wal".into())
            .spawn(move || {
                while nudged.recv().is_ok() {
                    let before = commits.load(Ordering::Relaxed);
                    match checkpoint(&conn) {
                        // A commit during the copy added pages it did not see.
                        Ok(done) => told.store(
                            done.wal_pages >= RESTART_PAGES
                                && (!done.copied_all || commits.load(Ordering::Relaxed) != before),
                            Ordering::Relaxed,
                        ),
                        Err(e) => {
                            tracing::warn!(error = %e, "could not checkpoint the store's WAL")
                        }
                    }
                }
            })
            .map_err(|e| Error::Query(sqlx::Error::Io(e)))?;
        Ok(Self {
            nudge,
            unfinished,
            committed,
            thread,
        })
    }

    /// Ends the checkpointer thread (after the copy it may be making) and closes its connection.
    fn stop(self) {
        drop(self.nudge);
        let _ = self.thread.join();
    }

    /// Right after each commit of the writer (before its answers go out, so a copy running
    /// meanwhile sees it): nudges the checkpointer every [`COMMITS_PER_CHECKPOINT`] commits.
    fn committed(&self) {
        let commits = self.committed.fetch_add(1, Ordering::Relaxed) + 1;
        if commits.is_multiple_of(COMMITS_PER_CHECKPOINT) {
            // Full: a nudge is already waiting for the checkpointer.
            let _ = self.nudge.try_send(());
        }
    }

    /// After a commit's answers went out: finishes a copy the checkpointer could not, or tries
    /// again after the next commit (a reader still needed part of the WAL).
    fn finish(&self, conn: &rusqlite::Connection) {
        if !self.unfinished.swap(false, Ordering::Relaxed) {
            return;
        }
        match checkpoint(conn) {
            Ok(done) => self.unfinished.store(!done.copied_all, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "could not checkpoint the store's WAL"),
        }
    }
}

/// What a checkpoint found and did.
struct Checkpointed {
    /// The pages in the WAL when it began.
    wal_pages: i64,
    /// Whether it copied all of them.
    copied_all: bool,
}

/// A passive checkpoint on `conn`.
fn checkpoint(conn: &rusqlite::Connection) -> rusqlite::Result<Checkpointed> {
    // One row: whether another checkpoint held it off, the WAL's pages, the pages copied.
    let (blocked, log, copied): (i64, i64, i64) = conn
        .prepare_cached("PRAGMA wal_checkpoint(PASSIVE)")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    Ok(Checkpointed {
        wal_pages: log,
        copied_all: blocked == 0 && copied >= log,
    })
}

fn write_batches(
    mut statements: Statements<'_>,
    owner: &str,
    mut waiting: mpsc::Receiver<Job>,
    checkpoints: Checkpoints,
) {
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
        match statements.commit(batch.iter().map(|(write, _)| write), owner) {
            Ok(answers) => {
                checkpoints.committed();
                for ((_, reply), answer) in batch.drain(..).zip(answers) {
                    let _ = reply.send(Ok(answer));
                }
                checkpoints.finish(statements.conn);
            }
            Err(e) => {
                tracing::warn!(
                    error = %crate::error_chain(&e),
                    writes = batch.len(),
                    "an inbox batch failed; writing its writes one by one"
                );
                for (write, reply) in batch.drain(..) {
                    let answer = statements.commit([&write], owner);
                    let _ = reply.send(answer.map(|answers| answers[0]));
                }
            }
        }
    }
    waiting.close();
    checkpoints.stop();
    if let Some(done) = closed {
        let _ = done.send(());
    }
}

/// The writer's statements, prepared once for the life of its connection. Every write runs
/// one, and every batch `BEGIN IMMEDIATE` and `COMMIT`: through rusqlite's statement cache each
/// write would hash its SQL text and move the statement out of the cache and back, and a
/// `Transaction` parses `BEGIN` and `COMMIT` again for every batch.
struct Statements<'c> {
    conn: &'c rusqlite::Connection,
    begin: rusqlite::Statement<'c>,
    commit: rusqlite::Statement<'c>,
    rollback: rusqlite::Statement<'c>,
    accept: rusqlite::Statement<'c>,
    handled: rusqlite::Statement<'c>,
    complete: rusqlite::Statement<'c>,
}

impl<'c> Statements<'c> {
    fn prepare(conn: &'c rusqlite::Connection) -> rusqlite::Result<Self> {
        Ok(Self {
            conn,
            begin: conn.prepare("BEGIN IMMEDIATE")?,
            commit: conn.prepare("COMMIT")?,
            rollback: conn.prepare("ROLLBACK")?,
            accept: conn.prepare(
                "INSERT INTO processed_requests (request_key, seen_at, payload, owner) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            )?,
            handled: conn.prepare(
                "UPDATE processed_requests SET done_at = ?1 \
                 WHERE request_key = ?2 AND done_at IS NULL",
            )?,
            complete: conn.prepare(
                "UPDATE processed_requests SET done_at = coalesce(done_at, ?1), \
                 delivered_at = ?1 WHERE request_key = ?2 AND delivered_at IS NULL",
            )?,
        })
    }

    /// Writes `writes` in one transaction; for each, whether it changed a row (for an accept:
    /// whether the request is new, so a key twice in one batch is new only the first time).
    /// On an error nothing of the batch is kept.
    fn commit<'w>(
        &mut self,
        writes: impl IntoIterator<Item = &'w Write>,
        owner: &str,
    ) -> Result<Vec<bool>> {
        self.begin.execute([])?;
        let written = self.write(writes, owner).and_then(|answers| {
            self.commit.execute([])?;
            Ok(answers)
        });
        // A failed statement or COMMIT may leave the transaction open (SQLite ends it itself
        // on some errors, such as a full disk).
        if written.is_err()
            && !self.conn.is_autocommit()
            && let Err(e) = self.rollback.execute([])
        {
            tracing::warn!(error = %e, "could not roll back a failed inbox batch");
        }
        written
    }

    fn write<'w>(
        &mut self,
        writes: impl IntoIterator<Item = &'w Write>,
        owner: &str,
    ) -> Result<Vec<bool>> {
        let mut answers = Vec::with_capacity(MOST_PER_COMMIT);
        for write in writes {
            answers.push(match write {
                Write::Accept(request) => {
                    let params = rusqlite::params![
                        request.key,
                        millis(request.received),
                        request.payload,
                        owner
                    ];
                    self.accept.execute(params)? == 1
                }
                // Nobody asks whether a mark changed anything: marks are idempotent.
                Write::Handled(key, at) => {
                    self.handled.execute(rusqlite::params![millis(*at), key])?;
                    true
                }
                Write::Complete(key, at) => {
                    self.complete.execute(rusqlite::params![millis(*at), key])?;
                    true
                }
            });
        }
        Ok(answers)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The inbox table as the migrations leave it, except that it refuses the payload `refused`.
    fn inbox_refusing(refused: &str) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE processed_requests (request_key TEXT PRIMARY KEY, \
             seen_at INTEGER NOT NULL, payload TEXT CHECK (payload <> '{refused}'), \
             done_at INTEGER, delivered_at INTEGER, attempts INTEGER NOT NULL DEFAULT 0, \
             owner TEXT)"
        ))
        .unwrap();
        conn
    }

    fn accept(key: &str, payload: &str) -> Write {
        Write::Accept(Inbound {
            key: key.into(),
            payload: payload.into(),
            received: DateTime::UNIX_EPOCH,
            handled: false,
            attempts: 0,
        })
    }

    #[test]
    fn a_failed_batch_keeps_none_of_its_writes_and_the_next_one_commits() {
        let conn = inbox_refusing("refused");
        let mut statements = Statements::prepare(&conn).unwrap();
        let rows = || -> (i64, i64) {
            conn.query_row(
                "SELECT count(*), count(done_at) FROM processed_requests",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap()
        };
        let batch = [
            accept("a", "{}"),
            Write::Handled("a".into(), DateTime::UNIX_EPOCH),
            accept("b", "refused"),
        ];
        assert!(statements.commit(&batch, "me").is_err());
        assert!(
            conn.is_autocommit(),
            "the failed batch's transaction is still open"
        );
        assert_eq!(rows(), (0, 0));
        assert_eq!(statements.commit(&batch[..2], "me").unwrap(), [true, true]);
        assert_eq!(rows(), (1, 1));
        // A key already stored is not new; the statements stay usable batch after batch.
        assert_eq!(
            statements.commit([&accept("a", "{}")], "me").unwrap(),
            [false]
        );
        assert_eq!(rows(), (1, 1));
    }
}
