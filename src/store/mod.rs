//! Where incidents live: the [`Store`] trait, [`SqlStore`] (its one implementation, on a SQLite
//! file or a Postgres database) and [`open`], which picks the database by the URL's scheme.
//!
//! # Guarantees
//! - A change is durable when the method that makes it returns: the engine only tells the
//!   channel after, and an adapter acknowledges a request only once [`Store::accept_request`]
//!   returned (SQLite: WAL journal with `synchronous = FULL`, so a commit survives `kill -9` and
//!   a power cut).
//! - Changes to one incident are serialised: [`Store::update`] runs the state machine on the
//!   incident as it is inside the writing transaction, so two commands never both act on the
//!   same old state, in one process or several.
//! - A read sees every change committed before it, whichever connection or process committed it.
//! - The timeline is append-only (the database refuses updates and deletes).
//! - A due timer fires once: [`Store::fire_due`] claims it, appends its timeline entry and sets
//!   its next firing time in one transaction.
//! - The approval ledger: one vote per person per request; the vote that completes a request
//!   moves it `pending → approved` in its transaction; [`Store::claim_approval`] moves it
//!   `approved → running` in one atomic update (`UPDATE … WHERE state = 'approved'
//!   RETURNING …`), so exactly one caller runs it.
//! - The outbox: posts are stored in the order given ([`Store::store_posts`], all or none);
//!   [`Store::claim_posts`] claims only the first waiting post of each lane, so a later post
//!   never overtakes an earlier one, and one process gets each post however many claim at once.
//! - Several processes: each store handle has a process id ([`Store::process`]) recorded on the
//!   requests it accepts and the approvals it runs. Recovery after a restart
//!   ([`Store::pending_requests`], [`Close::not_runner`]) takes only what a process that is gone
//!   left: on SQLite, any other process (one serving process holds the file's lock, [`lock`]);
//!   on Postgres, a process whose lease (a heartbeat row renewed every few seconds) ran out.
//!
//! Owns persistence only: no policy, no messages, no chat.

mod alerts;
mod decode;
pub mod lock;
mod sql;
mod url;
pub mod web;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::alerts::{AlertState, Member};
use crate::approval::{Ballot, NewRequest, Request, State, Voted};
use crate::incident::lifecycle::{Outcome, Refusal};
use crate::incident::timers::{Firing, Timer};
use crate::incident::{
    Actor, ChannelRef, Draft, Incident, IncidentId, TimelineEntry, TimelineEvent,
};

pub use crate::config::{check_url, sqlite_path};
pub use alerts::{AlertDecide, AlertsTaken, Announcement, Taken};
pub use sql::{DUE_TIMERS_QUERY, SqlStore};

/// A new process id: the host, the pid and a random part, so ids never repeat across restarts
/// or hosts.
fn new_process_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    let host = std::env::var("HOSTNAME").unwrap_or_default();
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(40)
        .collect();
    let random = RandomState::new().hash_one(std::time::SystemTime::now()) as u32;
    let id = format!("{}-{random:08x}", std::process::id());
    if host.is_empty() {
        id
    } else {
        format!("{host}-{id}")
    }
}

/// How a process uses the store; decides whether it must be the only writer of a SQLite file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Serves requests, replays the inbox and runs timers and approvals (`serve`, `console`):
    /// on SQLite, holds `<file>.lock` for the life of the store, and is refused when another
    /// process holds it.
    Exclusive,
    /// Runs single commands beside a running process (`report`, tests looking in): no lock.
    /// Each write is its own transaction; nothing is replayed or recovered.
    Shared,
}

