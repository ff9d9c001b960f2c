//! The Discord adapter: `/incident <subcommand>` and button presses in (over HTTP or the
//! gateway), embeds out, and the status-channel mirror of every incident message.
//!
//! An interaction's way: [`signature`] (HTTP only) → [`interaction::read`] → the request inbox
//! (dedupe on the interaction id) → a deferred answer at once → the engine in a task → the
//! result through the interaction's edit/follow-up endpoints ([`api`]) → marked done.
//!
//! # Guarantees
//! As for Slack: a bad signature changes nothing; an interaction delivered twice has one effect;
//! one acknowledged before a crash runs once after the restart (within its 15-minute token).

pub mod api;
pub mod commands;
pub mod embed;
pub mod gateway;
pub mod interaction;
pub mod signature;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio_util::task::TaskTracker;

use self::api::DiscordApi;
use self::embed::Mentions;
use self::interaction::Call;
use crate::chat::Router;
use crate::chat::replay::{self, Replay};
use crate::chat::work::{self, Bounds, Runner, Work};
use crate::clock::Clock;
use crate::command;
use crate::engine::outbox::{self, Outbox};
use crate::engine::{Audience, Caller, Engine, Reply};
use crate::error_chain;
use crate::incident::{Actor, ChannelRef, Platform};
use crate::message::Message;
use crate::store::{self, Inbound, Store};

const KEY_PREFIX: &str = "discord:";
/// How long Discord lets an interaction be answered (its token lives 15 minutes).
const REPLY_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
const EPHEMERAL: u64 = 1 << 6;

/// The inbox key of an interaction.
pub fn key(call: &Call) -> String {
    format!("{KEY_PREFIX}{}", call.id)
}

/// Whether the deferred answer is private: commands that change nothing (status, help).
fn private(call: &Call) -> bool {
    command::changes_nothing(&call.line)
}

/// The immediate answer to an interaction: "thinking…" for commands (private for reads),
/// a deferred update for buttons.
pub fn deferral(call: &Call) -> Value {
    if call.button {
        json!({"type": 6})
    } else if private(call) {
        json!({"type": 5, "data": {"flags": EPHEMERAL}})
    } else {
        json!({"type": 5})
    }
}

/// The Discord adapter, shared by the HTTP route and the gateway.
pub struct Discord {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    api: Arc<DiscordApi>,
    router: Arc<Router>,
    mentions: Arc<Mentions>,
    clock: Arc<dyn Clock>,
    work: Work<Discord>,
}

impl Discord {
    /// An adapter over the engine and the REST client; runs go into `tasks`, which shutdown
    /// waits for.
    pub fn new(
        app: &crate::app::startup::App,
        api: Arc<DiscordApi>,
        tasks: TaskTracker,
    ) -> Arc<Self> {
        Arc::new_cyclic(|discord| Self {
            engine: Arc::clone(&app.engine),
            store: Arc::clone(&app.store),
            api,
            router: Arc::clone(&app.outbox),
            mentions: Arc::new(Mentions::new(&app.settings.roles)),
            clock: Arc::clone(&app.clock),
            work: Work::start(
                discord.clone(),
                tasks,
                Bounds::default(),
                Arc::clone(&app.acks),
            ),
        })
    }

    /// Queues an interaction [`Discord::accept`] took for the engine; the caller does not wait
    /// for it (see [`crate::chat::work`]).
    pub fn submit(&self, call: Call) {
        self.work.submit(call);
    }

    /// Stops starting queued interactions (shutdown): those running finish, the rest stay in
    /// the inbox for the next start.
    pub fn close(&self) {
        self.work.close();
    }

    /// The REST client (the gateway answers through it).
    pub fn api(&self) -> &DiscordApi {
        &self.api
    }

    /// Stores an interaction before it is answered: `true` when new.
    ///
    /// # Errors
    /// The store could not record it.
    pub async fn accept(&self, call: &Call) -> Result<bool, store::Error> {
        let inbound = Inbound::new(key(call), call, self.clock.now());
        self.work.accept(self.store.as_ref(), &inbound).await
    }

