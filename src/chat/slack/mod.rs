//! The Slack adapter: signed slash commands and button presses in, Block Kit messages out.
//!
//! A request's way: [`signature`] the signature → read it ([`payload`]) → store it in the request
//! inbox (dedupe on `trigger_id`) → answer Slack at once → run it on the engine in a task →
//! post the replies with the Web API ([`api`]) → mark it done. Replies meant for the caller
//! alone go back through the command's `response_url`, so only they see them.
//!
//! # Guarantees
//! - A forged, stale or unsigned request changes nothing and posts nothing.
//! - A request delivered twice (a Slack retry) has one effect: the inbox key is
//!   marked done in the same transaction as the effect, and a redelivery is dropped. Two clicks
//!   are two requests; the incident's state machine refuses the second acknowledgement.
//! - A request acknowledged to Slack is not lost by a crash: it sits in the inbox until its
//!   answer is delivered. [`Slack::replay`] runs it at start-up if it was never handled, or tells
//!   the channel that its answer was lost if it was (it never runs twice). A command that only
//!   reads (`/incident-status`, `/incident-help`) simply runs again ([`Command::only_reads`]).

pub mod api;
pub mod blocks;
pub mod channels;
pub mod manifest;
pub mod payload;
pub mod signature;
pub mod socket;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio_util::task::TaskTracker;

use self::api::SlackApi;
use self::blocks::Mentions;
use self::payload::{ButtonPress, SlashCommand};
use crate::chat::Router;
use crate::chat::replay::{self, Replay};
use crate::chat::work::{self, Bounds, Runner, Work};
use crate::clock::Clock;
use crate::command::{self, Command};
use crate::engine::Outbox;
use crate::engine::{Audience, Caller, Engine, Reply};
use crate::error_chain;
use crate::incident::{Actor, ChannelRef, Platform};
use crate::message::Message;
use crate::store::{self, Inbound, Store};

/// Prefix of every Slack key in the request inbox.
const KEY_PREFIX: &str = "slack:";
/// How long Slack lets a command be answered (`response_url` lives 30 minutes).
const REPLY_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(30);

/// One request from Slack, as stored in the inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Delivery {
    /// A slash command.
    Command(SlashCommand),
    /// A press of one of firewatch's buttons.
    Button(ButtonPress),
}

impl Delivery {
    /// The inbox key: one per Slack invocation. Built on every acknowledgement: `concat` sizes it
    /// once, where `format!` grew it twice (about 1 300 instructions per key).
    pub fn key(&self) -> String {
        match self {
            Delivery::Command(c) => [KEY_PREFIX, "command:", &c.trigger_id].concat(),
            Delivery::Button(b) => [KEY_PREFIX, "button:", &b.trigger_id].concat(),
        }
    }

    /// The command line the engine runs.
    pub fn line(&self) -> String {
        match self {
            Delivery::Command(c) => c.line(),
            Delivery::Button(b) => b.command.clone(),
        }
    }

    fn user(&self) -> (&str, Option<&str>) {
        match self {
            Delivery::Command(c) => (&c.user_id, c.user_name.as_deref()),
            Delivery::Button(b) => (&b.user_id, b.user_name.as_deref()),
        }
    }

    fn channel_id(&self) -> &str {
        match self {
            Delivery::Command(c) => &c.channel_id,
            Delivery::Button(b) => &b.channel_id,
        }
    }

    fn response_url(&self) -> Option<&str> {
        match self {
            Delivery::Command(c) => Some(&c.response_url),
            Delivery::Button(b) => b.response_url.as_deref(),
        }
    }

    fn caller(&self) -> Caller {
        let (id, name) = self.user();
        Caller {
            actor: Actor {
                platform: Platform::Slack,
                id: id.to_owned(),
                name: name.unwrap_or(id).to_owned(),
            },
            channel: ChannelRef {
                platform: Platform::Slack,
                id: self.channel_id().to_owned(),
            },
            request: Some(self.key()),
            roles: Vec::new(),
        }
    }
}

