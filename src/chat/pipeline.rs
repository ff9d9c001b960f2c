//! The one way every chat request takes, whatever its platform: accept (store it in the inbox
//! before the platform is answered), run (the engine, then the answers, then the inbox marks),
//! and after a restart, replay. Each platform supplies only what differs ([`Adapter`]): its
//! request's key and command line, who sent it, and how answers and notices reach people. Alert
//! notifications take the same way (`app::alerts`), run by the engine's alert path instead of a
//! command line ([`Adapter::attempt`]).
//! Verifying and decoding requests stay with the platform's transport (HTTP routes, Socket Mode,
//! the gateway), which calls [`Pipeline::accept`] and [`Pipeline::start`].
//!
//! # Guarantees
//! - A request is stored in the inbox before it is acknowledged: a crash after the
//!   acknowledgement does not lose it. A redelivery (same key) has no effect.
//! - A request from a workspace or server firewatch does not serve ([`Adapter::admit`]:
//!   `slack.team_ids`, `discord.guild_ids`) is refused before it is stored, whatever its
//!   transport; its author is told why ([`Refusal::notice`]). One stored before the settings
//!   stopped serving its place is dropped, not run, when it is taken up.
//! - A command longer than [`command::MAX_INPUT_CHARS`] is refused before it is stored, whatever
//!   its transport; its author is told why.
//! - A request that changes something is marked handled in the same transaction as its effect
//!   (the engine passes its key to the store), and again once the engine gave its final answer
//!   (a refusal changes nothing and has no transaction of its own), so a replay never runs it
//!   twice; one that only reads simply runs again. Handled therefore means its effect is
//!   committed, or it was refused.
//! - A run that fails for an internal reason (the store unavailable, a connection lost, a full
//!   disk) leaves its request unhandled in the inbox and runs it again after a growing wait
//!   ([`replay::retry`]) until it goes through or its platform's reply window would end; only
//!   then is its author told it was not done. While it keeps failing the author is told once
//!   that firewatch keeps trying ([`replay::TELL_AFTER`]). A restart meanwhile finds it pending
//!   and replays it.
//! - After a restart ([`Pipeline::replay`]) what was never handled runs (within the platform's
//!   reply window), a lost answer is reported, a request too old to answer is dropped with a
//!   word to its author, and one that failed on every replay is given up.
//! - [`Pipeline::upkeep`] starts the requests that waited in the inbox for room, and takes over
//!   those a process that is gone left (another replica that died), by the same rules: one that
//!   waited past the platform's reply window is not run, and its author is told.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::task::TaskTracker;

use super::replay::{self, AfterFailure, Replay, Retry};
use super::work::{Claim, RUNNING, Work};
use crate::clock::Clock;
use crate::command;
use crate::engine::{Answer, Audience, Caller, Engine, Failure, Reply};
use crate::error_chain;
use crate::message::Message;
use crate::store::{self, Inbound, Store};

/// How often [`Pipeline::upkeep`] looks for requests without a live process to run them.
const UPKEEP_EVERY: Duration = Duration::from_secs(10);

/// Why a request was not taken into the inbox; nothing was stored. [`Pipeline::accept`] logs it.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// It came from a workspace or server firewatch does not serve; what its author is told.
    #[error("{0}")]
    NotServed(String),
    /// Its command is longer than any platform lets people type.
    #[error("{}", .0.problem)]
    TooLong(command::ParseError),
    /// The inbox could not store it.
    #[error(transparent)]
    Store(#[from] store::Error),
}

impl Refusal {
    /// What the request's author is told: why it was not taken.
    pub fn notice(&self) -> String {
        match self {
            Self::NotServed(why) => format!("⚠️ {why} Nothing was recorded."),
            Self::TooLong(e) => format!(
                "⚠️ firewatch did not take that: {}. Nothing was recorded.",
                e.problem
            ),
            // A connection lost while the commit was on its way leaves open whether the store
            // took it (and then it runs): the author is pointed at what shows it.
            Self::Store(_) => "⚠️ firewatch could not record that (its store is unavailable). \
                               /incident-status shows whether it went through; if not, try \
                               again in a moment."
                .into(),
        }
    }
}

