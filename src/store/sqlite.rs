//! The SQLite store: one file, WAL journal, `synchronous = FULL` so a committed change survives
//! a crash or power loss. Times are stored as Unix milliseconds.
//!
//! Three ways in, by cost: the inbox's writes go to its group-commit writer thread
//! (`sqlite/inbox.rs`); reads of incidents, timelines and the inbox backlog run on the calling
//! thread through rusqlite (`sqlite/read.rs`); everything else goes through sqlx's pool.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::mpsc;

use rows::{append, incident, millis, stamp_parts, sync_timers};

use super::lock::Lock;
use super::{
    Baseline, Close, Decide, Error, Fired, Inbound, OnDue, RequestEntries, Result, Store, Updated,
};
use crate::approval::{NewRequest, Request, State, Vote, Voted};
use crate::incident::TimelineEvent;
use crate::incident::{Actor, ChannelRef, Draft, Incident, IncidentId, Status, TimelineEntry};

/// The incident columns plus its pending timers; append a `WHERE`/`ORDER BY` clause.
macro_rules! select_incidents {
    ($rest:literal) => {
        concat!(
            "SELECT i.*, ",
            "(SELECT due_at FROM reminders r WHERE r.incident_id = i.id AND r.kind = 'update') AS next_update_due, ",
            "(SELECT due_at FROM reminders r WHERE r.incident_id = i.id AND r.kind = 'ack') AS ack_due ",
            "FROM incidents i ",
            $rest
        )
    };
}

mod approvals;
mod baselines;
mod inbox;
mod read;
mod rows;
mod timers;

/// The query every scheduler tick starts with (for `EXPLAIN QUERY PLAN` checks).
pub use timers::DUE as DUE_TIMERS_QUERY;

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Where incidents, timelines and the inbox backlog are read (without sqlx's thread
    /// hand-offs).
    readers: Arc<read::Readers>,
    /// The inbox's group-commit writer.
    accepts: mpsc::Sender<inbox::Job>,
    /// This process, as the owner of the requests it accepts.
    process: Arc<str>,
    /// The writer lock, when this store is the file's writer ([`crate::store::open`]); released
    /// by [`Store::close`] or when the last handle goes.
    lock: Arc<std::sync::Mutex<Option<Lock>>>,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url`: `sqlite://PATH` or `PATH`.
    ///
    /// # Errors
    /// [`Error::Open`] when the file cannot be opened or created, [`Error::Migrate`] when the
    /// schema cannot be brought up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        let path = database_path(url).map_err(|reason| Error::Location {
            url: url.to_owned(),
            reason,
        })?;
        let open_error = |source| Error::Open {
            url: url.to_owned(),
            source,
        };
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(open_error)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // Named for CPU figures by thread (`examples/ack_load.rs`).
            .thread_name(|n| format!("firewatch-store-{n}"));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let process: Arc<str> = super::new_process_id().into();
        let accepts = inbox::group_commit(path, Arc::clone(&process))?;
        Ok(Self {
            pool,
            readers: Arc::new(read::Readers::new(path)),
            accepts,
            process,
            lock: Arc::default(),
        })
    }

    /// This store, holding the file's writer lock until it is closed or dropped.
    pub fn holding(self, lock: Lock) -> Self {
        Self {
            lock: Arc::new(std::sync::Mutex::new(Some(lock))),
            ..self
        }
    }

    /// The writer lock file, when this store holds it.
    pub fn lock_file(&self) -> Option<std::path::PathBuf> {
        let lock = self.lock.lock().ok()?;
        lock.as_ref().map(|l| l.path().to_owned())
    }

    /// Hands `write` to the inbox's group-commit writer and waits until it is committed.
    async fn inbox(&self, write: inbox::Write) -> Result<bool> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        // Either fails only once the store is closed: nothing is written then.
        let closed = || Error::Query(sqlx::Error::PoolClosed);
        self.accepts
            .send(inbox::Job::Write((write, reply)))
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// The connection pool, for checks that need raw SQL (tests, integrity checks).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// The database file a store URL names: `sqlite://PATH`, `sqlite:PATH` or a plain `PATH`.
///
/// # Errors
/// Why the URL is not a durable SQLite file: another scheme, URL parameters, or an in-memory
/// database (which would lose every incident at exit).
pub fn database_path(url: &str) -> std::result::Result<&Path, String> {
    let url = url.trim();
    let path = match url.split_once("://") {
        Some(("sqlite", path)) => path,
        Some((scheme, _)) => {
            return Err(format!(
                "'{scheme}://' is not supported; use sqlite://PATH, a file path or postgres://…"
            ));
        }
        None => url.strip_prefix("sqlite:").unwrap_or(url),
    };
    if path.is_empty() {
        return Err("no database file is given; use sqlite://PATH or a file path".into());
    }
    if path.contains('?') {
        return Err("URL parameters ('?…') are not supported; give only the file path".into());
    }
    if path.starts_with(":memory:") {
        return Err("an in-memory database loses every incident at exit; give a file path".into());
    }
    Ok(Path::new(path))
}

