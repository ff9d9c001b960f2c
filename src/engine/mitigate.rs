//! Commands that change the cluster: rollback, scale and runbook actions. Each builds one
//! [`Mutation`] and previews it (a dry run the cluster checks). Then the approval policy decides:
//! a change that needs no approval is recorded (with an audit entry saying so), applied and
//! recorded again; one that needs approval is stored as a request (see [`super::approve`]) and
//! announced with Approve / Deny buttons, and runs once enough people approved.
//!
//! # Guarantees
//! A mutation runs at most once per command: the chat request is marked done with the preview's
//! timeline entry (or the stored approval request), before anything changes, so a redelivery has
//! no effect. Nothing is changed when the preview fails.

use chrono::{DateTime, Utc};

use super::{Caller, Engine, Reply, Result, refuse, to_channel};
use crate::approval::{NewRequest, Person, Policy as ApprovalPolicy, Request};
use crate::command::CommandName;
use crate::incident::lifecycle::Step;
use crate::incident::{Incident, IncidentId, TimelineEvent};
use crate::message::{Block, ButtonStyle, Message};
use crate::ops::{self, Change, Mutation, Plan};

impl Engine {
    /// `/incident-rollback`, `/incident-scale`, `/incident-action`: check who asks, preview, then
    /// run at once or ask the channel for approval.
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
        let service = self.service_of(&incident)?;
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
        let rule = self.approvals.rule(&mutation.change, incident.severity);
        if !self.approvals.may_request(&rule, person(caller)) {
            let who = ApprovalPolicy::describe_requesters(&rule);
            let why = format!("only {who} may ask for {name} (approval policy)");
            self.audit_refusal(caller, &incident, None, "request", &why)
                .await?;
            return Err(refuse(
                format!("You may not ask for {what}"),
                format!(
                    "Only {who} may ask for {name}. The attempt is on the incident's timeline."
                ),
            ));
        }
        let plan = self.cluster.preview(&mutation).await.map_err(|e| {
            refuse(
                format!("Cannot {what}"),
                format!("{e}. Nothing was changed."),
            )
        })?;
        let previewed = previewed(&what, &plan);
        // What runs (now or once approved) is what the preview showed.
        let mutation = Mutation {
            change: plan.pinned.clone(),
            ..mutation
        };
        if rule.required > 0 {
            let now = self.clock.now();
            let new = NewRequest {
                incident: incident.id,
                command: name.to_string().trim_start_matches("/incident-").to_owned(),
                service: mutation.service.name.clone(),
                severity: incident.severity,
                change: mutation.change.clone(),
                what: what.clone(),
                preview: preview_line(&plan),
                reason: Some(format!("mitigate {}: {}", incident.id, incident.summary)),
                requested_by: caller.actor.clone(),
                requested_at: now,
                expires_at: now + rule.ttl.as_delta(),
                required: rule.required,
            };
            let approvers = ApprovalPolicy::describe_approvers(&rule);
            let entries = |id: i64| {
                vec![
                    previewed.clone(),
                    TimelineEvent::ApprovalRequested {
                        request: id,
                        what: what.clone(),
                        required: rule.required,
                        approvers: approvers.clone(),
                        expires: new.expires_at,
                    },
                ]
            };
            let request = self
                .store
                .request_approval(&new, &entries, caller.request.as_deref())
                .await?;
            tracing::info!(incident = %incident.id, request = request.id, %what, "approval requested");
            let message = super::approve::card(
                self.request_message(&incident, &request, &plan, &approvers),
                request.id,
                false,
            );
            return Ok(vec![to_channel(&incident.channel, message)]);
        }
        let entries = vec![
            previewed,
            TimelineEvent::ApprovalNotRequired { what: what.clone() },
        ];
        let incident = self
            .record(caller, caller.request.as_deref(), &incident, name, entries)
            .await?;
        tracing::info!(incident = %incident.id, %what, "mutation previewed; no approval required; applying");
        let outcome = self.cluster.apply(&mutation).await;
        let entry = applied_entry(&what, &outcome);
        // The change already happened (or failed) in the cluster: record it whatever the
        // incident's state is now (someone may have resolved it while helm waited).
        let incident = self
            .record_entries(caller, None, &incident, name, Step::Read, vec![entry])
            .await?;
        let headline = match &outcome {
            Ok(_) => format!("🔧 {} {}: done", name, incident.id),
            Err(_) => format!("❌ {} {}: failed", name, incident.id),
        };
        let body = format!("{} by {}", what, caller.actor);
        let message = self.outcome_message(&incident, headline, &body, &plan, &outcome);
        Ok(vec![to_channel(&incident.channel, message)])
    }

    /// The request message: what will change, who asked, why, until when, and the buttons.
    pub(super) fn request_message(
        &self,
        incident: &Incident,
        request: &Request,
        plan: &Plan,
        approvers: &str,
    ) -> Message {
        let new = &request.new;
        let label = request.label();
        let mut message = Message::notice(
            format!("🔐 Approval needed: {label} — {}", new.what),
            &format!(
                "{} asks to {} for {}. It runs once {} approved.",
                new.requested_by,
                new.what,
                incident.id,
                plural(new.required, "person has", "people have")
            ),
        );
        message.blocks.extend([
            field("Request", &label),
            field("Requested by", &new.requested_by.name),
            field("Why", new.reason.as_deref().unwrap_or("—")),
            field("Preview", &plan.checked),
            field("From", &plan.before),
            field("To", &plan.after),
            field(
                "Needs",
                &format!(
                    "{} from {approvers} (not the requester)",
                    plural(new.required, "approval", "approvals")
                ),
            ),
            field("Expires", &clock_time(new.expires_at)),
            Block::Text(format!(
                "Approve with /incident-approve {label}, or deny with /incident-deny {label} [reason]."
            )),
        ]);
        message
            .with_colour(&self.policy.level(incident.severity).colour)
            .about(incident.id)
            .with_button(
                "Approve",
                format!("/incident-approve {label}"),
                ButtonStyle::Primary,
            )
            .with_button(
                "Deny",
                format!("/incident-deny {label}"),
                ButtonStyle::Danger,
            )
    }

    /// The message that reports what a mutation did.
    pub(super) fn outcome_message(
        &self,
        incident: &Incident,
        headline: String,
        body: &str,
        plan: &Plan,
        outcome: &Result<ops::Done, ops::Error>,
    ) -> Message {
        let mut message = Message::notice(headline, body);
        message.blocks.extend([
            field("Preview", &plan.checked),
            field("From", &plan.before),
            field("To", &plan.after),
        ]);
        match outcome {
            Ok(done) => message.blocks.push(field("Result", &done.detail)),
            Err(e) => {
                message.blocks.push(field("Error", &e.to_string()));
                message
                    .blocks
                    .push(Block::Text("The incident timeline has the details.".into()));
            }
        }
        message
            .with_colour(&self.policy.level(incident.severity).colour)
            .about(incident.id)
    }

    /// Records a refused approve, deny or request on the incident's timeline (audit).
    pub(super) async fn audit_refusal(
        &self,
        caller: &Caller,
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
                caller.request.as_deref(),
                &[entry],
            )
            .await?;
        Ok(())
    }

    /// Appends `entries` to the incident's timeline as the caller's mitigation step `name`.
    async fn record(
        &self,
        caller: &Caller,
        request: Option<&str>,
        incident: &Incident,
        name: CommandName,
        entries: Vec<TimelineEvent>,
    ) -> Result<Incident> {
        self.record_entries(caller, request, incident, name, Step::Mitigate, entries)
            .await
    }
}

/// The caller as the approval policy sees them.
pub(super) fn person(caller: &Caller) -> Person<'_> {
    Person {
        actor: &caller.actor,
        platform_roles: &caller.roles,
    }
}

pub(super) fn previewed(what: &str, plan: &Plan) -> TimelineEvent {
    TimelineEvent::MutationPreviewed {
        what: what.to_owned(),
        before: plan.before.clone(),
        after: plan.after.clone(),
        checked: plan.checked.clone(),
    }
}

pub(super) fn applied_entry(what: &str, outcome: &Result<ops::Done, ops::Error>) -> TimelineEvent {
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

fn preview_line(plan: &Plan) -> String {
    format!("{} → {} ({})", plan.before, plan.after, plan.checked)
}

pub(super) fn plural(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

pub(super) fn clock_time(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

pub(super) fn field(label: &str, value: &str) -> Block {
    Block::Field {
        label: label.into(),
        value: value.into(),
    }
}
