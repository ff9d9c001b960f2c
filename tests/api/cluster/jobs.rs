//! Verification Jobs against the fake API server: smoke tests of `/incident-verify`, load tests
//! of `/performance-test [baseline]`, Jobs that cannot start or run out of time, cleanup, and
//! the approval policy for creating Jobs.

use std::time::Duration;

use firewatch::engine::Caller;
use firewatch::incident::{Platform, TimelineEvent};

use super::broken_with_incident_on;
use crate::helpers::{ClusterApp, Recorder, assert_has};
use crate::support::jobs::Script;
use crate::support::kube::Fault;
use crate::support::objects::NS;

/// A smoke job (log tail of 5 lines) and a load job reading the key=value line, polled fast.
const JOBS: &str = r#"
[[jobs]]
name = "api-smoke"
kind = "smoke"
image = "registry.example.com/smoke:1.4"
command = ["/bin/sh", "-c"]
args = ["./scripts/production-smoke-test.sh https://{deployment}.{namespace}.svc"]
env = { TARGET = "http://{deployment}.{namespace}.svc:8080" }
secret_env = { API_TOKEN = "smoke-credentials/token" }
timeout = "30s"
limits = { cpu = "500m", memory = "128Mi" }

[[jobs]]
name = "checkout-load"
kind = "load"
image = "grafana/k6:0.54.0"
args = ["run", "/scripts/checkout.js"]
timeout = "1m"
result = "line"
"#;

/// Jobs polled every 20 ms, showing 5 lines of log.
const FAST: [(&str, &str); 2] = [
    ("FIREWATCH__VERIFICATION__POLL_MS", "20"),
    ("FIREWATCH__VERIFICATION__LOG_TAIL_LINES", "5"),
];

async fn app(extra_toml: &str, env: &[(&str, &str)]) -> ClusterApp {
    with_toml(&format!("{JOBS}{extra_toml}"), env).await
}

async fn with_toml(toml: &str, env: &[(&str, &str)]) -> ClusterApp {
    let mut all = FAST.to_vec();
    all.extend_from_slice(env);
    broken_with_incident_on(ClusterApp::spawn_with_toml(toml, &all).await).await
}

