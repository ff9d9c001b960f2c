//! Commands that change an incident: assess, ack, update, severity, note, resolve, and their
//! announcements. Changes go through the state machine and the store; nothing here touches the
//! cluster beyond the evidence `/incident-assess` gathers.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::steps::refusal;
use super::{Caller, Engine, Reply, Result, error_reference, refuse, to_channel};
use crate::command::CommandName;
use crate::incident::lifecycle::{self, Event, FollowUp, Outcome};
use crate::incident::trail::{self, Trail};
use crate::incident::{Actor, ChannelRef, Incident, IncidentId, Severity, TimelineEvent};
use crate::message::{ButtonStyle, Message};
use crate::notify::{Template, context};
use crate::store::Updated;

impl Engine {
    /// `/incident-assess`: classify, open, page, alert.
    #[tracing::instrument(skip(self, caller, description), fields(user = %caller.actor.id))]
    pub(super) async fn assess(
        &self,
        caller: &Caller,
        description: String,
        severity: Option<Severity>,
        service: Option<&str>,
    ) -> Result<Vec<Reply>> {
        let service = self
            .catalog
            .pick(service)
            .map_err(|e| refuse("Unknown service", e))?;
        let now = self.clock.now();
        let classification = self.policy.classify(&description, severity);
        let opening = self
            .prepare_opening(
                &caller.actor,
                &caller.channel,
                description,
                classification,
                service,
                now,
            )
            .await;
        let incident = self
            .store
            .open_incident(&opening.draft, caller.request.as_deref())
            .await?;
        tracing::info!(incident = %incident.id, severity = %incident.severity, "incident opened");
        let mut message = self.opened(&incident, opening, &caller.actor);
        self.follow_pages(None, &incident, None, &mut message).await;
        Ok(vec![to_channel(&caller.channel, message)])
    }

    /// The roles an incident of `severity` on `service` pages: the severity's, then the
    /// service's owners, then `more`, each once.
    pub(super) fn paged(&self, severity: Severity, service: &str, more: &[String]) -> Vec<String> {
        let owners = self.catalog.get(service).map(|s| &s.owners[..]);
        let mut paged: Vec<String> = Vec::new();
        let level = &self.policy.level(severity).roles;
        for role in level.iter().chain(owners.unwrap_or_default()).chain(more) {
            if !paged.contains(role) {
                paged.push(role.clone());
            }
        }
        paged
    }

    /// Ack, update, severity, note, resolve: run the state machine on the stored incident,
    /// commit, announce.
    ///
    /// # Guarantees
    /// The change is committed before the announcement is returned, and it was decided on the
    /// incident as stored at that moment (concurrent commands on one incident serialise).
    pub(super) async fn transition(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
        name: CommandName,
        event: Event,
    ) -> Result<Vec<Reply>> {
        self.transition_with(caller, explicit, name, event, None)
            .await
    }

    /// [`Engine::transition`], with `public` (text for the status page) recorded after the
    /// event's own entries when the state machine accepts it.
    pub(super) async fn transition_with(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
        name: CommandName,
        event: Event,
        public: Option<TimelineEvent>,
    ) -> Result<Vec<Reply>> {
        let target = self.target(caller, explicit).await?;
        let now = self.clock.now();
        let decide = |incident: &Incident| {
            let mut outcome =
                lifecycle::apply(incident, event.clone(), &caller.actor, now, &self.policy)?;
            outcome.entries.extend(public.clone());
            Ok(outcome)
        };
        match self
            .store
            .update(
                target.id,
                &caller.actor,
                now,
                caller.request.as_deref(),
                &decide,
            )
            .await?
        {
            Updated::Changed { before, after } => {
                tracing::info!(incident = %after.id, command = %name, "incident changed");
                self.metrics.incident_changed(&before, &after, now);
                let mut message = self.announce(&before, &after, &event, caller, now).await;
                self.follow_pages(Some(&before), &after, None, &mut message)
                    .await;
                Ok(vec![to_channel(&after.channel, message)])
            }
            Updated::Refused(r) => Err(refusal(name, r)),
        }
    }

