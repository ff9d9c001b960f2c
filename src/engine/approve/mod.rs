//! `/incident-approve [#ID] [REQ]`, `/incident-deny [#ID] [REQ] [reason]` (typed, or the buttons of a
//! request message, which run the same command lines): who may vote, the vote, and its message.
//! Running an approved request is [`run`]'s; expiry, recovery and cancellation are [`ledger`]'s.
//!
//! # Guarantees
//! - A vote counts only from the channel the request was posted in (the incident's), on its
//!   platform; one from anywhere else is answered with where to vote, and writes nothing.
//! - The requester never approves their own request, from any account `[people.NAME]` links to
//!   them; only people the policy names do. Refused attempts are answered with who may approve,
//!   and recorded on the timeline.
//! - One vote per person per request, whatever the number of deliveries or of their accounts.
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

mod ledger;
mod run;

use super::gate::person;
use super::messages::{card, field, names};
use super::{Caller, Engine, Reply, Result, private, refuse, to_channel};
use crate::approval::{Ballot, Request, Rule, State, Vote, Voted};
use crate::command::RequestId;
use crate::incident::{ChannelRef, Incident, IncidentId, Platform};
use crate::message::Message;

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
        let incident = self.incident_of(&request).await?;
        check_place(caller, &incident, &request, vote)?;
        self.open_for_votes(&request, &incident).await?;
        let rule = self
            .approvals
            .rule(&request.new.change, request.new.severity);
        self.check_voter(caller, &incident, &request, vote, &rule)
            .await?;
        let person = self.approvals.person_key(&caller.actor);
        let ballot = Ballot {
            voter: &caller.actor,
            person: &person,
            vote,
            reason: reason.as_deref(),
        };
        let voted = self
            .store
            .vote(
                request.id,
                &ballot,
                self.clock.now(),
                caller.request.as_deref(),
            )
            .await?;
        let voting = Voting {
            caller,
            incident: &incident,
            label: request.label(),
            approvers: self.approvals.describe_approvers(&rule),
        };
        match voted {
            Voted::Duplicate(r) => Ok(vec![private(Message::notice(
                format!("You already voted on {}", voting.label),
                &format!(
                    "It has {} of {} needed; your vote counts once.",
                    r.approvers.len(),
                    r.new.required
                ),
            ))]),
            Voted::Closed(r) if r.state == State::Pending => Err(refuse(
                format!("{} has expired", voting.label),
                "Nobody approved it in time; nothing runs. Ask again if it is still needed.",
            )),
            Voted::Closed(r) => Err(refuse(
                format!("{} is {}", voting.label, r.state),
                closed_detail(&r),
            )),
            Voted::Denied(r) => Ok(self.denied(&voting, &r, reason.as_deref())),
            Voted::Approved {
                request: r,
                complete,
            } => self.approved(&voting, &r, complete).await,
        }
    }

    /// Refuses a vote on a request that takes no more. A request whose incident ended is
    /// cancelled on the way (nothing runs).
    async fn open_for_votes(&self, request: &Request, incident: &Incident) -> Result<()> {
        let label = request.label();
        if request.state != State::Pending {
            return Err(refuse(
                format!("{label} is {}", request.state),
                closed_detail(request),
            ));
        }
        if incident.status.is_active() {
            return Ok(());
        }
        let why = format!("{} is {}", incident.id, incident.status);
        self.close_request(request, incident, &[State::Pending], State::Cancelled, &why)
            .await?;
        Err(refuse(
            format!("{label} is cancelled"),
            format!("{why}; nothing runs."),
        ))
    }

    /// Refuses (and records on the timeline) a vote the policy does not allow: the requester
    /// approving their own request, or someone who is not an approver. The requester may
    /// withdraw (deny) their own request.
    async fn check_voter(
        &self,
        caller: &Caller,
        incident: &Incident,
        request: &Request,
        vote: Vote,
        rule: &Rule,
    ) -> Result<()> {
        let label = request.label();
        let tried = vote.as_str();
        let who = self.approvals.describe_approvers(rule);
        let own = self
            .approvals
            .same_person(&caller.actor, &request.new.requested_by);
        let (why, refusal) = if own && vote == Vote::Approve {
            (
                "the requester cannot approve their own request".to_owned(),
                refuse(
                    format!("You cannot approve {label}: you asked for it"),
                    format!(
                        "Someone else must approve it: {who}. (You can withdraw it with /incident-deny {label}.)"
                    ),
                ),
            )
        } else if !own && !self.approvals.may_approve(rule, person(caller)) {
            (
                format!("not an approver (may approve: {who})"),
                refuse(
                    format!("You may not {tried} {label}"),
                    format!(
                        "Only {who} may approve or deny {} changes. The attempt is on the incident's timeline.",
                        request.new.command
                    ),
                ),
            )
        } else {
            return Ok(());
        };
        let delivery = caller.request.as_deref();
        self.audit_refusal(caller, delivery, incident, Some(request.id), tried, &why)
            .await?;
        Err(refusal)
    }

    /// The channel message of a denial, which closed the request.
    fn denied(&self, voting: &Voting<'_>, request: &Request, reason: Option<&str>) -> Vec<Reply> {
        tracing::info!(request = request.id, "approval request denied");
        self.metrics.approval(State::Denied);
        let mut message = Message::notice(
            format!("🚫 {} denied by {}", voting.label, voting.caller.actor),
            &format!("{} will not run.", request.new.what),
        );
        if let Some(reason) = reason {
            message.blocks.push(field("Reason", reason));
        }
        let message = card(self.about(voting.incident, message), request.id, true);
        vec![to_channel(&voting.incident.channel, message)]
    }

    /// The channel message of a counted approval; when it was the last one needed, the request
    /// runs now and its result follows.
    async fn approved(
        &self,
        voting: &Voting<'_>,
        request: &Request,
        complete: bool,
    ) -> Result<Vec<Reply>> {
        if complete {
            self.metrics.approval(State::Approved);
        }
        let count = request.approvers.len() as u32;
        let required = request.new.required;
        let what = &request.new.what;
        let body = if complete {
            format!("Enough approvals: running {what} now.")
        } else {
            format!(
                "Waiting for {} more from {} before {what} runs.",
                required.saturating_sub(count),
                voting.approvers
            )
        };
        let mut message = Message::notice(
            format!(
                "👍 {} approved by {} ({count} of {required})",
                voting.label, voting.caller.actor
            ),
            &body,
        );
        message
            .blocks
            .push(field("Approved by", &names(&request.approvers)));
        let message = card(self.about(voting.incident, message), request.id, false);
        let mut replies = vec![to_channel(&voting.incident.channel, message)];
        if complete && let Some((channel, result)) = self.execute(request.id).await? {
            replies.push(to_channel(&channel, result));
        }
        Ok(replies)
    }

    /// The request a vote is about: `R3`, or the only pending one of the channel's incident.
    async fn find_request(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
        id: Option<RequestId>,
    ) -> Result<Request> {
        if let Some(RequestId(n)) = id {
            let request = self.store.approval(n).await?.ok_or_else(|| {
                refuse(
                    format!("There is no request R{n}"),
                    "The request message names its number (R3); /incident-status shows the incident's timeline.",
                )
            })?;
            return match explicit {
                Some(named) if named != request.new.incident => Err(refuse(
                    format!("R{n} is not a request of {named}"),
                    format!(
                        "R{n} asks for a change to {}; name the request alone, or with its own incident.",
                        request.new.incident
                    ),
                )),
                _ => Ok(request),
            };
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
}

/// A vote being answered: who voted, on which incident's request, and who may approve it.
struct Voting<'a> {
    caller: &'a Caller,
    incident: &'a Incident,
    label: String,
    approvers: String,
}

