//! The store's guarantees, each test run on both backends: a SQLite file and a fresh Postgres
//! schema (`store::<test>::sqlite`, `store::<test>::postgres`). The outbox's are in [`outbox`].

use chrono::{TimeZone, Utc};
use firewatch::incident::Incident;
use firewatch::incident::IncidentId;
use firewatch::incident::lifecycle::Refusal;
use std::sync::Arc;

use firewatch::store::{self, Access, Error, Inbound, SqlStore, Store, Updated};

use crate::helpers::{Backend, TestApp, on_both_backends};

mod outbox;
mod upgrade;

on_both_backends!(
    a_refused_update_writes_nothing_and_a_missing_incident_is_named,
    the_timeline_cannot_be_rewritten,
    timers_follow_the_incident_until_it_is_resolved,
    a_request_is_accepted_once_and_pending_until_delivered,
    a_change_marks_its_request_done_in_the_same_transaction,
    accepts_arriving_together_are_each_answered_and_a_repeated_key_is_new_once,
    a_write_the_database_refuses_fails_alone_among_writes_committed_together,
    a_baseline_replaces_the_last_one_with_its_timeline_entry_and_bad_figures_write_nothing,
    the_schema_is_migrated_once_and_survives_a_restart,
    an_opened_incident_is_exactly_what_a_later_read_returns,
    a_new_due_time_fires_anew_and_other_changes_keep_what_fired,
    the_store_answers_a_ping,
    a_read_sees_every_change_committed_before_it_from_any_connection,
    a_request_keeps_the_channel_it_was_posted_in_and_a_person_votes_once,
    a_transaction_the_database_ended_on_its_own_leaves_no_connection_inside_it,
    roles_are_kept_per_incident_one_holder_each_and_survive_a_restart,
    an_incident_knows_its_place_among_those_opened_the_same_day,
);

/// The incident's timers as (kind, due in Unix ms), read with raw SQL on either backend.
async fn reminders(t: &TestApp, id: i64) -> Vec<(String, i64)> {
    match &t.pg {
        Some(pg) => sqlx::query_as(
            "SELECT kind, due_at FROM reminders WHERE incident_id = $1 ORDER BY kind",
        )
        .bind(id)
        .fetch_all(&pg.pool().await)
        .await
        .expect("reminders load"),
        None => {
            sqlx::query_as("SELECT kind, due_at FROM reminders WHERE incident_id = ? ORDER BY kind")
                .bind(id)
                .fetch_all(sqlite(t).await.pool())
                .await
                .expect("reminders load")
        }
    }
}

async fn sqlite(t: &TestApp) -> SqlStore {
    SqlStore::connect(&t.app.settings.store.url)
        .await
        .expect("second handle on the same file")
}

async fn the_store_answers_a_ping(backend: Backend) {
    let t = TestApp::spawn_on(backend).await;
    t.app.store.ping().await.expect("ping");
    assert!(!t.app.store.process().is_empty());
}

