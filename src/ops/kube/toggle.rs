//! Runbook toggles: set a ConfigMap key or a Deployment env var, then optionally restart the
//! rollout (the `kubectl rollout restart` annotation). Previews are the same patches with
//! `dryRun=All`.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use super::KubeCluster;
use crate::catalog::Service;
use crate::ops::{Error, Result, Toggle, ToggleTarget};

/// Patch parameters: a server-side dry run when `dry_run`.
pub(super) fn params(dry_run: bool) -> PatchParams {
    let params = PatchParams::default();
    if dry_run { params.dry_run() } else { params }
}

/// Sets the toggle (as a dry run when `dry_run`), then restarts when it says so: the value
/// before, and after (as the server answered) with what the restart did.
pub(super) async fn set(
    k: &KubeCluster,
    service: &Service,
    toggle: &Toggle,
    dry_run: bool,
    now: &str,
) -> Result<(String, String)> {
    let ns = &service.namespace;
    let shown = |v: Option<&str>| v.map_or_else(|| "(unset)".to_owned(), str::to_owned);
    let (before, after) = match &toggle.target {
        ToggleTarget::ConfigMap { name, key } => {
            let api: Api<ConfigMap> = Api::namespaced(k.client.clone(), ns);
            let what = format!("configmap {ns}/{name}");
            let current = k.call(&what, true, || api.get(name)).await?;
            let before = current.data.as_ref().and_then(|d| d.get(key)).cloned();
            let patch = Patch::Merge(json!({ "data": { key: toggle.value } }));
            let p = params(dry_run);
            let patched = k.call(&what, false, || api.patch(name, &p, &patch)).await?;
            let after = patched.data.as_ref().and_then(|d| d.get(key)).cloned();
            (
                format!("{key}={}", shown(before.as_deref())),
                format!("{key}={}", shown(after.as_deref())),
            )
        }
        ToggleTarget::Env {
            variable,
            container,
        } => {
            let api: Api<Deployment> = Api::namespaced(k.client.clone(), ns);
            let name = &service.deployment;
            let what = format!("deployment {ns}/{name}");
            let current = k.call(&what, true, || api.get(name)).await?;
            let containers = |d: &Deployment| {
                d.spec
                    .as_ref()
                    .and_then(|s| s.template.spec.as_ref())
                    .map(|s| s.containers.clone())
                    .unwrap_or_default()
            };
            let chosen = match container {
                Some(c) => containers(&current).into_iter().find(|x| &x.name == c),
                None => containers(&current).into_iter().next(),
            }
            .ok_or_else(|| {
                Error::Refused(format!(
                    "{what} has no container {}",
                    container.as_deref().unwrap_or("at all")
                ))
            })?;
            let value_in = |c: &k8s_openapi::api::core::v1::Container| {
                c.env
                    .as_ref()
                    .and_then(|e| e.iter().find(|v| &v.name == variable))
                    .and_then(|v| v.value.clone())
            };
            let before = value_in(&chosen);
            let patch = Patch::Strategic(json!({ "spec": { "template": { "spec": { "containers": [
                { "name": chosen.name, "env": [{ "name": variable, "value": toggle.value }] }
            ] } } } }));
            let p = params(dry_run);
            let patched = k.call(&what, false, || api.patch(name, &p, &patch)).await?;
            let after = containers(&patched)
                .iter()
                .find(|c| c.name == chosen.name)
                .and_then(value_in);
            (
                format!("{variable}={}", shown(before.as_deref())),
                format!("{variable}={}", shown(after.as_deref())),
            )
        }
    };
    let after = if toggle.restart {
        restart(k, service, dry_run, now).await?;
        format!("{after}, rollout of {} restarted", service.deployment)
    } else {
        after
    };
    Ok((before, after))
}

/// Restarts the Deployment's rollout: the pod template's `restartedAt` annotation.
async fn restart(k: &KubeCluster, service: &Service, dry_run: bool, now: &str) -> Result<()> {
    let ns = &service.namespace;
    let name = &service.deployment;
    let api: Api<Deployment> = Api::namespaced(k.client.clone(), ns);
    let patch = Patch::Merge(
        json!({ "spec": { "template": { "metadata": { "annotations": {
        "kubectl.kubernetes.io/restartedAt": now
    } } } } }),
    );
    let p = params(dry_run);
    k.call(&format!("restart of deployment {ns}/{name}"), false, || {
        api.patch(name, &p, &patch)
    })
    .await?;
    Ok(())
}
