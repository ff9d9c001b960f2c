use chrono::{TimeZone, Utc};
use firewatch::incident::Incident;
use firewatch::incident::IncidentId;
use firewatch::incident::lifecycle::Refusal;
use firewatch::store::{Error, Inbound, SqliteStore, Updated};

use crate::helpers::TestApp;

async fn reminders(store: &SqliteStore, id: i64) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT kind, due_at FROM reminders WHERE incident_id = ? ORDER BY kind")
        .bind(id)
        .fetch_all(store.pool())
        .await
        .expect("reminders load")
}

async fn sqlite(t: &TestApp) -> SqliteStore {
    SqliteStore::connect(&t.app.settings.store.url)
        .await
        .expect("second handle on the same file")
}

#[tokio::test]
async fn a_refused_update_writes_nothing_and_a_missing_incident_is_named() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess db down").await;
    let id = IncidentId::new(1).unwrap();
    let before = t.app.store.incident(id).await.unwrap().unwrap();
    let actor = before.opened.by.clone();
    let refuse = |i: &Incident| {
        Err(Refusal::SameSeverity {
            id: i.id,
            severity: i.severity,
        })
    };
    let result = t
        .app
        .store
        .update(id, &actor, Utc::now(), None, &refuse)
        .await
        .unwrap();
    assert!(matches!(result, Updated::Refused(_)), "{result:?}");
    assert_eq!(t.app.store.incident(id).await.unwrap().unwrap(), before);
    assert_eq!(t.timeline(1).await.len(), 1);

    let missing = IncidentId::new(99).unwrap();
    let result = t
        .app
        .store
        .update(missing, &actor, Utc::now(), None, &refuse)
        .await;
    assert!(
        matches!(result, Err(Error::NotFound(i)) if i == missing),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_timeline_cannot_be_rewritten() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess db down").await;
    let store = sqlite(&t).await;
    for sql in ["UPDATE timeline SET detail = '{}'", "DELETE FROM timeline"] {
        let err = sqlx::query(sql).execute(store.pool()).await.expect_err(sql);
        assert!(
            err.to_string().contains("the timeline is append-only"),
            "{err}"
        );
    }
    assert_eq!(t.timeline(1).await.len(), 1);
}

#[tokio::test]
async fn timers_follow_the_incident_until_it_is_resolved() {
    let t = TestApp::spawn().await;
    let store = sqlite(&t).await;
    t.say("/incident-assess checkout down").await;
    let at = |h, m| {
        Utc.with_ymd_and_hms(2026, 11, 29, h, m, 0)
            .unwrap()
            .timestamp_millis()
    };
    assert_eq!(
        reminders(&store, 1).await,
        vec![("ack".into(), at(3, 5)), ("update".into(), at(3, 15))]
    );
    t.advance_minutes(2);
    t.say("/incident-update looking at the load balancer").await;
    assert_eq!(
        reminders(&store, 1).await,
        vec![("update".into(), at(3, 17))],
        "ack timer gone"
    );
    t.say("/incident-resolve lb misconfig | reverted").await;
    assert!(reminders(&store, 1).await.is_empty());
}

fn inbound(key: &str, minute: i64) -> Inbound {
    Inbound {
        key: key.into(),
        payload: format!("{{\"key\":\"{key}\"}}"),
        received: chrono::DateTime::UNIX_EPOCH + chrono::TimeDelta::minutes(minute),
        handled: false,
        attempts: 0,
    }
}

/// The pending requests as (key, handled, attempts before this read).
async fn pending(t: &TestApp, prefix: &str) -> Vec<(String, bool, u32)> {
    t.app
        .store
        .pending_requests(prefix)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.handled, r.attempts))
        .collect()
}