/// Waits (at most 20 s: a bound against hanging, not a timing check) for a posted message
/// containing `needle`; its plain text.
async fn posted(posts: &Recorder, needle: &str) -> String {
    let mut seen = Vec::new();
    for _ in 0..1_000 {
        seen.extend(posts.take().iter().map(|m| m.plain_text()));
        if let Some(found) = seen.iter().find(|t| t.contains(needle)) {
            return found.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no message with {needle:?}; posted: {seen:#?}");
}

async fn finished(c: &ClusterApp) -> Vec<(String, String, bool, Vec<String>)> {
    c.t.timeline(1)
        .await
        .into_iter()
        .filter_map(|e| match e.event {
            TimelineEvent::JobFinished {
                name,
                verdict,
                passed,
                lines,
                ..
            } => Some((name, verdict, passed, lines)),
            _ => None,
        })
        .collect()
}

fn job_posts(c: &ClusterApp) -> Vec<(String, String)> {
    c.kube
        .seen()
        .into_iter()
        .filter(|s| s.method == "POST" && s.path.contains("/apis/batch/v1/"))
        .map(|s| (s.query, s.body))
        .collect()
}

#[tokio::test]
async fn a_passing_smoke_job_is_created_as_specified_reported_and_deleted() {
    let c = app("", &[]).await;
    c.kube.script_job(
        "api-smoke",
        Script::Succeed {
            log: "checking /health\nchecking /ready\nall 12 smoke checks passed\n".into(),
            polls: 3,
        },
    );
    let posts = c.t.record_posts();
    let out = c.t.say("/incident-verify --smoke-only").await;
    assert_has(
        &out,
        &[
            "🧪 Running smoke test api-smoke - #1",
            "Job firewatch-1-api-smoke-1 in freightliner-production",
            "timeout 30s",
        ],
    );
    assert!(
        !out.contains("VERIFIED"),
        "--smoke-only skips the HTTP checks: {out}"
    );
    let result = posted(&posts, "SMOKE TEST").await;
    assert_has(
        &result,
        &[
            "✅ SMOKE TEST PASSED - #1: api-smoke",
            "firewatch-1-api-smoke-1 exited 0",
            "all 12 smoke checks passed",
        ],
    );
    // Previewed with a server-side dry run, then created once.
    let posts_seen = job_posts(&c);
    assert_eq!(posts_seen.len(), 2, "{posts_seen:?}");
    assert!(posts_seen[0].0.contains("dryRun=All"));
    assert!(!posts_seen[1].0.contains("dryRun"));
    let created = c.kube.jobs_created();
    assert_eq!(created.len(), 1);
    let job = &created[0];
    assert_eq!(job["metadata"]["name"], "firewatch-1-api-smoke-1");
    assert_eq!(job["metadata"]["namespace"], NS);
    let labels = &job["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/managed-by"], "firewatch");
    assert_eq!(labels["firewatch.dev/incident"], "1");
    assert_eq!(labels["firewatch.dev/job"], "api-smoke");
    assert_eq!(labels["firewatch.dev/purpose"], "smoke");
    let spec = &job["spec"];
    assert_eq!(spec["backoffLimit"], 0);
    assert_eq!(spec["activeDeadlineSeconds"], 30);
    assert_eq!(spec["ttlSecondsAfterFinished"], 3600);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(
        spec["template"]["metadata"]["labels"]["firewatch.dev/incident"],
        "1"
    );
    let container = &pod["containers"][0];
    assert_eq!(container["image"], "registry.example.com/smoke:1.4");
    assert_eq!(
        container["args"][0],
        "./scripts/production-smoke-test.sh https://freightliner.freightliner-production.svc"
    );
    assert_eq!(container["resources"]["limits"]["cpu"], "500m");
    assert_eq!(container["resources"]["requests"]["memory"], "128Mi");
    let env: Vec<(String, String)> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let value = match e["value"].as_str() {
                Some(v) => v.to_owned(),
                None => e["valueFrom"].to_string(),
            };
            (e["name"].as_str().unwrap().into(), value)
        })
        .collect();
    assert!(env.contains(&(
        "TARGET".into(),
        "http://freightliner.freightliner-production.svc:8080".into()
    )));
    assert!(env.contains(&("FIREWATCH_INCIDENT".into(), "1".into())));
    // A secret's value never passes through firewatch: a secretKeyRef.
    assert!(env.contains(&(
        "API_TOKEN".into(),
        r#"{"secretKeyRef":{"key":"token","name":"smoke-credentials","optional":false}}"#.into()
    )));
    // Cleaned up: deleted with propagation Background, nothing left.
    let deleted = c.kube.jobs_deleted();
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0].0, "firewatch-1-api-smoke-1");
    assert!(deleted[0].1.contains("Background"), "{}", deleted[0].1);
    assert!(c.kube.jobs_present().is_empty());
    // Recorded: start and result.
    let kinds: Vec<String> =
        c.t.timeline(1)
            .await
            .iter()
            .map(|e| e.event.kind())
            .collect();
    assert!(kinds.contains(&"job_started".into()), "{kinds:?}");
    let done = finished(&c).await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].1, "passed");
    assert!(done[0].2);
}

#[tokio::test]
async fn a_failing_smoke_job_shows_the_tail_of_its_log() {
    let c = app("", &[]).await;
    let log: String = (1..=30)
        .map(|i| format!("step {i}: ok\n"))
        .collect::<String>()
        + "FAIL: POST /api/orders returned 500\n";
    c.kube.script_job(
        "api-smoke",
        Script::Fail {
            log,
            exit: 1,
            polls: 1,
        },
    );
    let posts = c.t.record_posts();
    c.t.say("/incident-verify --smoke-only").await;
    let result = posted(&posts, "SMOKE TEST").await;
    assert_has(
        &result,
        &[
            "❌ SMOKE TEST FAILED - #1: api-smoke",
            "failed: exit code 1 (Error)",
            "Log (last 5 lines of firewatch-1-api-smoke-1)",
            "step 27: ok",
            "FAIL: POST /api/orders returned 500",
        ],
    );
    assert!(!result.contains("step 26: ok"), "only the tail: {result}");
    let done = finished(&c).await;
    assert_eq!(done[0].1, "failed: exit code 1 (Error)");
    assert!(!done[0].2);
    assert!(done[0].3.iter().any(|l| l.contains("returned 500")));
    assert_eq!(c.kube.jobs_deleted().len(), 1);
}

