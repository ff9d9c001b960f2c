//! `/incident-approve [REQ]`, `/incident-deny [REQ] [reason]` (typed, or the buttons of a
//! request message, which run the same command lines), and running approved requests.
//!
//! # Guarantees
//! - The requester never approves their own request; only people the policy names do. Refused
//!   attempts are answered with who may approve, and recorded on the timeline.
//! - One vote per person per request, whatever the number of deliveries.
//! - An approved request runs once: [`Engine::execute`] claims it with the store's atomic
//!   `approved → running` update before it touches the cluster, then re-checks the incident and
//!   previews again. The scheduler resumes approved requests nobody claimed (a restart between
//!   the last approval and the run) and, on its first tick after a start, marks requests an
//!   earlier process left `running` failed: they may have reached the cluster, so they are never
//!   run again (the channel is told to check and ask anew).
//! - Deny, expiry and the incident ending close a request; nothing runs.
//!
//! Each step (approval, denial, expiry, result) is its own message naming the request (`R3`),
//! on the request's card ([`card`]): Slack and Discord also edit the request message with it.

use super::gate::{Effect, Mitigation, person, previewed};
use super::jobs::JobRun;
use super::messages::{card, clock_time, done_or_failed, field, names, outcome_message};
use super::{Caller, Engine, Reply, Result, private, refuse, to_channel};
use crate::approval::{Policy as ApprovalPolicy, Request, State, Vote, Voted, same_person};
use crate::command::RequestId;
use crate::incident::timers::bot;
use crate::incident::{Actor, ChannelRef, Incident, IncidentId, TimelineEvent};
use crate::message::Message;
use crate::ops::{Change, Mutation, Plan};
use crate::store::Close;

/// How many requests one scheduler pass expires, resumes or recovers at most.
const BATCH: u32 = 256;
/// How often the scheduler looks for running requests whose process is gone (another replica
/// that died; on SQLite only the first pass finds any).
pub const RECOVER_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

impl Engine {
    /// `/incident-approve` and `/incident-deny`.
    #[tracing::instrument(skip(self, caller, reason), fields(user = %caller.actor.id))]
    pub(super) async fn vote_on(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
        id: Option<RequestId>,
        vote: Vote,
        reason: Option<String>,
    ) -> Result<Vec<Reply>> {
        let request = self.find_request(caller, explicit, id).await?;
        let label = request.label();
        let tried = vote.as_str();
        if request.state != State::Pending {
            return Err(refuse(
                format!("{label} is {}", request.state),
                closed_detail(&request),
            ));
        }
        let incident = self.incident_of(&request).await?;
        if !incident.status.is_active() {
            let why = format!("{} is {}", incident.id, incident.status);
            self.close_request(
                &request,
                &incident,
                &[State::Pending],
                State::Cancelled,
                &why,
            )
            .await?;
            return Err(refuse(
                format!("{label} is cancelled"),
                format!("{why}; nothing runs."),
            ));
        }
        let rule = self
            .approvals
            .rule(&request.new.change, request.new.severity);
        let who = ApprovalPolicy::describe_approvers(&rule);
        let own = same_person(&caller.actor, &request.new.requested_by);
        if own && vote == Vote::Approve {
            let why = "the requester cannot approve their own request".to_owned();
            self.audit_refusal(caller, &incident, Some(request.id), tried, &why)
                .await?;
            return Err(refuse(
                format!("You cannot approve {label}: you asked for it"),
                format!(
                    "Someone else must approve it: {who}. (You can withdraw it with /incident-deny {label}.)"
                ),
            ));
        }
        // The requester may withdraw (deny) their own request; otherwise deciding either way is
        // for the approvers.
        if !own && !self.approvals.may_approve(&rule, person(caller)) {
            let why = format!("not an approver (may approve: {who})");
            self.audit_refusal(caller, &incident, Some(request.id), tried, &why)
                .await?;
            return Err(refuse(
                format!("You may not {tried} {label}"),
                format!(
                    "Only {who} may approve or deny {} changes. The attempt is on the incident's timeline.",
                    request.new.command
                ),
            ));
        }
        let now = self.clock.now();
        let voted = self
            .store
            .vote(
                request.id,
                &caller.actor,
                vote,
                reason.as_deref(),
                now,
                caller.request.as_deref(),
            )
            .await?;
        match voted {
            Voted::Duplicate(r) => Ok(vec![private(Message::notice(
                format!("You already voted on {label}"),
                &format!(
                    "It has {} of {} needed; your vote counts once.",
                    r.approvers.len(),
                    r.new.required
                ),
            ))]),
            Voted::Closed(r) if r.state == State::Pending => Err(refuse(
                format!("{label} has expired"),
                "Nobody approved it in time; nothing runs. Ask again if it is still needed.",
            )),
            Voted::Closed(r) => Err(refuse(format!("{label} is {}", r.state), closed_detail(&r))),
            Voted::Denied(r) => {
                tracing::info!(request = r.id, "approval request denied");
                self.metrics.approval(State::Denied);
                let mut message = Message::notice(
                    format!("🚫 {label} denied by {}", caller.actor),
                    &format!("{} will not run.", r.new.what),
                );
                if let Some(reason) = &reason {
                    message.blocks.push(field("Reason", reason));
                }
                Ok(vec![to_channel(
                    &incident.channel,
                    card(self.about(&incident, message), r.id, true),
                )])
            }
            Voted::Approved {
                request: r,
                complete,
            } => {
                if complete {
                    self.metrics.approval(State::Approved);
                }
                let count = r.approvers.len() as u32;
                let mut message = Message::notice(
                    format!(
                        "👍 {label} approved by {} ({count} of {})",
                        caller.actor, r.new.required
                    ),
                    &if complete {
                        format!("Enough approvals: running {} now.", r.new.what)
                    } else {
                        format!(
                            "Waiting for {} more from {who} before {} runs.",
                            r.new.required.saturating_sub(count),
                            r.new.what
                        )
                    },
                );
                message
                    .blocks
                    .push(field("Approved by", &names(&r.approvers)));
                let mut replies = vec![to_channel(
                    &incident.channel,
                    card(self.about(&incident, message), r.id, false),
                )];
                if complete && let Some(done) = self.execute(r.id).await? {
                    replies.push(to_channel(&done.0, done.1));
                }
                Ok(replies)
            }
        }
    }