    /// `/incident-resolve`: the transition, then the incident's open approval requests are
    /// closed (nothing they ask for runs once the incident is over).
    pub(super) async fn resolve(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
        root_cause: String,
        resolution: String,
        public: Option<String>,
    ) -> Result<Vec<Reply>> {
        let event = Event::Resolve {
            root_cause,
            resolution,
        };
        let public = public.map(|text| TimelineEvent::PublicUpdate {
            text,
            resolved: true,
        });
        let mut replies = self
            .transition_with(caller, explicit, CommandName::Resolve, event, public)
            .await?;
        if let Some(id) = replies.iter().find_map(|r| r.message.incident) {
            match self.cancel_requests(id).await {
                Ok(more) => replies.extend(more),
                Err(e) => {
                    tracing::error!(incident = %id, error = %crate::error_chain(&e), "could not cancel the incident's approval requests; they are cancelled when they would run")
                }
            }
        }
        Ok(replies)
    }

    /// The paper trail of a committed change, for its announcement. A failed read must not make
    /// the saved change look failed: it is logged and the trail is empty.
    async fn trail_after(&self, incident: &Incident) -> Trail {
        match self.store.timeline(incident.id).await {
            Ok(timeline) => trail::derive(incident, &timeline),
            Err(e) => {
                tracing::warn!(incident = %incident.id, error = %crate::error_chain(&e), "timeline unreadable after a change");
                Trail::default()
            }
        }
    }

