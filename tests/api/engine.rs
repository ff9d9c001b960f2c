use std::sync::Arc;

use firewatch::catalog::Catalog;
use firewatch::engine::{Audience, Caller, Engine, Parts};
use firewatch::incident::severity::Policy;
use firewatch::incident::{Actor, ChannelRef, Platform};
use firewatch::notify::Templates;

use crate::helpers::{TestApp, assert_has, repo};

pub fn caller(user: &str) -> Caller {
    Caller {
        actor: Actor {
            platform: Platform::Console,
            id: user.into(),
            name: user.into(),
        },
        channel: ChannelRef {
            platform: Platform::Console,
            id: "ops".into(),
        },
        request: None,
        roles: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commands_on_one_incident_all_land_exactly_once() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess checkout down").await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let engine = Arc::clone(&t.app.engine);
            tokio::spawn(async move {
                let who = caller(&format!("responder{i}"));
                engine
                    .handle(&who, &format!("/incident-note finding {i}"))
                    .await
            })
        })
        .collect();
    for task in tasks {
        let replies = task.await.expect("task finishes");
        assert_eq!(replies.len(), 1);
        assert!(
            replies[0].message.headline.starts_with("📝 NOTE on #1"),
            "{:?}",
            replies[0].message
        );
    }
    let timeline = t.timeline(1).await;
    for i in 0..20 {
        let text = format!("note: finding {i}");
        let count = timeline
            .iter()
            .filter(|e| e.event.describe() == text)
            .count();
        assert_eq!(count, 1, "{text} recorded once");
    }
    let acks = timeline
        .iter()
        .filter(|e| e.event.describe().starts_with("acknowledged"))
        .count();
    assert_eq!(acks, 1, "only the first responder acknowledged");
    assert_eq!(t.version(1).await, 20, "one version per note");
}

#[tokio::test]
async fn replies_about_changes_go_to_the_incident_channel_and_refusals_to_the_caller_only() {
    let t = TestApp::spawn().await;
    let opened = t
        .app
        .engine
        .handle(&caller("alice"), "/incident-assess db down")
        .await;
    assert!(matches!(&opened[0].audience, Audience::Channel(c) if c.id == "ops"));
    assert_eq!(
        opened[0].message.colour.as_deref(),
        Some("#D92D20"),
        "P0 colour"
    );
    assert_eq!(
        opened[0].message.paged_roles.len(),
        4,
        "three P0 roles and the owner"
    );
    let refused = t
        .app
        .engine
        .handle(&caller("alice"), "/incident-severity P0")
        .await;
    assert_eq!(refused[0].audience, Audience::Caller);
}

#[tokio::test]
async fn a_template_that_fails_after_the_commit_still_reports_the_saved_change() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess db down").await;
    let broken = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo().join("messages")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("{{progress}}", "{{progres}}");
        std::fs::write(broken.path().join(path.file_name().unwrap()), text).unwrap();
    }
    let settings = &t.app.settings;
    let policy = Policy::from_settings(settings).unwrap();
    let engine = Engine::new(Parts {
        store: Arc::clone(&t.app.store),
        policy: Arc::new(policy),
        catalog: Arc::new(Catalog::new(settings)),
        templates: Arc::new(Templates::from_dir(broken.path()).unwrap()),
        clock: t.clock.clone(),
        outbox: t.app.outbox.clone(),
        reports: settings.reports.dir.clone(),
        cluster: Arc::new(firewatch::ops::metered::Metered::new(
            Err("not in this test".into()),
            Default::default(),
        )),
        limits: firewatch::engine::Limits::new(settings),
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
    let replies = engine
        .handle(&caller("alice"), "/incident-update restarting pods")
        .await;
    let text = replies[0].message.plain_text();
    assert_has(
        &text,
        &[
            "#1 was updated",
            "The change is saved",
            "/incident-status #1",
        ],
    );
    let last = t.timeline(1).await.pop().unwrap();
    assert_eq!(last.event.describe(), "update: restarting pods");
}

#[tokio::test]
async fn a_request_delivered_again_after_its_effect_has_no_effect() {
    let t = TestApp::spawn().await;
    let mut first = caller("alice");
    first.request = Some("slack:trigger:1".into());
    let opened = t
        .app
        .engine
        .handle(&first, "/incident-assess db down")
        .await;
    assert_eq!(opened.len(), 1);
    let again = t
        .app
        .engine
        .handle(&first, "/incident-assess db down")
        .await;
    assert!(again.is_empty(), "{again:?}");
    first.request = Some("slack:trigger:2".into());
    t.app.engine.handle(&first, "/incident-note one").await;
    let replayed = t.app.engine.handle(&first, "/incident-note one").await;
    assert!(replayed.is_empty(), "{replayed:?}");
    assert_eq!(t.app.store.active_incidents().await.unwrap().len(), 1);
    let notes: Vec<_> = t
        .timeline(1)
        .await
        .into_iter()
        .filter(|e| e.event.describe().starts_with("note"))
        .collect();
    assert_eq!(notes.len(), 1);
}