async fn a_refused_update_writes_nothing_and_a_missing_incident_is_named(backend: Backend) {
    let t = TestApp::spawn_on(backend).await;
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

async fn the_timeline_cannot_be_rewritten(backend: Backend) {
    let t = TestApp::spawn_on(backend).await;
    t.say("/incident-assess db down").await;
    for sql in ["UPDATE timeline SET detail = '{}'", "DELETE FROM timeline"] {
        let err = match &t.pg {
            Some(pg) => sqlx::query(sql).execute(&pg.pool().await).await.map(drop),
            None => sqlx::query(sql)
                .execute(sqlite(&t).await.pool())
                .await
                .map(drop),
        }
        .expect_err(sql);
        assert!(
            err.to_string().contains("the timeline is append-only"),
            "{err}"
        );
    }
    if let Some(pg) = &t.pg {
        let err = sqlx::query("TRUNCATE timeline CASCADE")
            .execute(&pg.pool().await)
            .await
            .expect_err("truncate");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    assert_eq!(t.timeline(1).await.len(), 1);
}

async fn timers_follow_the_incident_until_it_is_resolved(backend: Backend) {
    let t = TestApp::spawn_on(backend).await;
    t.say("/incident-assess checkout down").await;
    let at = |h, m| {
        Utc.with_ymd_and_hms(2026, 11, 29, h, m, 0)
            .unwrap()
            .timestamp_millis()
    };
    assert_eq!(
        reminders(&t, 1).await,
        vec![("ack".into(), at(3, 5)), ("update".into(), at(3, 15))]
    );
    t.advance_minutes(2);
    t.say("/incident-update looking at the load balancer").await;
    assert_eq!(
        reminders(&t, 1).await,
        vec![("update".into(), at(3, 17))],
        "ack timer gone"
    );
    t.say("/incident-resolve lb misconfig | reverted").await;
    assert!(reminders(&t, 1).await.is_empty());
}

async fn a_transaction_the_database_ended_on_its_own_leaves_no_connection_inside_it(
    backend: Backend,
) {
    let t = TestApp::spawn_on(backend).await;
    // A handle of its own: on SQLite its writes go through one connection.
    let store = SqlStore::connect(&t.app.settings.store.url).await.unwrap();
    // The database ends the transaction behind sqlx's back, as SQLite does when a COMMIT fails
    // for a full disk or an I/O error: sqlx still counts the connection as inside it, and the
    // rollback it queues when the transaction is dropped fails.
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query("COMMIT").execute(&mut *tx).await.unwrap();
    drop(tx);
    // Every write transaction after it begins afresh (more than the pool holds connections).
    let close = store::Close {
        from: &[firewatch::approval::State::Pending],
        to: firewatch::approval::State::Cancelled,
        result: None,
        not_runner: None,
    };
    let actor = firewatch::incident::Actor {
        platform: firewatch::incident::Platform::Console,
        id: "alice".into(),
        name: "alice".into(),
    };
    for n in 0..10 {
        let closed = store
            .close_approval(99, close, &[], &actor, Utc::now())
            .await;
        assert!(
            matches!(closed, Ok(None)),
            "write {n}: {:?}",
            closed.map_err(|e| firewatch::error_chain(&e))
        );
    }
    let request = inbound("slack:command:after", 1);
    assert!(store.accept_request(&request).await.expect("inbox write"));
    store.close().await;
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

/// What `store` takes over, as (key, handled, attempts before this read).
async fn pending(store: &dyn Store, prefix: &str) -> Vec<(String, bool, u32)> {
    store
        .pending_requests(prefix)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.handled, r.attempts))
        .collect()
}

/// Another process on the test's store (as a restarted or second firewatch would be).
async fn other_process(t: &TestApp) -> Arc<dyn Store> {
    store::open(&t.app.settings.store.url, Access::Shared)
        .await
        .expect("another handle on the store")
}

async fn a_request_is_accepted_once_and_pending_until_delivered(backend: Backend) {
    let t = TestApp::spawn_on(backend).await;
    // The process before a restart accepts them.
    let before = other_process(&t).await;
    let a = inbound("slack:trigger:1", 1);
    let b = inbound("slack:trigger:2", 2);
    assert!(before.accept_request(&a).await.unwrap());
    assert!(!before.accept_request(&a).await.unwrap());
    assert!(
        !t.app.store.accept_request(&a).await.unwrap(),
        "one key, whoever asks"
    );
    assert!(before.accept_request(&b).await.unwrap());
    assert!(
        before
            .accept_request(&inbound("discord:1", 3))
            .await
            .unwrap()
    );
    if backend == Backend::Postgres {
        // A replica that still runs keeps its requests.
        assert_eq!(pending(&*t.app.store, "slack:").await, vec![]);
    }
    before.close().await;
    let store = &t.app.store;
    assert_eq!(
        pending(&**store, "slack:").await,
        vec![(a.key.clone(), false, 0), (b.key.clone(), false, 0)]
    );
    // Taken over: this process does not take them again from itself.
    assert_eq!(pending(&**store, "slack:").await, vec![]);
    // Handled (answered, not yet delivered): a replay reports it instead of running it.
    store.handled_request(&b.key, b.received).await.unwrap();
    store.complete_request(&a.key, b.received).await.unwrap();
    store.close().await;
    let after = other_process(&t).await;
    assert_eq!(
        pending(&*after, "slack:").await,
        vec![(b.key.clone(), true, 1)]
    );
    // Delivered requests are forgotten after the redelivery window; pending ones are kept.
    let later = chrono::DateTime::UNIX_EPOCH + chrono::TimeDelta::minutes(60);
    assert_eq!(after.prune_requests(later).await.unwrap(), 1);
    after.close().await;
    let third = other_process(&t).await;
    assert_eq!(
        pending(&*third, "slack:").await,
        vec![(b.key.clone(), true, 2)]
    );
    assert_eq!(pending(&*third, "discord:").await.len(), 1);
    // An accept racing the close is either committed (and kept) or refused, never answered
    // and lost; a closed store takes no more.
    let last = inbound("slack:trigger:3", 4);
    let mut expected = vec![b.key.clone()];
    let (accepted, ()) = tokio::join!(third.accept_request(&last), third.close());
    if accepted.is_ok_and(|new| new) {
        expected.push(last.key.clone());
    }
    assert!(
        third
            .accept_request(&inbound("slack:late", 5))
            .await
            .is_err()
    );
    let fourth = other_process(&t).await;
    let keys: Vec<String> = pending(&*fourth, "slack:")
        .await
        .into_iter()
        .map(|(key, ..)| key)
        .collect();
    assert_eq!(keys, expected);
    fourth.close().await;
}

async fn accepts_arriving_together_are_each_answered_and_a_repeated_key_is_new_once(
    backend: Backend,
) {
    let t = TestApp::spawn_on(backend).await;
    let store = std::sync::Arc::clone(&t.app.store);
    // 200 accepts at once, every key twice, with payloads that need escaping.
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

async fn a_change_marks_its_request_done_in_the_same_transaction(backend: Backend) {
    let t = TestApp::spawn_on(backend).await;
    t.say("/incident-assess db down").await;
    let earlier = other_process(&t).await;
    let request = inbound("slack:trigger:9", 1);
    earlier.accept_request(&request).await.unwrap();
    earlier.close().await;
    let store = &t.app.store;
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
    // Done with its change, not delivered: what a restart reports as an answer lost.
    assert_eq!(
        pending(&**store, "slack:").await,
        vec![("slack:trigger:9".to_owned(), true, 0)]
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

async fn a_read_sees_every_change_committed_before_it_from_any_connection(backend: Backend) {
    let t = TestApp::spawn_on(backend).await;
    t.say("/incident-assess db down").await;
    let store = &t.app.store;
    let id = IncidentId::new(1).unwrap();
    // Each kind of read once, so its connection and statements are kept for the next.
    let first = store.incident(id).await.unwrap().unwrap();
    let channel = first.channel.clone();
    assert_eq!(
        store.incidents_in(&channel).await.unwrap(),
        vec![first.clone()]
    );
    assert_eq!(store.active_incidents().await.unwrap(), vec![first.clone()]);
    assert_eq!(store.timeline(id).await.unwrap().len(), 1);

    // A change through this handle, then one through another process's connections.
    t.say("/incident-ack").await;
    let acknowledged = store.timeline(id).await.unwrap().len();
    assert!(acknowledged > 1);
    let other = other_process(&t).await;
    let resolve = |i: &Incident| {
        let mut next = i.clone();
        next.status = firewatch::incident::Status::Resolved;
        Ok(firewatch::incident::lifecycle::Outcome {
            incident: next,
            entries: vec![firewatch::incident::TimelineEvent::Note {
                text: "resolved elsewhere".into(),
            }],
        })
    };
    other
        .update(id, &first.opened.by, Utc::now(), None, &resolve)
        .await
        .unwrap();
    other.close().await;

    let now = store.incident(id).await.unwrap().unwrap();
    assert_eq!(now.version, first.version + 2);
    assert_eq!(now.status, firewatch::incident::Status::Resolved);
    assert!(now.acknowledged.is_some());
    assert_eq!(store.incidents_in(&channel).await.unwrap(), vec![now]);
    assert!(store.active_incidents().await.unwrap().is_empty());
    assert_eq!(store.timeline(id).await.unwrap().len(), acknowledged + 1);

    // Once closed, reads fail instead of reopening the database.
    store.close().await;
    assert!(store.incident(id).await.is_err());
    assert!(store.timeline(id).await.is_err());
}

#[tokio::test]
async fn a_sqlite_store_commits_through_a_synced_write_ahead_log() {
    let t = TestApp::spawn().await;
    let store = sqlite(&t).await;
    let (journal,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    // 2 is FULL: the WAL is synced at every commit.
    let (synchronous,): (i64,) = sqlx::query_as("PRAGMA synchronous")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!((journal.as_str(), synchronous), ("wal", 2));
}

#[tokio::test]
async fn a_sqlite_file_whose_path_has_spaces_and_percent_signs_is_opened_where_it_says() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("on call");
    std::fs::create_dir(&folder).unwrap();
    let file = folder.join("fire watch 100%.db");
    let url = format!("sqlite://{}", file.display());
    let store = store::open(&url, Access::Exclusive).await.expect("opens");
    assert!(store.accept_request(&inbound("slack:1", 1)).await.unwrap());
    assert!(file.exists() && folder.join("fire watch 100%.db.lock").exists());
    let again = store::open(&url, Access::Exclusive)
        .await
        .err()
        .expect("locked");
    assert!(matches!(again, Error::Locked { .. }), "{again}");
    store.close().await;
    let reopened = store::open(&url, Access::Exclusive)
        .await
        .expect("free again");
    assert!(
        !reopened
            .accept_request(&inbound("slack:1", 1))
            .await
            .unwrap()
    );
    reopened.close().await;
}

#[tokio::test]
async fn a_store_that_cannot_be_opened_says_where() {
    let err = SqlStore::connect("sqlite:///nonexistent-dir/firewatch.db")
        .await
        .unwrap_err();
    let text = firewatch::error_chain(&err);
    assert!(
        text.starts_with("cannot open the store at sqlite:///nonexistent-dir/firewatch.db: "),
        "{text}"
    );
}

async fn the_schema_is_migrated_once_and_survives_a_restart(backend: Backend) {
    let t = TestApp::spawn_on(backend).await;
    t.say("/incident-assess db down").await;
    let t = t.restart().await;
    let migrations: i64 = match &t.pg {
        Some(pg) => {
            let pool = pg.pool().await;
            // Every table is in the test's own schema.
            let tables: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
            )
            .bind(&pg.name)
            .fetch_one(&pool)
            .await
            .unwrap();
            assert!(tables >= 7, "{tables} tables in {}", pg.name);
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
        None => {
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
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
                .fetch_one(store.pool())
                .await
                .unwrap()
        }
    };
    // Every migration of the backend's folder, once.
    let folder = if t.pg.is_some() { "postgres" } else { "sqlite" };
    let files = std::fs::read_dir(crate::helpers::repo().join("migrations").join(folder))
        .unwrap()
        .filter(|f| {
            f.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "sql")
        })
        .count();
    assert_eq!(migrations, i64::try_from(files).unwrap());
    assert_eq!(t.timeline(1).await.len(), 1);
}

async fn an_opened_incident_is_exactly_what_a_later_read_returns(backend: Backend) {
    use firewatch::clock::Clock;
    use firewatch::incident::lifecycle::{self, Report};
    use firewatch::incident::severity::Policy;
    use firewatch::incident::{Actor, ChannelRef, Platform};

    let t = TestApp::spawn_on(backend).await;
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
    let explain = format!("EXPLAIN QUERY PLAN {}", firewatch::store::DUE_TIMERS_QUERY);
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

async fn a_new_due_time_fires_anew_and_other_changes_keep_what_fired(backend: Backend) {
    let t = TestApp::spawn_on(backend).await;
    t.say("/incident-assess API returning 500s").await; // P1, update due 03:30
    t.console("bob", "ops", "/incident-ack").await;
    t.advance_minutes(30);
    assert_eq!(t.tick().await, 1);
    let sql =
        "SELECT due_at, fire_at, fired FROM reminders WHERE incident_id = 1 AND kind = 'update'";
    let fire_at = |t: &TestApp| {
        let pg = t.pg.as_ref().map(|pg| pg.url.clone());
        let url = t.app.settings.store.url.clone();
        async move {
            let row: (i64, Option<i64>, i64) = match pg {
                Some(url) => sqlx::query_as(sql)
                    .fetch_one(&sqlx::PgPool::connect(&url).await.unwrap())
                    .await
                    .unwrap(),
                None => sqlx::query_as(sql)
                    .fetch_one(SqlStore::connect(&url).await.unwrap().pool())
                    .await
                    .unwrap(),
            };
            row
        }
    };
    let start = Utc.with_ymd_and_hms(2026, 11, 29, 3, 0, 0).unwrap();
    let ms = |minutes: i64| (start + chrono::TimeDelta::minutes(minutes)).timestamp_millis();
    assert_eq!(fire_at(&t).await, (ms(30), Some(ms(60)), 1));
    // A note changes the incident but not the promise: the reminder does not come back early.
    t.say("/incident-note still looking").await;
    assert_eq!(fire_at(&t).await, (ms(30), Some(ms(60)), 1));
    assert_eq!(t.tick().await, 0);
    // An update is a new promise.
    t.say("/incident-update found it").await;
    assert_eq!(fire_at(&t).await, (ms(60), Some(ms(60)), 0));
}

#[tokio::test]
async fn a_replicas_requests_are_taken_over_once_its_lease_runs_out_and_not_before() {
    let t = TestApp::spawn_on(Backend::Postgres).await;
    let pg = t.pg.as_ref().expect("on postgres");
    let other = other_process(&t).await;
    let a = inbound("slack:trigger:lease", 1);
    assert!(other.accept_request(&a).await.unwrap());
    assert_eq!(
        pending(&*t.app.store, "slack:").await,
        vec![],
        "its lease is current"
    );
    // A replica that stopped renewing its lease (hung, or cut off from the database) owns it.
    // (A row of its own, so the other store's heartbeat cannot renew it meanwhile.)
    let pool = pg.pool().await;
    sqlx::query(
        "INSERT INTO processes (id, heartbeat_at) VALUES ('a-hung-replica', now() - interval '1 minute')",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE processed_requests SET owner = 'a-hung-replica' WHERE request_key = $1")
        .bind(&a.key)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        pending(&*t.app.store, "slack:").await,
        vec![(a.key.clone(), false, 0)]
    );
    let owner: String =
        sqlx::query_scalar("SELECT owner FROM processed_requests WHERE request_key = $1")
            .bind(&a.key)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(owner, t.app.store.process());
    // The one that took it is alive: the other cannot take it back.
    assert_eq!(pending(&*other, "slack:").await, vec![]);
    pool.close().await;
    other.close().await;
}

async fn a_baseline_replaces_the_last_one_with_its_timeline_entry_and_bad_figures_write_nothing(
    backend: Backend,
) {
    use firewatch::incident::TimelineEvent;
    use firewatch::ops::jobs::Figures;
    use firewatch::store::Baseline;

    let t = TestApp::spawn_on(backend).await;
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
        .store_baseline(&baseline(120.0, 0.001), &[entry(120.0)], &actor, None)
        .await
        .unwrap();
    store
        .store_baseline(&baseline(150.0, 0.002), &[entry(150.0)], &actor, None)
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
            .store_baseline(&baseline(1.0, 5.0), &[entry(1.0)], &actor, None)
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
    // Two processes recording the same Job's result: the second writes nothing.
    let job = Some("job:firewatch-1-load-2");
    store
        .store_baseline(&baseline(130.0, 0.001), &[entry(130.0)], &actor, job)
        .await
        .unwrap();
    let entries = t.timeline(1).await.len();
    assert!(matches!(
        store
            .store_baseline(&baseline(999.0, 0.5), &[entry(999.0)], &actor, job)
            .await,
        Err(Error::Replayed(_))
    ));
    assert_eq!(t.timeline(1).await.len(), entries);
    let kept = store
        .baseline("freightliner", "load")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.figures.p95_ms, 130.0);
}

/// The inbox commits the writes that arrive together in one transaction; one the database
/// refuses (Postgres takes no NUL character in text; SQLite does) must not take the others down.
async fn a_write_the_database_refuses_fails_alone_among_writes_committed_together(
    backend: Backend,
) {
    let t = TestApp::spawn_on(backend).await;
    let store = std::sync::Arc::clone(&t.app.store);
    let accepts = (0..50).map(|i| {
        let store = std::sync::Arc::clone(&store);
        let mut request = inbound(&format!("slack:command:{i}"), i);
        if i == 25 {
            request.payload = "{\"text\":\"nul \u{0} byte\"}".into();
        }
        tokio::spawn(async move { store.accept_request(&request).await })
    });
    let mut answers = Vec::new();
    for accept in accepts.collect::<Vec<_>>() {
        answers.push(accept.await.unwrap());
    }
    for (i, answer) in answers.iter().enumerate() {
        match (i, backend) {
            (25, Backend::Postgres) => assert!(answer.is_err(), "{answer:?}"),
            _ => assert!(matches!(answer, Ok(true)), "{i}: {answer:?}"),
        }
    }
    let stored = store.backlog_requests("slack:", 1000).await.unwrap();
    let expected = if backend == Backend::Postgres { 49 } else { 50 };
    assert_eq!(stored.len(), expected);
}

/// While the database is unreachable, the inbox's writes that wait together are refused
/// together, each with the reason, instead of each trying (and waiting) on its own; once it is
/// back, writes go through again.
#[tokio::test]
async fn on_postgres_inbox_writes_waiting_together_fail_together_while_the_database_is_gone() {
    let proxy = crate::support::pg_proxy::PgProxy::to_test_server().await;
    let schema = crate::support::pg::PgSchema::create_on(&proxy.url()).await;
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect(&schema.url).await.unwrap());
    proxy.off();
    let accepts = (0..20).map(|i| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let request = inbound(&format!("slack:command:{i}"), i);
            store.accept_request(&request).await
        })
    });
    for accept in accepts.collect::<Vec<_>>() {
        let answer = accept.await.unwrap();
        assert!(matches!(answer, Err(Error::Write(_))), "{answer:?}");
    }
    proxy.on();
    let request = inbound("slack:command:after", 99);
    assert!(store.accept_request(&request).await.unwrap());
    store.close().await;
}

