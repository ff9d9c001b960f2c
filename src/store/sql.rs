//! The store on a SQL database, written once for SQLite and Postgres through sqlx's `Any`
//! driver: every stored value is an integer, a float or text, which both databases and `Any`
//! read alike. What the two do differently is in [`dialect`]; this process's lease in [`lease`].
//!
//! Connections: on SQLite, one connection writes (writers wait their turn in the pool's fair
//! queue, not in SQLite's busy handler, which sleeps up to 100 ms between tries) and a few read
//! beside it (WAL lets them read while it writes). On Postgres one pool reads and writes, with
//! two connections of its own for what must answer while engine transactions hold that pool
//! (a burst of changes queueing on one incident's row lock): the inbox's writes (committed
//! together by [`marks`]), the readiness ping and the heartbeat.
//!
//! # Guarantees
//! - No connection goes back into use inside a transaction. When a COMMIT fails (a full disk,
//!   an I/O error) SQLite may roll the transaction back itself; sqlx then still counts the
//!   connection as inside it (its ROLLBACK on drop fails, so the depth it keeps is never
//!   lowered) and every later `BEGIN` on it would fail with "attempted to call begin_with at
//!   non-zero transaction depth". A connection returned to its pool is checked once its queued
//!   rollback has run, and closed if it is still inside a transaction ([`settled`]): every write
//!   path (incidents, approvals, timers, the inbox, the heartbeat) gets a fresh one.
//! - Whether writes succeed, and whether a SQLite file is still the one opened, is known
//!   ([`health`]) and reported by [`Store::ping`].

mod alerts;
mod approvals;
mod baselines;
mod dialect;
mod health;
mod inbox;
mod incidents;
mod lease;
mod marks;
mod outbox;
mod pages;
mod timers;
mod web;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};

use self::dialect::Dialect;
use self::health::{Health, Heartbeat};
use self::lease::Lease;
use self::marks::{Mark, Marks};
use super::lock::Lock;
use super::url::sqlite_url;
use super::{
    AlertDecide, AlertsTaken, Announcement, Baseline, ClaimedPost, Close, Decide, Error, Fired,
    Inbound, OnDue, Post, RequestEntries, Result, Store, Undelivered, Updated,
};
use crate::alerts::{AlertState, Member};
use crate::approval::{Ballot, NewRequest, Request, State, Voted};
use crate::config::{is_postgres, sqlite_path};
use crate::incident::{
    Actor, ChannelRef, Draft, Incident, IncidentId, TimelineEntry, TimelineEvent,
};

/// The query every scheduler tick starts with (for `EXPLAIN QUERY PLAN` checks).
pub use timers::DUE as DUE_TIMERS_QUERY;

/// How long taking a connection from a pool may wait: a store that is down is noticed (and
/// reported) within seconds instead of hanging requests.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A store in a SQLite file or a Postgres database (or one schema of it, chosen with the URL's
/// `options=-c search_path=…`).
#[derive(Debug, Clone)]
pub struct SqlStore {
    dialect: Dialect,
    /// Reads outside write transactions.
    reads: AnyPool,
    /// Write transactions (on Postgres, the same pool as `reads`).
    writes: AnyPool,
    /// Postgres: the connections for accepts, pings and the heartbeat.
    urgent: Option<AnyPool>,
    /// This process: the owner of the requests it accepts, the runner of its approvals.
    process: Arc<str>,
    lease: Arc<Lease>,
    /// The inbox's own writes, committed together.
    marks: Arc<Marks>,
    /// Whether writes succeed and the SQLite file is still the one opened.
    health: Arc<Health>,
    heartbeat: Arc<Heartbeat>,
}