/// What the adapter is configured with besides the engine.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Every alert is also posted here.
    pub alerts_channel: Option<String>,
    /// Open `#inc-YYYYMMDD-<slug>` per incident and bind the incident to it.
    pub create_incident_channels: bool,
}

/// The Slack adapter, shared by the HTTP routes and Socket Mode.
pub struct Slack {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    api: Arc<SlackApi>,
    router: Arc<Router>,
    mentions: Arc<Mentions>,
    clock: Arc<dyn Clock>,
    options: Options,
    work: Work<Slack>,
}

impl Slack {
    /// An adapter over the engine and the Web API client; runs go into `tasks`, which
    /// shutdown waits for.
    pub fn new(
        app: &crate::app::startup::App,
        api: Arc<SlackApi>,
        mentions: Arc<Mentions>,
        options: Options,
        tasks: TaskTracker,
    ) -> Arc<Self> {
        Arc::new_cyclic(|slack| Self {
            engine: Arc::clone(&app.engine),
            store: Arc::clone(&app.store),
            api,
            router: Arc::clone(&app.outbox),
            mentions,
            clock: Arc::clone(&app.clock),
            options,
            work: Work::start(
                slack.clone(),
                tasks,
                Bounds::default(),
                Arc::clone(&app.acks),
            ),
        })
    }

    /// Queues a delivery [`Slack::accept`] took for the engine; the caller does not wait for it
    /// (see [`crate::chat::work`]).
    pub fn submit(&self, delivery: Delivery) {
        self.work.submit(delivery);
    }

    /// Stops starting queued deliveries (shutdown): those running finish, the rest stay in the
    /// inbox for the next start.
    pub fn close(&self) {
        self.work.close();
    }

    /// Stores a delivery in the inbox before Slack is answered: `true` when it is new and must
    /// be run, `false` for a redelivery.
    ///
    /// # Errors
    /// The store could not record it (answer the caller that nothing was done).
    pub async fn accept(&self, delivery: &Delivery) -> Result<bool, store::Error> {
        let inbound = Inbound::new(delivery.key(), delivery, self.clock.now());
        self.work.accept(self.store.as_ref(), &inbound).await
    }

    /// Runs an accepted delivery: the engine, then every reply, then marks it done.
    #[tracing::instrument(skip_all, fields(request = %delivery.key()))]
    pub async fn run(&self, delivery: Delivery) {
        let delivery = self.with_user_name(delivery).await;
        let caller = delivery.caller();
        let line = delivery.line();
        let replies = self.engine.handle(&caller, &line).await;
        let command = command::parse(&line).ok().map(|call| call.command);
        // Whatever happens while answering, a replay must not run it again (one that changes
        // nothing simply runs again).
        if command.as_ref().is_some_and(|c| !c.only_reads())
            && let Err(e) = self
                .store
                .handled_request(&delivery.key(), self.clock.now())
                .await
        {
            tracing::warn!(error = %error_chain(&e), "could not mark the request handled");
        }
        let assess = matches!(command, Some(Command::Assess { .. }));
        let replies = if self.options.create_incident_channels && assess {
            channels::open_for_incident(self, &caller, replies).await
        } else {
            replies
        };
        for reply in replies {
            self.deliver(&delivery, &caller, reply, assess).await;
        }
        self.complete(&delivery.key()).await;
    }

    /// Socket Mode commands come without the person's handle: ask Slack for it, so the timeline
    /// reads the same as over HTTP (the user id when Slack cannot say).
    async fn with_user_name(&self, delivery: Delivery) -> Delivery {
        match delivery {
            Delivery::Command(mut command) if command.user_name.is_none() => {
                match self.api.user_name(&command.user_id).await {
                    Ok(name) => command.user_name = name,
                    Err(e) => tracing::warn!(error = %e, "could not look up a user's name"),
                }
                Delivery::Command(command)
            }
            other => other,
        }
    }

