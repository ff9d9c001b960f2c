//! The change gate. Every change firewatch makes to the cluster — a rollback, a scale, a runbook
//! action, a verification Job — passes through [`Engine::gate`] the same way:
//!
//! 1. **who may ask**: the approval policy's requesters; a refusal is answered and recorded on
//!    the timeline (audit);
//! 2. **preview**: a dry run the cluster checks;
//! 3. **pin**: what runs, now or once approved, is the change exactly as previewed
//!    ([`Plan::pinned`]), even if the release moves meanwhile;
//! 4. **policy**: when the rule needs approvals, the request is stored with its card message
//!    (votes and the approved run are `approve`'s); otherwise "no approval required"
//!    is recorded and the change runs at once.
//!
//! What differs between kinds of change is the [`Effect`] seam: a mutation reports its outcome
//! as soon as the cluster answers; a verification Job reserves its watcher, is recorded as
//! started before it exists, and reports its result when it finishes.
//!
//! The gate owns the order of these steps and the timeline entries they write. It does not build
//! changes (mitigate, jobs), count votes or run approved requests (approve).
//!
//! # Guarantees
//! - Nothing is applied before the decision to run is committed with the chat delivery marked
//!   done (or the request is stored): a redelivered command changes nothing twice.
//! - A failed preview changes nothing.

use super::messages::{card, done_or_failed, outcome_message, preview_line, request_message};
use super::steps::step_of;
use super::{Caller, Engine, Result, refuse};
use crate::approval::{NewRequest, Person, Rule};
use crate::command::CommandName;
use crate::incident::lifecycle::Step;
use crate::incident::{Incident, TimelineEvent};
use crate::message::Message;
use crate::ops::{self, Mutation, Plan};

/// What applying a change came to.
pub(super) type Outcome = Result<ops::Done, ops::Error>;

/// A change asked for on one incident.
pub(super) struct Ask<'a> {
    /// Who asks.
    pub caller: &'a Caller,
    /// The chat delivery marked done with the first entries recorded; `None` when an earlier
    /// part of the same command already marked it.
    pub delivery: Option<&'a str>,
    /// The incident, its state already checked for the command.
    pub incident: &'a Incident,
    /// The command that asks (its lifecycle step, the request's command).
    pub command: CommandName,
}

/// What differs between the kinds of change the gate lets through. The defaults are those of
/// a mitigation ([`Mitigation`]): done (or failed) when the cluster answers, and said so at once.
pub(super) trait Effect: Send + Sync {
    /// Why such a change is asked for, for the request's "Why" (`mitigate`, `verify`).
    fn purpose(&self) -> &'static str {
        "mitigate"
    }

    /// A failed preview when asked: `None` refuses the caller and records nothing; `Some` is a
    /// result to record (as the caller's step) and post instead.
    fn unpreviewed(
        &self,
        _engine: &Engine,
        _incident: &Incident,
        _error: &ops::Error,
    ) -> Option<(Vec<TimelineEvent>, Message)> {
        None
    }

    /// Takes what the run holds while it runs; `Err` says why it cannot run now.
    fn reserve(&self, _engine: &Engine) -> std::result::Result<(), String> {
        Ok(())
    }

    /// Gives back what [`Effect::reserve`] took, when the run does not happen after all.
    fn release(&self, _engine: &Engine) {}

    /// Entries committed with the decision to run, before the cluster is touched.
    fn starting(&self) -> Vec<TimelineEvent> {
        Vec::new()
    }

    /// The entries that record what applying it did.
    fn recorded(&self, what: &str, outcome: &Outcome) -> Vec<TimelineEvent> {
        vec![applied_entry(what, outcome)]
    }

    /// What follows the cluster's answer (a Job is watched, or given back when it was not
    /// created).
    fn follow(&self, _engine: &Engine, _incident: &Incident, _outcome: &Outcome) {}

    /// The channel message of a change that ran as it was asked (no approval needed): what ran,
    /// who asked, the preview and the result.
    fn ran(&self, engine: &Engine, ran: &Ran<'_>) -> Message {
        let (mark, done) = done_or_failed(ran.outcome);
        let headline = format!("{mark} {} {}: {done}", ran.ask.command, ran.incident.id);
        let body = format!("{} by {}", ran.what, ran.ask.caller.actor);
        let message = outcome_message(headline, &body, ran.plan, ran.outcome);
        engine.about(ran.incident, message)
    }
}

