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
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::helpers::repo;

/// Grants beyond `ops::API_CALLS`, each with why: (API group, resource[/subresource], verb).
/// Everything else a Role or ClusterRole grants must be a call the code makes.
const DOCUMENTED: &[(&str, &str, &str, &str)] = &[
    (
        "",
        "secrets",
        "get",
        "helm rollback reads the release Secret of the revision it returns to",
    ),
    (
        "",
        "secrets",
        "create",
        "helm rollback writes the new revision's release Secret (\"Rollback to N\")",
    ),
    (
        "",
        "secrets",
        "update",
        "helm rollback marks the current revision's release Secret superseded",
    ),
    (
        "",
        "services",
        "get",
        "helm rollback reads the chart's Service before patching it",
    ),
    (
        "",
        "services",
        "patch",
        "helm rollback patches the chart's Service back to the target revision",
    ),
    ("batch", "jobs", "create", "verification Jobs (#10)"),
    ("batch", "jobs", "get", "verification Jobs (#10)"),
    ("batch", "jobs", "list", "verification Jobs (#10)"),
    ("batch", "jobs", "delete", "verification Jobs (#10)"),
];

/// Resources that are not namespaced: granted by the ClusterRole, never the Role.
const CLUSTER_SCOPED: &[&str] = &["nodes"];

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

/// (group, resource[/subresource], verb, cluster-scoped) for every rule, refusing wildcards,
/// resource names and non-resource URLs.
fn grants(rules: &[PolicyRule], cluster: bool) -> BTreeSet<(String, String, String, bool)> {
    let mut out = BTreeSet::new();
    for rule in rules {
        assert!(rule.non_resource_urls.is_none(), "{rule:?}");
        assert!(rule.resource_names.is_none(), "{rule:?}");
        let groups = rule.api_groups.clone().unwrap_or_default();
        let resources = rule.resources.clone().unwrap_or_default();
        assert!(!groups.is_empty() && !resources.is_empty(), "{rule:?}");
        for value in groups.iter().chain(&resources).chain(&rule.verbs) {
            assert!(!value.contains('*'), "no wildcards: {rule:?}");
        }
        for group in &groups {
            for resource in &resources {
                for verb in &rule.verbs {
                    out.insert((group.clone(), resource.clone(), verb.clone(), cluster));
                }
            }
        }
    }
    out
}

fn needed() -> BTreeSet<(String, String, String, bool)> {
    API_CALLS
        .iter()
        .map(|c| {
            let resource = if c.subresource.is_empty() {
                c.resource.to_owned()
            } else {
                format!("{}/{}", c.resource, c.subresource)
            };
            (
                c.group.to_owned(),
                resource,
                c.verb.to_owned(),
                CLUSTER_SCOPED.contains(&c.resource),
            )
        })
        .collect()
}

fn granted(m: &Manifests) -> BTreeSet<(String, String, String, bool)> {
    let mut all = BTreeSet::new();
    for role in &m.roles {
        all.extend(grants(role.rules.as_deref().unwrap_or_default(), false));
    }
    for role in &m.cluster_roles {
        assert!(role.aggregation_rule.is_none());
        all.extend(grants(role.rules.as_deref().unwrap_or_default(), true));
    }
    all
}

/// Checks the grants against the calls: `None` when they agree, else what is wrong.
fn rbac_problems(granted: &BTreeSet<(String, String, String, bool)>) -> Vec<String> {
    let needed = needed();
    let mut problems = Vec::new();
    for call in &needed {
        if !granted.contains(call) {
            problems.push(format!("not granted: {call:?}"));
        }
    }
    for grant in granted {
        let (group, resource, verb, cluster) = grant;
        let documented = DOCUMENTED
            .iter()
            .any(|(g, r, v, _)| g == group && r == resource && v == verb && !cluster);
        if !needed.contains(grant) && !documented {
            problems.push(format!("granted but not needed: {grant:?}"));
        }
    }
    problems
}

