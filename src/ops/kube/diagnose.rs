//! Reads for `/incident-diagnose` and `/incident-verify`: pods, events, NetworkPolicies, nodes,
//! metrics.k8s.io usage, rollout status.

use k8s_openapi::api::core::v1::{Event, Node};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};

use super::KubeCluster;
use super::reads::{EVENTS_READ, chrono_time, deployment, event_time, pods};
use crate::catalog::Service;
use crate::ops::{Error, EventLine, NodeState, PodState, Result, RolloutStatus};

/// How many events are kept.
const MAX_EVENTS: usize = 30;

pub(super) async fn pod_states(k: &KubeCluster, service: &Service) -> Result<Vec<PodState>> {
    let (_, selector) = deployment(k, &service.namespace, &service.deployment).await?;
    let pods = pods(k, &service.namespace, &selector).await?;
    Ok(pods
        .into_iter()
        .map(|p| {
            let status = p.status.unwrap_or_default();
            let containers = status.container_statuses.unwrap_or_default();
            let waiting = containers
                .iter()
                .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone());
            let last_termination = containers.iter().find_map(|c| {
                let t = c.last_state.as_ref()?.terminated.as_ref()?;
                let at = t
                    .finished_at
                    .as_ref()
                    .and_then(|f| chrono_time(&f.0))
                    .map(|f| format!(" at {}", f.format("%H:%M UTC")))
                    .unwrap_or_default();
                Some(format!(
                    "{} (exit {}){at}",
                    t.reason.as_deref().unwrap_or("terminated"),
                    t.exit_code
                ))
            });
            PodState {
                name: p.metadata.name.unwrap_or_default(),
                phase: status.phase.unwrap_or_else(|| "Unknown".into()),
                restarts: containers.iter().map(|c| c.restart_count).sum(),
                waiting,
                last_termination,
                node: p.spec.and_then(|s| s.node_name),
            }
        })
        .collect())
}

pub(super) async fn events(k: &KubeCluster, service: &Service) -> Result<Vec<EventLine>> {
    let ns = &service.namespace;
    let api: Api<Event> = Api::namespaced(k.client.clone(), ns);
    let params = ListParams::default().limit(EVENTS_READ);
    let list = k
        .call(&format!("events {ns}"), true, || api.list(&params))
        .await?;
    let mut found: Vec<EventLine> = list
        .items
        .into_iter()
        .map(|e| {
            let o = &e.involved_object;
            EventLine {
                at: event_time(&e),
                kind: e.type_.clone().unwrap_or_default(),
                object: format!(
                    "{}/{}",
                    o.kind.as_deref().unwrap_or("?"),
                    o.name.as_deref().unwrap_or("?")
                ),
                reason: e.reason.clone().unwrap_or_default(),
                message: e.message.clone().unwrap_or_default(),
            }
        })
        .collect();
    found.sort_by_key(|e| std::cmp::Reverse(e.at));
    found.truncate(MAX_EVENTS);
    Ok(found)
}