    /// Runs approved request `id` if this call wins the claim: re-checks the incident, previews
    /// again, applies, and records the result with the request's close. Returns the channel and
    /// the message saying what happened; `None` when someone else claimed it.
    pub(super) async fn execute(&self, id: i64) -> Result<Option<(ChannelRef, Message)>> {
        let Some(request) = self
            .store
            .claim_approval(id, &self.runner, self.clock.now())
            .await?
        else {
            tracing::info!(
                request = id,
                "approved request already claimed; not running it"
            );
            return Ok(None);
        };
        let incident = self.incident_of(&request).await?;
        let message = match self.ready_to_run(&request, &incident).await? {
            Ready::Run(run) => {
                let (mutation, plan) = &*run;
                self.run_approved(&request, &incident, mutation, plan)
                    .await?
            }
            Ready::Closed(headline, body) => {
                self.closing_card(&incident, &request, headline, &body)
            }
        };
        Ok(Some((incident.channel.clone(), message)))
    }

    /// Whether a claimed request can still run: its incident is active, its service configured,
    /// its change previews again and what it holds while it runs is free (a Job's watcher, then
    /// reserved). Otherwise the request is closed (cancelled or failed) and the message says why.
    async fn ready_to_run(&self, request: &Request, incident: &Incident) -> Result<Ready> {
        let label = request.label();
        let what = &request.new.what;
        if !incident.status.is_active() {
            let why = format!("{} is {}", incident.id, incident.status);
            self.close_request(request, incident, &[State::Running], State::Cancelled, &why)
                .await?;
            let body = format!("{why}; {what} did not run.");
            return Ok(Ready::Closed(format!("⏹️ {label} cancelled"), body));
        }
        let Some(service) = self.catalog.get(&request.new.service).cloned() else {
            let why = format!("service '{}' is no longer configured", request.new.service);
            self.close_request(request, incident, &[State::Running], State::Failed, &why)
                .await?;
            let body = format!("{why}; nothing ran.");
            return Ok(Ready::Closed(format!("❌ {label} failed"), body));
        };
        let mutation = Mutation {
            service,
            change: request.new.change.clone(),
        };
        let plan = match self.cluster.preview(&mutation).await {
            Ok(plan) => plan,
            Err(error) => return self.fail_preview(request, &error).await,
        };
        if let Err(why) = effect_of(&mutation.change).reserve(self) {
            self.close_request(request, incident, &[State::Running], State::Failed, &why)
                .await?;
            let body = format!("{why}; nothing ran.");
            return Ok(Ready::Closed(format!("❌ {label} failed"), body));
        }
        Ok(Ready::Run(Box::new((mutation, plan))))
    }

