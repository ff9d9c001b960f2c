//! Reads: the Deployment's readiness, rollouts, pod logs, warning events and Helm history.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod, Secret};
use kube::Api;
use kube::api::{ListParams, LogParams};

use super::KubeCluster;
use crate::catalog::Service;
use crate::ops::evidence::{self, RolloutSource};
use crate::ops::helm;
use crate::ops::{Error, LogErrors, Readiness, Result, Revision, Rollout, Warning};

/// How many pods' logs are read for error lines.
const MAX_PODS_READ: usize = 20;
/// The most events read in one list.
pub(super) const EVENTS_READ: u32 = 500;
/// The most log bytes read per pod.
const LOG_BYTES_PER_POD: i64 = 1 << 20;
/// How many warning events are kept.
const MAX_WARNINGS: usize = 10;

/// A jiff time as chrono.
/// When an event last happened: its last timestamp, else its event time, else its creation
/// (API-NOTES: events sort on these, in that order).
pub(super) fn event_time(e: &Event) -> Option<DateTime<Utc>> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or(e.event_time.as_ref().map(|t| t.0))
        .or(e.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .as_ref()
        .and_then(chrono_time)
}

pub(super) fn chrono_time(t: &k8s_openapi::jiff::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(
        t.as_second(),
        u32::try_from(t.subsec_nanosecond()).unwrap_or(0),
    )
}

/// The Deployment and its label selector (`app=freightliner`).
pub(super) async fn deployment(
    k: &KubeCluster,
    ns: &str,
    name: &str,
) -> Result<(Deployment, String)> {
    let api: Api<Deployment> = Api::namespaced(k.client.clone(), ns);
    let what = format!("deployment {ns}/{name}");
    let d = k.call(&what, true, || api.get(name)).await?;
    let labels: BTreeMap<String, String> = d
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    if labels.is_empty() {
        return Err(Error::Refused(format!(
            "{what} has no matchLabels selector"
        )));
    }
    let selector = labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    Ok((d, selector))
}

pub(super) async fn pods(k: &KubeCluster, ns: &str, selector: &str) -> Result<Vec<Pod>> {
    let api: Api<Pod> = Api::namespaced(k.client.clone(), ns);
    let params = ListParams::default().labels(selector);
    let list = k
        .call(&format!("pods {ns} ({selector})"), true, || {
            api.list(&params)
        })
        .await?;
    Ok(list.items)
}

pub(super) async fn readiness(k: &KubeCluster, service: &Service) -> Result<Readiness> {
    let ns = &service.namespace;
    let (d, selector) = deployment(k, ns, &service.deployment).await?;
    let pods = pods(k, ns, &selector).await?;
    let status = d.status.unwrap_or_default();
    let mut restarts = 0;
    let mut failing = Vec::new();
    for pod in &pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let statuses = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.clone())
            .unwrap_or_default();
        for c in statuses {
            restarts += c.restart_count;
            let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
            let terminated = c.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            if let Some(reason) = waiting.and_then(|w| w.reason.as_deref())
                && matches!(
                    reason,
                    "CrashLoopBackOff" | "ImagePullBackOff" | "ErrImagePull"
                )
            {
                failing.push(format!("{name}: {reason}"));
            }
            if terminated.and_then(|t| t.reason.as_deref()) == Some("OOMKilled") {
                failing.push(format!("{name}: OOMKilled"));
            }
        }
    }
    Ok(Readiness {
        deployment: service.deployment.clone(),
        desired: d.spec.and_then(|s| s.replicas).unwrap_or(1),
        ready: status.ready_replicas.unwrap_or(0),
        unavailable: status.unavailable_replicas.unwrap_or(0),
        restarts,
        failing,
    })
}

pub(super) async fn rollouts(
    k: &KubeCluster,
    service: &Service,
    since: DateTime<Utc>,
) -> Result<Vec<Rollout>> {
    let ns = &service.namespace;
    let (_, selector) = deployment(k, ns, &service.deployment).await?;
    let api: Api<ReplicaSet> = Api::namespaced(k.client.clone(), ns);
    let params = ListParams::default().labels(&selector);
    let sets = k
        .call(&format!("replicasets {ns} ({selector})"), true, || {
            api.list(&params)
        })
        .await?;
    let mut found = Vec::new();
    for rs in sets.items {
        let Some(at) = rs
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(|t| chrono_time(&t.0))
        else {
            continue;
        };
        let revision = rs
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("deployment.kubernetes.io/revision"))
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        let images: Vec<String> = rs
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.spec.as_ref())
            .map(|s| {
                s.containers
                    .iter()
                    .filter_map(|c| c.image.clone())
                    .collect()
            })
            .unwrap_or_default();
        let desired = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
        let ready = rs
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0);
        if at >= since {
            found.push(Rollout {
                source: RolloutSource::ReplicaSet,
                revision,
                at,
                what: images.join(", "),
                status: format!("ready {ready}/{desired}"),
            });
        }
    }
    for r in history(k, service).await? {
        if let Some(at) = r.deployed.filter(|at| *at >= since) {
            found.push(Rollout {
                source: RolloutSource::Helm,
                revision: i64::from(r.number),
                at,
                what: format!("{} (app {})", r.chart, r.app_version),
                status: r.status,
            });
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.at));
    Ok(found)
}

