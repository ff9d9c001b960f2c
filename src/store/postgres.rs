//! The Postgres store, for several replicas on one database: the same tables and guarantees as
//! the SQLite store (times as Unix milliseconds), with row locks where SQLite takes its one write
//! lock. Each store handle is a process with a lease in `processes`, renewed every
//! [`HEARTBEAT`] by a task of its own and deleted by [`Store::close`]; recovery takes over only
//! what a process without a current lease left.
//!
//! # Guarantees
//! - A change to an incident locks its row first (`SELECT … FOR NO KEY UPDATE`, which other
//!   transactions' timeline inserts do not wait for), so two replicas never both act on the
//!   same old state; timers are claimed the same way with `SKIP LOCKED`.
//! - Votes on one request are counted one after another (the request's row is locked), so the
//!   vote that completes it is seen by exactly one transaction; the claim is one atomic
//!   `UPDATE … WHERE state = 'approved' RETURNING`.
//! - The database's clock decides leases, so replicas' clocks need not agree.
//!
//! # Caveats
//! A replica that cannot reach the database for longer than [`LEASE_SECONDS`] loses its lease:
//! another replica may then replay its unanswered requests (their effects still happen once,
//! guarded by the inbox) and fail its running approvals.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio::task::JoinHandle;

use rows::{append, entry, incident, millis, stamp_parts, sync_timers};

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
mod rows;
mod timers;
mod url;

use url::redact_error;
pub use url::{check_url, is_postgres, redact};

/// The query every scheduler tick starts with.
pub use timers::DUE as DUE_TIMERS_QUERY;

/// How often a process renews its lease.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a lease lasts without renewal: a process silent this long is taken for gone.
pub const LEASE_SECONDS: u32 = 30;
/// How long taking a connection from the pool may wait: a store that is down is noticed (and
/// reported) within seconds instead of hanging requests.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Stops the heartbeat task when the last handle of the store goes.
#[derive(Debug)]
struct Heartbeat(JoinHandle<()>);

impl Heartbeat {
    fn stop(&self) {
        self.0.abort();
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A store in a Postgres database (or one schema of it, chosen with the URL's
/// `options=-c search_path=…`).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Two connections of its own for what must answer while the engine's transactions hold the
    /// main pool (a burst of changes queueing on one incident's row lock): accepting requests,
    /// the readiness ping and the lease heartbeat.
    urgent: PgPool,
    /// This process: the owner of the requests it accepts, the runner of its approvals.
    process: Arc<str>,
    heartbeat: Arc<Heartbeat>,
}

impl PgStore {
    /// Connects to and migrates the database at `url`, and starts this process's lease.
    ///
    /// # Errors
    /// [`Error::Location`] for a URL that is not a usable Postgres URL, [`Error::Open`] when the
    /// database cannot be reached, [`Error::Migrate`] when the schema cannot be brought up to
    /// date. Messages never show the URL's password.
    pub async fn connect(url: &str) -> Result<Self> {
        let shown = redact(url);
        let options = PgConnectOptions::from_str(url.trim()).map_err(|e| Error::Location {
            url: shown.clone(),
            reason: format!(
                "not a usable postgres URL: {}",
                redact_error(&e.to_string(), url)
            ),
        })?;
        let open = |connections| {
            PgPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone())
        };
        let opened = |source| Error::Open {
            url: shown.clone(),
            source,
        };
        let pool = open(8).await.map_err(opened)?;
        let urgent = open(2).await.map_err(opened)?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let process: Arc<str> = super::new_process_id().into();
        renew(&urgent, &process).await?;
        // Rows of processes long gone (crashed, never closed) are of no use to anyone.
        sqlx::query("DELETE FROM processes WHERE heartbeat_at < now() - interval '1 day'")
            .execute(&pool)
            .await?;
        let heartbeat = Heartbeat(tokio::spawn({
            let pool = urgent.clone();
            let process = Arc::clone(&process);
            async move {
                let mut every = tokio::time::interval(HEARTBEAT);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    if pool.is_closed() {
                        return;
                    }
                    if let Err(e) = renew(&pool, &process).await {
                        tracing::warn!(
                            error = %crate::error_chain(&e),
                            "could not renew this process's lease in the store"
                        );
                    }
                }
            }
        }));
        Ok(Self {
            pool,
            urgent,
            process,
            heartbeat: Arc::new(heartbeat),
        })
    }