#[tokio::test]
async fn a_smoke_job_that_never_finishes_times_out_and_is_deleted() {
    let toml = JOBS.replace("timeout = \"30s\"", "timeout = \"1s\"");
    let c = with_toml(&toml, &[]).await;
    c.kube.script_job(
        "api-smoke",
        Script::Hang {
            log: "waiting for /ready...\n".into(),
        },
    );
    let posts = c.t.record_posts();
    c.t.say("/incident-verify --smoke-only").await;
    let result = posted(&posts, "SMOKE TEST").await;
    assert_has(
        &result,
        &[
            "⏱️ SMOKE TEST TIMED OUT - #1: api-smoke",
            "did not finish within 1s",
            "waiting for /ready...",
        ],
    );
    assert_eq!(c.kube.jobs_deleted().len(), 1);
    assert!(c.kube.jobs_present().is_empty(), "cleaned up on timeout");
    assert_eq!(finished(&c).await[0].1, "timed out");
}

#[tokio::test]
async fn a_job_that_cannot_pull_its_image_is_reported_as_not_started() {
    let c = app("", &[]).await;
    c.kube.script_job("api-smoke", Script::ImagePull);
    let posts = c.t.record_posts();
    c.t.say("/incident-verify --smoke-only").await;
    let result = posted(&posts, "SMOKE TEST").await;
    assert_has(
        &result,
        &[
            "⚠️ SMOKE TEST COULD NOT START - #1: api-smoke",
            "could not start: ImagePullBackOff: Back-off pulling image",
            "This is not a test failure",
        ],
    );
    assert!(!result.contains("FAILED"), "{result}");
    let done = finished(&c).await;
    assert!(
        done[0].1.starts_with("could not start: ImagePullBackOff"),
        "{done:?}"
    );
    assert_eq!(c.kube.jobs_deleted().len(), 1);
}

#[tokio::test]
async fn a_job_refused_a_pod_by_a_quota_is_reported_as_not_started() {
    let c = app("", &[]).await;
    c.kube.script_job("api-smoke", Script::Quota);
    let posts = c.t.record_posts();
    c.t.say("/incident-verify --smoke-only").await;
    let result = posted(&posts, "SMOKE TEST").await;
    assert_has(
        &result,
        &[
            "COULD NOT START",
            "FailedCreate: Error creating: pods",
            "exceeded quota: compute",
        ],
    );
    assert_eq!(c.kube.jobs_deleted().len(), 1);
}

#[tokio::test]
async fn a_job_whose_pod_stays_unschedulable_is_reported_as_not_started() {
    let toml = JOBS.replace("timeout = \"30s\"", "timeout = \"2s\"");
    let c = with_toml(&toml, &[]).await;
    c.kube.script_job("api-smoke", Script::Unschedulable);
    let posts = c.t.record_posts();
    c.t.say("/incident-verify --smoke-only").await;
    let result = posted(&posts, "SMOKE TEST").await;
    assert_has(
        &result,
        &[
            "COULD NOT START",
            "Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.",
        ],
    );
    assert_eq!(c.kube.jobs_deleted().len(), 1);
}

#[tokio::test]
async fn a_job_the_api_server_refuses_is_not_started_and_nothing_is_created() {
    let c = app("", &[]).await;
    c.kube.script_job("api-smoke", Script::RefuseCreate(403));
    let out = c.t.say("/incident-verify --smoke-only").await;
    assert_has(
        &out,
        &[
            "⚠️ SMOKE TEST COULD NOT START - #1: api-smoke",
            "the cluster refused access",
            "exceeded quota",
        ],
    );
    assert!(c.kube.jobs_created().is_empty());
    assert_eq!(finished(&c).await.len(), 1);
}