pub(super) async fn log_errors(k: &KubeCluster, service: &Service) -> Result<LogErrors> {
    log_matches(k, service, &k.options.error_pattern).await
}

pub(super) async fn log_matches(
    k: &KubeCluster,
    service: &Service,
    pattern: &regex::Regex,
) -> Result<LogErrors> {
    let ns = &service.namespace;
    let (_, selector) = deployment(k, ns, &service.deployment).await?;
    let pods = pods(k, ns, &selector).await?;
    let api: Api<Pod> = Api::namespaced(k.client.clone(), ns);
    let params = LogParams {
        since_seconds: i64::try_from(k.options.log_window.as_secs()).ok(),
        tail_lines: Some(i64::from(k.options.log_tail_lines)),
        limit_bytes: Some(LOG_BYTES_PER_POD),
        ..LogParams::default()
    };
    // The pod's first container is the service's (sidecars come after it); a pod with several
    // containers needs it named, or the API answers 400.
    let targets: Vec<(String, Option<String>)> = pods
        .iter()
        .filter_map(|p| {
            let name = p.metadata.name.clone()?;
            let container = p
                .spec
                .as_ref()
                .and_then(|s| s.containers.first())
                .map(|c| c.name.clone());
            Some((name, container))
        })
        .take(MAX_PODS_READ)
        .collect();
    let reads = targets.iter().map(|(name, container)| {
        let api = api.clone();
        let params = LogParams {
            container: container.clone(),
            ..params.clone()
        };
        async move {
            k.call(&format!("log of pod {ns}/{name}"), true, || {
                api.logs(name, &params)
            })
            .await
        }
    });
    let logs = futures::future::join_all(reads).await;
    let mut text = String::new();
    let mut unreadable = Vec::new();
    let mut last_error = None;
    for ((name, _), log) in targets.iter().zip(logs) {
        match log {
            Ok(log) => {
                text.push_str(&log);
                text.push('\n');
            }
            Err(e) => {
                unreadable.push(format!("{name} ({e})"));
                last_error = Some(e);
            }
        }
    }
    // One pod's unreadable log (Pending, a sidecar quirk) is a finding; none readable is an error.
    if let Some(e) = last_error
        && unreadable.len() == targets.len()
    {
        return Err(e);
    }
    let (count, top) = evidence::count_lines(text.lines(), pattern);
    Ok(LogErrors {
        pods: targets.len() - unreadable.len(),
        unreadable,
        count,
        top,
    })
}

pub(super) async fn warnings(k: &KubeCluster, service: &Service) -> Result<Vec<Warning>> {
    let ns = &service.namespace;
    let api: Api<Event> = Api::namespaced(k.client.clone(), ns);
    // Events are namespace-wide and can be thousands: the newest few hundred are plenty.
    let params = ListParams::default()
        .fields("type=Warning")
        .limit(EVENTS_READ);
    let list = k
        .call(&format!("events {ns}"), true, || api.list(&params))
        .await?;
    let mut found: Vec<Warning> = list
        .items
        .into_iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .map(|e| {
            let o = &e.involved_object;
            Warning {
                at: event_time(&e),
                object: format!(
                    "{}/{}",
                    o.kind.as_deref().unwrap_or("?"),
                    o.name.as_deref().unwrap_or("?")
                ),
                reason: e.reason.unwrap_or_default(),
                message: e.message.unwrap_or_default(),
                count: e.count.unwrap_or(1),
            }
        })
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.at));
    found.truncate(MAX_WARNINGS);
    Ok(found)
}

pub(super) async fn history(k: &KubeCluster, service: &Service) -> Result<Vec<Revision>> {
    let ns = &service.namespace;
    let release = &service.helm_release;
    let api: Api<Secret> = Api::namespaced(k.client.clone(), ns);
    let params = ListParams::default().labels(&format!("owner=helm,name={release}"));
    let list = k
        .call(
            &format!("helm release secrets {ns}/{release}"),
            true,
            || api.list(&params),
        )
        .await?;
    let prefix = format!("sh.helm.release.v1.{release}.v");
    let secrets: Vec<(String, Vec<u8>)> = list
        .items
        .into_iter()
        .filter_map(|secret| {
            let name = secret.metadata.name.clone().unwrap_or_default();
            let data = secret.data?.remove("release")?;
            name.starts_with(&prefix).then_some((name, data.0))
        })
        .collect();
    // Decoding is CPU work on untrusted data (base64 + gzip): off the async runtime. A revision
    // that does not decode is skipped with a warning, so one bad Secret cannot block a rollback.
    let decoded = tokio::task::spawn_blocking(move || {
        secrets
            .iter()
            .map(|(name, data)| helm::decode(name, data))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| Error::Api(format!("decoding the helm history failed: {e}")))?;
    let mut revisions = Vec::new();
    let mut last_error = None;
    for revision in decoded {
        match revision {
            Ok(revision) => revisions.push(revision),
            Err(e) => {
                tracing::warn!(error = %e, "skipping a helm revision that does not decode");
                last_error = Some(e);
            }
        }
    }
    if revisions.is_empty()
        && let Some(e) = last_error
    {
        return Err(e);
    }
    revisions.sort_by_key(|r| r.number);
    Ok(revisions)
}
