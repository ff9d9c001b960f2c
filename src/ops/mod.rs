//! Cluster operations: what firewatch reads from and does to the Kubernetes cluster and the Helm
//! releases of a service. The engine calls them through the [`Cluster`] trait and sees only the
//! domain types here, never a kube or k8s-openapi type.
//!
//! Owns the cluster side only: nothing here knows about chat, templates or the incident store.
//!
//! - [`kube`]: the kube-rs client ([`KubeCluster`]) and the one table of API calls it makes
//!   ([`API_CALLS`], the RBAC a deployment must grant).
//! - [`helm`]: release history decoded from Helm's release Secrets, rollback through the CLI.
//! - [`evidence`]: the evidence types gathered on `/incident-assess`, and the signals in them.
//! - [`diagnose`]: what `/incident-diagnose` and `/incident-verify` read (pods, events, nodes,
//!   rollout status).
//! - [`mutation`]: the one value every change to the cluster goes through, and the runbook.
//! - [`metered`]: the [`Cluster`] the engine calls: every call timed for `GET /metrics`, and
//!   failing with why when no cluster could be reached.
//! - [`probe`]: HTTP probes of health URLs and Prometheus queries (not the cluster's API).
//! - [`jobs`]: verification Jobs (smoke and load tests) and a load test's figures.

pub mod diagnose;
pub mod evidence;
pub mod helm;
pub mod jobs;
pub mod kube;
pub mod metered;
pub mod mutation;
pub mod probe;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::catalog::Service;

pub use diagnose::{EventLine, NodeState, PodState, RolloutStatus};
pub use evidence::{LogErrors, Readiness, Rollout, Warning};
pub use helm::Revision;
pub use jobs::{JobSpec, JobState};
pub use kube::{API_CALLS, ApiCall, KubeCluster, connect};
pub use mutation::{Change, Done, Mutation, Plan, Runbook, Toggle, ToggleTarget};

/// Why a cluster operation did not happen. Every message reads well after "⚠️ ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No cluster is configured, or it cannot be reached (or did not answer in time).
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// The cluster refused firewatch's credentials for this call (HTTP 403).
    #[error("the cluster refused access: {0}")]
    Forbidden(String),
    /// The object does not exist (HTTP 404).
    #[error("not found in the cluster: {0}")]
    NotFound(String),
    /// The cluster answered with another error.
    #[error("the cluster failed: {0}")]
    Api(String),
    /// What was asked is not possible (no such revision, nothing to roll back to).
    #[error("{0}")]
    Refused(String),
    /// The helm CLI failed or could not be run.
    #[error("helm failed: {0}")]
    Helm(String),
}

/// Result of cluster operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The cluster as the engine sees it.
///
/// # Errors
/// Every method fails with [`Error`]; a failed read changes nothing, and a failed
/// [`Cluster::apply`] says how far it got.
#[async_trait]
pub trait Cluster: Send + Sync {
    /// The service's Deployment: replicas ready of desired, restarts, crashing pods.
    async fn readiness(&self, service: &Service) -> Result<Readiness>;

    /// Helm revisions and ReplicaSet rollouts of the service since `since`, newest first.
    async fn rollouts(&self, service: &Service, since: DateTime<Utc>) -> Result<Vec<Rollout>>;

    /// Error lines in the recent logs of the service's pods.
    async fn log_errors(&self, service: &Service) -> Result<LogErrors>;

    /// Warning events in the service's namespace, newest first.
    async fn warnings(&self, service: &Service) -> Result<Vec<Warning>>;

    /// The service's Helm release history, oldest first.
    async fn history(&self, service: &Service) -> Result<Vec<Revision>>;

    /// What `mutation` would do, checked by the server without changing anything (a dry run).
    async fn preview(&self, mutation: &Mutation) -> Result<Plan>;

    /// Does `mutation`.
    async fn apply(&self, mutation: &Mutation) -> Result<Done>;

    /// The service's pods.
    async fn pods(&self, service: &Service) -> Result<Vec<PodState>>;

    /// Lines of the service's recent pod logs matching `pattern`.
    async fn log_matches(&self, service: &Service, pattern: &regex::Regex) -> Result<LogErrors>;

    /// Events of the service's namespace, newest first.
    async fn events(&self, service: &Service) -> Result<Vec<EventLine>>;

    /// NetworkPolicies of the service's namespace: `name (pods: app=x; ingress, egress)`.
    async fn network_policies(&self, service: &Service) -> Result<Vec<String>>;

    /// The cluster's nodes, with usage from metrics.k8s.io when it is served.
    async fn nodes(&self) -> Result<Vec<NodeState>>;

    /// CPU and memory of the service's pods from metrics.k8s.io: `pod: cpu 250m, memory 300Mi`.
    async fn pod_usage(&self, service: &Service) -> Result<Vec<String>>;

    /// The Deployment's rollout status.
    async fn rollout_status(&self, service: &Service) -> Result<RolloutStatus>;

    /// A CPU profile of one running pod of the service, through the pods/proxy subresource
    /// (`/debug/pprof/profile?seconds=N` on `port`): the pod and the profile's bytes.
    async fn cpu_profile(
        &self,
        service: &Service,
        port: u16,
        seconds: u32,
    ) -> Result<(String, Vec<u8>)>;

    /// Creates the Job of `spec` (with `dry_run`, the server only checks it: admission, quota,
    /// RBAC). [`Error::Refused`] when a Job of that name exists.
    async fn create_job(&self, spec: &JobSpec, dry_run: bool) -> Result<()>;

    /// The Job's state, from the Job, its pod and its events.
    async fn job_state(&self, spec: &JobSpec) -> Result<JobState>;

    /// The last `tail_lines` lines of the log of the Job's pod `pod`.
    async fn job_log(&self, spec: &JobSpec, pod: &str, tail_lines: u32) -> Result<String>;

    /// Deletes the Job and (propagation Background) its pods; a Job already gone is fine.
    async fn delete_job(&self, spec: &JobSpec) -> Result<()>;
}
