use super::broken_with_incident;
use crate::helpers::assert_has;
use crate::support::objects;

#[tokio::test]
async fn an_action_on_a_configmap_previews_with_a_dry_run_then_patches_and_restarts() {
    let c = broken_with_incident().await;
    let out =
        c.t.console("bob", "ops", "/incident-action circuit-breaker-on")
            .await;
    assert_has(
        &out,
        &[
            "🔧 /incident-action #1: done",
            "action circuit-breaker-on (configmap/freightliner-flags CIRCUIT_BREAKER = on, then restart) by bob",
            "Preview: server-side dry run (dryRun=All) accepted",
            "From: CIRCUIT_BREAKER=off",
            "To: CIRCUIT_BREAKER=on, rollout of freightliner restarted",
        ],
    );
    let patches: Vec<_> = c
        .kube
        .seen()
        .into_iter()
        .filter(|s| s.method == "PATCH")
        .collect();
    let shape: Vec<(bool, &str)> = patches
        .iter()
        .map(|p| {
            (
                p.query.contains("dryRun=All"),
                p.path.rsplit('/').next().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (true, "freightliner-flags"),
            (true, "freightliner"),
            (false, "freightliner-flags"),
            (false, "freightliner")
        ]
    );
    assert_eq!(patches[2].body, r#"{"data":{"CIRCUIT_BREAKER":"on"}}"#);
    assert!(
        patches[3]
            .body
            .contains("kubectl.kubernetes.io/restartedAt"),
        "{}",
        patches[3].body
    );
    let flags = c
        .kube
        .get(&objects::configmaps(), "freightliner-flags")
        .unwrap();
    assert_eq!(flags["data"]["CIRCUIT_BREAKER"], "on");
    assert_eq!(flags["data"]["LOG_LEVEL"], "info");
    let deployment = c.kube.get(&objects::deployments(), "freightliner").unwrap();
    assert!(deployment["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string());
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
async fn an_action_on_an_env_var_sends_a_strategic_merge_patch_of_the_container() {
    let c = broken_with_incident().await;
    let out = c.t.say("/incident-action rate-limit-strict").await;
    assert_has(
        &out,
        &["From: RATE_LIMIT_MODE=normal", "To: RATE_LIMIT_MODE=strict"],
    );
    let real = c
        .kube
        .seen()
        .into_iter()
        .rfind(|s| s.method == "PATCH")
        .unwrap();
    assert!(!real.query.contains("dryRun"));
    assert_eq!(
        real.body,
        r#"{"spec":{"template":{"spec":{"containers":[{"env":[{"name":"RATE_LIMIT_MODE","value":"strict"}],"name":"freightliner"}]}}}}"#
    );
    let deployment = c.kube.get(&objects::deployments(), "freightliner").unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["env"][0]["value"], "strict");
    assert_eq!(container["image"], "registry/freightliner:1.4.2");
}

#[tokio::test]
async fn an_unknown_action_is_refused_with_the_configured_ones() {
    let c = broken_with_incident().await;
    let before = c.t.version(1).await;
    let out = c.t.say("/incident-action reboot-everything").await;
    assert_has(
        &out,
        &[
            "⚠️ There is no runbook action 'reboot-everything'",
            "circuit-breaker-on — open the circuit breaker to the payment provider",
            "rate-limit-strict",
        ],
    );
    assert!(c.kube.seen().iter().all(|s| s.method != "PATCH"));
    assert_eq!(c.t.version(1).await, before);
}
