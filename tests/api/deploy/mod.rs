//! `deploy/`: every manifest the kustomizations list is loaded and parsed into k8s-openapi
//! types, and checked against the code: RBAC covers every call `ops::API_CALLS` lists and grants
//! nothing else but the documented extras; probes, ports, security context, resources and the
//! generated ConfigMap's bot.toml agree with what firewatch does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use firewatch::config::Settings;
use firewatch::ops::API_CALLS;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::helpers::repo;

mod grafana;
mod pod;
mod production;
mod rbac;
mod web;

fn deploy() -> PathBuf {
    repo().join("deploy")
}

fn yaml<T: DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} is listed but cannot be read: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The manifests of one kustomization, typed.
#[derive(Default)]
struct Manifests {
    namespaces: Vec<Namespace>,
    service_accounts: Vec<ServiceAccount>,
    roles: Vec<Role>,
    role_bindings: Vec<RoleBinding>,
    cluster_roles: Vec<ClusterRole>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
    deployments: Vec<Deployment>,
    services: Vec<Service>,
    budgets: Vec<PodDisruptionBudget>,
    network_policies: Vec<NetworkPolicy>,
    /// Strategic merge patches, as written (partial objects).
    patches: Vec<Value>,
    /// `configMapGenerator` files: (ConfigMap name, path).
    generated: Vec<(String, PathBuf)>,
}

/// Loads `dir/kustomization.yaml` and everything it lists (bases recursively). A listed file that
/// is missing or does not parse fails; so does a manifest in `dir` that nothing lists.
fn load(dir: &Path, into: &mut Manifests) {
    let kustomization: Value = yaml(&dir.join("kustomization.yaml"));
    assert!(
        kustomization.get("namespace").is_none(),
        "{}: a namespace field would move the Role out of the service's namespace",
        dir.display()
    );
    let mut listed = BTreeSet::new();
    for entry in list(&kustomization, "resources") {
        let path = dir.join(&entry);
        listed.insert(path.clone());
        if path.is_dir() {
            load(&path, into);
        } else {
            resource(&path, into);
        }
    }
    for patch in kustomization["patches"].as_array().into_iter().flatten() {
        let path = dir.join(patch["path"].as_str().expect("a patch has a path"));
        listed.insert(path.clone());
        into.patches.push(yaml(&path));
    }
    for generator in kustomization["configMapGenerator"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = generator["name"].as_str().expect("a generator has a name");
        for file in generator["files"].as_array().expect("generator files") {
            let path = dir.join(file.as_str().expect("a file name"));
            assert!(path.is_file(), "{} is missing", path.display());
            into.generated.push((name.to_owned(), path));
        }
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let manifest = name.ends_with(".yaml") || name.ends_with(".yml");
        if manifest && name != "kustomization.yaml" && !name.ends_with(".example.yaml") {
            assert!(
                listed.contains(&path),
                "{} is not listed in its kustomization.yaml",
                path.display()
            );
        }
    }
}

fn list(kustomization: &Value, key: &str) -> Vec<String> {
    kustomization[key]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().expect("a path").to_owned())
        .collect()
}

fn typed<T: DeserializeOwned + k8s_openapi::Resource>(path: &Path, raw: &Value) -> T {
    assert_eq!(raw["apiVersion"], T::API_VERSION, "{}", path.display());
    yaml(path)
}

fn resource(path: &Path, into: &mut Manifests) {
    let raw: Value = yaml(path);
    match raw["kind"].as_str().expect("a kind") {
        "Namespace" => into.namespaces.push(typed(path, &raw)),
        "ServiceAccount" => into.service_accounts.push(typed(path, &raw)),
        "Role" => into.roles.push(typed(path, &raw)),
        "RoleBinding" => into.role_bindings.push(typed(path, &raw)),
        "ClusterRole" => into.cluster_roles.push(typed(path, &raw)),
        "ClusterRoleBinding" => into.cluster_role_bindings.push(typed(path, &raw)),
        "Deployment" => into.deployments.push(typed(path, &raw)),
        "Service" => into.services.push(typed(path, &raw)),
        "PodDisruptionBudget" => into.budgets.push(typed(path, &raw)),
        "NetworkPolicy" => into.network_policies.push(typed(path, &raw)),
        other => panic!("{}: unexpected kind {other}", path.display()),
    }
}