/// What a chat platform supplies to the pipeline.
#[async_trait]
pub trait Adapter: Send + Sync + 'static {
    /// The platform's request as the inbox keeps it.
    type Request: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// The prefix of its inbox keys (`slack:`).
    const PREFIX: &'static str;
    /// How long the platform lets a request be answered.
    const REPLY_WINDOW: TimeDelta;

    /// The request's inbox key, [`Adapter::PREFIX`] first: one per platform delivery.
    fn key(request: &Self::Request) -> String;

    /// The command line it runs.
    fn line(request: &Self::Request) -> String;

    /// Whether it comes from a workspace or server firewatch serves: `Err` says to its author
    /// why not. Checked before it is stored.
    fn admit(&self, request: &Self::Request) -> Result<(), String>;

    /// Who sent it and from where (the pipeline sets [`Caller::request`]).
    async fn caller(&self, request: &Self::Request) -> Caller;

    /// Runs it through the engine once: a chat request is the command line it carries.
    async fn attempt(&self, engine: &Engine, caller: &Caller, request: &Self::Request) -> Answer {
        engine.attempt(caller, &Self::line(request)).await
    }

    /// Delivers the engine's replies to a request from `caller`: posts into channels are stored
    /// in the outbox ([`crate::delivery`]) before this returns, so the request is marked
    /// delivered only once they are safe; they reach the platform from there.
    async fn answer(&self, request: &Self::Request, caller: &Caller, replies: Vec<Reply>);

    /// Tells people what a restart did with the request (`replay` is never [`Replay::Run`]).
    async fn tell(&self, request: &Self::Request, replay: Replay, notice: Message);
}

/// One platform's requests on their way through the engine.
pub struct Pipeline<A: Adapter> {
    adapter: A,
    engine: Arc<Engine>,
    inbox: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    work: Work,
}

impl<A: Adapter> Pipeline<A> {
    /// A pipeline for `adapter`'s requests; runs go into `tasks`, which shutdown waits for.
    pub fn new(
        adapter: A,
        engine: Arc<Engine>,
        inbox: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        tasks: TaskTracker,
    ) -> Arc<Self> {
        Arc::new(Self {
            adapter,
            engine,
            inbox,
            clock,
            work: Work::new(tasks, RUNNING),
        })
    }

    /// The platform's side.
    pub fn adapter(&self) -> &A {
        &self.adapter
    }

    /// Stores `request` in the inbox before the platform is answered: a [`Claim`] to hand to
    /// [`Pipeline::start`] when it is new, `None` for a redelivery.
    ///
    /// # Errors
    /// [`Refusal`]: it comes from a workspace or server firewatch does not serve, its command is
    /// too long, or the inbox could not store it; answer with its [`Refusal::notice`].
    pub async fn accept(&self, request: &A::Request) -> Result<Option<Claim>, Refusal> {
        self.adapter.admit(request).map_err(Refusal::NotServed)?;
        let key = A::key(request);
        if let Err(e) = command::check_length(&A::line(request)) {
            tracing::warn!(request = %key, problem = %e.problem, "refused a command over the length limit");
            return Err(Refusal::TooLong(e));
        }
        let Some(claim) = self.work.claim(key.clone()) else {
            return Ok(None);
        };
        let inbound = Inbound::new(key, request, self.clock.now());
        match self.inbox.accept_request(&inbound).await {
            Ok(true) => Ok(Some(claim)),
            Ok(false) => {
                claim.release();
                Ok(None)
            }
            Err(e) => {
                claim.release();
                tracing::error!(request = %inbound.key, error = %error_chain(&e), "could not store a request");
                Err(e.into())
            }
        }
    }

    /// Runs an accepted request without waiting for it (see [`crate::chat::work`]).
    pub fn start(self: &Arc<Self>, claim: Claim, request: A::Request) {
        let pipeline = Arc::clone(self);
        let received = self.clock.now();
        self.work
            .start(claim, async move { pipeline.run(request, received).await });
    }

    /// [`Pipeline::accept`], then [`Pipeline::start`] when it is new; `true` when it was.
    ///
    /// # Errors
    /// [`Refusal`], as [`Pipeline::accept`].
    pub async fn take(self: &Arc<Self>, request: A::Request) -> Result<bool, Refusal> {
        match self.accept(&request).await? {
            Some(claim) => {
                self.start(claim, request);
                Ok(true)
            }
            None => {
                tracing::info!(request = %A::key(&request), "redelivered request ignored");
                Ok(false)
            }
        }
    }

