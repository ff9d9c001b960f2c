use std::collections::BTreeSet;

use firewatch::ops::{API_CALLS, ApiCall};

use super::broken_with_incident_on;
use crate::helpers::{ClusterApp, NO_APPROVALS};
use crate::support::kube::Seen;

/// A smoke job, so `/incident-verify` creates, reads and deletes a Job too.
const SMOKE_JOB: &str = r#"
[[jobs]]
name = "api-smoke"
kind = "smoke"
image = "registry.example.com/smoke:1.4"
"#;

/// The API call a request the fake saw is, in RBAC terms.
fn call_of(seen: &Seen) -> (String, String, String, String) {
    let parts: Vec<&str> = seen.path.trim_start_matches('/').split('/').collect();
    // /api/v1/namespaces/NS/RES[/NAME[/SUB]] or /apis/GROUP/VERSION/namespaces/NS/RES[/NAME[/SUB]]
    let (group, rest) = match parts.as_slice() {
        ["api", _v, rest @ ..] => ("", rest),
        ["apis", group, _v, rest @ ..] => (*group, rest),
        _ => panic!("unexpected path {}", seen.path),
    };
    let (resource, named) = match rest {
        ["namespaces", _ns, resource, named @ ..] => (*resource, named),
        [resource, named @ ..] => (*resource, named),
        [] => panic!("no resource: {}", seen.path),
    };
    let verb = match (seen.method.as_str(), named.len()) {
        ("GET", 0) => "list",
        ("GET", _) => "get",
        ("PATCH", _) => "patch",
        ("POST", 0) => "create",
        ("DELETE", _) => "delete",
        (m, _) => panic!("unexpected method {m}"),
    };
    let sub = named.get(1).copied().unwrap_or("");
    (verb.into(), group.into(), resource.into(), sub.into())
}

fn key(c: &ApiCall) -> (String, String, String, String) {
    (
        c.verb.into(),
        c.group.into(),
        c.resource.into(),
        c.subresource.into(),
    )
}

#[tokio::test]
async fn the_api_calls_table_is_exactly_what_every_cluster_command_calls() {
    let mut env = NO_APPROVALS.to_vec();
    env.push(("FIREWATCH__VERIFICATION__POLL_MS", "20"));
    let app = ClusterApp::spawn_with_toml(SMOKE_JOB, &env).await;
    let c = broken_with_incident_on(app).await;
    c.t.say("/incident-rollback").await;
    c.t.say("/incident-scale 5").await;
    c.t.say("/incident-action circuit-breaker-on").await;
    c.t.say("/incident-action rate-limit-strict").await;
    for area in ["app", "perf", "security", "infra"] {
        c.t.say(&format!("/incident-diagnose {area}")).await;
    }
    c.t.say("/incident-verify").await;
    // The smoke job is watched in the background until it is deleted (bounded wait).
    for _ in 0..500 {
        if !c.kube.jobs_deleted().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(c.kube.jobs_deleted().len(), 1);
    let seen: BTreeSet<_> = c
        .kube
        .seen()
        .iter()
        .filter(|s| !matches!(s.path.as_str(), "/health" | "/ready" | "/api/v1/query"))
        .map(call_of)
        .collect();
    let table: BTreeSet<_> = API_CALLS.iter().map(key).collect();
    assert_eq!(seen, table, "calls seen vs firewatch::ops::API_CALLS");
}
