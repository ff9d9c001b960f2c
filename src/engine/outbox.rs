//! Where the engine posts what it says on its own (reminders, escalations, late evidence,
//! approval steps, mirrors): the [`Outbox`] trait the chat side implements, one per platform.
//! The engine knows channels and neutral messages only, never a platform's API. Slack and
//! Discord store each post in the store's outbox and send it from there, retried through an
//! outage ([`crate::delivery`]); the terminal prints it at once.

use async_trait::async_trait;

use crate::incident::{ChannelRef, Platform};
use crate::message::Message;

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No adapter for the channel's platform runs in this process.
    #[error("no {0} channel is connected")]
    NoRoute(Platform),
    /// The platform could not take it (the terminal has stopped).
    #[error("{platform} did not take the message: {reason}")]
    Platform {
        /// Where it was going.
        platform: Platform,
        /// What went wrong, without secrets.
        reason: String,
    },
}

/// Result of deliveries.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Posts messages into channels of one platform.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Posts `message` into `channel`, visible to everyone there: for Slack and Discord, stored
    /// in the outbox when this returns (sent, and retried, from there).
    ///
    /// # Errors
    /// [`Error`] when nothing will deliver it.
    async fn post(&self, channel: &ChannelRef, message: &Message) -> Result<()>;

    /// Copies a message that was posted into `from` to wherever incident messages are mirrored
    /// (the Discord status channel). Best effort: failures are logged, never returned.
    async fn mirror(&self, _from: &ChannelRef, _message: &Message) {}
}

/// The channels' outbox for those built before it (the couriers of pages and tickets, which
/// tell an incident's channel what became of their posts): a handle made first and connected
/// once the chat platforms are wired ([`LateOutbox::connect`]). Posting through it is best
/// effort: a failure, or a post before it is connected, is logged.
#[derive(Clone, Default)]
pub struct LateOutbox(std::sync::Arc<std::sync::OnceLock<std::sync::Arc<dyn Outbox>>>);

impl LateOutbox {
    /// Posts through `outbox` from now on (the first call counts).
    pub fn connect(&self, outbox: std::sync::Arc<dyn Outbox>) {
        let _ = self.0.set(outbox);
    }

    /// Posts `message` into `channel`; `what` names it in the log when that fails.
    pub async fn post(&self, channel: &ChannelRef, message: &Message, what: &str) {
        match self.0.get() {
            Some(outbox) => {
                if let Err(e) = outbox.post(channel, message).await {
                    tracing::warn!(channel = %channel.id, error = %e, "cannot post {what}");
                }
            }
            None => tracing::warn!(channel = %channel.id, "no channel outbox yet to post {what}"),
        }
    }
}
