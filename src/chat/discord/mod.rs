//! The Discord adapter: `/incident <subcommand>` and button presses in (over HTTP or the
//! gateway), embeds out, and the status-channel mirror of every incident message.
//!
//! An interaction's way: its [`signature`] checked (HTTP only) → [`interaction::read`] → the
//! chat pipeline ([`crate::chat::pipeline`]: inbox, dedupe on the interaction id, the engine in a
//! task) with a deferred answer at once → the result stored in the outbox and sent from there
//! through the interaction's edit/follow-up endpoints ([`outbox`], [`api`]).
//!
//! # Guarantees
//! A bad signature changes nothing and posts nothing. (Redeliveries and restarts: see the
//! pipeline; an interaction replays within its 15-minute token.)

pub mod api;
pub mod commands;
pub mod embed;
pub mod gateway;
pub mod interaction;
pub mod outbox;
pub mod signature;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeDelta;
use serde_json::{Value, json};

pub use self::outbox::DiscordOutbox;

use self::api::DiscordApi;
use self::interaction::Call;
use self::outbox::{Answering, EPHEMERAL};
use crate::approval::Roles;
use crate::chat::Served;
use crate::chat::pipeline::Adapter;
use crate::chat::replay::Replay;
use crate::command;
use crate::delivery::Sender;
use crate::engine::outbox::{self as engine_outbox, Outbox};
use crate::engine::{Audience, Caller, Reply};
use crate::incident::{ChannelRef, Platform};
use crate::message::Message;

/// Prefix of every Discord key in the request inbox.
const KEY_PREFIX: &str = "discord:";

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

/// The immediate answer to an interaction that was not taken: `text`, to its author only.
pub fn refusal(text: &str) -> Value {
    json!({"type": 4, "data": {"flags": EPHEMERAL, "content": text}})
}

/// The Discord side of the chat pipeline, shared by the HTTP route and the gateway: who sent an
/// interaction, and how its answers reach them.
pub struct Discord {
    api: Arc<DiscordApi>,
    /// Where the interaction's answers are stored before they are sent.
    posts: Arc<Sender>,
    /// Where messages for other channels go.
    outbox: Arc<dyn Outbox>,
    roles: Arc<Roles>,
    /// The servers whose interactions are taken (`discord.guild_ids`).
    guilds: Served,
}

impl Discord {
    /// An adapter answering through `posts` (sent with `api`), taking interactions from
    /// `guilds`; replies for other channels go to `outbox`.
    pub fn new(
        api: Arc<DiscordApi>,
        posts: Arc<Sender>,
        outbox: Arc<dyn Outbox>,
        roles: Arc<Roles>,
        guilds: Served,
    ) -> Self {
        Self {
            api,
            posts,
            outbox,
            roles,
            guilds,
        }
    }

    /// The REST client (the gateway answers through it).
    pub fn api(&self) -> &DiscordApi {
        &self.api
    }
}

/// Mirrors every incident message, from any platform, into the status channel.
pub struct StatusMirror {
    outbox: DiscordOutbox,
    channel: ChannelRef,
}

impl StatusMirror {
    /// A mirror into `status_channel_id`, through the outbox.
    pub fn new(posts: Arc<Sender>, roles: Arc<Roles>, status_channel_id: &str) -> Self {
        Self {
            outbox: DiscordOutbox::new(posts, roles),
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
    async fn post(&self, channel: &ChannelRef, message: &Message) -> engine_outbox::Result<()> {
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
impl Adapter for Discord {
    type Request = Call;
    const PREFIX: &'static str = KEY_PREFIX;
    /// The interaction token lives 15 minutes.
    const REPLY_WINDOW: TimeDelta = TimeDelta::minutes(15);

    fn key(call: &Call) -> String {
        format!("{KEY_PREFIX}{}", call.id)
    }

    fn line(call: &Call) -> String {
        call.line.clone()
    }

    fn admit(&self, call: &Call) -> Result<(), String> {
        if self.guilds.admits(call.guild_id.as_deref()) {
            return Ok(());
        }
        tracing::warn!(guild = ?call.guild_id, user = %call.user_id, "refused an interaction from a server firewatch does not serve (discord.guild_ids)");
        Err(match call.guild_id {
            Some(_) => "firewatch does not take commands from this Discord server.".into(),
            None => "firewatch does not take commands in direct messages: use /incident in your team's server.".into(),
        })
    }

    async fn caller(&self, call: &Call) -> Caller {
        let caller = Caller::new(
            Platform::Discord,
            &call.user_id,
            &call.user_name,
            &call.channel_id,
        );
        Caller {
            roles: call.roles.clone(),
            ..caller
        }
    }

    /// Delivers the replies: the first message for this channel replaces the deferred answer,
    /// the rest follow up; caller-only ones are ephemeral; other channels go through the
    /// engine's outbox. The interaction's answers are stored together, in order.
    async fn answer(&self, call: &Call, caller: &Caller, replies: Vec<Reply>) {
        let mut original_pending = !call.button;
        let private_defer = !call.button && private(call);
        let mut posts = Vec::new();
        for Reply { audience, message } in replies {
            let how = match audience {
                Audience::Channel(channel) if channel != caller.channel => {
                    match self.outbox.post(&channel, &message).await {
                        Ok(()) => continue,
                        Err(e) => {
                            tracing::warn!(channel = %channel.id, error = %e, "could not post into the incident's channel");
                            Answering::Private
                        }
                    }
                }
                Audience::Channel(_) if original_pending && !private_defer => {
                    original_pending = false;
                    Answering::Original
                }
                Audience::Channel(_) => Answering::FollowUp,
                Audience::Caller if original_pending && private_defer => {
                    original_pending = false;
                    Answering::Original
                }
                Audience::Caller if original_pending => {
                    // The deferral was public (a command that changes something): an answer for
                    // the caller alone (a refusal) must not replace it for the whole channel.
                    original_pending = false;
                    let withdraw = Answering::Withdraw;
                    let done = Message::notice("", "");
                    posts.push(outbox::answer(
                        &self.posts,
                        call,
                        withdraw,
                        &done,
                        &self.roles,
                    ));
                    Answering::Private
                }
                Audience::Caller => Answering::Private,
            };
            posts.push(outbox::answer(
                &self.posts,
                call,
                how,
                &message,
                &self.roles,
            ));
        }
        if original_pending {
            let done = Message::notice("✅ Done", "");
            let how = Answering::Original;
            posts.push(outbox::answer(&self.posts, call, how, &done, &self.roles));
        }
        self.posts.send(posts).await;
    }

    /// Posted in the interaction's channel as the bot: its token may have expired.
    async fn tell(&self, call: &Call, _replay: Replay, notice: Message) {
        let post = outbox::channel_post(&self.posts, &call.channel_id, &notice, &self.roles);
        self.posts.send(vec![post]).await;
    }
}