    /// The connection pool, for checks that need raw SQL (tests, integrity checks).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Writes (or renews) the lease of `process`.
async fn renew(pool: &PgPool, process: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO processes (id) VALUES ($1) \
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
    )
    .bind(process)
    .execute(pool)
    .await?;
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    fn process(&self) -> &str {
        &self.process
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.urgent).await?;
        Ok(())
    }

    async fn open_incident(&self, draft: &Draft, request: Option<&str>) -> Result<Incident> {
        let mut tx = self.pool.begin().await?;
        let opened = &draft.opened;
        inbox::mark_done(&mut tx, request, opened.at).await?;
        let row = sqlx::query(
            "INSERT INTO incidents (summary, service, severity, severity_reason, status, platform, channel_id, \
             opened_by_platform, opened_by_id, opened_by_name, opened_at) \
             VALUES ($1, $2, $3, $4, 'investigating', $5, $6, $7, $8, $9, $10) RETURNING id",
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
        sqlx::query(select_incidents!("WHERE i.id = $1"))
            .bind(id.get())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(incident)
            .transpose()
    }

    async fn incidents_in(&self, channel: &ChannelRef) -> Result<Vec<Incident>> {
        sqlx::query(select_incidents!(
            "WHERE i.platform = $1 AND i.channel_id = $2 AND i.status <> 'closed' ORDER BY i.id DESC"
        ))
        .bind(channel.platform.as_str())
        .bind(&channel.id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(incident)
        .collect()
    }

    async fn active_incidents(&self) -> Result<Vec<Incident>> {
        sqlx::query(select_incidents!(
            "WHERE i.status IN ('investigating', 'mitigating', 'monitoring') ORDER BY i.severity, i.id DESC"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(incident)
        .collect()
    }

    async fn timeline(&self, id: IncidentId) -> Result<Vec<TimelineEntry>> {
        sqlx::query("SELECT * FROM timeline WHERE incident_id = $1 ORDER BY seq")
            .bind(id.get())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(entry)
            .collect()
    }

    async fn update(
        &self,
        id: IncidentId,
        actor: &Actor,
        at: DateTime<Utc>,
        request: Option<&str>,
        decide: Decide<'_>,
    ) -> Result<Updated> {
        // The row lock is taken first, so the read below is the state the write replaces, in
        // this process or any other.
        let mut tx = self.pool.begin().await?;
        inbox::mark_done(&mut tx, request, at).await?;
        let before = sqlx::query(select_incidents!("WHERE i.id = $1 FOR NO KEY UPDATE OF i"))
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
            "UPDATE incidents SET severity = $1, severity_reason = $2, status = $3, \
             acknowledged_by_platform = $4, acknowledged_by_id = $5, acknowledged_by_name = $6, acknowledged_at = $7, \
             resolved_by_platform = $8, resolved_by_id = $9, resolved_by_name = $10, resolved_at = $11, \
             root_cause = $12, resolution = $13, closed_at = $14, platform = $15, channel_id = $16, \
             version = version + 1 WHERE id = $17",
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
        inbox::accept(&self.urgent, request, &self.process).await
    }

    async fn handled_request(&self, key: &str, at: DateTime<Utc>) -> Result<()> {
        inbox::handled(&self.pool, key, at).await
    }

    async fn complete_request(&self, key: &str, at: DateTime<Utc>) -> Result<()> {
        inbox::complete(&self.pool, key, at).await
    }

    async fn pending_requests(&self, prefix: &str) -> Result<Vec<Inbound>> {
        inbox::pending(&self.pool, prefix, &self.process).await
    }

    async fn backlog_requests(&self, prefix: &str, limit: usize) -> Result<Vec<Inbound>> {
        inbox::backlog(&self.pool, prefix, limit, &self.process).await
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

    async fn card(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT message FROM cards WHERE card_key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn close(&self) {
        self.heartbeat.stop();
        // Gone for good: what this process left is free to take over at once.
        if let Err(e) = sqlx::query("DELETE FROM processes WHERE id = $1")
            .bind(&*self.process)
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %crate::error_chain(&e), "could not end this process's lease");
        }
        self.pool.close().await;
        self.urgent.close().await;
    }
}
