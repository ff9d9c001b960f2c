//! The Discord adapter: `/incident <subcommand>` and button presses in (over HTTP or the
//! gateway), embeds out, and the status-channel mirror of every incident message.
//!
//! An interaction's way: its [`signature`] checked (HTTP only) → [`interaction::read`] → the
//! chat pipeline ([`crate::chat::pipeline`]: inbox, dedupe on the interaction id, the engine in a
//! task) with a deferred answer at once → the result through the interaction's edit/follow-up
//! endpoints ([`api`]).
//!
//! # Guarantees
//! A bad signature changes nothing and posts nothing. (Redeliveries and restarts: see the
//! pipeline; an interaction replays within its 15-minute token.)

pub mod api;
pub mod commands;
pub mod embed;
pub mod gateway;
pub mod interaction;
pub mod signature;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeDelta;
use serde_json::{Value, json};

use self::api::DiscordApi;
use self::interaction::Call;
use crate::approval::Roles;
use crate::chat::pipeline::Adapter;
use crate::chat::replay::Replay;
use crate::command;
use crate::engine::outbox::{self, Outbox};
use crate::engine::{Audience, Caller, Reply};
use crate::incident::{ChannelRef, Platform};
use crate::message::Message;

/// Prefix of every Discord key in the request inbox.
const KEY_PREFIX: &str = "discord:";
const EPHEMERAL: u64 = 1 << 6;

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
    /// Where messages for other channels go.
    outbox: Arc<dyn Outbox>,
    roles: Arc<Roles>,
}

impl Discord {
    /// An adapter answering with `api`; replies for other channels go to `outbox`.
    pub fn new(api: Arc<DiscordApi>, outbox: Arc<dyn Outbox>, roles: Arc<Roles>) -> Self {
        Self { api, outbox, roles }
    }

    /// The REST client (the gateway answers through it).
    pub fn api(&self) -> &DiscordApi {
        &self.api
    }
}

/// Posts into Discord channels as the bot, for the [`crate::chat::Router`].
pub struct DiscordOutbox {
    api: Arc<DiscordApi>,
    roles: Arc<Roles>,
}

impl DiscordOutbox {
    /// An outbox over `api`.
    pub fn new(api: Arc<DiscordApi>, roles: Arc<Roles>) -> Self {
        Self { api, roles }
    }
}

#[async_trait]
impl Outbox for DiscordOutbox {
    async fn post(&self, channel: &ChannelRef, message: &Message) -> outbox::Result<()> {
        let body = embed::render(message, &self.roles);
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
    pub fn new(api: Arc<DiscordApi>, roles: Arc<Roles>, status_channel_id: &str) -> Self {
        Self {
            outbox: DiscordOutbox::new(api, roles),
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
    /// the rest follow up; caller-only ones are ephemeral; other channels go through the outbox.
    async fn answer(&self, call: &Call, caller: &Caller, replies: Vec<Reply>) {
        let mut original_pending = !call.button;
        let private_defer = !call.button && private(call);
        for Reply { audience, message } in replies {
            let mut body = embed::render(&message, &self.roles);
            let file = message.attachment.as_ref();
            let sent = match audience {
                Audience::Channel(channel) if channel != caller.channel => {
                    match self.outbox.post(&channel, &message).await {
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
            let done = embed::render(&Message::notice("✅ Done", ""), &self.roles);
            if let Err(e) = self.api.edit_original(&call.token, &done, None).await {
                tracing::warn!(error = %e, "could not close the deferred answer");
            }
        }
    }

    /// Posted in the interaction's channel as the bot: its token may have expired.
    async fn tell(&self, call: &Call, _replay: Replay, notice: Message) {
        let body = embed::render(&notice, &self.roles);
        if let Err(e) = self.api.send(&call.channel_id, &body, None).await {
            tracing::warn!(error = %e, "could not report a lost interaction");
        }
    }
}