    /// Stops starting requests (shutdown): those running finish, the rest stay in the inbox
    /// for the next start.
    pub fn close(&self) {
        self.work.close();
    }

    /// Runs `request` (received at `received`) until the engine gives a final answer, running it
    /// again after internal failures by [`replay::retry`]'s rule, and answers it.
    #[tracing::instrument(skip_all, fields(request = %A::key(&request)))]
    async fn run(&self, request: A::Request, received: DateTime<Utc>) {
        let key = A::key(&request);
        let mut caller = self.adapter.caller(&request).await;
        caller.request = Some(key.clone());
        let mut last: Option<Failure> = None;
        for failures in 1.. {
            let failure = match self.adapter.attempt(&self.engine, &caller, &request).await {
                Answer::Final(replies) => return self.answer(&request, &caller, replies).await,
                Answer::Replayed => {
                    // Done by an earlier run: the first run of a redelivery has nothing to say;
                    // after a failure of ours, its author learns that it is done after all.
                    if let Some(failure) = &last {
                        let after = AfterFailure::AnswerLost;
                        self.tell_after(&request, &caller, failure, after, received)
                            .await;
                    }
                    return self.complete(&key).await;
                }
                Answer::Failed(failure) => failure,
            };
            let now = self.clock.now();
            let Retry::After(wait) = replay::retry(failures, received, now, A::REPLY_WINDOW) else {
                tracing::error!(
                    attempts = failures,
                    "giving up on a request that failed until it was too late to answer"
                );
                let after = AfterFailure::NotDone;
                self.tell_after(&request, &caller, &failure, after, received)
                    .await;
                return self.complete(&key).await;
            };
            if failures == replay::TELL_AFTER {
                let after = AfterFailure::Retrying {
                    until: received + A::REPLY_WINDOW,
                };
                self.tell_after(&request, &caller, &failure, after, received)
                    .await;
            }
            tracing::warn!(
                attempts = failures,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "the request failed; it runs again after a wait"
            );
            last = Some(failure);
            if !self.work.pause(wait).await {
                // Shutting down: it stays unhandled in the inbox, and the next start runs it.
                return;
            }
        }
    }

    /// Delivers the engine's final answer to `request`, with the inbox marks around it.
    async fn answer(&self, request: &A::Request, caller: &Caller, replies: Vec<Reply>) {
        let key = A::key(request);
        // Whatever happens while answering, a replay must not run it again (one that changes
        // nothing simply runs again).
        if !command::changes_nothing(&A::line(request))
            && let Err(e) = self.inbox.handled_request(&key, self.clock.now()).await
        {
            tracing::warn!(error = %error_chain(&e), "could not mark the request handled");
        }
        self.adapter.answer(request, caller, replies).await;
        self.complete(&key).await;
    }

    /// Tells people what became of `request` after `failure` ([`replay::failure_notice`]): its
    /// author while it is retried or when it was not done, the channel when its change is saved.
    async fn tell_after(
        &self,
        request: &A::Request,
        caller: &Caller,
        failure: &Failure,
        after: AfterFailure,
        received: DateTime<Utc>,
    ) {
        let (line, author) = (A::line(request), &caller.actor.name);
        let notice = replay::failure_notice(after, &line, author, received, &failure.reference);
        match after {
            AfterFailure::Retrying { .. } => {
                let reply = Reply {
                    audience: Audience::Caller,
                    message: notice,
                };
                self.adapter.answer(request, caller, vec![reply]).await;
            }
            AfterFailure::AnswerLost => {
                self.adapter.tell(request, Replay::AnswerLost, notice).await;
            }
            AfterFailure::NotDone => self.adapter.tell(request, Replay::GiveUp, notice).await,
        }
    }

    async fn complete(&self, key: &str) {
        if let Err(e) = self.inbox.complete_request(key, self.clock.now()).await {
            tracing::warn!(error = %error_chain(&e), "could not mark the request delivered");
        }
    }

