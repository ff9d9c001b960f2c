//! The kube-rs client: connecting from a kubeconfig or in-cluster, a timeout on every call,
//! bounded retries, and the one table of API calls firewatch makes ([`API_CALLS`]).

mod diagnose;
mod jobs;
mod reads;
mod toggle;
mod writes;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{
    Cluster, Done, Error, EventLine, JobSpec, JobState, LogErrors, Mutation, NodeState, Plan,
    PodState, Readiness, Result, Revision, Rollout, RolloutStatus, Warning,
};
use crate::catalog::Service;
use crate::config::Settings;
use crate::ops::helm;

/// One kind of Kubernetes API call: what RBAC must allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiCall {
    /// `get`, `list`, `patch`.
    pub verb: &'static str,
    /// API group: `""` for core, `apps`.
    pub group: &'static str,
    /// `deployments`, `pods`, …
    pub resource: &'static str,
    /// `scale`, `log`; empty for none.
    pub subresource: &'static str,
}

const fn call(
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    subresource: &'static str,
) -> ApiCall {
    ApiCall {
        verb,
        group,
        resource,
        subresource,
    }
}

/// Every Kubernetes API call firewatch makes, namespaced to a service's namespace unless marked. A
/// deployment's Role must allow exactly these; the fake API server's test checks that nothing
/// else is called.
pub const API_CALLS: &[ApiCall] = &[
    call("get", "apps", "deployments", ""),
    call("patch", "apps", "deployments", ""),
    call("get", "apps", "deployments", "scale"),
    call("patch", "apps", "deployments", "scale"),
    call("list", "apps", "replicasets", ""),
    call("list", "", "pods", ""),
    call("get", "", "pods", "log"),
    call("list", "", "events", ""),
    call("list", "", "secrets", ""),
    call("get", "", "configmaps", ""),
    call("patch", "", "configmaps", ""),
    call("list", "networking.k8s.io", "networkpolicies", ""),
    call("get", "", "pods", "proxy"),
    call("list", "metrics.k8s.io", "pods", ""),
    // Cluster-scoped (a ClusterRole): node health for `/incident-diagnose infra`.
    call("list", "", "nodes", ""),
    call("list", "metrics.k8s.io", "nodes", ""),
    // Verification Jobs (`[[jobs]]`), in each job's namespace: create them (and dry-run them
    // as the preview), read their state, delete them once their result is read. Their pods
    // (`list pods`), logs (`get pods/log`) and FailedCreate events (`list events`) are read
    // with the calls above.
    call("create", "batch", "jobs", ""),
    call("get", "batch", "jobs", ""),
    call("delete", "batch", "jobs", ""),
];

/// How often a read is tried on a transient failure (429, 503, 504, no connection).
const READ_ATTEMPTS: u32 = 3;

/// What the cluster side is configured with.
#[derive(Debug, Clone)]
pub struct Options {
    /// Timeout of every API call.
    pub timeout: Duration,
    /// The helm CLI.
    pub helm_binary: PathBuf,
    /// `--timeout` of `helm rollback --wait`.
    pub helm_timeout: Duration,
    /// `kubernetes.kubeconfig` and `kubernetes.context`, handed to helm so it acts on the same
    /// cluster the history was read from (not whatever helm's own config points at).
    pub helm_target: helm::Target,
    /// What an error line in a log matches.
    pub error_pattern: regex::Regex,
    /// How far back logs are read.
    pub log_window: Duration,
    /// Lines read from the end of each pod's log.
    pub log_tail_lines: u32,
}

impl Options {
    /// The options of checked settings.
    ///
    /// # Errors
    /// [`Error::Refused`] when the error pattern does not compile (checked settings never).
    pub fn new(settings: &Settings) -> Result<Self> {
        let error_pattern = regex::Regex::new(&settings.assess.error_pattern)
            .map_err(|e| Error::Refused(format!("assess.error_pattern: {e}")))?;
        Ok(Self {
            timeout: Duration::from_secs(settings.kubernetes.timeout.as_secs()),
            helm_binary: settings.helm.binary.clone(),
            helm_timeout: Duration::from_secs(settings.helm.timeout.as_secs()),
            helm_target: helm::Target {
                kubeconfig: settings.kubernetes.kubeconfig.clone(),
                context: settings.kubernetes.context.clone(),
            },
            error_pattern,
            log_window: Duration::from_secs(settings.assess.log_window.as_secs()),
            log_tail_lines: settings.assess.log_tail_lines,
        })
    }
}

/// A cluster reached through kube-rs.
#[derive(Clone)]
pub struct KubeCluster {
    client: kube::Client,
    options: Arc<Options>,
}

