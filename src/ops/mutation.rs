//! The one value every change to the cluster goes through: a [`Mutation`] is previewed (a dry
//! run the cluster checks) and then applied. The approvals issue gates [`Mutation`]s; until then
//! they run on the requester's command.

use crate::catalog::Service;

/// A change to the cluster, on behalf of one incident's service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutation {
    /// The service it acts on.
    pub service: Service,
    /// What it does.
    pub change: Change,
}

/// What a [`Mutation`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
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
