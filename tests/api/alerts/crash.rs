//! `kill -9` after the 2xx: a notification is in the inbox before Alertmanager is answered, so
//! the next start takes it, once.

use std::time::Duration;

use sqlx::SqlitePool;

use super::{TOKEN, alert, notification};
use crate::alerts::intake::post;
use crate::fake_slack::FakeSlack;
use crate::helpers::write_config;
use crate::replicas::Replica;
use crate::slack::SECRET;
use crate::support::kube::kubeconfig_at;

async fn count(db: &std::path::Path, sql: &str) -> i64 {
    let pool = SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let n = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_answered_before_a_kill_9_is_taken_once_after_the_restart() {
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fw.db");
    let config = write_config(dir.path());
    // A Kubernetes API that takes connections and never answers: the new incident's evidence
    // keeps the first process busy after its answer, until it is killed.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let kube = format!("http://{}", silent.local_addr().unwrap());
    let env: Vec<(String, String)> = [
        (
            "FIREWATCH__STORE__URL",
            format!("sqlite://{}", db.display()),
        ),
        ("FIREWATCH__SLACK__API_URL", format!("{}/api", slack.url)),
        ("FIREWATCH__SLACK__BOT_TOKEN", "xoxb-crash".into()),
        ("FIREWATCH__SLACK__SIGNING_SECRET", SECRET.into()),
        ("FIREWATCH__ALERTS__TOKEN", TOKEN.into()),
        ("FIREWATCH__ALERTS__CHANNEL", "C0ALERTS".into()),
        ("FIREWATCH__ASSESS__EVIDENCE_TIMEOUT", "60s".into()),
        (
            "FIREWATCH__KUBERNETES__KUBECONFIG",
            kubeconfig_at(dir.path(), &kube).display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let body = notification(
        "HighErrorRate",
        &[alert("HighErrorRate", "fp-a", "critical", -4, None)],
    )
    .to_string();
    let bearer = format!("Bearer {TOKEN}");

    let first = Replica::start(&config, &env);
    let (status, answer) = post(first.addr, &body, Some(&bearer)).await;
    assert_eq!((status, answer.as_str()), (200, r#"{"status":"accepted"}"#));
    drop(first);
    assert_eq!(
        count(&db, "SELECT count(*) FROM incidents").await,
        0,
        "killed before its effect"
    );
    let waiting = "SELECT count(*) FROM processed_requests \
                   WHERE request_key LIKE 'alerts:%' AND delivered_at IS NULL";
    assert_eq!(count(&db, waiting).await, 1, "stored before the answer");

    // The cluster is gone now (connections refused): the replay gathers evidence at once.
    drop(silent);
    let second = Replica::start(&config, &env);
    slack.wait_calls("chat.postMessage", 1).await;
    for _ in 0..200 {
        if count(&db, waiting).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(&db, waiting).await, 0);
    // Alertmanager's retry of the same notification changes nothing.
    let (status, answer) = post(second.addr, &body, Some(&bearer)).await;
    assert_eq!(
        (status, answer.as_str()),
        (200, r#"{"status":"duplicate"}"#)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&db, "SELECT count(*) FROM incidents").await, 1);
    assert_eq!(
        count(&db, "SELECT count(*) FROM timeline WHERE kind = 'detected'").await,
        1
    );
    assert_eq!(count(&db, "SELECT count(*) FROM alerts").await, 1);
    let detected: Vec<_> = slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|c| c.body.to_string().contains("INCIDENT DETECTED"))
        .collect();
    assert_eq!(detected.len(), 1, "one 🚨");
}
