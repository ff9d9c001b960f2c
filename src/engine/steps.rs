//! A command as a step of the incident's lifecycle: which incident it is about, whether the
//! incident's state allows it, and committing its timeline entries through the state machine
//! ([`lifecycle::apply`]) so that a refused step changes nothing.
//!
//! It reads and writes incidents through the store; it never touches the cluster or a chat.

use super::{Caller, Engine, Error, Result, read, refuse};
use crate::catalog::Service;
use crate::command::CommandName;
use crate::incident::lifecycle::{self, Event, Refusal, Step};
use crate::incident::{Incident, IncidentId, Status, TimelineEvent};
use crate::store::Updated;

impl Engine {
    /// The incident a command is about: `#ID` when given, otherwise the channel's.
    pub(super) async fn target(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
    ) -> Result<Incident> {
        if let Some(id) = explicit {
            return self.store.incident(id).await?.ok_or_else(|| {
                refuse(
                    format!("There is no incident {id}"),
                    "/incident-status lists the open incidents.",
                )
            });
        }
        match read::choose(self.store.incidents_in(&caller.channel).await?) {
            read::Choice::One(incident) => Ok(*incident),
            read::Choice::Nothing => Err(refuse(
                "No incident is open in this channel",
                "Name one with #ID (/incident-status lists them), or open one with /incident-assess <description>.",
            )),
            read::Choice::Several(candidates) => {
                let listed: Vec<String> = candidates
                    .iter()
                    .map(|i| format!("{} ({} {})", i.id, i.severity, i.status))
                    .collect();
                Err(refuse(
                    "Several incidents are open in this channel",
                    format!(
                        "Add #ID after the command to say which: {}.",
                        listed.join(", ")
                    ),
                ))
            }
        }
    }

    /// Refuses `name` when the incident's state does not allow it, listing what is allowed.
    pub(super) fn check_allowed(&self, incident: &Incident, name: CommandName) -> Result<()> {
        match step_of(name) {
            Some(step) if !lifecycle::allows(incident.status, step) => Err(refusal(
                name,
                Refusal::WrongState {
                    id: incident.id,
                    status: incident.status,
                    step,
                },
            )),
            _ => Ok(()),
        }
    }

    /// The configured service `incident` is about.
    pub(super) fn service_of(&self, incident: &Incident) -> Result<Service> {
        self.catalog.get(&incident.service).cloned().ok_or_else(|| {
            refuse(
                format!("{} is about an unknown service", incident.id),
                format!(
                    "Service '{}' is no longer in the config's [[services]].",
                    incident.service
                ),
            )
        })
    }

    /// Appends `entries` to the incident's timeline as the caller's `name` command, a `step`,
    /// through the state machine: refused (nothing written) when the incident's state does not
    /// allow the step. `request` (the chat delivery) is marked done in the same commit.
    pub(super) async fn record_entries(
        &self,
        caller: &Caller,
        request: Option<&str>,
        incident: &Incident,
        name: CommandName,
        step: Step,
        entries: Vec<TimelineEvent>,
    ) -> Result<Incident> {
        let now = self.clock.now();
        let event = Event::Record {
            step,
            entries,
            raise: None,
        };
        let decide =
            |i: &Incident| lifecycle::apply(i, event.clone(), &caller.actor, now, &self.policy);
        match self
            .store
            .update(incident.id, &caller.actor, now, request, &decide)
            .await?
        {
            Updated::Changed { before, after } => {
                self.metrics.incident_changed(&before, &after, now);
                Ok(*after)
            }
            Updated::Refused(r) => Err(refusal(name, r)),
        }
    }
}

/// A state-machine refusal of `name`, as the caller reads it.
pub(super) fn refusal(name: CommandName, refusal: Refusal) -> Error {
    match refusal {
        Refusal::WrongState { id, status, .. } => refuse(
            format!("{name} is not possible now"),
            allowed_now(id, status),
        ),
        Refusal::AlreadyAcknowledged { .. } => refuse("Already acknowledged", refusal.to_string()),
        Refusal::SameSeverity { .. } | Refusal::AlreadyHolds { .. } => {
            refuse("Nothing to change", refusal.to_string())
        }
    }
}

/// What can be done to an incident in `status`, for refusal messages.
pub(super) fn allowed_now(id: IncidentId, status: Status) -> String {
    let allowed: Vec<String> = CommandName::ALL
        .into_iter()
        .filter(|c| step_of(*c).is_some_and(|step| lifecycle::allows(status, step)))
        .map(|c| c.to_string())
        .collect();
    format!("{id} is {status}. Allowed now: {}.", allowed.join(", "))
}

/// The lifecycle step a command is; `None` for commands not about one incident.
pub(super) fn step_of(name: CommandName) -> Option<Step> {
    Some(match name {
        CommandName::Ack => Step::Acknowledge,
        CommandName::Update | CommandName::Page => Step::Update,
        CommandName::Severity => Step::ChangeSeverity,
        CommandName::Note => Step::Note,
        CommandName::Role => Step::AssignRole,
        CommandName::Resolve => Step::Resolve,
        CommandName::Status => Step::Read,
        CommandName::Rollback | CommandName::Scale | CommandName::Action => Step::Mitigate,
        CommandName::Diagnose | CommandName::Verify | CommandName::PerformanceTest => {
            Step::Investigate
        }
        CommandName::Report => Step::Close,
        CommandName::Followup => Step::FollowUp,
        CommandName::Assess | CommandName::Help | CommandName::Approve | CommandName::Deny => {
            return None;
        }
    })
}