impl SqlStore {
    /// Opens (creating a SQLite file if missing) and migrates the database at `url`, and
    /// starts this process's lease. Holds no SQLite lock: see [`SqlStore::holding`].
    ///
    /// # Errors
    /// [`Error::Location`] for a URL neither database takes, [`Error::Open`] when the database
    /// cannot be opened or reached, [`Error::Migrate`] when the schema cannot be brought up to
    /// date. Messages never show the URL's password.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let location = |reason| Error::Location {
            url: url.to_owned(),
            reason,
        };
        let (dialect, address, file) = if is_postgres(url) {
            super::check_url(url).map_err(location)?;
            (Dialect::Postgres, url.trim().to_owned(), None)
        } else {
            let path = sqlite_path(url).map_err(location)?;
            (
                Dialect::Sqlite,
                sqlite_url(path).map_err(location)?,
                Some(path),
            )
        };
        let opened = |source| Error::Open {
            url: url.to_owned(),
            source,
        };
        let options = AnyConnectOptions::from_str(&address).map_err(opened)?;
        let pool = |connections| {
            AnyPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                // A Postgres connection may have been cut while idle; a SQLite one is a file
                // that nothing can hang up on, so it goes to work without a ping first.
                .test_before_acquire(dialect == Dialect::Postgres)
                .after_release(|conn, _| Box::pin(settled(conn)))
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if let Some(sql) = dialect.first_statements() {
                            conn.execute(sql).await?;
                        }
                        Ok(())
                    })
                })
                .connect_with(options.clone())
        };
        let writes = match pool(if dialect == Dialect::Sqlite { 1 } else { 8 }).await {
            Ok(pool) => pool,
            Err(e) => return Err(opened(why_not(e, &options).await)),
        };
        dialect.migrator().run(&writes).await?;
        let (reads, urgent) = match dialect {
            Dialect::Sqlite => (pool(4).await.map_err(opened)?, None),
            Dialect::Postgres => (writes.clone(), Some(pool(2).await.map_err(opened)?)),
        };
        let process: Arc<str> = super::new_process_id().into();
        let accepts = urgent.as_ref().unwrap_or(&writes);
        let lease = Lease::start(dialect, accepts, &process).await?;
        let health = Arc::new(Health::new(file));
        let marks = Marks::start(
            accepts.clone(),
            dialect,
            Arc::clone(&process),
            Arc::clone(&health),
        );
        let heartbeat = Heartbeat::start(
            accepts.clone(),
            dialect,
            Arc::clone(&process),
            Arc::clone(&health),
        );
        Ok(Self {
            dialect,
            reads,
            writes,
            urgent,
            process,
            lease: Arc::new(lease),
            marks: Arc::new(marks),
            health,
            heartbeat: Arc::new(heartbeat),
        })
    }

    /// This SQLite store, holding the file's writer lock until it is closed or dropped.
    pub fn holding(self, lock: Lock) -> Self {
        Self {
            lease: Arc::new(Lease::holding(lock)),
            ..self
        }
    }

    /// The pool that writes, for checks that need raw SQL (tests, integrity checks).
    pub fn pool(&self) -> &AnyPool {
        &self.writes
    }

    /// Begins a write transaction; with `request` (the chat request that asked for the change),
    /// marks it done at `at` in it first, so the request's effect and its mark commit together.
    ///
    /// # Errors
    /// [`Error::Replayed`] when `request` was done before: nothing is written.
    async fn write(
        &self,
        request: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Transaction<'static, Any>> {
        let mut tx = self.writes.begin_with(self.dialect.begin()).await?;
        inbox::mark_done(&mut tx, request, at).await?;
        Ok(tx)
    }

    /// Where what must answer while the engine's transactions hold `writes` goes: accepts on
    /// SQLite are writes like any other.
    fn accepts(&self) -> &AnyPool {
        self.urgent.as_ref().unwrap_or(&self.writes)
    }
}

#[async_trait]
impl Store for SqlStore {
    fn process(&self) -> &str {
        &self.process
    }

    async fn ping(&self) -> Result<()> {
        let pool = self.urgent.as_ref().unwrap_or(&self.reads);
        sqlx::query("SELECT 1").execute(pool).await?;
        // While writes fail, a readiness check sees a recovery before the next heartbeat.
        if self.health.wants_probe() {
            let _ = health::beat(self.accepts(), self.dialect, &self.process, &self.health).await;
        }
        match self.health.problem() {
            Some(problem) => Err(Error::Unfit(problem)),
            None => Ok(()),
        }
    }

    async fn open_incident(&self, draft: &Draft, request: Option<&str>) -> Result<Incident> {
        let mut tx = self.write(request, draft.opened.at).await?;
        let incident = incidents::open(&mut tx, draft).await?;
        tx.commit().await?;
        Ok(incident)
    }

    async fn incident(&self, id: IncidentId) -> Result<Option<Incident>> {
        incidents::one(&self.reads, id).await
    }

    async fn incidents_in(&self, channel: &ChannelRef) -> Result<Vec<Incident>> {
        incidents::in_channel(&self.reads, channel).await
    }

    async fn active_incidents(&self) -> Result<Vec<Incident>> {
        incidents::active(&self.reads).await
    }

    async fn timeline(&self, id: IncidentId) -> Result<Vec<TimelineEntry>> {
        incidents::timeline(&self.reads, id).await
    }