/// Refuses a vote from anywhere but the channel the request was posted in (or its incident's
/// channel, should that have moved since), on that channel's platform. Nothing is written: the
/// voter is told where to vote.
fn check_place(caller: &Caller, incident: &Incident, request: &Request, vote: Vote) -> Result<()> {
    let posted = &request.new.channel;
    let places: Vec<&ChannelRef> = std::iter::once(posted)
        .chain(
            (incident.channel != *posted && incident.channel.platform == posted.platform)
                .then_some(&incident.channel),
        )
        .collect();
    if places.contains(&&caller.channel) {
        return Ok(());
    }
    let label = request.label();
    tracing::warn!(
        request = request.id,
        user = %caller.actor.id,
        platform = %caller.channel.platform.as_str(),
        channel = %caller.channel.id,
        "refused a vote from outside the request's channel"
    );
    let named: Vec<String> = places.iter().map(|c| channel_name(c)).collect();
    Err(refuse(
        format!("You cannot {} {label} from here", vote.as_str()),
        format!(
            "Votes on {label} count only in the channel it was posted in: {}. Vote there; nothing was changed.",
            named.join(" or ")
        ),
    ))
}

/// `Slack channel C0AUTH`, `the terminal's #ops`: a channel as people look for it.
fn channel_name(channel: &ChannelRef) -> String {
    match channel.platform {
        Platform::Slack => format!("Slack channel {}", channel.id),
        Platform::Discord => format!("Discord channel {}", channel.id),
        Platform::Console => format!("the terminal's #{}", channel.id),
    }
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
