use std::sync::Arc;

use async_trait::async_trait;
use firewatch::catalog::Catalog;
use firewatch::engine::Outbox;
use firewatch::engine::{Caller, Engine, Limits, Parts};
use firewatch::incident::severity::Policy;
use firewatch::incident::{Actor, ChannelRef, Platform, TimelineEvent};
use firewatch::message::Message;
use firewatch::notify::Templates;
use tokio::sync::{Semaphore, mpsc};

use crate::helpers::{ClusterApp, TestApp, assert_has, repo};
use crate::support::kube::Fault;
use crate::support::objects;

#[tokio::test]
async fn assess_without_a_cluster_opens_the_incident_and_says_the_cluster_is_unavailable() {
    let t = TestApp::spawn().await;
    let out = t
        .say("/incident-assess checkout errors for some users")
        .await;
    assert_has(
        &out,
        &[
            "INCIDENT DETECTED - P2",
            "🔎 Evidence",
            "cluster unavailable: no cluster configured",
        ],
    );
    let kinds: Vec<String> = t.timeline(1).await.iter().map(|e| e.event.kind()).collect();
    assert_eq!(kinds, ["detected"]);
}

#[tokio::test]
async fn assess_on_a_healthy_deployment_keeps_the_severity_and_records_the_evidence() {
    let c = ClusterApp::spawn(&[]).await;
    objects::healthy(&c.kube);
    let out =
        c.t.say("/incident-assess checkout errors for some users")
            .await;
    assert_has(
        &out,
        &[
            "INCIDENT DETECTED - P2",
            "Readiness: freightliner ready 3/3, 0 unavailable, 0 restarts",
            "Deploys (24h): none",
            "Log errors: 0 error lines in the logs of 3 pods",
            "Warning events: none",
        ],
    );
    assert!(!out.contains("Suggest rollback"), "{out}");
    let timeline = c.t.timeline(1).await;
    let TimelineEvent::Evidence { findings, late } = &timeline[1].event else {
        panic!("evidence second: {timeline:?}");
    };
    assert!(!late);
    assert!(
        findings.contains(&"Deploys (24h): none".to_owned()),
        "{findings:?}"
    );
}

#[tokio::test]
async fn assess_on_a_broken_deployment_raises_to_p0_and_suggests_a_rollback() {
    let c = ClusterApp::spawn(&[]).await;
    objects::broken(&c.kube);
    let out =
        c.t.say("/incident-assess checkout errors for some users")
            .await;
    assert_has(
        &out,
        &[
            "INCIDENT DETECTED - P0",
            "raised from P2 by the cluster: 0/3 replicas of freightliner ready; matched 'errors'",
            "Readiness: freightliner ready 0/3, 3 unavailable, 11 restarts; freightliner-0: CrashLoopBackOff, freightliner-1: CrashLoopBackOff, freightliner-2: OOMKilled",
            "Deploys (24h): 2",
            "helm revision 42 at 2026-11-29 02:40 UTC · freightliner-1.4.2 (app 1.4.2) · deployed",
            "replicaset revision 8 at 2026-11-29 02:40 UTC · registry/freightliner:1.4.2 · ready 3/3",
            "Log errors: 9 error lines in the logs of 3 pods",
            "6× panic: assignment to entry in nil map",
            "3× ERROR upstream timeout",
            "Warning events: 3",
            "freightliner-0 BackOff ×4: Back-off restarting failed container",
            "🔴 Live signal: 0/3 replicas of freightliner ready",
            "↩️ Suggest rollback: a deploy 20 min ago",
            "▸ Roll back: /incident-rollback #1",
            "security-auditor",
        ],
    );
    let incident = c.t.timeline(1).await;
    assert!(matches!(
        &incident[0].event,
        TimelineEvent::Detected { severity, .. } if severity.to_string() == "P0"
    ));
    assert_eq!(incident[1].event.kind(), "evidence");
}

struct Recording(mpsc::UnboundedSender<(ChannelRef, Message)>);

#[async_trait]
impl Outbox for Recording {
    async fn post(
        &self,
        channel: &ChannelRef,
        message: &Message,
    ) -> firewatch::engine::outbox::Result<()> {
        let _ = self.0.send((channel.clone(), message.clone()));
        Ok(())
    }
}

