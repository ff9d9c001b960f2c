//! The SQLite store's reads of incidents, timelines and the inbox backlog, run on the calling
//! thread through rusqlite.
//!
//! sqlx runs each SQLite statement on its connection's own thread and hands it, and then every
//! row, across threads through channels: an `/incident-status` spent more CPU on those hand-offs
//! (channel wake-ups, futex calls, time-slice waits on a busy machine) than in SQLite itself
//! (BENCHMARKS.md, stop 15). These reads take tens of microseconds and in WAL mode a reader never
//! waits for the writer, so they run where they are asked for, like any other short computation,
//! each on a connection of its own from a small pool of idle ones.
//!
//! # Guarantees
//! Each read is one statement in its own read transaction: it sees every transaction committed
//! before it started, whichever connection committed it (statements are reset once read, so no
//! connection holds a snapshot between reads). The connections only read (`query_only`). Once
//! [`Readers::close`] ran, reads fail as the closed sqlx pool's do, and a read still running
//! closes its connection when it ends.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::inbox;
use super::rows::{entry, incident};
use crate::incident::{ChannelRef, Incident, IncidentId, TimelineEntry};
use crate::store::{Error, Inbound, Result};

/// How many idle connections are kept (reads run on the engine's threads, two on this machine,
/// and now and then on another).
const MOST_IDLE: usize = 4;

/// Reading connections to one database file.
pub(super) struct Readers {
    path: PathBuf,
    /// The idle connections; `None` once closed.
    idle: Mutex<Option<Vec<rusqlite::Connection>>>,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Readers {
    /// Readers of the (already created and migrated) database at `path`; connections open on
    /// first use.
    pub(super) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::new(Some(Vec::new())),
        }
    }

    /// Closes the idle connections; later reads fail.
    pub(super) fn close(&self) {
        self.lock().take();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Vec<rusqlite::Connection>>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open(&self) -> Result<rusqlite::Connection> {
        // Read-write flags, made read-only by `query_only`: a read-only connection cannot create
        // the WAL's shared-memory file or recover it after a crash.
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // A reader waits only while another connection recovers the journal after a crash.
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(conn)
    }

    /// Runs `read` on an idle connection (opening one when none is idle).
    fn with<T>(&self, read: impl FnOnce(&rusqlite::Connection) -> Result<T>) -> Result<T> {
        let idle = self
            .lock()
            .as_mut()
            .ok_or(Error::Query(sqlx::Error::PoolClosed))?
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = read(&conn);
        if let Some(idle) = self.lock().as_mut()
            && idle.len() < MOST_IDLE
        {
            idle.push(conn);
        }
        result
    }

    pub(super) fn incident(&self, id: IncidentId) -> Result<Option<Incident>> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(select_incidents!("WHERE i.id = ?1"))?;
            let mut rows = statement.query([id.get()])?;
            rows.next()?.map(incident).transpose()
        })
    }

    pub(super) fn incidents_in(&self, channel: &ChannelRef) -> Result<Vec<Incident>> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(select_incidents!(
                "WHERE i.platform = ?1 AND i.channel_id = ?2 AND i.status <> 'closed' ORDER BY i.id DESC"
            ))?;
            statement
                .query_and_then((channel.platform.as_str(), &channel.id), |row| incident(row))?
                .collect()
        })
    }

    pub(super) fn active_incidents(&self) -> Result<Vec<Incident>> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(select_incidents!(
                "WHERE i.status IN ('investigating', 'mitigating', 'monitoring') ORDER BY i.severity, i.id DESC"
            ))?;
            statement.query_and_then([], |row| incident(row))?.collect()
        })
    }

    pub(super) fn timeline(&self, id: IncidentId) -> Result<Vec<TimelineEntry>> {
        self.with(|conn| {
            let mut statement =
                conn.prepare_cached("SELECT * FROM timeline WHERE incident_id = ?1 ORDER BY seq")?;
            statement
                .query_and_then([id.get()], |row| entry(row))?
                .collect()
        })
    }

    /// The backlog sweep's read: requests with the key prefix `prefix` that `me` (this process)
    /// accepted and has not started, oldest first, at most `limit`.
    pub(super) fn backlog(&self, prefix: &str, limit: usize, me: &str) -> Result<Vec<Inbound>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT request_key, seen_at, payload, 0 AS handled, attempts \
                 FROM processed_requests \
                 WHERE done_at IS NULL AND delivered_at IS NULL AND payload IS NOT NULL \
                 AND attempts = 0 AND owner = ?1 AND substr(request_key, 1, length(?2)) = ?2 \
                 ORDER BY seen_at, request_key LIMIT ?3",
            )?;
            statement
                .query_and_then((me, prefix, limit), |row| inbox::inbound(row))?
                .collect()
        })
    }
}
