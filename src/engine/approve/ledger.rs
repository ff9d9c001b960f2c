//! The approval ledger's housekeeping: the scheduler's pass (expire requests past their time,
//! fail requests a gone process left running, resume approved ones nobody runs), cancelling an
//! ended incident's requests, and closing a request with its timeline entries and its count.
//!
//! It moves requests through the store and posts their card messages; it never decides who may
//! approve, and it runs a request only through [`Engine::execute`].

use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::approval::{Request, State};
use crate::engine::messages::{card, clock_time};
use crate::engine::{Engine, Reply, Result, to_channel};
use crate::incident::timers::bot;
use crate::incident::{Actor, ChannelRef, Incident, IncidentId, TimelineEvent};
use crate::message::Message;
use crate::store::Close;

/// How many requests one scheduler pass expires, resumes or recovers at most.
const BATCH: u32 = 256;
/// How often the scheduler looks for running requests whose process is gone (another replica
/// that died; on SQLite only the first pass finds any).
pub const RECOVER_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a request found `running` at a recovery pass is failed, not run again.
const INTERRUPTED: &str = "firewatch restarted while it ran; it may or may not have reached the \
                           cluster, so it is not run again — check the service and ask anew if needed";

impl Engine {
    /// Scheduler work on the ledger: expire requests past their time, close requests a process
    /// that is gone left running (on the first pass of this process, then every
    /// [`RECOVER_EVERY`]: another replica's live ones are left alone, and one that dies later is
    /// noticed once its lease runs out), and resume approved ones nobody runs. Messages go to
    /// the incidents' channels through the outbox. Returns how many requests moved.
    pub(in crate::engine) async fn run_approvals(&self) -> Result<usize> {
        let now = self.clock.now();
        let mut done = self.expire_requests(now).await?;
        if self.recovery_due() {
            done += self.fail_interrupted(now).await?;
            // Only after the whole pass worked: a failed one is tried again next tick.
            if let Ok(mut next) = self.next_recovery.lock() {
                *next = Some(Instant::now() + RECOVER_EVERY);
            }
        }
        Ok(done + self.resume_approved().await?)
    }

    /// Expires the pending requests past their time; returns how many.
    async fn expire_requests(&self, now: DateTime<Utc>) -> Result<usize> {
        let mut done = 0;
        let due = self.store.approvals_in(State::Pending, Some(now), BATCH);
        for request in due.await? {
            let close = Close {
                from: &[State::Pending],
                to: State::Expired,
                result: Some("expired"),
                not_runner: None,
            };
            let entry = TimelineEvent::ApprovalExpired {
                request: request.id,
            };
            let body = format!(
                "{} got {} of {} approvals by {}; nothing ran.",
                request.new.what,
                request.approvers.len(),
                request.new.required,
                clock_time(request.new.expires_at)
            );
            let said = (format!("⌛ {} expired", request.label()), body);
            if self
                .close_and_post(&request, close, entry, said, now)
                .await?
            {
                done += 1;
            }
        }
        Ok(done)
    }

    /// Whether this pass looks for requests a gone process left running.
    fn recovery_due(&self) -> bool {
        self.next_recovery
            .lock()
            .map(|next| next.is_none_or(|at| Instant::now() >= at))
            .unwrap_or(true)
    }

    /// Fails the requests left `running` by a process that is gone (not this one, and not a
    /// replica whose lease is live): they may have reached the cluster, so they never run
    /// again. Returns how many.
    async fn fail_interrupted(&self, now: DateTime<Utc>) -> Result<usize> {
        let mut done = 0;
        for request in self.store.approvals_in(State::Running, None, BATCH).await? {
            let close = Close {
                from: &[State::Running],
                to: State::Failed,
                result: Some(INTERRUPTED),
                not_runner: Some(&self.runner),
            };
            let entry = TimelineEvent::ApprovalClosed {
                request: request.id,
                state: State::Failed.to_string(),
                why: INTERRUPTED.to_owned(),
            };
            let said = (
                format!("❌ {} failed: interrupted", request.label()),
                format!("{}: {INTERRUPTED}.", request.new.what),
            );
            if self
                .close_and_post(&request, close, entry, said, now)
                .await?
            {
                done += 1;
            }
        }
        Ok(done)
    }

