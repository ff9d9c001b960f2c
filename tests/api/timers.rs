//! Response targets and update reminders, driven by the manual clock and direct scheduler ticks.

use firewatch::incident::TimelineEvent;
use firewatch::message::Message;

use firewatch::store::Access;

use crate::helpers::{Backend, TestApp, assert_has};

fn headlines(posts: &[Message]) -> Vec<String> {
    posts.iter().map(|m| m.headline.clone()).collect()
}

fn count(timeline: &[firewatch::incident::TimelineEntry], kind: &str) -> usize {
    timeline.iter().filter(|e| e.event.kind() == kind).count()
}

#[tokio::test]
async fn a_missed_response_target_escalates_once_and_records_the_breach() {
    let t = TestApp::spawn().await;
    let posts = t.record_posts();
    // P0: acknowledgement due within 5 minutes.
    t.say("/incident-assess checkout is down").await;
    t.advance_minutes(4);
    assert_eq!(t.tick().await, 0, "the target is not reached yet");
    t.advance_minutes(1);
    assert_eq!(t.tick().await, 1);
    let posted = posts.take();
    assert_eq!(
        headlines(&posted),
        ["🔥 RESPONSE TARGET MISSED - #1 ESCALATED"]
    );
    let text = posted[0].plain_text();
    assert_has(
        &text,
        &[
            "Response target: 5m, missed at 03:05 UTC: nobody has acknowledged",
            "Escalating to: @devops-troubleshooter, @security-auditor, @performance-engineer, @golang-pro, @cloud-architect",
            "Take it with /incident-ack #1",
        ],
    );
    assert_eq!(
        posted[0].paged_roles,
        [
            "devops-troubleshooter",
            "security-auditor",
            "performance-engineer",
            "golang-pro",
            "cloud-architect"
        ]
    );
    assert_eq!(posted[0].buttons[0].command, "/incident-ack #1");
    let timeline = t.timeline(1).await;
    let breach = timeline.last().unwrap();
    assert_eq!(breach.actor.name, "firewatch");
    assert!(matches!(
        &breach.event,
        TimelineEvent::ResponseTargetMissed { target, .. } if target == "5m"
    ));

    // Never again, however long nobody acknowledges (the update reminder is another timer).
    t.advance_minutes(5);
    t.tick().await;
    t.advance_minutes(60);
    t.tick().await;
    let later = headlines(&posts.take());
    assert!(
        later.iter().all(|h| h.starts_with("⏰ UPDATE OVERDUE")),
        "{later:?}"
    );
    assert_eq!(count(&t.timeline(1).await, "response_target_missed"), 1);
    let status = t.say("/incident-status").await;
    assert_has(
        &status,
        &["not acknowledged within 5m: escalated to @devops-troubleshooter"],
    );
}

#[tokio::test]
async fn an_acknowledgement_before_the_target_means_no_escalation() {
    let t = TestApp::spawn().await;
    let posts = t.record_posts();
    t.say("/incident-assess checkout is down").await;
    t.advance_minutes(3);
    t.console("bob", "ops", "/incident-ack").await;
    t.advance_minutes(10);
    assert_eq!(t.tick().await, 0);
    assert!(posts.take().is_empty());
    assert_eq!(count(&t.timeline(1).await, "response_target_missed"), 0);
}

#[tokio::test]
async fn any_responder_action_before_the_target_also_prevents_escalation() {
    let t = TestApp::spawn().await;
    let posts = t.record_posts();
    t.say("/incident-assess checkout is down").await;
    t.advance_minutes(2);
    t.console("bob", "ops", "/incident-note looking at the load balancer")
        .await;
    t.advance_minutes(10);
    t.tick().await;
    assert!(headlines(&posts.take()).is_empty());
}

