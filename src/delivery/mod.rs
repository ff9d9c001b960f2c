//! Delivery of what firewatch sends out and must not lose: a [`Post`] is stored in the store's
//! outbox first ([`Sender::send`]), and the [`Sender`] sends it from there through the
//! [`Courier`] of its kind. Chat platforms are couriers (`slack`, `discord`); pages and tickets
//! reuse the same outbox and sender with kinds of their own. A courier renders and sends one
//! post and says what became of it ([`Sent`]); the retrying, ordering, claiming and giving up are
//! here, once.
//!
//! The sender runs in the processes that serve (`serve`, `console`): it tries what is due as
//! soon as a post is stored in this process, and every second for retries and for posts other
//! processes stored or left. Times (when a post is due, when it is given up) are read from the
//! [`Clock`], so tests move them by hand.
//!
//! # Guarantees
//! - A stored post is tried until its destination takes it, refuses it, or its time is up
//!   (`[outbox] give_up_after` after it was stored, or the post's own earlier limit), also
//!   across restarts. A refused post, or one whose time is up, is logged and, when it is about
//!   an incident, put on the incident's timeline (in the transaction that removes it); then
//!   its courier hears of it once ([`Courier::given_up`]).
//! - A failed try ([`Sent::Retry`]: a 5xx answer, a timeout, a lost connection) is tried again
//!   after 1 s, 2 s, 4 s … (at most 1 min apart), a rate-limited one after the platform's wait.
//!   A refusal ([`Sent::Refused`]: a 4xx other than 429) is not tried again.
//! - Posts of one lane (one channel) go out in the order stored: a later one never overtakes an
//!   earlier one still waiting.
//! - One process tries a post at a time, however many replicas run ([`Store::claim_posts`]).
//!
//! # Caveats
//! At least once, not exactly once: a try whose answer was lost (a timeout after the platform
//! took the post, a crash before the outcome was recorded) is tried again, and the channel may
//! see that post twice.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use futures::FutureExt;
use serde::Serialize;
use tokio::sync::{Mutex, Notify, oneshot};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::OutboxSettings;
use crate::error_chain;
use crate::incident::timers::BOT_NAME;
use crate::incident::{Actor, IncidentId, Platform, TimelineEvent};
use crate::interval::Interval;
use crate::store::{ClaimedPost, Post, Store, Undelivered};

/// The wait after a post's first failed try; each further failure doubles it.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between two tries.
const LONGEST_WAIT: Duration = Duration::from_secs(60);
/// How often the outbox is looked at when nothing was stored in this process.
const POLL: Duration = Duration::from_secs(1);
/// How many posts (one per lane) one round claims and tries together.
const BATCH: u32 = 16;
/// How many rounds one pass makes at most before it lets the loop look at its stop signal.
const ROUNDS: usize = 64;

/// What became of one try to send a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The destination took it.
    Delivered,
    /// Not now: a 5xx answer, a timeout, a lost connection, or a 429 (with its wait, when the
    /// platform said how long).
    Retry {
        /// The platform's wait (`Retry-After`), if it gave one.
        after: Option<Duration>,
        /// What went wrong, without secrets.
        reason: String,
    },
    /// Never: the destination refused it (a 4xx other than 429: the channel is gone, the bot is
    /// not in it, the token is invalid).
    Refused(String),
}

impl Sent {
    /// What an HTTP error `status` means for a post: a 429 is tried again (after the platform's
    /// wait `after`, when it gave one), as are a 5xx and a 408; any other status is a refusal.
    /// `reason` says what happened, without secrets.
    pub fn from_status(status: u16, after: Option<Duration>, reason: String) -> Self {
        match status {
            429 => Self::Retry { after, reason },
            408 | 500.. => Self::retry(reason),
            _ => Self::Refused(reason),
        }
    }

    /// Try again after the backoff: a timeout, a lost connection.
    pub fn retry(reason: String) -> Self {
        Self::Retry {
            after: None,
            reason,
        }
    }
}

/// Sends the posts of one kind: renders one post's payload and sends it once.
#[async_trait]
pub trait Courier: Send + Sync {
    /// Sends `post` (its `destination` and `payload`, as this kind wrote them) once, without
    /// retrying: the [`Sender`] retries.
    async fn send(&self, post: &Post) -> Sent;

    /// Hears that `post` will never be delivered (`why`), once it is out of the outbox and on
    /// its incident's timeline: what this kind tells people beyond that (a failed page says
    /// so in the incident's channel). Called once per post, by the process that gave it up.
    async fn given_up(&self, _post: &Post, _why: &str) {}
}

