//! Verification Jobs in the cluster: create (or dry-run), read their state from the Job, its
//! pod and its events, read the pod's log, delete with propagation Background.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec as KubeJobSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, Event, Pod, PodSpec, PodTemplateSpec, ResourceRequirements,
    SecretKeySelector,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{DeleteParams, ListParams, LogParams, PostParams};

use super::KubeCluster;
use crate::ops::jobs::{CONTAINER, JobSpec, JobState};
use crate::ops::{Error, Result};

/// Container waiting reasons that mean the pod will not start by itself.
const CANNOT_START: [&str; 6] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// The Job object of `spec`.
pub(super) fn job_of(spec: &JobSpec) -> Job {
    let labels: BTreeMap<String, String> = spec.labels.iter().cloned().collect();
    let quantities: BTreeMap<String, Quantity> = spec
        .limits
        .iter()
        .map(|(k, v)| (k.clone(), Quantity(v.clone())))
        .collect();
    let resources = (!quantities.is_empty()).then(|| ResourceRequirements {
        limits: Some(quantities.clone()),
        requests: Some(quantities),
        ..ResourceRequirements::default()
    });
    let mut env: Vec<EnvVar> = spec
        .env
        .iter()
        .map(|(name, value)| EnvVar {
            name: name.clone(),
            value: Some(value.clone()),
            ..EnvVar::default()
        })
        .collect();
    env.extend(spec.secret_env.iter().map(|(name, secret, key)| EnvVar {
        name: name.clone(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.clone(),
                key: key.clone(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }));
    let container = Container {
        name: CONTAINER.into(),
        image: Some(spec.image.clone()),
        command: (!spec.command.is_empty()).then(|| spec.command.clone()),
        args: (!spec.args.is_empty()).then(|| spec.args.clone()),
        env: (!env.is_empty()).then_some(env),
        resources,
        ..Container::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(spec.name.clone()),
            namespace: Some(spec.namespace.clone()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(KubeJobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(i64::try_from(spec.timeout_secs).unwrap_or(i64::MAX)),
            ttl_seconds_after_finished: Some(i32::try_from(spec.ttl_secs).unwrap_or(i32::MAX)),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    // A test needs no credentials of the cluster.
                    automount_service_account_token: Some(false),
                    containers: vec![container],
                    ..PodSpec::default()
                }),
            },
            ..KubeJobSpec::default()
        }),
        status: None,
    }
}

pub(super) async fn create(k: &KubeCluster, spec: &JobSpec, dry_run: bool) -> Result<()> {
    let api: Api<Job> = Api::namespaced(k.client.clone(), &spec.namespace);
    let job = job_of(spec);
    let params = PostParams {
        dry_run,
        field_manager: Some("firewatch".into()),
    };
    let what = format!("create Job {}/{}", spec.namespace, spec.name);
    let created = k
        .call(&what, false, || async {
            match api.create(&params, &job).await {
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                other => other.map(|_| true),
            }
        })
        .await?;
    if created {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "a Job named {} already exists in {}",
            spec.name, spec.namespace
        )))
    }
}

