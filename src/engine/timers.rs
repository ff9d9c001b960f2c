//! Due timers: the store claims and records them; the engine tells the incident's channel. The
//! same scheduler pass lets the approval ledger and the Job watchers catch up. What a timer means
//! is decided by [`crate::incident::timers`], never here.

use chrono::{DateTime, Utc};

use super::Engine;
use crate::incident::timers::{self, Timer, TimerKind};
use crate::incident::{Incident, TimelineEvent};
use crate::message::{ButtonStyle, Message};
use crate::notify::{Template, context};
use crate::store::{self, Fired};

/// How many timers one store call fires at most; a tick repeats until fewer are due.
const BATCH: u32 = 256;

impl Engine {
    /// Fires every timer due now: missed response targets escalate, overdue updates are
    /// reminded; approval requests past their time expire and approved ones nobody runs are run
    /// (see the approval ledger); alerts that waited for their incident's "more alerts"
    /// cadence are shown. Each firing is committed (with its timeline entry) before its
    /// message is posted to the incident's channel through the outbox (for Slack and Discord,
    /// stored and retried there until the platform takes it). A post that cannot be made is
    /// logged; the timeline still records that the timer fired, and it does not fire again.
    ///
    /// # Guarantees
    /// Of the timers one pass fires, escalations (🔥) are posted before reminders (⏰).
    ///
    /// # Errors
    /// Store failures; what fired before them stays fired.
    pub async fn run_due(&self) -> Result<Vec<Fired>, store::Error> {
        let now = self.clock.now();
        let on_due = |incident: &Incident, timer: &Timer| {
            let escalation = self.policy.escalation_roles();
            let paged = self.paged(incident.severity, &incident.service, escalation);
            timers::on_due(incident, timer, now, &self.policy, &paged)
        };
        if let Err(e) = self.run_approvals().await {
            tracing::error!(error = %crate::error_chain(&e), "approval requests could not be expired or resumed; retrying next tick");
        }
        if let Err(e) = self.announce_due().await {
            tracing::error!(error = %crate::error_chain(&e), "alerts waiting to be shown could not be posted; retrying next tick");
        }
        self.catch_up_pages_due().await;
        self.file_what_a_crash_lost().await;
        if let Err(e) = self.resume_jobs().await {
            tracing::error!(error = %crate::error_chain(&e), "verification Jobs of an earlier process could not be resumed; retrying next tick");
        }
        let mut all = Vec::new();
        // Each round moves what it fired past `now` (or off the index), so this ends.
        for _ in 0..1_000 {
            let mut fired = self.store.fire_due(now, BATCH, &on_due).await?;
            let full = fired.len() >= BATCH as usize;
            // What fell due together is posted escalations (🔥) first, then reminders (⏰): a
            // missed response target is the more urgent news. The sort is stable, so each kind
            // keeps its due order.
            fired.sort_by_key(|one| one.timer.kind != TimerKind::Ack);
            for one in &fired {
                self.deliver(one, now).await;
            }
            all.extend(fired);
            if !full {
                break;
            }
        }
        Ok(all)
    }

    async fn deliver(&self, fired: &Fired, now: DateTime<Utc>) {
        let incident = &fired.incident;
        let message = match fired.timer.kind {
            TimerKind::Ack => {
                let paged = fired
                    .entries
                    .iter()
                    .find_map(|e| match e {
                        TimelineEvent::ResponseTargetMissed { paged, .. } => Some(paged.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                let data = context::escalation(incident, &self.policy, &fired.timer, &paged, now);
                let mut message: Message = self
                    .render(Template::Escalation, &data, incident)
                    .with_button(
                        "Acknowledge",
                        format!("/incident-ack {}", incident.id),
                        ButtonStyle::Primary,
                    );
                message.paged_roles = paged;
                message
            }
            TimerKind::Update => {
                let data = context::reminder(incident, &self.policy, &fired.timer, fired.next, now);
                self.render(Template::Reminder, &data, incident)
            }
        };
        tracing::info!(incident = %incident.id, timer = fired.timer.kind.as_str(), "timer fired");
        if let Err(e) = self.outbox.post(&incident.channel, &message).await {
            tracing::error!(
                incident = %incident.id,
                timer = fired.timer.kind.as_str(),
                error = %e,
                "the timer fired (its timeline entry is saved) but its message was not delivered"
            );
        }
        self.outbox.mirror(&incident.channel, &message).await;
    }
}
