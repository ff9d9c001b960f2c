//! The outbox's rows on both backends: stored whole, claimed one lane head at a time in the
//! order stored, put back after a failed try, removed when delivered or given up (with the
//! incident's timeline entry), and taken over only from a process that is gone.

use chrono::{DateTime, TimeDelta, Utc};
use firewatch::clock::Clock;
use firewatch::incident::{Actor, IncidentId, Platform, TimelineEvent};
use firewatch::store::{ClaimedPost, Post, SqlStore, Store, Undelivered};

use crate::helpers::{Backend, TestApp, on_both_backends};

on_both_backends!(
    posts_go_out_one_per_lane_in_the_order_stored_and_a_given_up_one_is_on_the_timeline,
    a_batch_of_posts_is_stored_whole_or_not_at_all,
    a_post_held_by_a_process_that_is_gone_is_taken_over_and_only_its_holder_records_it,
);

/// A Slack post into `channel` saying `summary`, about incident 1, stored at `at`.
fn post(channel: &str, summary: &str, at: DateTime<Utc>) -> Post {
    Post {
        kind: "slack".into(),
        destination: channel.into(),
        lane: format!("slack:{channel}"),
        payload: format!("{{\"channel\":\"{channel}\",\"text\":\"{summary}\"}}"),
        summary: summary.into(),
        incident: IncidentId::new(1),
        stored: at,
        give_up_at: at + TimeDelta::minutes(30),
    }
}

fn summaries(claimed: &[ClaimedPost]) -> Vec<&str> {
    claimed.iter().map(|c| c.post.summary.as_str()).collect()
}

async fn posts_go_out_one_per_lane_in_the_order_stored_and_a_given_up_one_is_on_the_timeline(
    backend: Backend,
) {
    let t = TestApp::spawn_on(backend).await;
    t.say("/incident-assess db down").await;
    let store = &t.app.store;
    let now = t.clock.now();
    let posts = [
        post("C1", "a1", now),
        post("C1", "a2", now),
        post("C2", "b1", now),
    ];
    store.store_posts(&posts).await.unwrap();
    assert!(store.posts_due(now).await.unwrap());
    let claimed = store.claim_posts(now, 10).await.unwrap();
    assert_eq!(summaries(&claimed), ["a1", "b1"], "the head of each lane");
    assert_eq!(claimed[0].post, posts[0], "stored as given");
    assert_eq!(
        (claimed[0].attempts, claimed[0].last_error.as_deref()),
        (0, None)
    );

    // a1 failed (tried again in a second), b1 was delivered: a2 still waits behind a1.
    let retry_at = now + TimeDelta::seconds(1);
    let failed = "slack answered HTTP 500";
    store
        .retry_post(claimed[0].id, retry_at, failed)
        .await
        .unwrap();
    store.remove_post(claimed[1].id, None).await.unwrap();
    assert!(!store.posts_due(now).await.unwrap());
    assert!(store.claim_posts(now, 10).await.unwrap().is_empty());
    assert!(store.posts_due(retry_at).await.unwrap());
    let again = store.claim_posts(retry_at, 10).await.unwrap();
    assert_eq!(summaries(&again), ["a1"]);
    assert_eq!(
        (again[0].attempts, again[0].last_error.as_deref()),
        (1, Some(failed))
    );

    // Given up: removed, and its incident's timeline says why, in one transaction.
    let entry = TimelineEvent::PostUndelivered {
        to: "slack C1".into(),
        what: "a1".into(),
        why: "slack answered channel_not_found".into(),
    };
    let bot = Actor {
        platform: Platform::Slack,
        id: "firewatch".into(),
        name: "firewatch".into(),
    };
    let given_up = Undelivered {
        entry: &entry,
        by: &bot,
        at: retry_at,
    };
    store
        .remove_post(again[0].id, Some(given_up))
        .await
        .unwrap();
    let last = t.timeline(1).await.pop().unwrap();
    assert_eq!((last.event, last.actor, last.at), (entry, bot, retry_at));
    let next = store.claim_posts(retry_at, 10).await.unwrap();
    assert_eq!(summaries(&next), ["a2"]);
    store.remove_post(next[0].id, None).await.unwrap();
    assert!(!store.posts_due(retry_at).await.unwrap());
}

async fn a_batch_of_posts_is_stored_whole_or_not_at_all(backend: Backend) {
    let t = TestApp::spawn_on(backend).await;
    t.say("/incident-assess db down").await;
    let now = t.clock.now();
    let mut orphan = post("C1", "about no incident there is", now);
    orphan.incident = IncidentId::new(99);
    let batch = [post("C1", "fine", now), orphan];
    t.app
        .store
        .store_posts(&batch)
        .await
        .expect_err("incident 99 does not exist");
    assert!(t.app.store.claim_posts(now, 10).await.unwrap().is_empty());
    assert!(!t.app.store.posts_due(now).await.unwrap());
}

async fn a_post_held_by_a_process_that_is_gone_is_taken_over_and_only_its_holder_records_it(
    backend: Backend,
) {
    let t = TestApp::spawn_on(backend).await;
    t.say("/incident-assess db down").await;
    let url = &t.app.settings.store.url;
    let now = t.clock.now();
    let earlier = SqlStore::connect(url).await.unwrap();
    earlier.store_posts(&[post("C1", "a1", now)]).await.unwrap();
    assert_eq!(
        summaries(&earlier.claim_posts(now, 10).await.unwrap()),
        ["a1"]
    );
    if backend == Backend::Postgres {
        // Its process still renews its lease: the post is left to it.
        assert!(!t.app.store.posts_due(now).await.unwrap());
        assert!(t.app.store.claim_posts(now, 10).await.unwrap().is_empty());
    }
    earlier.close().await;
    // Gone (SQLite: the serving process holds the file, so any other holder is gone).
    let taken = t.app.store.claim_posts(now, 10).await.unwrap();
    assert_eq!(summaries(&taken), ["a1"]);
    // A process that does not hold it records nothing for it.
    let bystander = SqlStore::connect(url).await.unwrap();
    let later = now + TimeDelta::minutes(1);
    bystander.remove_post(taken[0].id, None).await.unwrap();
    bystander
        .retry_post(taken[0].id, later, "not mine")
        .await
        .unwrap();
    bystander.close().await;
    let still = t.app.store.claim_posts(now, 10).await.unwrap();
    assert_eq!(summaries(&still), ["a1"]);
    assert_eq!(
        (still[0].attempts, still[0].last_error.as_deref()),
        (0, None)
    );
}
