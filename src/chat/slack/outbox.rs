//! Slack's side of the outbox: the posts the adapter and the engine store for Slack channels (a
//! message, then the file it carries), the [`SlackCourier`] that sends one with the Web API and
//! says what became of it, and [`SlackOutbox`], the engine's way into Slack channels.
//!
//! Answers only the caller sees stay out of the outbox: they go straight back through the
//! command's `response_url` (or an ephemeral message). They are for the person at the keyboard
//! now, their URL lives 30 minutes for five answers, and what matters in them for the team is in
//! the channel's posts and the timeline, which are durable; a retry minutes later would be a
//! private note out of its context.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use slack_morphism::prelude::SlackMessageContent;

use super::api::{Error, ReplyTo, SlackApi};
use super::blocks;
use crate::approval::Roles;
use crate::delivery::{Courier, Sender, Sent};
use crate::engine::outbox::{self, Outbox};
use crate::incident::{ChannelRef, IncidentId};
use crate::message::{Card, Message};
use crate::store::Post;

/// The outbox kind of Slack posts.
pub const KIND: &str = "slack";

/// Slack's error codes that mean "not now" rather than "never" (`chat.postMessage`'s
/// documented transient errors).
const TRANSIENT: [&str; 6] = [
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "ratelimited",
    "team_added_to_org",
];

/// One post into a Slack channel, as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SlackPost {
    channel: String,
    #[serde(flatten)]
    what: What,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
enum What {
    /// A Block Kit message.
    Message {
        /// The message as Slack takes it (`text`, `blocks`, `attachments`).
        content: Value,
        /// The card it is a step of (an approval request), and that step's headline.
        card: Option<(Card, String)>,
        /// Who typed the command it answers: shown it, with why, when the channel refuses it.
        caller: Option<ReplyTo>,
    },
    /// A text file shared into the channel (a report), after the message it goes with.
    File { name: String, content: String },
}

/// The posts that put `message` into Slack channel `channel`: the message, then its file if
/// it has one. `caller` is told instead when the channel refuses the message.
pub fn posts(
    sender: &Sender,
    channel: &str,
    message: &Message,
    roles: &Roles,
    caller: Option<ReplyTo>,
) -> Vec<Post> {
    let json = blocks::to_json(message, roles);
    let card = message
        .card
        .clone()
        .map(|card| (card, message.headline.clone()));
    let what = What::Message {
        content: json,
        card,
        caller,
    };
    let mut posts = vec![post(
        sender,
        channel,
        what,
        &message.headline,
        message.incident,
    )];
    if let Some(file) = &message.attachment {
        let what = What::File {
            name: file.name.clone(),
            content: file.content.clone(),
        };
        let summary = format!("{} (file {})", message.headline, file.name);
        posts.push(post(sender, channel, what, &summary, message.incident));
    }
    posts
}

/// A post of ready-made Block Kit `content` (a link to another channel) saying `summary`.
pub fn content_post(
    sender: &Sender,
    channel: &str,
    content: &SlackMessageContent,
    summary: &str,
    incident: Option<IncidentId>,
) -> Post {
    let content = serde_json::to_value(content).expect("Block Kit content serialises to JSON");
    let what = What::Message {
        content,
        card: None,
        caller: None,
    };
    post(sender, channel, what, summary, incident)
}

fn post(
    sender: &Sender,
    channel: &str,
    what: What,
    summary: &str,
    incident: Option<IncidentId>,
) -> Post {
    let slack = SlackPost {
        channel: channel.to_owned(),
        what,
    };
    sender.post(KIND, channel, &slack, summary, incident)
}

/// Sends Slack posts from the outbox with the Web API.
pub struct SlackCourier {
    api: Arc<SlackApi>,
}

impl SlackCourier {
    /// A courier posting with `api`.
    pub fn new(api: Arc<SlackApi>) -> Self {
        Self { api }
    }