#[tokio::test]
async fn verify_runs_the_http_checks_then_the_smoke_jobs_with_unique_names() {
    let c = app("", &[]).await;
    c.kube.script_job(
        "api-smoke",
        Script::Succeed {
            log: "ok\n".into(),
            polls: 0,
        },
    );
    let posts = c.t.record_posts();
    let out = c.t.say("/incident-verify").await;
    let checks = out.find("VERIFIED").expect("the HTTP checks' verdict");
    let smoke = out
        .find("Running smoke test api-smoke")
        .expect("the smoke job");
    assert!(checks < smoke, "checks first: {out}");
    posted(&posts, "SMOKE TEST PASSED").await;
    let out = c.t.say("/incident-verify --smoke-only").await;
    assert_has(&out, &["firewatch-1-api-smoke-2"]);
    posted(&posts, "SMOKE TEST PASSED").await;
    let names: Vec<String> = c
        .kube
        .jobs_created()
        .iter()
        .map(|j| j["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["firewatch-1-api-smoke-1", "firewatch-1-api-smoke-2"]
    );
}

#[tokio::test]
async fn smoke_only_without_smoke_jobs_is_refused_and_changes_nothing() {
    let c = broken_with_incident_on(ClusterApp::spawn(&[]).await).await;
    let before = c.t.timeline(1).await.len();
    let out = c.t.say("/incident-verify --smoke-only").await;
    assert_has(&out, &["No smoke-test job is configured for freightliner"]);
    assert_eq!(c.t.timeline(1).await.len(), before);
    let out = c.t.say("/performance-test").await;
    assert_has(&out, &["No load-test job is configured for freightliner"]);
    assert!(c.kube.jobs_created().is_empty());
}

fn load_line(p95: f64, errors: f64, rps: f64) -> Script {
    Script::Succeed {
        log: format!(
            "running (1m00.0s), 0/50 VUs\nsummary\np95_ms={p95} error_rate={errors} rps={rps}\n"
        ),
        polls: 1,
    }
}

#[tokio::test]
async fn a_baseline_is_stored_then_later_runs_are_compared_with_it() {
    let c = app("", &[]).await;
    let out = c.t.say("/performance-test").await;
    assert_has(
        &out,
        &[
            "There is no baseline for freightliner yet (load job checkout-load)",
            "/performance-test baseline",
        ],
    );
    assert!(c.kube.jobs_created().is_empty(), "nothing started");

    c.kube
        .script_job("checkout-load", load_line(200.0, 0.002, 500.0));
    let posts = c.t.record_posts();
    let out = c.t.say("/performance-test baseline").await;
    assert_has(
        &out,
        &["🧪 Running load test (baseline) checkout-load - #1"],
    );
    let result = posted(&posts, "LOAD TEST BASELINE").await;
    assert_has(
        &result,
        &[
            "✅ LOAD TEST BASELINE STORED - #1: checkout-load",
            "baseline stored: p95 200 ms, errors 0.20 %, 500.0 req/s",
        ],
    );
    let baseline =
        c.t.app
            .store
            .baseline("freightliner", "checkout-load")
            .await
            .unwrap()
            .expect("stored");
    assert_eq!(baseline.figures.p95_ms, 200.0);
    assert_eq!(baseline.job_name, "firewatch-1-checkout-load-1");

    // Better: faster, fewer errors.
    c.kube
        .script_job("checkout-load", load_line(180.0, 0.001, 520.0));
    c.t.say("/performance-test").await;
    let result = posted(&posts, "PERFORMANCE TEST").await;
    assert_has(
        &result,
        &[
            "✅ PERFORMANCE TEST WITHIN TOLERANCE - #1: checkout-load",
            "✅ p95 latency 180 ms vs baseline 200 ms (×0.90, at most ×1.20)",
            "✅ error rate 0.10 % vs baseline 0.20 %",
            "throughput 520.0 req/s vs baseline 500.0 req/s (×1.04)",
        ],
    );

    // Worse beyond tolerance: p95 ×1.5.
    c.kube
        .script_job("checkout-load", load_line(300.0, 0.002, 480.0));
    c.t.say("/performance-test").await;
    let result = posted(&posts, "PERFORMANCE TEST").await;
    assert_has(
        &result,
        &[
            "❌ PERFORMANCE TEST OUTSIDE TOLERANCE - #1: checkout-load",
            "❌ p95 latency 300 ms vs baseline 200 ms (×1.50, at most ×1.20)",
            "✅ error rate",
        ],
    );
    let done = finished(&c).await;
    let verdicts: Vec<bool> = done.iter().map(|d| d.2).collect();
    assert_eq!(verdicts, [true, true, false]);
    // The baseline stays the stored one.
    let still =
        c.t.app
            .store
            .baseline("freightliner", "checkout-load")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(still.figures.p95_ms, 200.0);
    assert_eq!(c.kube.jobs_deleted().len(), 3);
}

#[tokio::test]
async fn a_k6_summary_becomes_the_baseline() {
    let toml = JOBS.replace("result = \"line\"", "result = \"k6\"");
    let c = with_toml(&toml, &[]).await;
    let summary = r#"{
  "metrics": {
    "http_req_duration": {"avg": 90.0, "p(90)": 120.0, "p(95)": 150.5},
    "http_req_failed": {"passes": 3, "fails": 997, "value": 0.003},
    "http_reqs": {"count": 30000, "rate": 500.25}
  }
}
"#;
    c.kube.script_job(
        "checkout-load",
        Script::Succeed {
            log: format!("k6 v0.54.0\nrunning...\n{summary}"),
            polls: 0,
        },
    );
    let posts = c.t.record_posts();
    c.t.say("/performance-test baseline").await;
    let result = posted(&posts, "LOAD TEST BASELINE").await;
    assert_has(
        &result,
        &["baseline stored: p95 150 ms, errors 0.30 %, 500.2 req/s"],
    );
}

