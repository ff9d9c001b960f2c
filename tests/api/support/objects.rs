//! Kubernetes objects for the fake API server, in the JSON shapes the API server returns, and
//! the Freightliner service in a healthy or a broken state.

use std::io::Write;

use base64::Engine as _;
use serde_json::{Value, json};

use super::kube::FakeKube;

pub const NS: &str = "freightliner-production";

pub fn deployments() -> String {
    format!("/apis/apps/v1/namespaces/{NS}/deployments")
}
pub fn pods() -> String {
    format!("/api/v1/namespaces/{NS}/pods")
}
pub fn replicasets() -> String {
    format!("/apis/apps/v1/namespaces/{NS}/replicasets")
}
pub fn events() -> String {
    format!("/api/v1/namespaces/{NS}/events")
}
pub fn configmaps() -> String {
    format!("/api/v1/namespaces/{NS}/configmaps")
}
pub fn networkpolicies() -> String {
    format!("/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies")
}
pub fn pod_metrics() -> String {
    format!("/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods")
}
pub const NODES: &str = "/api/v1/nodes";
pub const NODE_METRICS: &str = "/apis/metrics.k8s.io/v1beta1/nodes";

pub fn node(name: &str, problem: Option<&str>) -> Value {
    let mut conditions = vec![json!({ "type": "Ready", "status": "True" })];
    for kind in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        let on = problem == Some(kind);
        conditions.push(json!({ "type": kind, "status": if on { "True" } else { "False" } }));
    }
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": { "name": name, "uid": format!("uid-{name}"), "resourceVersion": "3" },
        "status": { "conditions": conditions },
    })
}

pub fn secrets() -> String {
    format!("/api/v1/namespaces/{NS}/secrets")
}

fn meta(name: &str, labels: Value) -> Value {
    json!({
        "name": name, "namespace": NS, "uid": format!("uid-{name}"),
        "resourceVersion": "7", "generation": 4,
        "creationTimestamp": "2026-11-20T10:00:00Z", "labels": labels,
    })
}

pub fn deployment(name: &str, desired: i64, ready: i64) -> Value {
    let mut status = json!({
        "observedGeneration": 4, "replicas": desired, "updatedReplicas": desired,
        "availableReplicas": ready,
    });
    if ready > 0 {
        status["readyReplicas"] = json!(ready);
    }
    if desired > ready {
        status["unavailableReplicas"] = json!(desired - ready);
    }
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": meta(name, json!({ "app": name })),
        "spec": {
            "replicas": desired,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{
                    "name": name, "image": format!("registry/{name}:1.4.2"),
                    "env": [{ "name": "RATE_LIMIT_MODE", "value": "normal" }],
                }] },
            },
        },
        "status": status,
    })
}

/// A pod of `app`; `waiting` is a container waiting reason (`CrashLoopBackOff`), `oom` marks
/// the last termination as OOMKilled.
pub fn pod(app: &str, name: &str, restarts: i64, waiting: Option<&str>, oom: bool) -> Value {
    let state = match waiting {
        Some(reason) => json!({ "waiting": { "reason": reason } }),
        None => json!({ "running": { "startedAt": "2026-11-29T02:00:00Z" } }),
    };
    let last = if oom {
        json!({ "terminated": { "reason": "OOMKilled", "exitCode": 137 } })
    } else {
        json!({})
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": meta(name, json!({ "app": app })),
        "spec": { "containers": [{ "name": app, "image": format!("registry/{app}:1.4.2") }] },
        "status": {
            "phase": "Running",
            "containerStatuses": [{
                "name": app, "image": format!("registry/{app}:1.4.2"), "imageID": "",
                "ready": waiting.is_none(), "restartCount": restarts,
                "state": state, "lastState": last,
            }],
        },
    })
}

pub fn replicaset(app: &str, revision: i64, created: &str, image: &str) -> Value {
    let mut m = meta(&format!("{app}-rs{revision}"), json!({ "app": app }));
    m["creationTimestamp"] = json!(created);
    m["annotations"] = json!({ "deployment.kubernetes.io/revision": revision.to_string() });
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": m,
        "spec": {
            "replicas": 3, "selector": { "matchLabels": { "app": app } },
            "template": { "spec": { "containers": [{ "name": app, "image": image }] } },
        },
        "status": { "replicas": 3, "readyReplicas": 3 },
    })
}

pub fn warning(name: &str, object: &str, reason: &str, message: &str, at: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Event", "type": "Warning",
        "metadata": meta(name, json!({})),
        "involvedObject": { "kind": "Pod", "name": object, "namespace": NS },
        "reason": reason, "message": message, "count": 4, "lastTimestamp": at,
    })
}

/// A Helm 3 release Secret: data `release` = base64(gzip(JSON)) under the Secret's base64.
pub fn helm_release(
    release: &str,
    revision: u32,
    chart: &str,
    app: &str,
    status: &str,
    at: &str,
) -> Value {
    let body = json!({
        "name": release, "version": revision, "namespace": NS,
        "info": { "status": status, "first_deployed": "2026-11-01T00:00:00Z",
                  "last_deployed": at, "description": "Upgrade complete" },
        "chart": { "metadata": { "name": release, "version": chart, "appVersion": app } },
        "manifest": "---\n", "config": {},
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.to_string().as_bytes()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let helm_data = b64.encode(gz.finish().unwrap());
    let name = format!("sh.helm.release.v1.{release}.v{revision}");
    let mut m = meta(
        &name,
        json!({ "owner": "helm", "name": release, "status": status, "version": revision.to_string() }),
    );
    m["creationTimestamp"] = json!(at);
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1", "metadata": m,
        "data": { "release": b64.encode(helm_data) },
    })
}

