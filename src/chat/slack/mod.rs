//! The Slack adapter: signed slash commands and button presses in, Block Kit messages out.
//!
//! A request's way: check its [`signature`] → read it ([`payload`]) → the chat pipeline
//! ([`crate::chat::pipeline`]: inbox, dedupe on `trigger_id`, the engine in a task) → the
//! replies for channels stored in the outbox and posted from there with the Web API
//! ([`outbox`], [`api`]). Replies meant for the caller alone go straight back through the
//! command's `response_url`, so only they see them.
//!
//! # Guarantees
//! - A forged, stale or unsigned request changes nothing and posts nothing.
//! - Two clicks are two requests; the incident's state machine refuses the second
//!   acknowledgement. (Redeliveries and restarts: see the pipeline.)

pub mod api;
pub mod blocks;
pub mod channels;
pub mod manifest;
pub mod outbox;
pub mod payload;
pub mod signature;
pub mod socket;

use std::sync::Arc;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use self::api::{ReplyTo, SlackApi};
use self::payload::{ButtonPress, SlashCommand};
use crate::approval::Roles;
use crate::chat::Served;
use crate::chat::pipeline::Adapter;
use crate::chat::replay::Replay;
use crate::command::{self, Command, Invocation};
use crate::delivery::Sender;
use crate::engine::{Audience, Caller, Engine, Outbox, Reply};
use crate::incident::Platform;
use crate::message::Message;

/// Prefix of every Slack key in the request inbox.
const KEY_PREFIX: &str = "slack:";

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
    /// The inbox key: one per Slack invocation.
    pub fn key(&self) -> String {
        match self {
            Delivery::Command(c) => format!("{KEY_PREFIX}command:{}", c.trigger_id),
            Delivery::Button(b) => format!("{KEY_PREFIX}button:{}", b.trigger_id),
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

    /// The workspaces it comes from: a command's `team_id`; a button's `team.id` and
    /// `user.team_id`.
    pub fn teams(&self) -> Vec<&str> {
        match self {
            Delivery::Command(c) => vec![c.team_id.as_str()],
            Delivery::Button(b) => b.teams().collect(),
        }
    }

    fn channel_id(&self) -> &str {
        match self {
            Delivery::Command(c) => &c.channel_id,
            Delivery::Button(b) => &b.channel_id,
        }
    }

    /// Where answers only its author sees go.
    fn reply_to(&self) -> ReplyTo {
        let response_url = match self {
            Delivery::Command(c) => Some(c.response_url.clone()),
            Delivery::Button(b) => b.response_url.clone(),
        };
        ReplyTo {
            response_url,
            channel: self.channel_id().to_owned(),
            user: self.user().0.to_owned(),
        }
    }
}

/// What the adapter is configured with besides the Web API.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Every alert is also posted here.
    pub alerts_channel: Option<String>,
    /// Open `#inc-YYYYMMDD-<slug>` per incident and bind the incident to it.
    pub create_incident_channels: bool,
    /// The workspaces whose requests are taken (`slack.team_ids`).
    pub teams: Served,
}

/// The Slack side of the chat pipeline, shared by the HTTP routes and Socket Mode: who sent a
/// delivery, and how answers reach them.
pub struct Slack {
    api: Arc<SlackApi>,
    /// Where posts into Slack channels are stored before they are sent.
    posts: Arc<Sender>,
    /// Binds incidents to the channels opened for them.
    engine: Arc<Engine>,
    /// Where messages for other platforms' channels go.
    outbox: Arc<dyn Outbox>,
    roles: Arc<Roles>,
    options: Options,
}

impl Slack {
    /// An adapter answering with `api` and posting into Slack channels through `posts`;
    /// replies for channels of other platforms go to `outbox`.
    pub fn new(
        api: Arc<SlackApi>,
        posts: Arc<Sender>,
        engine: Arc<Engine>,
        outbox: Arc<dyn Outbox>,
        roles: Arc<Roles>,
        options: Options,
    ) -> Self {
        Self {
            api,
            posts,
            engine,
            outbox,
            roles,
            options,
        }
    }

    /// The Web API client (Socket Mode connects through it).
    pub fn api(&self) -> &SlackApi {
        &self.api
    }

    /// The person's handle: Socket Mode commands come without it, so Slack is asked, so the
    /// timeline reads the same as over HTTP (the user id when Slack cannot say).
    async fn user_name(&self, delivery: &Delivery) -> String {
        let (id, name) = delivery.user();
        if let Some(name) = name {
            return name.to_owned();
        }
        match self.api.user_name(id).await {
            Ok(Some(name)) => name,
            Ok(None) => id.to_owned(),
            Err(e) => {
                tracing::warn!(error = %e, "could not look up a user's name");
                id.to_owned()
            }
        }
    }