    /// The channel message for an accepted change: the event's template, or a plain notice
    /// for bookkeeping (follow-ups, the close, recorded entries).
    async fn announce(
        &self,
        before: &Incident,
        after: &Incident,
        event: &Event,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Message {
        let policy = &self.policy;
        let by = &caller.actor;
        let id = after.id;
        match event {
            Event::Acknowledge => self.render(
                Template::Acknowledged,
                &context::acknowledged(after, policy, now),
                after,
            ),
            Event::PostUpdate { eta, progress, .. } => {
                let posted = context::Posted {
                    progress,
                    eta: eta.as_deref(),
                    previous_status: (before.status != after.status).then_some(before.status),
                    by,
                };
                let trail = self.trail_after(after).await;
                let data = context::update(after, policy, posted, &trail, now);
                self.render(Template::Update, &data, after)
            }
            Event::ChangeSeverity { reason, .. } => {
                self.severity_changed(before, after, reason.as_deref(), by, now)
            }
            Event::AddNote { text } => self.render(
                Template::Note,
                &context::note(after, policy, by, text),
                after,
            ),
            Event::AssignRole { role, person } => {
                let previous = before.holder(*role).filter(|p| *p != person);
                let handover =
                    previous.map_or_else(String::new, |p| format!(", taking over from {p}"));
                Message::notice(
                    format!("👤 {person} IS {} OF {id}", role.to_string().to_uppercase()),
                    &format!(
                        "{person} is {role} from {}{handover} (set by {by}).",
                        now.format("%H:%M UTC")
                    ),
                )
                .about(id)
            }
            Event::Resolve { .. } => self.resolved(after, now).await,
            Event::FollowUp(FollowUp::Add(text)) => self.action_item_added(after, text, by).await,
            Event::FollowUp(FollowUp::Done(n)) => Message::notice(
                format!("☑️ ACTION ITEM {n} on {id} DONE"),
                &format!("Ticked off by {by}."),
            )
            .about(id),
            Event::Close { report } => Message::notice(
                format!("📁 INCIDENT {id} CLOSED"),
                &format!(
                    "Report: {}",
                    crate::incident::timeline::report_file_name(report)
                ),
            )
            .about(id),
            Event::Record { entries, .. } | Event::Alerts { entries, .. } => {
                let lines: Vec<String> = entries.iter().map(|e| e.describe()).collect();
                Message::notice(format!("🗒️ {id} recorded"), &lines.join("\n")).about(id)
            }
        }
    }

    /// The severity-change message, paging the roles the new severity adds.
    pub(super) fn severity_changed(
        &self,
        before: &Incident,
        after: &Incident,
        reason: Option<&str>,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Message {
        let newly_paged = self.newly_paged(before, after);
        let data = context::severity_change(
            after,
            &self.policy,
            before.severity,
            reason,
            &newly_paged,
            by,
            now,
        );
        let mut message = self.render(Template::Severity, &data, after);
        message.paged_roles = newly_paged;
        message
    }

    /// The resolution message, with the response times and the button that writes the report.
    async fn resolved(&self, after: &Incident, now: DateTime<Utc>) -> Message {
        let trail = self.trail_after(after).await;
        self.render(
            Template::Resolved,
            &context::resolved(after, &self.policy, &trail, now),
            after,
        )
        .with_button(
            "Write the report",
            format!("/incident-report {}", after.id),
            ButtonStyle::Primary,
        )
    }

    /// The notice of a new action item, with the number it got.
    async fn action_item_added(&self, after: &Incident, text: &str, by: &Actor) -> Message {
        let id = after.id;
        let trail = self.trail_after(after).await;
        let n = trail
            .action_items
            .iter()
            .rev()
            .find(|i| i.text == text)
            .map_or_else(|| "?".to_owned(), |i| i.n.to_string());
        Message::notice(
            format!("📌 ACTION ITEM {n} on {id}"),
            &format!("{text}\nAdded by {by}. /incident-followup {id} done {n} ticks it off."),
        )
        .about(id)
    }

    /// Roles the new severity pages that were not paged before (when raised).
    fn newly_paged(&self, before: &Incident, after: &Incident) -> Vec<String> {
        if after.severity >= before.severity {
            return Vec::new();
        }
        let paged = self.paged(before.severity, &after.service, &[]);
        let roles = &self.policy.level(after.severity).roles;
        roles
            .iter()
            .filter(|r| !paged.contains(r))
            .cloned()
            .collect()
    }

    /// Renders a message about a committed change. Never fails: the change is saved, so a broken
    /// template must not make it look as if it were not.
    pub(super) fn render(
        &self,
        template: Template,
        data: &impl Serialize,
        incident: &Incident,
    ) -> Message {
        match self.templates.render(template, data) {
            Ok(message) => self.about(incident, message),
            Err(e) => {
                let reference = error_reference();
                tracing::error!(error = %e, reference = %reference, "template failed after commit");
                Message::notice(
                    format!("{} was updated", incident.id),
                    &format!(
                        "The change is saved, but the {} message could not be rendered \
                         (reference {reference}). /incident-status {} shows the incident.",
                        template.name(),
                        incident.id
                    ),
                )
                .about(incident.id)
            }
        }
    }
}

impl Engine {
    /// The incident `id`, as stored.
    ///
    /// # Errors
    /// Store failures.
    pub async fn incident(
        &self,
        id: IncidentId,
    ) -> std::result::Result<Option<Incident>, crate::store::Error> {
        self.store.incident(id).await
    }

    /// Binds an incident to another channel (its own Slack channel): later commands typed
    /// there act on it, and its messages go there. Recorded on the timeline.
    ///
    /// # Errors
    /// Store failures; [`crate::store::Error::NotFound`] for an unknown incident.
    pub async fn bind_channel(
        &self,
        id: IncidentId,
        channel: &ChannelRef,
        actor: &Actor,
    ) -> std::result::Result<(), crate::store::Error> {
        let now = self.clock.now();
        let decide = |incident: &Incident| {
            Ok(Outcome {
                incident: Incident {
                    channel: channel.clone(),
                    ..incident.clone()
                },
                entries: vec![TimelineEvent::ChannelBound {
                    channel: channel.clone(),
                }],
            })
        };
        self.store.update(id, actor, now, None, &decide).await?;
        Ok(())
    }
}
