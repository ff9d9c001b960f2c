use crate::helpers::{ClusterApp, assert_has};
use crate::support::kube::Fault;
use crate::support::objects;

use super::broken_with_incident;

#[tokio::test]
async fn every_injected_fault_on_a_mutation_gives_a_clear_message_and_changes_nothing() {
    let c = broken_with_incident().await;
    let timeline = c.t.timeline(1).await.len();
    let version = c.t.version(1).await;
    for (code, said) in [
        (
            403,
            "the cluster refused access: scale of deployment freightliner-production/freightliner: injected 403",
        ),
        (
            404,
            "not found in the cluster: scale of deployment freightliner-production/freightliner",
        ),
        (
            500,
            "the cluster failed: scale of deployment freightliner-production/freightliner: HTTP 500 injected 500",
        ),
    ] {
        c.kube.fail("/scale", Fault::Status(code));
        let out = c.t.say("/incident-scale 4").await;
        assert_has(
            &out,
            &[
                "⚠️ Cannot scale freightliner to 4 replicas",
                said,
                "Nothing was changed",
            ],
        );
        c.kube.heal();
    }
    for (code, said) in [
        (403, "the cluster refused access: helm release secrets"),
        (500, "the cluster failed: helm release secrets"),
    ] {
        c.kube.fail("/secrets", Fault::Status(code));
        let out = c.t.say("/incident-rollback").await;
        assert_has(
            &out,
            &[
                "⚠️ Cannot rollback freightliner",
                said,
                "Nothing was changed",
            ],
        );
        c.kube.heal();
    }
    assert!(c.helm.argv().is_none());
    assert_eq!(c.t.timeline(1).await.len(), timeline);
    assert_eq!(c.t.version(1).await, version);
    let deployment = c.kube.get(&objects::deployments(), "freightliner").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 3);
}

#[tokio::test]
async fn a_failing_part_of_the_evidence_is_named_and_the_rest_still_arrives() {
    let c = ClusterApp::spawn(&[]).await;
    objects::broken(&c.kube);
    c.kube.fail("/events", Fault::Status(403));
    c.kube.fail("/secrets", Fault::Status(500));
    let out =
        c.t.say("/incident-assess checkout errors for some users")
            .await;
    assert_has(
        &out,
        &[
            "INCIDENT DETECTED - P0",
            "Readiness: freightliner ready 0/3",
            "Warning events: the cluster refused access: events freightliner-production: injected 403",
            "Deploys (24h): the cluster failed: helm release secrets freightliner-production/freightliner: HTTP 500",
            "Log errors: 9 error lines",
        ],
    );
}

#[tokio::test]
async fn an_unreachable_cluster_is_unavailable_and_the_incident_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: gone\n  context:\n    cluster: gone\n    user: u\ncurrent-context: gone\nusers:\n- name: u\n  user: {{}}\n"),
    )
    .unwrap();
    let env = kubeconfig.display().to_string();
    let c = ClusterApp::spawn(&[("FIREWATCH__KUBERNETES__KUBECONFIG", &env)]).await;
    let out =
        c.t.say("/incident-assess checkout errors for some users")
            .await;
    assert_has(
        &out,
        &[
            "INCIDENT DETECTED - P2",
            "cluster unavailable: deployment freightliner-production/freightliner",
        ],
    );
    let out = c.t.say("/incident-scale 4").await;
    assert_has(
        &out,
        &[
            "⚠️ Cannot scale freightliner to 4 replicas",
            "cluster unavailable:",
        ],
    );
}

#[tokio::test]
async fn a_slow_cluster_times_out_with_a_clear_message_and_nothing_changes() {
    let c = ClusterApp::spawn(&[("FIREWATCH__KUBERNETES__TIMEOUT", "1s")]).await;
    objects::broken(&c.kube);
    c.t.say("/incident-assess checkout errors for some users")
        .await;
    let version = c.t.version(1).await;
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    c.kube.fail("/scale", Fault::Hang(gate.clone()));
    let out = c.t.say("/incident-scale 4").await;
    assert_has(
        &out,
        &[
            "⚠️ Cannot scale freightliner to 4 replicas",
            "cluster unavailable: no answer to scale of deployment freightliner-production/freightliner within 1s",
            "Nothing was changed",
        ],
    );
    assert_eq!(c.t.version(1).await, version);
    gate.add_permits(10);
}

#[tokio::test]
async fn a_refused_runbook_action_changes_nothing() {
    let c = broken_with_incident().await;
    let version = c.t.version(1).await;
    c.kube.fail("/configmaps", Fault::Status(403));
    let out = c.t.say("/incident-action circuit-breaker-on").await;
    assert_has(
        &out,
        &[
            "⚠️ Cannot action circuit-breaker-on",
            "the cluster refused access: configmap freightliner-production/freightliner-flags: injected 403",
            "Nothing was changed",
        ],
    );
    assert_eq!(c.t.version(1).await, version);
    let flags = c
        .kube
        .get(&objects::configmaps(), "freightliner-flags")
        .unwrap();
    assert_eq!(flags["data"]["CIRCUIT_BREAKER"], "off");
}

#[tokio::test]
async fn a_cluster_answering_503_is_retried_three_times_then_named_and_the_incident_opens() {
    let c = ClusterApp::spawn(&[]).await;
    objects::broken(&c.kube);
    c.kube.fail("/deployments/freightliner", Fault::Status(503));
    let out =
        c.t.say("/incident-assess checkout errors for some users")
            .await;
    assert_has(&out, &["INCIDENT DETECTED", "Readiness: ", "503"]);
    let tries = c
        .kube
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("/deployments/freightliner"))
        .count();
    // Readiness, deploys and logs each read the Deployment; each read is tried three times.
    assert_eq!(tries, 9, "a read is tried at most three times");
    assert!(!c.t.timeline(1).await.is_empty());
}