fn base() -> Manifests {
    let mut m = Manifests::default();
    load(&deploy().join("base"), &mut m);
    m
}

fn production() -> Manifests {
    let mut m = Manifests::default();
    load(&deploy().join("overlays/production"), &mut m);
    m
}

fn container(d: &Deployment) -> &Container {
    let containers = &d
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers;
    assert_eq!(containers.len(), 1);
    &containers[0]
}

/// A port reference (number or name) resolved against the container's ports.
/// The labels of the pods `d` makes.
fn pod_labels(d: &Deployment) -> BTreeMap<String, String> {
    d.spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap()
}

fn resolve(port: &IntOrString, c: &Container) -> i32 {
    let ports = c.ports.as_deref().unwrap_or_default();
    match port {
        IntOrString::Int(n) => {
            assert!(ports.iter().any(|p| p.container_port == *n), "port {n}");
            *n
        }
        IntOrString::String(name) => {
            ports
                .iter()
                .find(|p| p.name.as_deref() == Some(name))
                .unwrap_or_else(|| panic!("no container port named {name}"))
                .container_port
        }
    }
}

/// The generated ConfigMap's bot.toml, loaded by firewatch's own loader and checked like
/// `check-config` does; and the path it is mounted at.
fn generated_settings(m: &Manifests) -> (Settings, String) {
    assert_eq!(m.generated.len(), 1, "one generated file: bot.toml");
    let (name, path) = &m.generated[0];
    let settings = Settings::load_with_env(path, std::iter::empty::<(String, String)>())
        .unwrap_or_else(|e| panic!("{}: {}", path.display(), firewatch::error_chain(&e)));
    firewatch::app::startup::check(&settings).expect("templates render with the deployed settings");
    // Production: approvers named for every change that needs approval, one workspace served.
    assert_eq!(
        firewatch::app::warnings::warnings(&settings),
        Vec::<String>::new()
    );
    assert!(!settings.slack.team_ids.is_empty());
    let pod = m.deployments[0]
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let volume = pod
        .volumes
        .as_deref()
        .unwrap()
        .iter()
        .find(|v| v.config_map.as_ref().is_some_and(|c| &c.name == name))
        .expect("the generated ConfigMap is mounted");
    let mount = container(&m.deployments[0])
        .volume_mounts
        .as_deref()
        .unwrap()
        .iter()
        .find(|v| v.name == volume.name)
        .unwrap();
    (settings, format!("{}/bot.toml", mount.mount_path))
}

fn env_of(c: &Container) -> BTreeMap<String, String> {
    c.env
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn an_unlisted_manifest_or_a_missing_one_fails_the_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources:\n  - service.yaml\n",
    )
    .unwrap();
    std::fs::copy(
        deploy().join("base/service.yaml"),
        dir.path().join("service.yaml"),
    )
    .unwrap();
    let mut m = Manifests::default();
    load(dir.path(), &mut m);
    assert_eq!(m.services.len(), 1);
    std::fs::write(dir.path().join("extra.yaml"), "kind: Service\n").unwrap();
    let path = dir.path().to_owned();
    assert!(std::panic::catch_unwind(|| load(&path, &mut Manifests::default())).is_err());
    std::fs::remove_file(dir.path().join("extra.yaml")).unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources:\n  - service.yaml\n  - gone.yaml\n",
    )
    .unwrap();
    assert!(std::panic::catch_unwind(|| load(&path, &mut Manifests::default())).is_err());
}