pub(super) async fn network_policies(k: &KubeCluster, service: &Service) -> Result<Vec<String>> {
    let ns = &service.namespace;
    let api: Api<NetworkPolicy> = Api::namespaced(k.client.clone(), ns);
    let params = ListParams::default();
    let list = k
        .call(&format!("networkpolicies {ns}"), true, || api.list(&params))
        .await?;
    Ok(list
        .items
        .into_iter()
        .map(|p| {
            let spec = p.spec.unwrap_or_default();
            let pods = spec
                .pod_selector
                .and_then(|s| s.match_labels)
                .map(|l| {
                    l.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "all pods".into());
            let types = spec.policy_types.unwrap_or_default().join(", ");
            format!(
                "{} (pods: {pods}; {})",
                p.metadata.name.unwrap_or_default(),
                if types.is_empty() {
                    "Ingress".into()
                } else {
                    types
                }
            )
        })
        .collect())
}

fn usage(data: &serde_json::Value) -> String {
    format!(
        "cpu {}, memory {}",
        data["cpu"].as_str().unwrap_or("?"),
        data["memory"].as_str().unwrap_or("?")
    )
}

pub(super) async fn nodes(k: &KubeCluster) -> Result<Vec<NodeState>> {
    let api: Api<Node> = Api::all(k.client.clone());
    let params = ListParams::default();
    let list = k.call("nodes", true, || api.list(&params)).await?;
    let gvk = GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "NodeMetrics");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "nodes");
    let metrics: Api<DynamicObject> = Api::all_with(k.client.clone(), &resource);
    // Usage is extra: a cluster without metrics-server still gets node conditions.
    let usage_of: Vec<(String, String)> =
        match k.call("node metrics", true, || metrics.list(&params)).await {
            Ok(list) => list
                .items
                .into_iter()
                .map(|m| (m.metadata.name.unwrap_or_default(), usage(&m.data["usage"])))
                .collect(),
            Err(e) => {
                tracing::info!(error = %e, "no node metrics");
                Vec::new()
            }
        };
    Ok(list
        .items
        .into_iter()
        .map(|n| {
            let name = n.metadata.name.unwrap_or_default();
            let conditions = n.status.and_then(|s| s.conditions).unwrap_or_default();
            let ready = conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            let problems = conditions
                .iter()
                .filter(|c| c.type_ != "Ready" && c.status == "True")
                .map(|c| c.type_.clone())
                .collect();
            let usage = usage_of
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, u)| u.clone());
            NodeState {
                name,
                ready,
                problems,
                usage,
            }
        })
        .collect())
}

pub(super) async fn pod_usage(k: &KubeCluster, service: &Service) -> Result<Vec<String>> {
    let ns = &service.namespace;
    let (_, selector) = deployment(k, ns, &service.deployment).await?;
    let gvk = GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "PodMetrics");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "pods");
    let api: Api<DynamicObject> = Api::namespaced_with(k.client.clone(), ns, &resource);
    let params = ListParams::default().labels(&selector);
    let list = k
        .call(&format!("pod metrics {ns}"), true, || api.list(&params))
        .await?;
    Ok(list
        .items
        .into_iter()
        .flat_map(|m| {
            let pod = m.metadata.name.clone().unwrap_or_default();
            m.data["containers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |c| {
                    format!(
                        "{pod}/{}: {}",
                        c["name"].as_str().unwrap_or("?"),
                        usage(&c["usage"])
                    )
                })
        })
        .collect())
}

pub(super) async fn rollout_status(k: &KubeCluster, service: &Service) -> Result<RolloutStatus> {
    let (d, _) = deployment(k, &service.namespace, &service.deployment).await?;
    let status = d.status.unwrap_or_default();
    Ok(RolloutStatus {
        generation: d.metadata.generation.unwrap_or(0),
        observed: status.observed_generation.unwrap_or(0),
        desired: d.spec.and_then(|s| s.replicas).unwrap_or(1),
        updated: status.updated_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
        replicas: status.replicas.unwrap_or(0),
    })
}

pub(super) async fn cpu_profile(
    k: &KubeCluster,
    service: &Service,
    port: u16,
    seconds: u32,
) -> Result<(String, Vec<u8>)> {
    let ns = &service.namespace;
    let pod = pod_states(k, service)
        .await?
        .into_iter()
        .find(|p| p.phase == "Running" && p.waiting.is_none())
        .ok_or_else(|| {
            Error::Refused(format!(
                "no running pod of {} to profile",
                service.deployment
            ))
        })?;
    let path = format!(
        "/api/v1/namespaces/{ns}/pods/{}:{port}/proxy/debug/pprof/profile?seconds={seconds}",
        pod.name
    );
    let what = format!("cpu profile of pod {ns}/{}", pod.name);
    let timeout = k.options.timeout + std::time::Duration::from_secs(u64::from(seconds));
    let (status, body) = k
        .call_within(timeout, &what, false, || async {
            let request = http::Request::get(path.as_str())
                .body(kube::client::Body::from(Vec::new()))
                .map_err(kube::Error::HttpError)?;
            let response = k.client.send(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect_bytes().await?;
            Ok((status, body))
        })
        .await?;
    match status {
        200..=299 => Ok((pod.name, body.to_vec())),
        403 => Err(Error::Forbidden(what)),
        404 => Err(Error::NotFound(what)),
        code => Err(Error::Api(format!(
            "{what}: HTTP {code} {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(200)
                .collect::<String>()
        ))),
    }
}
