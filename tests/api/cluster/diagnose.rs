use super::broken_with_incident;
use crate::helpers::{ClusterApp, TestApp, assert_has};
use crate::support::kube::{FakeKube, Fault};
use crate::support::objects;

fn metrics(k: &FakeKube, error_rate: &str) {
    k.set_metric("http_requests_total", error_rate);
    k.set_metric("http_request_duration", "0.35");
    k.set_metric("container_memory", "314572800");
    k.set_metric("go_goroutines", "1200");
}

async fn with_prometheus(broken: bool, error_rate: &str) -> ClusterApp {
    let c = ClusterApp::spawn_with_prometheus().await;
    if broken {
        objects::broken(&c.kube);
    } else {
        objects::healthy(&c.kube);
    }
    metrics(&c.kube, error_rate);
    let out =
        c.t.say("/incident-assess checkout errors for some users")
            .await;
    assert!(out.contains("INCIDENT DETECTED"), "{out}");
    c
}

#[tokio::test]
async fn diagnose_app_lists_pods_restarts_terminations_and_error_lines() {
    let c = broken_with_incident().await;
    let out = c.t.say("/incident-diagnose app").await;
    assert_has(
        &out,
        &[
            "🩺 DIAGNOSE app - #1",
            "Pods: 3",
            "freightliner-0 Running restarts 5, waiting: CrashLoopBackOff",
            "freightliner-2 Running restarts 2, last terminated: OOMKilled (exit 137)",
            "9 error lines in the logs of 3 pods",
            "6× panic: assignment to entry in nil map",
        ],
    );
    let last = c.t.timeline(1).await.pop().unwrap();
    assert_eq!(last.event.kind(), "diagnosed");
}

#[tokio::test]
async fn diagnose_perf_shows_pod_usage_and_the_prometheus_queries() {
    let c = with_prometheus(true, "0.002").await;
    let out = c.t.say("/incident-diagnose perf").await;
    assert_has(
        &out,
        &[
            "🩺 DIAGNOSE perf - #1",
            "Pod usage (metrics.k8s.io):",
            "freightliner-0/freightliner: cpu 250m, memory 300Mi",
            "Prometheus p99 latency: 350 ms",
            "Prometheus error rate: 0.20%",
            "Prometheus memory: 300 MiB",
            "Prometheus goroutines: 1200",
        ],
    );
    let query = c
        .kube
        .seen()
        .into_iter()
        .find(|s| s.path == "/api/v1/query")
        .expect("prometheus asked");
    assert!(query.query.starts_with("query="), "{query:?}");
    let profile = c
        .kube
        .seen()
        .into_iter()
        .find(|s| s.path.ends_with("/proxy/debug/pprof/profile"))
        .expect("profile taken");
    assert_eq!(
        profile.path,
        "/api/v1/namespaces/freightliner-production/pods/freightliner-2:6060/proxy/debug/pprof/profile"
    );
    assert_eq!(profile.query, "seconds=30");
    let file =
        c.t.dir
            .path()
            .join("profiles/incident-1-freightliner-2-20261129T030000Z.pprof");
    assert_has(
        &out,
        &[
            "CPU profile of freightliner-2 (30s, 22 bytes): ",
            &file.display().to_string(),
        ],
    );
    assert_eq!(
        std::fs::read(&file).expect("profile written"),
        b"\x1f\x8b\x08 fake pprof profile"
    );
}

#[tokio::test]
async fn diagnose_perf_without_prometheus_says_so() {
    let c = broken_with_incident().await;
    let out = c.t.say("/incident-diagnose perf").await;
    assert_has(
        &out,
        &["cpu 250m", "Prometheus: not configured (prometheus.url)"],
    );
}

#[tokio::test]
async fn diagnose_security_counts_auth_failures_and_lists_policies_and_suspicious_events() {
    let c = broken_with_incident().await;
    let out = c.t.say("/incident-diagnose security").await;
    assert_has(
        &out,
        &[
            "401/403 responses in the logs of 3 pods: 3",
            "3× WARN GET /admin 403",
            "NetworkPolicies: 1",
            "default-deny (pods: all pods; Ingress)",
            "Suspicious events: 1",
            "Warning Pod/freightliner-1 FailedMount: secret \"db-creds\" not found",
        ],
    );
}