    /// What was accepted before a restart but never done. Read it before taking new requests,
    /// so a request that arrives meanwhile is run by its own handler only.
    ///
    /// # Errors
    /// The inbox could not be read.
    pub async fn pending(&self) -> Result<Vec<Inbound>, store::Error> {
        self.store.pending_requests(KEY_PREFIX).await
    }

    /// Deals with `pending` (from [`Slack::pending`]), oldest first: runs what was never
    /// handled, tells the channel about answers that were lost, drops what is too old to answer
    /// (telling its author) and gives up on requests replayed too often. Returns how many ran.
    pub async fn replay(&self, pending: Vec<Inbound>) -> usize {
        let mut replayed = 0;
        for inbound in pending {
            let Ok(delivery) = serde_json::from_str::<Delivery>(&inbound.payload) else {
                tracing::error!(request = %inbound.key, "unreadable stored request; dropped");
                self.complete(&inbound.key).await;
                continue;
            };
            let line = delivery.line();
            let at = inbound.received.format("%H:%M UTC");
            match replay::triage(&inbound, self.clock.now(), REPLY_WINDOW) {
                Replay::Run => {
                    tracing::info!(request = %inbound.key, "running a request accepted before the restart");
                    self.work.submit_waiting(delivery).await;
                    replayed += 1;
                    continue;
                }
                Replay::AnswerLost => {
                    let notice = Message::notice(
                        "♻️ firewatch restarted before it could post an answer",
                        &format!(
                            "It had handled {line} (at {at}); what that did is saved. \
                             /incident-status shows where things stand."
                        ),
                    );
                    let content = blocks::render(&notice, &Mentions::default());
                    if self.api.post(delivery.channel_id(), content).await.is_err() {
                        self.tell_caller(&delivery, &notice).await;
                    }
                }
                Replay::Expired => {
                    let notice = Message::notice(
                        "⌛ firewatch restarted and did not run your command",
                        &format!(
                            "{line} (at {at}) is too old now. Type it again if it is still needed."
                        ),
                    );
                    let (user, _) = delivery.user();
                    let content = blocks::render(&notice, &Mentions::default());
                    if let Err(e) = self
                        .api
                        .post_ephemeral(delivery.channel_id(), user, content)
                        .await
                    {
                        tracing::warn!(error = %e, "could not tell the author of an expired request");
                    }
                }
                Replay::GiveUp => {
                    tracing::error!(request = %inbound.key, attempts = inbound.attempts, "giving up on a request that failed on every replay");
                    let notice = Message::notice(
                        "⚠️ firewatch gave up on a command",
                        &format!(
                            "{line} (at {at}) failed {} times. /incident-status shows where things stand.",
                            inbound.attempts
                        ),
                    );
                    self.tell_caller(&delivery, &notice).await;
                }
            }
            self.complete(&inbound.key).await;
        }
        replayed
    }

    async fn complete(&self, key: &str) {
        if let Err(e) = self.store.complete_request(key, self.clock.now()).await {
            tracing::warn!(error = %error_chain(&e), "could not mark the request delivered");
        }
    }