/// Opens (creating and migrating if needed) the store `url` names: `postgres://…` or
/// `postgresql://…` for Postgres, `sqlite://PATH`, `sqlite:PATH` or a path for SQLite.
///
/// # Errors
/// [`Error::Location`] for a URL neither database takes, [`Error::Locked`] when another process
/// holds a SQLite file (with [`Access::Exclusive`]), [`Error::Open`] and [`Error::Migrate`].
pub async fn open(url: &str, access: Access) -> Result<Arc<dyn Store>> {
    let store = SqlStore::connect(url).await?;
    Ok(match sqlite_path(url) {
        Ok(path) if access == Access::Exclusive => Arc::new(store.holding(lock::Lock::take(path)?)),
        _ => Arc::new(store),
    })
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The incident does not exist.
    #[error("incident {0} does not exist")]
    NotFound(IncidentId),
    /// The store URL does not name a usable database.
    #[error("store.url '{}': {reason}", crate::config::without_password(url))]
    Location {
        /// The configured URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store could not be opened.
    #[error("cannot open the store at {}", crate::config::without_password(url))]
    Open {
        /// The configured URL.
        url: String,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("cannot migrate the store")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("store query failed")]
    Query(#[from] sqlx::Error),
    /// A write committed together with others failed for a reason all of them met (the
    /// database unreachable, busy, or timing out): the database's message.
    #[error("store write failed: {0}")]
    Write(String),
    /// The store is not fit to serve: its writes fail, or its SQLite file was deleted.
    #[error("{0}")]
    Unfit(String),
    /// A stored value is not what firewatch writes.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// Another process is the SQLite file's writer.
    #[error(
        "{path} is in use by another firewatch process (pid {holder}, holding {lock}): \
         SQLite allows one serving process; stop it, or use a Postgres store.url to run several"
    )]
    Locked {
        /// The database file.
        path: String,
        /// The lock file.
        lock: String,
        /// The holder's process id as it wrote it (`unknown` when unreadable).
        holder: String,
    },
    /// The lock file could not be created or locked.
    #[error("cannot lock {path}")]
    Lock {
        /// The lock file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The request's effect was committed before (a redelivery, or a replay after a restart);
    /// nothing was written this time.
    #[error("request {0} was already handled")]
    Replayed(String),
}

/// Result of store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The state-machine step to run on an incident inside the store's transaction: given the
/// incident as stored, the change to make, or why not.
pub type Decide<'a> =
    &'a (dyn Fn(&Incident) -> std::result::Result<Outcome, Refusal> + Send + Sync);

/// What [`Store::update`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Updated {
    /// The change is committed.
    Changed {
        /// The incident before.
        before: Box<Incident>,
        /// The incident after, with its new version.
        after: Box<Incident>,
    },
    /// The state machine refused (and said why); nothing was written.
    Refused(Refusal),
}

/// What a due timer does, decided inside the store's claiming transaction from the incident as
/// stored and the timer.
pub type OnDue<'a> = &'a (dyn Fn(&Incident, &Timer) -> Firing + Send + Sync);

/// A timer that fired: its effect is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The incident, as it was when the timer fired.
    pub incident: Incident,
    /// The timer, as it was when claimed.
    pub timer: Timer,
    /// The timeline entries appended.
    pub entries: Vec<TimelineEvent>,
    /// When it fires again, if ever.
    pub next: Option<DateTime<Utc>>,
}

/// A chat request accepted before it was acknowledged, kept until its effect is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The platform's request id, namespaced by the adapter (`slack:trigger:…`).
    pub key: String,
    /// What the adapter needs to run it again (its own JSON).
    pub payload: String,
    /// When it arrived.
    pub received: DateTime<Utc>,
    /// Whether it was handled (its effect, if any, is committed) but its answer not delivered.
    pub handled: bool,
    /// How often it was replayed before.
    pub attempts: u32,
}

impl Inbound {
    /// A request as an adapter accepts it: new, never replayed, stored as `request`'s JSON.
    pub fn new(key: String, request: &impl serde::Serialize, received: DateTime<Utc>) -> Self {
        Self {
            key,
            payload: serde_json::to_string(request).expect("a chat request serialises to JSON"),
            received,
            handled: false,
            attempts: 0,
        }
    }
}

/// Something firewatch sends out that must not be lost (a channel post; later a page or a
/// ticket): kept in the outbox until its destination takes it (see [`crate::delivery`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// Who sends it, by the courier's kind: `slack`, `discord`.
    pub kind: String,
    /// Where, as the kind names it (a channel id).
    pub destination: String,
    /// Posts of one lane go out one at a time, in the order stored (`slack:C0INC`).
    pub lane: String,
    /// What the courier needs to send it (its own JSON).
    pub payload: String,
    /// What it says, in one line: for the log and the timeline.
    pub summary: String,
    /// The incident it is about: its timeline hears when the post cannot be delivered.
    pub incident: Option<IncidentId>,
    /// When it was stored.
    pub stored: DateTime<Utc>,
    /// When to stop trying.
    pub give_up_at: DateTime<Utc>,
}