    /// Runs an accepted interaction and answers it; marks it done.
    #[tracing::instrument(skip_all, fields(request = %key(&call)))]
    pub async fn run(&self, call: Call) {
        let caller = Caller {
            actor: Actor {
                platform: Platform::Discord,
                id: call.user_id.clone(),
                name: call.user_name.clone(),
            },
            channel: ChannelRef {
                platform: Platform::Discord,
                id: call.channel_id.clone(),
            },
            request: Some(key(&call)),
            roles: call.roles.clone(),
        };
        let replies = self.engine.handle(&caller, &call.line).await;
        // Whatever happens while answering, a replay must not run it again (one that changes
        // nothing simply runs again).
        if !command::changes_nothing(&call.line)
            && let Err(e) = self
                .store
                .handled_request(&key(&call), self.clock.now())
                .await
        {
            tracing::warn!(error = %error_chain(&e), "could not mark the interaction handled");
        }
        self.answer(&call, &caller, replies).await;
        self.complete(&key(&call)).await;
    }

    async fn complete(&self, key: &str) {
        if let Err(e) = self.store.complete_request(key, self.clock.now()).await {
            tracing::warn!(error = %error_chain(&e), "could not mark the interaction delivered");
        }
    }

    /// What the inbox holds from before a restart (read before taking new interactions).
    ///
    /// # Errors
    /// The inbox could not be read.
    pub async fn pending(&self) -> Result<Vec<Inbound>, store::Error> {
        self.store.pending_requests(KEY_PREFIX).await
    }

    /// Deals with `pending`, oldest first, by the rules of [`replay::triage`]; an answer that
    /// was lost is reported in the interaction's channel (as the bot). Returns how many ran.
    pub async fn replay(&self, pending: Vec<Inbound>) -> usize {
        let mut replayed = 0;
        for inbound in pending {
            let Ok(call) = serde_json::from_str::<Call>(&inbound.payload) else {
                tracing::error!(request = %inbound.key, "unreadable stored interaction; dropped");
                self.complete(&inbound.key).await;
                continue;
            };
            let at = inbound.received.format("%H:%M UTC");
            let notice = match replay::triage(&inbound, self.clock.now(), REPLY_WINDOW) {
                Replay::Run => {
                    self.work.submit_waiting(call).await;
                    replayed += 1;
                    continue;
                }
                Replay::AnswerLost => Message::notice(
                    "♻️ firewatch restarted before it could post an answer",
                    &format!(
                        "It had handled {} from {} (at {at}); what that did is saved. \
                         /incident-status shows where things stand.",
                        call.line, call.user_name
                    ),
                ),
                Replay::Expired => Message::notice(
                    "⌛ firewatch restarted and did not run a command",
                    &format!(
                        "{} from {} (at {at}) is too old now. Type it again if it is still needed.",
                        call.line, call.user_name
                    ),
                ),
                Replay::GiveUp => {
                    tracing::error!(request = %inbound.key, attempts = inbound.attempts, "giving up on an interaction that failed on every replay");
                    Message::notice(
                        "⚠️ firewatch gave up on a command",
                        &format!(
                            "{} from {} (at {at}) failed {} times. /incident-status shows where things stand.",
                            call.line, call.user_name, inbound.attempts
                        ),
                    )
                }
            };
            let body = embed::render(&notice, &self.mentions);
            if let Err(e) = self.api.send(&call.channel_id, &body, None).await {
                tracing::warn!(error = %e, "could not report a lost interaction");
            }
            self.complete(&inbound.key).await;
        }
        replayed
    }

