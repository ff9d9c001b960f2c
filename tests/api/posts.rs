//! Channel posts survive a Slack outage: 5xx answers, a timeout and a 429 are retried through
//! the outbox until Slack takes the post, once, in order with the channel's later posts; across a
//! restart; by one of two replicas on Postgres; and a post Slack never takes (or refuses) is
//! given up and put on its incident's timeline; one the store cannot take is sent at once.
//! Backoff runs on the test's manual clock: a test moves it, then lets a delivery pass run
//! (`posts.deliver_due()`, which also waits for a pass the background sender has under way).

use std::time::Duration;

use chrono::TimeDelta;
use firewatch::app::serve;
use firewatch::clock::Clock;
use firewatch::incident::TimelineEvent;
use firewatch::store::SqlStore;

use crate::fake_slack::{FakeSlack, Outage};
use crate::helpers::{TestApp, assert_has};
use crate::slack::{Served, send_command, slack_env};
use crate::support::pg::PgSchema;

/// What the outbox holds, oldest first: (lane, summary, attempts).
async fn waiting(db: &SqlStore) -> Vec<(String, String, i64)> {
    sqlx::query_as("SELECT lane, summary, attempts FROM outbox ORDER BY id")
        .fetch_all(db.pool())
        .await
        .expect("the outbox reads")
}

/// Whether the inbox marked request `key` delivered (its answers given).
async fn delivered(db: &SqlStore, key: &str) -> bool {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM processed_requests WHERE request_key = $1 AND delivered_at IS NOT NULL",
    )
    .bind(key)
    .fetch_one(db.pool())
    .await
    .expect("the inbox reads");
    n == 1
}

/// Polls `done` (every 20 ms, up to 10 s) until it holds.
async fn eventually<F: Future<Output = bool>>(what: &str, done: impl Fn() -> F) {
    for _ in 0..500 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The timeline entries of incident `id` about posts that were not delivered, in words.
async fn undelivered(t: &TestApp, id: i64) -> Vec<String> {
    t.timeline(id)
        .await
        .into_iter()
        .filter(|e| matches!(e.event, TimelineEvent::PostUndelivered { .. }))
        .map(|e| e.event.describe())
        .collect()
}

fn attempts(fake: &FakeSlack) -> usize {
    fake.calls_to("chat.postMessage").len()
}

#[tokio::test]
async fn a_slack_outage_holds_the_channels_posts_in_order_and_delivers_each_once() {
    let s = Served::start(&[("FIREWATCH__OUTBOX__SEND_TIMEOUT", "1s")]).await;
    let db = SqlStore::connect(&s.t.app.settings.store.url)
        .await
        .unwrap();
    s.fake
        .outage(&[Outage::Status(500), Outage::Stall, Outage::RateLimited(20)]);
    s.command("alice", "C0INC", "/incident-assess checkout down", "o.1")
        .await;
    s.fake.wait_calls("chat.postMessage", 1).await;
    s.t.app.posts.deliver_due().await;
    // The command is answered, and its post waits in the outbox for Slack.
    eventually("the assess answered", || {
        delivered(&db, "slack:command:o.1")
    })
    .await;
    let rows = waiting(&db).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "slack:C0INC");
    assert_has(&rows[0].1, &["🚨 INCIDENT DETECTED"]);
    assert_eq!(rows[0].2, 1, "one failed try");

    // A later post to the same channel is stored before its request is marked answered, and
    // waits behind the alert.
    s.command(
        "bob",
        "C0INC",
        "/incident-note rolled back the deploy",
        "o.2",
    )
    .await;
    eventually("the note answered", || delivered(&db, "slack:command:o.2")).await;
    assert_eq!(waiting(&db).await.len(), 2);
    s.t.app.posts.deliver_due().await;
    assert_eq!(
        attempts(&s.fake),
        1,
        "nothing is due; the note does not overtake"
    );

    // 1 s later the retry gets no answer within the send timeout; 2 s after that, a 429.
    s.t.clock.advance(TimeDelta::seconds(1));
    s.t.app.posts.deliver_due().await;
    assert_eq!(attempts(&s.fake), 2);
    s.t.clock.advance(TimeDelta::seconds(2));
    s.t.app.posts.deliver_due().await;
    assert_eq!(attempts(&s.fake), 3);
    // The backoff alone (4 s) would retry by now; Slack's Retry-After (20 s) is honoured.
    s.t.clock.advance(TimeDelta::seconds(10));
    s.t.app.posts.deliver_due().await;
    assert_eq!(attempts(&s.fake), 3, "not before Retry-After");
    assert!(s.fake.posted().is_empty());

    // Slack is back: the alert, then the note, each once.
    s.t.clock.advance(TimeDelta::seconds(10));
    s.t.app.posts.deliver_due().await;
    let posted = s.fake.wait_posted(2).await;
    assert_eq!(posted.len(), 2, "{posted:#?}");
    assert_has(&posted[0].to_string(), &["🚨 INCIDENT DETECTED"]);
    assert_has(&posted[1].to_string(), &["rolled back the deploy"]);
    assert_eq!(attempts(&s.fake), 5);
    assert!(waiting(&db).await.is_empty());
    assert!(undelivered(&s.t, 1).await.is_empty());
    s.t.clock.advance(TimeDelta::minutes(5));
    s.t.app.posts.deliver_due().await;
    assert_eq!(attempts(&s.fake), 5, "nothing is sent twice");
}