#[tokio::test]
async fn reminders_come_at_the_severitys_cadence_and_move_when_it_changes() {
    let t = TestApp::spawn().await;
    let posts = t.record_posts();
    // P1 at 03:00: updates every 30 minutes, acknowledgement within the hour.
    t.say("/incident-assess API returning 500s").await;
    t.console("bob", "ops", "/incident-ack").await;
    t.advance_minutes(29);
    assert_eq!(t.tick().await, 0, "03:29: not due");
    t.advance_minutes(1);
    assert_eq!(t.tick().await, 1, "03:30: due");
    let posted = posts.take();
    assert_eq!(headlines(&posted), ["⏰ UPDATE OVERDUE - #1"]);
    assert_has(
        &posted[0].plain_text(),
        &[
            "Commander: bob, the channel is waiting for your update (/incident-update <progress>).",
            "Update was due: 03:30 UTC (0s ago)",
            "Cadence: every 30m at P1",
            "Next reminder: 04:00 UTC",
        ],
    );
    assert_eq!(t.tick().await, 0, "a reminder fires once per cadence");

    // Raised to P0 at 03:40: the next update is due at 03:55 (15-minute cadence).
    t.advance_minutes(10);
    t.console("bob", "ops", "/incident-severity P0 all regions")
        .await;
    t.advance_minutes(14);
    assert_eq!(t.tick().await, 0, "03:54: not due");
    t.advance_minutes(1);
    assert_eq!(t.tick().await, 1, "03:55: due at the P0 cadence");
    assert_has(
        &posts.take()[0].plain_text(),
        &[
            "Update was due: 03:55 UTC",
            "Cadence: every 15m at P0",
            "Next reminder: 04:10 UTC",
        ],
    );

    // Still no update: reminded again one P0 cadence later.
    t.advance_minutes(15);
    assert_eq!(t.tick().await, 1, "04:10: reminded again");
    posts.take();

    // An update at 04:12 promises 04:27; nothing fires before.
    t.advance_minutes(2);
    t.console("bob", "ops", "/incident-update rolling back")
        .await;
    t.advance_minutes(14);
    assert_eq!(t.tick().await, 0, "04:26: not due");
    t.advance_minutes(1);
    assert_eq!(t.tick().await, 1, "04:27: due");
    assert_eq!(count(&t.timeline(1).await, "update_overdue"), 4);
}

#[tokio::test]
async fn an_escalation_falling_due_with_a_reminder_is_posted_first() {
    let t = TestApp::spawn().await;
    let posts = t.record_posts();
    // P1: acknowledgement within 1h, updates every 30m; nothing ticks until both are due, the
    // reminder (due at 30m) before the escalation (due at 60m).
    t.say("/incident-assess API returning 500s").await;
    t.advance_minutes(60);
    assert_eq!(t.tick().await, 2);
    let said = headlines(&posts.take());
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said[0].starts_with("🔥 RESPONSE TARGET MISSED"), "{said:?}");
    assert!(said[1].starts_with("⏰ UPDATE OVERDUE"), "{said:?}");
}

#[tokio::test]
async fn a_reminder_without_a_commander_asks_someone_to_take_it() {
    let t = TestApp::spawn().await;
    let posts = t.record_posts();
    // P2: acknowledgement within 4h, updates every 2h.
    t.say("/incident-assess search results broken for some users")
        .await;
    t.advance_minutes(120);
    assert_eq!(t.tick().await, 1);
    assert_has(
        &posts.take()[0].plain_text(),
        &[
            "Commander: nobody yet. Whoever takes it: /incident-ack, then /incident-update <progress>.",
        ],
    );
}

#[tokio::test]
async fn a_reminder_names_the_comms_lead_when_there_is_one() {
    let t = TestApp::spawn().await;
    let posts = t.record_posts();
    // P1: updates every 30 minutes.
    t.say("/incident-assess API returning 500s").await;
    t.console("bob", "ops", "/incident-ack").await;
    t.console("bob", "ops", "/incident-role comms carol").await;
    t.advance_minutes(30);
    assert_eq!(t.tick().await, 1);
    let reminder = posts.take()[0].plain_text();
    assert_has(
        &reminder,
        &[
            "Comms lead: carol, the channel is waiting for your update (/incident-update <progress>).",
        ],
    );
    assert!(!reminder.contains("Commander: bob,"), "{reminder}");
    let overdue = t.timeline(1).await.pop().unwrap();
    assert_eq!(
        overdue.event.describe(),
        "update due at 03:30 not posted; reminded carol"
    );
}

#[tokio::test]
async fn resolved_incidents_have_no_timers() {
    let t = TestApp::spawn().await;
    let posts = t.record_posts();
    t.say("/incident-assess checkout is down").await;
    t.say("/incident-resolve bad flag | rolled back").await;
    t.advance_minutes(600);
    assert_eq!(t.tick().await, 0);
    assert!(posts.take().is_empty());
}