/// A rollback, scale or runbook action: the trait's defaults.
pub(super) struct Mitigation;

impl Effect for Mitigation {}

/// A change that ran as it was asked, for its message.
pub(super) struct Ran<'a> {
    /// How it was asked.
    pub ask: &'a Ask<'a>,
    /// The incident after its entries were recorded.
    pub incident: &'a Incident,
    /// What it did, in words.
    pub what: &'a str,
    /// The preview it ran on.
    pub plan: &'a Plan,
    /// What the cluster said.
    pub outcome: &'a Outcome,
}

impl Engine {
    /// Takes `mutation` through the gate for `ask`: who may ask, preview, pin, then a stored
    /// approval request (its card) or the run (its message). Returns the channel message.
    ///
    /// # Errors
    /// A refusal when the caller may not ask, the preview fails (unless `effect` reports it) or
    /// the state machine refuses the step; store failures.
    pub(super) async fn gate(
        &self,
        ask: &Ask<'_>,
        mutation: Mutation,
        effect: &dyn Effect,
    ) -> Result<Message> {
        let what = mutation.describe();
        let rule = self.approvals.rule(&mutation.change, ask.incident.severity);
        self.check_requester(ask, &rule, &what).await?;
        let plan = match self.cluster.preview(&mutation).await {
            Ok(plan) => plan,
            Err(e) => return self.unpreviewed(ask, effect, &what, &e).await,
        };
        let pinned = Mutation {
            change: plan.pinned.clone(),
            ..mutation
        };
        if rule.required > 0 {
            self.request_approval(ask, effect, &pinned, &plan, &rule, &what)
                .await
        } else {
            self.run_now(ask, effect, &pinned, &plan, &what).await
        }
    }

    /// Refuses (and records on the timeline) a caller the policy does not let ask.
    async fn check_requester(&self, ask: &Ask<'_>, rule: &Rule, what: &str) -> Result<()> {
        if self.approvals.may_request(rule, person(ask.caller)) {
            return Ok(());
        }
        let who = self.approvals.describe_requesters(rule);
        let command = ask.command;
        let why = format!("only {who} may ask for {command} (approval policy)");
        self.audit_refusal(
            ask.caller,
            ask.delivery,
            ask.incident,
            None,
            "request",
            &why,
        )
        .await?;
        Err(refuse(
            format!("You may not ask for {what}"),
            format!("Only {who} may ask for {command}. The attempt is on the incident's timeline."),
        ))
    }

    /// A preview that failed as it was asked: refused, or the effect's result recorded.
    async fn unpreviewed(
        &self,
        ask: &Ask<'_>,
        effect: &dyn Effect,
        what: &str,
        error: &ops::Error,
    ) -> Result<Message> {
        let Some((entries, message)) = effect.unpreviewed(self, ask.incident, error) else {
            return Err(refuse(
                format!("Cannot {what}"),
                format!("{error}. Nothing was changed."),
            ));
        };
        self.record_entries(
            ask.caller,
            ask.delivery,
            ask.incident,
            ask.command,
            asked_step(ask.command),
            entries,
        )
        .await?;
        Ok(message)
    }

    /// Stores the approval request (with the preview and the request on the timeline, the chat
    /// delivery marked done) and returns its card.
    async fn request_approval(
        &self,
        ask: &Ask<'_>,
        effect: &dyn Effect,
        mutation: &Mutation,
        plan: &Plan,
        rule: &Rule,
        what: &str,
    ) -> Result<Message> {
        let incident = ask.incident;
        let now = self.clock.now();
        let new = NewRequest {
            incident: incident.id,
            command: ask.command.word().to_owned(),
            service: mutation.service.name.clone(),
            severity: incident.severity,
            change: mutation.change.clone(),
            what: what.to_owned(),
            preview: preview_line(plan),
            reason: Some(format!(
                "{} {}: {}",
                effect.purpose(),
                incident.id,
                incident.summary
            )),
            requested_by: ask.caller.actor.clone(),
            channel: incident.channel.clone(),
            requested_at: now,
            expires_at: now + rule.ttl.as_delta(),
            required: rule.required,
        };
        let approvers = self.approvals.describe_approvers(rule);
        let entries = |id: i64| {
            vec![
                previewed(what, plan),
                TimelineEvent::ApprovalRequested {
                    request: id,
                    what: what.to_owned(),
                    required: rule.required,
                    approvers: approvers.clone(),
                    expires: new.expires_at,
                },
            ]
        };
        let request = self
            .store
            .request_approval(&new, &entries, ask.delivery)
            .await?;
        tracing::info!(incident = %incident.id, request = request.id, %what, "approval requested");
        let message = request_message(incident, &request, plan, &approvers);
        Ok(card(self.about(incident, message), request.id, false))
    }