    async fn deliver(&self, delivery: &Delivery, caller: &Caller, reply: Reply, alert: bool) {
        let Reply { audience, message } = reply;
        let channel = match audience {
            Audience::Caller => return self.tell_caller(delivery, &message).await,
            Audience::Channel(channel) => channel,
        };
        let posted = if channel.platform == Platform::Slack {
            let posted = self
                .api
                .post_message(&channel.id, &message, &self.mentions)
                .await;
            match (posted, &message.attachment) {
                (Ok(_), Some(file)) => self
                    .api
                    .upload(&channel.id, &file.name, &file.content)
                    .await
                    .map_err(|e| format!("the file {} was not attached: {e}", file.name)),
                (Ok(_), None) => Ok(()),
                (Err(e), _) => Err(e.to_string()),
            }
        } else {
            self.router
                .post(&channel, &message)
                .await
                .map_err(|e| e.to_string())
        };
        if let Err(reason) = posted {
            tracing::warn!(channel = %channel.id, %reason, "could not post into the channel");
            let note = Message::notice(
                format!("⚠️ firewatch could not post this in the channel ({reason})"),
                "The change itself is saved. Invite the bot to the channel (/invite @firewatch) so the team sees the next messages.",
            );
            self.tell_caller(delivery, &message).await;
            self.tell_caller(delivery, &note).await;
        } else if channel != caller.channel
            && channel.platform == Platform::Slack
            && !(alert && self.options.create_incident_channels)
        {
            let pointer = blocks::with_channel_link(
                &format!("{} — posted in", message.headline),
                &channel.id,
            );
            self.answer(delivery, pointer).await;
        }
        let is_alert = alert && message.incident.is_some();
        if is_alert
            && let Some(alerts) = &self.options.alerts_channel
            && *alerts != channel.id
        {
            let copy = blocks::render(&message, &self.mentions);
            if let Err(e) = self.api.post(alerts, copy).await {
                tracing::warn!(channel = %alerts, error = %e, "could not post the alert into the alerts channel");
            }
        }
    }

    /// Shows a message to the caller only: `response_url`, else an ephemeral post.
    async fn tell_caller(&self, delivery: &Delivery, message: &Message) {
        self.answer(delivery, blocks::render(message, &Mentions::default()))
            .await;
    }

    async fn answer(
        &self,
        delivery: &Delivery,
        content: slack_morphism::prelude::SlackMessageContent,
    ) {
        let sent = match delivery.response_url() {
            Some(url) => self.api.respond(url, content).await,
            None => {
                let (user, _) = delivery.user();
                self.api
                    .post_ephemeral(delivery.channel_id(), user, content)
                    .await
            }
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not answer the caller");
        }
    }
}

#[async_trait::async_trait]
impl Runner for Slack {
    type Job = Delivery;

    fn key(job: &Delivery) -> String {
        job.key()
    }

    async fn run(&self, job: Delivery) {
        Slack::run(self, job).await;
    }

    async fn backlog(&self, limit: usize) -> Result<Vec<Delivery>, String> {
        work::backlog(self.store.as_ref(), KEY_PREFIX, limit).await
    }
}

/// Slack's request signature for `body` at `timestamp` with `secret`: `v0=<hex hmac>`. Used by
/// tests and the load generator to sign like Slack does.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    sign_text(secret, &timestamp.to_string(), body)
}

/// [`sign`] with the timestamp as the header carries it (tests sign malformed ones too).
pub fn sign_text(secret: &str, timestamp: &str, body: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any size");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body.as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys already in an inbox must still match after an upgrade: a redelivery is recognised by
    /// its key, and the replay at start reads keys by their prefix.
    #[test]
    fn inbox_keys_keep_their_form() {
        let command = SlashCommand {
            team_id: "T1".into(),
            channel_id: "C1".into(),
            user_id: "U1".into(),
            user_name: None,
            command: "/incident-status".into(),
            text: String::new(),
            response_url: "https://hooks.slack.com/commands/1".into(),
            trigger_id: "13345224609.738474920.8088930838d88f008e0".into(),
        };
        let press = ButtonPress {
            user_id: "U1".into(),
            user_name: None,
            channel_id: "C1".into(),
            command: "/incident-ack".into(),
            response_url: None,
            trigger_id: "4.5.6".into(),
        };
        assert_eq!(
            Delivery::Command(command).key(),
            "slack:command:13345224609.738474920.8088930838d88f008e0"
        );
        assert_eq!(Delivery::Button(press).key(), "slack:button:4.5.6");
    }
}