/// Stores posts in the outbox and sends them from there.
pub struct Sender {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    couriers: HashMap<String, Arc<dyn Courier>>,
    give_up_after: TimeDelta,
    send_timeout: Duration,
    /// Rung when this process stored a post.
    stored: Notify,
    /// One pass at a time in this process (see [`Store::claim_posts`]).
    passing: Mutex<()>,
}

impl Sender {
    /// A sender over `store`'s outbox, timed by `clock`, with no courier yet.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: &OutboxSettings) -> Self {
        Self {
            store,
            clock,
            couriers: HashMap::new(),
            give_up_after: settings.give_up_after.as_delta(),
            send_timeout: Duration::from_secs(settings.send_timeout.as_secs()),
            stored: Notify::new(),
            passing: Mutex::new(()),
        }
    }

    /// Sends posts of `kind` with `courier` (replacing an earlier one).
    pub fn carry(&mut self, kind: &str, courier: Arc<dyn Courier>) {
        self.couriers.insert(kind.to_owned(), courier);
    }

    /// A post of `kind` to `destination`, in the lane `kind:destination`, stored now and given
    /// up after `[outbox] give_up_after`: `payload` for the courier, `summary` (one line) for
    /// the log and the timeline of `incident`.
    pub fn post(
        &self,
        kind: &str,
        destination: &str,
        payload: &impl Serialize,
        summary: &str,
        incident: Option<IncidentId>,
    ) -> Post {
        let stored = self.clock.now();
        Post {
            kind: kind.to_owned(),
            destination: destination.to_owned(),
            lane: format!("{kind}:{destination}"),
            payload: serde_json::to_string(payload).expect("a post's payload serialises to JSON"),
            summary: summary.to_owned(),
            incident,
            stored,
            give_up_at: stored + self.give_up_after,
        }
    }

    /// Stores `posts` in the outbox (in this order, all or none) and wakes this process's
    /// sending. When the store cannot take them they are tried once each, now, in order: the
    /// store failing must not silence the channel too.
    pub async fn send(&self, posts: Vec<Post>) {
        if posts.is_empty() {
            return;
        }
        match self.store.store_posts(&posts).await {
            Ok(()) => self.stored.notify_one(),
            Err(e) => {
                tracing::error!(
                    error = %error_chain(&e),
                    posts = posts.len(),
                    "could not store posts in the outbox; trying each once now"
                );
                for post in &posts {
                    let sent = self.try_once(post).await;
                    if sent != Sent::Delivered {
                        tracing::error!(kind = %post.kind, destination = %post.destination, what = %post.summary, outcome = ?sent, "a post that could not be stored was not delivered");
                    }
                }
            }
        }
    }

    /// Tries every post due now, lane by lane, each at most once, until none is left that is
    /// due (at most a bounded number of rounds); returns how many were delivered. Store failures
    /// are logged: the next pass tries again.
    pub async fn deliver_due(&self) -> usize {
        let _one_pass = self.passing.lock().await;
        match self.store.posts_due(self.clock.now()).await {
            Ok(true) => {}
            Ok(false) => return 0,
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "cannot read the outbox");
                return 0;
            }
        }
        let mut delivered = 0;
        let mut tried = HashSet::new();
        for _ in 0..ROUNDS {
            let claimed = match self.store.claim_posts(self.clock.now(), BATCH).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "cannot claim posts from the outbox");
                    break;
                }
            };
            // A post tried in this pass that is due again (its wait was shorter than the pass)
            // waits for the next pass: a pass tries each post once.
            let fresh: Vec<ClaimedPost> = claimed
                .into_iter()
                .filter(|post| tried.insert(post.id))
                .collect();
            if fresh.is_empty() {
                break;
            }
            let tries = fresh.into_iter().map(|post| self.attempt(post));
            delivered += futures::future::join_all(tries)
                .await
                .into_iter()
                .filter(|delivered| *delivered)
                .count();
        }
        delivered
    }

    /// Starts sending in a task of its own until [`Sending::stop`].
    pub fn start(self: &Arc<Self>) -> Sending {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let sender = Arc::clone(self);
        let task = tokio::spawn(async move {
            loop {
                sender.deliver_due().await;
                tokio::select! {
                    biased;
                    _ = &mut stopped => break,
                    () = sender.stored.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
            // What the commands that finished while stopping stored.
            sender.deliver_due().await;
        });
        Sending { stop, task }
    }

    /// Tries one claimed post and records what became of it; whether it was delivered.
    async fn attempt(&self, claimed: ClaimedPost) -> bool {
        let now = self.clock.now();
        let step = if now > claimed.post.give_up_at {
            // Its time ran out while it waited (behind its lane, or with no process running).
            let limit = lifetime(&claimed.post);
            Step::GiveUp(match &claimed.last_error {
                Some(last) => format!("not delivered within {limit}; the last try: {last}"),
                None => format!("not sent within {limit}"),
            })
        } else {
            let sent = self.try_once(&claimed.post).await;
            next_step(&claimed, sent, self.clock.now())
        };
        let post = &claimed.post;
        let recorded = match &step {
            Step::Remove => {
                if claimed.attempts > 0 {
                    tracing::info!(kind = %post.kind, destination = %post.destination, what = %post.summary, tries = claimed.attempts + 1, "delivered after retries");
                }
                self.store.remove_post(claimed.id, None).await
            }
            Step::Retry { at, reason } => {
                tracing::warn!(kind = %post.kind, destination = %post.destination, what = %post.summary, %reason, retry_in_ms = (*at - now).num_milliseconds(), "a post was not delivered; it is tried again");
                self.store.retry_post(claimed.id, *at, reason).await
            }
            Step::GiveUp(why) => {
                tracing::error!(kind = %post.kind, destination = %post.destination, what = %post.summary, %why, "a post was not delivered and is given up");
                let entry = TimelineEvent::PostUndelivered {
                    to: format!("{} {}", post.kind, post.destination),
                    what: post.summary.clone(),
                    why: why.clone(),
                };
                let by = Actor {
                    platform: Platform::parse(&post.kind).unwrap_or(Platform::Console),
                    id: BOT_NAME.into(),
                    name: BOT_NAME.into(),
                };
                let undelivered = Undelivered {
                    entry: &entry,
                    by: &by,
                    at: now,
                };
                self.store.remove_post(claimed.id, Some(undelivered)).await
            }
        };
        match (recorded, &step) {
            (Err(e), _) => {
                // The post stays claimed by this process, so its next pass tries it again.
                tracing::error!(error = %error_chain(&e), post = claimed.id, "could not record what became of a post");
            }
            (Ok(()), Step::GiveUp(why)) => {
                if let Some(courier) = self.couriers.get(&post.kind) {
                    courier.given_up(post, why).await;
                }
            }
            (Ok(()), _) => {}
        }
        step == Step::Remove
    }

    /// Sends `post` once through its kind's courier, within `[outbox] send_timeout`.
    async fn try_once(&self, post: &Post) -> Sent {
        let Some(courier) = self.couriers.get(&post.kind) else {
            return Sent::retry(format!("no {} sender runs in this process", post.kind));
        };
        let sending = AssertUnwindSafe(courier.send(post)).catch_unwind();
        match tokio::time::timeout(self.send_timeout, sending).await {
            Ok(Ok(sent)) => sent,
            Ok(Err(_)) => Sent::retry("sending it panicked".into()),
            Err(_) => Sent::retry(format!(
                "no answer within {} s",
                self.send_timeout.as_secs()
            )),
        }
    }
}

/// The running sender.
pub struct Sending {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Sending {
    /// Stops sending once the pass under way and one last pass (for what was stored while
    /// stopping) are done. What is still waiting stays in the outbox for the next start, or
    /// for another replica.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the outbox's sender failed");
        }
    }
}