#[tokio::test]
async fn a_request_is_accepted_once_and_pending_until_delivered() {
    let t = TestApp::spawn().await;
    let store = &t.app.store;
    let a = inbound("slack:trigger:1", 1);
    let b = inbound("slack:trigger:2", 2);
    assert!(store.accept_request(&a).await.unwrap());
    assert!(!store.accept_request(&a).await.unwrap());
    assert!(store.accept_request(&b).await.unwrap());
    assert!(
        store
            .accept_request(&inbound("discord:1", 3))
            .await
            .unwrap()
    );
    assert_eq!(
        pending(&t, "slack:").await,
        vec![(a.key.clone(), false, 0), (b.key.clone(), false, 0)]
    );
    // Handled (answered, not yet delivered): a replay reports it instead of running it.
    store.handled_request(&b.key, b.received).await.unwrap();
    store.complete_request(&a.key, b.received).await.unwrap();
    assert_eq!(pending(&t, "slack:").await, vec![(b.key.clone(), true, 1)]);
    // Delivered requests are forgotten after the redelivery window; pending ones are kept.
    let later = chrono::DateTime::UNIX_EPOCH + chrono::TimeDelta::minutes(60);
    assert_eq!(store.prune_requests(later).await.unwrap(), 1);
    assert_eq!(pending(&t, "slack:").await, vec![(b.key.clone(), true, 2)]);
    assert_eq!(pending(&t, "discord:").await.len(), 1);
}

