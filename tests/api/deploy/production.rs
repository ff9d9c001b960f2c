//! The production overlay.

use super::rbac::{granted, rbac_problems};
use super::*;

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
    let pod_labels = pod_labels(&m.deployments[0]);
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