/// A post this process claimed from the outbox: its turn to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedPost {
    /// Its number in the outbox.
    pub id: i64,
    /// The post.
    pub post: Post,
    /// How often it was tried before.
    pub attempts: u32,
    /// Why the last try failed.
    pub last_error: Option<String>,
}

/// A post that will never be delivered, as its incident's timeline records it.
#[derive(Debug, Clone, Copy)]
pub struct Undelivered<'a> {
    /// The entry.
    pub entry: &'a TimelineEvent,
    /// Who records it (firewatch itself).
    pub by: &'a Actor,
    /// When.
    pub at: DateTime<Utc>,
}

/// The timeline entries of a new approval request, given its number.
pub type RequestEntries<'a> = &'a (dyn Fn(i64) -> Vec<TimelineEvent> + Send + Sync);

/// How [`Store::close_approval`] moves a request.
#[derive(Debug, Clone, Copy)]
pub struct Close<'a> {
    /// The states it may be in; otherwise nothing is written.
    pub from: &'a [State],
    /// The state it moves to.
    pub to: State,
    /// What it did, or why it closed.
    pub result: Option<&'a str>,
    /// Restart recovery: only when claimed by a process that is gone — not this one (`me`),
    /// and, on a shared database, not one whose lease is current.
    pub not_runner: Option<&'a str>,
}

/// Persistence for incidents, their timelines and timers.
#[async_trait]
pub trait Store: Send + Sync {
    /// This process's id in the store: the owner of the requests it accepts and the runner of
    /// the approvals it claims. New for every store handle.
    fn process(&self) -> &str;

    /// Checks that the store is fit to serve: it answers a trivial query, its writes succeed
    /// (the latest of them, or a heartbeat written now when they were failing), and a SQLite
    /// store's file is still the one it opened.
    ///
    /// # Errors
    /// [`Error::Unfit`] naming what is wrong; store failures.
    async fn ping(&self) -> Result<()>;

    /// Opens an incident: stores it, its first timeline entries and its timers, atomically.
    /// `request` (the chat request that asked for it) is marked done in the same transaction.
    ///
    /// # Errors
    /// [`Error::Replayed`] when `request` is already done: nothing is written.
    async fn open_incident(&self, draft: &Draft, request: Option<&str>) -> Result<Incident>;

    /// One incident.
    async fn incident(&self, id: IncidentId) -> Result<Option<Incident>>;

    /// The incidents bound to `channel` that are not closed, newest first.
    async fn incidents_in(&self, channel: &ChannelRef) -> Result<Vec<Incident>>;

    /// Every active incident (investigating, mitigating, monitoring), most severe then newest first.
    async fn active_incidents(&self) -> Result<Vec<Incident>>;

    /// An incident's whole timeline, oldest first.
    async fn timeline(&self, id: IncidentId) -> Result<Vec<TimelineEntry>>;

    /// How many incidents opened on the same UTC day as `incident`, before it: its place in
    /// that day's order from 0 (the report file's suffix).
    async fn opened_earlier_that_day(&self, incident: &Incident) -> Result<u32>;

    /// Changes one incident atomically: reads it inside a writing transaction, asks `decide`
    /// what to do, and commits the new fields, its timers and the new timeline entries (by
    /// `actor`, at `at`) — or writes nothing when `decide` refuses. `request` (the chat request
    /// that asked for it) is marked done in the same transaction as the change.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no such incident, [`Error::Replayed`] when `request` is
    /// already done (nothing is written); store failures.
    async fn update(
        &self,
        id: IncidentId,
        actor: &Actor,
        at: DateTime<Utc>,
        request: Option<&str>,
        decide: Decide<'_>,
    ) -> Result<Updated>;