#[tokio::test]
async fn accepts_arriving_together_are_each_answered_and_a_repeated_key_is_new_once() {
    let t = TestApp::spawn().await;
    let store = std::sync::Arc::clone(&t.app.store);
    // 200 accepts at once (the group commit takes them in a few batches), every key twice, with
    // payloads that need escaping.
    let accepts = (0..200).map(|i| {
        let store = std::sync::Arc::clone(&store);
        let mut request = inbound(&format!("slack:command:{}", i % 100), i % 100);
        request.payload = format!("{{\"text\":\"quote \\\" and 'single' {i}\"}}");
        tokio::spawn(async move {
            (
                request.key.clone(),
                store.accept_request(&request).await.unwrap(),
            )
        })
    });
    let mut new = std::collections::HashMap::<String, u32>::new();
    for accept in accepts.collect::<Vec<_>>() {
        let (key, is_new) = accept.await.unwrap();
        *new.entry(key).or_default() += u32::from(is_new);
    }
    assert_eq!(new.len(), 100);
    assert!(new.values().all(|&n| n == 1), "{new:?}");
    // What the backlog returns is what was stored first for each key, oldest first, and reading
    // it counts no attempt.
    let backlog = store.backlog_requests("slack:", 1000).await.unwrap();
    assert_eq!(backlog.len(), 100);
    assert!(backlog.windows(2).all(|w| w[0].received <= w[1].received));
    assert!(
        backlog
            .iter()
            .all(|r| r.payload.contains("quote \\\" and 'single'") && r.attempts == 0)
    );
    store
        .handled_request("slack:command:0", backlog[0].received)
        .await
        .unwrap();
    store
        .complete_request("slack:command:1", backlog[0].received)
        .await
        .unwrap();
    let keys: Vec<String> = store
        .backlog_requests("slack:", 3)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(
        keys,
        ["slack:command:2", "slack:command:3", "slack:command:4"]
    );
    assert!(
        store
            .backlog_requests("discord:", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_change_marks_its_request_done_in_the_same_transaction() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess db down").await;
    let store = &t.app.store;
    let request = inbound("slack:trigger:9", 1);
    store.accept_request(&request).await.unwrap();
    let note = |_: &firewatch::incident::Incident| {
        Err(firewatch::incident::lifecycle::Refusal::SameSeverity {
            id: IncidentId::new(1).unwrap(),
            severity: firewatch::incident::Severity::P1,
        })
    };
    let actor = firewatch::incident::Actor {
        platform: firewatch::incident::Platform::Slack,
        id: "U1".into(),
        name: "alice".into(),
    };
    let id = IncidentId::new(1).unwrap();
    // A refusal writes nothing, so the request stays pending.
    let refused = store
        .update(id, &actor, Utc::now(), Some(&request.key), &note)
        .await
        .unwrap();
    assert!(matches!(refused, firewatch::store::Updated::Refused(_)));
    assert_eq!(store.pending_requests("slack:").await.unwrap().len(), 1);
    t.say("/incident-ack").await;
    let before = store.incident(id).await.unwrap().unwrap();
    let same = |i: &firewatch::incident::Incident| {
        Ok(firewatch::incident::lifecycle::Outcome {
            incident: i.clone(),
            entries: Vec::new(),
        })
    };
    store
        .update(id, &actor, Utc::now(), Some(&request.key), &same)
        .await
        .unwrap();
    assert_eq!(
        pending(&t, "slack:").await,
        vec![("slack:trigger:9".to_owned(), true, 1)]
    );
    let replay = store
        .update(id, &actor, Utc::now(), Some(&request.key), &same)
        .await
        .unwrap_err();
    assert!(matches!(replay, firewatch::store::Error::Replayed(ref k) if k == "slack:trigger:9"));
    assert_eq!(
        store.incident(id).await.unwrap().unwrap().version,
        before.version + 1
    );
}

#[tokio::test]
async fn a_store_that_cannot_be_opened_says_where() {
    let err = SqliteStore::connect("sqlite:///nonexistent-dir/firewatch.db")
        .await
        .unwrap_err();
    let text = firewatch::error_chain(&err);
    assert!(
        text.starts_with("cannot open the store at sqlite:///nonexistent-dir/firewatch.db: "),
        "{text}"
    );
}

#[tokio::test]
async fn the_schema_is_migrated_once_and_passes_an_integrity_check() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess db down").await;
    let t = t.restart().await;
    let store = sqlite(&t).await;
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let (fk,): (i64,) = sqlx::query_as("SELECT count(*) FROM pragma_foreign_key_check")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(fk, 0);
    let (migrations,): (i64,) = sqlx::query_as("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(migrations, 5);
    assert_eq!(t.timeline(1).await.len(), 1);
}

#[tokio::test]
async fn an_opened_incident_is_exactly_what_a_later_read_returns() {
    use firewatch::clock::Clock;
    use firewatch::incident::lifecycle::{self, Report};
    use firewatch::incident::severity::Policy;
    use firewatch::incident::{Actor, ChannelRef, Platform};

    let t = TestApp::spawn().await;
    let policy = Policy::runbook();
    let reporter = Actor {
        platform: Platform::Slack,
        id: "U1".into(),
        name: "alice".into(),
    };
    let report = Report {
        summary: "checkout is down".into(),
        service: "freightliner".into(),
        classification: policy.classify("checkout is down", None),
        channel: ChannelRef {
            platform: Platform::Slack,
            id: "C1".into(),
        },
        paged: vec!["devops-troubleshooter".into()],
    };
    let draft = lifecycle::open(report, &reporter, t.clock.now(), &policy);
    let opened = t.app.store.open_incident(&draft, None).await.unwrap();
    let read = t.app.store.incident(opened.id).await.unwrap().unwrap();
    assert_eq!(opened, read);
    assert_eq!(read.version, 0);
    assert_eq!(
        read.next_update_due,
        Some(read.opened.at + chrono::TimeDelta::minutes(15))
    );
    assert_eq!(
        read.ack_due,
        Some(read.opened.at + chrono::TimeDelta::minutes(5))
    );
    let entries = t.app.store.timeline(opened.id).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].event, draft.entries[0]);
    assert_eq!(entries[0].actor, reporter);
}

#[tokio::test]
async fn a_tick_is_one_range_scan_of_the_due_index() {
    let t = TestApp::spawn().await;
    let store = sqlite(&t).await;
    // The query is a constant of the crate.
    let explain = format!(
        "EXPLAIN QUERY PLAN {}",
        firewatch::store::sqlite::DUE_TIMERS_QUERY
    );
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(explain))
        .bind(0_i64)
        .bind(256_i64)
        .fetch_all(store.pool())
        .await
        .unwrap();
    let details: Vec<&str> = plan.iter().map(|(_, _, _, d)| d.as_str()).collect();
    assert_eq!(
        details,
        ["SEARCH reminders USING INDEX reminders_by_fire_at (fire_at>? AND fire_at<?)"],
        "no table scan, no sort"
    );
}

