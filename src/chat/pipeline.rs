//! The one way every chat request takes, whatever its platform: accept (store it in the inbox
//! before the platform is answered), run (the engine, then the answers, then the inbox marks),
//! and after a restart, replay. Each platform supplies only what differs ([`Adapter`]): its
//! request's key and command line, who sent it, and how answers and notices reach people.
//! Verifying and decoding requests stay with the platform's transport (HTTP routes, Socket Mode,
//! the gateway), which calls [`Pipeline::accept`] and [`Pipeline::start`].
//!
//! # Guarantees
//! - A request is stored in the inbox before it is acknowledged: a crash after the
//!   acknowledgement does not lose it. A redelivery (same key) has no effect.
//! - A command longer than [`command::MAX_INPUT_CHARS`] is refused before it is stored, whatever
//!   its transport; its author is told why ([`Refusal::notice`]).
//! - A request that changes something is marked handled in the same transaction as its effect
//!   (the engine passes its key to the store), and again once the engine answered, so a replay
//!   never runs it twice; one that only reads simply runs again.
//! - After a restart ([`Pipeline::replay`]) what was never handled runs (within the platform's
//!   reply window), a lost answer is reported, a request too old to answer is dropped with a
//!   word to its author, and one that failed on every replay is given up.
//! - [`Pipeline::upkeep`] starts the requests that waited in the inbox for room, and takes over
//!   those a process that is gone left (another replica that died), by the same rules: one that
//!   waited past the platform's reply window is not run, and its author is told.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::task::TaskTracker;

use super::replay::{self, Replay};
use super::work::{Claim, RUNNING, Work};
use crate::clock::Clock;
use crate::command;
use crate::engine::{Caller, Engine, Reply};
use crate::error_chain;
use crate::message::Message;
use crate::store::{self, Inbound, Store};

/// How often [`Pipeline::upkeep`] looks for requests without a live process to run them.
const UPKEEP_EVERY: Duration = Duration::from_secs(10);

/// Why a request was not taken into the inbox; nothing was stored. [`Pipeline::accept`] logs it.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Its command is longer than any platform lets people type.
    #[error("{}", .0.problem)]
    TooLong(command::ParseError),
    /// The inbox could not store it.
    #[error(transparent)]
    Store(#[from] store::Error),
}

impl Refusal {
    /// What the request's author is told: nothing was done, and why.
    pub fn notice(&self) -> String {
        match self {
            Self::TooLong(e) => format!(
                "⚠️ firewatch did not take that: {}. Nothing was recorded.",
                e.problem
            ),
            Self::Store(_) => "⚠️ firewatch could not record that (its store is unavailable). \
                               Nothing was changed; try again in a moment."
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

    /// Who sent it and from where (the pipeline sets [`Caller::request`]).
    async fn caller(&self, request: &Self::Request) -> Caller;

    /// Delivers the engine's replies to a request from `caller`.
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
    /// [`Refusal`]: the command is too long, or the inbox could not store it; answer with its
    /// [`Refusal::notice`].
    pub async fn accept(&self, request: &A::Request) -> Result<Option<Claim>, Refusal> {
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
        self.work
            .start(claim, async move { pipeline.run(request).await });
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

    #[tracing::instrument(skip_all, fields(request = %A::key(&request)))]
    async fn run(&self, request: A::Request) {
        let key = A::key(&request);
        let mut caller = self.adapter.caller(&request).await;
        caller.request = Some(key.clone());
        let line = A::line(&request);
        let replies = self.engine.handle(&caller, &line).await;
        // Whatever happens while answering, a replay must not run it again (one that changes
        // nothing simply runs again).
        if !command::changes_nothing(&line)
            && let Err(e) = self.inbox.handled_request(&key, self.clock.now()).await
        {
            tracing::warn!(error = %error_chain(&e), "could not mark the request handled");
        }
        self.adapter.answer(&request, &caller, replies).await;
        self.complete(&key).await;
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
        let verdict = replay::triage(&inbound, self.clock.now(), A::REPLY_WINDOW);
        match verdict {
            Replay::Run => return self.run(request).await,
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