#[async_trait]
impl Store for SqliteStore {
    fn process(&self) -> &str {
        &self.process
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn open_incident(&self, draft: &Draft, request: Option<&str>) -> Result<Incident> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let opened = &draft.opened;
        inbox::mark_done(&mut tx, request, opened.at).await?;
        let row = sqlx::query(
            "INSERT INTO incidents (summary, service, severity, severity_reason, status, platform, channel_id, \
             opened_by_platform, opened_by_id, opened_by_name, opened_at) \
             VALUES (?, ?, ?, ?, 'investigating', ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&draft.summary)
        .bind(&draft.service)
        .bind(draft.severity.as_str())
        .bind(&draft.severity_reason)
        .bind(draft.channel.platform.as_str())
        .bind(&draft.channel.id)
        .bind(opened.by.platform.as_str())
        .bind(&opened.by.id)
        .bind(&opened.by.name)
        .bind(millis(opened.at))
        .fetch_one(&mut *tx)
        .await?;
        let raw: i64 = row.try_get("id")?;
        let id = IncidentId::new(raw).ok_or_else(|| Error::Corrupt(format!("new id {raw}")))?;
        append(&mut tx, id, &draft.entries, &opened.by, opened.at).await?;
        sync_timers(
            &mut tx,
            id,
            [
                ("update", Some(draft.next_update_due)),
                ("ack", Some(draft.ack_due)),
            ],
        )
        .await?;
        tx.commit().await?;
        // Built from what was written rather than read back: once committed, the incident
        // exists, and a failed read must not make it look as if it did not.
        Ok(Incident {
            id,
            summary: draft.summary.clone(),
            service: draft.service.clone(),
            severity: draft.severity,
            severity_reason: draft.severity_reason.clone(),
            status: Status::Investigating,
            channel: draft.channel.clone(),
            opened: draft.opened.clone(),
            acknowledged: None,
            resolved: None,
            root_cause: None,
            resolution: None,
            closed_at: None,
            next_update_due: Some(draft.next_update_due),
            ack_due: Some(draft.ack_due),
            version: 0,
        })
    }

    async fn incident(&self, id: IncidentId) -> Result<Option<Incident>> {
        self.readers.incident(id)
    }

    async fn incidents_in(&self, channel: &ChannelRef) -> Result<Vec<Incident>> {
        self.readers.incidents_in(channel)
    }

    async fn active_incidents(&self) -> Result<Vec<Incident>> {
        self.readers.active_incidents()
    }

    async fn timeline(&self, id: IncidentId) -> Result<Vec<TimelineEntry>> {
        self.readers.timeline(id)
    }

    async fn update(
        &self,
        id: IncidentId,
        actor: &Actor,
        at: DateTime<Utc>,
        request: Option<&str>,
        decide: Decide<'_>,
    ) -> Result<Updated> {
        // IMMEDIATE takes the write lock first, so the read below is the state the write replaces.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        inbox::mark_done(&mut tx, request, at).await?;
        let before = sqlx::query(select_incidents!("WHERE i.id = ?"))
            .bind(id.get())
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(incident)
            .transpose()?
            .ok_or(Error::NotFound(id))?;
        let outcome = match decide(&before) {
            Ok(outcome) => outcome,
            Err(refusal) => {
                tx.rollback().await?;
                return Ok(Updated::Refused(refusal));
            }
        };
        let next = &outcome.incident;
        let (ack_platform, ack_id, ack_name, ack_at) = stamp_parts(next.acknowledged.as_ref());
        let (res_platform, res_id, res_name, res_at) = stamp_parts(next.resolved.as_ref());
        sqlx::query(
            "UPDATE incidents SET severity = ?, severity_reason = ?, status = ?, \
             acknowledged_by_platform = ?, acknowledged_by_id = ?, acknowledged_by_name = ?, acknowledged_at = ?, \
             resolved_by_platform = ?, resolved_by_id = ?, resolved_by_name = ?, resolved_at = ?, \
             root_cause = ?, resolution = ?, closed_at = ?, platform = ?, channel_id = ?, \
             version = version + 1 WHERE id = ?",
        )
        .bind(next.severity.as_str())
        .bind(&next.severity_reason)
        .bind(next.status.as_str())
        .bind(ack_platform)
        .bind(ack_id)
        .bind(ack_name)
        .bind(ack_at)
        .bind(res_platform)
        .bind(res_id)
        .bind(res_name)
        .bind(res_at)
        .bind(&next.root_cause)
        .bind(&next.resolution)
        .bind(next.closed_at.map(millis))
        .bind(next.channel.platform.as_str())
        .bind(&next.channel.id)
        .bind(id.get())
        .execute(&mut *tx)
        .await?;
        append(&mut tx, id, &outcome.entries, actor, at).await?;
        sync_timers(
            &mut tx,
            id,
            [("update", next.next_update_due), ("ack", next.ack_due)],
        )
        .await?;
        tx.commit().await?;
        let after = Incident {
            id,
            version: before.version + 1,
            ..outcome.incident
        };
        Ok(Updated::Changed {
            before: Box::new(before),
            after: Box::new(after),
        })
    }

    async fn fire_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        on_due: OnDue<'_>,
    ) -> Result<Vec<Fired>> {
        timers::fire_due(&self.pool, now, limit, on_due).await
    }

