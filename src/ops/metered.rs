//! The [`Cluster`] the engine calls: every call of the cluster timed, and its failures counted,
//! in [`Metrics`] (`firewatch_cluster_call_duration_seconds`, `firewatch_cluster_call_errors_total`).
//! It changes nothing about the calls themselves; with no cluster, every call fails saying why.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::{
    Cluster, Done, Error, EventLine, LogErrors, Mutation, NodeState, Plan, PodState, Readiness,
    Result, Revision, Rollout, RolloutStatus, Warning,
};
use crate::catalog::Service;
use crate::metrics::{CLUSTER_CALLS, Metrics};
use crate::ops::jobs::{JobSpec, JobState};

/// The cluster (or its absence), measured.
pub struct Metered {
    /// The cluster, or why there is none (every call then fails with [`Error::Unavailable`]).
    inner: Result<Arc<dyn Cluster>, String>,
    metrics: Arc<Metrics>,
}

impl Metered {
    /// Measures every call of `inner` (or of its absence) into `metrics`.
    pub fn new(inner: Result<Arc<dyn Cluster>, String>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    async fn timed<'a, T>(
        &'a self,
        call: &'static str,
        run: impl FnOnce(&'a dyn Cluster) -> BoxFuture<'a, Result<T>>,
    ) -> Result<T> {
        let index = CLUSTER_CALLS.iter().position(|c| *c == call);
        // A Cluster method missing from CLUSTER_CALLS fails the tests; in production its calls
        // simply go uncounted.
        debug_assert!(index.is_some(), "{call} is not in metrics::CLUSTER_CALLS");
        let started = Instant::now();
        let result = match &self.inner {
            Ok(cluster) => run(&**cluster).await,
            Err(reason) => Err(Error::Unavailable(reason.clone())),
        };
        if let Some(index) = index {
            self.metrics
                .cluster_call(index, started.elapsed(), result.is_err());
        }
        result
    }
}

#[async_trait]
impl Cluster for Metered {
    async fn readiness(&self, service: &Service) -> Result<Readiness> {
        self.timed("readiness", |c| c.readiness(service)).await
    }
    async fn rollouts(&self, service: &Service, since: DateTime<Utc>) -> Result<Vec<Rollout>> {
        self.timed("rollouts", |c| c.rollouts(service, since)).await
    }
    async fn log_errors(&self, service: &Service) -> Result<LogErrors> {
        self.timed("log_errors", |c| c.log_errors(service)).await
    }
    async fn warnings(&self, service: &Service) -> Result<Vec<Warning>> {
        self.timed("warnings", |c| c.warnings(service)).await
    }
    async fn history(&self, service: &Service) -> Result<Vec<Revision>> {
        self.timed("history", |c| c.history(service)).await
    }
    async fn preview(&self, mutation: &Mutation) -> Result<Plan> {
        self.timed("preview", |c| c.preview(mutation)).await
    }
    async fn apply(&self, mutation: &Mutation) -> Result<Done> {
        self.timed("apply", |c| c.apply(mutation)).await
    }
    async fn pods(&self, service: &Service) -> Result<Vec<PodState>> {
        self.timed("pods", |c| c.pods(service)).await
    }
    async fn log_matches(&self, service: &Service, pattern: &regex::Regex) -> Result<LogErrors> {
        self.timed("log_matches", |c| c.log_matches(service, pattern))
            .await
    }
    async fn events(&self, service: &Service) -> Result<Vec<EventLine>> {
        self.timed("events", |c| c.events(service)).await
    }
    async fn network_policies(&self, service: &Service) -> Result<Vec<String>> {
        self.timed("network_policies", |c| c.network_policies(service))
            .await
    }
    async fn nodes(&self) -> Result<Vec<NodeState>> {
        self.timed("nodes", |c| c.nodes()).await
    }
    async fn pod_usage(&self, service: &Service) -> Result<Vec<String>> {
        self.timed("pod_usage", |c| c.pod_usage(service)).await
    }
    async fn rollout_status(&self, service: &Service) -> Result<RolloutStatus> {
        self.timed("rollout_status", |c| c.rollout_status(service))
            .await
    }
    async fn cpu_profile(
        &self,
        service: &Service,
        port: u16,
        seconds: u32,
    ) -> Result<(String, Vec<u8>)> {
        self.timed("cpu_profile", |c| c.cpu_profile(service, port, seconds))
            .await
    }
    async fn create_job(&self, spec: &JobSpec, dry_run: bool) -> Result<()> {
        self.timed("create_job", |c| c.create_job(spec, dry_run))
            .await
    }
    async fn job_state(&self, spec: &JobSpec) -> Result<JobState> {
        self.timed("job_state", |c| c.job_state(spec)).await
    }
    async fn job_log(&self, spec: &JobSpec, pod: &str, tail_lines: u32) -> Result<String> {
        self.timed("job_log", |c| c.job_log(spec, pod, tail_lines))
            .await
    }
    async fn delete_job(&self, spec: &JobSpec) -> Result<()> {
        self.timed("delete_job", |c| c.delete_job(spec)).await
    }
}