    /// Closes a claimed request whose preview failed just before it would have run.
    async fn fail_preview(&self, request: &Request, error: &crate::ops::Error) -> Result<Ready> {
        let what = &request.new.what;
        let why = format!("the preview before running failed: {error}");
        let entry = TimelineEvent::MutationFailed {
            what: what.clone(),
            error: why.clone(),
        };
        self.settle(
            request.id,
            Close {
                from: &[State::Running],
                to: State::Failed,
                result: Some(&why),
                not_runner: None,
            },
            &[entry],
            &request.new.requested_by,
            self.clock.now(),
        )
        .await?;
        let body = format!("{why}. Nothing was changed.");
        Ok(Ready::Closed(
            format!("❌ {} failed: {what}", request.label()),
            body,
        ))
    }

    /// Runs a claimed request that is ready: its start and fresh preview are recorded as
    /// firewatch's, it is applied, and the request closes with what it did.
    async fn run_approved(
        &self,
        request: &Request,
        incident: &Incident,
        mutation: &Mutation,
        plan: &Plan,
    ) -> Result<Message> {
        let what = &request.new.what;
        let effect = effect_of(&mutation.change);
        let mut entries = vec![
            TimelineEvent::ApprovalExecuting {
                request: request.id,
                what: what.clone(),
            },
            previewed(what, plan),
        ];
        entries.extend(effect.starting());
        let now = self.clock.now();
        let started = self
            .store
            .append(incident.id, &bot(incident), now, None, &entries)
            .await;
        started.inspect_err(|_| effect.release(self))?;
        tracing::info!(request = request.id, %what, "approved request claimed; applying");
        let (outcome, entries) = self.apply_gated(incident, mutation, what, &*effect).await;
        let (state, result) = match &outcome {
            Ok(done) => (State::Succeeded, done.detail.clone()),
            Err(e) => (State::Failed, e.to_string()),
        };
        let close = Close {
            from: &[State::Running],
            to: state,
            result: Some(&result),
            not_runner: None,
        };
        let requester = &request.new.requested_by;
        self.settle(request.id, close, &entries, requester, self.clock.now())
            .await?;
        let (mark, done) = done_or_failed(&outcome);
        let headline = format!(
            "{mark} {} {}: {done} — {what}",
            request.label(),
            incident.id
        );
        let body = format!(
            "Requested by {requester}; approved by {}.",
            names(&request.approvers)
        );
        let message = outcome_message(headline, &body, plan, &outcome);
        Ok(card(self.about(incident, message), request.id, true))
    }

    /// Scheduler work on the ledger: expire requests past their time, resume approved ones
    /// nobody runs, and (on the first pass of this process, then every [`RECOVER_EVERY`]) close
    /// requests a process that is gone left running — another replica's live ones are left
    /// alone, and one that dies later is noticed once its lease runs out. Messages go to the incidents' channels through the outbox.
    pub(super) async fn run_approvals(&self) -> Result<usize> {
        let now = self.clock.now();
        let mut done = 0;
        for request in self
            .store
            .approvals_in(State::Pending, Some(now), BATCH)
            .await?
        {
            let incident = self.incident_of(&request).await?;
            let closed = self
                .settle(
                    request.id,
                    Close {
                        from: &[State::Pending],
                        to: State::Expired,
                        result: Some("expired"),
                        not_runner: None,
                    },
                    &[TimelineEvent::ApprovalExpired {
                        request: request.id,
                    }],
                    &bot(&incident),
                    now,
                )
                .await?;
            if closed.is_some() {
                done += 1;
                let message = Message::notice(
                    format!("⌛ {} expired", request.label()),
                    &format!(
                        "{} got {} of {} approvals by {}; nothing ran.",
                        request.new.what,
                        request.approvers.len(),
                        request.new.required,
                        clock_time(request.new.expires_at)
                    ),
                );
                self.post(
                    &incident,
                    card(self.about(&incident, message), request.id, true),
                )
                .await;
            }
        }
        let recover = self
            .next_recovery
            .lock()
            .map(|next| next.is_none_or(|at| std::time::Instant::now() >= at))
            .unwrap_or(true);
        if recover {
            for request in self.store.approvals_in(State::Running, None, BATCH).await? {
                let incident = self.incident_of(&request).await?;
                let why = "firewatch restarted while it ran; it may or may not have reached the \
                           cluster, so it is not run again — check the service and ask anew if needed";
                let closed = self
                    .settle(
                        request.id,
                        Close {
                            from: &[State::Running],
                            to: State::Failed,
                            result: Some(why),
                            not_runner: Some(&self.runner),
                        },
                        &[TimelineEvent::ApprovalClosed {
                            request: request.id,
                            state: State::Failed.to_string(),
                            why: why.to_owned(),
                        }],
                        &bot(&incident),
                        now,
                    )
                    .await?;
                if closed.is_some() {
                    done += 1;
                    let message = Message::notice(
                        format!("❌ {} failed: interrupted", request.label()),
                        &format!("{}: {why}.", request.new.what),
                    );
                    self.post(
                        &incident,
                        card(self.about(&incident, message), request.id, true),
                    )
                    .await;
                }
            }
            // Only after the whole pass worked: a failed one is tried again next tick.
            if let Ok(mut next) = self.next_recovery.lock() {
                *next = Some(std::time::Instant::now() + RECOVER_EVERY);
            }
        }
        for request in self
            .store
            .approvals_in(State::Approved, None, BATCH)
            .await?
        {
            if let Some((channel, message)) = self.execute(request.id).await? {
                done += 1;
                tracing::info!(request = request.id, "resumed an approved request");
                if let Err(e) = self.outbox.post(&channel, &message).await {
                    tracing::error!(request = request.id, error = %e, "the result of a resumed request was not delivered");
                }
                self.outbox.mirror(&channel, &message).await;
            }
        }
        Ok(done)
    }

