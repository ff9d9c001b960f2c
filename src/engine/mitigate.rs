//! Commands that change the cluster: rollback and scale. Each builds one [`Mutation`], previews
//! it (a dry run the cluster checks), records the preview, applies it and records the result,
//! then tells the channel.
//!
//! # Guarantees
//! A mutation runs at most once per command: the chat request is marked done with the preview's
//! timeline entry, before anything changes, so a redelivery has no effect. Nothing is changed
//! when the preview fails.

use super::{Caller, Engine, Reply, Result, refusal, refuse, to_channel};
use crate::command::CommandName;
use crate::incident::lifecycle::{self, Event, Step};
use crate::incident::{Incident, IncidentId, TimelineEvent};
use crate::message::{Block, Message};
use crate::ops::{Change, Mutation};
use crate::store::Updated;

impl Engine {
    /// `/incident-rollback`, `/incident-scale`: preview, record, apply, record, announce.
    #[tracing::instrument(skip(self, caller, change), fields(user = %caller.actor.id))]
    pub(super) async fn mitigate(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
        name: CommandName,
        change: Change,
    ) -> Result<Vec<Reply>> {
        let incident = self.target(caller, explicit).await?;
        self.check_allowed(&incident, name)?;
        let service = self.service_of(caller, Some(incident.id)).await?;
        if let Change::Scale { replicas, .. } = &change
            && *replicas > self.limits.max_replicas
        {
            return Err(refuse(
                format!("{replicas} replicas is more than allowed"),
                format!(
                    "scale.max_replicas is {}; ask for at most that many.",
                    self.limits.max_replicas
                ),
            ));
        }
        let mutation = Mutation { service, change };
        let what = mutation.describe();
        let plan = self.cluster.preview(&mutation).await.map_err(|e| {
            refuse(
                format!("Cannot {what}"),
                format!("{e}. Nothing was changed."),
            )
        })?;
        let previewed = TimelineEvent::MutationPreviewed {
            what: what.clone(),
            before: plan.before.clone(),
            after: plan.after.clone(),
            checked: plan.checked.clone(),
        };
        let incident = self
            .record(
                caller,
                caller.request.as_deref(),
                &incident,
                name,
                previewed,
            )
            .await?;
        tracing::info!(incident = %incident.id, %what, "mutation previewed; applying");
        let outcome = self.cluster.apply(&mutation).await;
        let (entry, headline, ok) = match &outcome {
            Ok(done) => (
                TimelineEvent::MutationApplied {
                    what: what.clone(),
                    before: done.before.clone(),
                    after: done.after.clone(),
                    detail: done.detail.clone(),
                },
                format!("🔧 {} {}: done", name, incident.id),
                true,
            ),
            Err(e) => (
                TimelineEvent::MutationFailed {
                    what: what.clone(),
                    error: e.to_string(),
                },
                format!("❌ {} {}: failed", name, incident.id),
                false,
            ),
        };
        let incident = self.record(caller, None, &incident, name, entry).await?;
        let mut message = Message::notice(headline, &format!("{} by {}", what, caller.actor));
        message.blocks.extend([
            field("Preview", &plan.checked),
            field("From", &plan.before),
            field("To", &plan.after),
        ]);
        match outcome {
            Ok(done) => message.blocks.push(field("Result", &done.detail)),
            Err(e) => message.blocks.push(field("Error", &e.to_string())),
        }
        if !ok {
            message
                .blocks
                .push(Block::Text("The incident timeline has the details.".into()));
        }
        let message = message
            .with_colour(&self.policy.level(incident.severity).colour)
            .about(incident.id);
        Ok(vec![to_channel(&incident.channel, message)])
    }

    /// Appends `entry` to the incident's timeline as the caller's mitigation step `name`.
    async fn record(
        &self,
        caller: &Caller,
        request: Option<&str>,
        incident: &Incident,
        name: CommandName,
        entry: TimelineEvent,
    ) -> Result<Incident> {
        self.record_step(caller, request, incident, name, Step::Mitigate, entry)
            .await
    }

    /// Appends `entry` to the incident's timeline as the caller's `name` command, a `step` (a
    /// responder action: it acknowledges an unacknowledged incident).
    pub(super) async fn record_step(
        &self,
        caller: &Caller,
        request: Option<&str>,
        incident: &Incident,
        name: CommandName,
        step: Step,
        entry: TimelineEvent,
    ) -> Result<Incident> {
        let now = self.clock.now();
        let event = Event::Record {
            step,
            entries: vec![entry],
            raise: None,
        };
        let decide =
            |i: &Incident| lifecycle::apply(i, event.clone(), &caller.actor, now, &self.policy);
        match self
            .store
            .update(incident.id, &caller.actor, now, request, &decide)
            .await?
        {
            Updated::Changed { after, .. } => Ok(*after),
            Updated::Refused(r) => Err(refusal(name, r)),
        }
    }
}

fn field(label: &str, value: &str) -> Block {
    Block::Field {
        label: label.into(),
        value: value.into(),
    }
}
