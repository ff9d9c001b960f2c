//! RBAC: the Role and ClusterRole against `ops::API_CALLS`.

use super::*;

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
];

/// Resources that are not namespaced: granted by the ClusterRole, never the Role.
const CLUSTER_SCOPED: &[&str] = &["nodes"];

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

pub(super) fn granted(m: &Manifests) -> BTreeSet<(String, String, String, bool)> {
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
pub(super) fn rbac_problems(granted: &BTreeSet<(String, String, String, bool)>) -> Vec<String> {
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