async fn a_request_keeps_the_channel_it_was_posted_in_and_a_person_votes_once(backend: Backend) {
    use firewatch::approval::{Ballot, NewRequest, Vote, Voted};
    use firewatch::clock::Clock;
    use firewatch::incident::{Actor, ChannelRef, Platform, Severity};

    let t = TestApp::spawn_on(backend).await;
    t.say("/incident-assess db down").await;
    let now = t.clock.now();
    let account = |platform, id: &str| Actor {
        platform,
        id: id.into(),
        name: id.into(),
    };
    let posted = ChannelRef {
        platform: Platform::Discord,
        id: "1160000000000000000".into(),
    };
    let new = NewRequest {
        incident: IncidentId::new(1).unwrap(),
        command: "rollback".into(),
        service: "freightliner".into(),
        severity: Severity::P1,
        change: firewatch::ops::Change::Rollback { revision: None },
        what: "rollback freightliner to the previous revision".into(),
        preview: "revision 42 → 41".into(),
        reason: None,
        requested_by: account(Platform::Slack, "UBOB"),
        channel: posted.clone(),
        requested_at: now,
        expires_at: now + chrono::TimeDelta::minutes(15),
        required: 2,
    };
    let store = &t.app.store;
    let request = store
        .request_approval(&new, &|_| Vec::new(), None)
        .await
        .unwrap();
    assert_eq!(store.approval(request.id).await.unwrap().unwrap().new, new);
    // carol votes with one account, then with another one of hers: one vote.
    let vote = async |voter: &Actor, person: &str| {
        let ballot = Ballot {
            voter,
            person,
            vote: Vote::Approve,
            reason: None,
        };
        store.vote(request.id, &ballot, now, None).await.unwrap()
    };
    let carol = account(Platform::Slack, "UCAROL");
    let carol_again = account(Platform::Discord, "1150000000000000005");
    assert!(matches!(
        vote(&carol, "person:carol").await,
        Voted::Approved {
            complete: false,
            ..
        }
    ));
    match vote(&carol_again, "person:carol").await {
        Voted::Duplicate(r) => assert_eq!(r.approvers, std::slice::from_ref(&carol)),
        other => panic!("{other:?}"),
    }
    let dave = account(Platform::Slack, "UDAVE");
    match vote(&dave, "slack:UDAVE").await {
        Voted::Approved { request, complete } => {
            assert!(complete);
            assert_eq!(request.approvers, [carol, dave]);
        }
        other => panic!("{other:?}"),
    }
}