    /// Shows a refused message to the caller, with why and what to do.
    async fn tell_caller(&self, caller: &ReplyTo, content: &Value, reason: &str) {
        let note = Message::notice(
            format!("⚠️ firewatch could not post this in the channel ({reason})"),
            "The change itself is saved. Invite the bot to the channel (/invite @firewatch) so \
             the team sees the next messages.",
        );
        let told = match serde_json::from_value(content.clone()) {
            Ok(message) => self.api.answer(caller, message).await,
            Err(_) => Ok(()),
        };
        let told = match told {
            Ok(()) => {
                self.api
                    .answer(caller, blocks::render(&note, &Roles::new()))
                    .await
            }
            failed => failed,
        };
        if let Err(e) = told {
            tracing::warn!(error = %e, "could not tell the caller that the channel refused a post");
        }
    }
}

#[async_trait]
impl Courier for SlackCourier {
    async fn send(&self, post: &Post) -> Sent {
        let Ok(slack) = serde_json::from_str::<SlackPost>(&post.payload) else {
            return Sent::Refused("the stored Slack post is unreadable".into());
        };
        match &slack.what {
            What::Message {
                content,
                card,
                caller,
            } => {
                let Ok(message) = serde_json::from_value(content.clone()) else {
                    return Sent::Refused("the stored Slack message is unreadable".into());
                };
                match self.api.post(&slack.channel, message).await {
                    Ok(ts) => {
                        if let Some((card, step)) = card {
                            let channel = &slack.channel;
                            let json = content.clone();
                            self.api.follow_card(card, channel, &ts, json, step).await;
                        }
                        Sent::Delivered
                    }
                    Err(e) => {
                        let sent = outcome(&e);
                        if let (Sent::Refused(reason), Some(caller)) = (&sent, caller) {
                            self.tell_caller(caller, content, reason).await;
                        }
                        sent
                    }
                }
            }
            What::File { name, content } => {
                match self.api.upload(&slack.channel, name, content).await {
                    Ok(()) => Sent::Delivered,
                    Err(e) => outcome(&e),
                }
            }
        }
    }
}

/// What a failed Web API call means for a post: a 429, a 5xx, a transient error code or a lost
/// connection is tried again; any other answer is a refusal.
fn outcome(error: &Error) -> Sent {
    let reason = error.to_string();
    match error {
        Error::RateLimited { wait, .. } => Sent::from_status(429, *wait, reason),
        Error::Http(status) => Sent::from_status(*status, None, reason),
        Error::Api(code) if TRANSIENT.contains(&code.as_str()) => Sent::retry(reason),
        Error::Api(_) => Sent::Refused(reason),
        Error::Transport(_) | Error::Certificates(_) => Sent::retry(reason),
    }
}

/// The engine's way into Slack channels: its posts go into the outbox.
pub struct SlackOutbox {
    sender: Arc<Sender>,
    roles: Arc<Roles>,
}

impl SlackOutbox {
    /// Stores posts with `sender`, mentioning the members of the paged roles.
    pub fn new(sender: Arc<Sender>, roles: Arc<Roles>) -> Self {
        Self { sender, roles }
    }
}

#[async_trait]
impl Outbox for SlackOutbox {
    async fn post(&self, channel: &ChannelRef, message: &Message) -> outbox::Result<()> {
        let posts = posts(&self.sender, &channel.id, message, &self.roles, None);
        self.sender.send(posts).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_retried_or_refused_as_slack_means_them() {
        let retried = |e: Error| matches!(outcome(&e), Sent::Retry { .. });
        assert!(retried(Error::Http(500)));
        assert!(retried(Error::Http(503)));
        assert!(retried(Error::Transport("connection reset".into())));
        assert!(retried(Error::Api("internal_error".into())));
        assert_eq!(
            outcome(&Error::RateLimited {
                retries: 0,
                wait: Some(std::time::Duration::from_secs(7))
            }),
            Sent::Retry {
                after: Some(std::time::Duration::from_secs(7)),
                reason: "slack answered 429 (rate limited)".into()
            }
        );
        assert_eq!(
            outcome(&Error::Api("channel_not_found".into())),
            Sent::Refused("slack answered channel_not_found".into())
        );
        assert!(!retried(Error::Api("not_in_channel".into())));
        assert!(!retried(Error::Api("invalid_auth".into())));
        assert!(!retried(Error::Http(404)));
    }
}