    /// Delivers one reply: to the caller at once; into a Slack channel through the outbox (an
    /// alert also into the alerts channel), with a link for the caller when it goes elsewhere;
    /// into another platform's channel through `outbox`.
    async fn deliver(&self, delivery: &Delivery, caller: &Caller, reply: Reply, alert: bool) {
        let Reply { audience, message } = reply;
        let channel = match audience {
            Audience::Caller => return self.tell_caller(delivery, &message).await,
            Audience::Channel(channel) => channel,
        };
        let mut posts = Vec::new();
        if channel.platform == Platform::Slack {
            let reply_to = Some(delivery.reply_to());
            posts = outbox::posts(&self.posts, &channel.id, &message, &self.roles, reply_to);
        } else if let Err(e) = self.outbox.post(&channel, &message).await {
            tracing::warn!(channel = %channel.id, error = %e, "could not post into the channel");
            let note = Message::notice(
                format!("⚠️ firewatch could not post this in the channel ({e})"),
                "The change itself is saved.",
            );
            self.tell_caller(delivery, &message).await;
            self.tell_caller(delivery, &note).await;
        }
        if alert
            && message.incident.is_some()
            && let Some(alerts) = &self.options.alerts_channel
            && *alerts != channel.id
        {
            let copy = Message {
                attachment: None,
                card: None,
                ..message.clone()
            };
            posts.extend(outbox::posts(&self.posts, alerts, &copy, &self.roles, None));
        }
        self.posts.send(posts).await;
        if channel != caller.channel
            && channel.platform == Platform::Slack
            && !(alert && self.options.create_incident_channels)
        {
            let pointer = blocks::with_channel_link(
                &format!("{} — posted in", message.headline),
                &channel.id,
            );
            self.answer(delivery, pointer).await;
        }
    }

    /// Shows a message to the caller only: `response_url`, else an ephemeral post.
    async fn tell_caller(&self, delivery: &Delivery, message: &Message) {
        self.answer(delivery, blocks::render(message, &Roles::new()))
            .await;
    }

    async fn answer(
        &self,
        delivery: &Delivery,
        content: slack_morphism::prelude::SlackMessageContent,
    ) {
        if let Err(e) = self.api.answer(&delivery.reply_to(), content).await {
            tracing::warn!(error = %e, "could not answer the caller");
        }
    }
}

#[async_trait::async_trait]
impl Adapter for Slack {
    type Request = Delivery;
    const PREFIX: &'static str = KEY_PREFIX;
    /// `response_url` lives 30 minutes.
    const REPLY_WINDOW: TimeDelta = TimeDelta::minutes(30);

    fn key(delivery: &Delivery) -> String {
        delivery.key()
    }

    fn line(delivery: &Delivery) -> String {
        delivery.line()
    }

    fn admit(&self, delivery: &Delivery) -> Result<(), String> {
        let teams = delivery.teams();
        if self.options.teams.admits(teams.iter().copied()) {
            return Ok(());
        }
        let (user, _) = delivery.user();
        tracing::warn!(?teams, %user, "refused a request from a workspace firewatch does not serve (slack.team_ids)");
        Err("firewatch does not take requests from this Slack workspace.".into())
    }

    async fn caller(&self, delivery: &Delivery) -> Caller {
        let (id, _) = delivery.user();
        let name = self.user_name(delivery).await;
        Caller::new(Platform::Slack, id, &name, delivery.channel_id())
    }

    async fn answer(&self, delivery: &Delivery, caller: &Caller, replies: Vec<Reply>) {
        let opened = matches!(
            command::parse(&delivery.line()),
            Ok(Invocation {
                command: Command::Assess { .. },
                ..
            })
        );
        let replies = if self.options.create_incident_channels && opened {
            channels::open_for_incident(self, caller, replies).await
        } else {
            replies
        };
        for reply in replies {
            self.deliver(delivery, caller, reply, opened).await;
        }
    }

    async fn tell(&self, delivery: &Delivery, replay: Replay, notice: Message) {
        match replay {
            // The team sees what is saved (the author alone, if the channel refuses it).
            Replay::Run | Replay::AnswerLost => {
                let reply_to = Some(delivery.reply_to());
                let channel = delivery.channel_id();
                let roles = Roles::new();
                let posts = outbox::posts(&self.posts, channel, &notice, &roles, reply_to);
                self.posts.send(posts).await;
            }
            // Its `response_url` has expired: an ephemeral message to the author.
            Replay::Expired => {
                let (user, _) = delivery.user();
                let content = blocks::render(&notice, &Roles::new());
                if let Err(e) = self
                    .api
                    .post_ephemeral(delivery.channel_id(), user, content)
                    .await
                {
                    tracing::warn!(error = %e, "could not tell the author of an expired request");
                }
            }
            Replay::GiveUp => self.tell_caller(delivery, &notice).await,
        }
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
            team_id: Some("T1".into()),
            user_team_id: None,
        };
        assert_eq!(
            Delivery::Command(command).key(),
            "slack:command:13345224609.738474920.8088930838d88f008e0"
        );
        assert_eq!(Delivery::Button(press).key(), "slack:button:4.5.6");
    }
}