/// The cluster of `settings`: `kubernetes.kubeconfig` (with `kubernetes.context`), else
/// `KUBECONFIG` or `~/.kube/config`, else the in-cluster service account. Nothing is contacted
/// yet: an unreachable cluster shows on the first call.
///
/// # Errors
/// [`Error::Unavailable`] saying why no client could be built.
pub async fn connect(settings: &Settings) -> Result<KubeCluster> {
    let options = Options::new(settings)?;
    let k8s = &settings.kubernetes;
    let kube_options = KubeConfigOptions {
        context: k8s.context.clone(),
        ..KubeConfigOptions::default()
    };
    let unavailable = |e: &dyn std::error::Error| Error::Unavailable(e.to_string());
    let mut config = match &k8s.kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path).map_err(|e| unavailable(&e))?;
            kube::Config::from_custom_kubeconfig(file, &kube_options)
                .await
                .map_err(|e| unavailable(&e))?
        }
        None if k8s.context.is_some() => kube::Config::from_kubeconfig(&kube_options)
            .await
            .map_err(|e| unavailable(&e))?,
        None => kube::Config::infer().await.map_err(|e| {
            let configured = ["KUBECONFIG", "KUBERNETES_SERVICE_HOST"]
                .iter()
                .any(|v| std::env::var_os(v).is_some());
            if configured {
                Error::Unavailable(e.to_string())
            } else {
                Error::Unavailable(
                    "no cluster configured (set kubernetes.kubeconfig or KUBECONFIG, or run in a cluster)"
                        .into(),
                )
            }
        })?,
    };
    // kube's default policy retries 429/503/504 up to 15 times; firewatch bounds retries itself
    // (reads only, within one call's timeout).
    config.default_retry = false;
    // Every call is bounded as a whole (`call_within`); a socket read timeout would also cut off
    // answers that are slow by design (a CPU profile streams nothing for `seconds=N`).
    config.connect_timeout = Some(options.timeout);
    config.read_timeout = None;
    config.write_timeout = Some(options.timeout);
    let client = kube::Client::try_from(config).map_err(|e| unavailable(&e))?;
    Ok(KubeCluster {
        client,
        options: Arc::new(options),
    })
}

impl KubeCluster {
    /// Runs one API call within the timeout; reads (`retry`) are tried again on transient
    /// failures, all attempts within the one timeout.
    async fn call<T, F, Fut>(&self, what: &str, retry: bool, make: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        self.call_within(self.options.timeout, what, retry, make)
            .await
    }

    /// [`KubeCluster::call`] with its own timeout (for calls that take long by design).
    async fn call_within<T, F, Fut>(
        &self,
        timeout: Duration,
        what: &str,
        retry: bool,
        make: F,
    ) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let attempts = if retry { READ_ATTEMPTS } else { 1 };
        let run = async {
            let mut attempt = 1;
            loop {
                match make().await {
                    Ok(value) => return Ok(value),
                    Err(e) if attempt < attempts && is_transient(&e) => {
                        tracing::debug!(error = %e, what, attempt, "retrying a cluster read");
                        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                        attempt += 1;
                    }
                    Err(e) => return Err(classify(what, e)),
                }
            }
        };
        tokio::time::timeout(timeout, run).await.map_err(|_| {
            Error::Unavailable(format!("no answer to {what} within {}s", timeout.as_secs()))
        })?
    }
}

fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => matches!(s.code, 429 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// A kube error as the caller reads it (never with credentials: kube's errors carry none).
fn classify(what: &str, e: kube::Error) -> Error {
    match e {
        kube::Error::Api(s) if s.code == 403 => Error::Forbidden(format!("{what}: {}", s.message)),
        kube::Error::Api(s) if s.code == 404 => Error::NotFound(what.to_owned()),
        kube::Error::Api(s) => Error::Api(format!("{what}: HTTP {} {}", s.code, s.message)),
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            Error::Unavailable(format!("{what}: {}", crate::error_chain(&e)))
        }
        other => Error::Api(format!("{what}: {}", crate::error_chain(&other))),
    }
}

#[async_trait]
impl Cluster for KubeCluster {
    async fn readiness(&self, service: &Service) -> Result<Readiness> {
        reads::readiness(self, service).await
    }
    async fn rollouts(&self, service: &Service, since: DateTime<Utc>) -> Result<Vec<Rollout>> {
        reads::rollouts(self, service, since).await
    }
    async fn log_errors(&self, service: &Service) -> Result<LogErrors> {
        reads::log_errors(self, service).await
    }
    async fn warnings(&self, service: &Service) -> Result<Vec<Warning>> {
        reads::warnings(self, service).await
    }
    async fn history(&self, service: &Service) -> Result<Vec<Revision>> {
        reads::history(self, service).await
    }
    async fn preview(&self, mutation: &Mutation) -> Result<Plan> {
        writes::preview(self, mutation).await
    }
    async fn apply(&self, mutation: &Mutation) -> Result<Done> {
        writes::apply(self, mutation).await
    }
    async fn pods(&self, service: &Service) -> Result<Vec<PodState>> {
        diagnose::pod_states(self, service).await
    }
    async fn log_matches(&self, service: &Service, pattern: &regex::Regex) -> Result<LogErrors> {
        reads::log_matches(self, service, pattern).await
    }
    async fn events(&self, service: &Service) -> Result<Vec<EventLine>> {
        diagnose::events(self, service).await
    }
    async fn network_policies(&self, service: &Service) -> Result<Vec<String>> {
        diagnose::network_policies(self, service).await
    }
    async fn nodes(&self) -> Result<Vec<NodeState>> {
        diagnose::nodes(self).await
    }
    async fn pod_usage(&self, service: &Service) -> Result<Vec<String>> {
        diagnose::pod_usage(self, service).await
    }
    async fn rollout_status(&self, service: &Service) -> Result<RolloutStatus> {
        diagnose::rollout_status(self, service).await
    }
    async fn cpu_profile(
        &self,
        service: &Service,
        port: u16,
        seconds: u32,
    ) -> Result<(String, Vec<u8>)> {
        diagnose::cpu_profile(self, service, port, seconds).await
    }
    async fn create_job(&self, spec: &JobSpec, dry_run: bool) -> Result<()> {
        jobs::create(self, spec, dry_run).await
    }
    async fn job_state(&self, spec: &JobSpec) -> Result<JobState> {
        jobs::state(self, spec).await
    }
    async fn job_log(&self, spec: &JobSpec, pod: &str, tail_lines: u32) -> Result<String> {
        jobs::log(self, spec, pod, tail_lines).await
    }
    async fn delete_job(&self, spec: &JobSpec) -> Result<()> {
        jobs::delete(self, spec).await
    }
}