#[tokio::test]
async fn a_post_waiting_for_slack_is_delivered_by_the_next_process_after_a_restart() {
    let s = Served::start(&[]).await;
    s.fake.outage(&[Outage::Status(503)]);
    s.command("alice", "C0INC", "/incident-assess payments failing", "o.3")
        .await;
    s.fake.wait_calls("chat.postMessage", 1).await;
    s.t.app.posts.deliver_due().await;
    let s = s.restart().await;
    s.t.clock.advance(TimeDelta::seconds(1));
    let posted = s.fake.wait_posted(1).await;
    assert_has(
        &posted[0].to_string(),
        &["🚨 INCIDENT DETECTED", "payments failing"],
    );
    s.t.app.posts.deliver_due().await;
    assert_eq!(attempts(&s.fake), 2);
    assert_eq!(s.fake.posted().len(), 1);
}

#[tokio::test]
async fn two_replicas_on_postgres_deliver_a_waiting_post_once() {
    let fake = FakeSlack::start().await;
    let pg = PgSchema::create().await;
    let mut env = slack_env(&fake, &[]);
    env.push(("FIREWATCH__STORE__URL".into(), pg.url.clone()));
    let a = TestApp::spawn_with(env.clone()).await;
    let b = TestApp::spawn_with(env).await;
    let serving_a = serve::start(&a.app, "127.0.0.1:0").await.unwrap();
    let serving_b = serve::start(&b.app, "127.0.0.1:0").await.unwrap();
    fake.outage(&[Outage::Status(500)]);
    let (status, _) = send_command(
        serving_a.addr,
        &fake,
        "alice",
        "C0INC",
        "/incident-assess db down",
        "o.4",
    )
    .await;
    assert_eq!(status, 200);
    fake.wait_calls("chat.postMessage", 1).await;
    a.app.posts.deliver_due().await;
    // Slack is slow to answer the retry: while one replica waits for it, the other cannot
    // claim the post (its passes, in the foreground and in the background, find it taken).
    let gate = fake.hold();
    a.clock.advance(TimeDelta::seconds(1));
    b.clock.advance(TimeDelta::seconds(1));
    let release = async {
        fake.wait_calls("chat.postMessage", 2).await;
        let now = a.clock.now();
        let by_a = a.app.store.claim_posts(now, 10).await.unwrap().len();
        let by_b = b.app.store.claim_posts(now, 10).await.unwrap().len();
        gate.add_permits(100);
        (by_a, by_b)
    };
    let (_, _, (by_a, by_b)) = tokio::join!(
        a.app.posts.deliver_due(),
        b.app.posts.deliver_due(),
        release
    );
    assert_eq!(by_a + by_b, 1, "only the replica sending the post holds it");
    fake.wait_posted(1).await;
    a.app.posts.deliver_due().await;
    b.app.posts.deliver_due().await;
    assert_eq!(attempts(&fake), 2, "one failed try, one delivery");
    assert_eq!(fake.posted().len(), 1);
    serving_a.stop().await.unwrap();
    serving_b.stop().await.unwrap();
    a.app.store.close().await;
    b.app.store.close().await;
    drop((a, b));
    drop(pg);
}