#[test]
fn rbac_grants_every_api_call_and_nothing_undocumented() {
    let m = base();
    let granted = granted(&m);
    assert_eq!(rbac_problems(&granted), Vec::<String>::new());
    for (_, _, _, why) in DOCUMENTED {
        assert!(!why.is_empty());
    }
    // The check itself can fail: one verb too many, one call missing, one in the wrong scope.
    let mut broader = granted.clone();
    broader.insert(("".into(), "secrets".into(), "delete".into(), false));
    assert_eq!(rbac_problems(&broader).len(), 1);
    let mut narrower = granted.clone();
    narrower.remove(&(
        "apps".into(),
        "deployments/scale".into(),
        "patch".into(),
        false,
    ));
    assert_eq!(rbac_problems(&narrower).len(), 1);
    let mut misplaced = granted.clone();
    misplaced.remove(&("".into(), "nodes".into(), "list".into(), true));
    misplaced.insert(("".into(), "nodes".into(), "list".into(), false));
    assert_eq!(rbac_problems(&misplaced).len(), 2);
    let wildcard = PolicyRule {
        api_groups: Some(vec!["".into()]),
        resources: Some(vec!["*".into()]),
        verbs: vec!["get".into()],
        ..PolicyRule::default()
    };
    assert!(std::panic::catch_unwind(|| grants(&[wildcard], false)).is_err());
}

#[test]
fn the_role_lives_in_the_services_namespace_and_is_bound_to_firewatchs_account() {
    let m = base();
    let (settings, _) = generated_settings(&m);
    let namespaces: BTreeSet<&str> = settings
        .services
        .iter()
        .map(|s| s.namespace.as_str())
        .collect();
    let deployment = &m.deployments[0];
    let home = deployment.metadata.namespace.as_deref().unwrap();
    let account = deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .service_account_name
        .as_deref()
        .unwrap();
    assert!(
        m.namespaces
            .iter()
            .any(|n| n.metadata.name.as_deref() == Some(home))
    );
    assert!(m.service_accounts.iter().any(|a| {
        a.metadata.name.as_deref() == Some(account) && a.metadata.namespace.as_deref() == Some(home)
    }));
    let role_namespaces: BTreeSet<&str> = m
        .roles
        .iter()
        .map(|r| r.metadata.namespace.as_deref().unwrap())
        .collect();
    assert_eq!(
        role_namespaces, namespaces,
        "one Role per service namespace"
    );
    for role in &m.roles {
        let binding = m
            .role_bindings
            .iter()
            .find(|b| b.metadata.namespace == role.metadata.namespace)
            .expect("a RoleBinding beside each Role");
        assert_eq!(binding.role_ref.kind, "Role");
        assert_eq!(Some(&binding.role_ref.name), role.metadata.name.as_ref());
        let subjects = binding.subjects.as_deref().unwrap();
        assert_eq!(subjects.len(), 1);
        assert_eq!(subjects[0].kind, "ServiceAccount");
        assert_eq!(subjects[0].name, account);
        assert_eq!(subjects[0].namespace.as_deref(), Some(home));
    }
    for role in &m.cluster_roles {
        let binding = m
            .cluster_role_bindings
            .iter()
            .find(|b| Some(&b.role_ref.name) == role.metadata.name.as_ref())
            .expect("a ClusterRoleBinding for the ClusterRole");
        assert_eq!(binding.role_ref.kind, "ClusterRole");
        let subjects = binding.subjects.as_deref().unwrap();
        assert_eq!(subjects[0].name, account);
        assert_eq!(subjects[0].namespace.as_deref(), Some(home));
    }
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
    firewatch::startup::check(&settings).expect("templates render with the deployed settings");
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

#[test]
fn the_deployment_probes_serves_and_reads_its_config_where_firewatch_expects() {
    let m = base();
    let d = &m.deployments[0];
    let c = container(d);
    let (settings, config_path) = generated_settings(&m);
    let listen: std::net::SocketAddr = settings.server.listen.parse().unwrap();
    let live = c
        .liveness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    let ready = c
        .readiness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(live.path.as_deref(), Some("/healthz"));
    assert_eq!(ready.path.as_deref(), Some("/readyz"));
    assert_eq!(resolve(&live.port, c), i32::from(listen.port()));
    assert_eq!(resolve(&ready.port, c), i32::from(listen.port()));
    // The readiness timeout is longer than /readyz's bound on the store check.
    let timeout = c.readiness_probe.as_ref().unwrap().timeout_seconds.unwrap();
    assert!(u64::try_from(timeout).unwrap() > firewatch::health::STORE_CHECK.as_secs());
    assert_eq!(
        c.args.as_deref().unwrap(),
        ["serve", "--config", config_path.as_str()]
    );
    // The Service sends its traffic to that port, on the pods of this Deployment.
    let service = &m.services[0];
    let spec = service.spec.as_ref().unwrap();
    for port in spec.ports.as_deref().unwrap() {
        assert_eq!(
            resolve(port.target_port.as_ref().unwrap(), c),
            i32::from(listen.port())
        );
    }
    let labels = d
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone();
    for (k, v) in spec.selector.as_ref().unwrap() {
        assert_eq!(
            labels.as_ref().unwrap().get(k),
            Some(v),
            "service selector {k}"
        );
    }
    // The pod's grace period outlasts firewatch's own shutdown grace.
    let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert!(
        pod.termination_grace_period_seconds.unwrap()
            > i64::try_from(settings.server.shutdown_grace.as_secs()).unwrap()
    );
    // The image's helm and entrypoint are where the settings and the Deployment say.
    let dockerfile = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains(&format!(" {}; \\", settings.helm.binary.display())));
    assert!(dockerfile.contains(&format!("\"--config\", \"{config_path}\"")));
    assert!(dockerfile.contains("USER 65532:65532"));
}