/// Freightliner with 3/3 ready, clean logs, no recent deploys, history 40 → 41.
pub fn healthy(k: &FakeKube) {
    k.put(&deployments(), deployment("freightliner", 3, 3));
    for i in 0..3 {
        let name = format!("freightliner-{i}");
        k.put(&pods(), pod("freightliner", &name, 0, None, false));
        k.set_log(&name, "INFO started\nINFO GET /health 200\n");
    }
    k.put(
        &replicasets(),
        replicaset(
            "freightliner",
            7,
            "2026-11-20T10:00:00Z",
            "registry/freightliner:1.4.1",
        ),
    );
    k.put(
        &secrets(),
        helm_release(
            "freightliner",
            40,
            "1.4.0",
            "1.4.0",
            "superseded",
            "2026-11-10T10:00:00Z",
        ),
    );
    k.put(
        &secrets(),
        helm_release(
            "freightliner",
            41,
            "1.4.1",
            "1.4.1",
            "deployed",
            "2026-11-20T10:00:00Z",
        ),
    );
    k.put(
        &secrets(),
        helm_release("other", 1, "9.9.9", "9", "deployed", "2026-11-29T02:50:00Z"),
    );
    k.put(
        &networkpolicies(),
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": meta("default-deny", json!({})),
            "spec": { "podSelector": {}, "policyTypes": ["Ingress"] },
        }),
    );
    k.put(NODES, node("node-a", None));
    k.put(NODES, node("node-b", None));
    k.put(
        NODE_METRICS,
        json!({
            "apiVersion": "metrics.k8s.io/v1beta1", "kind": "NodeMetrics",
            "metadata": { "name": "node-a" }, "timestamp": "2026-11-29T02:59:30Z", "window": "30s",
            "usage": { "cpu": "1200m", "memory": "3Gi" },
        }),
    );
    for i in 0..3 {
        k.put(
            &pod_metrics(),
            json!({
                "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
                "metadata": meta(&format!("freightliner-{i}"), json!({ "app": "freightliner" })),
                "timestamp": "2026-11-29T02:59:30Z", "window": "30s",
                "containers": [{ "name": "freightliner", "usage": { "cpu": "250m", "memory": "300Mi" } }],
            }),
        );
    }
    k.put(
        &configmaps(),
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": meta("freightliner-flags", json!({})),
            "data": { "CIRCUIT_BREAKER": "off", "LOG_LEVEL": "info" },
        }),
    );
    k.put(
        &events(),
        json!({
            "apiVersion": "v1", "kind": "Event", "type": "Normal",
            "metadata": meta("normal-1", json!({})),
            "involvedObject": { "kind": "Pod", "name": "freightliner-0" },
            "reason": "Pulled", "message": "image pulled", "count": 1,
            "lastTimestamp": "2026-11-29T02:00:00Z",
        }),
    );
}

/// Freightliner 20 minutes after revision 42: 0/3 ready, crash-looping, panics in the logs.
pub fn broken(k: &FakeKube) {
    healthy(k);
    k.put(&deployments(), deployment("freightliner", 3, 0));
    k.put(
        &pods(),
        pod(
            "freightliner",
            "freightliner-0",
            5,
            Some("CrashLoopBackOff"),
            false,
        ),
    );
    k.put(
        &pods(),
        pod(
            "freightliner",
            "freightliner-1",
            4,
            Some("CrashLoopBackOff"),
            false,
        ),
    );
    k.put(
        &pods(),
        pod("freightliner", "freightliner-2", 2, None, true),
    );
    let panic = "INFO starting\npanic: assignment to entry in nil map\nERROR upstream timeout\nWARN GET /admin 403\npanic: assignment to entry in nil map\n";
    for i in 0..3 {
        k.set_log(&format!("freightliner-{i}"), panic);
    }
    k.put(
        &replicasets(),
        replicaset(
            "freightliner",
            8,
            "2026-11-29T02:40:00Z",
            "registry/freightliner:1.4.2",
        ),
    );
    k.put(
        &secrets(),
        helm_release(
            "freightliner",
            41,
            "1.4.1",
            "1.4.1",
            "superseded",
            "2026-11-20T10:00:00Z",
        ),
    );
    k.put(
        &secrets(),
        helm_release(
            "freightliner",
            42,
            "1.4.2",
            "1.4.2",
            "deployed",
            "2026-11-29T02:40:00Z",
        ),
    );
    k.put(
        &events(),
        warning(
            "w1",
            "freightliner-0",
            "BackOff",
            "Back-off restarting failed container",
            "2026-11-29T02:55:00Z",
        ),
    );
    k.put(
        &events(),
        warning(
            "w2",
            "freightliner-2",
            "OOMKilling",
            "Memory cgroup out of memory",
            "2026-11-29T02:50:00Z",
        ),
    );
    k.put(
        &events(),
        warning(
            "w3",
            "freightliner-1",
            "FailedMount",
            "secret \"db-creds\" not found",
            "2026-11-29T02:45:00Z",
        ),
    );
    k.put(NODES, node("node-b", Some("DiskPressure")));
}