#[tokio::test]
async fn a_post_slack_never_takes_is_given_up_after_30_minutes_and_put_on_the_timeline() {
    let s = Served::start(&[]).await;
    let db = SqlStore::connect(&s.t.app.settings.store.url)
        .await
        .unwrap();
    s.fake.outage(&[Outage::Status(500); 100]);
    s.command("alice", "C0INC", "/incident-assess search is slow", "o.5")
        .await;
    s.fake.wait_calls("chat.postMessage", 1).await;
    s.t.app.posts.deliver_due().await;
    for _ in 0..40 {
        if waiting(&db).await.is_empty() {
            break;
        }
        s.t.clock.advance(TimeDelta::minutes(1));
        s.t.app.posts.deliver_due().await;
    }
    assert!(waiting(&db).await.is_empty(), "given up");
    let entries = undelivered(&s.t, 1).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_has(
        &entries[0],
        &[
            "message to slack C0INC not delivered (still failing after 30m and ",
            "tries: slack answered HTTP 500): 🚨 INCIDENT DETECTED",
        ],
    );
    let tries = attempts(&s.fake);
    assert!((25..=31).contains(&tries), "{tries} tries in 30 minutes");
    s.t.clock.advance(TimeDelta::minutes(5));
    s.t.app.posts.deliver_due().await;
    assert_eq!(attempts(&s.fake), tries, "nothing more is tried");
}

#[tokio::test]
async fn a_post_found_past_its_give_up_age_after_a_restart_is_not_sent_and_the_timeline_says_why() {
    let Served { t, fake, running } = Served::start(&[]).await;
    fake.outage(&[Outage::Status(502)]);
    send_command(
        running.addr,
        &fake,
        "alice",
        "C0INC",
        "/incident-assess login broken",
        "o.6",
    )
    .await;
    fake.wait_calls("chat.postMessage", 1).await;
    t.app.posts.deliver_due().await;
    // firewatch is down for 31 minutes.
    running.stop().await.unwrap();
    t.clock.advance(TimeDelta::minutes(31));
    let t = t.restart().await;
    t.app.posts.deliver_due().await;
    assert_eq!(attempts(&fake), 1, "too old to send");
    let entries = undelivered(&t, 1).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_has(
        &entries[0],
        &[
            "message to slack C0INC not delivered (not delivered within 30m; the last try: \
           slack answered HTTP 502): 🚨 INCIDENT DETECTED",
        ],
    );
}

#[tokio::test]
async fn a_channel_the_bot_is_not_in_refuses_the_post_once_and_the_caller_and_the_timeline_hear_why()
 {
    let s = Served::start(&[]).await;
    s.fake.refuse_channel("C0PRIV");
    s.command("alice", "C0PRIV", "/incident-assess db down", "o.7")
        .await;
    let answers = s.fake.wait_calls("response_url", 2).await;
    assert_has(&answers[0].body.to_string(), &["INCIDENT DETECTED"]);
    assert_has(
        &answers[1].body.to_string(),
        &[
            "could not post this in the channel",
            "not_in_channel",
            "/invite",
        ],
    );
    s.t.app.posts.deliver_due().await;
    s.t.clock.advance(TimeDelta::minutes(5));
    s.t.app.posts.deliver_due().await;
    assert_eq!(attempts(&s.fake), 1, "a refusal is not retried");
    let entries = undelivered(&s.t, 1).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_has(
        &entries[0],
        &["message to slack C0PRIV not delivered (slack answered not_in_channel)"],
    );
}

#[tokio::test]
async fn a_post_the_outbox_cannot_store_is_still_sent_once_at_once() {
    let s = Served::start(&[]).await;
    let db = SqlStore::connect(&s.t.app.settings.store.url)
        .await
        .unwrap();
    sqlx::query("DROP TABLE outbox")
        .execute(db.pool())
        .await
        .unwrap();
    s.command("alice", "C0INC", "/incident-assess disk full", "o.8")
        .await;
    let posted = s.fake.wait_posted(1).await;
    assert_has(
        &posted[0].to_string(),
        &["🚨 INCIDENT DETECTED", "disk full"],
    );
    eventually("the assess answered", || {
        delivered(&db, "slack:command:o.8")
    })
    .await;
    assert_eq!(attempts(&s.fake), 1);
}