async fn roles_are_kept_per_incident_one_holder_each_and_survive_a_restart(backend: Backend) {
    use firewatch::incident::Role;

    let t = TestApp::spawn_on(backend).await;
    t.say("/incident-assess checkout down").await;
    t.console("alice", "payments", "/incident-assess payments slow")
        .await;
    t.console("bob", "ops", "/incident-ack").await;
    t.advance_minutes(3);
    t.console("bob", "ops", "/incident-role comms carol").await;
    t.console("bob", "ops", "/incident-role commander dave")
        .await;
    let refused = t
        .console("bob", "ops", "/incident-role commander dave")
        .await;
    assert!(
        refused.contains("dave already is incident commander of #1"),
        "{refused}"
    );
    let t = t.restart().await;
    let first = t
        .app
        .store
        .incident(IncidentId::new(1).unwrap())
        .await
        .unwrap()
        .unwrap();
    let held: Vec<(Role, &str, i64)> = first
        .roles
        .iter()
        .map(|h| (h.role, h.person.name.as_str(), h.since.timestamp_millis()))
        .collect();
    let at = |m| {
        Utc.with_ymd_and_hms(2026, 11, 29, 3, m, 0)
            .unwrap()
            .timestamp_millis()
    };
    assert_eq!(
        held,
        [
            (Role::Commander, "dave", at(3)),
            (Role::Comms, "carol", at(3))
        ],
        "one holder per role, the latest, from when they took it"
    );
    let second = t
        .app
        .store
        .incident(IncidentId::new(2).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(second.roles.is_empty(), "roles belong to their incident");
    let active = t.app.store.active_incidents().await.unwrap();
    let listed = active.iter().find(|i| i.id == first.id).unwrap();
    assert_eq!(listed.roles, first.roles, "lists carry the roles too");
}

async fn an_incident_knows_its_place_among_those_opened_the_same_day(backend: Backend) {
    let t = TestApp::spawn_on(backend).await;
    t.say("/incident-assess db down").await; // 2026-11-29 03:00
    t.advance_minutes(20 * 60 + 59);
    t.console("bob", "two", "/incident-assess cache down").await; // 23:59
    t.advance_minutes(2);
    t.console("bob", "three", "/incident-assess next day").await; // 2026-11-30 00:01
    let mut places = Vec::new();
    for n in 1..=3 {
        let incident = t.app.store.incident(IncidentId::new(n).unwrap()).await;
        let incident = incident.unwrap().expect("incident exists");
        places.push(
            t.app
                .store
                .opened_earlier_that_day(&incident)
                .await
                .unwrap(),
        );
    }
    assert_eq!(places, [0, 1, 0], "the day is the UTC day of detection");
}
