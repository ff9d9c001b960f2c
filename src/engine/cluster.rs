//! The mitigation commands as [`Change`]s (rollback, scale, runbook action), and the bounds the
//! engine keeps to with the cluster.

use std::time::Duration;

use super::{Caller, Engine, Reply, Result, refuse};
use crate::command::CommandName;
use crate::incident::IncidentId;
use crate::ops::Change;

/// Bounds of what the engine does with the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// How long the alert waits for evidence (`assess.evidence_timeout`).
    pub evidence_timeout: Duration,
    /// The most replicas `/incident-scale` sets (`scale.max_replicas`).
    pub max_replicas: u32,
    /// Seconds of CPU profile `/incident-diagnose perf` takes; 0 for none.
    pub profile_seconds: u32,
    /// The pods' pprof port.
    pub profile_port: u16,
    /// Where profiles are written.
    pub profile_dir: std::path::PathBuf,
}

impl Limits {
    /// The limits of checked settings.
    pub fn new(settings: &crate::config::Settings) -> Self {
        Self {
            evidence_timeout: Duration::from_secs(settings.assess.evidence_timeout.as_secs()),
            max_replicas: settings.scale.max_replicas,
            profile_seconds: settings.diagnose.profile_seconds,
            profile_port: settings.diagnose.profile_port,
            profile_dir: settings.diagnose.profile_dir.clone(),
        }
    }
}

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
}