/// What to do with a post after a try.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// It is delivered.
    Remove,
    /// Try again from `at`.
    Retry { at: DateTime<Utc>, reason: String },
    /// Never deliver it: log it and tell its incident's timeline why.
    GiveUp(String),
}

/// What a try at `now` that came back `sent` means for `claimed`: a retry that would come after
/// its time is up gives it up now.
fn next_step(claimed: &ClaimedPost, sent: Sent, now: DateTime<Utc>) -> Step {
    match sent {
        Sent::Delivered => Step::Remove,
        Sent::Refused(why) => Step::GiveUp(why),
        Sent::Retry { after, reason } => {
            let tries = claimed.attempts + 1;
            let wait = after.map_or_else(|| backoff(tries), |after| after.max(FIRST_RETRY));
            let at = now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX);
            if at > claimed.post.give_up_at {
                let limit = lifetime(&claimed.post);
                Step::GiveUp(format!(
                    "still failing after {limit} and {tries} tries: {reason}"
                ))
            } else {
                Step::Retry { at, reason }
            }
        }
    }
}

/// The wait after `failures` failed tries: 1 s, 2 s, 4 s … at most [`LONGEST_WAIT`].
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_RETRY * 2u32.pow(doublings)).min(LONGEST_WAIT)
}

/// How long `post` may be tried, as people write it (`30m`).
fn lifetime(post: &Post) -> Interval {
    let seconds = (post.give_up_at - post.stored).num_seconds();
    Interval::from_secs(u64::try_from(seconds).unwrap_or(0))
}

#[cfg(test)]
mod tests;
