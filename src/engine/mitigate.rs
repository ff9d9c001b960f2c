//! The mitigation commands: `/incident-rollback [REVISION]`, `/incident-scale REPLICAS
//! [DEPLOYMENT]` and `/incident-action NAME` (a runbook toggle). Each checks the incident's state
//! and its own bounds, builds one [`Change`], and passes it through the change gate
//! (`gate`), which previews it and runs it or asks for approval.
//!
//! # Guarantees
//! A scale above `scale.max_replicas` or an unknown runbook action is refused before the cluster
//! is asked anything.

use super::gate::{Ask, Mitigation};
use super::{Caller, Engine, Reply, Result, refuse, to_channel};
use crate::command::CommandName;
use crate::incident::IncidentId;
use crate::ops::{Change, Mutation};

impl Engine {
    /// `/incident-rollback [REVISION]`.
    pub(super) async fn rollback(
        &self,
        caller: &Caller,
        incident: Option<IncidentId>,
        revision: Option<u32>,
    ) -> Result<Vec<Reply>> {
        let change = Change::Rollback { revision };
        self.mitigate(caller, incident, CommandName::Rollback, change)
            .await
    }

    /// `/incident-scale REPLICAS [DEPLOYMENT]`; the service's Deployment when none is named.
    pub(super) async fn scale(
        &self,
        caller: &Caller,
        incident: Option<IncidentId>,
        replicas: u32,
        deployment: Option<String>,
    ) -> Result<Vec<Reply>> {
        if replicas > self.limits.max_replicas {
            return Err(refuse(
                format!("{replicas} replicas is more than allowed"),
                format!(
                    "scale.max_replicas is {}; ask for at most that many.",
                    self.limits.max_replicas
                ),
            ));
        }
        let deployment = match deployment {
            Some(d) => d,
            None => {
                self.service_of(&self.target(caller, incident).await?)?
                    .deployment
            }
        };
        let change = Change::Scale {
            deployment,
            replicas,
        };
        self.mitigate(caller, incident, CommandName::Scale, change)
            .await
    }

    /// `/incident-action NAME`: a toggle from the runbook.
    pub(super) async fn action(
        &self,
        caller: &Caller,
        incident: Option<IncidentId>,
        name: String,
    ) -> Result<Vec<Reply>> {
        let toggle = self.runbook.get(&name).cloned().ok_or_else(|| {
            let known = self.runbook.list();
            refuse(
                format!("There is no runbook action '{name}'"),
                if known.is_empty() {
                    "No [[actions]] are configured.".to_owned()
                } else {
                    format!("Configured: {}.", known.join("; "))
                },
            )
        })?;
        let change = Change::Action { name, toggle };
        self.mitigate(caller, incident, CommandName::Action, change)
            .await
    }

    /// Checks the incident's state allows `command`, then takes `change` on its service through
    /// the gate. Returns the channel message (the outcome, or the approval request).
    #[tracing::instrument(skip(self, caller, change), fields(user = %caller.actor.id))]
    async fn mitigate(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
        command: CommandName,
        change: Change,
    ) -> Result<Vec<Reply>> {
        let incident = self.target(caller, explicit).await?;
        self.check_allowed(&incident, command)?;
        let service = self.service_of(&incident)?;
        let ask = Ask {
            caller,
            delivery: caller.request.as_deref(),
            incident: &incident,
            command,
        };
        let mutation = Mutation { service, change };
        let message = self.gate(&ask, mutation, &Mitigation).await?;
        Ok(vec![to_channel(&incident.channel, message)])
    }
}