#[tokio::test]
async fn diagnose_infra_shows_node_pressure_usage_and_events_newest_first() {
    let c = broken_with_incident().await;
    let out = c.t.say("/incident-diagnose infra").await;
    assert_has(
        &out,
        &[
            "Nodes: 2",
            "node-a Ready, using cpu 1200m, memory 3Gi",
            "node-b Ready, DiskPressure",
            "Events in freightliner-production (newest first): 4",
        ],
    );
    let backoff = out
        .find("02:55:00 Warning Pod/freightliner-0 BackOff")
        .expect("BackOff");
    let oom = out
        .find("02:50:00 Warning Pod/freightliner-2 OOMKilling")
        .expect("OOM");
    let pulled = out
        .find("02:00:00 Normal Pod/freightliner-0 Pulled")
        .expect("Pulled");
    assert!(backoff < oom && oom < pulled, "{out}");
}

#[tokio::test]
async fn a_diagnosis_with_a_refused_part_names_it_and_shows_the_rest() {
    let c = broken_with_incident().await;
    c.kube.fail("/api/v1/nodes", Fault::Status(403));
    let out = c.t.say("/incident-diagnose infra").await;
    assert_has(
        &out,
        &[
            "Nodes: the cluster refused access: nodes: injected 403",
            "Events in freightliner-production (newest first): 4",
        ],
    );
    let recorded = c.t.timeline(1).await.pop().unwrap().event.describe();
    assert!(
        recorded.starts_with("diagnosed infra: ") && recorded.ends_with("; 1 check could not run"),
        "{recorded}"
    );
}

#[tokio::test]
async fn diagnose_without_a_cluster_says_it_is_unavailable() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess checkout errors").await;
    let out = t.say("/incident-diagnose app").await;
    assert_has(&out, &["Pods: cluster unavailable: no cluster configured"]);
    let recorded = t.timeline(1).await.pop().unwrap().event.describe();
    assert_eq!(
        recorded,
        "diagnosis of app failed: Pods: cluster unavailable: no cluster configured (set \
         kubernetes.kubeconfig or KUBECONFIG, or run in a cluster); Log errors: cluster \
         unavailable: no cluster configured (set kubernetes.kubeconfig or KUBECONFIG, or run in \
         a cluster)",
        "a diagnosis whose every check failed is recorded as failed, not as findings"
    );
}

#[tokio::test]
async fn verify_without_a_cluster_still_probes_the_health_urls() {
    let missing = format!("{}/no-such-kubeconfig", env!("CARGO_TARGET_TMPDIR"));
    let c = ClusterApp::spawn(&[("FIREWATCH__KUBERNETES__KUBECONFIG", &missing)]).await;
    c.t.say("/incident-assess checkout errors").await;
    let out = c.t.say("/incident-verify").await;
    assert_has(
        &out,
        &[
            "❌ NOT VERIFIED - #1: 1 of 3 checks failed",
            "/health → 200 in ",
            "❌ rollout of freightliner: cluster unavailable: failed to read kubeconfig",
        ],
    );
}

#[tokio::test]
async fn verify_passes_every_check_on_a_healthy_service() {
    let c = with_prometheus(false, "0.002").await;
    let out = c.t.say("/incident-verify").await;
    let url = &c.kube.url;
    assert_has(
        &out,
        &[
            "✅ VERIFIED - #1: all 4 checks passed",
            &format!("✅ GET {url}/health → 200 in "),
            &format!("✅ GET {url}/ready → 200 in "),
            "✅ rollout of freightliner complete: generation 4 observed 4, 3/3 updated, 3 available, 3 total",
            "✅ error rate 0.20% (at most 1.00%)",
        ],
    );
    let last = c.t.timeline(1).await.pop().unwrap();
    assert!(
        last.event
            .describe()
            .starts_with("verified: all checks passed")
    );
}

#[tokio::test]
async fn verify_fails_each_check_that_is_not_back_to_normal() {
    let c = with_prometheus(true, "0.05").await;
    c.kube.fail("/ready", Fault::Status(503));
    let out = c.t.say("/incident-verify").await;
    assert_has(
        &out,
        &[
            "❌ NOT VERIFIED - #1: 3 of 4 checks failed",
            "/health → 200 in ",
            "/ready → 503 in ",
            "❌ rollout of freightliner not complete: generation 4 observed 4, 3/3 updated, 0 available, 3 total",
            "❌ error rate 5.00% (at most 1.00%)",
        ],
    );
}

#[tokio::test]
async fn verify_smoke_only_is_refused_without_smoke_jobs() {
    let c = broken_with_incident().await;
    let before = c.t.version(1).await;
    let out = c.t.say("/incident-verify --smoke-only").await;
    assert_has(
        &out,
        &["⚠️ No smoke-test job is configured for freightliner"],
    );
    assert_eq!(c.t.version(1).await, before);
}
