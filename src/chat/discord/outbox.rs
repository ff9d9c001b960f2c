//! Discord's side of the outbox: the posts the adapter and the engine store (a message into a
//! channel as the bot, an interaction's answers), the [`DiscordCourier`] that sends one with the
//! REST API and says what became of it, and [`DiscordOutbox`], the engine's way into Discord
//! channels.
//!
//! All of an interaction's answers go through the outbox, the private ones too, in the lane of
//! the channel it was typed in, and are given up when its token expires (15 minutes): the first
//! one replaces the deferred answer, which is the channel's public answer to a command (the 🚨
//! alert of `/incident assess`), and the answers after it must not overtake it.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::api::{DiscordApi, Error, Target};
use super::embed;
use super::interaction::Call;
use crate::approval::Roles;
use crate::delivery::{Courier, Sender, Sent};
use crate::engine::outbox::{self, Outbox};
use crate::incident::ChannelRef;
use crate::message::{Attachment, Card, Message};
use crate::store::Post;

/// The outbox kind of Discord posts.
pub const KIND: &str = "discord";

/// How long an interaction's token takes answers.
pub const TOKEN_LIFETIME: TimeDelta = TimeDelta::minutes(15);

/// The flag that shows a message to the interaction's author only.
pub const EPHEMERAL: u64 = 1 << 6;

/// One Discord message, as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct DiscordPost {
    target: Target,
    /// The message as Discord takes it (embeds, components, allowed mentions, flags).
    body: Value,
    file: Option<Attachment>,
    /// The card it is a step of (an approval request), and that step's headline.
    card: Option<(Card, String)>,
}

/// A post of `message` into channel `channel`, as the bot.
pub fn channel_post(sender: &Sender, channel: &str, message: &Message, roles: &Roles) -> Post {
    let target = Target::Channel(channel.to_owned());
    post(sender, channel, target, message, roles, false)
}

/// How a message answers an interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answering {
    /// It replaces the deferred answer (public or private, as the deferral was).
    Original,
    /// A follow-up everyone in the channel sees.
    FollowUp,
    /// A follow-up only the interaction's author sees.
    Private,
    /// The deferred answer deleted: a public "thinking…" whose answers are all private.
    Withdraw,
}

/// A post answering interaction `call` with `message`, as `how` says; given up when the
/// interaction's token expires.
pub fn answer(
    sender: &Sender,
    call: &Call,
    how: Answering,
    message: &Message,
    roles: &Roles,
) -> Post {
    let token = call.token.clone();
    let target = match how {
        Answering::Original => Target::Original(token),
        Answering::FollowUp | Answering::Private => Target::FollowUp(token),
        Answering::Withdraw => Target::Withdrawn(token),
    };
    let private = how == Answering::Private;
    let mut post = post(sender, &call.channel_id, target, message, roles, private);
    post.give_up_at = post.give_up_at.min(post.stored + TOKEN_LIFETIME);
    post
}

fn post(
    sender: &Sender,
    channel: &str,
    target: Target,
    message: &Message,
    roles: &Roles,
    private: bool,
) -> Post {
    let mut body = embed::render(message, roles);
    if private {
        body["flags"] = json!(EPHEMERAL);
    }
    let discord = DiscordPost {
        target,
        body,
        file: message.attachment.clone(),
        card: message
            .card
            .clone()
            .map(|card| (card, message.headline.clone())),
    };
    sender.post(KIND, channel, &discord, &message.headline, message.incident)
}

/// Sends Discord posts from the outbox with the REST API.
pub struct DiscordCourier {
    api: Arc<DiscordApi>,
}

impl DiscordCourier {
    /// A courier sending with `api`.
    pub fn new(api: Arc<DiscordApi>) -> Self {
        Self { api }
    }
}

#[async_trait]
impl Courier for DiscordCourier {
    async fn send(&self, post: &Post) -> Sent {
        let Ok(discord) = serde_json::from_str::<DiscordPost>(&post.payload) else {
            return Sent::Refused("the stored Discord post is unreadable".into());
        };
        let file = discord.file.as_ref();
        match self.api.deliver(&discord.target, &discord.body, file).await {
            Ok(posted) => {
                if let Some((card, step)) = &discord.card {
                    self.api.card_step(card, &posted, &discord.body, step).await;
                }
                Sent::Delivered
            }
            Err(e) => outcome(&e),
        }
    }
}

/// What a failed REST call means for a post: a 429, a 5xx or a lost connection is tried again;
/// any other answer (an expired token, a channel the bot cannot see) is a refusal.
fn outcome(error: &Error) -> Sent {
    let reason = error.to_string();
    match error {
        Error::RateLimited { wait, .. } => Sent::from_status(429, Some(*wait), reason),
        Error::Api { status, .. } => Sent::from_status(*status, None, reason),
        Error::Transport(_) => Sent::retry(reason),
        Error::Client(_) => Sent::Refused(reason),
    }
}

/// The engine's way into Discord channels (as the bot): its posts go into the outbox.
pub struct DiscordOutbox {
    sender: Arc<Sender>,
    roles: Arc<Roles>,
}

impl DiscordOutbox {
    /// Stores posts with `sender`, mentioning the members of the paged roles.
    pub fn new(sender: Arc<Sender>, roles: Arc<Roles>) -> Self {
        Self { sender, roles }
    }
}

#[async_trait]
impl Outbox for DiscordOutbox {
    async fn post(&self, channel: &ChannelRef, message: &Message) -> outbox::Result<()> {
        let post = channel_post(&self.sender, &channel.id, message, &self.roles);
        self.sender.send(vec![post]).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn failures_are_retried_or_refused_as_discord_means_them() {
        let api = |status: u16| Error::Api {
            status,
            message: "x".into(),
        };
        let retried = |e: Error| matches!(outcome(&e), Sent::Retry { .. });
        assert!(retried(api(500)));
        assert!(retried(api(502)));
        assert!(retried(Error::Transport("connection refused".into())));
        assert_eq!(
            outcome(&Error::RateLimited {
                retries: 0,
                wait: Duration::from_millis(200)
            }),
            Sent::Retry {
                after: Some(Duration::from_millis(200)),
                reason: "discord answered 429 (rate limited)".into()
            }
        );
        assert!(!retried(api(404)));
        assert!(!retried(api(403)));
        assert!(!retried(api(401)));
    }
}
