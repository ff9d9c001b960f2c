//! Runs one command: find the incident, check the state, commit the change, decide the messages.
//!
//! The engine sees neutral [`Invocation`]s and returns neutral [`Reply`]s; it never touches a chat
//! platform's types. It depends on the [`Store`] and [`Clock`] traits, so it runs the same under
//! Slack, Discord, the terminal and tests.
//!
//! # Guarantees
//! A state change is committed to the store before any reply about it is returned.

mod alerts;
mod approve;
mod cluster;
mod diagnose;
mod dispatch;
mod evidence;
mod gate;
mod handlers;
mod help;
mod jobs;
mod messages;
mod mitigate;
mod opening;
pub mod outbox;
mod page;
pub mod paging;
mod read;
mod report;
mod roles;
mod steps;
mod timers;
mod tracked;
mod verify;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio_util::task::TaskTracker;

pub use cluster::Limits;
pub use outbox::Outbox;
pub use paging::{NewsKind, PageNews, Pages};

use crate::approval;
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::command::{self, Invocation};
use crate::error_chain;
use crate::incident::severity::Policy;
use crate::incident::{Actor, ChannelRef, Platform};
use crate::message::Message;
use crate::metrics::{Metrics, Outcome};
use crate::notify::{self, Templates};
use crate::ops::jobs::Verification;
use crate::ops::probe::Prober;
use crate::ops::{Cluster, Runbook};
use crate::store::{self, Store};

/// Who sent a command, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The person.
    pub actor: Actor,
    /// The channel the command was typed in.
    pub channel: ChannelRef,
    /// The platform's id for this delivery (stored in the inbox before it was acknowledged),
    /// marked done with the command's effect so a redelivery or replay has none. `None` where
    /// the platform does not redeliver (the terminal).
    pub request: Option<String>,
    /// The person's platform role ids (a Discord member's roles), for approval policies; empty
    /// where the platform does not say.
    pub roles: Vec<String>,
}

impl Caller {
    /// The person `id` (called `name`) on `platform`, typing in its channel `channel`.
    pub fn new(platform: Platform, id: &str, name: &str, channel: &str) -> Self {
        Self {
            actor: Actor {
                platform,
                id: id.to_owned(),
                name: name.to_owned(),
            },
            channel: ChannelRef {
                platform,
                id: channel.to_owned(),
            },
            request: None,
            roles: Vec::new(),
        }
    }
}

/// Who sees a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Everyone in a channel.
    Channel(ChannelRef),
    /// Only the caller (Slack ephemeral message, Discord ephemeral response).
    Caller,
}

/// A message and who sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Who sees it.
    pub audience: Audience,
    /// What it says.
    pub message: Message,
}

/// Why a command did not go through.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller's mistake, or a refusal: shown to them as it is. Nothing was changed.
    #[error("{headline}: {detail}")]
    User {
        /// One line: what went wrong.
        headline: String,
        /// What to do about it.
        detail: String,
    },
    /// Our failure in the store.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// Our failure in a template.
    #[error(transparent)]
    Render(#[from] notify::Error),
    /// The report file could not be written.
    #[error("cannot write the report to {}", .path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Result of engine operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn refuse(headline: impl Into<String>, detail: impl Into<String>) -> Error {
    Error::User {
        headline: headline.into(),
        detail: detail.into(),
    }
}

/// What an engine is built from.
#[derive(Clone)]
pub struct Parts {
    /// Where incidents live.
    pub store: Arc<dyn Store>,
    /// Severity levels and classification.
    pub policy: Arc<Policy>,
    /// The services incidents can be about.
    pub catalog: Arc<Catalog>,
    /// The message templates.
    pub templates: Arc<Templates>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Where messages the engine posts on its own go (late evidence, reminders).
    pub outbox: Arc<dyn Outbox>,
    /// The folder post-incident reports are written to.
    pub reports: PathBuf,
    /// The Kubernetes cluster and Helm releases of the services.
    pub cluster: Arc<dyn Cluster>,
    /// Bounds of cluster work.
    pub limits: Limits,
    /// The runbook actions `/incident-action` runs.
    pub runbook: Arc<Runbook>,
    /// HTTP probes and Prometheus queries.
    pub prober: Arc<Prober>,
    /// Who must approve which production change.
    pub approvals: Arc<approval::Policy>,
    /// The verification Jobs (`[[jobs]]`) and how they are judged.
    pub verification: Arc<Verification>,
    /// Where commands, approvals and incident milestones are counted.
    pub metrics: Arc<Metrics>,
    /// What incidents alert groups open (`[alerts]`).
    pub alerts: Arc<crate::alerts::Rules>,
}