    /// What the inbox holds that no live process will answer: this platform's requests accepted
    /// before a restart, or by a replica that is gone. Read it before taking new requests.
    ///
    /// # Errors
    /// The inbox could not be read.
    pub async fn pending(&self) -> store::Result<Vec<Inbound>> {
        self.inbox.pending_requests(A::PREFIX).await
    }

    /// Deals with `pending` (from [`Pipeline::pending`]), oldest first, by the rules of
    /// [`replay::triage`]; returns how many run again.
    pub async fn replay(self: &Arc<Self>, pending: Vec<Inbound>) -> usize {
        let mut ran = 0;
        for inbound in pending {
            if replay::triage(&inbound, self.clock.now(), A::REPLY_WINDOW) == Replay::Run {
                tracing::info!(request = %inbound.key, "running a request no live process answered");
                let (key, pipeline) = (inbound.key.clone(), Arc::clone(self));
                self.work
                    .start_waiting(key, async move { pipeline.take_up(inbound).await })
                    .await;
                ran += 1;
            } else {
                Arc::clone(self).take_up(inbound).await;
            }
        }
        ran
    }

    /// Runs a request that waited in the inbox if it can still be answered; otherwise tells
    /// people what became of it ([`replay::triage`]) and lets it go. An unreadable one is
    /// dropped.
    async fn take_up(self: Arc<Self>, inbound: Inbound) {
        let Ok(request) = serde_json::from_str::<A::Request>(&inbound.payload) else {
            tracing::error!(request = %inbound.key, "unreadable stored request; dropped");
            return self.complete(&inbound.key).await;
        };
        // Stored while the settings served its workspace or server, which they no longer do.
        if let Err(why) = self.adapter.admit(&request) {
            tracing::warn!(request = %inbound.key, %why, "dropped a stored request from a workspace or server no longer served");
            return self.complete(&inbound.key).await;
        }
        let verdict = replay::triage(&inbound, self.clock.now(), A::REPLY_WINDOW);
        match verdict {
            Replay::Run => return self.run(request, inbound.received).await,
            Replay::GiveUp => {
                tracing::error!(request = %inbound.key, attempts = inbound.attempts, "giving up on a request that failed on every replay");
            }
            Replay::AnswerLost | Replay::Expired => {}
        }
        let author = self.adapter.caller(&request).await.actor.name;
        let notice = replay::notice(verdict, &A::line(&request), &author, &inbound);
        self.adapter.tell(&request, verdict, notice).await;
        self.complete(&inbound.key).await;
    }

    /// Until [`Pipeline::close`]: starts requests that waited in the inbox for room as soon as
    /// there is some, and every 10 seconds looks for requests no live process will answer
    /// (an acknowledgement abandoned mid-store, a replica that died) and runs them.
    pub async fn upkeep(self: Arc<Self>) {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            let periodic = tokio::select! {
                () = self.work.sweep_wanted() => false,
                _ = every.tick() => true,
            };
            if self.work.is_closed() {
                return;
            }
            if let Err(reason) = self.sweep().await {
                tracing::warn!(%reason, "could not read the requests waiting in the inbox");
            }
            if periodic {
                self.adopt().await;
            }
        }
    }

    /// Starts what waits in the inbox for room, as room allows.
    async fn sweep(self: &Arc<Self>) -> Result<usize, String> {
        self.work
            .sweep(async |limit| {
                let waiting = self
                    .inbox
                    .backlog_requests(A::PREFIX, limit)
                    .await
                    .map_err(|e| error_chain(&e))?;
                // What waited past the platform's reply window is let go, by the replay's rules.
                Ok(waiting
                    .into_iter()
                    .map(|inbound| {
                        let (key, pipeline) = (inbound.key.clone(), Arc::clone(self));
                        (key, pipeline.take_up(inbound))
                    })
                    .collect())
            })
            .await
    }

    /// Replays what a process that is gone left unanswered.
    async fn adopt(self: &Arc<Self>) {
        match self.pending().await {
            Ok(pending) if pending.is_empty() => {}
            Ok(pending) => {
                let ran = self.replay(pending).await;
                tracing::info!(
                    platform = A::PREFIX,
                    ran,
                    "took over requests no live process answered"
                );
            }
            Err(e) => tracing::warn!(error = %error_chain(&e), "cannot read the request inbox"),
        }
    }
}