pub(super) async fn state(k: &KubeCluster, spec: &JobSpec) -> Result<JobState> {
    let ns = &spec.namespace;
    let jobs: Api<Job> = Api::namespaced(k.client.clone(), ns);
    let job = k
        .call(&format!("Job {ns}/{}", spec.name), true, || {
            jobs.get(&spec.name)
        })
        .await?;
    let pods: Api<Pod> = Api::namespaced(k.client.clone(), ns);
    let selector = ListParams::default().labels(&format!("job-name={}", spec.name));
    let mut listed = k
        .call(&format!("pods of Job {ns}/{}", spec.name), true, || {
            pods.list(&selector)
        })
        .await?
        .items;
    listed.sort_by_key(|p| p.metadata.creation_timestamp.clone());
    let pod = listed.last();
    let pod_name = pod.and_then(|p| p.metadata.name.clone());
    let status = job.status.unwrap_or_default();
    for condition in status.conditions.unwrap_or_default() {
        if condition.status != "True" {
            continue;
        }
        let reason = condition.reason.unwrap_or_default();
        match condition.type_.as_str() {
            "Complete" | "SuccessCriteriaMet" => return Ok(JobState::Succeeded { pod: pod_name }),
            "Failed" | "FailureTarget" if reason == "DeadlineExceeded" => {
                return Ok(JobState::DeadlineExceeded { pod: pod_name });
            }
            "Failed" | "FailureTarget" => {
                let why = pod
                    .and_then(exit_of)
                    .unwrap_or_else(|| join(&reason, condition.message.as_deref()));
                return Ok(JobState::Failed {
                    pod: pod_name,
                    reason: why,
                });
            }
            _ => {}
        }
    }
    if status.succeeded.unwrap_or(0) > 0 {
        return Ok(JobState::Succeeded { pod: pod_name });
    }
    if status.failed.unwrap_or(0) > 0 {
        let why = pod
            .and_then(exit_of)
            .unwrap_or_else(|| "its pod failed".into());
        return Ok(JobState::Failed {
            pod: pod_name,
            reason: why,
        });
    }
    match pod {
        Some(pod) => Ok(pod_state(pod, pod_name)),
        None => {
            // No pod: the Job controller may have been refused one (quota, admission).
            let events: Api<Event> = Api::namespaced(k.client.clone(), ns);
            let params =
                ListParams::default().fields(&format!("involvedObject.name={}", spec.name));
            let listed = k
                .call(&format!("events of Job {ns}/{}", spec.name), true, || {
                    events.list(&params)
                })
                .await?
                .items;
            let refused = listed
                .iter()
                .filter(|e| e.type_.as_deref() == Some("Warning"))
                .find(|e| e.reason.as_deref() == Some("FailedCreate"));
            Ok(match refused {
                Some(e) => JobState::CannotStart {
                    pod: None,
                    reason: join("FailedCreate", e.message.as_deref()),
                },
                None => JobState::Waiting,
            })
        }
    }
}

/// A pod of an unfinished Job: running, waiting, or unable to start.
fn pod_state(pod: &Pod, name: Option<String>) -> JobState {
    let status = pod.status.clone().unwrap_or_default();
    for c in status.container_statuses.iter().flatten() {
        if let Some(waiting) = c.state.as_ref().and_then(|s| s.waiting.as_ref())
            && let Some(reason) = waiting.reason.as_deref()
            && CANNOT_START.contains(&reason)
        {
            return JobState::CannotStart {
                pod: name,
                reason: join(reason, waiting.message.as_deref()),
            };
        }
    }
    for c in status.conditions.iter().flatten() {
        if c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
        {
            return JobState::CannotStart {
                pod: name,
                reason: join("Unschedulable", c.message.as_deref()),
            };
        }
    }
    match (status.phase.as_deref(), name) {
        (Some("Running"), Some(pod)) => JobState::Running { pod },
        _ => JobState::Waiting,
    }
}

/// `exit code 1 (Error)` of the pod's job container, if it terminated.
fn exit_of(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    let c = status
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == CONTAINER)?;
    let t = c.state.as_ref()?.terminated.as_ref()?;
    Some(match t.reason.as_deref() {
        Some(reason) => format!("exit code {} ({reason})", t.exit_code),
        None => format!("exit code {}", t.exit_code),
    })
}

fn join(reason: &str, message: Option<&str>) -> String {
    match message.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) if !reason.is_empty() => format!("{reason}: {m}"),
        Some(m) => m.to_owned(),
        None => reason.to_owned(),
    }
}

pub(super) async fn log(k: &KubeCluster, spec: &JobSpec, pod: &str, tail: u32) -> Result<String> {
    let api: Api<Pod> = Api::namespaced(k.client.clone(), &spec.namespace);
    let params = LogParams {
        container: Some(CONTAINER.into()),
        tail_lines: Some(i64::from(tail.max(1))),
        // A runaway log is not read whole.
        limit_bytes: Some(1 << 20),
        ..LogParams::default()
    };
    k.call(
        &format!("log of pod {}/{pod}", spec.namespace),
        true,
        || api.logs(pod, &params),
    )
    .await
}

pub(super) async fn delete(k: &KubeCluster, spec: &JobSpec) -> Result<()> {
    let api: Api<Job> = Api::namespaced(k.client.clone(), &spec.namespace);
    let what = format!("delete Job {}/{}", spec.namespace, spec.name);
    let params = DeleteParams::background();
    match k
        .call(&what, true, || api.delete(&spec.name, &params))
        .await
    {
        Ok(_) | Err(Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