/// The incident engine.
pub struct Engine {
    store: Arc<dyn Store>,
    policy: Arc<Policy>,
    catalog: Arc<Catalog>,
    templates: Arc<Templates>,
    clock: Arc<dyn Clock>,
    outbox: Arc<dyn Outbox>,
    reports: PathBuf,
    cluster: Arc<dyn Cluster>,
    limits: Limits,
    runbook: Arc<Runbook>,
    prober: Arc<Prober>,
    approvals: Arc<approval::Policy>,
    verification: Arc<Verification>,
    metrics: Arc<Metrics>,
    alerts: Arc<crate::alerts::Rules>,
    /// The verification Jobs this process watches (by name).
    watching: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// Dropped with the engine: the Job watchers of this process stop with it (a restart
    /// resumes them, see [`Engine::resume_jobs`]).
    alive: tokio::sync::watch::Sender<()>,
    /// Whether Jobs an earlier process left running are watched again (first scheduler pass).
    jobs_resumed: AtomicBool,
    /// This process, as the runner of the approval requests it claims.
    runner: String,
    /// Work a command leaves running after its answer (mirror posts, late evidence), so that
    /// shutdown can wait for it.
    background: TaskTracker,
    /// When requests a gone process left running are looked for next (`None`: on the next
    /// scheduler pass).
    next_recovery: std::sync::Mutex<Option<std::time::Instant>>,
    /// Where action items are filed as issues (`[followups] tracker`), when anywhere.
    tracker: Option<Arc<crate::tracker::Tracker>>,
    /// Whether this process looked for action items a crash left unfiled
    /// ([`Engine::file_what_a_crash_lost`]).
    refiled: AtomicBool,
    /// Where reports are committed (`[reports] github`), when anywhere.
    published: Option<Arc<crate::tracker::report::Reports>>,
    /// Where pages go ([`Engine::page_through`]); none: nothing is paged.
    pages: Option<Arc<dyn Pages>>,
}

impl Engine {
    /// An engine over these parts.
    pub fn new(parts: Parts) -> Self {
        Self {
            runner: parts.store.process().to_owned(),
            store: parts.store,
            policy: parts.policy,
            catalog: parts.catalog,
            templates: parts.templates,
            clock: parts.clock,
            outbox: parts.outbox,
            reports: parts.reports,
            cluster: parts.cluster,
            limits: parts.limits,
            runbook: parts.runbook,
            prober: parts.prober,
            approvals: parts.approvals,
            verification: parts.verification,
            metrics: parts.metrics,
            alerts: parts.alerts,
            watching: Arc::default(),
            alive: tokio::sync::watch::channel(()).0,
            jobs_resumed: AtomicBool::new(false),
            background: TaskTracker::new(),
            next_recovery: std::sync::Mutex::new(None),
            tracker: None,
            refiled: AtomicBool::new(false),
            published: None,
            pages: None,
        }
    }

    /// This engine, committing reports to GitHub with `reports`.
    #[must_use]
    pub fn with_report_publishing(mut self, reports: Arc<crate::tracker::report::Reports>) -> Self {
        self.published = Some(reports);
        self
    }

    /// This engine, filing action items as issues with `tracker`.
    #[must_use]
    pub fn with_tracker(mut self, tracker: Arc<crate::tracker::Tracker>) -> Self {
        self.tracker = Some(tracker);
        self
    }

    /// What incidents alert groups open (`[alerts]`).
    pub fn alert_rules(&self) -> &crate::alerts::Rules {
        &self.alerts
    }

    /// Waits up to `within` for the work commands left running after their answers (mirror
    /// posts, late evidence); returns whether all of it finished. New work still starts (a
    /// command being drained may leave some), and is waited for too.
    pub async fn finish_background(&self, within: Duration) -> bool {
        self.background.close();
        let done = tokio::time::timeout(within, self.background.wait())
            .await
            .is_ok();
        self.background.reopen();
        done
    }

    /// Parses and runs one command text. Never fails: every problem becomes a reply to the caller
    /// (an internal failure an apology: [`Failure::apology`]).
    pub async fn handle(&self, caller: &Caller, text: &str) -> Vec<Reply> {
        self.attempt(caller, text).await.replies()
    }

