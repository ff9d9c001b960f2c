//! The one value every change to the cluster goes through: a [`Mutation`] is previewed (a dry
//! run the cluster checks) and then applied. [`crate::approval`] gates them: a change that needs
//! approval is stored (its [`Change`] as JSON) and runs once enough people approved.

use crate::catalog::Service;
use crate::config::ActionSettings;
use crate::ops::jobs::{JobSpec, Purpose};

/// A change to the cluster, on behalf of one incident's service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutation {
    /// The service it acts on.
    pub service: Service,
    /// What it does.
    pub change: Change,
}

/// What a [`Mutation`] does. Stored as JSON with an approval request until it runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Roll the service's Helm release back to a revision (the previous one when `None`).
    Rollback {
        /// The revision to return to.
        revision: Option<u32>,
    },
    /// Set a Deployment's replicas through the scale subresource.
    Scale {
        /// The Deployment.
        deployment: String,
        /// Replicas wanted.
        replicas: u32,
    },
    /// Run a runbook toggle.
    Action {
        /// Its name in the config.
        name: String,
        /// What it sets.
        toggle: Toggle,
    },
    /// Create a verification Job (a smoke or load test); firewatch waits for it, reads its
    /// result and deletes it.
    Job {
        /// Why it runs.
        purpose: Purpose,
        /// The Job, as it is created.
        spec: JobSpec,
    },
}

/// A runbook toggle: set one ConfigMap key or Deployment env var, optionally restart.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Toggle {
    /// What is set.
    pub target: ToggleTarget,
    /// The value it is set to.
    pub value: String,
    /// Restart the service's rollout afterwards.
    pub restart: bool,
}

/// Where a [`Toggle`] writes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToggleTarget {
    /// A key of a ConfigMap in the service's namespace.
    ConfigMap {
        /// The ConfigMap.
        name: String,
        /// The key.
        key: String,
    },
    /// An environment variable of the service's Deployment.
    Env {
        /// The variable.
        variable: String,
        /// The container; the first one when `None`.
        container: Option<String>,
    },
}

impl ToggleTarget {
    /// `configmap/flags CIRCUIT_BREAKER`, `env RATE_LIMIT`.
    pub fn describe(&self) -> String {
        match self {
            ToggleTarget::ConfigMap { name, key } => format!("configmap/{name} {key}"),
            ToggleTarget::Env {
                variable,
                container: Some(c),
            } => format!("env {variable} of container {c}"),
            ToggleTarget::Env { variable, .. } => format!("env {variable}"),
        }
    }
}

/// The runbook actions of the config, by name.
#[derive(Debug, Clone, Default)]
pub struct Runbook {
    actions: Vec<(String, String, Toggle)>,
}

impl Runbook {
    /// The actions of checked settings (each has either a ConfigMap key or an env var).
    pub fn new(settings: &[ActionSettings]) -> Self {
        let actions = settings
            .iter()
            .filter_map(|a| {
                let target = match (&a.configmap, &a.key, &a.env) {
                    (Some(name), Some(key), _) => ToggleTarget::ConfigMap {
                        name: name.clone(),
                        key: key.clone(),
                    },
                    (_, _, Some(variable)) => ToggleTarget::Env {
                        variable: variable.clone(),
                        container: a.container.clone(),
                    },
                    _ => return None,
                };
                let toggle = Toggle {
                    target,
                    value: a.value.clone(),
                    restart: a.restart,
                };
                Some((a.name.clone(), a.description.clone(), toggle))
            })
            .collect();
        Self { actions }
    }

    /// The toggle named `name`.
    pub fn get(&self, name: &str) -> Option<&Toggle> {
        self.actions
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, _, t)| t)
    }

    /// `name — description` of every action.
    pub fn list(&self) -> Vec<String> {
        self.actions
            .iter()
            .map(|(n, d, _)| {
                if d.is_empty() {
                    n.clone()
                } else {
                    format!("{n} — {d}")
                }
            })
            .collect()
    }
}

impl Mutation {
    /// What it does, in a few words: `rollback freightliner`, `scale freightliner to 5`.
    pub fn describe(&self) -> String {
        match &self.change {
            Change::Rollback { revision: Some(r) } => {
                format!("rollback {} to revision {r}", self.service.helm_release)
            }
            Change::Rollback { revision: None } => {
                format!(
                    "rollback {} to the previous revision",
                    self.service.helm_release
                )
            }
            Change::Scale {
                deployment,
                replicas,
            } => format!("scale {deployment} to {replicas} replicas"),
            Change::Action { name, toggle } => format!(
                "action {name} ({} = {}{})",
                toggle.target.describe(),
                toggle.value,
                if toggle.restart { ", then restart" } else { "" }
            ),
            Change::Job { purpose, spec } => {
                format!("run {} job {}", purpose.describe(), spec.describe())
            }
        }
    }
}

/// What a mutation will do, as the cluster checked it (nothing changed yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The state now.
    pub before: String,
    /// The state after.
    pub after: String,
    /// How it was checked (`server-side dry run accepted`).
    pub checked: String,
    /// The change exactly as previewed: a rollback to "the previous revision" becomes a
    /// rollback to the revision the preview named, so what runs later (after approvals) is what
    /// people saw, even if the release moved meanwhile.
    pub pinned: Change,
}

/// What a mutation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// The state before.
    pub before: String,
    /// The state after.
    pub after: String,
    /// What the cluster or helm said.
    pub detail: String,
}
