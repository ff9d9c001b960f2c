//! Writes: previews (server-side dry runs) and applying [`Mutation`]s.

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::Patch;

use super::{KubeCluster, jobs, reads, toggle};
use crate::ops::{Change, Done, Error, Mutation, Plan, Result, helm};

pub(super) async fn preview(k: &KubeCluster, mutation: &Mutation) -> Result<Plan> {
    let service = &mutation.service;
    match &mutation.change {
        Change::Rollback { revision } => {
            let history = reads::history(k, service).await?;
            let (from, to) = helm::rollback_target(&history, *revision)?;
            Ok(Plan {
                before: from.describe(),
                after: to.describe(),
                checked:
                    "read from the release history in the cluster (helm rollback has no dry run)"
                        .into(),
                pinned: Change::Rollback {
                    revision: Some(to.number),
                },
            })
        }
        Change::Scale {
            deployment,
            replicas,
        } => {
            let (before, after) = scale(k, &service.namespace, deployment, *replicas, true).await?;
            Ok(Plan {
                before: format!("{deployment}: {before} replicas"),
                after: format!("{deployment}: {after} replicas"),
                checked: "server-side dry run (dryRun=All) accepted".into(),
                pinned: mutation.change.clone(),
            })
        }
        Change::Action { toggle: t, .. } => {
            let (before, after) = toggle::set(k, service, t, true, &now()).await?;
            Ok(Plan {
                before,
                after,
                checked: "server-side dry run (dryRun=All) accepted".into(),
                pinned: mutation.change.clone(),
            })
        }
        Change::Job { spec, .. } => {
            jobs::create(k, spec, true).await?;
            Ok(Plan {
                before: format!("no Job {} in {}", spec.name, spec.namespace),
                after: format!("Job {} running {}", spec.name, spec.image),
                checked: "server-side dry run (dryRun=All) of the Job accepted".into(),
                pinned: mutation.change.clone(),
            })
        }
    }
}

/// The time for the restart annotation, as `kubectl rollout restart` writes it.
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(super) async fn apply(k: &KubeCluster, mutation: &Mutation) -> Result<Done> {
    let service = &mutation.service;
    match &mutation.change {
        Change::Rollback { revision } => {
            let history = reads::history(k, service).await?;
            let (from, to) = helm::rollback_target(&history, *revision)?;
            let args = helm::rollback_args(
                &service.helm_release,
                to.number,
                &service.namespace,
                k.options.helm_timeout,
                &k.options.helm_target,
            );
            let out = helm::run(&k.options.helm_binary, &args, k.options.helm_timeout).await?;
            Ok(Done {
                before: from.describe(),
                after: format!("rolled back to {}", to.describe()),
                detail: if out.is_empty() {
                    "helm rollback exited 0".into()
                } else {
                    out
                },
            })
        }
        Change::Scale {
            deployment,
            replicas,
        } => {
            let (before, after) =
                scale(k, &service.namespace, deployment, *replicas, false).await?;
            Ok(Done {
                before: format!("{deployment}: {before} replicas"),
                after: format!("{deployment}: {after} replicas"),
                detail: "scale subresource patched".into(),
            })
        }
        Change::Action { toggle: t, .. } => {
            let (before, after) = toggle::set(k, service, t, false, &now()).await?;
            Ok(Done {
                before,
                after,
                detail: "patched".into(),
            })
        }
        Change::Job { spec, .. } => {
            jobs::create(k, spec, false).await?;
            Ok(Done {
                before: format!("no Job {}", spec.name),
                after: format!("Job {} created in {}", spec.name, spec.namespace),
                detail: "created; firewatch posts its result when it finishes".into(),
            })
        }
    }
}

/// Reads the scale, then patches it (as a dry run when `dry_run`): replicas before and after.
async fn scale(
    k: &KubeCluster,
    ns: &str,
    name: &str,
    replicas: u32,
    dry_run: bool,
) -> Result<(i32, i32)> {
    let wanted = i32::try_from(replicas)
        .map_err(|_| Error::Refused(format!("{replicas} replicas is too many")))?;
    let api: Api<Deployment> = Api::namespaced(k.client.clone(), ns);
    let what = format!("scale of deployment {ns}/{name}");
    let current = k.call(&what, true, || api.get_scale(name)).await?;
    let before = current.spec.and_then(|s| s.replicas).unwrap_or(0);
    let params = toggle::params(dry_run);
    let patch = Patch::Merge(serde_json::json!({ "spec": { "replicas": wanted } }));
    let patched = k
        .call(&what, false, || api.patch_scale(name, &params, &patch))
        .await?;
    let after = patched.spec.and_then(|s| s.replicas).unwrap_or(wanted);
    Ok((before, after))
}