    /// Fires up to `limit` timers due at `now`, oldest first. Each one is claimed, decided by
    /// `on_due`, recorded (timeline entries, next firing time) and committed in one transaction,
    /// so a crash either fired and recorded a timer or did neither, and a timer fires once however
    /// many processes tick. Returns the timers whose firing appended something.
    ///
    /// Finding nothing due costs one indexed query ([`DUE_TIMERS_QUERY`]). (Postgres claims each
    /// due timer by locking its incident with `SELECT … FOR NO KEY UPDATE SKIP LOCKED`, so several
    /// replicas share the work and a timer another replica holds is left to it.) A timer that
    /// cannot be fired is logged and skipped.
    ///
    /// # Errors
    /// Store failures before any timer was claimed.
    async fn fire_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        on_due: OnDue<'_>,
    ) -> Result<Vec<Fired>>;

    /// Stores a chat request before it is acknowledged: `true` the first time its key is seen,
    /// `false` for a redelivery (which must have no effect).
    async fn accept_request(&self, request: &Inbound) -> Result<bool>;

    /// Marks a request handled once the engine has answered it (a request that changed
    /// nothing has no transaction of its own to do it): a replay will not run it again.
    /// Idempotent. The chat pipeline skips it for commands that change nothing
    /// ([`crate::command::changes_nothing`]).
    async fn handled_request(&self, key: &str, at: DateTime<Utc>) -> Result<()>;

    /// Marks a request's answer delivered (and the request handled). Idempotent.
    async fn complete_request(&self, key: &str, at: DateTime<Utc>) -> Result<()>;

    /// Requests accepted but not delivered whose key starts with `prefix` and that no live
    /// process holds, oldest first: each is taken over by this process (recorded as its owner)
    /// and counted as one more attempt. What a restart must run again, or report as lost.
    ///
    /// # Guarantees
    /// A request accepted by a process that still runs (this one, or another replica whose
    /// lease is current) is never returned; of several processes asking at once, one gets each
    /// request.
    async fn pending_requests(&self, prefix: &str) -> Result<Vec<Inbound>>;

    /// Requests accepted but not handled yet whose key starts with `prefix`, oldest first, at
    /// most `limit`, accepted by this process and never replayed (a replayed request belongs to
    /// the start-up replay, which decides whether it still runs), without counting an attempt:
    /// the backlog a running process takes up when its work queue had no room for them.
    async fn backlog_requests(&self, prefix: &str, limit: usize) -> Result<Vec<Inbound>>;

    /// Forgets delivered requests received before `before`; returns how many. Platforms stop
    /// redelivering after minutes, so keys older than that can never come back.
    async fn prune_requests(&self, before: DateTime<Utc>) -> Result<u64>;

    /// Appends `entries` (by `actor`, at `at`) to an incident's timeline without changing the
    /// incident (approval audit entries); `request` is marked done in the same transaction.
    ///
    /// # Errors
    /// [`Error::Replayed`] when `request` is already done (nothing is written).
    async fn append(
        &self,
        id: IncidentId,
        actor: &Actor,
        at: DateTime<Utc>,
        request: Option<&str>,
        entries: &[TimelineEvent],
    ) -> Result<()>;

    /// Stores a new `pending` approval request, its timeline entries (by the requester) and marks
    /// `request` done, in one transaction.
    ///
    /// # Errors
    /// [`Error::Replayed`] when `request` is already done (nothing is written).
    async fn request_approval(
        &self,
        new: &NewRequest,
        entries: RequestEntries<'_>,
        request: Option<&str>,
    ) -> Result<Request>;

    /// One approval request.
    async fn approval(&self, id: i64) -> Result<Option<Request>>;

    /// An incident's requests in `state`, oldest first.
    async fn approvals_of(&self, incident: IncidentId, state: State) -> Result<Vec<Request>>;

    /// Requests in `state` (that expire by `expired_by`, when given), oldest first, at most
    /// `limit`: what the scheduler expires, resumes or recovers.
    async fn approvals_in(
        &self,
        state: State,
        expired_by: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<Request>>;

    /// Records `ballot` on request `id` with its timeline entry and marks `request` done, in one
    /// transaction. One vote per person (by [`Ballot::person`], whichever of their accounts
    /// casts it): a second one changes nothing ([`Voted::Duplicate`]). A deny closes the request; the approval that reaches `required`
    /// moves it `pending → approved` ([`Voted::Approved`] with `complete`). A request that is not
    /// pending, or has expired, is left as it is ([`Voted::Closed`]).
    ///
    /// # Errors
    /// [`Error::Replayed`] when `request` is already done; [`Error::Corrupt`] when there is no
    /// such request.
    async fn vote(
        &self,
        id: i64,
        ballot: &Ballot<'_>,
        at: DateTime<Utc>,
        request: Option<&str>,
    ) -> Result<Voted>;

    /// Claims an `approved` request for running: one atomic `approved → running` update that
    /// records `runner` (this process). `Some` for the one caller that won; `None` for everyone
    /// else, however many try at once (`UPDATE … WHERE state = 'approved' RETURNING`).
    async fn claim_approval(
        &self,
        id: i64,
        runner: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Request>>;

    /// Moves request `id` as `close` says and appends `entries` (by `actor`) to its incident's
    /// timeline, in one transaction; `None` (nothing written) when it is not in `close.from`.
    async fn close_approval(
        &self,
        id: i64,
        close: Close<'_>,
        entries: &[TimelineEvent],
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Option<Request>>;

    /// The baseline of `service`'s load job `job`, if one was stored.
    async fn baseline(&self, service: &str, job: &str) -> Result<Option<Baseline>>;

    /// Stores `baseline` (replacing the service's and job's previous one) and appends `entries`
    /// (by `actor`, at the baseline's time) to its incident's timeline, in one transaction;
    /// `request` is marked done in it too ([`Error::Replayed`] when it was: nothing is written).
    async fn store_baseline(
        &self,
        baseline: &Baseline,
        entries: &[TimelineEvent],
        actor: &Actor,
        request: Option<&str>,
    ) -> Result<()>;

    /// The message that shows card `key` (an approval request) on its platform, as its adapter
    /// stored it.
    async fn card(&self, key: &str) -> Result<Option<String>>;

    /// Stores (or replaces) the message that shows card `key`.
    async fn keep_card(&self, key: &str, message: &str) -> Result<()>;

    /// Stores `posts` in the outbox in this order, in one transaction (all or none), each due
    /// at once. Nothing is sent here: the process's [`crate::delivery::Sender`] claims them.
    async fn store_posts(&self, posts: &[Post]) -> Result<()>;

    /// Whether [`Store::claim_posts`] would find a post at `now`: one read, no write.
    async fn posts_due(&self, now: DateTime<Utc>) -> Result<bool>;

    /// Claims up to `limit` posts to send at `now`, oldest first: of each lane the first
    /// waiting post, when it is due and no other live process holds it (one held by a process
    /// that is gone is taken over; one this process still holds is one whose outcome it could
    /// not record, since its sender claims one pass at a time). A claimed post stays this
    /// process's until [`Store::retry_post`] or [`Store::remove_post`].
    ///
    /// # Guarantees
    /// A lane's later post is never claimed while an earlier one waits; of several processes
    /// claiming at once, one gets each post (Postgres: `FOR UPDATE SKIP LOCKED`; SQLite has one
    /// serving process).
    async fn claim_posts(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<ClaimedPost>>;

    /// Lets go of claimed post `id` after a failed try: tried again from `next`, one attempt
    /// more, `error` kept. Nothing happens when this process no longer holds it.
    async fn retry_post(&self, id: i64, next: DateTime<Utc>, error: &str) -> Result<()>;

    /// Removes claimed post `id` from the outbox: delivered, or (with `undelivered`) refused
    /// or given up, the entry appended to its incident's timeline in the same transaction.
    /// Nothing happens when this process no longer holds it.
    async fn remove_post(&self, id: i64, undelivered: Option<Undelivered<'_>>) -> Result<()>;

    /// Stores where page `page.key` of incident `page.incident` through `page.pager` stands,
    /// replacing what was stored for it — except that [`PageState::Triggering`] (recorded once
    /// the trigger is queued, when the pager may have taken it already) only replaces a page
    /// that is not calling: failed, or resolved in the pager without firewatch asking it.
    /// `page.asked` is stored with a new page only; [`Store::ask_page`] changes it.
    ///
    /// [`PageState::Triggering`]: crate::incident::page::PageState::Triggering
    async fn record_page(&self, page: &crate::incident::page::Page) -> Result<()>;

    /// Notes how far page `key` of incident `id` through `pager` was taken along its
    /// incident's course ([`Page::asked`]; nothing when there is no such page).
    ///
    /// [`Page::asked`]: crate::incident::page::Page::asked
    async fn ask_page(
        &self,
        id: IncidentId,
        pager: crate::incident::page::Pager,
        key: &str,
        asked: crate::incident::page::Action,
    ) -> Result<()>;

    /// Where incident `id`'s pages stand, PagerDuty first, each pager's own page before the
    /// roles'.
    async fn pages_of(&self, id: IncidentId) -> Result<Vec<crate::incident::page::Page>>;

    /// At most `limit` pages through `pagers`, by incident, owed an event by a change to their
    /// incident made before `settled` ([`owed`]): neither failed nor resolved, their incident
    /// resolved and they not asked to resolve, or acknowledged and they asked nothing since
    /// their trigger (nor acknowledged in the pager).
    ///
    /// [`owed`]: crate::incident::page::owed
    async fn owed_pages(
        &self,
        settled: DateTime<Utc>,
        pagers: &[crate::incident::page::Pager],
        limit: u32,
    ) -> Result<Vec<crate::incident::page::Page>>;

    /// What a notification of alert group `group` finds, read without taking turns: what the
    /// engine prepares for before [`Store::take_alerts`] (a new incident's evidence).
    /// `opened_recently` counts the openings after `at` minus a minute.
    async fn alert_state(&self, group: &str, at: DateTime<Utc>) -> Result<AlertState>;

    /// Takes a notification of alert group `group`: in one writing transaction that takes its
    /// turn after every other alert transaction (of any process), reads the group's
    /// [`AlertState`] (its incidents locked), asks `decide`, and writes the decision — the
    /// incident opened (the group's, or the storm incident) or changed (by `actor`, at `at`),
    /// the group's members, and the "more alerts" cadence: alerts that started firing are shown
    /// at once when the incident's last message about its alerts is `every` old, else marked
    /// due then ([`Store::due_announcements`]). `request` is marked done in the transaction.
    ///
    /// # Errors
    /// [`Error::Replayed`] when `request` is already done (nothing is written); store failures.
    async fn take_alerts(
        &self,
        group: &str,
        actor: &Actor,
        at: DateTime<Utc>,
        every: chrono::TimeDelta,
        request: Option<&str>,
        decide: AlertDecide<'_>,
    ) -> Result<AlertsTaken>;

    /// The alerts incident `id` keeps, by group, then start.
    async fn alerts_of(&self, id: IncidentId) -> Result<Vec<Member>>;

    /// Claims up to `limit` "more alerts firing" messages due at `now`, each in a transaction
    /// of its own that marks its alerts shown: one process gets each. Incidents that are over,
    /// or whose waiting alerts resolved meanwhile, are cleared without a message.
    ///
    /// # Errors
    /// Store failures before any was claimed.
    async fn due_announcements(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Announcement>>;

    /// Ends this process's lease (SQLite: releases the file's lock), waits for the statements
    /// under way and closes the connections; later calls fail.
    async fn close(&self);

    /// What the web pages read (`None`: this store serves no web pages).
    fn web(&self) -> Option<&dyn web::WebReads> {
        None
    }
}

/// The figures `/performance-test baseline` stored for one service's load job.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// The service.
    pub service: String,
    /// The `[[jobs]]` entry (a load job).
    pub job: String,
    /// What it measured.
    pub figures: crate::ops::jobs::Figures,
    /// The incident it was taken in.
    pub incident: IncidentId,
    /// The Job that measured it.
    pub job_name: String,
    /// Who asked for it.
    pub by: Actor,
    /// When it was stored.
    pub at: DateTime<Utc>,
}