#[tokio::test]
async fn a_new_due_time_fires_anew_and_other_changes_keep_what_fired() {
    let t = TestApp::spawn().await;
    let store = sqlite(&t).await;
    t.say("/incident-assess API returning 500s").await; // P1, update due 03:30
    t.console("bob", "ops", "/incident-ack").await;
    t.advance_minutes(30);
    assert_eq!(t.tick().await, 1);
    let fire_at = |store: SqliteStore| async move {
        let row: (i64, Option<i64>, i64) = sqlx::query_as(
            "SELECT due_at, fire_at, fired FROM reminders WHERE incident_id = 1 AND kind = 'update'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        row
    };
    let start = Utc.with_ymd_and_hms(2026, 11, 29, 3, 0, 0).unwrap();
    let ms = |minutes: i64| (start + chrono::TimeDelta::minutes(minutes)).timestamp_millis();
    assert_eq!(fire_at(store.clone()).await, (ms(30), Some(ms(60)), 1));
    // A note changes the incident but not the promise: the reminder does not come back early.
    t.say("/incident-note still looking").await;
    assert_eq!(fire_at(store.clone()).await, (ms(30), Some(ms(60)), 1));
    assert_eq!(t.tick().await, 0);
    // An update is a new promise.
    t.say("/incident-update found it").await;
    assert_eq!(fire_at(store.clone()).await, (ms(60), Some(ms(60)), 0));
}

#[tokio::test]
async fn a_baseline_replaces_the_last_one_with_its_timeline_entry_and_bad_figures_write_nothing() {
    use firewatch::incident::TimelineEvent;
    use firewatch::ops::jobs::Figures;
    use firewatch::store::Baseline;

    let t = TestApp::spawn().await;
    t.say("/incident-assess checkout slow").await;
    let id = IncidentId::new(1).unwrap();
    let store = &t.app.store;
    assert!(
        store
            .baseline("freightliner", "load")
            .await
            .unwrap()
            .is_none()
    );
    let actor = store.incident(id).await.unwrap().unwrap().opened.by;
    let at = Utc.with_ymd_and_hms(2026, 11, 29, 3, 30, 0).unwrap();
    let entry = |p95: f64| TimelineEvent::JobFinished {
        job: "load".into(),
        name: "firewatch-1-load-1".into(),
        purpose: "baseline".into(),
        verdict: "passed".into(),
        passed: true,
        lines: vec![format!("p95 {p95}")],
    };
    let baseline = |p95_ms: f64, error_rate: f64| Baseline {
        service: "freightliner".into(),
        job: "load".into(),
        figures: Figures {
            p95_ms,
            error_rate,
            rps: 100.0,
        },
        incident: id,
        job_name: "firewatch-1-load-1".into(),
        by: actor.clone(),
        at,
    };
    store
        .store_baseline(&baseline(120.0, 0.001), &[entry(120.0)], &actor)
        .await
        .unwrap();
    store
        .store_baseline(&baseline(150.0, 0.002), &[entry(150.0)], &actor)
        .await
        .unwrap();
    let stored = store
        .baseline("freightliner", "load")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, baseline(150.0, 0.002));
    assert!(store.baseline("other", "load").await.unwrap().is_none());
    // A share above 1 violates the table's check: nothing is written, not even the entry.
    let entries = t.timeline(1).await.len();
    assert!(
        store
            .store_baseline(&baseline(1.0, 5.0), &[entry(1.0)], &actor)
            .await
            .is_err()
    );
    assert_eq!(t.timeline(1).await.len(), entries);
    let still = store
        .baseline("freightliner", "load")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.figures.p95_ms, 150.0);
}