#[test]
fn the_pod_runs_non_root_on_a_read_only_root_with_writable_volumes_where_it_writes() {
    let m = base();
    let d = &m.deployments[0];
    let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let pod_security = pod.security_context.as_ref().unwrap();
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert!(pod_security.run_as_user.is_some_and(|u| u != 0));
    let c = container(d);
    let security = c.security_context.as_ref().unwrap();
    assert_eq!(security.run_as_non_root, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_ne!(security.privileged, Some(true));
    let caps = security.capabilities.as_ref().unwrap();
    assert_eq!(caps.drop.as_deref(), Some(&["ALL".to_owned()][..]));
    assert!(caps.add.is_none());
    // Every writable mount is an emptyDir; the store, reports, profiles and helm's home are on
    // one.
    let volumes: BTreeMap<&str, _> = pod
        .volumes
        .as_deref()
        .unwrap()
        .iter()
        .map(|v| (v.name.as_str(), v))
        .collect();
    let writable: Vec<&str> = c
        .volume_mounts
        .as_deref()
        .unwrap()
        .iter()
        .filter(|m| m.read_only != Some(true))
        .map(|m| {
            assert!(volumes[m.name.as_str()].empty_dir.is_some(), "{}", m.name);
            m.mount_path.as_str()
        })
        .collect();
    let env = env_of(c);
    let store = env["FIREWATCH__STORE__URL"]
        .strip_prefix("sqlite://")
        .unwrap()
        .to_owned();
    let (settings, _) = generated_settings(&m);
    for path in [
        store.as_str(),
        &settings.reports.dir.display().to_string(),
        &settings.diagnose.profile_dir.display().to_string(),
        "/tmp/helm/cache",
    ] {
        assert!(
            writable.iter().any(|w| path.starts_with(&format!("{w}/"))),
            "{path} is not on a writable volume ({writable:?})"
        );
    }
    // Secrets come from files the Secret provides; the template holds placeholders only.
    let template: Secret = yaml(&deploy().join("base/secret.example.yaml"));
    let keys = template.string_data.as_ref().unwrap();
    for value in keys.values() {
        assert!(
            value.starts_with("REPLACE_WITH_"),
            "a placeholder, not a secret: {value}"
        );
    }
    let secret_volume = volumes
        .values()
        .find(|v| v.secret.is_some())
        .expect("the Secret is mounted");
    assert_eq!(
        secret_volume.secret.as_ref().unwrap().secret_name,
        template.metadata.name
    );
    let mount = c
        .volume_mounts
        .as_deref()
        .unwrap()
        .iter()
        .find(|m| m.name == secret_volume.name)
        .unwrap();
    for (name, value) in &env {
        if name.ends_with("_FILE") {
            let key = value
                .strip_prefix(&format!("{}/", mount.mount_path))
                .unwrap_or_else(|| panic!("{name} points outside the Secret mount"));
            assert!(
                keys.contains_key(key),
                "{name}: the Secret has no key {key}"
            );
        }
    }
}

fn env_of(c: &Container) -> BTreeMap<String, String> {
    c.env
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect()
}

/// Parses `64Mi`, `1Gi`, `500M` into MiB.
fn mebibytes(quantity: &str) -> f64 {
    let (number, unit) = quantity.split_at(quantity.find(|c: char| c.is_alphabetic()).unwrap());
    let n: f64 = number.parse().unwrap();
    match unit {
        "Mi" => n,
        "Gi" => n * 1024.0,
        "M" => n * 1e6 / 1_048_576.0,
        other => panic!("unit {other}"),
    }
}

#[test]
fn resources_are_sized_from_the_measured_footprint() {
    let m = base();
    let c = container(&m.deployments[0]);
    let resources = c.resources.as_ref().unwrap();
    let request = mebibytes(&resources.requests.as_ref().unwrap()["memory"].0);
    let limit = mebibytes(&resources.limits.as_ref().unwrap()["memory"].0);
    assert!(resources.requests.as_ref().unwrap().contains_key("cpu"));
    let benchmarks = std::fs::read_to_string(repo().join("BENCHMARKS.md")).unwrap();
    let figures = |pattern: &str| -> Vec<f64> {
        regex::Regex::new(pattern)
            .unwrap()
            .captures_iter(&benchmarks)
            .map(|c| c[1].parse().unwrap())
            .collect()
    };
    let idle = figures(r"firewatch RSS: idle ([\d.]+) MiB");
    let peak = figures(r"peak VmHWM ([\d.]+) MiB");
    assert!(
        !idle.is_empty() && !peak.is_empty(),
        "BENCHMARKS.md has the figures"
    );
    let idle = idle.into_iter().fold(0.0, f64::max);
    let peak = peak.into_iter().fold(0.0, f64::max);
    assert!(
        request >= idle,
        "request {request} MiB below idle {idle} MiB"
    );
    // Room for the measured peak and a helm rollback (the helm CLI runs in the container).
    assert!(limit >= 2.0 * peak, "limit {limit} MiB vs peak {peak} MiB");
    assert!(
        limit <= 1024.0,
        "limit {limit} MiB is far above the footprint"
    );
}

#[test]
fn production_runs_two_spread_replicas_on_postgres_with_a_disruption_budget() {
    let m = production();
    // The base comes along whole.
    assert_eq!(m.deployments.len(), 1);
    assert_eq!(rbac_problems(&granted(&m)), Vec::<String>::new());
    assert_eq!(m.patches.len(), 1);
    let patch = &m.patches[0];
    assert_eq!(patch["kind"], "Deployment");
    assert_eq!(patch["metadata"]["name"], "firewatch");
    let replicas = patch["spec"]["replicas"].as_i64().unwrap();
    assert_eq!(replicas, 2);
    assert_eq!(patch["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(
        patch["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        0
    );
    let anti = &patch["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"];
    let term = &anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"];
    assert_eq!(term["topologyKey"], "kubernetes.io/hostname");
    let pod_labels = m.deployments[0]
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    for (k, v) in term["labelSelector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(pod_labels.get(k).map(String::as_str), v.as_str());
    }
    let env = patch["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    assert!(
        env.iter()
            .any(|e| e["name"] == "FIREWATCH__STORE__URL" && e["$patch"] == "delete"),
        "the SQLite URL of the base is removed"
    );
    let url_file = env
        .iter()
        .find(|e| e["name"] == "FIREWATCH__STORE__URL_FILE")
        .expect("the store URL comes from the Secret")["value"]
        .as_str()
        .unwrap();
    let template: Secret = yaml(&deploy().join("base/secret.example.yaml"));
    let key = url_file.rsplit('/').next().unwrap();
    assert!(template.string_data.unwrap().contains_key(key));
    // The budget keeps one of the two up through a drain.
    assert_eq!(m.budgets.len(), 1);
    let budget = m.budgets[0].spec.as_ref().unwrap();
    assert_eq!(budget.min_available, Some(IntOrString::Int(1)));
    assert!(budget.max_unavailable.is_none());
    for (k, v) in budget
        .selector
        .as_ref()
        .unwrap()
        .match_labels
        .as_ref()
        .unwrap()
    {
        assert_eq!(pod_labels.get(k), Some(v));
    }
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
