//! A Postgres store whose connections are killed every 0.7 s while notes arrive: every
//! acknowledged note is applied exactly once, and no notice calls saved what is not.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use firewatch::app::serve;
use sqlx::postgres::PgPool;

use super::{acknowledged, eventually, incidents_in, never_said, notes, slack_env, texts};
use crate::fake_slack::FakeSlack;
use crate::helpers::TestApp;
use crate::slack::send_command;
use crate::support::pg::{PgSchema, server_url};

/// What a notice that claims a command's effect is saved says.
const SAVED: &str = "what that did is saved";

/// Until `stop`: every 0.7 s, holds incident 1's row for half of the time (so notes are caught
/// inside their transactions), then terminates every backend of the schema `name` (at `url`;
/// the holder's too) from a connection of its own. Returns how many rounds it ran.
async fn kill_connections(name: String, url: String, stop: Arc<AtomicBool>) -> u32 {
    let admin = PgPool::connect(&server_url()).await.expect("admin pool");
    let holder = PgPool::connect(&url).await.expect("holder pool");
    let mut rounds = 0;
    while !stop.load(Ordering::SeqCst) {
        let mut held = holder.begin().await.ok();
        if let Some(tx) = held.as_mut() {
            let _ = sqlx::query("SELECT id FROM incidents WHERE id = 1 FOR UPDATE")
                .execute(&mut **tx)
                .await;
        }
        tokio::time::sleep(Duration::from_millis(350)).await;
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&name)
        .execute(&admin)
        .await
        .expect("terminate");
        drop(held);
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(350)).await;
    }
    admin.close().await;
    holder.close().await;
    rounds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_sent_while_connections_are_killed_are_each_applied_once() {
    let pg = PgSchema::create().await;
    let fake = FakeSlack::start().await;
    let mut t = TestApp::spawn_with(slack_env(&fake, &[("FIREWATCH__STORE__URL", &pg.url)])).await;
    let running = serve::start(&t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    let addr = running.addr;
    let send = |line: String, trigger: String| {
        let fake = fake.clone();
        async move { send_command(addr, &fake, "alice", "C0PG", &line, &trigger).await }
    };
    assert!(acknowledged(
        &send("/incident-assess checkout down".into(), "p.0".into()).await
    ));
    let store = Arc::clone(&t.app.store);
    eventually("the incident", || async {
        incidents_in(store.as_ref(), "C0PG").await.len() == 1
    })
    .await;
    let incident = incidents_in(store.as_ref(), "C0PG").await.remove(0);

    let stop = Arc::new(AtomicBool::new(false));
    let killer = tokio::spawn(kill_connections(
        pg.name.clone(),
        pg.url.clone(),
        Arc::clone(&stop),
    ));
    let mut sent = Vec::new();
    for i in 0..150 {
        let text = format!("killed note {i}");
        let answer = send(format!("/incident-note {text}"), format!("p.n{i}")).await;
        sent.push((text, acknowledged(&answer)));
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let rounds = killer.await.expect("the killer ends");
    assert!(rounds >= 5, "{rounds} rounds of kills");
    let acked: Vec<&String> = sent.iter().filter(|(_, a)| *a).map(|(t, _)| t).collect();
    assert!(acked.len() >= 50, "{} of 150 acknowledged", acked.len());
    let failed = "firewatch_commands_total{command=\"note\",platform=\"slack\",outcome=\"failed\"}";
    let failed = crate::health::metric(&t.app, failed);
    assert!(failed >= 1.0, "a run was caught by a kill");
    println!(
        "{rounds} rounds of kills; {} of 150 notes acknowledged; {failed} runs failed and ran again",
        acked.len()
    );

    eventually("every acknowledged note", || async {
        let written = notes(store.as_ref(), &incident).await;
        acked.iter().all(|text| written.contains(text))
    })
    .await;
    // Restarted, the replay finds what is left undelivered; it claims nothing unsaved.
    running.stop().await.expect("stops");
    t = t.restart().await;
    let running = serve::start(&t.app, "127.0.0.1:0")
        .await
        .expect("serve starts again");
    let store = Arc::clone(&t.app.store);
    let pool = pg.pool().await;
    eventually("the inbox drained", || async {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM processed_requests WHERE delivered_at IS NULL",
        )
        .fetch_one(&pool)
        .await
        .expect("inbox count");
        open == 0
    })
    .await;
    let written = notes(store.as_ref(), &incident).await;
    for (text, acked) in &sent {
        let times = written.iter().filter(|n| *n == text).count();
        // One not acknowledged was refused when its store write failed; when only the answer
        // to the commit was lost, it is in the inbox and runs once.
        match acked {
            true => assert_eq!(times, 1, "{text}"),
            false => assert!(times <= 1, "{text} written {times} times"),
        }
    }
    let claims = texts(&fake.calls());
    let claims = claims
        .iter()
        .filter(|t| t.contains(SAVED) && t.contains("/incident-note"));
    for notice in claims {
        let note = written
            .iter()
            .find(|n| notice.contains(&format!("{n} from alice")));
        assert!(note.is_some(), "claimed saved but not written: {notice}");
    }
    never_said(&fake, "could not do a command");
    running.stop().await.expect("stops");
    t.app.store.close().await;
    pool.close().await;
}
