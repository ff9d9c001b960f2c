//! Which handler runs each command: the one place a parsed [`Command`] is taken apart. It holds
//! no logic of its own: every arm hands the command's values to the module that owns it.

use super::{Caller, Engine, Reply, Result, help, private};
use crate::approval::Vote;
use crate::command::{Command, Invocation};
use crate::incident::lifecycle::Event;

impl Engine {
    /// Runs `invocation` by its command's handler.
    pub(super) async fn dispatch(
        &self,
        caller: &Caller,
        invocation: Invocation,
    ) -> Result<Vec<Reply>> {
        let Invocation { incident, command } = invocation;
        let name = command.name();
        match command {
            Command::Help { topic } => Ok(vec![private(help::help(topic))]),
            Command::Assess {
                description,
                severity,
                service,
            } => {
                self.assess(caller, description, severity, service.as_deref())
                    .await
            }
            Command::Status => self.status(caller, incident).await,
            Command::Ack => {
                self.transition(caller, incident, name, Event::Acknowledge)
                    .await
            }
            Command::Role { role, person } => {
                self.assign_role(caller, incident, role, person).await
            }
            Command::Page { target, message } => {
                self.page_people(caller, incident, target, message).await
            }
            Command::Update {
                status,
                eta,
                users,
                impact,
                public,
                progress,
            } => {
                let event = Event::PostUpdate {
                    status,
                    progress,
                    eta,
                    users: users.map(|u| u.to_string()),
                    impact,
                };
                let public = public.map(|text| crate::incident::TimelineEvent::PublicUpdate {
                    text,
                    resolved: false,
                });
                self.transition_with(caller, incident, name, event, public)
                    .await
            }
            Command::Severity { severity, reason } => {
                let event = Event::ChangeSeverity {
                    to: severity,
                    reason,
                };
                self.transition(caller, incident, name, event).await
            }
            Command::Note { text } => {
                let event = Event::AddNote { text };
                self.transition(caller, incident, name, event).await
            }
            Command::Resolve {
                root_cause,
                resolution,
                public,
            } => {
                self.resolve(caller, incident, root_cause, resolution, public)
                    .await
            }
            Command::Approve { request } => {
                self.vote_on(caller, incident, request, Vote::Approve, None)
                    .await
            }
            Command::Deny { request, reason } => {
                self.vote_on(caller, incident, request, Vote::Deny, reason)
                    .await
            }
            Command::Report => self.report(caller, incident).await,
            Command::Followup(followup) => self.followup(caller, incident, followup).await,
            Command::Rollback { revision } => self.rollback(caller, incident, revision).await,
            Command::Scale {
                replicas,
                deployment,
            } => self.scale(caller, incident, replicas, deployment).await,
            Command::Action { name } => self.action(caller, incident, name).await,
            Command::Diagnose { area } => self.diagnose(caller, incident, area).await,
            Command::Verify { smoke_only } => self.verify(caller, incident, smoke_only).await,
            Command::PerformanceTest { baseline } => {
                self.performance_test(caller, incident, baseline).await
            }
        }
    }
}
