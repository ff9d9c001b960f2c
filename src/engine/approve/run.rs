//! Running an approved request, exactly once: the run claims it with the store's atomic
//! `approved → running` update, re-checks the incident and the service, previews the change
//! again, then takes it through the change gate's effect (`gate::Effect`) and closes the
//! request with what it did.
//!
//! It runs what the ledger approved; it does not count votes or decide who may approve.

use crate::approval::{Request, State};
use crate::engine::gate::{Effect, Mitigation, previewed};
use crate::engine::jobs::JobRun;
use crate::engine::messages::{card, done_or_failed, names, outcome_message};
use crate::engine::{Engine, Result, error_reference};
use crate::incident::timers::bot;
use crate::incident::{Actor, ChannelRef, Incident, TimelineEvent};
use crate::message::{Block, Message};
use crate::ops::{Change, Mutation, Plan};
use crate::store::Close;

impl Engine {
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
        let recorded = self
            .record_outcome(request.id, close, &entries, requester)
            .await;
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
        let mut message = outcome_message(headline, &body, plan, &outcome);
        if let Err(e) = recorded {
            // The change ran: the channel hears what it did even though the store has no
            // record of it (the request shows as running until this process restarts).
            let reference = error_reference();
            tracing::error!(request = request.id, reference = %reference, error = %crate::error_chain(&e), "a change ran but its outcome could not be recorded");
            message.blocks.push(Block::Text(format!(
                "⚠️ firewatch could not record this outcome (error {reference}): its records \
                 show {} as running until firewatch restarts, and the timeline lacks it.",
                request.label()
            )));
        }
        Ok(card(self.about(incident, message), request.id, true))
    }

    /// Closes request `id` with what its run did (`close`, `entries` on the timeline, as
    /// `actor`), trying again while the store refuses: the change ran, only its record is
    /// missing. A try whose commit went through unanswered leaves the next one nothing to move.
    async fn record_outcome(
        &self,
        id: i64,
        close: Close<'_>,
        entries: &[TimelineEvent],
        actor: &Actor,
    ) -> std::result::Result<(), crate::store::Error> {
        let mut waits = RECORD_RETRIES.iter();
        loop {
            let settled = self
                .settle(id, close, entries, actor, self.clock.now())
                .await;
            match (settled, waits.next()) {
                (Ok(_), _) => return Ok(()),
                (Err(e), Some(wait)) => {
                    tracing::warn!(request = id, error = %crate::error_chain(&e), "the outcome of a change could not be recorded; trying again");
                    tokio::time::sleep(*wait).await;
                }
                (Err(e), None) => return Err(e),
            }
        }
    }
}

/// How long to wait before each new try of recording a change's outcome (about 8 s in all).
const RECORD_RETRIES: [std::time::Duration; 6] = [
    std::time::Duration::from_millis(100),
    std::time::Duration::from_millis(250),
    std::time::Duration::from_millis(500),
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(2),
    std::time::Duration::from_secs(4),
];

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