    /// Parses and runs one command text, for a caller that can run it again: what it came to,
    /// telling an internal failure (worth trying again) from a final answer.
    #[tracing::instrument(skip(self, caller, text), fields(user = %caller.actor.id, channel = %caller.channel.id))]
    pub async fn attempt(&self, caller: &Caller, text: &str) -> Answer {
        match command::parse(text) {
            Ok(invocation) => self.run_once(caller, invocation).await,
            Err(e) => {
                self.metrics
                    .command(None, caller.actor.platform, Outcome::Refused);
                Answer::Refused(vec![private(Message::notice(
                    "⚠️ Could not read that command",
                    &e.to_string(),
                ))])
            }
        }
    }

    /// Runs a parsed command. Never fails: every problem becomes a reply to the caller.
    pub async fn run(&self, caller: &Caller, invocation: Invocation) -> Vec<Reply> {
        self.run_once(caller, invocation).await.replies()
    }

    async fn run_once(&self, caller: &Caller, invocation: Invocation) -> Answer {
        let name = invocation.command.name();
        let answer = self.dispatch(caller, invocation).await;
        let outcome = match &answer {
            Ok(_) => Outcome::Ok,
            Err(Error::Store(store::Error::Replayed(_))) => Outcome::Replayed,
            Err(Error::User { .. }) => Outcome::Refused,
            Err(_) => Outcome::Failed,
        };
        self.metrics
            .command(Some(name), caller.actor.platform, outcome);
        match answer {
            Ok(replies) => {
                self.mirror(&replies);
                Answer::Final(replies)
            }
            Err(Error::Store(store::Error::Replayed(key))) => {
                tracing::info!(request = %key, command = %name, "already handled; no effect");
                Answer::Replayed
            }
            Err(Error::User { headline, detail }) => {
                Answer::Refused(vec![refused(&headline, &detail)])
            }
            Err(internal) => {
                let reference = error_reference();
                tracing::error!(
                    error = %error_chain(&internal),
                    reference = %reference,
                    command = %name,
                    "command failed"
                );
                Answer::Failed(Failure { reference })
            }
        }
    }

    /// Copies the channel messages about an incident to the mirrors (the Discord status
    /// channel), in the background: the caller's answer never waits for them.
    fn mirror(&self, replies: &[Reply]) {
        for reply in replies {
            if let Audience::Channel(channel) = &reply.audience
                && reply.message.incident.is_some()
            {
                let outbox = Arc::clone(&self.outbox);
                let (channel, message) = (channel.clone(), reply.message.clone());
                self.background
                    .spawn(async move { outbox.mirror(&channel, &message).await });
            }
        }
    }
}

/// What running one command came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It ran, or only read: the replies that answer it.
    Final(Vec<Reply>),
    /// It was refused for a reason that running it again would not change (the caller's
    /// mistake, the incident's state); nothing was changed. The replies say why.
    Refused(Vec<Reply>),
    /// Its request was marked done by an earlier run (a redelivery, or a run again after a
    /// failure that came after its change was committed): nothing was done this time.
    Replayed,
    /// It failed for an internal reason (the store unavailable, a connection lost, a full disk),
    /// logged with its cause. A change is committed with its request's mark, so running it again
    /// either makes the change or finds it made ([`Answer::Replayed`]).
    Failed(Failure),
}

impl Answer {
    /// The replies for a caller that will not run it again: a failure's apology, nothing for a
    /// replay.
    pub fn replies(self) -> Vec<Reply> {
        match self {
            Self::Final(replies) | Self::Refused(replies) => replies,
            Self::Replayed => Vec::new(),
            Self::Failed(failure) => vec![failure.apology()],
        }
    }
}

/// An internal failure of one run of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The short random reference its log line carries.
    pub reference: String,
}

impl Failure {
    /// What the caller is told when the command is not run again (the terminal): it may or may
    /// not have been saved (a connection lost during a commit leaves that open).
    pub fn apology(&self) -> Reply {
        private(Message::notice(
            "⚠️ Sorry, firewatch failed to handle that",
            &format!(
                "This is our failure, not yours (reference {}). /incident-status shows whether \
                 it was saved; try again if it was not.",
                self.reference
            ),
        ))
    }
}

/// A refusal, as the caller reads it.
fn refused(headline: &str, detail: &str) -> Reply {
    private(Message::notice(format!("⚠️ {headline}"), detail))
}

fn private(message: Message) -> Reply {
    Reply {
        audience: Audience::Caller,
        message,
    }
}

fn to_channel(channel: &ChannelRef, message: Message) -> Reply {
    Reply {
        audience: Audience::Channel(channel.clone()),
        message,
    }
}

/// A short random reference that ties an apology to its log line.
pub(crate) fn error_reference() -> String {
    format!(
        "{:08x}",
        RandomState::new().hash_one(std::time::SystemTime::now()) as u32
    )
}