    /// Closes the incident's open requests (pending or approved, not yet running) because it
    /// ended; returns the channel messages.
    pub(super) async fn cancel_requests(&self, id: IncidentId) -> Result<Vec<Reply>> {
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
    async fn settle(
        &self,
        id: i64,
        close: Close<'_>,
        entries: &[TimelineEvent],
        actor: &Actor,
        at: chrono::DateTime<chrono::Utc>,
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

    async fn close_request(
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

    /// The request a vote is about: `R3`, or the only pending one of the channel's incident.
    async fn find_request(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
        id: Option<RequestId>,
    ) -> Result<Request> {
        if let Some(RequestId(n)) = id {
            return self.store.approval(n).await?.ok_or_else(|| {
                refuse(
                    format!("There is no request R{n}"),
                    "The request message names its number (R3); /incident-status shows the incident's timeline.",
                )
            });
        }
        let incident = self.target(caller, explicit).await?;
        let mut pending = self.store.approvals_of(incident.id, State::Pending).await?;
        match pending.len() {
            1 => Ok(pending.remove(0)),
            0 => Err(refuse(
                format!("No change waits for approval in {}", incident.id),
                "Nothing to approve or deny.",
            )),
            _ => Err(refuse(
                format!("Several changes wait for approval in {}", incident.id),
                format!(
                    "Name one: {}.",
                    pending
                        .iter()
                        .map(|r| format!("{} ({})", r.label(), r.new.what))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    async fn incident_of(&self, request: &Request) -> Result<Incident> {
        self.store
            .incident(request.new.incident)
            .await?
            .ok_or_else(|| crate::store::Error::NotFound(request.new.incident).into())
    }

    /// A message that closes request `request`'s card.
    fn closing_card(
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

    async fn post(&self, incident: &Incident, message: Message) {
        if let Err(e) = self.outbox.post(&incident.channel, &message).await {
            tracing::error!(incident = %incident.id, error = %e, "an approval message was not delivered");
        }
        self.outbox.mirror(&incident.channel, &message).await;
    }
}

/// The gate's effect for a stored change.
fn effect_of(change: &Change) -> Box<dyn Effect + '_> {
    match change {
        Change::Job { spec, purpose } => Box::new(JobRun {
            spec,
            purpose: *purpose,
        }),
        _ => Box::new(Mitigation),
    }
}

/// Whether a claimed request runs, or was closed with this message.
enum Ready {
    /// It runs: the change and its fresh preview.
    Run(Box<(Mutation, Plan)>),
    /// It was closed without running: the headline and body of the message that says so.
    Closed(String, String),
}

/// Why a closed request takes no votes, with what happened to it.
fn closed_detail(request: &Request) -> String {
    let mut text = match request.state {
        State::Approved | State::Running => "It has its approvals and is running.".to_owned(),
        State::Succeeded => "It already ran.".to_owned(),
        State::Failed => "It ran and failed, or could not run.".to_owned(),
        State::Denied => "It was denied; nothing runs.".to_owned(),
        State::Expired => "Nobody approved it in time; nothing runs.".to_owned(),
        State::Cancelled => "It was cancelled; nothing runs.".to_owned(),
        State::Pending => String::new(),
    };
    if let Some(result) = &request.result {
        text.push_str(&format!(" ({result})"));
    }
    text
}