    /// Delivers the replies: the first message for this channel replaces the deferred answer,
    /// the rest follow up; caller-only ones are ephemeral; other channels go through the router.
    async fn answer(&self, call: &Call, caller: &Caller, replies: Vec<Reply>) {
        let mut original_pending = !call.button;
        let private_defer = !call.button && private(call);
        for Reply { audience, message } in replies {
            let mut body = embed::render(&message, &self.mentions);
            let file = message.attachment.as_ref();
            let sent = match audience {
                Audience::Channel(channel) if channel != caller.channel => {
                    match self.router.post(&channel, &message).await {
                        Ok(()) => continue,
                        Err(e) => {
                            tracing::warn!(channel = %channel.id, error = %e, "could not post into the incident's channel");
                            body["flags"] = json!(EPHEMERAL);
                            self.api.follow_up(&call.token, &body, file).await
                        }
                    }
                }
                Audience::Channel(_) if original_pending && !private_defer => {
                    original_pending = false;
                    self.api.edit_original(&call.token, &body, file).await
                }
                Audience::Channel(_) => self.api.follow_up(&call.token, &body, file).await,
                Audience::Caller if original_pending => {
                    original_pending = false;
                    self.api.edit_original(&call.token, &body, file).await
                }
                Audience::Caller => {
                    body["flags"] = json!(EPHEMERAL);
                    self.api.follow_up(&call.token, &body, file).await
                }
            };
            match sent {
                Ok(posted) => {
                    if let Some(card) = &message.card {
                        self.api
                            .card_step(card, &posted, &body, &message.headline)
                            .await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not answer the interaction"),
            }
        }
        if original_pending {
            let done = embed::render(&Message::notice("✅ Done", ""), &self.mentions);
            if let Err(e) = self.api.edit_original(&call.token, &done, None).await {
                tracing::warn!(error = %e, "could not close the deferred answer");
            }
        }
    }
}

/// Posts into Discord channels as the bot, for the [`Router`].
pub struct DiscordOutbox {
    api: Arc<DiscordApi>,
    mentions: Arc<Mentions>,
}

impl DiscordOutbox {
    /// An outbox over `api`.
    pub fn new(api: Arc<DiscordApi>, mentions: Arc<Mentions>) -> Self {
        Self { api, mentions }
    }
}

#[async_trait]
impl Outbox for DiscordOutbox {
    async fn post(&self, channel: &ChannelRef, message: &Message) -> outbox::Result<()> {
        let body = embed::render(message, &self.mentions);
        let posted = self
            .api
            .send(&channel.id, &body, message.attachment.as_ref())
            .await
            .map_err(|e| outbox::Error::Platform {
                platform: Platform::Discord,
                reason: e.to_string(),
            })?;
        if let Some(card) = &message.card {
            self.api
                .card_step(card, &posted, &body, &message.headline)
                .await;
        }
        Ok(())
    }
}

/// Mirrors every incident message, from any platform, into the status channel.
pub struct StatusMirror {
    outbox: DiscordOutbox,
    channel: ChannelRef,
}

impl StatusMirror {
    /// A mirror into `status_channel_id`.
    pub fn new(api: Arc<DiscordApi>, mentions: Arc<Mentions>, status_channel_id: &str) -> Self {
        Self {
            outbox: DiscordOutbox::new(api, mentions),
            channel: ChannelRef {
                platform: Platform::Discord,
                id: status_channel_id.to_owned(),
            },
        }
    }
}

#[async_trait]
impl Outbox for StatusMirror {
    /// Posts `message` into the status channel, unless it is about no incident or was
    /// posted there already.
    async fn post(&self, channel: &ChannelRef, message: &Message) -> outbox::Result<()> {
        if message.incident.is_none() || *channel == self.channel {
            return Ok(());
        }
        let mut copy = message.clone();
        // Stakeholders follow along; the buttons (and the card they drive) belong to the
        // responders' channel.
        copy.buttons.clear();
        copy.card = None;
        self.outbox.post(&self.channel, &copy).await
    }
}

#[async_trait]
impl Runner for Discord {
    type Job = Call;

    fn key(job: &Call) -> String {
        key(job)
    }

    async fn run(&self, job: Call) {
        Discord::run(self, job).await;
    }

    async fn backlog(&self, limit: usize) -> Result<Vec<Call>, String> {
        work::backlog(self.store.as_ref(), KEY_PREFIX, limit).await
    }
}
