use firewatch::incident::TimelineEvent;

use super::broken_with_incident;
use crate::helpers::assert_has;
use crate::support::objects;

#[tokio::test]
async fn rollback_shows_from_and_to_then_runs_helm_with_the_exact_argv() {
    let c = broken_with_incident().await;
    let out = c.t.console("bob", "ops", "/incident-rollback").await;
    assert_has(
        &out,
        &[
            "🔧 /incident-rollback #1: done",
            "rollback freightliner to the previous revision by bob",
            "From: revision 42 (freightliner-1.4.2, app 1.4.2, deployed 2026-11-29 02:40 UTC, deployed)",
            "To: revision 41 (freightliner-1.4.1, app 1.4.1, deployed 2026-11-20 10:00 UTC, superseded)",
        ],
    );
    // helm acts on the cluster firewatch read the history from (its kubeconfig), and `--`
    // keeps the release name from ever being read as a flag.
    let kubeconfig = c.t.app.settings.kubernetes.kubeconfig.clone().unwrap();
    assert_eq!(
        c.helm.argv().expect("helm ran"),
        [
            "rollback",
            "-n",
            "freightliner-production",
            "--wait",
            "--timeout",
            "300s",
            "--kubeconfig",
            &kubeconfig.display().to_string(),
            "--",
            "freightliner",
            "41",
        ]
    );
    let timeline = c.t.timeline(1).await;
    let kinds: Vec<String> = timeline.iter().map(|e| e.event.kind()).collect();
    assert_eq!(
        kinds,
        [
            "detected",
            "evidence",
            "acknowledged",
            "role_assigned",
            "mutation_previewed",
            "approval_not_required",
            "mutation_applied"
        ]
    );
    let applied = timeline.last().unwrap();
    assert_eq!(applied.actor.name, "bob");
    let TimelineEvent::MutationApplied { before, after, .. } = &applied.event else {
        panic!("applied last");
    };
    assert!(before.starts_with("revision 42"), "{before}");
    assert!(after.starts_with("rolled back to revision 41"), "{after}");
}

#[tokio::test]
async fn rollback_to_a_named_revision_passes_it_to_helm() {
    let c = broken_with_incident().await;
    c.kube.put(
        &objects::secrets(),
        objects::helm_release(
            "freightliner",
            40,
            "1.4.0",
            "1.4.0",
            "superseded",
            "2026-11-10T10:00:00Z",
        ),
    );
    let out = c.t.say("/incident-rollback 40").await;
    assert_has(&out, &["To: revision 40 (freightliner-1.4.0"]);
    let argv = c.helm.argv().expect("helm ran");
    assert_eq!(argv[argv.len() - 2..], ["freightliner", "40"]);
}

#[tokio::test]
async fn a_failing_helm_rollback_reports_the_exit_code_and_stderr_on_the_timeline() {
    let c = broken_with_incident().await;
    c.helm
        .exit_with(1, "Error: timed out waiting for the condition");
    let out = c.t.say("/incident-rollback").await;
    assert_has(
        &out,
        &[
            "❌ /incident-rollback #1: failed",
            "Error: helm failed: exit code 1: Error: timed out waiting for the condition",
        ],
    );
    let last = c.t.timeline(1).await.pop().unwrap();
    assert_eq!(last.event.kind(), "mutation_failed");
    assert!(last.event.describe().contains("exit code 1"));
}

#[tokio::test]
async fn rollback_to_an_unknown_or_current_revision_is_refused_and_changes_nothing() {
    let c = broken_with_incident().await;
    let before = c.t.version(1).await;
    for (command, said) in [
        (
            "/incident-rollback 7",
            "the release has no revision 7 (known: 40, 41, 42)",
        ),
        ("/incident-rollback 42", "revision 42 is the current one"),
    ] {
        let out = c.t.say(command).await;
        assert_has(
            &out,
            &[
                "⚠️ Cannot rollback freightliner to revision",
                said,
                "Nothing was changed",
            ],
        );
    }
    assert!(c.helm.argv().is_none(), "helm never ran");
    assert_eq!(c.t.version(1).await, before);
}

#[tokio::test]
async fn scale_runs_a_server_dry_run_then_the_real_merge_patch() {
    let c = broken_with_incident().await;
    let out = c.t.say("/incident-scale 6").await;
    assert_has(
        &out,
        &[
            "🔧 /incident-scale #1: done",
            "Preview: server-side dry run (dryRun=All) accepted",
            "From: freightliner: 3 replicas",
            "To: freightliner: 6 replicas",
        ],
    );
    let patches: Vec<_> = c
        .kube
        .seen()
        .into_iter()
        .filter(|s| s.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 2, "{patches:?}");
    for p in &patches {
        assert_eq!(
            p.path,
            "/apis/apps/v1/namespaces/freightliner-production/deployments/freightliner/scale"
        );
        assert_eq!(p.body, r#"{"spec":{"replicas":6}}"#);
    }
    assert!(patches[0].query.contains("dryRun=All"), "{:?}", patches[0]);
    assert!(!patches[1].query.contains("dryRun"), "{:?}", patches[1]);
    let deployment = c.kube.get(&objects::deployments(), "freightliner").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 6);
    let kinds: Vec<String> =
        c.t.timeline(1)
            .await
            .iter()
            .map(|e| e.event.kind())
            .collect();
    assert_eq!(
        kinds[4..],
        [
            "mutation_previewed",
            "approval_not_required",
            "mutation_applied"
        ]
    );
}

#[tokio::test]
async fn scale_above_the_maximum_is_refused_before_the_cluster_is_asked() {
    let c = broken_with_incident().await;
    let before = c.t.version(1).await;
    let out = c.t.say("/incident-scale 50").await;
    assert_has(
        &out,
        &[
            "⚠️ 50 replicas is more than allowed",
            "scale.max_replicas is 20",
        ],
    );
    assert!(c.kube.seen().iter().all(|s| !s.path.ends_with("/scale")));
    assert_eq!(c.t.version(1).await, before);
}

#[tokio::test]
async fn scale_to_zero_at_p0_waits_for_an_approval_where_other_scales_run_at_once() {
    let c = broken_with_incident().await;
    let out = c.t.say("/incident-severity P0").await;
    assert!(!out.is_empty());
    let out = c.t.say("/incident-scale 0").await;
    assert_has(
        &out,
        &[
            "🔐 Approval needed: R1 — scale freightliner to 0 replicas",
            "To: freightliner: 0 replicas",
        ],
    );
    let real_patches = c
        .kube
        .seen()
        .into_iter()
        .filter(|s| s.method == "PATCH" && !s.query.contains("dryRun"))
        .count();
    assert_eq!(real_patches, 0, "nothing is scaled before the approval");
    let deployment = c.kube.get(&objects::deployments(), "freightliner").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 3);
    let out = c.t.console("carol", "ops", "/incident-approve R1").await;
    assert_has(&out, &["freightliner: 0 replicas"]);
    let deployment = c.kube.get(&objects::deployments(), "freightliner").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 0);
}

#[tokio::test]
async fn a_resolved_incident_refuses_mitigations() {
    let c = broken_with_incident().await;
    c.t.say("/incident-resolve bad deploy | rolled back").await;
    let out = c.t.say("/incident-scale 4").await;
    assert_has(
        &out,
        &["⚠️ /incident-scale is not possible now", "#1 is Resolved"],
    );
    assert!(c.kube.seen().iter().all(|s| !s.path.ends_with("/scale")));
}