#[tokio::test]
async fn a_load_job_without_figures_stores_no_baseline() {
    let c = app("", &[]).await;
    c.kube.script_job(
        "checkout-load",
        Script::Succeed {
            log: "k6 printed nothing useful\n".into(),
            polls: 0,
        },
    );
    let posts = c.t.record_posts();
    c.t.say("/performance-test baseline").await;
    let result = posted(&posts, "LOAD TEST BASELINE").await;
    assert_has(
        &result,
        &[
            "❌ LOAD TEST BASELINE NOT STORED",
            "figures not found: no line",
        ],
    );
    let stored =
        c.t.app
            .store
            .baseline("freightliner", "checkout-load")
            .await;
    assert!(stored.unwrap().is_none());
}

#[tokio::test]
async fn creating_jobs_needs_approval_when_the_policy_says_so() {
    let c = app("", &[("FIREWATCH__APPROVALS__JOB__REQUIRED", "1")]).await;
    c.kube.script_job(
        "api-smoke",
        Script::Succeed {
            log: "ok\n".into(),
            polls: 0,
        },
    );
    let posts = c.t.record_posts();
    let out = c.t.say("/incident-verify --smoke-only").await;
    assert_has(
        &out,
        &[
            "🔐 Approval needed: R1 — run smoke test job api-smoke as firewatch-1-api-smoke-1",
            "Preview: server-side dry run (dryRun=All) of the Job accepted",
        ],
    );
    assert!(
        c.kube.jobs_created().is_empty(),
        "nothing runs before approval"
    );
    let out = c.t.console("alice", "ops", "/incident-approve R1").await;
    assert_has(&out, &["you asked for it"]);
    let out = c.t.console("bob", "ops", "/incident-approve R1").await;
    assert_has(&out, &["👍 R1 approved by bob", "R1 #1: done"]);
    let result = posted(&posts, "SMOKE TEST").await;
    assert_has(&result, &["✅ SMOKE TEST PASSED - #1: api-smoke"]);
    assert_eq!(c.kube.jobs_created().len(), 1);
    assert_eq!(c.kube.jobs_deleted().len(), 1);
    let kinds: Vec<String> =
        c.t.timeline(1)
            .await
            .iter()
            .map(|e| e.event.kind())
            .collect();
    for kind in [
        "approval_requested",
        "approval_executing",
        "job_started",
        "job_finished",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

#[tokio::test]
async fn the_report_lists_the_verification_results() {
    let c = app("", &[]).await;
    c.kube.script_job(
        "api-smoke",
        Script::Succeed {
            log: "ok\n".into(),
            polls: 0,
        },
    );
    let posts = c.t.record_posts();
    c.t.say("/incident-verify --smoke-only").await;
    posted(&posts, "SMOKE TEST PASSED").await;
    c.t.say("/incident-resolve bad deploy | rolled back").await;
    c.t.say("/incident-report").await;
    let path = c.t.dir.path().join("docs/incidents/incident-20261129.md");
    let report = std::fs::read_to_string(&path).expect("report written");
    let section = report
        .split("## Verification")
        .nth(1)
        .unwrap_or_else(|| panic!("no Verification section in {report}"));
    assert!(
        section.contains("Smoke job api-smoke (firewatch-1-api-smoke-1) passed"),
        "{section}"
    );
}

#[tokio::test]
async fn a_job_left_running_by_a_stopped_firewatch_is_watched_again_after_a_restart() {
    let c = app("", &[]).await;
    c.kube.script_job(
        "api-smoke",
        Script::Hang {
            log: "still checking\n".into(),
        },
    );
    c.t.say("/incident-verify --smoke-only").await;
    assert_eq!(c.kube.jobs_created().len(), 1);
    let ClusterApp { t, kube, helm } = c;
    let t = t.restart().await;
    let c = ClusterApp { t, kube, helm };
    c.kube.rescript_job(
        "firewatch-1-api-smoke-1",
        Script::Succeed {
            log: "all 12 smoke checks passed\n".into(),
            polls: 1,
        },
    );
    let posts = c.t.record_posts();
    c.t.tick().await;
    let result = posted(&posts, "SMOKE TEST").await;
    assert_has(
        &result,
        &[
            "✅ SMOKE TEST PASSED - #1: api-smoke",
            "all 12 smoke checks passed",
        ],
    );
    // The stopped process's watcher stopped with it: one result, one delete.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(finished(&c).await.len(), 1);
    assert_eq!(c.kube.jobs_deleted().len(), 1);
    // Resumed once: a second tick watches nothing again.
    c.t.tick().await;
    assert_eq!(c.kube.jobs_created().len(), 1);
}

#[tokio::test]
async fn a_job_whose_state_cannot_be_read_ends_unknown_and_says_the_ttl_cleans_up() {
    let toml = JOBS.replace("timeout = \"30s\"", "timeout = \"1s\"");
    let c = with_toml(&toml, &[]).await;
    c.kube.script_job(
        "api-smoke",
        Script::Hang {
            log: "checking\n".into(),
        },
    );
    let posts = c.t.record_posts();
    c.t.say("/incident-verify --smoke-only").await;
    // The API server stops answering about the Job once it is created.
    c.kube.fail(
        "/apis/batch/v1/namespaces/freightliner-production/jobs/",
        Fault::Status(503),
    );
    let result = posted(&posts, "SMOKE TEST").await;
    assert_has(
        &result,
        &[
            "❓ SMOKE TEST RESULT UNKNOWN - #1: api-smoke",
            "its state could not be read: the cluster failed",
            "The Job could not be deleted",
            "the cluster removes it 3600s after it finished",
        ],
    );
    assert!(
        !result.contains("PASSED") && !result.contains("FAILED"),
        "{result}"
    );
    assert!(
        finished(&c).await[0]
            .1
            .starts_with("unknown: its state could not be read")
    );
}

#[tokio::test]
async fn a_caller_who_may_not_start_jobs_still_gets_the_checks_and_the_refusal_is_audited() {
    let c = app(
        "",
        &[("FIREWATCH__APPROVALS__JOB__REQUESTER_IDS", "console:bob")],
    )
    .await;
    // As a chat delivery comes: with a request key, marked done with the checks' entries.
    let mut caller = Caller::new(Platform::Console, "mallory", "mallory", "ops");
    caller.request = Some("slack:command:verify.1".into());
    let replies = c.t.app.engine.handle(&caller, "/incident-verify").await;
    let said: Vec<String> = replies.iter().map(|r| r.message.plain_text()).collect();
    assert!(said.iter().any(|t| t.contains("VERIFIED")), "{said:?}");
    assert!(
        said.iter()
            .any(|t| t.contains("You may not ask for") && t.contains("console:bob")),
        "{said:?}"
    );
    let last = c.t.timeline(1).await.pop().unwrap();
    assert_eq!(last.event.kind(), "approval_refused");
    assert!(c.kube.jobs_created().is_empty());
}