    async fn opened_earlier_that_day(&self, incident: &Incident) -> Result<u32> {
        incidents::earlier_that_day(&self.reads, incident).await
    }

    async fn update(
        &self,
        id: IncidentId,
        actor: &Actor,
        at: DateTime<Utc>,
        request: Option<&str>,
        decide: Decide<'_>,
    ) -> Result<Updated> {
        let mut tx = self.write(request, at).await?;
        let updated = incidents::update(&mut tx, self.dialect, id, actor, at, decide).await?;
        match updated {
            // A refusal writes nothing, not even the request's mark.
            Updated::Refused(_) => tx.rollback().await?,
            Updated::Changed { .. } => tx.commit().await?,
        }
        Ok(updated)
    }

    async fn fire_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        on_due: OnDue<'_>,
    ) -> Result<Vec<Fired>> {
        timers::fire_due(self, now, limit, on_due).await
    }

    async fn accept_request(&self, request: &Inbound) -> Result<bool> {
        self.marks.write(Mark::Accept(request.clone())).await
    }

    async fn handled_request(&self, key: &str, at: DateTime<Utc>) -> Result<()> {
        self.marks
            .write(Mark::Handled(key.to_owned(), at))
            .await
            .map(drop)
    }

    async fn complete_request(&self, key: &str, at: DateTime<Utc>) -> Result<()> {
        self.marks
            .write(Mark::Complete(key.to_owned(), at))
            .await
            .map(drop)
    }

    async fn pending_requests(&self, prefix: &str) -> Result<Vec<Inbound>> {
        inbox::take_over(self, prefix).await
    }

    async fn backlog_requests(&self, prefix: &str, limit: usize) -> Result<Vec<Inbound>> {
        inbox::backlog(&self.reads, prefix, limit, &self.process).await
    }

    async fn prune_requests(&self, before: DateTime<Utc>) -> Result<u64> {
        inbox::prune(&self.writes, before).await
    }

    async fn append(
        &self,
        id: IncidentId,
        actor: &Actor,
        at: DateTime<Utc>,
        request: Option<&str>,
        entries: &[TimelineEvent],
    ) -> Result<()> {
        let mut tx = self.write(request, at).await?;
        incidents::append(&mut tx, id, entries, actor, at).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn request_approval(
        &self,
        new: &NewRequest,
        entries: RequestEntries<'_>,
        request: Option<&str>,
    ) -> Result<Request> {
        let mut tx = self.write(request, new.requested_at).await?;
        let created = approvals::create(&mut tx, new, entries).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn approval(&self, id: i64) -> Result<Option<Request>> {
        approvals::one(self, id).await
    }

    async fn approvals_of(&self, incident: IncidentId, state: State) -> Result<Vec<Request>> {
        approvals::of_incident(self, incident, state).await
    }

    async fn approvals_in(
        &self,
        state: State,
        expired_by: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<Request>> {
        approvals::in_state(self, state, expired_by, limit).await
    }

    async fn vote(
        &self,
        id: i64,
        ballot: &Ballot<'_>,
        at: DateTime<Utc>,
        request: Option<&str>,
    ) -> Result<Voted> {
        let mut tx = self.write(request, at).await?;
        let voted = approvals::vote(&mut tx, self.dialect, id, ballot, at).await?;
        tx.commit().await?;
        Ok(voted)
    }

    async fn claim_approval(
        &self,
        id: i64,
        runner: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Request>> {
        approvals::claim(self, id, runner, at).await
    }

    async fn close_approval(
        &self,
        id: i64,
        close: Close<'_>,
        entries: &[TimelineEvent],
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Option<Request>> {
        let mut tx = self.write(None, at).await?;
        let Some(closed) = approvals::close(&mut tx, self.dialect, id, close, at).await? else {
            return Ok(None);
        };
        incidents::append(&mut tx, closed.new.incident, entries, actor, at).await?;
        tx.commit().await?;
        Ok(Some(closed))
    }

    async fn baseline(&self, service: &str, job: &str) -> Result<Option<Baseline>> {
        baselines::one(&self.reads, service, job).await
    }

    async fn store_baseline(
        &self,
        baseline: &Baseline,
        entries: &[TimelineEvent],
        actor: &Actor,
        request: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.write(request, baseline.at).await?;
        baselines::store(&mut tx, self.dialect, baseline, entries, actor).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn card(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT message FROM cards WHERE card_key = $1")
                .bind(key)
                .fetch_optional(&self.reads)
                .await?,
        )
    }

    async fn keep_card(&self, key: &str, message: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO cards (card_key, message) VALUES ($1, $2) \
             ON CONFLICT (card_key) DO UPDATE SET message = excluded.message",
        )
        .bind(key)
        .bind(message)
        .execute(&self.writes)
        .await?;
        Ok(())
    }

    async fn store_posts(&self, posts: &[Post]) -> Result<()> {
        outbox::store(self, posts).await
    }

    async fn posts_due(&self, now: DateTime<Utc>) -> Result<bool> {
        outbox::due(self, now).await
    }

    async fn claim_posts(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<ClaimedPost>> {
        outbox::claim(self, now, limit).await
    }

    async fn retry_post(&self, id: i64, next: DateTime<Utc>, error: &str) -> Result<()> {
        outbox::retry(self, id, next, error).await
    }

    async fn remove_post(&self, id: i64, undelivered: Option<Undelivered<'_>>) -> Result<()> {
        outbox::remove(self, id, undelivered).await
    }

    async fn record_page(&self, page: &crate::incident::page::Page) -> Result<()> {
        pages::record(self, page).await
    }

    async fn ask_page(
        &self,
        id: IncidentId,
        pager: crate::incident::page::Pager,
        key: &str,
        asked: crate::incident::page::Action,
    ) -> Result<()> {
        pages::ask(self, id, pager, key, asked).await
    }

    async fn pages_of(&self, id: IncidentId) -> Result<Vec<crate::incident::page::Page>> {
        pages::of(self, id).await
    }

    async fn owed_pages(
        &self,
        settled: DateTime<Utc>,
        pagers: &[crate::incident::page::Pager],
        limit: u32,
    ) -> Result<Vec<crate::incident::page::Page>> {
        pages::owed(self, settled, pagers, limit).await
    }

    async fn alert_state(&self, group: &str, at: DateTime<Utc>) -> Result<AlertState> {
        let mut conn = self.reads.acquire().await?;
        alerts::state(&mut conn, self.dialect, group, at, false).await
    }

    async fn take_alerts(
        &self,
        group: &str,
        actor: &Actor,
        at: DateTime<Utc>,
        every: chrono::TimeDelta,
        request: Option<&str>,
        decide: AlertDecide<'_>,
    ) -> Result<AlertsTaken> {
        alerts::take(self, group, actor, at, every, request, decide).await
    }

    async fn alerts_of(&self, id: IncidentId) -> Result<Vec<Member>> {
        alerts::of_incident(self, id).await
    }

    async fn due_announcements(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Announcement>> {
        alerts::due(self, now, limit).await
    }

    async fn close(&self) {
        self.marks.close().await;
        self.heartbeat.stop();
        self.lease.end(self.accepts(), &self.process).await;
        self.writes.close().await;
        self.reads.close().await;
        if let Some(urgent) = &self.urgent {
            urgent.close().await;
        }
    }

    fn web(&self) -> Option<&dyn super::web::WebReads> {
        Some(self)
    }
}

/// Whether a connection coming back to its pool may be used again. A transaction dropped
/// without its COMMIT or ROLLBACK having succeeded queues a ROLLBACK on its connection; once that
/// has run (the ping runs after it), a connection sqlx still counts as inside a transaction is
/// one whose ROLLBACK failed too, typically because the database had already ended the
/// transaction itself (SQLite after a failed COMMIT): it is closed, and the pool opens a new one.
/// A connection outside any transaction (nearly all of them) goes back without a round trip.
async fn settled(conn: &mut AnyConnection) -> sqlx::Result<bool> {
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!(
            "a store connection is still inside a transaction whose commit or rollback failed; \
             closing it"
        );
        return Ok(false);
    }
    Ok(true)
}

/// Why a pool could not be opened: the pool only says it timed out while it retried, so one
/// direct connection, bounded by the same timeout, tells the cause (connection refused, the name
/// not resolved, authentication failed). `error` itself when that is not a timeout, or the
/// direct attempt says no more.
async fn why_not(error: sqlx::Error, options: &AnyConnectOptions) -> sqlx::Error {
    if !matches!(error, sqlx::Error::PoolTimedOut) {
        return error;
    }
    match tokio::time::timeout(ACQUIRE_TIMEOUT, AnyConnection::connect_with(options)).await {
        Ok(Err(cause)) => cause,
        Ok(Ok(_)) | Err(_) => error,
    }
}