    /// Closes `request` as `close` says, with `entry` on its incident's timeline (as
    /// firewatch), and posts the closing card `said` (headline, body) when this call moved it.
    /// Whether it did.
    async fn close_and_post(
        &self,
        request: &Request,
        close: Close<'_>,
        entry: TimelineEvent,
        (headline, body): (String, String),
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let incident = self.incident_of(request).await?;
        let actor = bot(&incident);
        let closed = self.settle(request.id, close, &[entry], &actor, at).await?;
        if closed.is_none() {
            return Ok(false);
        }
        let message = self.closing_card(&incident, request, headline, &body);
        self.post(&incident.channel, &message).await;
        Ok(true)
    }

    /// Runs the approved requests nobody claimed (a restart between the last approval and the
    /// run); returns how many this process ran.
    async fn resume_approved(&self) -> Result<usize> {
        let mut done = 0;
        for request in self
            .store
            .approvals_in(State::Approved, None, BATCH)
            .await?
        {
            if let Some((channel, message)) = self.execute(request.id).await? {
                done += 1;
                tracing::info!(request = request.id, "resumed an approved request");
                self.post(&channel, &message).await;
            }
        }
        Ok(done)
    }

    /// Closes the incident's open requests (pending or approved, not yet running) because it
    /// ended; returns the channel messages.
    pub(in crate::engine) async fn cancel_requests(&self, id: IncidentId) -> Result<Vec<Reply>> {
        let Some(incident) = self.store.incident(id).await? else {
            return Ok(Vec::new());
        };
        let mut replies = Vec::new();
        for state in [State::Pending, State::Approved] {
            for request in self.store.approvals_of(id, state).await? {
                let why = format!("{} is {}", incident.id, incident.status);
                if self
                    .close_request(
                        &request,
                        &incident,
                        &[State::Pending, State::Approved],
                        State::Cancelled,
                        &why,
                    )
                    .await?
                {
                    let message = Message::notice(
                        format!("⏹️ {} cancelled", request.label()),
                        &format!("{why}; {} will not run.", request.new.what),
                    );
                    replies.push(to_channel(
                        &incident.channel,
                        card(self.about(&incident, message), request.id, true),
                    ));
                }
            }
        }
        Ok(replies)
    }

    /// [`crate::store::Store::close_approval`], counting the outcome when it moved the request.
    pub(super) async fn settle(
        &self,
        id: i64,
        close: Close<'_>,
        entries: &[TimelineEvent],
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> crate::store::Result<Option<Request>> {
        let closed = self
            .store
            .close_approval(id, close, entries, actor, at)
            .await?;
        if closed.is_some() {
            self.metrics.approval(close.to);
        }
        Ok(closed)
    }

    /// Closes `request` (from one of `from` to `to`) as firewatch, saying `why` on the timeline;
    /// whether this call moved it.
    pub(super) async fn close_request(
        &self,
        request: &Request,
        incident: &Incident,
        from: &[State],
        to: State,
        why: &str,
    ) -> Result<bool> {
        let closed = self
            .settle(
                request.id,
                Close {
                    from,
                    to,
                    result: Some(why),
                    not_runner: None,
                },
                &[TimelineEvent::ApprovalClosed {
                    request: request.id,
                    state: to.to_string(),
                    why: why.to_owned(),
                }],
                &bot(incident),
                self.clock.now(),
            )
            .await?;
        Ok(closed.is_some())
    }

    /// The incident a request is about.
    pub(super) async fn incident_of(&self, request: &Request) -> Result<Incident> {
        self.store
            .incident(request.new.incident)
            .await?
            .ok_or_else(|| crate::store::Error::NotFound(request.new.incident).into())
    }

    /// A message that closes request `request`'s card.
    pub(super) fn closing_card(
        &self,
        incident: &Incident,
        request: &Request,
        headline: String,
        body: &str,
    ) -> Message {
        card(
            self.about(incident, Message::notice(headline, body)),
            request.id,
            true,
        )
    }

    /// Posts an approval message to `channel` and its mirrors; a failed post is logged (the
    /// ledger already holds what the message says).
    pub(super) async fn post(&self, channel: &ChannelRef, message: &Message) {
        if let Err(e) = self.outbox.post(channel, message).await {
            tracing::error!(incident = ?message.incident, error = %e, "an approval message was not delivered");
        }
        self.outbox.mirror(channel, message).await;
    }
}