#[tokio::test]
async fn after_a_restart_every_overdue_timer_fires_exactly_once() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess checkout is down").await; // #1 P0
    t.say("/incident-assess API returning 500s").await; // #2 P1
    t.console(
        "bob",
        "payments",
        "/incident-assess refunds fail for some users",
    )
    .await; // #3 P2
    // Down for five hours: every response target and first update fell due meanwhile.
    let t = t.restart().await;
    t.advance_minutes(300);
    let posts = t.record_posts();
    assert_eq!(t.tick().await, 6, "three escalations and three reminders");
    let mut posted = headlines(&posts.take());
    posted.sort();
    assert_eq!(
        posted,
        [
            "⏰ UPDATE OVERDUE - #1",
            "⏰ UPDATE OVERDUE - #2",
            "⏰ UPDATE OVERDUE - #3",
            "🔥 RESPONSE TARGET MISSED - #1 ESCALATED",
            "🔥 RESPONSE TARGET MISSED - #2 ESCALATED",
            "🔥 RESPONSE TARGET MISSED - #3 ESCALATED",
        ]
    );
    assert_eq!(t.tick().await, 0, "nothing fires twice");
    // A second restart at the same moment fires nothing either.
    let t = t.restart().await;
    let posts = t.record_posts();
    assert_eq!(t.tick().await, 0);
    assert!(posts.take().is_empty());
    for id in 1..=3 {
        let timeline = t.timeline(id).await;
        assert_eq!(count(&timeline, "response_target_missed"), 1, "#{id}");
        assert_eq!(count(&timeline, "update_overdue"), 1, "#{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_ticking_the_same_sqlite_file_fire_each_timer_once() {
    two_processes_ticking_the_same_store_fire_each_timer_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_ticking_the_same_postgres_fire_each_timer_once() {
    two_processes_ticking_the_same_store_fire_each_timer_once(Backend::Postgres).await;
}

async fn two_processes_ticking_the_same_store_fire_each_timer_once(backend: Backend) {
    let t = TestApp::spawn_on(backend).await;
    for i in 0..10 {
        t.say(&format!("/incident-assess checkout {i} is down"))
            .await;
    }
    t.advance_minutes(20);
    // A second firewatch on the same database, with its own connections: a replica on
    // Postgres; on SQLite (one writer per file) a process that shares the file without the lock.
    let access = match backend {
        Backend::Sqlite => Access::Shared,
        Backend::Postgres => Access::Exclusive,
    };
    let other = firewatch::app::startup::build(t.app.settings.clone(), t.clock.clone(), access)
        .await
        .expect("second app starts");
    let (a, b) = tokio::join!(
        firewatch::scheduler::tick(&t.app.engine),
        firewatch::scheduler::tick(&other.engine)
    );
    assert_eq!(a + b, 20, "ten escalations and ten reminders between them");
    for id in 1..=10 {
        let timeline = t.timeline(id).await;
        assert_eq!(count(&timeline, "response_target_missed"), 1);
        assert_eq!(count(&timeline, "update_overdue"), 1);
    }
    other.store.close().await;
}

#[tokio::test]
async fn a_second_writer_on_a_sqlite_file_is_refused_with_the_holders_pid() {
    let t = TestApp::spawn().await;
    let refused =
        firewatch::app::startup::build(t.app.settings.clone(), t.clock.clone(), Access::Exclusive)
            .await
            .err()
            .expect("a second writer is refused");
    let text = firewatch::error_chain(&refused);
    let db = t.dir.path().join("firewatch.db");
    assert!(
        text.starts_with(&format!(
            "{} is in use by another firewatch process (pid {}, holding {}.lock)",
            db.display(),
            std::process::id(),
            db.display()
        )),
        "{text}"
    );
    // Nothing was changed by the refused one, and the first one still works.
    t.say("/incident-assess checkout is down").await;
    assert_eq!(t.timeline(1).await.len(), 1);
    // Once the writer is gone, the lock is free.
    let t = t.restart().await;
    assert_eq!(t.timeline(1).await.len(), 1);
}

#[tokio::test]
async fn a_failed_delivery_is_logged_and_the_firing_is_still_recorded_once() {
    let t = TestApp::spawn().await;
    // No route for the console platform: every post fails.
    t.say("/incident-assess checkout is down").await;
    t.advance_minutes(5);
    assert_eq!(t.tick().await, 1);
    assert_eq!(t.tick().await, 0, "not fired again because the post failed");
    assert_eq!(count(&t.timeline(1).await, "response_target_missed"), 1);
}