    /// Runs a change the policy lets run without approval: the preview and "no approval
    /// required" are recorded as the caller's step (with the effect's starting entries), then it
    /// is applied and what it did recorded, whatever the incident's state is by then (someone may
    /// have resolved it while helm waited).
    async fn run_now(
        &self,
        ask: &Ask<'_>,
        effect: &dyn Effect,
        mutation: &Mutation,
        plan: &Plan,
        what: &str,
    ) -> Result<Message> {
        effect
            .reserve(self)
            .map_err(|why| refuse(why, "Wait for its result, then try again."))?;
        let mut entries = vec![
            previewed(what, plan),
            TimelineEvent::ApprovalNotRequired {
                what: what.to_owned(),
            },
        ];
        entries.extend(effect.starting());
        let step = asked_step(ask.command);
        let recorded = self
            .record_entries(
                ask.caller,
                ask.delivery,
                ask.incident,
                ask.command,
                step,
                entries,
            )
            .await;
        let incident = recorded.inspect_err(|_| effect.release(self))?;
        tracing::info!(incident = %incident.id, %what, "no approval required; applying");
        let (outcome, after) = self.apply_gated(&incident, mutation, what, effect).await;
        let incident = if after.is_empty() {
            incident
        } else {
            self.record_entries(ask.caller, None, &incident, ask.command, Step::Read, after)
                .await?
        };
        let ran = Ran {
            ask,
            incident: &incident,
            what,
            plan,
            outcome: &outcome,
        };
        Ok(effect.ran(self, &ran))
    }

    /// Applies a change whose run is recorded, lets the effect follow up, and returns what
    /// happened with the entries that record it.
    pub(super) async fn apply_gated(
        &self,
        incident: &Incident,
        mutation: &Mutation,
        what: &str,
        effect: &dyn Effect,
    ) -> (Outcome, Vec<TimelineEvent>) {
        let outcome = self.cluster.apply(mutation).await;
        let entries = effect.recorded(what, &outcome);
        effect.follow(self, incident, &outcome);
        (outcome, entries)
    }

    /// Records a refused approve, deny or request on the incident's timeline (audit), marking
    /// the chat `delivery` done with it (`None` when the command marked it already).
    pub(super) async fn audit_refusal(
        &self,
        caller: &Caller,
        delivery: Option<&str>,
        incident: &Incident,
        request: Option<i64>,
        tried: &str,
        why: &str,
    ) -> Result<()> {
        let entry = TimelineEvent::ApprovalRefused {
            request,
            tried: tried.to_owned(),
            why: why.to_owned(),
        };
        tracing::warn!(incident = %incident.id, user = %caller.actor.id, tried, why, "approval refused");
        self.store
            .append(
                incident.id,
                &caller.actor,
                self.clock.now(),
                delivery,
                &[entry],
            )
            .await?;
        Ok(())
    }
}

/// The caller as the approval policy sees them.
pub(super) fn person(caller: &Caller) -> Person<'_> {
    Person {
        actor: &caller.actor,
        platform_roles: &caller.roles,
    }
}

/// The lifecycle step of a command that asks for a change.
fn asked_step(command: CommandName) -> Step {
    step_of(command).expect("commands that change the cluster are steps of one incident")
}

/// The timeline entry of a preview.
pub(super) fn previewed(what: &str, plan: &Plan) -> TimelineEvent {
    TimelineEvent::MutationPreviewed {
        what: what.to_owned(),
        before: plan.before.clone(),
        after: plan.after.clone(),
        checked: plan.checked.clone(),
    }
}

/// The timeline entry of a mutation the cluster applied, or of its failure.
pub(super) fn applied_entry(what: &str, outcome: &Outcome) -> TimelineEvent {
    match outcome {
        Ok(done) => TimelineEvent::MutationApplied {
            what: what.to_owned(),
            before: done.before.clone(),
            after: done.after.clone(),
            detail: done.detail.clone(),
        },
        Err(e) => TimelineEvent::MutationFailed {
            what: what.to_owned(),
            error: e.to_string(),
        },
    }
}