/// An engine on `c`'s store and cluster whose outbox sends what it posts to the receiver.
async fn engine_with_outbox(
    c: &ClusterApp,
) -> (Engine, mpsc::UnboundedReceiver<(ChannelRef, Message)>) {
    let settings = &c.t.app.settings;
    let (tx, rx) = mpsc::unbounded_channel();
    let policy = Policy::from_settings(settings).unwrap();
    let engine = Engine::new(Parts {
        store: Arc::clone(&c.t.app.store),
        policy: Arc::new(policy),
        catalog: Arc::new(Catalog::new(settings)),
        templates: Arc::new(Templates::from_dir(&repo().join("messages")).unwrap()),
        clock: c.t.clock.clone(),
        outbox: Arc::new(Recording(tx)),
        reports: settings.reports.dir.clone(),
        cluster: Arc::new(firewatch::ops::connect(settings).await.unwrap()),
        limits: Limits::new(settings),
        runbook: Arc::new(firewatch::ops::Runbook::new(&settings.actions)),
        prober: Arc::new(firewatch::ops::probe::Prober::new(
            std::time::Duration::from_secs(5),
            &settings.prometheus,
        )),
        approvals: Default::default(),
        verification: Default::default(),
        metrics: Default::default(),
        alerts: Default::default(),
    });
    (engine, rx)
}

fn alice() -> Caller {
    Caller {
        actor: Actor {
            platform: Platform::Console,
            id: "alice".into(),
            name: "alice".into(),
        },
        channel: ChannelRef {
            platform: Platform::Console,
            id: "ops".into(),
        },
        request: None,
        roles: Vec::new(),
    }
}

async fn next_post(
    rx: &mut mpsc::UnboundedReceiver<(ChannelRef, Message)>,
) -> (ChannelRef, Message) {
    tokio::time::timeout(std::time::Duration::from_secs(60), rx.recv())
        .await
        .expect("late evidence is posted")
        .expect("outbox open")
}

#[tokio::test]
async fn evidence_that_misses_the_alert_follows_as_an_update_and_lands_on_the_timeline() {
    let c = ClusterApp::spawn(&[("FIREWATCH__ASSESS__EVIDENCE_TIMEOUT", "1s")]).await;
    objects::broken(&c.kube);
    let gate = Arc::new(Semaphore::new(0));
    c.kube.fail("/log", Fault::Hang(Arc::clone(&gate)));
    let (engine, mut rx) = engine_with_outbox(&c).await;
    let replies = engine
        .handle(&alice(), "/incident-assess checkout errors for some users")
        .await;
    let alert = replies[0].message.plain_text();
    assert_has(
        &alert,
        &[
            "INCIDENT DETECTED - P0",
            "Readiness: freightliner ready 0/3",
            "⏳ 1 more part(s) still being gathered",
        ],
    );
    assert!(!alert.contains("Log errors"), "{alert}");
    gate.add_permits(100);
    let (channel, late) = next_post(&mut rx).await;
    assert_eq!(channel.id, "ops");
    let text = late.plain_text();
    assert_has(
        &text,
        &[
            "🔎 MORE EVIDENCE - #1",
            "Log errors: 9 error lines in the logs of 3 pods",
            "↩️ Suggest rollback: a deploy 20 min ago",
        ],
    );
    let timeline = c.t.timeline(1).await;
    let last = timeline.last().unwrap();
    assert!(
        matches!(&last.event, TimelineEvent::Evidence { late: true, findings } if findings.iter().any(|f| f.contains("9 error lines"))),
        "{timeline:?}"
    );
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e.event.kind() == "acknowledged")
            .count(),
        0,
        "gathering evidence does not acknowledge"
    );
}

#[tokio::test]
async fn a_late_readiness_signal_raises_the_severity_and_pages_the_new_roles() {
    let c = ClusterApp::spawn(&[("FIREWATCH__ASSESS__EVIDENCE_TIMEOUT", "1s")]).await;
    objects::broken(&c.kube);
    let gate = Arc::new(Semaphore::new(0));
    c.kube
        .fail("/deployments/freightliner", Fault::Hang(Arc::clone(&gate)));
    let (engine, mut rx) = engine_with_outbox(&c).await;
    let replies = engine
        .handle(&alice(), "/incident-assess checkout errors for some users")
        .await;
    let alert = replies[0].message.plain_text();
    assert_has(
        &alert,
        &[
            "INCIDENT DETECTED - P2",
            "Warning events: 3",
            "⏳ 3 more part(s) still being gathered",
        ],
    );
    gate.add_permits(100);
    let (_, late) = next_post(&mut rx).await;
    assert_has(
        &late.plain_text(),
        &[
            "Readiness: freightliner ready 0/3",
            "🔴 Live signal: 0/3 replicas of freightliner ready",
            "🔴 Severity raised P2 → P0 by the cluster",
        ],
    );
    assert_eq!(
        late.paged_roles,
        ["security-auditor", "performance-engineer"]
    );
    let incident =
        c.t.app
            .store
            .incident(firewatch::incident::IncidentId::new(1).unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(incident.severity.to_string(), "P0");
    assert!(
        incident.acknowledged.is_none(),
        "firewatch does not acknowledge"
    );
    let kinds: Vec<String> =
        c.t.timeline(1)
            .await
            .iter()
            .map(|e| e.event.kind())
            .collect();
    assert_eq!(
        kinds,
        ["detected", "evidence", "evidence", "severity_changed"]
    );
}