    async fn accept_request(&self, request: &Inbound) -> Result<bool> {
        self.inbox(inbox::Write::Accept(request.clone())).await
    }

    async fn handled_request(&self, key: &str, at: DateTime<Utc>) -> Result<()> {
        self.inbox(inbox::Write::Handled(key.to_owned(), at))
            .await
            .map(drop)
    }

    async fn complete_request(&self, key: &str, at: DateTime<Utc>) -> Result<()> {
        self.inbox(inbox::Write::Complete(key.to_owned(), at))
            .await
            .map(drop)
    }

    async fn pending_requests(&self, prefix: &str) -> Result<Vec<Inbound>> {
        inbox::pending(&self.pool, prefix, &self.process).await
    }

    async fn backlog_requests(&self, prefix: &str, limit: usize) -> Result<Vec<Inbound>> {
        self.readers.backlog(prefix, limit, &self.process)
    }

    async fn prune_requests(&self, before: DateTime<Utc>) -> Result<u64> {
        inbox::prune(&self.pool, before).await
    }

    async fn append(
        &self,
        id: IncidentId,
        actor: &Actor,
        at: DateTime<Utc>,
        request: Option<&str>,
        entries: &[TimelineEvent],
    ) -> Result<()> {
        approvals::append_entries(&self.pool, id, actor, at, request, entries).await
    }

    async fn request_approval(
        &self,
        new: &NewRequest,
        entries: RequestEntries<'_>,
        request: Option<&str>,
    ) -> Result<Request> {
        approvals::create(&self.pool, new, entries, request).await
    }

    async fn approval(&self, id: i64) -> Result<Option<Request>> {
        approvals::one(&self.pool, id).await
    }

    async fn approvals_of(&self, incident: IncidentId, state: State) -> Result<Vec<Request>> {
        approvals::of_incident(&self.pool, incident, state).await
    }

    async fn approvals_in(
        &self,
        state: State,
        expired_by: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<Request>> {
        approvals::in_state(&self.pool, state, expired_by, limit).await
    }

    async fn vote(
        &self,
        id: i64,
        voter: &Actor,
        vote: Vote,
        reason: Option<&str>,
        at: DateTime<Utc>,
        request: Option<&str>,
    ) -> Result<Voted> {
        approvals::vote(&self.pool, id, voter, vote, reason, at, request).await
    }

    async fn claim_approval(
        &self,
        id: i64,
        runner: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Request>> {
        approvals::claim(&self.pool, id, runner, at).await
    }

    async fn close_approval(
        &self,
        id: i64,
        close: Close<'_>,
        entries: &[TimelineEvent],
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Option<Request>> {
        approvals::close(&self.pool, id, close, entries, actor, at).await
    }

    async fn baseline(&self, service: &str, job: &str) -> Result<Option<Baseline>> {
        baselines::one(&self.pool, service, job).await
    }

    async fn store_baseline(
        &self,
        baseline: &Baseline,
        entries: &[TimelineEvent],
        actor: &Actor,
        request: Option<&str>,
    ) -> Result<()> {
        baselines::store(&self.pool, baseline, entries, actor, request).await
    }

    async fn card(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT message FROM cards WHERE card_key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn keep_card(&self, key: &str, message: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO cards (card_key, message) VALUES (?, ?) \
             ON CONFLICT (card_key) DO UPDATE SET message = excluded.message",
        )
        .bind(key)
        .bind(message)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn close(&self) {
        // The writes already sent are committed first, then the writer's connection closes.
        let (done, closed) = tokio::sync::oneshot::channel();
        if self.accepts.send(inbox::Job::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
        self.readers.close();
        self.pool.close().await;
        // Closed for good: another process may be the writer now.
        if let Ok(mut lock) = self.lock.lock() {
            lock.take();
        }
    }
}
